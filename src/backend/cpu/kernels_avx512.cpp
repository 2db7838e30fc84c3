// x86-64 kernels for CPUs with AVX-512 VNNI (Intel Ice Lake and later, AMD Zen 4 and
// later): the AVX2 table with the integer GEMM tiles (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K)
// replaced by ones built on VPDPBUSD, which multiplies unsigned by signed bytes and adds
// four products into a 32-bit lane in one instruction, where AVX2 needs a multiply-add to
// 16 bits, a widening multiply-add and an add. The eight-row tiles use 256-bit registers
// (AVX-512VL, all 32 of them); the sixteen-row ones hold two groups of eight rows in
// 512-bit registers, for steps of two tokens or more (matmul.cpp). The FP8 row dot widens
// E4M3 codes to float32 with integer steps in 512-bit registers instead of AVX2's F16C
// shuffles, summing in the AVX2 order; the weighted stored rows take sixteen columns per
// register and Q4_0 nibbles through one permute each, with AVX2's operations per column.
//
// Integer sums are exact either way and the float steps are the AVX2 tiles' own, so every
// (row, token) result has the same bits as with the AVX2 table (checked by the conformance
// suite): switching tables on a machine does not change a model's outputs. The exception is
// FP4 (V4's routed experts), which AVX2 multiplies in float32 and this table with integer
// dot products against activations split into three int8 digits: as accurate, not the
// same bits, and 1.6-1.7x as fast in cache (docs/benchmarks.md).
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>

#include "backend/cpu/absorb_columns.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_tile_helpers.h"

#define DSINFER_AVX512_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")))

namespace dsinfer::cpu {

// grid_decode_avx512.cpp
void decode_grid_avx512(DType dtype, const void* block, GridCodes& out);
bool grid_rows_one_token_avx512(DType dtype, const uint8_t* group, int64_t blocks, const ActBlockQ8* x, float* acc);
// weighted_sums_x86.cpp
void weighted_sums_avx512(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                          const float* const* rows, int64_t n_rows, int64_t d, bool onward);
bool widen_stored_avx512(DType dtype, const void* src, float* dst, int64_t n);
bool weighted_sums_stored_avx512(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                 int n_heads, const void* const* rows, int64_t n_rows, int64_t d);

namespace {

using x86::add_subblock;
using x86::broadcast_group;
using x86::for_token_tiles;
using x86::hsum;
using x86::kPrefetchBytes;
using x86::kPrefetchPackedBlocks;
using x86::kquant_codes;
using x86::finish_bf16_dot;
using x86::load_pair;
using x86::load_streamed_line;
using x86::low_bits;
using x86::prefetch_block;
using x86::prefetch_pair;
using x86::q4_0_codes;
using x86::scales_pair;
using x86::subblock_factors;

// As the AVX2 tile: a block's codes unpacked once into eight registers for every token.
// Per token the low and high nibbles go into two 32-bit sums (two dependency chains
// instead of one); their total is the AVX2 tile's 16-bit sums widened, exactly.
template <int NT>
DSINFER_AVX512_VNNI void gemm_q4_0x8_tile(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                          int64_t x_stride, float* out, int64_t out_stride) {
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256i lo[4], hi[4];
    q4_0_codes(w[b], lo, hi);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < NT; ++t) {
      const ActBlockQ8& xb = x[t * x_stride + b];
      __m256i low_sum = _mm256_setzero_si256(), high_sum = _mm256_setzero_si256();
      for (int k = 0; k < 4; ++k) {
        low_sum = _mm256_dpbusd_epi32(low_sum, lo[k], broadcast_group(xb.qs + 4 * k));
        high_sum = _mm256_dpbusd_epi32(high_sum, hi[k], broadcast_group(xb.qs + 16 + 4 * k));
      }
      const __m256i dot = _mm256_sub_epi32(_mm256_add_epi32(low_sum, high_sum), _mm256_set1_epi32(8 * xb.sum));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, _mm256_set1_ps(xb.d)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// Q5_0 / Q5_1 as gemm_q4_0x8_tile, with the AVX2 tile's float steps (x86::add_q5_block).
template <int NT, typename Block>
DSINFER_AVX512_VNNI void gemm_q5x8_tile(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                        float* out, int64_t out_stride) {
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256i lo[4], hi[4];
    x86::q5_codes(w[b], lo, hi);
    for (int t = 0; t < NT; ++t) {
      const ActBlockQ8& xb = x[t * x_stride + b];
      __m256i low_sum = _mm256_setzero_si256(), high_sum = _mm256_setzero_si256();
      for (int k = 0; k < 4; ++k) {
        low_sum = _mm256_dpbusd_epi32(low_sum, lo[k], broadcast_group(xb.qs + 4 * k));
        high_sum = _mm256_dpbusd_epi32(high_sum, hi[k], broadcast_group(xb.qs + 16 + 4 * k));
      }
      acc[t] = x86::add_q5_block(acc[t], _mm256_add_epi32(low_sum, high_sum), w[b], xb);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

template <typename Block>
void gemm_q5x8(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens, float* out,
               int64_t out_stride) {
  for_token_tiles<8>(n_tokens, [&](auto nt, int t) {
    gemm_q5x8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

// Signed weights made unsigned by adding 128 (flipping the top bit), once per group for
// every token: sum((w + 128) x) = sum(w x) + 128 sum(x), and the activation block's sum
// is already known. |sum(w x)| stays below 2^20, far from overflow.
template <int NT>
DSINFER_AVX512_VNNI void gemm_q8_0x8_tile(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x,
                                          int64_t x_stride, float* out, int64_t out_stride) {
  const __m256i top_bit = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256i sums[NT];
    for (int t = 0; t < NT; ++t) sums[t] = _mm256_set1_epi32(-128 * x[t * x_stride + b].sum);
    for (int k = 0; k < 8; ++k) {
      const __m256i biased =
          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * k)), top_bit);
      for (int t = 0; t < NT; ++t)
        sums[t] = _mm256_dpbusd_epi32(sums[t], biased, broadcast_group(x[t * x_stride + b].qs + 4 * k));
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[t]), _mm256_mul_ps(dw, _mm256_set1_ps(x[t * x_stride + b].d)),
                               acc[t]);
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// Two groups of eight rows (w and w + n_blocks) in the halves of 512-bit registers: one
// broadcast activation group and one multiply-add serve sixteen rows. Lane by lane the
// operations are those of the 256-bit tiles above, so a row's bits do not depend on which
// of the two handled it.
DSINFER_AVX512_VNNI inline __m512i broadcast_group16(const int8_t* qs) {
  int32_t group;
  __builtin_memcpy(&group, qs, sizeof(group));
  return _mm512_set1_epi32(group);
}

// Block b of the pair after the one at w (groups w + 2 n_blocks and w + 3 n_blocks) into
// L2: while several tokens' tiles work on one pair, the next one arrives whole, where
// 16 KiB ahead covered half of a Q8_0 pair at 2,048 columns.
template <typename Block>
DSINFER_AVX512_VNNI inline void next_pair_ahead(const Block* w, int64_t n_blocks) {
  for (int64_t h = 2; h < 4; ++h) {
    const char* q = reinterpret_cast<const char*>(w + h * n_blocks);
    for (size_t o = 0; o < sizeof(Block); o += 64) _mm_prefetch(q + o, _MM_HINT_T1);
  }
}

// What the sixteen-row tiles fetch at block b: for one token 16 KiB ahead of each pair, for
// several the next pairs.
template <int NT, int kPairs, typename Block>
DSINFER_AVX512_VNNI inline void fetch_ahead(const Block* const (&w)[kPairs], int64_t n_blocks, int64_t b) {
  for (int p = 0; p < kPairs; ++p) {
    if constexpr (NT > 1)
      next_pair_ahead(w[p] + b, n_blocks);
    else
      prefetch_pair(w[p] + b, w[p] + n_blocks + b);
  }
}

// Block b of two groups of eight rows (w0, w1) in the halves of 512-bit registers against
// NT tokens' activation blocks (rows x_stride apart), onto acc[t]: the integer dot, then
// acc += dot * (row scale * activation scale), so a row's bits do not depend on which
// group it is paired with.
template <int NT>
[[gnu::always_inline]] DSINFER_AVX512_VNNI inline void add_block_x16(const BlockQ4_0x8& w0, const BlockQ4_0x8& w1,
                                                                   const ActBlockQ8* x, int64_t x_stride,
                                                                   __m512 acc[NT]) {
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  __m512i lo[4], hi[4];
  for (int k = 0; k < 4; ++k) {
    const __m512i packed = load_pair(w0.qs + 32 * k, w1.qs + 32 * k);
    lo[k] = _mm512_and_si512(packed, low_nibbles);
    hi[k] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
  }
  const __m512 dw = scales_pair(w0.d, w1.d);
  for (int t = 0; t < NT; ++t) {
    const ActBlockQ8& xb = x[t * x_stride];
    // One chain, started at the codes' offset of 8 times the activations' sum: integer
    // sums are exact in any order, so the bits of two chains added and the offset taken
    // after, in two fewer instructions per token; a 48-token product in L2 runs about 9%
    // faster on the Ice Lake VM, where the instructions around VPDPBUSD, not its rate,
    // set the pace (docs/benchmarks.md, CPU backend, session 27).
    __m512i dot = _mm512_set1_epi32(-8 * xb.sum);
    for (int k = 0; k < 4; ++k) {
      dot = _mm512_dpbusd_epi32(dot, lo[k], broadcast_group16(xb.qs + 4 * k));
      dot = _mm512_dpbusd_epi32(dot, hi[k], broadcast_group16(xb.qs + 16 + 4 * k));
    }
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, _mm512_set1_ps(xb.d)), acc[t]);
  }
}

template <int NT>
[[gnu::always_inline]] DSINFER_AVX512_VNNI inline void add_block_x16(const BlockQ8_0x8& w0, const BlockQ8_0x8& w1,
                                                                   const ActBlockQ8* x, int64_t x_stride,
                                                                   __m512 acc[NT]) {
  const __m512i top_bit = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i sums[NT];
  for (int t = 0; t < NT; ++t) sums[t] = _mm512_set1_epi32(-128 * x[t * x_stride].sum);
  for (int k = 0; k < 8; ++k) {
    const __m512i biased = _mm512_xor_si512(
        load_pair(reinterpret_cast<const uint8_t*>(w0.qs + 32 * k), reinterpret_cast<const uint8_t*>(w1.qs + 32 * k)),
        top_bit);
    for (int t = 0; t < NT; ++t)
      sums[t] = _mm512_dpbusd_epi32(sums[t], biased, broadcast_group16(x[t * x_stride].qs + 4 * k));
  }
  const __m512 dw = scales_pair(w0.d, w1.d);
  for (int t = 0; t < NT; ++t)
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[t]), _mm512_mul_ps(dw, _mm512_set1_ps(x[t * x_stride].d)), acc[t]);
}

// add_block_x16 (Q8_0) for two pairs of groups at once, each activation group broadcast
// once for both: each pair's operations those of add_block_x16, so its bits. Two pairs
// against four tokens ran 0.83x the time of one pair against eight (docs/benchmarks.md,
// CPU backend, session 27).
template <int NT>
[[gnu::always_inline]] DSINFER_AVX512_VNNI inline void add_two_pairs_x16(const BlockQ8_0x8& a0, const BlockQ8_0x8& a1,
                                                                       const BlockQ8_0x8& b0, const BlockQ8_0x8& b1,
                                                                       const ActBlockQ8* x, int64_t x_stride,
                                                                       __m512 acc_a[NT], __m512 acc_b[NT]) {
  const __m512i top_bit = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i sa[NT], sb[NT];
  for (int t = 0; t < NT; ++t) sa[t] = sb[t] = _mm512_set1_epi32(-128 * x[t * x_stride].sum);
  for (int k = 0; k < 8; ++k) {
    const __m512i ba = _mm512_xor_si512(
        load_pair(reinterpret_cast<const uint8_t*>(a0.qs + 32 * k), reinterpret_cast<const uint8_t*>(a1.qs + 32 * k)),
        top_bit);
    const __m512i bb = _mm512_xor_si512(
        load_pair(reinterpret_cast<const uint8_t*>(b0.qs + 32 * k), reinterpret_cast<const uint8_t*>(b1.qs + 32 * k)),
        top_bit);
    for (int t = 0; t < NT; ++t) {
      const __m512i g = broadcast_group16(x[t * x_stride].qs + 4 * k);
      sa[t] = _mm512_dpbusd_epi32(sa[t], ba, g);
      sb[t] = _mm512_dpbusd_epi32(sb[t], bb, g);
    }
  }
  const __m512 da = scales_pair(a0.d, a1.d), db = scales_pair(b0.d, b1.d);
  for (int t = 0; t < NT; ++t) {
    const __m512 xd = _mm512_set1_ps(x[t * x_stride].d);
    acc_a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sa[t]), _mm512_mul_ps(da, xd), acc_a[t]);
    acc_b[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sb[t]), _mm512_mul_ps(db, xd), acc_b[t]);
  }
}

// add_block_x16 (Q4_0) for two pairs of groups at once, likewise: each group's codes
// unpacked as its multiply-adds come, so that two pairs' sums and accumulators fit the
// registers beside them.
template <int NT>
[[gnu::always_inline]] DSINFER_AVX512_VNNI inline void add_two_pairs_x16(const BlockQ4_0x8& a0, const BlockQ4_0x8& a1,
                                                                       const BlockQ4_0x8& b0, const BlockQ4_0x8& b1,
                                                                       const ActBlockQ8* x, int64_t x_stride,
                                                                       __m512 acc_a[NT], __m512 acc_b[NT]) {
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  __m512i sa[NT], sb[NT];
  for (int t = 0; t < NT; ++t) sa[t] = sb[t] = _mm512_set1_epi32(-8 * x[t * x_stride].sum);
  for (int k = 0; k < 4; ++k) {
    const __m512i pa = load_pair(a0.qs + 32 * k, a1.qs + 32 * k), pb = load_pair(b0.qs + 32 * k, b1.qs + 32 * k);
    const __m512i lo_a = _mm512_and_si512(pa, low_nibbles), lo_b = _mm512_and_si512(pb, low_nibbles);
    const __m512i hi_a = _mm512_and_si512(_mm512_srli_epi16(pa, 4), low_nibbles);
    const __m512i hi_b = _mm512_and_si512(_mm512_srli_epi16(pb, 4), low_nibbles);
    for (int t = 0; t < NT; ++t) {
      const __m512i low = broadcast_group16(x[t * x_stride].qs + 4 * k);
      const __m512i high = broadcast_group16(x[t * x_stride].qs + 16 + 4 * k);
      sa[t] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sa[t], lo_a, low), hi_a, high);
      sb[t] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sb[t], lo_b, low), hi_b, high);
    }
  }
  const __m512 da = scales_pair(a0.d, a1.d), db = scales_pair(b0.d, b1.d);
  for (int t = 0; t < NT; ++t) {
    const __m512 xd = _mm512_set1_ps(x[t * x_stride].d);
    acc_a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sa[t]), _mm512_mul_ps(da, xd), acc_a[t]);
    acc_b[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sb[t]), _mm512_mul_ps(db, xd), acc_b[t]);
  }
}

// kPairs pairs of groups (Q4_0x8 or Q8_0x8) side by side, block by block (add_block_x16;
// add_two_pairs_x16 for two), each pair's rows with the operations of one pair alone. Two
// pairs far apart (different matrices, or the halves of a range) are four streams from two
// places: on a 2-core Xeon
// VM two threads read 26.6-29.9 GB/s that way against 23.6-25.7 for one pair at a time,
// with the pairs 72 KiB or more apart (36 KiB: 25.5), the probe 28.8-30.4
// (docs/benchmarks.md, CPU backend session 16). kPrefetch: fetch ahead (fetch_ahead); not
// in a call's later token tiles, which find the pairs in cache (in L2 the Q8_0 tile took
// 2.35 TSC cycles per block and token with the 16 KiB fetches, 2.12 without; CPU backend
// session 20).
template <int NT, int kPairs, bool kPrefetch = true, typename Block>
DSINFER_AVX512_VNNI void gemm_x16_tile(const Block* const (&w)[kPairs], int64_t n_blocks, const ActBlockQ8* x,
                                       int64_t x_stride, float* const (&out)[kPairs], int64_t out_stride) {
  __m512 acc[kPairs][NT];
  for (auto& pair : acc)
    for (auto& a : pair) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    if constexpr (kPrefetch) fetch_ahead<NT>(w, n_blocks, b);
    if constexpr (kPairs == 2)
      add_two_pairs_x16<NT>(w[0][b], w[0][n_blocks + b], w[1][b], w[1][n_blocks + b], x + b, x_stride, acc[0], acc[1]);
    else
      for (int p = 0; p < kPairs; ++p) add_block_x16<NT>(w[p][b], w[p][n_blocks + b], x + b, x_stride, acc[p]);
  }
  for (int p = 0; p < kPairs; ++p)
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out[p] + t * out_stride, acc[p][t]);
}

// Q4_K and Q5_K as the AVX2 tile (per super-block, 64-value chunks, sub-block sums then
// d * scale and dmin * min per sub-block), the 16-bit sums and their widening replaced by
// one VPDPBUSD per group and token.
template <int NT, typename Block>
DSINFER_AVX512_VNNI void gemm_kx8_tile(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                       float* out, int64_t out_stride) {
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ4_Kx8& wb = low_bits(w[b]);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.d)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.dmin)));
    for (int c = 0; c < 4; ++c) {
      _mm_prefetch(reinterpret_cast<const char*>(&low_bits(w[b + 1])) + 256 * c, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(&low_bits(w[b + 1])) + 256 * c + 128, _MM_HINT_T0);
      __m256i lo_dots[NT], hi_dots[NT];
      for (int t = 0; t < NT; ++t) lo_dots[t] = hi_dots[t] = _mm256_setzero_si256();
      for (int k = 0; k < 8; ++k) {
        __m256i lo, hi;
        kquant_codes(w[b], c, k, lo, hi);
        for (int t = 0; t < NT; ++t) {
          const ActBlockQ8* xt = x + t * x_stride + 8 * b + 2 * c;
          lo_dots[t] = _mm256_dpbusd_epi32(lo_dots[t], lo, broadcast_group(xt[0].qs + 4 * k));
          hi_dots[t] = _mm256_dpbusd_epi32(hi_dots[t], hi, broadcast_group(xt[1].qs + 4 * k));
        }
      }
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * c + half;
        const __m256 scale = subblock_factors(d, wb.scales[j]), min = subblock_factors(dmin, wb.mins[j]);
        for (int t = 0; t < NT; ++t)
          acc[t] = add_subblock(acc[t], half == 0 ? lo_dots[t] : hi_dots[t], scale, min, x[t * x_stride + 8 * b + j]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// Two rows' eight bytes (w and w1 at the same place), for sixteen 32-bit lanes.
DSINFER_AVX512_VNNI inline __m128i bytes_pair(const void* first, const void* second) {
  return _mm_unpacklo_epi64(_mm_loadl_epi64(static_cast<const __m128i*>(first)),
                            _mm_loadl_epi64(static_cast<const __m128i*>(second)));
}

// The bytes of the 8-byte rows `first` and `second`, widened to sixteen 32-bit lanes.
DSINFER_AVX512_VNNI inline __m512 bytes_pair_to_floats(const uint8_t* first, const uint8_t* second) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes_pair(first, second)));
}

DSINFER_AVX512_VNNI inline __m512i fifth_bit16(__m512i bits, int k) {
  const __m512i moved = k <= 4 ? _mm512_slli_epi16(bits, 4 - k) : _mm512_srli_epi16(bits, k - 4);
  return _mm512_and_si512(moved, _mm512_set1_epi8(0x10));
}

// x86::third_bit and x86::sixteen_bit_pairs on sixteen rows.
DSINFER_AVX512_VNNI inline __m512i third_bit16(__m512i bits, int k) {
  const __m512i moved = k <= 2 ? _mm512_slli_epi16(bits, 2 - k) : _mm512_srli_epi16(bits, k - 2);
  return _mm512_and_si512(moved, _mm512_set1_epi8(0x04));
}

DSINFER_AVX512_VNNI inline __m512i sixteen_bit_pairs16(__m512i a, __m512i b) {
  return _mm512_or_si512(_mm512_and_si512(a, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(b, 16));
}

// The sixteen-row tiles' prefetch for one token: two adjacent groups as a pair
// 16 KiB ahead (kAhead 0, x86::prefetch_pair), or two groups far apart each as its own
// stream kAhead bytes ahead (the far tiles).
template <int64_t kAhead, typename Block>
DSINFER_AVX512_VNNI inline void prefetch_two_groups(const Block* w0, const Block* w1) {
  if constexpr (kAhead == 0) {
    prefetch_pair(w0, w1);
  } else {
    x86::prefetch_stream<sizeof(Block), kAhead>(w0);
    x86::prefetch_stream<sizeof(Block), kAhead>(w1);
  }
}

// The sixteen floats of a sixteen-row tile's lanes: group w0's eight rows to out0, w1's to out1.
DSINFER_AVX512_VNNI inline void store_two_groups(__m512 v, float* out0, float* out1) {
  _mm256_storeu_ps(out0, _mm512_castps512_ps256(v));
  _mm256_storeu_ps(out1, _mm512_extractf32x8_ps(v, 1));
}

// gemm_kx8_tile over two groups (w and w1) in 512-bit registers, lane by lane the same
// operations; for one token fetched as prefetch_two_groups<kAhead> says.
template <int NT, typename Block, int64_t kAhead = 0>
DSINFER_AVX512_VNNI void gemm_kx16_tile(const Block* w, const Block* w1, int64_t n_blocks, const ActBlockQ8* x,
                                        int64_t x_stride, float* out, float* out1, int64_t out_stride) {
  constexpr bool kFiveBit = std::is_same_v<Block, BlockQ5_Kx8>;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  __m512 acc[NT];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ4_Kx8& wa = low_bits(w[b]);
    const BlockQ4_Kx8& wb = low_bits(w1[b]);
    const __m512 d = scales_pair(wa.d, wb.d);
    const __m512 dmin = scales_pair(wa.dmin, wb.dmin);
    // One token (decode) streams the groups ahead (prefetch_two_groups); several tokens
    // re-read each block from cache per token tile and fetch just the next one.
    if constexpr (NT == 1) prefetch_two_groups<kAhead>(w + b, w1 + b);
    for (int c = 0; c < 4; ++c) {
      if constexpr (NT > 1)
        for (const Block* next : {w + b + 1, w1 + b + 1}) {
          _mm_prefetch(reinterpret_cast<const char*>(&low_bits(*next)) + 256 * c, _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(&low_bits(*next)) + 256 * c + 128, _MM_HINT_T0);
        }
      __m512i lo_dots[NT], hi_dots[NT];
      for (int t = 0; t < NT; ++t) lo_dots[t] = hi_dots[t] = _mm512_setzero_si512();
      for (int k = 0; k < 8; ++k) {
        const __m512i packed = load_pair(wa.qs + 256 * c + 32 * k, wb.qs + 256 * c + 32 * k);
        __m512i lo = _mm512_and_si512(packed, low_nibbles);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
        if constexpr (kFiveBit) {
          lo = _mm512_or_si512(lo, fifth_bit16(load_pair(w[b].qh[c][0], w1[b].qh[c][0]), k));
          hi = _mm512_or_si512(hi, fifth_bit16(load_pair(w[b].qh[c][1], w1[b].qh[c][1]), k));
        }
        for (int t = 0; t < NT; ++t) {
          const ActBlockQ8* xt = x + t * x_stride + 8 * b + 2 * c;
          lo_dots[t] = _mm512_dpbusd_epi32(lo_dots[t], lo, broadcast_group16(xt[0].qs + 4 * k));
          hi_dots[t] = _mm512_dpbusd_epi32(hi_dots[t], hi, broadcast_group16(xt[1].qs + 4 * k));
        }
      }
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * c + half;
        const __m512 scale = _mm512_mul_ps(d, bytes_pair_to_floats(wa.scales[j], wb.scales[j]));
        const __m512 min = _mm512_mul_ps(dmin, bytes_pair_to_floats(wa.mins[j], wb.mins[j]));
        for (int t = 0; t < NT; ++t) {
          const ActBlockQ8& xb = x[t * x_stride + 8 * b + j];
          const __m512i dot = half == 0 ? lo_dots[t] : hi_dots[t];
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(scale, _mm512_set1_ps(xb.d)), acc[t]);
          acc[t] = _mm512_fnmadd_ps(min, _mm512_set1_ps(xb.d * static_cast<float>(xb.sum)), acc[t]);
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t) store_two_groups(acc[t], out + t * out_stride, out1 + t * out_stride);
}

// -32 times the sums of the sixteen 16-value halves of activation blocks xb[0..7], half h
// to out[h]: VPDPBUSD against ones sums four values per lane, and two rounds of unpacks
// add each half's four lanes, leaving half 4i + q at lane 4q + i, which one permute undoes.
DSINFER_AVX512_VNNI inline void store_minus_32_half_sums(const ActBlockQ8* xb, int32_t out[16]) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i quarters[4];
  for (int i = 0; i < 4; ++i)
    quarters[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones,
                                      load_pair(reinterpret_cast<const uint8_t*>(xb[2 * i].qs),
                                                reinterpret_cast<const uint8_t*>(xb[2 * i + 1].qs)));
  const __m512i a = _mm512_add_epi32(_mm512_unpacklo_epi32(quarters[0], quarters[1]),
                                     _mm512_unpackhi_epi32(quarters[0], quarters[1]));
  const __m512i b = _mm512_add_epi32(_mm512_unpacklo_epi32(quarters[2], quarters[3]),
                                     _mm512_unpackhi_epi32(quarters[2], quarters[3]));
  const __m512i sums = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_si512(out, _mm512_sub_epi32(_mm512_setzero_si512(),
                                            _mm512_slli_epi32(_mm512_permutexvar_epi32(order, sums), 5)));
}

// d times the int8 scales of 16-value half h of super-block pair (w, w1), w's eight rows
// then w1's.
DSINFER_AVX512_VNNI inline __m512 q6_k_half_scales(const BlockQ6_Kx8& w, const BlockQ6_Kx8& w1, int h, __m512 d) {
  return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes_pair(w.scales[h], w1.scales[h]))));
}

// 32-value block `block` of super-block pair (w, w1) for one token (xb, its activation
// blocks of the super-block): the AVX2 table's Q6_K steps (kernels_avx2.cpp) in 512-bit
// registers, the codes unsigned and each 16-value half's VPDPBUSD sum started at -32
// times its activations' sum (half_sums), so that it ends as the integer the AVX2 tile's
// signed codes give, and the same float steps from there.
[[gnu::always_inline]] DSINFER_AVX512_VNNI inline void add_q6_k_block_x16(const BlockQ6_Kx8& w, const BlockQ6_Kx8& w1,
                                                                         int block, const ActBlockQ8* xb,
                                                                         const int32_t half_sums[16], __m512 d,
                                                                         __m512& acc) {
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F), high_pair = _mm512_set1_epi8(0x30);
  const int j = block % 4;
#pragma GCC unroll 2
  for (int half = 0; half < 2; ++half) {
    __m512i sum = _mm512_set1_epi32(half_sums[2 * block + half]);
#pragma GCC unroll 4
    for (int k = 4 * half; k < 4 * half + 4; ++k) {
      // x86::q6_k_codes on two groups: ql's nibbles, with qh's pair j moved to bits 4, 5.
      const int64_t low_at = 256 * (block / 2) + 32 * k, high_at = 256 * (block / 4) + 32 * k;
      const __m512i packed = load_pair(w.ql + low_at, w1.ql + low_at);
      const __m512i pairs = load_pair(w.qh + high_at, w1.qh + high_at);
      const __m512i nibbles = _mm512_and_si512(block % 2 ? _mm512_srli_epi16(packed, 4) : packed, low_nibbles);
      const __m512i moved = j < 2 ? _mm512_slli_epi16(pairs, 4 - 2 * j) : _mm512_srli_epi16(pairs, 2 * j - 4);
      const __m512i codes = _mm512_ternarylogic_epi32(nibbles, moved, high_pair, 0xF8);  // a | (b & c)
      sum = _mm512_dpbusd_epi32(sum, codes, broadcast_group16(xb[block].qs + 4 * k));
    }
    const __m512 scale = q6_k_half_scales(w, w1, 2 * block + half, d);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(scale, _mm512_set1_ps(xb[block].d)), acc);
  }
}

// The Q6_K tile over two groups for one token, fetched as gemm_kx16_tile's. The block loop
// is unrolled, so that the shifts and offsets are constants: computed per block, one core
// took 301-318 cycles per super-block in cache against 213-221 (docs/benchmarks.md, CPU
// backend, session 41).
template <int64_t kAhead>
DSINFER_AVX512_VNNI void gemm_q6_kx16_one_token(const BlockQ6_Kx8* w, const BlockQ6_Kx8* w1, int64_t n_blocks,
                                                const ActBlockQ8* x, float* out, float* out1) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_two_groups<kAhead>(w + b, w1 + b);
    const __m512 d = scales_pair(w[b].d, w1[b].d);
    // In memory rather than registers: each is read once, by a broadcast load.
    alignas(64) int32_t half_sums[16];
    store_minus_32_half_sums(x + 8 * b, half_sums);
#pragma GCC unroll 8
    for (int block = 0; block < 8; ++block) add_q6_k_block_x16(w[b], w1[b], block, x + 8 * b, half_sums, d, acc);
  }
  store_two_groups(acc, out, out1);
}

// Super-block pair (w, w1)'s codes as signed bytes q - 32, group k of 32-value block m at
// 512 m + 64 k: w's eight rows' four values, then w1's, as load_pair places them.
DSINFER_AVX512_VNNI inline void q6_k_signed_codes_x16(const BlockQ6_Kx8& w, const BlockQ6_Kx8& w1, int8_t out[4096]) {
#pragma GCC unroll 8
  for (int block = 0; block < 8; ++block)
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const __m256i first = x86::q6_k_codes(w, block, k), second = x86::q6_k_codes(w1, block, k);
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(first), second, 1);
      _mm512_store_si512(out + 512 * block + 64 * k, _mm512_sub_epi8(both, _mm512_set1_epi8(32)));
    }
}

// One super-block pair for NT tokens, its codes from q6_k_signed_codes_x16, added to the
// rows' sums in out0 / out1: |q - 32| against x with its sign, as the AVX2 tile, summed by
// VPDPBUSD, and the one-token tile's float steps.
template <int NT>
DSINFER_AVX512_VNNI void add_q6_k_super_block_x16(const int8_t* codes, const BlockQ6_Kx8& w, const BlockQ6_Kx8& w1,
                                                  const ActBlockQ8* x, int64_t x_stride, float* out0, float* out1,
                                                  int64_t out_stride) {
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t)
    acc[t] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(out0 + t * out_stride)),
                                _mm256_loadu_ps(out1 + t * out_stride), 1);
  const __m512 d = scales_pair(w.d, w1.d);
  for (int h = 0; h < 16; ++h) {
    __m512i sums[NT];
    for (auto& sum : sums) sum = _mm512_setzero_si512();
    for (int k = 0; k < 4; ++k) {
      const __m512i wq = _mm512_load_si512(codes + 256 * h + 64 * k);
      const __m512i w_abs = _mm512_abs_epi8(wq);
      // x with w's sign: negated where w < 0 (where w is 0, |w| x is 0 either way).
      const __mmask64 negative = _mm512_movepi8_mask(wq);
      for (int t = 0; t < NT; ++t) {
        const __m512i xq = broadcast_group16(x[t * x_stride + h / 2].qs + 16 * (h % 2) + 4 * k);
        sums[t] = _mm512_dpbusd_epi32(sums[t], w_abs, _mm512_mask_sub_epi8(xq, negative, _mm512_setzero_si512(), xq));
      }
    }
    const __m512 scale = q6_k_half_scales(w, w1, h, d);
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[t]),
                               _mm512_mul_ps(scale, _mm512_set1_ps(x[t * x_stride + h / 2].d)), acc[t]);
  }
  for (int t = 0; t < NT; ++t) store_two_groups(acc[t], out0 + t * out_stride, out1 + t * out_stride);
}

// Q6_K over groups w0 and w1: one token through the unsigned tile, more with each
// super-block pair's codes decoded once for all of them, every token's sums carried
// through out in the order a lone token's take. Token tiles that each decoded their own
// read B's pp512 at 1 / 1.15 of this speed (docs/benchmarks.md, CPU backend, session 41).
template <int kTokens, int64_t kAhead>
DSINFER_AVX512_VNNI void q6_k_groups_x16(const BlockQ6_Kx8* w0, const BlockQ6_Kx8* w1, int64_t n_blocks,
                                         const ActBlockQ8* x, int64_t x_stride, int n_tokens, float* out0, float* out1,
                                         int64_t out_stride) {
  if (n_tokens == 1) return gemm_q6_kx16_one_token<kAhead>(w0, w1, n_blocks, x, out0, out1);
  for (int t = 0; t < n_tokens; ++t)
    store_two_groups(_mm512_setzero_ps(), out0 + t * out_stride, out1 + t * out_stride);
  alignas(64) int8_t codes[4096];
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w0 + b + 1);
    prefetch_block(w1 + b + 1);
    q6_k_signed_codes_x16(w0[b], w1[b], codes);
    for_token_tiles<kTokens>(n_tokens, [&](auto nt, int t) {
      add_q6_k_super_block_x16<decltype(nt)::value>(codes, w0[b], w1[b], x + t * x_stride + 8 * b, x_stride,
                                                    out0 + t * out_stride, out1 + t * out_stride, out_stride);
    });
  }
}

void gemm_q4_kx8(const BlockQ4_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  for_token_tiles<8>(n_tokens, [&](auto nt, int t) {
    gemm_kx8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

void gemm_q5_kx8(const BlockQ5_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  for_token_tiles<8>(n_tokens, [&](auto nt, int t) {
    gemm_kx8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

// One to four tokens against kPlaces far groups, each group read alone, front to back: one
// stream per range, where the sixteen-row tiles read two (adjacent groups) from each. Two
// places to a 512-bit register: the halves hold block b of two places, so both multiply
// the same activation block, whose groups, sum and scale are broadcast from memory
// (add_block_x16, so the bits are the sixteen-row tile's). Halves holding blocks b and
// b + 1 of one place instead cost each token eight permutes per block pair to lay out its
// activations: one core in L2 read 9-17 GB/s at two tokens against 17-20 now
// (docs/benchmarks.md, CPU backend, session 24). kAhead: how far ahead each stream is
// fetched (x86::prefetch_stream); 0 leaves it to the hardware prefetchers.
template <int NT, typename Block, int64_t kAhead, int kPlaces = 2>
DSINFER_AVX512_VNNI void far_tokens_tile(const Block* const (&w)[kPlaces], int64_t n_blocks, const ActBlockQ8* x,
                                         int64_t x_stride, float* const (&out)[kPlaces], int64_t out_stride) {
  static_assert(kPlaces % 2 == 0);
  constexpr int kPairs = kPlaces / 2;
  __m512 acc[kPairs][NT];
  for (auto& pair : acc)
    for (auto& a : pair) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    if constexpr (kAhead > 0)
      if (b % 2 == 0)
        for (const Block* group : w) x86::prefetch_stream<2 * sizeof(Block), kAhead>(group + b);
    for (int q = 0; q < kPairs; ++q) add_block_x16<NT>(w[2 * q][b], w[2 * q + 1][b], x + b, x_stride, acc[q]);
  }
  for (int q = 0; q < kPairs; ++q)
    for (int t = 0; t < NT; ++t) {
      _mm256_storeu_ps(out[2 * q] + t * out_stride, _mm512_castps512_ps256(acc[q][t]));
      _mm256_storeu_ps(out[2 * q + 1] + t * out_stride, _mm512_extractf32x8_ps(acc[q][t], 1));
    }
}

// The Q4_0 / Q8_0 far-pair kernels for an even number of blocks: each pair's first groups,
// then their second ones, so each range is read front to back. False for an odd number,
// which the sixteen-row tiles take. kAhead is for one token: tiles of two to four fetch 4 KiB
// ahead everywhere (at 1 KiB a sixteen-stream A Q4_0 decode step on the Zen 5 VM took 5-14%
// longer; docs/benchmarks.md, CPU backend, session 28).
template <int64_t kAhead, typename Block>
DSINFER_AVX512_VNNI bool far_tokens(const Block* w, const Block* w_far, int64_t n_blocks, const ActBlockQ8* x,
                                    int64_t x_stride, int n_tokens, float* out, float* out_far, int64_t out_stride) {
  if (n_blocks % 2 != 0) return false;
  for_token_tiles<kMaxFarPairTokens>(n_tokens, [&](auto nt, int t) {
    constexpr int kTokens = decltype(nt)::value;
    constexpr int64_t kTileAhead = kTokens == 1 ? kAhead : x86::kStreamPrefetchBytes;
    for (int64_t half = 0; half < 2; ++half)
      far_tokens_tile<kTokens, Block, kTileAhead>({w + half * n_blocks, w_far + half * n_blocks}, n_blocks,
                                                  x + t * x_stride, x_stride,
                                                  {out + t * out_stride + 8 * half, out_far + t * out_stride + 8 * half},
                                                  out_stride);
  });
  return true;
}

// One token against four pairs far apart: the first groups of all four, then their second
// ones, so each range is still read front to back, four streams at a time.
template <int64_t kAhead, typename Block>
DSINFER_AVX512_VNNI void far_pairs_of_four(const Block* const w[4], int64_t n_blocks, const ActBlockQ8* x,
                                           float* const out[4]) {
  for (int64_t half = 0; half < 2; ++half) {
    const int64_t at = half * n_blocks;
    far_tokens_tile<1, Block, kAhead, 4>({w[0] + at, w[1] + at, w[2] + at, w[3] + at}, n_blocks, x, 0,
                                 {out[0] + 8 * half, out[1] + 8 * half, out[2] + 8 * half, out[3] + 8 * half}, 0);
  }
}

template <int64_t kAhead>
void gemm_q4_0x16_far4(const BlockQ4_0x8* const w[4], int64_t n_blocks, const ActBlockQ8* x, float* const out[4]) {
  far_pairs_of_four<kAhead>(w, n_blocks, x, out);
}

template <int64_t kAhead>
void gemm_q8_0x16_far4(const BlockQ8_0x8* const w[4], int64_t n_blocks, const ActBlockQ8* x, float* const out[4]) {
  far_pairs_of_four<kAhead>(w, n_blocks, x, out);
}

void gemm_q4_0x8(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  for_token_tiles<8>(n_tokens, [&](auto nt, int t) {
    gemm_q4_0x8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

void gemm_q8_0x8(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  for_token_tiles<8>(n_tokens, [&](auto nt, int t) {
    gemm_q8_0x8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

// tile(token count, whether to fetch ahead, first token) over a sixteen-row call's token
// tiles: the first of every sixteen tokens fetches the pair ahead (as when calls took
// sixteen tokens at most), the others find it in cache.
template <typename Tile>
void sixteen_row_token_tiles(int n_tokens, Tile&& tile) {
  for_token_tiles<8>(n_tokens, [&](auto nt, int t) {
    if (t % 16 == 0) return tile(nt, std::true_type{}, t);
    tile(nt, std::false_type{}, t);
  });
}

void gemm_q4_0x16(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                  float* out, int64_t out_stride) {
  sixteen_row_token_tiles(n_tokens, [&](auto nt, auto prefetch, int t) {
    gemm_x16_tile<decltype(nt)::value, 1, decltype(prefetch)::value, BlockQ4_0x8>({w}, n_blocks, x + t * x_stride,
                                                                                x_stride, {out + t * out_stride},
                                                                                out_stride);
  });
}

template <int64_t kAhead>
void gemm_q4_0x16_far(const BlockQ4_0x8* w, const BlockQ4_0x8* w_far, int64_t n_blocks, const ActBlockQ8* x,
                      int64_t x_stride, int n_tokens, float* out, float* out_far, int64_t out_stride) {
  if (far_tokens<kAhead>(w, w_far, n_blocks, x, x_stride, n_tokens, out, out_far, out_stride)) return;
  for_token_tiles<kMaxFarPairTokens>(n_tokens, [&](auto nt, int t) {
    gemm_x16_tile<decltype(nt)::value, 2, true, BlockQ4_0x8>({w, w_far}, n_blocks, x + t * x_stride, x_stride,
                                                         {out + t * out_stride, out_far + t * out_stride},
                                                         out_stride);
  });
}

void gemm_q8_0x16(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                  float* out, int64_t out_stride) {
  sixteen_row_token_tiles(n_tokens, [&](auto nt, auto prefetch, int t) {
    gemm_x16_tile<decltype(nt)::value, 1, decltype(prefetch)::value, BlockQ8_0x8>({w}, n_blocks, x + t * x_stride,
                                                                                x_stride, {out + t * out_stride},
                                                                                out_stride);
  });
}

// gemm_q4_0x32 / gemm_q8_0x32 in four-token tiles: two pairs' sums and accumulators for
// more tokens would not fit the registers. As sixteen_row_token_tiles, the first tile of
// every sixteen tokens fetches the next pairs ahead.
template <typename Block>
void gemm_two_pairs(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens, float* out,
                    int64_t out_stride) {
  for_token_tiles<4>(n_tokens, [&](auto nt, int t) {
    const Block* const pairs[2] = {w, w + 2 * n_blocks};
    float* const outs[2] = {out + t * out_stride, out + t * out_stride + 16};
    if (t % 16 == 0)
      gemm_x16_tile<decltype(nt)::value, 2, true>(pairs, n_blocks, x + t * x_stride, x_stride, outs, out_stride);
    else
      gemm_x16_tile<decltype(nt)::value, 2, false>(pairs, n_blocks, x + t * x_stride, x_stride, outs, out_stride);
  });
}

template <int64_t kAhead>
void gemm_q8_0x16_far(const BlockQ8_0x8* w, const BlockQ8_0x8* w_far, int64_t n_blocks, const ActBlockQ8* x,
                      int64_t x_stride, int n_tokens, float* out, float* out_far, int64_t out_stride) {
  if (far_tokens<kAhead>(w, w_far, n_blocks, x, x_stride, n_tokens, out, out_far, out_stride)) return;
  for_token_tiles<kMaxFarPairTokens>(n_tokens, [&](auto nt, int t) {
    gemm_x16_tile<decltype(nt)::value, 2, true, BlockQ8_0x8>({w, w_far}, n_blocks, x + t * x_stride, x_stride,
                                                         {out + t * out_stride, out_far + t * out_stride},
                                                         out_stride);
  });
}


// The AVX2 table's Q2_K / Q3_K tile (kernels_avx2.cpp) over two groups in 512-bit
// registers: VPDPBUSD sums each sub-block's products in 32 bits, and multiplying those by
// the scales gives the very integers that the 16-bit sums times the scales (madd_epi16)
// give there; the float steps per row are the same, so a row's bits are too.
template <int NT, typename Block, int64_t kAhead = 0>
DSINFER_AVX512_VNNI void gemm_low_bit_kx16_tile(const Block* w, const Block* w1, int64_t n_blocks, const ActBlockQ8* x,
                                                int64_t x_stride, float* out, float* out1, int64_t out_stride) {
  constexpr bool kThreeBit = std::is_same_v<Block, BlockQ3_Kx8>;
  const __m512i two_bits = _mm512_set1_epi8(3);
  __m512 acc[NT];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    if constexpr (NT == 1) prefetch_two_groups<kAhead>(w + b, w1 + b);
    if constexpr (NT > 1) {
      prefetch_block(w + b + 1);
      prefetch_block(w1 + b + 1);
    }
    const __m512 d = scales_pair(w[b].d, w1[b].d);
    for (int block = 0; block < 8; ++block) {
      const int h = block / 4, j = block % 4;
      __m512i high_bits = _mm512_setzero_si512();
      if constexpr (kThreeBit) high_bits = load_pair(w[b].hmask[block], w1[b].hmask[block]);
      __m512i first[NT], second[NT];
      for (int t = 0; t < NT; ++t) first[t] = second[t] = _mm512_setzero_si512();
      for (int k = 0; k < 8; ++k) {
        const __m512i packed = load_pair(w[b].qs + 256 * h + 32 * k, w1[b].qs + 256 * h + 32 * k);
        __m512i codes = _mm512_and_si512(_mm512_srli_epi16(packed, 2 * j), two_bits);
        if constexpr (kThreeBit) codes = _mm512_or_si512(codes, third_bit16(high_bits, k));
        for (int t = 0; t < NT; ++t) {
          __m512i& sum = k < 4 ? first[t] : second[t];
          sum = _mm512_dpbusd_epi32(sum, codes, broadcast_group16(x[t * x_stride + 8 * b + block].qs + 4 * k));
        }
      }
      const __m512i lo = _mm512_cvtepu8_epi32(bytes_pair(w[b].scales[2 * block], w1[b].scales[2 * block]));
      const __m512i hi = _mm512_cvtepu8_epi32(bytes_pair(w[b].scales[2 * block + 1], w1[b].scales[2 * block + 1]));
      __m512i scale_lo, scale_hi, offsets;
      if constexpr (kThreeBit) {
        // Signed scales: the bytes' sign bits extended.
        scale_lo = _mm512_srai_epi32(_mm512_slli_epi32(lo, 24), 24);
        scale_hi = _mm512_srai_epi32(_mm512_slli_epi32(hi, 24), 24);
        offsets = sixteen_bit_pairs16(scale_lo, scale_hi);
      } else {
        scale_lo = _mm512_and_si512(lo, _mm512_set1_epi32(0x0F));
        scale_hi = _mm512_and_si512(hi, _mm512_set1_epi32(0x0F));
        offsets = sixteen_bit_pairs16(_mm512_srli_epi32(lo, 4), _mm512_srli_epi32(hi, 4));
      }
      for (int t = 0; t < NT; ++t) {
        const ActBlockQ8& xb = x[t * x_stride + 8 * b + block];
        const __m512i scaled = _mm512_add_epi32(_mm512_mullo_epi32(first[t], scale_lo), _mm512_mullo_epi32(second[t], scale_hi));
        const int half_sum = x86::first_half_sum(xb);
        const __m512i halves = _mm512_set1_epi32((half_sum & 0xFFFF) | (xb.sum - half_sum) << 16);
        const __m512i offset = _mm512_madd_epi16(offsets, halves);
        const __m512 step = _mm512_mul_ps(d, _mm512_set1_ps(xb.d));
        if constexpr (kThreeBit) {
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(scaled, _mm512_slli_epi32(offset, 2))), step,
                                   acc[t]);
        } else {
          const __m512 dmin = scales_pair(w[b].dmin, w1[b].dmin);
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(scaled), step, acc[t]);
          acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(offset), _mm512_mul_ps(dmin, _mm512_set1_ps(xb.d)), acc[t]);
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t) store_two_groups(acc[t], out + t * out_stride, out1 + t * out_stride);
}

// The AVX2 table's IQ4_NL sums over two groups (an IQ4_NLx8 block's bytes at qs0 and
// qs1): the grid biased by 128 makes the weights unsigned for VPDPBUSD, and 128 times the
// block's activation sum comes off exactly, so the integers are the AVX2 ones.
template <int NT>
DSINFER_AVX512_VNNI inline void iq4_nl_pair_sums(const uint8_t* qs0, const uint8_t* qs1, const ActBlockQ8* x,
                                                 int64_t x_stride, __m512i sums[NT]) {
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  const __m512i grid = _mm512_broadcast_i32x4(
      _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues)), _mm_set1_epi8(-128)));
  for (int t = 0; t < NT; ++t) sums[t] = _mm512_setzero_si512();
  for (int k = 0; k < 4; ++k) {
    const __m512i packed = load_pair(qs0 + 32 * k, qs1 + 32 * k);
    const __m512i lo = _mm512_shuffle_epi8(grid, _mm512_and_si512(packed, low_nibbles));
    const __m512i hi = _mm512_shuffle_epi8(grid, _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles));
    for (int t = 0; t < NT; ++t) {
      const int8_t* xq = x[t * x_stride].qs;
      sums[t] = _mm512_dpbusd_epi32(sums[t], lo, broadcast_group16(xq + 4 * k));
      sums[t] = _mm512_dpbusd_epi32(sums[t], hi, broadcast_group16(xq + 16 + 4 * k));
    }
  }
  for (int t = 0; t < NT; ++t) sums[t] = _mm512_sub_epi32(sums[t], _mm512_set1_epi32(128 * x[t * x_stride].sum));
}

template <int NT, int64_t kAhead = 0>
DSINFER_AVX512_VNNI void gemm_iq4_nlx16_tile(const BlockIQ4_NLx8* w, const BlockIQ4_NLx8* w1, int64_t n_blocks,
                                             const ActBlockQ8* x, int64_t x_stride, float* out, float* out1,
                                             int64_t out_stride) {
  __m512 acc[NT];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    if constexpr (NT == 1) prefetch_two_groups<kAhead>(w + b, w1 + b);
    __m512i sums[NT];
    iq4_nl_pair_sums<NT>(w[b].qs, w1[b].qs, x + b, x_stride, sums);
    const __m512 dw = scales_pair(w[b].d, w1[b].d);
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[t]), _mm512_mul_ps(dw, _mm512_set1_ps(x[t * x_stride + b].d)),
                               acc[t]);
  }
  for (int t = 0; t < NT; ++t) store_two_groups(acc[t], out + t * out_stride, out1 + t * out_stride);
}

// The AVX2 table's IQ4_XS tile over two groups.
template <int NT, int64_t kAhead = 0>
DSINFER_AVX512_VNNI void gemm_iq4_xsx16_tile(const BlockIQ4_XSx8* w, const BlockIQ4_XSx8* w1, int64_t n_blocks,
                                             const ActBlockQ8* x, int64_t x_stride, float* out, float* out1,
                                             int64_t out_stride) {
  __m512 acc[NT];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    if constexpr (NT == 1) prefetch_two_groups<kAhead>(w + b, w1 + b);
    if constexpr (NT > 1) {
      prefetch_block(w + b + 1);
      prefetch_block(w1 + b + 1);
    }
    const __m512 d = scales_pair(w[b].d, w1[b].d);
    for (int j = 0; j < 8; ++j) {
      __m512i sums[NT];
      iq4_nl_pair_sums<NT>(w[b].qs[j], w1[b].qs[j], x + 8 * b + j, x_stride, sums);
      const __m512i scale = _mm512_cvtepi8_epi32(bytes_pair(w[b].scales[j], w1[b].scales[j]));
      for (int t = 0; t < NT; ++t) {
        const __m512 step = _mm512_mul_ps(d, _mm512_set1_ps(x[t * x_stride + 8 * b + j].d));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(sums[t], scale)), step, acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) store_two_groups(acc[t], out + t * out_stride, out1 + t * out_stride);
}

// The sixteen-row tile of each packed format that has one over two arbitrary groups (run),
// and how many tokens a tile takes (kTokens).
template <typename Block>
struct X16Tile {
  static constexpr int kTokens = std::is_same_v<Block, BlockQ6_Kx8> ? 8 : 4;
  template <int NT, int64_t kAhead>
  DSINFER_AVX512_VNNI static void run(const Block* w0, const Block* w1, int64_t n_blocks, const ActBlockQ8* x,
                                      int64_t x_stride, float* out0, float* out1, int64_t out_stride) {
    if constexpr (std::is_same_v<Block, BlockQ2_Kx8> || std::is_same_v<Block, BlockQ3_Kx8>)
      gemm_low_bit_kx16_tile<NT, Block, kAhead>(w0, w1, n_blocks, x, x_stride, out0, out1, out_stride);
    else if constexpr (std::is_same_v<Block, BlockIQ4_NLx8>)
      gemm_iq4_nlx16_tile<NT, kAhead>(w0, w1, n_blocks, x, x_stride, out0, out1, out_stride);
    else if constexpr (std::is_same_v<Block, BlockIQ4_XSx8>)
      gemm_iq4_xsx16_tile<NT, kAhead>(w0, w1, n_blocks, x, x_stride, out0, out1, out_stride);
    else
      gemm_kx16_tile<NT, Block, kAhead>(w0, w1, n_blocks, x, x_stride, out0, out1, out_stride);
  }
};

// X16Tile<Block> over groups w0 and w1 for n_tokens tokens, in token tiles of up to kTokens.
template <int kTokens, int64_t kAhead, typename Block>
DSINFER_AVX512_VNNI void groups_x16(const Block* w0, const Block* w1, int64_t n_blocks, const ActBlockQ8* x,
                                    int64_t x_stride, int n_tokens, float* out0, float* out1, int64_t out_stride) {
  if constexpr (std::is_same_v<Block, BlockQ6_Kx8>) {
    q6_k_groups_x16<kTokens, kAhead>(w0, w1, n_blocks, x, x_stride, n_tokens, out0, out1, out_stride);
  } else {
    for_token_tiles<kTokens>(n_tokens, [&](auto nt, int t) {
      X16Tile<Block>::template run<decltype(nt)::value, kAhead>(w0, w1, n_blocks, x + t * x_stride, x_stride,
                                                                out0 + t * out_stride, out1 + t * out_stride,
                                                                out_stride);
    });
  }
}

// Kernels::gemm_q4_kx16 and the other formats' sixteen-row kernels of X16Tile: groups w
// and w + n_blocks.
template <typename Block>
void gemm_groups_x16(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                     float* out, int64_t out_stride) {
  groups_x16<X16Tile<Block>::kTokens, 0>(w, w + n_blocks, n_blocks, x, x_stride, n_tokens, out, out + 8, out_stride);
}

// Kernels::gemm_q4_kx16_far and the like: for one token, each pair's first groups side by
// side in the halves of the registers, then their second groups, each group its own stream
// kAhead bytes ahead, as the Q4_0 / Q8_0 far tiles read; for more tokens, each pair
// through the sixteen-row tile. Lane by lane the same operations either way, so the bits.
template <int64_t kAhead, typename Block>
void gemm_groups_x16_far(const Block* w, const Block* w_far, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                         int n_tokens, float* out, float* out_far, int64_t out_stride) {
  if (n_tokens == 1) {
    for (int64_t half = 0; half < 2; ++half)
      groups_x16<1, kAhead>(w + half * n_blocks, w_far + half * n_blocks, n_blocks, x, x_stride, 1, out + 8 * half,
                            out_far + 8 * half, out_stride);
    return;
  }
  gemm_groups_x16(w, n_blocks, x, x_stride, n_tokens, out, out_stride);
  gemm_groups_x16(w_far, n_blocks, x, x_stride, n_tokens, out_far, out_stride);
}

// The operations the FP4 tiles apply per token, on eight rows (256-bit registers) or
// sixteen (512-bit): the same steps lane by lane, so a row's bits do not depend on which
// tile handled it.
struct EightRows {
  using Ints = __m256i;
  using Floats = __m256;
  DSINFER_AVX512_VNNI static Ints zero() { return _mm256_setzero_si256(); }
  DSINFER_AVX512_VNNI static Ints dot(Ints sum, Ints codes, const int8_t* group) {
    return _mm256_dpbusd_epi32(sum, codes, broadcast_group(group));
  }
  DSINFER_AVX512_VNNI static Ints splat(int32_t a) { return _mm256_set1_epi32(a); }
  DSINFER_AVX512_VNNI static Floats to_floats(Ints a) { return _mm256_cvtepi32_ps(a); }
  DSINFER_AVX512_VNNI static Floats fmadd(Floats a, Floats b, Floats c) { return _mm256_fmadd_ps(a, b, c); }
  DSINFER_AVX512_VNNI static Floats mul(Floats a, float b) { return _mm256_mul_ps(a, _mm256_set1_ps(b)); }
  DSINFER_AVX512_VNNI static Floats set(float a) { return _mm256_set1_ps(a); }
};

struct SixteenRows {
  using Ints = __m512i;
  using Floats = __m512;
  DSINFER_AVX512_VNNI static Ints zero() { return _mm512_setzero_si512(); }
  DSINFER_AVX512_VNNI static Ints dot(Ints sum, Ints codes, const int8_t* group) {
    return _mm512_dpbusd_epi32(sum, codes, broadcast_group16(group));
  }
  DSINFER_AVX512_VNNI static Ints splat(int32_t a) { return _mm512_set1_epi32(a); }
  DSINFER_AVX512_VNNI static Floats to_floats(Ints a) { return _mm512_cvtepi32_ps(a); }
  DSINFER_AVX512_VNNI static Floats fmadd(Floats a, Floats b, Floats c) { return _mm512_fmadd_ps(a, b, c); }
  DSINFER_AVX512_VNNI static Floats mul(Floats a, float b) { return _mm512_mul_ps(a, _mm512_set1_ps(b)); }
  DSINFER_AVX512_VNNI static Floats set(float a) { return _mm512_set1_ps(a); }
};

// FP4 against three-digit activations (ActBlockQ8x3). Codes become their doubled values
// plus 12, unsigned bytes in [0, 24], by one byte lookup; VPDPBUSD multiplies them into
// each digit's sum, and the 12 is taken back by starting digits 1 and 2's sums at -12
// times the digit sums the activation block carries (digit 0's share goes with digit 1's,
// in sum01). Digits 0 and 1 combine exactly (at most 32 x 12 x (254 x 127 + 127) < 2^24
// after the correction): digit 0's sum times 254 plus the corrected digit 1 in one fused
// multiply-add, whose operands and exact result are all integers below 2^24, so the same
// value as the 32-bit integer sum without its two-uop multiply; digit 2 joins with one
// rounding, then the block adds its scale 2^(e-127) x d / (2 x 254) times that into the
// row's total.
// One chain per digit: integer sums are exact in any order, so these are the bits of two
// chains per digit added and corrected after, in five fewer instructions per block and
// token, where the far tile (two pairs, each block's chains independent of the last's)
// still keeps enough in flight: in L2 one core reads 4-6% faster (docs/benchmarks.md,
// DeepSeek-V4, session 27).
template <typename Rows>
DSINFER_AVX512_VNNI inline typename Rows::Floats add_fp4_block(const typename Rows::Ints lo[4],
                                                               const typename Rows::Ints hi[4],
                                                               typename Rows::Floats row_scales,
                                                               const ActBlockQ8x3& xb, typename Rows::Floats acc) {
  typename Rows::Ints sums[3] = {Rows::zero(), Rows::splat(-12 * xb.sum01), Rows::splat(-12 * xb.sum2)};
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j) {
      sums[j] = Rows::dot(sums[j], lo[k], xb.q[j] + 4 * k);
      sums[j] = Rows::dot(sums[j], hi[k], xb.q[j] + 16 + 4 * k);
    }
  const auto high = Rows::fmadd(Rows::to_floats(sums[0]), Rows::set(static_cast<float>(kQ8x3Base)),
                                 Rows::to_floats(sums[1]));
  const auto dot = Rows::fmadd(Rows::to_floats(sums[2]), Rows::set(1.0f / kQ8x3Base), high);
  return Rows::fmadd(dot, Rows::mul(row_scales, xb.d / (2.0f * kQ8x3Base)), acc);
}

DSINFER_AVX512_VNNI inline __m128i fp4_biased_values() {
  alignas(16) int8_t biased[16];
  for (int j = 0; j < 16; ++j) biased[j] = static_cast<int8_t>(kE2M1Doubled[j] + 12);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(biased));
}

template <int NT>
DSINFER_AVX512_VNNI void gemm_fp4x8_q8x3_tile(const BlockFp4x8* w, int64_t n_blocks, const ActBlockQ8x3* x,
                                              int64_t x_stride, float* out, int64_t out_stride) {
  const __m256i values = _mm256_broadcastsi128_si256(fp4_biased_values());
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256i lo[4], hi[4];
    for (int k = 0; k < 4; ++k) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * k));
      lo[k] = _mm256_shuffle_epi8(values, _mm256_and_si256(packed, low_nibbles));
      hi[k] = _mm256_shuffle_epi8(values, _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles));
    }
    const __m128i e = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w[b].e));
    const __m256 row_scales = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu8_epi32(e), 23));
    for (int t = 0; t < NT; ++t) acc[t] = add_fp4_block<EightRows>(lo, hi, row_scales, x[t * x_stride + b], acc[t]);
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// VPERMB (AVX512-VBMI) of `table` by the low six bits of each byte of `index`, as inline
// assembly like multishift: the kernels are compiled for AVX-512 VNNI alone, and the
// table offers the ones that use this only where the CPU has VBMI.
DSINFER_AVX512_VNNI inline __m512i permute_bytes(__m512i index, __m512i table) {
  __m512i out;
  asm("vpermb %2, %1, %0" : "=v"(out) : "v"(index), "v"(table));
  return out;
}

// A 512-bit load of FP4 codes as their biased values (fp4_biased_values in every 128-bit
// lane of `values`), low nibbles into lo and high ones into hi. VPSHUFB zeroes a byte whose
// index has bit 7 set, so each nibble is masked first; VPERMB reads six index bits, which
// a table repeating every sixteen bytes maps by the low four alone: two instructions fewer.
template <bool kVbmi>
DSINFER_AVX512_VNNI inline void fp4_values(__m512i packed, __m512i values, __m512i& lo, __m512i& hi) {
  if constexpr (kVbmi) {
    lo = permute_bytes(packed, values);
    hi = permute_bytes(_mm512_srli_epi16(packed, 4), values);
  } else {
    const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
    lo = _mm512_shuffle_epi8(values, _mm512_and_si512(packed, low_nibbles));
    hi = _mm512_shuffle_epi8(values, _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles));
  }
}

// Block b of two FP4 groups (w0, w1) in the halves of 512-bit registers against NT
// tokens' activation blocks (rows x_stride apart), onto acc[t] (add_fp4_block).
template <int NT, bool kVbmi>
[[gnu::always_inline]] DSINFER_AVX512_VNNI inline void add_fp4_block_x16(const BlockFp4x8& w0, const BlockFp4x8& w1,
                                                                       __m512i values, const ActBlockQ8x3* x,
                                                                       int64_t x_stride, __m512 acc[NT]) {
  __m512i lo[4], hi[4];
  for (int k = 0; k < 4; ++k) fp4_values<kVbmi>(load_pair(w0.qs + 32 * k, w1.qs + 32 * k), values, lo[k], hi[k]);
  const __m128i e = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w0.e)),
                                       _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w1.e)));
  const __m512 row_scales = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu8_epi32(e), 23));
  for (int t = 0; t < NT; ++t) acc[t] = add_fp4_block<SixteenRows>(lo, hi, row_scales, x[t * x_stride], acc[t]);
}

// gemm_fp4x8_q8x3_tile over two groups of eight rows (w, w + n_blocks) in the halves of
// 512-bit registers (add_fp4_block_x16), for kPairs such pairs side by side (as
// gemm_x16_tile). Where 512-bit
// multiply-adds issue at twice the 256-bit rate (Intel's server cores) this halves the
// instructions per weight byte.
template <int NT, int kPairs, bool kVbmi>
DSINFER_AVX512_VNNI void gemm_fp4x16_q8x3_tile(const BlockFp4x8* const (&w)[kPairs], int64_t n_blocks,
                                               const ActBlockQ8x3* x, int64_t x_stride, float* const (&out)[kPairs],
                                               int64_t out_stride) {
  const __m512i values = _mm512_broadcast_i32x4(fp4_biased_values());
  __m512 acc[kPairs][NT];
  for (auto& pair : acc)
    for (auto& a : pair) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    for (int p = 0; p < kPairs; ++p) prefetch_pair(w[p] + b, w[p] + n_blocks + b);
    for (int p = 0; p < kPairs; ++p)
      add_fp4_block_x16<NT, kVbmi>(w[p][b], w[p][n_blocks + b], values, x + b, x_stride, acc[p]);
  }
  for (int p = 0; p < kPairs; ++p)
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out[p] + t * out_stride, acc[p][t]);
}

// far_tokens_tile for one token, FP4 against three-digit activations: block b of two
// places in the halves of a 512-bit register (add_fp4_block_x16, kPlaces / 2 of them),
// each row adding its blocks in order, so the bits are the sixteen-row tile's. Each place
// is fetched kAhead bytes ahead (the table's kRowsAhead).
template <bool kVbmi, int64_t kAhead, int kPlaces = 2>
DSINFER_AVX512_VNNI void fp4_far_token_tile(const BlockFp4x8* const (&w)[kPlaces], int64_t n_blocks,
                                            const ActBlockQ8x3* x, float* const (&out)[kPlaces]) {
  static_assert(kPlaces % 2 == 0);
  constexpr int kPairs = kPlaces / 2;
  const __m512i values = _mm512_broadcast_i32x4(fp4_biased_values());
  __m512 acc[kPairs][1];
  for (auto& pair : acc) pair[0] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (b % 2 == 0)
      for (const BlockFp4x8* group : w) x86::prefetch_stream<2 * sizeof(BlockFp4x8), kAhead>(group + b);
    for (int q = 0; q < kPairs; ++q)
      add_fp4_block_x16<1, kVbmi>(w[2 * q][b], w[2 * q + 1][b], values, x + b, 0, acc[q]);
  }
  for (int q = 0; q < kPairs; ++q) {
    _mm256_storeu_ps(out[2 * q], _mm512_castps512_ps256(acc[q][0]));
    _mm256_storeu_ps(out[2 * q + 1], _mm512_extractf32x8_ps(acc[q][0], 1));
  }
}

// quantize_act_q8x3 eight values at a time, with the same double-precision division,
// rounding to nearest even and subtraction, each exact or correctly rounded as in the plain
// C++ version, so the digits are the same.
DSINFER_AVX512_VNNI void quantize_act_q8x3_avx512(const float* x, ActBlockQ8x3* out, int64_t n) {
  const __m512d base = _mm512_set1_pd(kQ8x3Base), low = _mm512_set1_pd(-127.0), high = _mm512_set1_pd(127.0);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    const __m512 magnitude = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(xb)), _mm512_abs_ps(_mm512_loadu_ps(xb + 16)));
    ActBlockQ8x3& o = out[b];
    o.d = _mm512_reduce_max_ps(magnitude) / 127.0f;
    __m512i sums[3] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int i = 0; i < 32; i += 8) {
      __m512d v = o.d > 0.0f ? _mm512_div_pd(_mm512_cvtps_pd(_mm256_loadu_ps(xb + i)), _mm512_set1_pd(o.d))
                             : _mm512_setzero_pd();
      for (int j = 0; j < 3; ++j) {
        const __m512d digit =
            _mm512_min_pd(_mm512_max_pd(_mm512_roundscale_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), low), high);
        const __m256i digits = _mm512_cvtpd_epi32(digit);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(o.q[j] + i), _mm256_cvtepi32_epi8(digits));
        sums[j] = _mm512_add_epi32(sums[j], _mm512_castsi256_si512(digits));
        v = _mm512_mul_pd(_mm512_sub_pd(v, digit), base);
      }
    }
    const int32_t s0 = _mm512_reduce_add_epi32(_mm512_zextsi256_si512(_mm512_castsi512_si256(sums[0])));
    const int32_t s1 = _mm512_reduce_add_epi32(_mm512_zextsi256_si512(_mm512_castsi512_si256(sums[1])));
    o.sum01 = kQ8x3Base * s0 + s1;
    o.sum2 = _mm512_reduce_add_epi32(_mm512_zextsi256_si512(_mm512_castsi512_si256(sums[2])));
  }
}

// E4M3 -> float32 in three integer steps, sixteen codes to a register, with no shuffle
// but the widening (the AVX2 table's F16C route needs four more per 32 codes, and the
// shuffle port was its limit). The sign-extended code shifted left by 20 holds
// exponent|mantissa at bits 20..26 and the sign at 27..31; keeping bit 31 and setting bit
// 30 gives 2^(e+1) x 1.mmm, the code's value times 2^8 for every code with e >= 1. Codes
// with e = 0 (zeros and subnormals, worth m x 2^-9) come out wrong, so a run of codes that
// holds one is converted exactly from m instead; real weights rarely have them.
DSINFER_AVX512_VNNI inline __m512 e4m3_times_256(const uint8_t* p, bool has_small_codes) {
  const __m512i code = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m512i bits = _mm512_ternarylogic_epi32(_mm512_slli_epi32(code, 20), _mm512_set1_epi32(int32_t(0x87F00000u)),
                                                 _mm512_set1_epi32(0x40000000), 0xEA);  // (a & b) | c
  if (!has_small_codes) return _mm512_castsi512_ps(bits);
  const __mmask16 small = _mm512_testn_epi32_mask(code, _mm512_set1_epi32(0x78));
  const __m512 half_m = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(code, _mm512_set1_epi32(7))), _mm512_set1_ps(0.5f));
  const __m512i signed_half_m = _mm512_or_si512(_mm512_castps_si512(half_m), _mm512_and_si512(code, _mm512_set1_epi32(int32_t(0x80000000u))));
  return _mm512_castsi512_ps(_mm512_mask_mov_epi32(bits, small, signed_half_m));
}

DSINFER_AVX512_VNNI inline bool any_small_e4m3(const uint8_t* p, int bytes) {
  const __m512i v = bytes == 64 ? _mm512_loadu_si512(p) : _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __mmask64 lanes = bytes == 64 ? ~__mmask64{0} : __mmask64{0xFFFF};
  return _mm512_mask_testn_epi8_mask(lanes, v, _mm512_set1_epi8(0x78)) != 0;
}

// FP8 codes as stored: the sign-extending widening places each code in its 32-bit lane,
// and a run with a small code is found by testing the codes themselves.
struct StoredE4M3 {
  const uint8_t* w;
  DSINFER_AVX512_VNNI bool has_small_codes(int64_t i, int count) const { return any_small_e4m3(w + i, count); }
  DSINFER_AVX512_VNNI __m512 times_256(int64_t i, bool has_small) const { return e4m3_times_256(w + i, has_small); }
  DSINFER_AVX512_VNNI void run_times_256(int64_t i, bool has_small, __m512 v[4]) const {
    for (int k = 0; k < 4; ++k) v[k] = times_256(i + 16 * k, has_small);
  }
  float value(int64_t i) const { return f8e4m3_to_f32(w[i]); }
};

// Per float32 lane of a recoded group's conversion, the 8-bit windows of its qword of the
// source for bytes 2 (ending at the code's mantissa and e0) and 3 (starting at its e3e2e1,
// ending at its sign); bytes 0 and 1 are masked off. `position(lane)` is the code's byte
// within that qword.
template <typename Position>
constexpr std::array<uint8_t, 64> recoded_windows(Position position) {
  std::array<uint8_t, 64> bytes{};
  for (int lane = 0; lane < 16; ++lane) {
    bytes[4 * lane + 2] = static_cast<uint8_t>((8 * position(lane) + 63) % 64);
    bytes[4 * lane + 3] = static_cast<uint8_t>(8 * position(lane));
  }
  return bytes;
}
// A 16-code group broadcast to the four 128-bit lanes (kRecodedOrder).
alignas(64) constexpr std::array<uint8_t, 64> kRecodedWindows = recoded_windows([](int lane) {
  int stored = 0;
  while (kRecodedOrder[stored] != lane) ++stored;
  return stored % 8;
});
// Codes 16k..16k+15 of a 64-code group loaded whole (recoded_64_position).
template <int k>
alignas(64) constexpr std::array<uint8_t, 64> kRecodedRunWindows =
    recoded_windows([](int lane) { return recoded_64_position(16 * k + lane) % 8; });

DSINFER_AVX512_VNNI inline __m512i multishift(__m512i windows, __m512i source) {
  __m512i placed;
  asm("vpmultishiftqb %2, %1, %0" : "=v"(placed) : "v"(windows), "v"(source));
  return placed;
}

// Recoded bits placed by the shuffle, as float32 times 256; codes with exponent 0 (where
// the run may hold some) converted exactly from m instead.
DSINFER_AVX512_VNNI inline __m512 placed_times_256(__m512i placed, bool has_small) {
  const __m512i bits =
      _mm512_ternarylogic_epi32(placed, _mm512_set1_epi32(int32_t(0x87F00000u)), _mm512_set1_epi32(0x40000000), 0xEA);
  if (!has_small) return _mm512_castsi512_ps(bits);
  const __mmask16 small = _mm512_testn_epi32_mask(bits, _mm512_set1_epi32(0x07800000));  // exponent 0
  const __m512 half_m =
      _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(bits, 20), _mm512_set1_epi32(7))),
                    _mm512_set1_ps(0.5f));
  const __m512i signed_half_m =
      _mm512_or_si512(_mm512_castps_si512(half_m), _mm512_and_si512(bits, _mm512_set1_epi32(int32_t(0x80000000u))));
  return _mm512_castsi512_ps(_mm512_mask_mov_epi32(bits, small, signed_half_m));
}

// FP8 codes recoded (kernels.h): one VPMULTISHIFTQB places byte 3 of each float32 lane at
// a recoded code's sign and high exponent bits and byte 2 at its low exponent bit and
// mantissa, so the stored path's widening and shift become one instruction (in cache on
// one core 13-18 GB/s against the stored path's 11-12.5, docs/benchmarks.md, V4 session
// 12); a 64-code run is one load for four of them instead of a broadcast load per 16
// codes (a few percent in L2, docs/benchmarks.md, V4 session 18). Small codes
// come from the row's run bits instead of loading and testing every 64 codes.
// VPMULTISHIFTQB is AVX512-VBMI, which the table checks before offering this kernel; it
// is written as inline assembly because the shared block loop below is compiled for
// AVX-512 VNNI alone.
template <bool kMayHaveSmallCodes>
struct RecodedE4M3 {
  const uint8_t* w;
  const uint64_t* small_runs;
  __m512i windows;         // kRecodedWindows
  __m512i run_windows[4];  // kRecodedRunWindows

  DSINFER_AVX512_VNNI RecodedE4M3(const uint8_t* codes, const uint64_t* runs)
      : w(codes),
        small_runs(runs),
        windows(_mm512_load_si512(kRecodedWindows.data())),
        run_windows{_mm512_load_si512(kRecodedRunWindows<0>.data()), _mm512_load_si512(kRecodedRunWindows<1>.data()),
                    _mm512_load_si512(kRecodedRunWindows<2>.data()), _mm512_load_si512(kRecodedRunWindows<3>.data())} {}

  DSINFER_AVX512_VNNI bool has_small_codes(int64_t i, int) const {
    if (!kMayHaveSmallCodes) return false;
    const auto run = static_cast<uint64_t>(i) >> 6;
    return (small_runs[run >> 6] >> (run & 63)) & 1;
  }
  DSINFER_AVX512_VNNI __m512 times_256(int64_t i, bool has_small) const {
    const __m512i group = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
    return placed_times_256(multishift(windows, group), has_small);
  }
  DSINFER_AVX512_VNNI void run_times_256(int64_t i, bool has_small, __m512 v[4]) const {
    const __m512i run = _mm512_loadu_si512(w + i);
    for (int k = 0; k < 4; ++k) v[k] = placed_times_256(multishift(run_windows[k], run), has_small);
  }
  float value(int64_t i) const { return f8e4m3_to_f32(f8e4m3_from_recoded(w[i])); }
};

template <int NT, typename Codes>
DSINFER_AVX512_VNNI inline void add_e4m3_group(const Codes& codes, const float* x, int64_t x_stride, int64_t i,
                                               bool has_small_codes, __m512 acc[NT]) {
  const __m512 v = codes.times_256(i, has_small_codes);
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + t * x_stride + i), acc[t]);
}

// add_e4m3_group over the four groups of a 64-code run, in order.
template <int NT, typename Codes>
DSINFER_AVX512_VNNI inline void add_e4m3_run(const Codes& codes, const float* x, int64_t x_stride, int64_t i,
                                             bool has_small_codes, __m512 acc[NT]) {
  __m512 v[4];
  codes.run_times_256(i, has_small_codes, v);
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k)
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm512_fmadd_ps(v[k], _mm512_loadu_ps(x + t * x_stride + i + 16 * k), acc[t]);
}

// dot_rows_f8e4m3 of the AVX2 table with the same bits: there a block's values go into two
// eight-lane sums (values 0-7 and 8-15 of every 16), which are exactly the low and high
// halves of one sixteen-lane sum fed sixteen consecutive values at a time. One block is
// one dependency chain, so NB blocks are summed side by side (NB chains for a lone token),
// then joined into the row's total one after the other, in the AVX2 order.
template <int NT, int NB, typename Codes>
DSINFER_AVX512_VNNI inline void add_f8e4m3_blocks(const Codes& codes, const float* x, int64_t x_stride, int64_t c0,
                                                  int64_t block, int64_t end, const float* scales, int64_t first_block,
                                                  __m256 total[NT], float tail[NT]) {
  const int64_t length = std::min(block, end - c0 - (NB - 1) * block);  // the last block's; the others are whole
  const int64_t groups = length / 16;
  // Every loop over blocks and tokens unrolled: a loop left rolled indexes acc at run
  // time and keeps it in memory (the kernel ran at two thirds of its speed).
  __m512 acc[NB][NT];
#pragma GCC unroll 16
  for (auto& a : acc)
#pragma GCC unroll 4
    for (auto& t : a) t = _mm512_setzero_ps();
  int64_t g = 0;
  for (; g + 4 <= groups; g += 4)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) {
      const int64_t i = c0 + b * block + 16 * g;
      _mm_prefetch(reinterpret_cast<const char*>(codes.w + i) + kPrefetchBytes, _MM_HINT_T0);
      // One branch per 64 codes, so that the common run converts without a test per group.
      if (__builtin_expect(codes.has_small_codes(i, 64), 0))
        add_e4m3_run<NT>(codes, x, x_stride, i, true, acc[b]);
      else
        add_e4m3_run<NT>(codes, x, x_stride, i, false, acc[b]);
    }
  for (; g < groups; ++g)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) {
      const int64_t i = c0 + b * block + 16 * g;
      add_e4m3_group<NT>(codes, x, x_stride, i, codes.has_small_codes(i, 16), acc[b]);
    }
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b) {
    const int64_t start = c0 + b * block;
    const float scale = scales ? scales[first_block + b] : 1.0f;
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const __m256 sum = _mm256_add_ps(_mm512_castps512_ps256(acc[b][t]), _mm512_extractf32x8_ps(acc[b][t], 1));
      total[t] = _mm256_fmadd_ps(sum, _mm256_set1_ps(scale), total[t]);
      float rest = 0.0f;
      for (int64_t j = start + 16 * groups; j < std::min(end, start + block); ++j)
        rest += codes.value(j) * x[t * x_stride + j];
      tail[t] += scale * rest;
    }
  }
}

template <int NT, typename Codes>
DSINFER_AVX512_VNNI void dot_rows_f8e4m3(const Codes& codes, const float* x, int64_t x_stride, int64_t n,
                                         const float* scales, int64_t block, float out[NT]) {
  constexpr int kBlocksInFlight = NT == 1 ? 4 : 1;
  if (!scales) block = n;
  __m256 total[NT];
  float tail[NT];
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    total[t] = _mm256_setzero_ps();
    tail[t] = 0.0f;
  }
  // Block indices counted, not divided out of c0: an integer division per 128-value block
  // has the latency of streaming a good part of the block.
  int64_t c0 = 0, first_block = 0;
  for (; c0 + kBlocksInFlight * block <= n; c0 += kBlocksInFlight * block, first_block += kBlocksInFlight)
    add_f8e4m3_blocks<NT, kBlocksInFlight>(codes, x, x_stride, c0, block, n, scales, first_block, total, tail);
  for (; c0 < n; c0 += block, ++first_block)
    add_f8e4m3_blocks<NT, 1>(codes, x, x_stride, c0, block, n, scales, first_block, total, tail);
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) out[t] = hsum(total[t]) * (1.0f / 256.0f) + tail[t];
}

// add_f8e4m3_blocks<1, NB> for two recoded rows whose blocks are whole 64-code runs, the
// two rows' runs taken in turn: each row's accumulators get the same operations in the
// same order (so the same bits), but one loop carries eight dependency chains instead of
// two loops four each, and both rows use the first row's windows (the same for every
// row). x is read once per row: the compiler folds the load into each multiply-add, and
// holding it in a register for both gained nothing end to end (docs/benchmarks.md). On an Ice Lake Xeon VM this took bench-v4 decode from 66-71% of the bound
// to 75-81% (docs/benchmarks.md, DeepSeek-V4, session 26).
template <int NB, int64_t kAhead, bool kSmallA, bool kSmallB>
DSINFER_AVX512_VNNI inline void add_two_rows_f8e4m3_blocks(const RecodedE4M3<kSmallA>& a, const RecodedE4M3<kSmallB>& b,
                                                           const float* x, int64_t c0, int64_t block,
                                                           const float* scales_a, const float* scales_b,
                                                           int64_t first_block, __m256& total_a, __m256& total_b) {
  __m512 acc_a[NB], acc_b[NB];
#pragma GCC unroll 8
  for (int k = 0; k < NB; ++k) acc_a[k] = acc_b[k] = _mm512_setzero_ps();
  for (int64_t r = 0; r < block; r += 64)
#pragma GCC unroll 8
    for (int k = 0; k < NB; ++k) {
      const int64_t i = c0 + k * block + r;
      _mm_prefetch(reinterpret_cast<const char*>(a.w + i) + kAhead, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b.w + i) + kAhead, _MM_HINT_T0);
      const __m512i run_a = _mm512_loadu_si512(a.w + i), run_b = _mm512_loadu_si512(b.w + i);
      const bool small_a = a.has_small_codes(i, 64), small_b = b.has_small_codes(i, 64);
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        const __m512 xq = _mm512_loadu_ps(x + i + 16 * q);
        acc_a[k] = _mm512_fmadd_ps(placed_times_256(multishift(a.run_windows[q], run_a), small_a), xq, acc_a[k]);
        acc_b[k] = _mm512_fmadd_ps(placed_times_256(multishift(a.run_windows[q], run_b), small_b), xq, acc_b[k]);
      }
    }
#pragma GCC unroll 8
  for (int k = 0; k < NB; ++k) {
    const __m256 sum_a = _mm256_add_ps(_mm512_castps512_ps256(acc_a[k]), _mm512_extractf32x8_ps(acc_a[k], 1));
    const __m256 sum_b = _mm256_add_ps(_mm512_castps512_ps256(acc_b[k]), _mm512_extractf32x8_ps(acc_b[k], 1));
    total_a = _mm256_fmadd_ps(sum_a, _mm256_set1_ps(scales_a[first_block + k]), total_a);
    total_b = _mm256_fmadd_ps(sum_b, _mm256_set1_ps(scales_b ? scales_b[first_block + k] : 1.0f), total_b);
  }
}

// dot_rows_f8e4m3 for one token over two rows at once, a run of blocks of one and then the
// same run of the other: each row's calls, and so its bits, those of a row alone, while
// memory serves two places side by side (rows far apart read faster that way, as the
// far-pair tiles do). Blocks scaled in whole 64-code runs go four at a time through one
// loop for both rows (add_two_rows_f8e4m3_blocks, fetching kAhead bytes ahead), the rest
// a row at a time.
template <int64_t kAhead, typename CodesA, typename CodesB>
DSINFER_AVX512_VNNI void dot_two_rows_f8e4m3(const CodesA& a, const CodesB& b, const float* x, int64_t n,
                                             const float* scales_a, const float* scales_b, int64_t block,
                                             float out[2]) {
  constexpr int kBlocksInFlight = 4;  // as dot_rows_f8e4m3 for one token
  if (!scales_a) block = n;
  __m256 total_a[1] = {_mm256_setzero_ps()}, total_b[1] = {_mm256_setzero_ps()};
  float tail_a[1] = {0.0f}, tail_b[1] = {0.0f};
  int64_t c0 = 0, first_block = 0;
  if (scales_a && block % 64 == 0)
    for (; c0 + kBlocksInFlight * block <= n; c0 += kBlocksInFlight * block, first_block += kBlocksInFlight)
      add_two_rows_f8e4m3_blocks<kBlocksInFlight, kAhead>(a, b, x, c0, block, scales_a, scales_b, first_block, total_a[0],
                                                  total_b[0]);
  for (; c0 + kBlocksInFlight * block <= n; c0 += kBlocksInFlight * block, first_block += kBlocksInFlight) {
    add_f8e4m3_blocks<1, kBlocksInFlight>(a, x, 0, c0, block, n, scales_a, first_block, total_a, tail_a);
    add_f8e4m3_blocks<1, kBlocksInFlight>(b, x, 0, c0, block, n, scales_b, first_block, total_b, tail_b);
  }
  for (; c0 < n; c0 += block, ++first_block) {
    add_f8e4m3_blocks<1, 1>(a, x, 0, c0, block, n, scales_a, first_block, total_a, tail_a);
    add_f8e4m3_blocks<1, 1>(b, x, 0, c0, block, n, scales_b, first_block, total_b, tail_b);
  }
  out[0] = hsum(total_a[0]) * (1.0f / 256.0f) + tail_a[0];
  out[1] = hsum(total_b[0]) * (1.0f / 256.0f) + tail_b[0];
}

DSINFER_AVX512_VNNI float dot_f8e4m3(const uint8_t* w, const float* x, int64_t n, const float* scales, int64_t block) {
  float out[1];
  dot_rows_f8e4m3<1>(StoredE4M3{w}, x, 0, n, scales, block, out);
  return out[0];
}

DSINFER_AVX512_VNNI void dot4_f8e4m3(const uint8_t* w, const float* x, int64_t x_stride, int64_t n,
                                     const float* scales, int64_t block, float out[4]) {
  dot_rows_f8e4m3<4>(StoredE4M3{w}, x, x_stride, n, scales, block, out);
}

// Zeros and subnormals are rare in trained FP8 weights, so most rows hold none: those
// take a loop without the run test and its branch per 64 codes.
template <int NT>
DSINFER_AVX512_VNNI void dot_rows_recoded(const uint8_t* w, const uint64_t* small_runs, const float* x,
                                          int64_t x_stride, int64_t n, const float* scales, int64_t block,
                                          float out[NT]) {
  uint64_t any_small = 0;
  for (int64_t i = 0; i < f8e4m3_run_words(n); ++i) any_small |= small_runs[i];
  if (any_small)
    dot_rows_f8e4m3<NT>(RecodedE4M3<true>(w, small_runs), x, x_stride, n, scales, block, out);
  else
    dot_rows_f8e4m3<NT>(RecodedE4M3<false>(w, small_runs), x, x_stride, n, scales, block, out);
}

template <int64_t kAhead, bool kSmallA, bool kSmallB>
DSINFER_AVX512_VNNI void dot_two_recoded(const uint8_t* const w[2], const uint64_t* const small_runs[2],
                                         const float* x, int64_t n, const float* const scales[2], int64_t block,
                                         float out[2]) {
  dot_two_rows_f8e4m3<kAhead>(RecodedE4M3<kSmallA>(w[0], small_runs[0]), RecodedE4M3<kSmallB>(w[1], small_runs[1]), x, n,
                      scales[0], scales[1], block, out);
}

template <int64_t kAhead>
DSINFER_AVX512_VNNI void dot2_f8e4m3_recoded(const uint8_t* const w[2], const uint64_t* const small_runs[2],
                                             const float* x, int64_t n, const float* const scales[2], int64_t block,
                                             float out[2]) {
  bool small[2] = {false, false};
  for (int r = 0; r < 2; ++r)
    for (int64_t i = 0; i < f8e4m3_run_words(n); ++i) small[r] = small[r] || small_runs[r][i] != 0;
  if (small[0] && small[1]) return dot_two_recoded<kAhead, true, true>(w, small_runs, x, n, scales, block, out);
  if (small[0]) return dot_two_recoded<kAhead, true, false>(w, small_runs, x, n, scales, block, out);
  if (small[1]) return dot_two_recoded<kAhead, false, true>(w, small_runs, x, n, scales, block, out);
  dot_two_recoded<kAhead, false, false>(w, small_runs, x, n, scales, block, out);
}

DSINFER_AVX512_VNNI float dot_f8e4m3_recoded(const uint8_t* w, const uint64_t* small_runs, const float* x, int64_t n,
                                             const float* scales, int64_t block) {
  float out[1];
  dot_rows_recoded<1>(w, small_runs, x, 0, n, scales, block, out);
  return out[0];
}

DSINFER_AVX512_VNNI void dot4_f8e4m3_recoded(const uint8_t* w, const uint64_t* small_runs, const float* x,
                                             int64_t x_stride, int64_t n, const float* scales, int64_t block,
                                             float out[4]) {
  dot_rows_recoded<4>(w, small_runs, x, x_stride, n, scales, block, out);
}

// A block's 32 codes as two registers of sixteen floats (values 0-15, 16-31). Q4_0's
// nibbles index a register of the sixteen values -8..7 (VPERMPS reads an index's low
// four bits only), one instruction each instead of a mask, a subtraction and a
// conversion.
DSINFER_AVX512_VNNI inline void block_values(const BlockQ4_0& b, __m512 v[2]) {
  const __m512 offset_codes = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
  v[0] = _mm512_permutexvar_ps(bytes, offset_codes);
  v[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), offset_codes);
}

DSINFER_AVX512_VNNI inline void block_values(const BlockQ8_0& b, __m512 v[2]) {
  for (int j = 0; j < 2; ++j)
    v[j] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16 * j))));
}

// The AVX2 table's weighted_rows in sixteen lanes for NT weightings of the same rows: per
// column and row the same fused multiply-add with the same rounded scale, rows in order,
// so each weighting gets the AVX2 bits of its own call; a block's codes are widened once
// for all NT. Eight blocks (256 columns) per pass for one weighting, fewer as NT grows, so
// that the NT x 2 x blocks sums stay in sixteen registers.
template <int NT, typename Block>
DSINFER_AVX512_VNNI void weighted_rows_tile(float* const* out, const float* const* p, const Block* rows,
                                            int64_t row_stride, int64_t n_rows, int64_t n_blocks) {
  constexpr int64_t kPass = NT == 1 ? 8 : NT == 2 ? 4 : 2;
  for (int64_t b0 = 0; b0 < n_blocks; b0 += kPass) {
    const int64_t nb = std::min<int64_t>(kPass, n_blocks - b0);
    __m512 acc[NT][2 * kPass];
    for (auto& token : acc)
      for (auto& a : token) a = _mm512_setzero_ps();
    for (int64_t i = 0; i < n_rows; ++i) {
      const Block* row = rows + i * row_stride;
      if (b0 == 0) {
        const char* ahead = reinterpret_cast<const char*>(row) + kPrefetchBytes;
        for (size_t line = 0; line < n_blocks * sizeof(Block); line += 64) _mm_prefetch(ahead + line, _MM_HINT_T0);
      }
      // Unrolled with constant indices, so the sums stay in registers.
#pragma GCC unroll 8
      for (int64_t b = 0; b < kPass; ++b) {
        if (b >= nb) break;
        __m512 v[2];
        block_values(row[b0 + b], v);
        const float d = _cvtsh_ss(row[b0 + b].d);
#pragma GCC unroll 4
        for (int t = 0; t < NT; ++t) {
          const __m512 scale = _mm512_set1_ps(p[t][i] * d);
          acc[t][2 * b] = _mm512_fmadd_ps(v[0], scale, acc[t][2 * b]);
          acc[t][2 * b + 1] = _mm512_fmadd_ps(v[1], scale, acc[t][2 * b + 1]);
        }
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t)
#pragma GCC unroll 16
      for (int64_t j = 0; j < 2 * kPass; ++j)
        if (j < 2 * nb) _mm512_storeu_ps(out[t] + 32 * b0 + 16 * j, acc[t][j]);
  }
}

DSINFER_AVX512_VNNI void weighted_rows_q4_0(float* out, const float* p, const BlockQ4_0* rows, int64_t row_stride,
                                            int64_t n_rows, int64_t n_blocks) {
  weighted_rows_tile<1>(&out, &p, rows, row_stride, n_rows, n_blocks);
}

DSINFER_AVX512_VNNI void weighted_rows_q8_0(float* out, const float* p, const BlockQ8_0* rows, int64_t row_stride,
                                            int64_t n_rows, int64_t n_blocks) {
  weighted_rows_tile<1>(&out, &p, rows, row_stride, n_rows, n_blocks);
}

template <typename Block>
DSINFER_AVX512_VNNI void weighted_rows_tokens(float* const* out, const float* const* p, int n_tokens,
                                              const Block* rows, int64_t row_stride, int64_t n_rows, int64_t n_blocks) {
  for_token_tiles<kMaxWeightedRowsTokens>(n_tokens, [&](auto nt, int first) {
    weighted_rows_tile<decltype(nt)::value>(out + first, p + first, rows, row_stride, n_rows, n_blocks);
  });
}

DSINFER_AVX512_VNNI void weighted_rows_tokens_q4_0(float* const* out, const float* const* p, int n_tokens,
                                                   const BlockQ4_0* rows, int64_t row_stride, int64_t n_rows,
                                                   int64_t n_blocks) {
  weighted_rows_tokens(out, p, n_tokens, rows, row_stride, n_rows, n_blocks);
}

DSINFER_AVX512_VNNI void weighted_rows_tokens_q8_0(float* const* out, const float* const* p, int n_tokens,
                                                   const BlockQ8_0* rows, int64_t row_stride, int64_t n_rows,
                                                   int64_t n_blocks) {
  weighted_rows_tokens(out, p, n_tokens, rows, row_stride, n_rows, n_blocks);
}

void gemm_fp4x8_q8x3(const BlockFp4x8* w, int64_t n_blocks, const ActBlockQ8x3* x, int64_t x_stride, int n_tokens,
                     float* out, int64_t out_stride) {
  for_token_tiles<2>(n_tokens, [&](auto nt, int t) {
    gemm_fp4x8_q8x3_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride,
                                              out_stride);
  });
}

template <bool kVbmi>
void gemm_fp4x16_q8x3(const BlockFp4x8* w, int64_t n_blocks, const ActBlockQ8x3* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride) {
  for_token_tiles<2>(n_tokens, [&](auto nt, int t) {
    gemm_fp4x16_q8x3_tile<decltype(nt)::value, 1, kVbmi>({w}, n_blocks, x + t * x_stride, x_stride,
                                                         {out + t * out_stride}, out_stride);
  });
}

template <bool kVbmi, int64_t kAhead>
void gemm_fp4x16_q8x3_far(const BlockFp4x8* w, const BlockFp4x8* w_far, int64_t n_blocks, const ActBlockQ8x3* x,
                          int64_t x_stride, int n_tokens, float* out, float* out_far, int64_t out_stride) {
  if (n_tokens == 1 && n_blocks % 2 == 0) {
    for (int64_t half = 0; half < 2; ++half)
      fp4_far_token_tile<kVbmi, kAhead>({w + half * n_blocks, w_far + half * n_blocks}, n_blocks, x,
                                {out + 8 * half, out_far + 8 * half});
    return;
  }
  for_token_tiles<2>(n_tokens, [&](auto nt, int t) {
    gemm_fp4x16_q8x3_tile<decltype(nt)::value, 2, kVbmi>({w, w_far}, n_blocks, x + t * x_stride, x_stride,
                                                         {out + t * out_stride, out_far + t * out_stride}, out_stride);
  });
}

// One token against four FP4 pairs far apart (as far_pairs_of_four), for an even number
// of blocks.
template <bool kVbmi, int64_t kAhead>
void gemm_fp4x16_q8x3_far4(const BlockFp4x8* const w[4], int64_t n_blocks, const ActBlockQ8x3* x,
                           float* const out[4]) {
  for (int64_t half = 0; half < 2; ++half) {
    const int64_t at = half * n_blocks;
    fp4_far_token_tile<kVbmi, kAhead, 4>({w[0] + at, w[1] + at, w[2] + at, w[3] + at}, n_blocks, x,
                                 {out[0] + 8 * half, out[1] + 8 * half, out[2] + 8 * half, out[3] + 8 * half});
  }
}

// The attention tiles (Kernels::key_block_scores, value_row_sums) in sixteen lanes: each
// lane is the AVX2 tiles' fused multiply-add chain in index order from zero, so the same
// bits, with twice the keys or columns per instruction. What does not fill sixteen lanes
// goes to the AVX2 table's tiles.

// Scores of NQ queries against 16 * NP keys: NP pairs of consecutive eight-key blocks, a
// pair to a register (the first block in the low half), so sixteen consecutive keys.
template <int NQ, int NP>
DSINFER_AVX512_VNNI inline void score_block_pairs(const float* const* q, const float* keys_t, int64_t d, float scale,
                                                  float* scores, int64_t stride) {
  __m512 acc[NQ][NP];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  for (int64_t c = 0; c < d; ++c) {
    __m512 keys[NP];
    for (int p = 0; p < NP; ++p)
      keys[p] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(keys_t + (2 * p * d + c) * 8)),
                                   _mm256_loadu_ps(keys_t + ((2 * p + 1) * d + c) * 8), 1);
    for (int j = 0; j < NQ; ++j) {
      const __m512 qj = _mm512_set1_ps(q[j][c]);
      for (int p = 0; p < NP; ++p) acc[j][p] = _mm512_fmadd_ps(qj, keys[p], acc[j][p]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
  for (int j = 0; j < NQ; ++j)
    for (int p = 0; p < NP; ++p) _mm512_storeu_ps(scores + j * stride + 16 * p, _mm512_mul_ps(acc[j][p], s));
}

template <int NQ>
DSINFER_AVX512_VNNI void key_scores(const float* const* q, const float* keys_t, int64_t d, int64_t n_blocks,
                                    float scale, float* scores, int64_t stride) {
  int64_t b = 0;
  for (; b + 4 <= n_blocks; b += 4) score_block_pairs<NQ, 2>(q, keys_t + b * d * 8, d, scale, scores + 8 * b, stride);
  for (; b + 2 <= n_blocks; b += 2) score_block_pairs<NQ, 1>(q, keys_t + b * d * 8, d, scale, scores + 8 * b, stride);
  if (b < n_blocks)
    avx2_kernels().key_block_scores(q, NQ, keys_t + b * d * 8, d, n_blocks - b, scale, scores + 8 * b, stride);
}

// Columns [0, 16 * NV) of NQ outputs.
template <int NQ, int NV>
DSINFER_AVX512_VNNI inline void sum_columns(const float* p, int64_t p_stride, const float* v, int64_t v_stride,
                                            int64_t n_keys, float* out, int64_t out_stride) {
  __m512 acc[NQ][NV];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  for (int64_t i = 0; i < n_keys; ++i) {
    __m512 values[NV];
    for (int u = 0; u < NV; ++u) values[u] = _mm512_loadu_ps(v + i * v_stride + 16 * u);
    for (int j = 0; j < NQ; ++j) {
      const __m512 pj = _mm512_set1_ps(p[j * p_stride + i]);
      for (int u = 0; u < NV; ++u) acc[j][u] = _mm512_fmadd_ps(pj, values[u], acc[j][u]);
    }
  }
  for (int j = 0; j < NQ; ++j)
    for (int u = 0; u < NV; ++u) _mm512_storeu_ps(out + j * out_stride + 16 * u, acc[j][u]);
}

template <int NQ>
DSINFER_AVX512_VNNI void value_sums(const float* p, int64_t p_stride, const float* v, int64_t v_stride,
                                    int64_t n_keys, int64_t d, float* out, int64_t out_stride) {
  int64_t c = 0;
  for (; c + 32 <= d; c += 32) sum_columns<NQ, 2>(p, p_stride, v + c, v_stride, n_keys, out + c, out_stride);
  for (; c + 16 <= d; c += 16) sum_columns<NQ, 1>(p, p_stride, v + c, v_stride, n_keys, out + c, out_stride);
  if (c < d) avx2_kernels().value_row_sums(p, p_stride, NQ, v + c, v_stride, n_keys, d - c, out + c, out_stride);
}

DSINFER_AVX512_VNNI void key_block_scores(const float* const* q, int nq, const float* keys_t, int64_t d,
                                          int64_t n_blocks, float scale, float* scores, int64_t stride) {
  x86::for_token_tiles<kMaxScoreQueries>(nq, [&](auto nt, int first) {
    key_scores<decltype(nt)::value>(q + first, keys_t, d, n_blocks, scale, scores + first * stride, stride);
  });
}

DSINFER_AVX512_VNNI void value_row_sums(const float* p, int64_t p_stride, int nq, const float* v, int64_t v_stride,
                                        int64_t n_keys, int64_t d, float* out, int64_t out_stride) {
  x86::for_token_tiles<4>(nq, [&](auto nt, int first) {
    value_sums<decltype(nt)::value>(p + first * p_stride, p_stride, v, v_stride, n_keys, d, out + first * out_stride,
                                    out_stride);
  });
}

// dot2_bf16 of the AVX2 table with its bits, 64 bytes of each row per step.
// There each row has four eight-lane sums, sum j fed values 8j..8j+7 of every 32; a
// 128-bit lane L of 32 BF16 values holds values 8L..8L+7, so unpacking each lane's low
// and high four words against zeros widens values 8L..8L+3 and 8L+4..8L+7 in place: the
// low and high halves of sum L, kept as lane L of two sixteen-lane sums. x's values go
// the same way with one lane shuffle each, shared by the two rows. The AVX2 steps after
// the loop (eight values at a time, the sums added, the rest one by one) then run on the
// four sums rebuilt. Widening in lanes, where AVX2 converts eight words across a register
// and shifts them, takes half the instructions: in L2 two threads read 93-100 GB/s
// against 66-70, bench-v4 token times about 1% lower (docs/benchmarks.md, DeepSeek-V4,
// session 21).
template <int L>
DSINFER_AVX512_VNNI inline __m256 lane_sum(__m512 low, __m512 high) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm512_extractf32x4_ps(low, L)), _mm512_extractf32x4_ps(high, L), 1);
}

// R rows side by side against one x, each fetched kAhead bytes ahead.
template <int R, int64_t kAhead>
DSINFER_AVX512_VNNI void dot_rows_bf16(const uint16_t* const w[R], const float* x, int64_t n, float out[R]) {
  const __m512i zero = _mm512_setzero_si512();
  __m512 low[R], high[R];
  for (int r = 0; r < R; ++r) low[r] = high[r] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
    const __m512 x_low = _mm512_shuffle_f32x4(x0, x1, 0x88), x_high = _mm512_shuffle_f32x4(x0, x1, 0xDD);
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w[r] + i) + kAhead, _MM_HINT_T0);
      const __m512i words = load_streamed_line(w[r] + i);
      low[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, words)), x_low, low[r]);
      high[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, words)), x_high, high[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    __m256 acc[4] = {lane_sum<0>(low[r], high[r]), lane_sum<1>(low[r], high[r]), lane_sum<2>(low[r], high[r]),
                     lane_sum<3>(low[r], high[r])};
    out[r] = finish_bf16_dot(acc, w[r], x, i, n);
  }
}

template <int64_t kAhead>
DSINFER_AVX512_VNNI void dot2_bf16(const uint16_t* const w[2], const float* x, int64_t n, float out[2]) {
  dot_rows_bf16<2, kAhead>(w, x, n, out);
}

template <int64_t kAhead>
DSINFER_AVX512_VNNI void dot_four_rows_bf16(const uint16_t* const w[4], const float* x, int64_t n, float out[4]) {
  dot_rows_bf16<4, kAhead>(w, x, n, out);
}

// Kernels::dot_grid_rows, two 32-value blocks per step: the activations made unsigned
// (x + 128, VPDPBUSD's unsigned side) against the signed codes, each lane starting from
// -128 times its four codes so that it ends at the codes' dot with x. Lanes 0-7 of a step
// are the AVX2 kernel's even block and 8-15 its odd one: the same bits.
DSINFER_AVX512_VNNI void dot_grid_rows(const GridCodes codes[8], const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                                       float* acc) {
  const __m512i high_bit = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i quarter = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  __m512i bias[8][4];
  __m512 lane_steps[8][4];
  for (int r = 0; r < 8; ++r) {
    const __m512 steps = _mm512_loadu_ps(codes[r].steps);
    for (int i = 0; i < 4; ++i) {
      const __m512i c = _mm512_loadu_si512(codes[r].codes + 64 * i);
      bias[r][i] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), high_bit, c));
      lane_steps[r][i] = _mm512_permutexvar_ps(_mm512_add_epi32(quarter, _mm512_set1_epi32(4 * i)), steps);
    }
  }
  for (int t = 0; t < n_tokens; ++t) {
    const ActBlockQ8* xt = x + t * x_stride;
    __m512 sums[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512i q = _mm512_xor_si512(
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt[2 * i].qs))),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt[2 * i + 1].qs)), 1),
          high_bit);
      const __m512 scales = _mm512_castpd_ps(_mm512_insertf64x4(
          _mm512_castps_pd(_mm512_set1_ps(xt[2 * i].d)), _mm256_castps_pd(_mm256_set1_ps(xt[2 * i + 1].d)), 1));
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) {
        const __m512i dots = _mm512_dpbusd_epi32(bias[r][i], q, _mm512_loadu_si512(codes[r].codes + 64 * i));
        const __m512 products = _mm512_cvtepi32_ps(dots), factors = _mm512_mul_ps(lane_steps[r][i], scales);
        sums[r] = i == 0 ? _mm512_mul_ps(products, factors) : _mm512_fmadd_ps(products, factors, sums[r]);
      }
    }
    float* a = acc + 128 * t;
    for (int r = 0; r < 8; ++r) _mm512_storeu_ps(a + 16 * r, _mm512_add_ps(_mm512_loadu_ps(a + 16 * r), sums[r]));
  }
}

// Four consecutive digits in every 32-bit lane.
DSINFER_AVX512_VNNI inline __m512i four_digits(const int8_t* qs) {
  int32_t four;
  std::memcpy(&four, qs, 4);
  return _mm512_set1_epi32(four);
}

// Kernels::absorb_columns_q4_0: sixteen columns to a register, each 64-byte line of codes
// two VPDPBUSD (its low and high nibbles against four digits each), one integer sum per
// activation block. The lines are fetched kAhead bytes ahead, across blocks and heads (a
// layer's heads lie one after the other): without, from memory an A layer's eight heads
// took a thread longer than the stored rows weighed (docs/benchmarks.md, CPU backend,
// session 55).
template <int64_t kAhead>
DSINFER_AVX512_VNNI void absorb_columns_q4_0(float* out, const float* q, const uint8_t* head, int64_t nope,
                                             int64_t rank) {
  const auto quantize = avx2_kernels().quantize_act_q8;  // this table's quantiser
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const int64_t lines = nope / 8, block_bytes = 18 * nope;
  alignas(64) float a[kMaxAbsorbColumnsNope];
  ActBlockQ8 x[kMaxAbsorbColumnsNope / 32];
  for (int64_t cb = 0; cb < rank / 32; ++cb) {
    const uint8_t* scales = head + cb * block_bytes;
    for (int64_t line = 0; line < 2 * nope; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(scales) + kAhead + line, _MM_HINT_T0);
    for (int64_t d = 0; d < nope; d += 16) {
      const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + 2 * d));
      _mm512_store_ps(a + d, _mm512_mul_ps(_mm512_loadu_ps(q + d), _mm512_cvtph_ps(s)));
    }
    quantize(a, x, nope);
    for (int64_t g = 0; g < 2; ++g) {
      const uint8_t* group = scales + 2 * nope + g * lines * 64;
      __m512 sum = _mm512_setzero_ps();
      for (int64_t b = 0; b < nope / 32; ++b) {
        __m512i dot = _mm512_setzero_si512();
        for (int64_t m = 0; m < 4; ++m) {
          const uint8_t* line = group + (4 * b + m) * 64;
          _mm_prefetch(reinterpret_cast<const char*>(line) + kAhead, _MM_HINT_T0);
          const __m512i codes = _mm512_loadu_si512(line);
          const __m512i high = _mm512_and_si512(_mm512_srli_epi16(codes, 4), low4);
          dot = _mm512_dpbusd_epi32(dot, _mm512_and_si512(codes, low4), four_digits(x[b].qs + 8 * m));
          dot = _mm512_dpbusd_epi32(dot, high, four_digits(x[b].qs + 8 * m + 4));
        }
        const __m512i centred = _mm512_sub_epi32(dot, _mm512_set1_epi32(8 * x[b].sum));
        sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(centred), _mm512_set1_ps(x[b].d), sum);
      }
      _mm512_storeu_ps(out + 32 * cb + 16 * g, sum);
    }
  }
}

// The table with the one-token far tiles fetching kAhead bytes ahead (x86::prefetch_stream),
// Q8_0's kQ8Ahead, and the one-token FP4 tiles and the FP8 and BF16 rows read side by side
// kRowsAhead.
template <int64_t kAhead, int64_t kQ8Ahead, int64_t kRowsAhead>
Kernels avx512_vnni_table() {
  Kernels k = avx2_kernels();
  k.isa = "avx512-vnni";
  k.gemm_q4_0x8 = gemm_q4_0x8;
  k.gemm_q8_0x8 = gemm_q8_0x8;
  k.gemm_q4_kx8 = gemm_q4_kx8;
  k.gemm_q5_kx8 = gemm_q5_kx8;
  k.gemm_q5_0x8 = gemm_q5x8<BlockQ5_0x8>;
  k.gemm_q5_1x8 = gemm_q5x8<BlockQ5_1x8>;
  k.gemm_q4_0x16 = gemm_q4_0x16;
  k.gemm_q4_0x16_far = gemm_q4_0x16_far<kAhead>;
  k.gemm_q8_0x16 = gemm_q8_0x16;
  k.gemm_q8_0x16_far = gemm_q8_0x16_far<kQ8Ahead>;
  k.gemm_q8_0x32 = gemm_two_pairs<BlockQ8_0x8>;
  k.gemm_q4_0x32 = gemm_two_pairs<BlockQ4_0x8>;
  k.gemm_q4_0x16_far4 = gemm_q4_0x16_far4<kAhead>;
  k.gemm_q8_0x16_far4 = gemm_q8_0x16_far4<kQ8Ahead>;
  k.gemm_q4_kx16 = gemm_groups_x16<BlockQ4_Kx8>;
  k.gemm_q5_kx16 = gemm_groups_x16<BlockQ5_Kx8>;
  k.gemm_q6_kx16 = gemm_groups_x16<BlockQ6_Kx8>;
  k.gemm_q4_kx16_far = gemm_groups_x16_far<kAhead, BlockQ4_Kx8>;
  k.gemm_q5_kx16_far = gemm_groups_x16_far<kAhead, BlockQ5_Kx8>;
  k.gemm_q6_kx16_far = gemm_groups_x16_far<kAhead, BlockQ6_Kx8>;
  k.gemm_iq4_nlx16 = gemm_groups_x16<BlockIQ4_NLx8>;
  k.gemm_q2_kx16 = gemm_groups_x16<BlockQ2_Kx8>;
  k.gemm_q3_kx16 = gemm_groups_x16<BlockQ3_Kx8>;
  k.gemm_iq4_xsx16 = gemm_groups_x16<BlockIQ4_XSx8>;
  k.gemm_iq4_nlx16_far = gemm_groups_x16_far<kAhead, BlockIQ4_NLx8>;
  k.gemm_q2_kx16_far = gemm_groups_x16_far<kAhead, BlockQ2_Kx8>;
  k.gemm_q3_kx16_far = gemm_groups_x16_far<kAhead, BlockQ3_Kx8>;
  k.gemm_iq4_xsx16_far = gemm_groups_x16_far<kAhead, BlockIQ4_XSx8>;
  k.dot_grid_rows = dot_grid_rows;
  k.decode_grid = decode_grid_avx512;
  k.grid_rows_one_token = grid_rows_one_token_avx512;
  k.gemm_fp4x8_q8x3 = gemm_fp4x8_q8x3;
  k.quantize_act_q8x3 = quantize_act_q8x3_avx512;
  k.gemm_fp4x16_q8x3 = gemm_fp4x16_q8x3<false>;
  k.gemm_fp4x16_q8x3_far = gemm_fp4x16_q8x3_far<false, kRowsAhead>;
  k.gemm_fp4x16_q8x3_far4 = gemm_fp4x16_q8x3_far4<false, kRowsAhead>;
  k.dot_f8e4m3 = dot_f8e4m3;
  k.dot4_f8e4m3 = dot4_f8e4m3;
  k.dot2_bf16 = dot2_bf16<kRowsAhead>;
  k.dot_four_rows_bf16 = dot_four_rows_bf16<kRowsAhead>;
  if (__builtin_cpu_supports("avx512vbmi")) {
    k.gemm_fp4x16_q8x3 = gemm_fp4x16_q8x3<true>;
    k.gemm_fp4x16_q8x3_far = gemm_fp4x16_q8x3_far<true, kRowsAhead>;
    k.gemm_fp4x16_q8x3_far4 = gemm_fp4x16_q8x3_far4<true, kRowsAhead>;
    k.dot_f8e4m3_recoded = dot_f8e4m3_recoded;
    k.dot4_f8e4m3_recoded = dot4_f8e4m3_recoded;
    k.dot2_f8e4m3_recoded = dot2_f8e4m3_recoded<kRowsAhead>;
  }
  k.key_block_scores = key_block_scores;
  k.value_row_sums = value_row_sums;
  k.weighted_rows_q4_0 = weighted_rows_q4_0;
  k.weighted_rows_q8_0 = weighted_rows_q8_0;
  k.weighted_rows_tokens_q4_0 = weighted_rows_tokens_q4_0;
  k.weighted_rows_tokens_q8_0 = weighted_rows_tokens_q8_0;
  k.absorb_columns_q4_0 = absorb_columns_q4_0<x86::kPrefetchBytes>;
  k.weighted_sums = weighted_sums_avx512;
  k.weighted_sums_stored = weighted_sums_stored_avx512;
  k.widen_stored = widen_stored_avx512;
  return k;
}

}  // namespace

const Kernels& avx512_vnni_kernels() {
  static const Kernels table =
      avx512_vnni_table<x86::kStreamPrefetchBytes, x86::kStreamPrefetchBytes, x86::kPrefetchBytes>();
  return table;
}

const Kernels& avx512_vnni_amd_kernels() {
  static const Kernels table = avx512_vnni_table<x86::kAmdStreamPrefetchBytes, x86::kAmdQ8StreamPrefetchBytes,
                                                  x86::kAmdRowsPrefetchBytes>();
  return table;
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
