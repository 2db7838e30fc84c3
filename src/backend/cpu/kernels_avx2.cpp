// x86-64 kernels for AVX2 + FMA + F16C, compiled for that target only and chosen at run
// time (select_kernels), so one binary runs on any x86-64 CPU.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>

#include "backend/cpu/absorb_columns.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_tile_helpers.h"
#include "core/dtype.h"

namespace dsinfer::cpu {
namespace {

using x86::add_subblock;
using x86::broadcast_group;
using x86::add_bf16_tail;
using x86::finish_bf16_dot;
using x86::for_token_tiles;
using x86::hsum;
using x86::kPrefetchBytes;
using x86::kPrefetchPackedBlocks;
using x86::kquant_codes;
using x86::load_bf16x8;
using x86::low_bits;
using x86::prefetch_block;
using x86::q4_0_codes;
using x86::subblock_factors;
using x86::sum_of;

DSINFER_AVX2 inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

DSINFER_AVX2 float dot_f32(const float* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) sum = std::fma(w[i], x[i], sum);
  return sum;
}

DSINFER_AVX2 float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(w + i) + kPrefetchBytes, _MM_HINT_T0);
    for (int j = 0; j < 4; ++j)
      acc[j] = _mm256_fmadd_ps(load_bf16x8(w + i + 8 * j), _mm256_loadu_ps(x + i + 8 * j), acc[j]);
  }
  return finish_bf16_dot(acc, w, x, i, n);
}

// Two rows of a float format against one x, each row's sums in its one-row kernel's order
// (dot_f32, dot_bf16: four accumulators over 32 values per step, then 8 at a time into the
// first, then sum_of, then the rest one by one), so each its bits, with the rows read side
// by side: two streams read memory faster than one row after the other (docs/benchmarks.md,
// CPU backend session 14). widen8 loads eight values as floats, widen1 one.
template <typename Weight, __m256 (*widen8)(const Weight*), float (*widen1)(Weight)>
DSINFER_AVX2 inline void dot_two_rows(const Weight* const w[2], const float* x, int64_t n, float out[2]) {
  __m256 acc[2][4];
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int r = 0; r < 2; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w[r] + i) + kPrefetchBytes, _MM_HINT_T0);
      for (int j = 0; j < 4; ++j)
        acc[r][j] = _mm256_fmadd_ps(widen8(w[r] + i + 8 * j), _mm256_loadu_ps(x + i + 8 * j), acc[r][j]);
    }
  for (int r = 0; r < 2; ++r) {
    int64_t j = i;
    for (; j + 8 <= n; j += 8) acc[r][0] = _mm256_fmadd_ps(widen8(w[r] + j), _mm256_loadu_ps(x + j), acc[r][0]);
    float sum = sum_of(acc[r]);
    for (; j < n; ++j) sum = std::fma(widen1(w[r][j]), x[j], sum);
    out[r] = sum;
  }
}

DSINFER_AVX2 inline __m256 load_f32x8(const float* p) { return _mm256_loadu_ps(p); }
inline float as_float(float v) { return v; }

DSINFER_AVX2 void dot2_bf16(const uint16_t* const w[2], const float* x, int64_t n, float out[2]) {
  dot_two_rows<uint16_t, load_bf16x8, bf16_to_f32>(w, x, n, out);
}

DSINFER_AVX2 void dot2_f32(const float* const w[2], const float* x, int64_t n, float out[2]) {
  dot_two_rows<float, load_f32x8, as_float>(w, x, n, out);
}

DSINFER_AVX2 float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i))),
                         _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i + 8))),
                         _mm256_loadu_ps(x + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8)
    a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i))),
                         _mm256_loadu_ps(x + i), a0);
  float sum = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) sum += f16_to_f32(w[i]) * x[i];
  return sum;
}

// E4M3 -> f16 is a shift: sign to bit 15, exponent|mantissa to bits 7..14. The f16 read
// that way is the E4M3 value times 2^-8 for normal and subnormal codes alike, and F16C
// widens it exactly, so no denormal float ever appears; the 2^8 is applied at the end.
// The shift is done on 16-bit lanes holding a code in their high byte (an interleave
// with zero): an arithmetic shift right by one puts the magnitude at bits 7..13 and
// copies the sign into bit 14, which a mask clears.
// A block's whole 16-value groups go into two vector sums (values 0-7 and 8-15 of each
// group), added to the row's total times the block scale, so a row needs one horizontal
// sum however many blocks it has. Pairs of groups are converted together: the interleave
// works within 128-bit lanes, so its low half holds values 0-7 and 16-23.
DSINFER_AVX2 inline __m256i e4m3_high_bytes_to_f16(__m256i high_bytes) {
  return _mm256_and_si256(_mm256_srai_epi16(high_bytes, 1), _mm256_set1_epi16(static_cast<int16_t>(0xBFFF)));
}

// One weight row against NT activation rows: the weights of each group are converted once
// and multiplied into every token's sums, whose operations are those of a lone token, so
// dot_f8e4m3 (NT = 1) and dot4_f8e4m3 (NT = 4) give a token the same bits.
template <int NT>
DSINFER_AVX2 inline void dot_rows_f8e4m3(const uint8_t* w, const float* x, int64_t x_stride, int64_t n,
                                         const float* scales, int64_t block, float out[NT]) {
  const __m256i zero = _mm256_setzero_si256();
  if (!scales) block = n;
  __m256 total[NT];
  float tail[NT];  // values past a block's last whole group, already scaled
  for (int t = 0; t < NT; ++t) {
    total[t] = _mm256_setzero_ps();
    tail[t] = 0.0f;
  }
  for (int64_t c0 = 0; c0 < n; c0 += block) {
    const int64_t end = std::min(n, c0 + block);
    const float scale = scales ? scales[c0 / block] : 1.0f;
    __m256 a0[NT], a1[NT];
    for (int t = 0; t < NT; ++t) a0[t] = a1[t] = _mm256_setzero_ps();
    int64_t i = c0;
    for (; i + 32 <= end; i += 32) {
      if (i % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(w + i) + kPrefetchBytes, _MM_HINT_T0);
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
      const __m256i lo = e4m3_high_bytes_to_f16(_mm256_unpacklo_epi8(zero, v));  // values 0-7 | 16-23
      const __m256i hi = e4m3_high_bytes_to_f16(_mm256_unpackhi_epi8(zero, v));  // values 8-15 | 24-31
      const __m256 w0 = _mm256_cvtph_ps(_mm256_castsi256_si128(lo)), w1 = _mm256_cvtph_ps(_mm256_castsi256_si128(hi));
      const __m256 w2 = _mm256_cvtph_ps(_mm256_extracti128_si256(lo, 1));
      const __m256 w3 = _mm256_cvtph_ps(_mm256_extracti128_si256(hi, 1));
      for (int t = 0; t < NT; ++t) {
        const float* xt = x + t * x_stride + i;
        a0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt), a0[t]);
        a1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + 8), a1[t]);
        a0[t] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xt + 16), a0[t]);
        a1[t] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xt + 24), a1[t]);
      }
    }
    for (; i + 16 <= end; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i));
      const __m256i h = e4m3_high_bytes_to_f16(_mm256_set_m128i(_mm_unpackhi_epi8(_mm_setzero_si128(), v),
                                                _mm_unpacklo_epi8(_mm_setzero_si128(), v)));
      const __m256 w0 = _mm256_cvtph_ps(_mm256_castsi256_si128(h)), w1 = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
      for (int t = 0; t < NT; ++t) {
        a0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + t * x_stride + i), a0[t]);
        a1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + t * x_stride + i + 8), a1[t]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      total[t] = _mm256_fmadd_ps(_mm256_add_ps(a0[t], a1[t]), _mm256_set1_ps(scale), total[t]);
      float rest = 0.0f;
      for (int64_t j = i; j < end; ++j) rest += f8e4m3_to_f32(w[j]) * x[t * x_stride + j];
      tail[t] += scale * rest;
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum(total[t]) * 256.0f + tail[t];
}

DSINFER_AVX2 float dot_f8e4m3(const uint8_t* w, const float* x, int64_t n, const float* scales, int64_t block) {
  float out[1];
  dot_rows_f8e4m3<1>(w, x, 0, n, scales, block, out);
  return out[0];
}

DSINFER_AVX2 void dot4_f8e4m3(const uint8_t* w, const float* x, int64_t x_stride, int64_t n, const float* scales,
                              int64_t block, float out[4]) {
  dot_rows_f8e4m3<4>(w, x, x_stride, n, scales, block, out);
}

// Half h (16 codes) of a block as two registers of eight floats, Q4_0 offset removed:
// Q4_0's low nibbles are its first half, the high nibbles its second.
DSINFER_AVX2 inline void half_block_values(const BlockQ4_0& b, int h, __m256 v[2]) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
  const __m128i nibbles = h == 0 ? raw : _mm_srli_epi16(raw, 4);
  const __m128i codes = _mm_sub_epi8(_mm_and_si128(nibbles, _mm_set1_epi8(0x0F)), _mm_set1_epi8(8));
  v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes));
  v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(codes, 8)));
}

DSINFER_AVX2 inline void half_block_values(const BlockQ8_0& b, int h, __m256 v[2]) {
  for (int j = 0; j < 2; ++j)
    v[j] = _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 16 * h + 8 * j))));
}

// NT weightings of the same rows, every row added in order, each column one fused
// multiply-add chain with the same rounded scale whatever NT is, so each weighting gets
// the bits of its own call; a half block's codes are widened once for all NT. Per pass
// four half blocks (64 columns) for one weighting, fewer as NT grows, so that the sums
// stay in AVX2's sixteen registers beside the codes. The rows of one head (36 KiB for
// V2-Lite's Q4_0) come from memory on the first pass, asked for a few rows ahead, and from
// cache on the next ones.
template <int NT, typename Block>
DSINFER_AVX2 void weighted_rows_tile(float* const* out, const float* const* p, const Block* rows, int64_t row_stride,
                                     int64_t n_rows, int64_t n_blocks) {
  constexpr int kHalves = NT == 1 ? 4 : NT == 2 ? 2 : 1;
  const int64_t n_halves = 2 * n_blocks;
  for (int64_t h0 = 0; h0 < n_halves; h0 += kHalves) {
    const int nh = static_cast<int>(std::min<int64_t>(kHalves, n_halves - h0));
    __m256 acc[NT][2 * kHalves];
    for (auto& token : acc)
      for (auto& a : token) a = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_rows; ++i) {
      const Block* row = rows + i * row_stride;
      if (h0 == 0) {
        const char* ahead = reinterpret_cast<const char*>(row) + kPrefetchBytes;
        for (size_t line = 0; line < n_blocks * sizeof(Block); line += 64) _mm_prefetch(ahead + line, _MM_HINT_T0);
      }
      // Unrolled with constant indices, so the sums stay in registers; a block's scales
      // are worked out at its first half in the pass.
      __m256 scale[NT];
#pragma GCC unroll 4
      for (int h = 0; h < kHalves; ++h) {
        if (h >= nh) break;
        const int half = kHalves % 2 == 0 ? h % 2 : static_cast<int>(h0 % 2);  // h0 steps by kHalves
        const Block& b = row[(h0 + h) / 2];
        if (h == 0 || half == 0) {
          const float d = half_to_float(b.d);
#pragma GCC unroll 4
          for (int t = 0; t < NT; ++t) scale[t] = _mm256_set1_ps(p[t][i] * d);
        }
        __m256 v[2];
        half_block_values(b, half, v);
#pragma GCC unroll 4
        for (int t = 0; t < NT; ++t) {
          acc[t][2 * h] = _mm256_fmadd_ps(v[0], scale[t], acc[t][2 * h]);
          acc[t][2 * h + 1] = _mm256_fmadd_ps(v[1], scale[t], acc[t][2 * h + 1]);
        }
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t)
#pragma GCC unroll 8
      for (int j = 0; j < 2 * kHalves; ++j)
        if (j < 2 * nh) _mm256_storeu_ps(out[t] + 16 * h0 + 8 * j, acc[t][j]);
  }
}

DSINFER_AVX2 void weighted_rows_q4_0(float* out, const float* p, const BlockQ4_0* rows, int64_t row_stride,
                                     int64_t n_rows, int64_t n_blocks) {
  weighted_rows_tile<1>(&out, &p, rows, row_stride, n_rows, n_blocks);
}

DSINFER_AVX2 void weighted_rows_q8_0(float* out, const float* p, const BlockQ8_0* rows, int64_t row_stride,
                                     int64_t n_rows, int64_t n_blocks) {
  weighted_rows_tile<1>(&out, &p, rows, row_stride, n_rows, n_blocks);
}

template <typename Block>
DSINFER_AVX2 void weighted_rows_tokens(float* const* out, const float* const* p, int n_tokens, const Block* rows,
                                       int64_t row_stride, int64_t n_rows, int64_t n_blocks) {
  for_token_tiles<kMaxWeightedRowsTokens>(n_tokens, [&](auto nt, int first) {
    weighted_rows_tile<decltype(nt)::value>(out + first, p + first, rows, row_stride, n_rows, n_blocks);
  });
}

// Weight blocks are streamed from memory once per token: ask for them a few cache lines
// ahead (prefetching does not change any arithmetic).
constexpr int64_t kPrefetchBlocks = 16;

DSINFER_AVX2 float dot_q8_0(const BlockQ8_0* w, const ActBlockQ8* x, int64_t n_blocks) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    _mm_prefetch(reinterpret_cast<const char*>(w + b + kPrefetchBlocks), _MM_HINT_T0);
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    // maddubs multiplies unsigned by signed: move w's sign onto x.
    const __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
    const __m256i dot = _mm256_madd_epi16(products, ones);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(half_to_float(w[b].d) * x[b].d), acc);
  }
  return hsum(acc);
}

DSINFER_AVX2 float dot_q4_0(const BlockQ4_0* w, const ActBlockQ8* x, int64_t n_blocks) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;  // sum of d * x.sum: the "- 8" of every weight, applied once
  for (int64_t b = 0; b < n_blocks; ++b) {
    _mm_prefetch(reinterpret_cast<const char*>(w + b + kPrefetchBlocks), _MM_HINT_T0);
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs));
    // Values 0..15 sit in the low nibbles, 16..31 in the high ones.
    const __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low_nibbles);
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xq), ones);
    const float d = half_to_float(w[b].d) * x[b].d;
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d), acc);
    offset += d * static_cast<float>(x[b].sum);
  }
  return hsum(acc) - 8.0f * offset;
}

DSINFER_AVX2 void quantize_act_q8(const float* x, ActBlockQ8* out, int64_t n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* p = x + b * 32;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(p + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_and_ps(v[k], abs_mask));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const __m256 inv = _mm256_set1_ps(d > 0 ? 1.0f / d : 0.0f);
    __m256i q[4];
    __m256i sum = _mm256_setzero_si256();
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      sum = _mm256_add_epi32(sum, q[k]);
    }
    // Packing works per 128-bit lane; the permute restores element order.
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    const __m256i ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs), ordered);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    out[b].d = d;
    out[b].sum = _mm_cvtsi128_si32(s);
  }
}

// Each weight vector is widened once and used for four tokens; per token the sums run
// exactly as in dot_bf16.
DSINFER_AVX2 void dot4_bf16(const uint16_t* w, const float* x, int64_t x_stride, int64_t n, float out[4]) {
  __m256 acc[4][4];  // [token][accumulator]
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) {
      const __m256 wv = load_bf16x8(w + i + 8 * j);
      for (int r = 0; r < 4; ++r)
        acc[r][j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * x_stride + i + 8 * j), acc[r][j]);
    }
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = load_bf16x8(w + i);
    for (int r = 0; r < 4; ++r) acc[r][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * x_stride + i), acc[r][0]);
  }
  for (int r = 0; r < 4; ++r) out[r] = add_bf16_tail(sum_of(acc[r]), w, x + r * x_stride, i, n);
}

DSINFER_AVX2 void dot4_q8_0(const BlockQ8_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks, float out[4]) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i w_abs = _mm256_sign_epi8(wq, wq);
    const float dw = half_to_float(w[b].d);
    for (int r = 0; r < 4; ++r) {
      const ActBlockQ8& xb = x[r * x_stride + b];
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
      const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(xq, wq)), ones);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw * xb.d), acc[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = hsum(acc[r]);
}

DSINFER_AVX2 void dot4_q4_0(const BlockQ4_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks, float out[4]) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  float offset[4] = {0, 0, 0, 0};
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs));
    const __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low_nibbles);
    const float dw = half_to_float(w[b].d);
    for (int r = 0; r < 4; ++r) {
      const ActBlockQ8& xb = x[r * x_stride + b];
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
      const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xq), ones);
      const float d = dw * xb.d;
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d), acc[r]);
      offset[r] += d * static_cast<float>(xb.sum);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = hsum(acc[r]) - 8.0f * offset[r];
}

// Per block: the eight rows' codes are unpacked once into eight registers (low and high
// nibbles of the four 32-byte groups), then each token's whole block in turn: eight
// u8 x s8 multiply-adds give 16-bit sums of pairs, added in 16 bits (at most
// 8 x 2 x 15 x 128 = 30720 in magnitude, no overflow), widened once, the -8 offset removed
// exactly in integers, then one scaled float add per block. Holding the codes lets a call
// take up to eight tokens; each token's arithmetic is the same for every NT.
template <int NT>
DSINFER_AVX2 void gemm_q4_0x8_tile(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                   float* out, int64_t out_stride) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256i lo[4], hi[4];
    q4_0_codes(w[b], lo, hi);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < NT; ++t) {
      const ActBlockQ8& xb = x[t * x_stride + b];
      __m256i sum = _mm256_add_epi16(_mm256_maddubs_epi16(lo[0], broadcast_group(xb.qs)),
                                     _mm256_maddubs_epi16(hi[0], broadcast_group(xb.qs + 16)));
      for (int k = 1; k < 4; ++k)
        sum = _mm256_add_epi16(sum, _mm256_add_epi16(_mm256_maddubs_epi16(lo[k], broadcast_group(xb.qs + 4 * k)),
                                                     _mm256_maddubs_epi16(hi[k], broadcast_group(xb.qs + 16 + 4 * k))));
      const __m256i dot = _mm256_sub_epi32(_mm256_madd_epi16(sum, ones), _mm256_set1_epi32(8 * xb.sum));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, _mm256_set1_ps(xb.d)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// Q5_0 / Q5_1 as gemm_q4_0x8_tile, but 5-bit codes make a pair's 16-bit sum up to
// 2 x 31 x 127, so each group's low and high pairs are widened to 32 bits together.
template <int NT, typename Block>
DSINFER_AVX2 void gemm_q5x8_tile(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, float* out,
                                 int64_t out_stride) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256i lo[4], hi[4];
    x86::q5_codes(w[b], lo, hi);
    for (int t = 0; t < NT; ++t) {
      const ActBlockQ8& xb = x[t * x_stride + b];
      __m256i dot = _mm256_setzero_si256();
      for (int k = 0; k < 4; ++k) {
        const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(lo[k], broadcast_group(xb.qs + 4 * k)),
                                               _mm256_maddubs_epi16(hi[k], broadcast_group(xb.qs + 16 + 4 * k)));
        dot = _mm256_add_epi32(dot, _mm256_madd_epi16(pairs, ones));
      }
      acc[t] = x86::add_q5_block(acc[t], dot, w[b], xb);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// Signed weights: maddubs takes |w| and x with w's sign; pairs reach 2 x 127 x 127, so
// each group is widened to 32 bits before the next is added.
template <int NT>
DSINFER_AVX2 void gemm_q8_0x8_tile(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                   float* out, int64_t out_stride) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256i sums[NT];
    for (auto& s : sums) s = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * k));
      const __m256i w_abs = _mm256_sign_epi8(wq, wq);
      for (int t = 0; t < NT; ++t) {
        const __m256i xq = _mm256_sign_epi8(broadcast_group(x[t * x_stride + b].qs + 4 * k), wq);
        sums[t] = _mm256_add_epi32(sums[t], _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, xq), ones));
      }
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[t]), _mm256_mul_ps(dw, _mm256_set1_ps(x[t * x_stride + b].d)),
                               acc[t]);
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// FP4 against float32 activations. Codes become their doubled values (int8 in [-12, 12])
// by one byte shuffle; a second shuffle per row pair moves each row's four int8 values
// of a 4-value group into the top bytes of four 32-bit lanes, which are then the values
// times 2^24, exactly, as integers. Both shuffles stay within 128-bit lanes, so pair p
// holds rows p and p+4. Converted to floats they multiply the group's four activations,
// held twice; per block each pair's sums are added to the token's total times the rows'
// block scales (powers of two, exact). The end folds four partial sums per row and removes
// the factor 2^25, exactly (PackedWeight keeps block scales below 2^73, so nothing
// overflows). At most two tokens per pass keep the accumulators in registers; every
// token's arithmetic is the same whichever pass it is in.
template <int NT>
DSINFER_AVX2 void gemm_fp4x8_tile(const BlockFp4x8* w, int64_t n_blocks, const float* x, int64_t x_stride, float* out,
                                  int64_t out_stride) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i values = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kE2M1Doubled)));
  // Byte 4r + i of each 128-bit lane (row r of the lane, value i) to the top byte of lane
  // dword i; -1 clears the other bytes.
  __m256i spread[4];
  for (int r = 0; r < 4; ++r) {
    alignas(32) int8_t index[32];
    for (int j = 0; j < 32; ++j) index[j] = j % 4 == 3 ? static_cast<int8_t>(4 * r + (j % 16) / 4) : int8_t{-1};
    spread[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(index));
  }
  __m256i pair_rows[4];
  for (int p = 0; p < 4; ++p) pair_rows[p] = _mm256_setr_epi32(p, p, p, p, p + 4, p + 4, p + 4, p + 4);
  __m256 acc[NT][4];
  for (auto& token : acc)
    for (auto& a : token) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256 block[NT][4];
    for (auto& token : block)
      for (auto& a : token) a = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * k));
      const __m256i codes[2] = {
          _mm256_shuffle_epi8(values, _mm256_and_si256(packed, low_nibbles)),
          _mm256_shuffle_epi8(values, _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles))};
      for (int half = 0; half < 2; ++half) {
        __m256 xs[NT];
        for (int t = 0; t < NT; ++t)
          xs[t] = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(x + t * x_stride + 32 * b + 16 * half + 4 * k));
        for (int p = 0; p < 4; ++p) {
          const __m256 wf = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(codes[half], spread[p]));
          for (int t = 0; t < NT; ++t) block[t][p] = _mm256_fmadd_ps(wf, xs[t], block[t][p]);
        }
      }
    }
    const __m128i e = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w[b].e));
    const __m256 scales = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu8_epi32(e), 23));
    for (int p = 0; p < 4; ++p) {
      const __m256 pair_scale = _mm256_permutevar8x32_ps(scales, pair_rows[p]);
      for (int t = 0; t < NT; ++t) acc[t][p] = _mm256_fmadd_ps(block[t][p], pair_scale, acc[t][p]);
    }
  }
  const __m256 unscale = _mm256_set1_ps(1.0f / (1 << 25));
  for (int t = 0; t < NT; ++t) {
    // Pairs (0, 4), (1, 5), (2, 6), (3, 7): the adds leave rows 0 1 2 3 | 4 5 6 7.
    const __m256 rows = _mm256_hadd_ps(_mm256_hadd_ps(acc[t][0], acc[t][1]), _mm256_hadd_ps(acc[t][2], acc[t][3]));
    _mm256_storeu_ps(out + t * out_stride, _mm256_mul_ps(rows, unscale));
  }
}

// Q4_K and Q5_K, per super-block and token: each 64-value chunk gives two sub-blocks'
// 16-bit sums (low and high nibbles, plus the fifth bits for Q5_K), widened to 32 bits
// before they can overflow (8 x 2 x 15 x 128 = 30720 for 4-bit codes, 4 x 2 x 31 x 128 =
// 31744 for 5-bit ones); each sub-block then adds d * scale * x.d * dot - dmin * min *
// x.d * x.sum, with the products of 6-bit scales and f16 super-block scales exact.
template <int NT, typename Block>
DSINFER_AVX2 void gemm_kx8_tile(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, float* out,
                                int64_t out_stride) {
  constexpr bool kFiveBit = std::is_same_v<Block, BlockQ5_Kx8>;
  constexpr int kGroupsPerWidening = kFiveBit ? 4 : 8;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ4_Kx8& wb = low_bits(w[b]);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.d)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.dmin)));
    for (int c = 0; c < 4; ++c) {
      _mm_prefetch(reinterpret_cast<const char*>(&low_bits(w[b + 1])) + 256 * c, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(&low_bits(w[b + 1])) + 256 * c + 128, _MM_HINT_T0);
      __m256i lo_sums[NT], hi_sums[NT], lo_dots[NT], hi_dots[NT];
      for (int k = 0; k < 8; ++k) {
        __m256i lo, hi;
        kquant_codes(w[b], c, k, lo, hi);
        const bool first = k % kGroupsPerWidening == 0, last = k % kGroupsPerWidening == kGroupsPerWidening - 1;
        for (int t = 0; t < NT; ++t) {
          const ActBlockQ8* xt = x + t * x_stride + 8 * b + 2 * c;
          const __m256i pl = _mm256_maddubs_epi16(lo, broadcast_group(xt[0].qs + 4 * k));
          const __m256i ph = _mm256_maddubs_epi16(hi, broadcast_group(xt[1].qs + 4 * k));
          lo_sums[t] = first ? pl : _mm256_add_epi16(lo_sums[t], pl);
          hi_sums[t] = first ? ph : _mm256_add_epi16(hi_sums[t], ph);
          if (last) {
            const __m256i lo32 = _mm256_madd_epi16(lo_sums[t], ones), hi32 = _mm256_madd_epi16(hi_sums[t], ones);
            lo_dots[t] = k < kGroupsPerWidening ? lo32 : _mm256_add_epi32(lo_dots[t], lo32);
            hi_dots[t] = k < kGroupsPerWidening ? hi32 : _mm256_add_epi32(hi_dots[t], hi32);
          }
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

// IQ4_NL indices of eight rows (an IQ4_NLx8 block's 128 bytes at qs) against NT tokens'
// activation blocks x[t * x_stride]: exact int32 sums per row. One byte shuffle maps the
// indices to their grid values, then as Q8_0's signed weights (|w| <= 127, so a pair of
// products stays within 16 bits).
template <int NT>
DSINFER_AVX2 inline void iq4_nl_sums(const uint8_t* qs, const ActBlockQ8* x, int64_t x_stride, __m256i sums[NT]) {
  const __m256i ones = _mm256_set1_epi16(1), low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues)));
  for (int t = 0; t < NT; ++t) sums[t] = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * k));
    for (int half = 0; half < 2; ++half) {
      const __m256i index = _mm256_and_si256(half == 0 ? packed : _mm256_srli_epi16(packed, 4), low_nibbles);
      const __m256i wq = _mm256_shuffle_epi8(grid, index);
      const __m256i w_abs = _mm256_sign_epi8(wq, wq);
      for (int t = 0; t < NT; ++t) {
        const __m256i xq = _mm256_sign_epi8(broadcast_group(x[t * x_stride].qs + 16 * half + 4 * k), wq);
        sums[t] = _mm256_add_epi32(sums[t], _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, xq), ones));
      }
    }
  }
}

template <int NT>
DSINFER_AVX2 void gemm_iq4_nlx8_tile(const BlockIQ4_NLx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                     float* out, int64_t out_stride) {
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + kPrefetchPackedBlocks);
    __m256i sums[NT];
    iq4_nl_sums<NT>(w[b].qs, x + b, x_stride, sums);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[t]), _mm256_mul_ps(dw, _mm256_set1_ps(x[t * x_stride + b].d)),
                               acc[t]);
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// IQ4_XS: each sub-block's IQ4_NL sums times its integer scale, exactly, then one float
// step per sub-block.
template <int NT>
DSINFER_AVX2 void gemm_iq4_xsx8_tile(const BlockIQ4_XSx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                     float* out, int64_t out_stride) {
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + 4);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int j = 0; j < 8; ++j) {
      __m256i sums[NT];
      iq4_nl_sums<NT>(w[b].qs[j], x + 8 * b + j, x_stride, sums);
      const __m256i scale = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w[b].scales[j])));
      for (int t = 0; t < NT; ++t) {
        const __m256 step = _mm256_mul_ps(d, _mm256_set1_ps(x[t * x_stride + 8 * b + j].d));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(sums[t], scale)), step, acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// Q2_K and Q3_K, per 32-value block (h, j) of a super-block: one shift per group gives
// the eight rows' two-bit codes (with the third bits for Q3_K), the first four groups
// summing the block's first sub-block in 16 bits and the last four its second (at most
// 4 x 2 x 7 x 127 = 7112). Each sub-block's pair sums meet their row's scale in one
// madd_epi16; the mins (Q2_K) or the codes' offset of 4 (Q3_K) meet the two half-block
// activation sums in another, so the block's integer total is exact before its one or
// two float steps.
template <int NT, typename Block>
DSINFER_AVX2 void gemm_low_bit_kx8_tile(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                                        float* out, int64_t out_stride) {
  constexpr bool kThreeBit = std::is_same_v<Block, BlockQ3_Kx8>;
  const __m256i two_bits = _mm256_set1_epi8(3);
  __m256 acc[NT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + 4);
    const Block& wb = w[b];
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.d)));
    for (int block = 0; block < 8; ++block) {
      const int h = block / 4, j = block % 4;
      __m256i high_bits = _mm256_setzero_si256();
      if constexpr (kThreeBit) high_bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb.hmask[block]));
      __m256i first[NT], second[NT];
      for (int k = 0; k < 8; ++k) {
        const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb.qs + 256 * h + 32 * k));
        __m256i codes = _mm256_and_si256(_mm256_srli_epi16(packed, 2 * j), two_bits);
        if constexpr (kThreeBit) codes = _mm256_or_si256(codes, x86::third_bit(high_bits, k));
        for (int t = 0; t < NT; ++t) {
          const __m256i p = _mm256_maddubs_epi16(codes, broadcast_group(x[t * x_stride + 8 * b + block].qs + 4 * k));
          __m256i& sum = k < 4 ? first[t] : second[t];
          sum = k % 4 == 0 ? p : _mm256_add_epi16(sum, p);
        }
      }
      const auto* scale_bytes = reinterpret_cast<const __m128i*>(wb.scales[2 * block]);
      const __m128i both = _mm_loadu_si128(scale_bytes);  // sub-blocks 2 block, 2 block + 1
      __m256i scale_lo, scale_hi, offsets;
      if constexpr (kThreeBit) {
        scale_lo = _mm256_cvtepi8_epi32(both);
        scale_hi = _mm256_cvtepi8_epi32(_mm_srli_si128(both, 8));
        offsets = x86::sixteen_bit_pairs(scale_lo, scale_hi);
      } else {
        const __m256i lo = _mm256_cvtepu8_epi32(both), hi = _mm256_cvtepu8_epi32(_mm_srli_si128(both, 8));
        const __m256i nibble = _mm256_set1_epi32(0x0F);
        scale_lo = _mm256_and_si256(lo, nibble);
        scale_hi = _mm256_and_si256(hi, nibble);
        offsets = x86::sixteen_bit_pairs(_mm256_srli_epi32(lo, 4), _mm256_srli_epi32(hi, 4));
      }
      scale_lo = x86::sixteen_bit_pairs(scale_lo, scale_lo);
      scale_hi = x86::sixteen_bit_pairs(scale_hi, scale_hi);
      for (int t = 0; t < NT; ++t) {
        const ActBlockQ8& xb = x[t * x_stride + 8 * b + block];
        const __m256i scaled = _mm256_add_epi32(_mm256_madd_epi16(first[t], scale_lo), _mm256_madd_epi16(second[t], scale_hi));
        const int half_sum = x86::first_half_sum(xb);
        const __m256i halves = _mm256_set1_epi32((half_sum & 0xFFFF) | (xb.sum - half_sum) << 16);
        const __m256i offset = _mm256_madd_epi16(offsets, halves);
        const __m256 step = _mm256_mul_ps(d, _mm256_set1_ps(xb.d));
        if constexpr (kThreeBit) {
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(scaled, _mm256_slli_epi32(offset, 2))), step,
                                   acc[t]);
        } else {
          const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.dmin)));
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(scaled), step, acc[t]);
          acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(offset), _mm256_mul_ps(dmin, _mm256_set1_ps(xb.d)), acc[t]);
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

template <typename Block>
void gemm_low_bit_kx8(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                      float* out, int64_t out_stride) {
  for_token_tiles<4>(n_tokens, [&](auto nt, int t) {
    gemm_low_bit_kx8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride,
                                               out_stride);
  });
}

void gemm_iq4_nlx8(const BlockIQ4_NLx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                   float* out, int64_t out_stride) {
  for_token_tiles<4>(n_tokens, [&](auto nt, int t) {
    gemm_iq4_nlx8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

void gemm_iq4_xsx8(const BlockIQ4_XSx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                   float* out, int64_t out_stride) {
  for_token_tiles<4>(n_tokens, [&](auto nt, int t) {
    gemm_iq4_xsx8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

// A Q6_Kx8 super-block's codes as signed bytes q - 32, group k of 32-value block m at
// 256 m + 32 k (four values of eight rows, as Q8_0x8 places them).
DSINFER_AVX2 inline void q6_k_signed_codes(const BlockQ6_Kx8& w, int8_t out[2048]) {
#pragma GCC unroll 8
  for (int block = 0; block < 8; ++block)
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k)
      _mm256_store_si256(reinterpret_cast<__m256i*>(out + 256 * block + 32 * k),
                         _mm256_sub_epi8(x86::q6_k_codes(w, block, k), _mm256_set1_epi8(32)));
}

// One super-block for NT tokens, its codes from q6_k_signed_codes, added to the rows' sums
// in out: maddubs takes |w| and x with w's sign, a 16-value half's four multiply-adds
// stay within 16 bits (4 x 2 x 32 x 127 = 32512; activations never reach -128), then each
// half adds d * scale * x.d * dot.
template <int NT>
DSINFER_AVX2 void add_q6_k_super_block(const int8_t* codes, const BlockQ6_Kx8& wb, const ActBlockQ8* x,
                                       int64_t x_stride, float* out, int64_t out_stride) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_loadu_ps(out + t * out_stride);
  const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.d)));
  for (int h = 0; h < 16; ++h) {
    __m256i sums[NT];
    for (int k = 0; k < 4; ++k) {
      const __m256i wq = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + 128 * h + 32 * k));
      const __m256i w_abs = _mm256_sign_epi8(wq, wq);
      for (int t = 0; t < NT; ++t) {
        const int8_t* xq = x[t * x_stride + h / 2].qs + 16 * (h % 2) + 4 * k;
        const __m256i part = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(broadcast_group(xq), wq));
        sums[t] = k == 0 ? part : _mm256_add_epi16(sums[t], part);
      }
    }
    const __m256 scale = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(wb.scales[h])))));
    for (int t = 0; t < NT; ++t) {
      const __m256i dot = _mm256_madd_epi16(sums[t], ones);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                               _mm256_mul_ps(scale, _mm256_set1_ps(x[t * x_stride + h / 2].d)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// Each super-block's codes decoded once for all the tokens (a prompt's tiles would
// otherwise decode them once per four tokens), every token's sums carried through out in
// the order a lone token's would take.
DSINFER_AVX2 void gemm_q6_kx8(const BlockQ6_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride,
                              int n_tokens, float* out, int64_t out_stride) {
  for (int t = 0; t < n_tokens; ++t) _mm256_storeu_ps(out + t * out_stride, _mm256_setzero_ps());
  alignas(32) int8_t codes[2048];
  for (int64_t b = 0; b < n_blocks; ++b) {
    prefetch_block(w + b + 4);
    q6_k_signed_codes(w[b], codes);
    for_token_tiles<4>(n_tokens, [&](auto nt, int t) {
      add_q6_k_super_block<decltype(nt)::value>(codes, w[b], x + t * x_stride + 8 * b, x_stride, out + t * out_stride,
                                                out_stride);
    });
  }
}

void gemm_q4_kx8(const BlockQ4_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  for_token_tiles<4>(n_tokens, [&](auto nt, int t) {
    gemm_kx8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

void gemm_q5_kx8(const BlockQ5_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  for_token_tiles<4>(n_tokens, [&](auto nt, int t) {
    gemm_kx8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

void gemm_q4_0x8(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  for_token_tiles<8>(n_tokens, [&](auto nt, int t) {
    gemm_q4_0x8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

template <typename Block>
void gemm_q5x8(const Block* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens, float* out,
               int64_t out_stride) {
  for_token_tiles<8>(n_tokens, [&](auto nt, int t) {
    gemm_q5x8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

void gemm_q8_0x8(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  for_token_tiles<4>(n_tokens, [&](auto nt, int t) {
    gemm_q8_0x8_tile<decltype(nt)::value>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
  });
}

void gemm_fp4x8(const BlockFp4x8* w, int64_t n_blocks, const float* x, int64_t x_stride, int n_tokens, float* out,
                int64_t out_stride) {
  for (int t = 0; t < n_tokens; t += 2) {
    if (n_tokens - t >= 2) {
      gemm_fp4x8_tile<2>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
    } else {
      gemm_fp4x8_tile<1>(w, n_blocks, x + t * x_stride, x_stride, out + t * out_stride, out_stride);
    }
  }
}

}  // namespace

// In their own file, compiled without floating-point contraction.
void sequential_dots8_avx2(const float* q, const float* const* rows, int64_t n, float out[8]);
void sequential_dots_heads8_avx2(const float* q_columns, const float* const* rows, int n_rows, int64_t n, float* out);
void weighted_sum_avx2(float* o, const float* p, const float* const* rows, int64_t n_rows, int64_t d);
// weighted_sums_x86.cpp
void weighted_sums_avx2(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                        const float* const* rows, int64_t n_rows, int64_t d, bool onward);
bool widen_stored_avx2(DType dtype, const void* src, float* dst, int64_t n);
bool weighted_sums_stored_avx2(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride,
                               int n_heads, const void* const* rows, int64_t n_rows, int64_t d);
// attention_tiles_avx2.cpp
namespace {

// Kernels::dot_grid_rows per 32-value block: the activations made unsigned (x + 128) by
// the signed codes (|code| <= 62, so no pair of products saturates 16 bits), each lane of
// four starting from -128 times its codes; rows in two sets of four, even and odd blocks
// in two sums each: the AVX-512 kernel's lanes, so both give the same bits.
DSINFER_AVX2 void dot_grid_rows(const GridCodes codes[8], const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                                float* acc) {
  const __m256i high_bit = _mm256_set1_epi8(static_cast<char>(0x80)), ones = _mm256_set1_epi16(1);
  __m256i bias[8][8];
  __m256 lane_steps[8][8];
  for (int r = 0; r < 8; ++r)
    for (int b = 0; b < 8; ++b) {
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes[r].codes + 32 * b));
      bias[r][b] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_madd_epi16(_mm256_maddubs_epi16(high_bit, c), ones));
      lane_steps[r][b] = _mm256_set_m128(_mm_set1_ps(codes[r].steps[2 * b + 1]), _mm_set1_ps(codes[r].steps[2 * b]));
    }
  for (int t = 0; t < n_tokens; ++t) {
    const ActBlockQ8* xt = x + t * x_stride;
    for (int r0 = 0; r0 < 8; r0 += 4) {
      __m256 sums[4][2];
#pragma GCC unroll 8
      for (int b = 0; b < 8; ++b) {
        const __m256i q =
            _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt[b].qs)), high_bit);
        const __m256 scale = _mm256_set1_ps(xt[b].d);
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) {
          const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes[r0 + r].codes + 32 * b));
          const __m256i dots = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, c), ones), bias[r0 + r][b]);
          const __m256 products = _mm256_cvtepi32_ps(dots), factors = _mm256_mul_ps(lane_steps[r0 + r][b], scale);
          sums[r][b % 2] = b < 2 ? _mm256_mul_ps(products, factors) : _mm256_fmadd_ps(products, factors, sums[r][b % 2]);
        }
      }
      for (int r = 0; r < 4; ++r)
        for (int h = 0; h < 2; ++h) {
          float* a = acc + 16 * (8 * t + r0 + r) + 8 * h;
          _mm256_storeu_ps(a, _mm256_add_ps(_mm256_loadu_ps(a), sums[r][h]));
        }
    }
  }
}

// Kernels::absorb_columns_q4_0 in eight lanes, two registers to a line's sixteen columns:
// per line its low and high nibbles multiplied by four digits each (VPMADDUBSW), the two
// products' pairs added in 16 bits (at most 4 * 15 * 127) and then into the columns' sums.
template <int64_t kAhead>
DSINFER_AVX2 void absorb_columns_q4_0(float* out, const float* q, const uint8_t* head, int64_t nope, int64_t rank) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  const int64_t lines = nope / 8, block_bytes = 18 * nope;
  alignas(32) float a[kMaxAbsorbColumnsNope];
  ActBlockQ8 x[kMaxAbsorbColumnsNope / 32];
  auto four_digits = [](const int8_t* qs) {
    int32_t four;
    std::memcpy(&four, qs, 4);
    return four;
  };
  for (int64_t cb = 0; cb < rank / 32; ++cb) {
    const uint8_t* scales = head + cb * block_bytes;
    for (int64_t line = 0; line < 2 * nope; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(scales) + kAhead + line, _MM_HINT_T0);
    for (int64_t d = 0; d < nope; d += 8) {
      const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 2 * d));
      _mm256_store_ps(a + d, _mm256_mul_ps(_mm256_loadu_ps(q + d), _mm256_cvtph_ps(s)));
    }
    quantize_act_q8(a, x, nope);
    for (int64_t g = 0; g < 2; ++g) {
      const uint8_t* group = scales + 2 * nope + g * lines * 64;
      __m256 sums[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int64_t b = 0; b < nope / 32; ++b) {
        __m256i dots[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int64_t m = 0; m < 4; ++m) {
          const uint8_t* line = group + (4 * b + m) * 64;
          _mm_prefetch(reinterpret_cast<const char*>(line) + kAhead, _MM_HINT_T0);
          const __m256i low = _mm256_set1_epi32(four_digits(x[b].qs + 8 * m));
          const __m256i high = _mm256_set1_epi32(four_digits(x[b].qs + 8 * m + 4));
          for (int half = 0; half < 2; ++half) {
            const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(line + 32 * half));
            const __m256i pairs = _mm256_add_epi16(
                _mm256_maddubs_epi16(_mm256_and_si256(codes, low4), low),
                _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(codes, 4), low4), high));
            dots[half] = _mm256_add_epi32(dots[half], _mm256_madd_epi16(pairs, ones));
          }
        }
        const __m256i offset = _mm256_set1_epi32(8 * x[b].sum);
        const __m256 d = _mm256_set1_ps(x[b].d);
        for (int half = 0; half < 2; ++half)
          sums[half] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(dots[half], offset)), d, sums[half]);
      }
      _mm256_storeu_ps(out + 32 * cb + 16 * g, sums[0]);
      _mm256_storeu_ps(out + 32 * cb + 16 * g + 8, sums[1]);
    }
  }
}

}  // namespace

void key_block_scores_avx2(const float* const* q, int nq, const float* keys_t, int64_t d, int64_t n_blocks,
                           float scale, float* scores, int64_t stride);
void value_row_sums_avx2(const float* p, int64_t p_stride, int nq, const float* v, int64_t v_stride, int64_t n_keys,
                         int64_t d, float* out, int64_t out_stride);
float exp_and_sum_avx2(float* v, int64_t n, float shift);
void swiglu_avx2(float* gate, const float* up, int64_t n, float limit);

const Kernels& avx2_kernels() {
  static const Kernels table = [] {
    Kernels k{"avx2",   dot_f32,  dot_bf16,        dot_f16,   dot_f8e4m3, dot_q8_0,
              dot_q4_0, quantize_act_q8, dot4_bf16, dot4_q8_0,  dot4_q4_0,
              gemm_q4_0x8, gemm_q8_0x8, gemm_q4_kx8, gemm_q5_kx8, gemm_q6_kx8,
              gemm_fp4x8, sequential_dots8_avx2, weighted_sum_avx2,
              key_block_scores_avx2, value_row_sums_avx2, exp_and_sum_avx2, dot4_f8e4m3};
    k.weighted_rows_q4_0 = weighted_rows_q4_0;
    k.weighted_rows_q8_0 = weighted_rows_q8_0;
    k.weighted_rows_tokens_q4_0 = weighted_rows_tokens<BlockQ4_0>;
    k.weighted_rows_tokens_q8_0 = weighted_rows_tokens<BlockQ8_0>;
    k.absorb_columns_q4_0 = absorb_columns_q4_0<x86::kPrefetchBytes>;
    k.swiglu = swiglu_avx2;
    k.sequential_dots_heads8 = sequential_dots_heads8_avx2;
    k.weighted_sums = weighted_sums_avx2;
    k.weighted_sums_stored = weighted_sums_stored_avx2;
    k.dot2_bf16 = dot2_bf16;
    k.dot2_f32 = dot2_f32;
    k.gemm_q5_0x8 = gemm_q5x8<BlockQ5_0x8>;
    k.gemm_q5_1x8 = gemm_q5x8<BlockQ5_1x8>;
    k.gemm_iq4_nlx8 = gemm_iq4_nlx8;
    k.gemm_q2_kx8 = gemm_low_bit_kx8<BlockQ2_Kx8>;
    k.gemm_q3_kx8 = gemm_low_bit_kx8<BlockQ3_Kx8>;
    k.gemm_iq4_xsx8 = gemm_iq4_xsx8;
    k.dot_grid_rows = dot_grid_rows;
    k.decode_grid = decode_grid_codes;
    k.widen_stored = widen_stored_avx2;
    return k;
  }();
  return table;
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
