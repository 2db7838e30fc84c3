// x86-64 kernels for CPUs with AMX-INT8 (Intel Sapphire Rapids and later): the AVX-512
// VNNI table with the sixteen-row Q4_0 and Q8_0 tiles of prefill (and of a server step's
// dense layers) on the tile unit. One TDPBSSD multiplies a block of 32 codes for up to
// sixteen tokens by sixteen weight rows, exact in int32, where VNNI needs eight VPDPBUSD
// per token; every (row, token) then takes the VNNI tile's float steps, so the bits are
// those of the AVX2 and AVX-512 tables (checked by the conformance suite).
//
// A block's scales differ per row and token, so each block's int32 products go through
// memory to the vector registers to be scaled: that round trip bounds the gain to about
// 1.3-1.6x the VNNI tile at sixteen tokens in cache (1.1-1.2x in prefill), and below
// twelve tokens the VNNI tile is faster, so smaller calls go there (docs/benchmarks.md,
// CPU backend, session 11). A call of up to 64 tokens unpacks each weight block once for
// all its sixteen-token tiles: pp512 10-18% faster than one unpacking per sixteen tokens
// (CPU backend, session 23).
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_tile_helpers.h"

#define DSINFER_AMX \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni,amx-tile,amx-int8")))

namespace dsinfer::cpu {
namespace {

using x86::load_pair;
using x86::prefetch_block;
using x86::prefetch_pair;
using x86::scales_pair;

// Fewest tokens for which the tile unit beats the VNNI tile (measured, see above).
constexpr int kAmxMinTokens = 12;

// Blocks whose products go through memory together: their weights are unpacked first,
// then multiplied, then scaled, so that no step waits on the store just before it.
constexpr int kBlocksPerStage = 4;

// LDTILECFG's 64-byte operand (palette 1): per tile register, its rows and bytes per row.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0-3 hold the products of a stage's blocks (tokens x 16 rows of int32), 4-5 the
// activation codes (tokens x 32 bytes, read in place from ActBlockQ8 rows), 6-7 the
// weight codes (8 rows of 64 bytes: group k of four codes of each of the sixteen rows).
DSINFER_AMX inline void configure_tiles(int n_tokens) {
  TileConfig config;
  for (int t = 0; t < 4; ++t) {
    config.rows[t] = static_cast<uint8_t>(n_tokens);
    config.bytes_per_row[t] = 64;
  }
  for (int t = 4; t < 6; ++t) {
    config.rows[t] = static_cast<uint8_t>(n_tokens);
    config.bytes_per_row[t] = 32;
  }
  for (int t = 6; t < 8; ++t) {
    config.rows[t] = 8;
    config.bytes_per_row[t] = 64;
  }
  // Not _tile_loadconfig: GCC 12's version tells the compiler it reads only the first 8
  // bytes of the configuration, so the stores of the rows and widths may legally move
  // after it (they did in a test build, and the first tile load faulted).
  asm volatile("ldtilecfg %0" : : "m"(config));
}

// Block b of two groups of eight rows as TDPBSSD's second operand: row k of the tile
// holds four-code group k of all sixteen rows, which is the interleaved layout of a
// Q4_0x8 / Q8_0x8 block (kernels.h) with the two groups side by side. Q4_0: nibbles
// minus 8, groups 0-3 from the low nibbles (values 0-15), 4-7 from the high ones.
DSINFER_AMX inline void weight_tile(const BlockQ4_0x8& w0, const BlockQ4_0x8& w1, int8_t* tile) {
  const __m512i low = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8);
  for (int k = 0; k < 4; ++k) {
    const __m512i packed = load_pair(w0.qs + 32 * k, w1.qs + 32 * k);
    _mm512_store_si512(tile + 64 * k, _mm512_sub_epi8(_mm512_and_si512(packed, low), eight));
    const __m512i high = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low);
    _mm512_store_si512(tile + 64 * (4 + k), _mm512_sub_epi8(high, eight));
  }
}

DSINFER_AMX inline void weight_tile(const BlockQ8_0x8& w0, const BlockQ8_0x8& w1, int8_t* tile) {
  for (int k = 0; k < 8; ++k)
    _mm512_store_si512(tile + 64 * k, load_pair(reinterpret_cast<const uint8_t*>(w0.qs + 32 * k),
                                                reinterpret_cast<const uint8_t*>(w1.qs + 32 * k)));
}

// Products of block b into tile C, from the weight tile at `weights` and the tokens'
// codes of block b (rows a_stride bytes apart), stored to `products`.
#define DSINFER_AMX_BLOCK(C, A, B, weights, codes, a_stride, products) \
  do {                                                                 \
    _tile_loadd(B, weights, 64);                                       \
    _tile_loadd(A, codes, a_stride);                                   \
    _tile_zero(C);                                                     \
    _tile_dpbssd(C, A, B);                                             \
    _tile_stored(C, products, 64);                                     \
  } while (0)

// Blocks of a pair whose unpacked weight tiles one call keeps for its later sixteen-token
// tiles (64 KiB, in L1 and L2): the first tile unpacks them, the others load them as they
// are, so unpacking is paid once per up to kMaxSixteenRowTokens tokens instead of once per
// sixteen.
constexpr int64_t kKeptBlocks = 128;

// Blocks [b_begin, b_end) of the pair (w, w1) for NT tokens, a compile-time count: with a
// run-time one the compiler kept the sixteen accumulators on the stack, and every
// multiply-add paid a load and a store besides the tile stores (docs/benchmarks.md, CPU
// backend, session 19). kUnpack: unpack the blocks' weights into kept[b - b_begin] (else
// they are there already); accumulate onto out's sums of the blocks before b_begin
// instead of starting from zero (a float stored and loaded back: the same bits).
template <int NT, bool kUnpack, typename Block>
DSINFER_AMX void amx_blocks(const Block* w, const Block* w1, int64_t b_begin, int64_t b_end, int8_t (*kept)[512],
                            const ActBlockQ8* x, int64_t x_stride, bool accumulate, float* out, int64_t out_stride) {
  alignas(64) int32_t products[kBlocksPerStage][16][16];
  const int64_t a_stride = x_stride * static_cast<int64_t>(sizeof(ActBlockQ8));
  __m512 acc[NT];
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) acc[t] = accumulate ? _mm512_loadu_ps(out + t * out_stride) : _mm512_setzero_ps();
  for (int64_t b0 = b_begin; b0 < b_end; b0 += kBlocksPerStage) {
    const int n = static_cast<int>(std::min<int64_t>(kBlocksPerStage, b_end - b0));
    int8_t (*weights)[512] = kept + (b0 - b_begin);
    if constexpr (kUnpack)
      for (int j = 0; j < n; ++j) {
        prefetch_pair(w + b0 + j, w1 + b0 + j);
        weight_tile(w[b0 + j], w1[b0 + j], weights[j]);
      }
    if (n == kBlocksPerStage) {
      DSINFER_AMX_BLOCK(0, 4, 6, weights[0], x[b0].qs, a_stride, products[0]);
      DSINFER_AMX_BLOCK(1, 5, 7, weights[1], x[b0 + 1].qs, a_stride, products[1]);
      DSINFER_AMX_BLOCK(2, 4, 6, weights[2], x[b0 + 2].qs, a_stride, products[2]);
      DSINFER_AMX_BLOCK(3, 5, 7, weights[3], x[b0 + 3].qs, a_stride, products[3]);
    } else {
      for (int j = 0; j < n; ++j) DSINFER_AMX_BLOCK(0, 4, 6, weights[j], x[b0 + j].qs, a_stride, products[j]);
    }
    for (int j = 0; j < n; ++j) {
      const int64_t b = b0 + j;
      const __m512 dw = scales_pair(w[b].d, w1[b].d);
      // The VNNI tile's float steps per token: fma(dot, dw * x.d, acc).
#pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) {
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_load_si512(products[j][t]));
        acc[t] = _mm512_fmadd_ps(dot, _mm512_mul_ps(dw, _mm512_set1_ps(x[t * x_stride + b].d)), acc[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

// n_tiles tiles of NT tokens (tile i: tokens NT i ..) against one pair of groups, the
// blocks kKeptBlocks at a time, each run of blocks unpacked by the first tile only.
template <int NT, typename Block>
DSINFER_AMX void gemm_x16_amx_tiles(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                    int n_tiles, float* out, int64_t out_stride) {
  const Block* w1 = w + n_blocks;
  configure_tiles(NT);
  alignas(64) int8_t kept[kKeptBlocks][512];
  for (int64_t b_begin = 0; b_begin < n_blocks; b_begin += kKeptBlocks) {
    const int64_t b_end = std::min(n_blocks, b_begin + kKeptBlocks);
    const bool accumulate = b_begin > 0;
    amx_blocks<NT, true>(w, w1, b_begin, b_end, kept, x, x_stride, accumulate, out, out_stride);
    for (int i = 1; i < n_tiles; ++i)
      amx_blocks<NT, false>(w, w1, b_begin, b_end, kept, x + i * NT * x_stride, x_stride, accumulate,
                            out + i * NT * out_stride, out_stride);
  }
  _tile_release();
}

// Any token count up to kMaxSixteenRowTokens: whole tiles of sixteen, then the rest on the
// tile unit if it has kAmxMinTokens or more, else on the VNNI tile (which has the same bits).
template <typename Block>
DSINFER_AMX void gemm_x16_amx(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                              float* out, int64_t out_stride, const Kernels& vnni) {
  static_assert(kAmxMinTokens == 12);
  const int whole = n_tokens / 16, rest = n_tokens % 16;
  if (whole > 0) gemm_x16_amx_tiles<16>(w, n_blocks, x, x_stride, whole, out, out_stride);
  if (rest == 0) return;
  x += whole * 16 * x_stride;
  out += whole * 16 * out_stride;
  switch (rest) {
    case 12: return gemm_x16_amx_tiles<12>(w, n_blocks, x, x_stride, 1, out, out_stride);
    case 13: return gemm_x16_amx_tiles<13>(w, n_blocks, x, x_stride, 1, out, out_stride);
    case 14: return gemm_x16_amx_tiles<14>(w, n_blocks, x, x_stride, 1, out, out_stride);
    case 15: return gemm_x16_amx_tiles<15>(w, n_blocks, x, x_stride, 1, out, out_stride);
    default:
      if constexpr (std::is_same_v<Block, BlockQ4_0x8>)
        return vnni.gemm_q4_0x16(w, n_blocks, x, x_stride, rest, out, out_stride);
      else
        return vnni.gemm_q8_0x16(w, n_blocks, x, x_stride, rest, out, out_stride);
  }
}

#undef DSINFER_AMX_BLOCK

void gemm_q4_0x16(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                  float* out, int64_t out_stride) {
  gemm_x16_amx(w, n_blocks, x, x_stride, n_tokens, out, out_stride, avx512_vnni_kernels());
}

void gemm_q8_0x16(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                  float* out, int64_t out_stride) {
  gemm_x16_amx(w, n_blocks, x, x_stride, n_tokens, out, out_stride, avx512_vnni_kernels());
}

}  // namespace

const Kernels& avx512_amx_kernels() {
  static const Kernels table = [] {
    Kernels k = avx512_vnni_kernels();
    k.isa = "avx512-amx";
    k.gemm_q4_0x16 = gemm_q4_0x16;
    k.gemm_q8_0x16 = gemm_q8_0x16;
    k.gemm_q4_0x32 = nullptr;  // the AMX tiles take every pair
    k.gemm_q8_0x32 = nullptr;
    return k;
  }();
  return table;
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
