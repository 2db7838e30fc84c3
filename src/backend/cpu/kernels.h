// The hot inner loops of the CPU backend, one table per instruction set. Each entry is
// a dot product of one stored weight row with one activation row; matmul, MoE and
// attention are built from them (cpu_backend.cpp). Every table is checked against the
// scalar reference in tests/backend/test_cpu_conformance.cpp.
//
// Batch invariance: a dot4 entry gives, for each of its four rows, bitwise the result of
// the matching single-row entry (same accumulators, same summation order). matmul picks
// dot4 or dot by how many tokens share a step, and a request's output must not depend on
// which other requests the server batched it with.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/grid_blocks.h"
#include "core/quant_blocks.h"

namespace dsinfer::cpu {

// Activations quantised for integer dot products with Q8_0 / Q4_0 weights:
// x[i] ~= d * qs[i], with sum = sum(qs) kept for Q4_0's -8 offset.
struct ActBlockQ8 {
  float d;
  int32_t sum;
  int8_t qs[32];
};

// Eight weight rows interleaved per 32-value block (the CPU backend repacks Q4_0 / Q8_0
// weights whose row count is a multiple of 8 into these once, on first use). Byte i of
// the 4-value group k of row r sits at qs[32 * k + 4 * r + i], so one 32-byte load holds
// the same four columns of all eight rows, and an integer multiply-add against the
// activation's four values broadcast gives all eight rows' partial dot products at once.
// Q4_0x8: group k's bytes hold values 4k..4k+3 in their low nibbles and 16+4k..16+4k+3
// in their high nibbles, as in BlockQ4_0.
struct BlockQ4_0x8 {
  uint16_t d[8];  // f16 scale of each row
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_0x8) == 8 * sizeof(BlockQ4_0));

struct BlockQ8_0x8 {
  uint16_t d[8];
  int8_t qs[256];
};
static_assert(sizeof(BlockQ8_0x8) == 8 * sizeof(BlockQ8_0));

// Q5_0 / Q5_1, eight rows per 32-value block: the low four bits of the codes as in
// Q4_0x8, and the fifth bits beside them, byte 4r + i of qh holding in bit k (k < 4) the
// fifth bit of value 4k + i of row r and in bit 4 + k that of value 16 + 4k + i, so that a
// shift and a mask put them over the matching nibbles. As many bytes as the stored rows.
struct BlockQ5_0x8 {
  uint16_t d[8];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_0x8) == 8 * sizeof(BlockQ5_0));

struct BlockQ5_1x8 {
  uint16_t d[8], m[8];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_1x8) == 8 * sizeof(BlockQ5_1));

// Q4_K, eight rows interleaved per 256-value super-block: the super-block scales of each
// row, the 6-bit sub-block scales and mins unpacked to bytes ([sub-block][row]), and the
// codes as in Q4_0x8, per 64-value chunk c (256 bytes): group k of row r at
// qs[256c + 32k + 4r + i] holds value 4k+i of sub-block 2c in its low nibble and of
// sub-block 2c+1 in its high nibble (BlockQ4_K's own pairing).
struct BlockQ4_Kx8 {
  uint16_t d[8], dmin[8];
  uint8_t scales[8][8], mins[8][8];
  uint8_t qs[1024];
};

// Q5_K: Q4_Kx8 for the low four bits of each code, plus the fifth bits: byte 4r + i of
// qh[c][h] holds in bit k the fifth bit of value 4k + i of sub-block 2c + h of row r.
struct BlockQ5_Kx8 {
  BlockQ4_Kx8 low;
  uint8_t qh[4][2][32];
};

// Q6_K, eight rows interleaved per 256-value super-block, in the stored 6.5 bits: the f16
// super-block scale of each row, the int8 scales of its sixteen 16-value sub-blocks
// ([sub-block][row]), the low four bits of each code as Q4_Kx8's nibbles (ql[256c + 32k +
// 4r + i] holds value 4k+i of 32-value block 2c of row r in its low nibble, of block 2c+1
// in its high), and the high two bits as Q2_Kx8's codes (bits 2j, 2j+1 of qh[256h + 32k +
// 4r + i] belong to value 4k+i of block 4h+j). A code q in [0, 63] stands for q - 32
// (q6_kx8_code). Widened to one byte per code, as before session 41, the rows read 30% more
// bytes per token than the file holds.
struct BlockQ6_Kx8 {
  uint16_t d[8];
  int8_t scales[16][8];
  uint8_t ql[1024];
  uint8_t qh[512];
};
static_assert(sizeof(BlockQ6_Kx8) == 8 * sizeof(BlockQ6_K));

// The code of value v (0..255) of row r, in [0, 63]: BlockQ6_Kx8's layout spelled out.
inline int q6_kx8_code(const BlockQ6_Kx8& b, int r, int v) {
  const int block = v / 32, k = v % 32 / 4, i = v % 4;
  const int place = 32 * k + 4 * r + i;
  const int low = b.ql[256 * (block / 2) + place] >> (4 * (block % 2)) & 0x0F;
  const int high = b.qh[256 * (block / 4) + place] >> (2 * (block % 4)) & 3;
  return low | high << 4;
}

// IQ4_NL, eight rows per 32-value block: the indices placed as Q4_0x8's nibbles.
struct BlockIQ4_NLx8 {
  uint16_t d[8];
  uint8_t qs[128];
};
static_assert(sizeof(BlockIQ4_NLx8) == 8 * sizeof(BlockIQ4_NL));

// IQ4_XS, eight rows per 256-value super-block: each row's f16 scale, its eight sub-block
// scales unpacked to int8 (scale - 32, [sub-block][row]), and each 32-value sub-block's
// indices as an IQ4_NLx8 block's. 1.5% more bytes than the stored rows.
struct BlockIQ4_XSx8 {
  uint16_t d[8];
  int8_t scales[8][8];
  uint8_t qs[8][128];
};

// Q2_K, eight rows per 256-value super-block: each row's f16 scales, its sixteen stored
// scale-and-min bytes ([sub-block][row]), and the two-bit codes interleaved as Q4_0x8's
// nibbles: byte 256h + 32k + 4r + i holds in bits 2j, 2j+1 the code of value
// 128h + 32j + 4k + i of row r. One 32-byte load then serves a whole 32-value block
// (h, j) with one shift per block; groups k < 4 are its first sub-block, k >= 4 its
// second. As many bytes as the stored rows.
struct BlockQ2_Kx8 {
  uint16_t d[8], dmin[8];
  uint8_t scales[16][8];
  uint8_t qs[512];
};
static_assert(sizeof(BlockQ2_Kx8) == 8 * sizeof(BlockQ2_K));

// Q3_K: the low two bits of the codes as Q2_Kx8's, the sub-block scales unpacked to int8
// (scale - 32), and per 32-value block b the third bits: byte 4r + i of hmask[b] holds in
// bit k the third bit of value 32b + 4k + i of row r (under group k's byte 4r + i).
struct BlockQ3_Kx8 {
  uint16_t d[8];
  int8_t scales[16][8];
  uint8_t qs[512];
  uint8_t hmask[8][32];
};

// The grid formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) keep their stored
// bytes, eight rows per super-block column: block column b's eight blocks one after
// another, so the kernels stream one place per group. Their codes come from codebooks,
// so no interleaving lets a vector load serve eight rows: each block is decoded to int8
// codes (decode_grid_codes) once per group of tokens and multiplied by dot_grid_rows,
// or, for one token, decoded and multiplied in registers (grid_rows_one_token).

// FP4 E2M1 (V4's routed experts), eight rows interleaved per 32-value block: each row's
// UE8M0 scale exponent (scale 2^(e - 127); code 0 is read as scale 0, see PackedWeight)
// and the 4-bit codes placed as in Q4_0x8 (value 4k+i of row r in the low nibble of
// qs[32k + 4r + i], value 16+4k+i in its high nibble): as many bytes as the stored
// layout. The kernels map codes to twice their value, an exact int8 (kE2M1Doubled), and
// multiply float32 activations or, where a table has integer FP4 kernels, activations
// split into three int8 digits (ActBlockQ8x3): V4 rounds keys to FP8 and indexer inputs to
// FP4 inside the model, so int8-quantised activations (~1e-3 per product) flip enough of
// those roundings to move a small model's logits by ~1e-2, where float32 keeps ~1e-6.
struct BlockFp4x8 {
  uint8_t e[8];
  uint8_t qs[128];
};

inline constexpr int8_t kE2M1Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Activations for integer FP4 kernels that must keep float32 accuracy (see BlockFp4x8):
// per 32 values, x[i] ~= d * (q[0][i] + q[1][i] / 254 + q[2][i] / 254^2), three balanced
// base-254 digits in [-127, 127] (base 254 so that a digit never leaves that range),
// within d / (2 * 254^2) of x, about 6e-8 of the block's largest value. sum01 =
// sum(254 * q[0] + q[1]) and sum2 = sum(q[2]) serve kernels that add a constant to the
// weight codes to make them unsigned.
struct ActBlockQ8x3 {
  float d;
  int32_t sum01, sum2;
  int8_t q[3][32];
};
inline constexpr int kQ8x3Base = 254;

// n is a multiple of 32. Plain C++: the definition of the digits, which
// Kernels::quantize_act_q8x3 reproduces.
void quantize_act_q8x3(const float* x, ActBlockQ8x3* out, int64_t n);

// The block-scaled FP8 dot from an unscaled one: scales[b] times the dot of block b.
template <typename Dot>
float dot_f8e4m3_by_block(Dot dot, const uint8_t* w, const float* x, int64_t n, const float* scales, int64_t block) {
  if (!scales) return dot(w, x, n);
  float sum = 0.0f;
  for (int64_t c0 = 0; c0 < n; c0 += block)
    sum += scales[c0 / block] * dot(w + c0, x + c0, n - c0 < block ? n - c0 : block);
  return sum;
}

// FP8 E4M3 rows recoded for the kernels that build float32 bits from a code with one bit
// shuffle (Kernels::dot_f8e4m3_recoded; the backend recodes FP8 matrices whose row count
// is a multiple of 8 on first use, as it packs the integer formats). Each code
// s|e3e2e1e0|m2m1m0 is stored as s|e0|m2m1m0|e3e2e1 (f8e4m3_recoded), which puts the
// exponent's low bit beside the mantissa and its high bits beside the sign, so that an
// 8-bit window ending at each places them where float32 wants them. VPMULTISHIFTQB, which
// takes those windows, fills each 64-bit lane from the same lane of its source, and two
// float32 lanes share each 64-bit lane; so each whole 64-code group from the row's start is
// stored for one 64-byte load to feed four shuffles, the k-th giving codes 16k..16k+15 in
// order (code 16k + 2q + j at byte 8q + 2k + j: recoded_64_position), and each whole
// 16-code group after the last of those holds its codes in the order of kRecodedOrder, for
// one group broadcast to the four 128-bit lanes (even qwords then read codes 0-7 of the
// group, odd ones codes 8-15). The codes past the last whole 16-code group keep their
// places. Beside the codes, one bit per 64-code run of a row (bit r % 64 of word r / 64)
// says whether the run holds a code with exponent 0 (zeros and subnormals), which the
// fast conversion gets wrong.
inline constexpr int kRecodedOrder[16] = {0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15};
constexpr int recoded_64_position(int code) { return 8 * (code % 16 / 2) + 2 * (code / 16) + code % 2; }
constexpr uint8_t f8e4m3_recoded(uint8_t code) {
  return static_cast<uint8_t>((code & 0x80) | ((code & 0x08) << 3) | ((code & 0x07) << 3) | ((code >> 4) & 0x07));
}
constexpr uint8_t f8e4m3_from_recoded(uint8_t t) {
  return static_cast<uint8_t>((t & 0x80) | ((t & 0x07) << 4) | ((t >> 3) & 0x08) | ((t >> 3) & 0x07));
}
constexpr bool f8e4m3_recoded_is_small(uint8_t t) { return (t & 0x47) == 0; }
// 64-bit words of a row's small-code run bits for n codes.
constexpr int64_t f8e4m3_run_words(int64_t n) { return ((n + 63) / 64 + 63) / 64; }

// Most tokens one packed-GEMM call takes: enough for a kernel that unpacks a weight block
// into registers once to reuse it many times, few enough for the activations to stay in L1.
constexpr int kMaxGemmTokens = 8;
// The sixteen-row kernels take up to this many: AMX multiplies a block for sixteen tokens
// in one instruction, and unpacks a block's weights once for all the call's tokens.
constexpr int kMaxSixteenRowTokens = 64;
// The two-pair (far) kernels take up to this many: decode and a server step's experts.
constexpr int kMaxFarPairTokens = 4;
// Kernels::key_block_scores takes up to this many queries per call: in decode they are latent
// rows against all heads, and eight give the sixteen-lane tile eight independent chains.
constexpr int kMaxScoreQueries = 8;
// Kernels::sequential_dots_heads8 takes up to this many rows per call.
constexpr int kMaxHeadDotRows = 8;
// The weighted_rows_tokens kernels take up to this many weightings per call.
constexpr int kMaxWeightedRowsTokens = 4;

// A far-pair kernel (Kernels::gemm_q4_0x16_far and its kin): two pairs of groups, w into
// out and w_far into out_far, for n_tokens tokens.
template <typename Block, typename Act = ActBlockQ8>
using FarPairGemm = void (*)(const Block* w, const Block* w_far, int64_t n_blocks, const Act* x, int64_t x_stride,
                             int n_tokens, float* out, float* out_far, int64_t out_stride);

struct Kernels {
  std::string_view isa;  // one of kKernelTableNames
  float (*dot_f32)(const float* w, const float* x, int64_t n);
  float (*dot_bf16)(const uint16_t* w, const float* x, int64_t n);
  float (*dot_f16)(const uint16_t* w, const float* x, int64_t n);
  // E4M3 values times x; with `scales`, block b of `block` values is multiplied by
  // scales[b] (a row's FP8 block scales), without them the raw values.
  float (*dot_f8e4m3)(const uint8_t* w, const float* x, int64_t n, const float* scales, int64_t block);
  float (*dot_q8_0)(const BlockQ8_0* w, const ActBlockQ8* x, int64_t n_blocks);
  float (*dot_q4_0)(const BlockQ4_0* w, const ActBlockQ8* x, int64_t n_blocks);
  // n is a multiple of 32.
  void (*quantize_act_q8)(const float* x, ActBlockQ8* out, int64_t n);

  // One weight row against four activation rows (`x_stride` apart, in elements or
  // blocks): the prefill form, which unpacks each weight block once for four tokens.
  void (*dot4_bf16)(const uint16_t* w, const float* x, int64_t x_stride, int64_t n, float out[4]);
  void (*dot4_q8_0)(const BlockQ8_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks, float out[4]);
  void (*dot4_q4_0)(const BlockQ4_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks, float out[4]);

  // Eight interleaved rows against n_tokens (1..kMaxGemmTokens) activation rows `x_stride`
  // blocks apart: out[t * out_stride + r] for row r, token t. Per (row, token) every block's
  // integer dot product is exact and the blocks are summed in order, so a token's result
  // does not depend on n_tokens. nullptr where a table has no packed kernels (the
  // backend then keeps the stored layout).
  void (*gemm_q4_0x8)(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  void (*gemm_q8_0x8)(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  // n_blocks counts 256-value super-blocks; x_stride is still in 32-value blocks.
  void (*gemm_q4_kx8)(const BlockQ4_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  void (*gemm_q5_kx8)(const BlockQ5_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  void (*gemm_q6_kx8)(const BlockQ6_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  // n_blocks counts 32-value blocks; x holds float32 rows x_stride floats apart. Last,
  // so tables without it leave it nullptr.
  void (*gemm_fp4x8)(const BlockFp4x8* w, int64_t n_blocks, const float* x, int64_t x_stride, int n_tokens,
                     float* out, int64_t out_stride);
  // Eight rows against q, each summed in index order with a rounding after every
  // multiply and every add: bitwise the arithmetic of a plain `s += q[c] * row[c]` loop
  // (sequential_dots_avx2.cpp). nullptr where a table has none: callers loop.
  void (*sequential_dots8)(const float* q, const float* const* rows, int64_t n, float out[8]);
  // o[c] = sum over i in order of p[i] * rows[i][c], from zero, rounding after every
  // multiply and add (bitwise a loop of o[c] += p[i] * rows[i][c] over a zeroed o).
  // nullptr: callers loop.
  void (*weighted_sum)(float* o, const float* p, const float* const* rows, int64_t n_rows, int64_t d);

  // Attention tiles, in every table (prefill queries against keys; in decode, latent rows
  // against every head's query). Scores of nq (1..kMaxScoreQueries) queries q[j] against
  // n_blocks blocks of eight keys stored transposed, key l of block b at
  // keys_t[(b * d + c) * 8 + l]:
  // scores[j * stride + 8 * b + l] = scale * (std::fma chain over c in order from zero).
  void (*key_block_scores)(const float* const* q, int nq, const float* keys_t, int64_t d, int64_t n_blocks,
                           float scale, float* scores, int64_t stride);
  // out[j * out_stride + c] = std::fma chain over keys i < n_keys in order, from zero, of
  // p[j * p_stride + i] * v[i * v_stride + c], for nq (1..4) rows of probabilities.
  void (*value_row_sums)(const float* p, int64_t p_stride, int nq, const float* v, int64_t v_stride, int64_t n_keys,
                         int64_t d, float* out, int64_t out_stride);
  // v[i] = exp(v[i] - shift), within a few ulp of std::exp (values below about -87.3
  // give about 1e-38 or 0), and returns their sum, in an order fixed by n alone.
  float (*exp_and_sum)(float* v, int64_t n, float shift);

  // dot_f8e4m3 for four activation rows `x_stride` floats apart, each weight group
  // converted once, every token's bits those of dot_f8e4m3. nullptr where a table has
  // none: callers take one row at a time.
  void (*dot4_f8e4m3)(const uint8_t* w, const float* x, int64_t x_stride, int64_t n, const float* scales,
                      int64_t block, float out[4]);
  // The eight-row integer kernels over two consecutive groups (w, then w + n_blocks): sixteen
  // rows per token for n_tokens 1..kMaxSixteenRowTokens, out[t * out_stride + r] for
  // r < 16, each row's bits those of the eight-row kernel. nullptr where none: callers
  // take one group at a time.
  void (*gemm_q4_0x16)(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  void (*gemm_q8_0x16)(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  void (*gemm_q4_kx16)(const BlockQ4_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  void (*gemm_q5_kx16)(const BlockQ5_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  void (*gemm_q6_kx16)(const BlockQ6_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  // gemm_fp4x8 from three-digit activations with integer dot products: per (row, token) each
  // block's digit sums are exact, then scaled and summed in block order, so a token's bits
  // do not depend on n_tokens. Where a table has it, the backend takes it over gemm_fp4x8
  // (results within ~1e-6 of float64, as gemm_fp4x8's; not the same bits).
  void (*gemm_fp4x8_q8x3)(const BlockFp4x8* w, int64_t n_blocks, const ActBlockQ8x3* x, int64_t x_stride,
                          int n_tokens, float* out, int64_t out_stride);
  // gemm_fp4x8_q8x3 over two consecutive groups, as gemm_q4_0x16 for Q4_0; nullptr where none.
  void (*gemm_fp4x16_q8x3)(const BlockFp4x8* w, int64_t n_blocks, const ActBlockQ8x3* x, int64_t x_stride,
                           int n_tokens, float* out, int64_t out_stride);
  // quantize_act_q8x3 in SIMD, the same digits; set wherever gemm_fp4x8_q8x3 is.
  void (*quantize_act_q8x3)(const float* x, ActBlockQ8x3* out, int64_t n);
  // out[c] = sum over rows i < n_rows, in order from zero, of (p[i] * scale) * code: each
  // term one fused multiply-add, scale the f16 scale of row i's block c / 32 and
  // p[i] * scale rounded to float, for n_blocks blocks of rows row_stride blocks apart:
  // rows weighted by p, read as stored (the absorbed attention's query, W_k^T q_nope).
  // nullptr where a table has none: absorbed attention then keeps float32 keys.
  void (*weighted_rows_q4_0)(float* out, const float* p, const BlockQ4_0* rows, int64_t row_stride, int64_t n_rows,
                             int64_t n_blocks);
  void (*weighted_rows_q8_0)(float* out, const float* p, const BlockQ8_0* rows, int64_t row_stride, int64_t n_rows,
                             int64_t n_blocks);
  // The same for n_tokens (1..kMaxWeightedRowsTokens) weightings of the same rows at once,
  // out[t] from p[t], each with the bits of its own weighted_rows call (a block's codes
  // widened once for all of them). nullptr where a table has none: one call per token.
  void (*weighted_rows_tokens_q4_0)(float* const* out, const float* const* p, int n_tokens, const BlockQ4_0* rows,
                                    int64_t row_stride, int64_t n_rows, int64_t n_blocks);
  void (*weighted_rows_tokens_q8_0)(float* const* out, const float* const* p, int n_tokens, const BlockQ8_0* rows,
                                    int64_t row_stride, int64_t n_rows, int64_t n_blocks);
  // gate[i] = swiglu_value(gate[i], up[i], limit) (moe_experts.h) with exp_and_sum's
  // exponential. nullptr: callers loop over swiglu_value.
  void (*swiglu)(float* gate, const float* up, int64_t n, float limit);
  // dot_bf16 of rows w[0] and w[1] against one x, the same bits, read side by side;
  // nullptr: callers take one row at a time.
  void (*dot2_bf16)(const uint16_t* const w[2], const float* x, int64_t n, float out[2]);
  // The same for dot_f32 (a router's F32 rows); nullptr: one row at a time.
  void (*dot2_f32)(const float* const w[2], const float* x, int64_t n, float out[2]);
  // gemm_q4_0x16 / gemm_q8_0x16 / gemm_fp4x16_q8x3 for two pairs of groups at once, w
  // (into out) and w_far (into out_far), for n_tokens 1..kMaxFarPairTokens, each row's
  // bits those of the sixteen-row kernel: read side by side, two places far apart keep
  // more of memory busy than one. nullptr where none.
  FarPairGemm<BlockQ4_0x8> gemm_q4_0x16_far;
  FarPairGemm<BlockQ8_0x8> gemm_q8_0x16_far;
  FarPairGemm<BlockFp4x8, ActBlockQ8x3> gemm_fp4x16_q8x3_far;
  // The same for the K-quants (Q4_K_M / Q5_K_M / Q6_K files, Q2_K / Q3_K) and IQ4_NL /
  // IQ4_XS: for one token each pair's groups read one at a time beside the far pair's;
  // for more, each pair's sixteen-row tile. nullptr where none.
  FarPairGemm<BlockQ4_Kx8> gemm_q4_kx16_far;
  FarPairGemm<BlockQ5_Kx8> gemm_q5_kx16_far;
  FarPairGemm<BlockQ6_Kx8> gemm_q6_kx16_far;
  FarPairGemm<BlockQ2_Kx8> gemm_q2_kx16_far;
  FarPairGemm<BlockQ3_Kx8> gemm_q3_kx16_far;
  FarPairGemm<BlockIQ4_NLx8> gemm_iq4_nlx16_far;
  FarPairGemm<BlockIQ4_XSx8> gemm_iq4_xsx16_far;
  // One token against four pairs of groups at once, pair w[i] into out[i] (sixteen rows
  // each), each row's bits those of the sixteen-row kernel; for an even number of blocks.
  // Four places read side by side: on a 2-core Xeon VM the probe read 18-20 GB/s in four
  // streams against 15-17 in one or two, and decode 3-7% faster than with two places
  // (docs/benchmarks.md, CPU backend, session 23); FP4 (V4's experts) 2-3% once its far
  // tile stopped laying out activations per block pair (DeepSeek-V4, session 24). nullptr
  // where none.
  void (*gemm_q4_0x16_far4)(const BlockQ4_0x8* const w[4], int64_t n_blocks, const ActBlockQ8* x,
                            float* const out[4]);
  void (*gemm_q8_0x16_far4)(const BlockQ8_0x8* const w[4], int64_t n_blocks, const ActBlockQ8* x,
                            float* const out[4]);
  void (*gemm_fp4x16_q8x3_far4)(const BlockFp4x8* const w[4], int64_t n_blocks, const ActBlockQ8x3* x,
                                float* const out[4]);
  // dot2_bf16 over four rows (four places side by side: bench-v4 token times 1.5-3%
  // lower than two, docs/benchmarks.md, DeepSeek-V4, session 24); nullptr where none.
  void (*dot_four_rows_bf16)(const uint16_t* const w[4], const float* x, int64_t n, float out[4]);
  // gemm_q8_0x16 / gemm_q4_0x16 over two adjacent pairs of groups (w and w + 2 n_blocks,
  // into out's rows 0-15 and 16-31), each row's bits those of the sixteen-row kernel: each
  // activation group is broadcast once for both pairs, where feeding VPDPBUSD costs more
  // than the instruction (docs/benchmarks.md, CPU backend, session 27). nullptr where none.
  void (*gemm_q8_0x32)(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  void (*gemm_q4_0x32)(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  // dot_f8e4m3 and dot4_f8e4m3 over a recoded row (see kRecodedOrder) whose small-code
  // bits are `small_runs`, with the same bits; `block` a multiple of 64 where there are
  // scales. nullptr where a table has none: FP8 rows then stay as stored.
  float (*dot_f8e4m3_recoded)(const uint8_t* w, const uint64_t* small_runs, const float* x, int64_t n,
                              const float* scales, int64_t block);
  void (*dot4_f8e4m3_recoded)(const uint8_t* w, const uint64_t* small_runs, const float* x, int64_t x_stride,
                              int64_t n, const float* scales, int64_t block, float out[4]);
  // dot_f8e4m3_recoded of two rows against one x, each row's bits its own, read side by
  // side (rows far apart keep two places of memory busy); nullptr: one row at a time.
  void (*dot2_f8e4m3_recoded)(const uint8_t* const w[2], const uint64_t* const small_runs[2], const float* x,
                              int64_t n, const float* const scales[2], int64_t block, float out[2]);
  // sequential_dots8's sums for eight queries (heads) at once, one per lane, against
  // n_rows rows (1..kMaxHeadDotRows): out[8 r + j] = sum over c in order of
  // q_columns[8 c + j] * rows[r][c], q_columns holding element c of each query at
  // 8c..8c+7. Each row is a broadcast, where sequential_dots8 transposes eight rows for
  // every eight columns. nullptr where a table has none: callers take sequential_dots8.
  void (*sequential_dots_heads8)(const float* q_columns, const float* const* rows, int n_rows, int64_t n,
                                 float* out);
  // weighted_sum for n_heads weightings of the same rows: head h's sums go to
  // o + h * o_stride from weights p + h * p_stride, each with weighted_sum's bits, every
  // row read once for several heads (one per head, a long context streamed from memory
  // once per head). With `onward` the chains go on from what o holds (the sums of rows a
  // previous call took), else they start from zero. nullptr: callers loop over the heads.
  void (*weighted_sums)(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                        const float* const* rows, int64_t n_rows, int64_t d, bool onward);
  // weighted_sums (from zero) over rows stored as `dtype` (a compact latent cache: F16,
  // BF16, Q8_0), each value widened exactly as it is loaded, so the bits of weighted_sums
  // over the widened rows. False (o untouched) for a format the table has no such sums
  // for; nullptr where it has none: callers widen the rows first.
  bool (*weighted_sums_stored)(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                               const void* const* rows, int64_t n_rows, int64_t d);
  // The eight-row kernels for Q5_0 and Q5_1 (llama.cpp's fallbacks in K-quant files),
  // as gemm_q4_0x8. nullptr where a table has none: those weights keep the stored layout.
  void (*gemm_q5_0x8)(const BlockQ5_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  void (*gemm_q5_1x8)(const BlockQ5_1x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  // The eight-row kernels for the low-bit files' formats, as gemm_q4_0x8 (n_blocks in
  // 256-value super-blocks for Q2_K / Q3_K / IQ4_XS). Per token and 32-value block the
  // sub-blocks' integer dot products are scaled by their integer sub-block scales and
  // summed exactly, then added once in float (Q2_K's mins in a second step). nullptr
  // where a table has none: those weights keep the stored layout.
  void (*gemm_iq4_nlx8)(const BlockIQ4_NLx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                        int n_tokens, float* out, int64_t out_stride);
  void (*gemm_q2_kx8)(const BlockQ2_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  void (*gemm_q3_kx8)(const BlockQ3_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride);
  void (*gemm_iq4_xsx8)(const BlockIQ4_XSx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                        int n_tokens, float* out, int64_t out_stride);
  // The same over two consecutive groups, as gemm_q4_kx16; nullptr where none.
  void (*gemm_iq4_nlx16)(const BlockIQ4_NLx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                         int n_tokens, float* out, int64_t out_stride);
  void (*gemm_q2_kx16)(const BlockQ2_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  void (*gemm_q3_kx16)(const BlockQ3_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                       float* out, int64_t out_stride);
  void (*gemm_iq4_xsx16)(const BlockIQ4_XSx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                         int n_tokens, float* out, int64_t out_stride);
  // Eight rows' super-blocks of a grid format decoded to codes (codes[r], see
  // core/grid_blocks.h) against n_tokens tokens' eight 32-value activation blocks (token
  // t's at x + t * x_stride). Lane j of a super-block is its values 4j .. 4j+3, with the
  // factor steps[j / 4] * x[j / 8].d; for each token and row, lane k of the 16 sums
  // acc[16 (8 t + r) + k] gains sum_i (integer dot of lane 16 i + k) * factor, i = 0 .. 3,
  // the first a multiply and the others fused multiply-adds in order. Every table has one;
  // the x86 tables give the same bits.
  void (*dot_grid_rows)(const GridCodes codes[8], const ActBlockQ8* x, int64_t x_stride, int n_tokens, float* acc);
  // decode_grid_codes (core/grid_blocks.h), bit for bit: the scalar decoder itself, or
  // SIMD for some formats. Every table has one.
  void (*decode_grid)(DType dtype, const void* block, GridCodes& out);
  // One token against a group of a packed grid weight (its `blocks` block columns from
  // `group`, x that token's blocks): acc gains what decode_grid and dot_grid_rows would
  // add, bit for bit, without the codes leaving registers. False (acc untouched) for the
  // formats a table has no such path for; null in most tables.
  bool (*grid_rows_one_token)(DType dtype, const uint8_t* group, int64_t blocks, const ActBlockQ8* x, float* acc);
  // n values of a row stored as `dtype` (a compact latent cache: F16, BF16, Q8_0; n a
  // multiple of 32 for Q8_0) widened to float32, every non-NaN value as decode_values
  // widens it: such a cache is read this way at every decode step, where the scalar
  // conversion took longer than the attention itself. False (dst untouched) for a format
  // the table has no widening for; nullptr where it has none: callers take decode_values.
  bool (*widen_stored)(DType dtype, const void* src, float* dst, int64_t n);
  // q_latent = W_k^T q for one head of kv_b's Q4_0 K half regrouped by latent column
  // (absorb_columns.h), `nope` values of q against `rank` columns: per block cb of 32
  // columns, a[d] = q[d] * s(d, cb) goes through quantize_act_q8, and out[c] is the fma chain
  // over a's blocks b in order, from zero, of (integer dot of b's digits with the codes
  // - 8 * b.sum) * b.d. nullptr where a table has none: callers weigh the stored rows.
  void (*absorb_columns_q4_0)(float* out, const float* q, const uint8_t* head, int64_t nope, int64_t rank);
};

// count values stored as `dtype` (a latent cache row: F32, F16, BF16, Q8_0) as float32,
// with decode_values' bits.
inline void widen_values(const Kernels& k, DType dtype, const void* src, float* dst, int64_t count) {
  if (k.widen_stored && k.widen_stored(dtype, src, dst, count)) return;
  decode_values(dtype, src, dst, static_cast<size_t>(count));
}

// o = sum over i in order of p[i] * rows[i], each value a multiply then an add onto the
// sum so far, from zero or (`onward`) from what o holds: Kernels::weighted_sum where the
// table has it, else that loop.
inline void weighted_sum(const Kernels& k, float* o, const float* p, const float* const* rows, int64_t n_rows,
                         int64_t d, bool onward = false) {
  if (k.weighted_sum && !onward) return k.weighted_sum(o, p, rows, n_rows, d);
  if (!onward)
    for (int64_t c = 0; c < d; ++c) o[c] = 0.0f;
  for (int64_t i = 0; i < n_rows; ++i)
    for (int64_t c = 0; c < d; ++c) o[c] += p[i] * rows[i][c];
}

// Kernels::weighted_sums where the table has it, else weighted_sum head by head.
inline void weighted_sums(const Kernels& k, float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                          const float* const* rows, int64_t n_rows, int64_t d, bool onward = false) {
  if (k.weighted_sums) return k.weighted_sums(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
  for (int h = 0; h < n_heads; ++h) weighted_sum(k, o + h * o_stride, p + h * p_stride, rows, n_rows, d, onward);
}

const Kernels& generic_kernels();
#if defined(__x86_64__)
const Kernels& avx2_kernels();
const Kernels& avx512_vnni_kernels();  // avx2's, with VPDPBUSD integer tiles
const Kernels& avx512_vnni_amd_kernels();  // the same, its far tiles fetching nearer ahead for AMD's cores
const Kernels& avx512_amx_kernels();   // avx512-vnni's, with AMX sixteen-row Q4_0 / Q8_0 tiles
#endif
#if defined(__aarch64__)
const Kernels& neon_kernels();
const Kernels& neon_dotprod_kernels();  // needs the ARMv8.2 int8 dot-product instructions
#endif

// Every table's name, on any architecture; select_kernels says which run here.
inline constexpr std::string_view kKernelTableNames[] = {"generic",    "avx2", "avx512-vnni", "avx512-amx",
                                                          "neon",       "neon-dotprod"};

// The best table this CPU supports, or the one named by `isa` (one of kKernelTableNames);
// nullptr when the named one cannot run here.
const Kernels* select_kernels(std::string_view isa = "");

}  // namespace dsinfer::cpu
