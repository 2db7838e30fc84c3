// Kernels::weighted_sums in sixteen lanes (AVX-512) and in eight (AVX2): the weighted sums
// of several heads over the same rows (MLA decode: every head's softmax weights over one
// sequence's latent rows), each row read once for a group of heads (eight with 32 vector
// registers, four with 16). Each head's column is weighted_sum's chain: a multiply, then
// an add onto the sum so far, rows in order from zero. Rows of float32, or of F16 / BF16 /
// Q8_0 (a compact latent cache) widened exactly as they are loaded, so their sums have the
// bits of sums over the widened rows; and Kernels::widen_stored, those rows widened. The
// two ISAs keep separate copies of the loops: a template carries one target attribute.
// This file is compiled with -ffp-contract=off: a fused multiply-add would round once.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>

#include "backend/cpu/kernels.h"
#include "core/dtype.h"

#define DSINFER_AVX2_SEQ __attribute__((target("avx2,fma,f16c")))
#define DSINFER_AVX512_SEQ __attribute__((target("avx2,fma,f16c,avx512f")))

namespace dsinfer::cpu {
namespace {

// Rows per pass: a pass keeps its rows (32 latent rows of 576 floats, 72 KiB) in L2 while
// each group of eight heads goes over them, column block by column block, so a long
// context is read from memory once per step instead of once per head.
constexpr int64_t kRowsPerPass = 32;

// How rows hold their values (float32 rows, or a compact row's bytes), and how value c,
// or the vector of values from column c (a multiple of the vector's width), widens to
// float32; `at`: where it is stored.
struct F32Values {
  using Row = const float*;
  static const void* at(Row row, int64_t c) { return row + c; }
  static float one(Row row, int64_t c) { return row[c]; }
  DSINFER_AVX512_SEQ static __m512 sixteen(Row row, int64_t c) { return _mm512_loadu_ps(row + c); }
  DSINFER_AVX2_SEQ static __m256 eight(Row row, int64_t c) { return _mm256_loadu_ps(row + c); }
};

struct F16Values {
  using Row = const void*;
  static const uint16_t* of(Row row) { return static_cast<const uint16_t*>(row); }
  static const void* at(Row row, int64_t c) { return of(row) + c; }
  static float one(Row row, int64_t c) { return f16_to_f32(of(row)[c]); }
  DSINFER_AVX512_SEQ static __m512 sixteen(Row row, int64_t c) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(of(row) + c)));
  }
  DSINFER_AVX2_SEQ static __m256 eight(Row row, int64_t c) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(of(row) + c)));
  }
};

// BF16 is the high half of a float32.
struct BF16Values {
  using Row = const void*;
  static const uint16_t* of(Row row) { return static_cast<const uint16_t*>(row); }
  static const void* at(Row row, int64_t c) { return of(row) + c; }
  static float one(Row row, int64_t c) { return bf16_to_f32(of(row)[c]); }
  DSINFER_AVX512_SEQ static __m512 sixteen(Row row, int64_t c) {
    const __m512i words = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(of(row) + c)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(words, 16));
  }
  DSINFER_AVX2_SEQ static __m256 eight(Row row, int64_t c) {
    const __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(of(row) + c)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(words, 16));
  }
};

// Q8_0: value c is its block's scale times its code, one rounding, as dequantize_q8_0.
struct Q8_0Values {
  using Row = const void*;
  static const BlockQ8_0& block(Row row, int64_t c) { return static_cast<const BlockQ8_0*>(row)[c / 32]; }
  static const void* at(Row row, int64_t c) { return block(row, c).qs + c % 32; }
  static float one(Row row, int64_t c) {
    return f16_to_f32(block(row, c).d) * static_cast<float>(block(row, c).qs[c % 32]);
  }
  DSINFER_AVX512_SEQ static __m512 sixteen(Row row, int64_t c) {
    const __m128i codes = _mm_loadu_si128(static_cast<const __m128i*>(at(row, c)));
    return _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(block(row, c).d)), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(codes)));
  }
  DSINFER_AVX2_SEQ static __m256 eight(Row row, int64_t c) {
    const __m128i codes = _mm_loadl_epi64(static_cast<const __m128i*>(at(row, c)));
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(block(row, c).d)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes)));
  }
};

// Columns [c0, d) that fill no vector, the same chains one value at a time.
template <class V>
void sum_columns_one_by_one(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                            const typename V::Row* rows, int64_t i0, int64_t i1, bool from_zero, int64_t c0,
                            int64_t d) {
  for (int64_t c = c0; c < d; ++c)
    for (int h = 0; h < n_heads; ++h) {
      float sum = from_zero ? 0.0f : o[h * o_stride + c];
      for (int64_t i = i0; i < i1; ++i) sum += p[h * p_stride + i] * V::one(rows[i], c);
      o[h * o_stride + c] = sum;
    }
}

// Columns [c, c + 16 NV) of NH heads' sums over rows [i0, i1) of n_rows: from zero, or
// onward from what the previous pass (or call) stored (a float stored and loaded back is
// the same float, so the chains keep their bits).
template <int NH, int NV, class V>
DSINFER_AVX512_SEQ inline void sum_block(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                         const typename V::Row* rows, int64_t i0, int64_t i1,
                                         int64_t n_rows, bool from_zero, int64_t c) {
  __m512 acc[NH][NV];
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v)
      acc[h][v] = from_zero ? _mm512_setzero_ps() : _mm512_loadu_ps(o + h * o_stride + c + 16 * v);
  for (int64_t i = i0; i < i1; ++i) {
    // The same columns of the next pass's rows, a pass ahead: the rows are a latent row's
    // 2.3 KiB apart, a stride the hardware's prefetchers left to stall (decode at 4,096
    // positions: 0.81x the per-head token time without this, 0.70-0.73x with).
    if (i + kRowsPerPass < n_rows)
      for (int v = 0; v < NV; ++v)
        _mm_prefetch(static_cast<const char*>(V::at(rows[i + kRowsPerPass], c + 16 * v)), _MM_HINT_T0);
    __m512 values[NV];
    for (int v = 0; v < NV; ++v) values[v] = V::sixteen(rows[i], c + 16 * v);
    for (int h = 0; h < NH; ++h) {
      const __m512 weight = _mm512_set1_ps(p[h * p_stride + i]);
      for (int v = 0; v < NV; ++v) acc[h][v] = _mm512_add_ps(acc[h][v], _mm512_mul_ps(weight, values[v]));
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(o + h * o_stride + c + 16 * v, acc[h][v]);
}

// NH heads over rows [i0, i1), every column.
template <int NH, class V>
DSINFER_AVX512_SEQ void sum_pass(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                 const typename V::Row* rows, int64_t i0, int64_t i1, int64_t n_rows,
                                 bool from_zero, int64_t d) {
  int64_t c = 0;
  for (; c + 32 <= d; c += 32) sum_block<NH, 2, V>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, from_zero, c);
  for (; c + 16 <= d; c += 16) sum_block<NH, 1, V>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, from_zero, c);
  sum_columns_one_by_one<V>(o, o_stride, p, p_stride, NH, rows, i0, i1, from_zero, c, d);
}

// sum_block and sum_pass in eight lanes, four heads at a time.
template <int NH, int NV, class V>
DSINFER_AVX2_SEQ inline void sum_block8(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                        const typename V::Row* rows, int64_t i0, int64_t i1,
                                        int64_t n_rows, bool from_zero, int64_t c) {
  __m256 acc[NH][NV];
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v)
      acc[h][v] = from_zero ? _mm256_setzero_ps() : _mm256_loadu_ps(o + h * o_stride + c + 8 * v);
  for (int64_t i = i0; i < i1; ++i) {
    if (i + kRowsPerPass < n_rows)  // at most sixteen columns: one line
      _mm_prefetch(static_cast<const char*>(V::at(rows[i + kRowsPerPass], c)), _MM_HINT_T0);
    __m256 values[NV];
    for (int v = 0; v < NV; ++v) values[v] = V::eight(rows[i], c + 8 * v);
    for (int h = 0; h < NH; ++h) {
      const __m256 weight = _mm256_set1_ps(p[h * p_stride + i]);
      for (int v = 0; v < NV; ++v) acc[h][v] = _mm256_add_ps(acc[h][v], _mm256_mul_ps(weight, values[v]));
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(o + h * o_stride + c + 8 * v, acc[h][v]);
}

template <int NH, class V>
DSINFER_AVX2_SEQ void sum_pass8(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                const typename V::Row* rows, int64_t i0, int64_t i1, int64_t n_rows,
                                bool from_zero, int64_t d) {
  int64_t c = 0;
  for (; c + 16 <= d; c += 16) sum_block8<NH, 2, V>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, from_zero, c);
  for (; c + 8 <= d; c += 8) sum_block8<NH, 1, V>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, from_zero, c);
  sum_columns_one_by_one<V>(o, o_stride, p, p_stride, NH, rows, i0, i1, from_zero, c, d);
}

// One pass's sums for a group of heads: sum_pass<n, V> or sum_pass8<n, V>.
template <class V>
using PassFn = void (*)(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                        const typename V::Row* rows, int64_t i0, int64_t i1, int64_t n_rows, bool from_zero,
                        int64_t d);

// weighted_sums pass by pass, heads in groups of up to N: passes[n - 1] sums n heads.
template <class V, size_t N>
void sum_in_passes(const PassFn<V> (&passes)[N], float* o, int64_t o_stride, const float* p, int64_t p_stride,
                   int n_heads, const typename V::Row* rows, int64_t n_rows, int64_t d, bool onward) {
  if (n_rows == 0) {
    if (!onward)
      for (int h = 0; h < n_heads; ++h) std::fill_n(o + h * o_stride, d, 0.0f);
    return;
  }
  const int group = static_cast<int>(N);
  for (int64_t i0 = 0; i0 < n_rows; i0 += kRowsPerPass)
    for (int h = 0; h < n_heads; h += group)
      passes[std::min(group, n_heads - h) - 1](o + h * o_stride, o_stride, p + h * p_stride, p_stride, rows, i0,
                                               std::min(i0 + kRowsPerPass, n_rows), n_rows, i0 == 0 && !onward, d);
}

template <class V>
void sums_avx512(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                 const typename V::Row* rows, int64_t n_rows, int64_t d, bool onward) {
  static constexpr PassFn<V> kPasses[] = {sum_pass<1, V>, sum_pass<2, V>, sum_pass<3, V>, sum_pass<4, V>,
                                          sum_pass<5, V>, sum_pass<6, V>, sum_pass<7, V>, sum_pass<8, V>};
  sum_in_passes<V>(kPasses, o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
}

// n values of a row stored as V holds them, widened into dst.
template <class V>
DSINFER_AVX512_SEQ void widen_avx512(typename V::Row row, float* dst, int64_t n) {
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) _mm512_storeu_ps(dst + c, V::sixteen(row, c));
  for (; c < n; ++c) dst[c] = V::one(row, c);
}

template <class V>
DSINFER_AVX2_SEQ void widen_avx2(typename V::Row row, float* dst, int64_t n) {
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) _mm256_storeu_ps(dst + c, V::eight(row, c));
  for (; c < n; ++c) dst[c] = V::one(row, c);
}

template <class V>
void sums_avx2(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
               const typename V::Row* rows, int64_t n_rows, int64_t d, bool onward) {
  static constexpr PassFn<V> kPasses[] = {sum_pass8<1, V>, sum_pass8<2, V>, sum_pass8<3, V>, sum_pass8<4, V>};
  sum_in_passes<V>(kPasses, o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
}

// work(V{}) for the Values type of a compact format; false for any other.
template <class Work>
bool for_stored_format(DType dtype, Work&& work) {
  switch (dtype) {
    case DType::kF16: work(F16Values{}); return true;
    case DType::kBF16: work(BF16Values{}); return true;
    case DType::kQ8_0: work(Q8_0Values{}); return true;
    default: return false;
  }
}

}  // namespace

void weighted_sums_avx512(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                          const float* const* rows, int64_t n_rows, int64_t d, bool onward) {
  sums_avx512<F32Values>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
}

bool weighted_sums_stored_avx512(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                 int n_heads, const void* const* rows, int64_t n_rows, int64_t d) {
  return for_stored_format(dtype, [&](auto values) {
    sums_avx512<decltype(values)>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, false);
  });
}

bool widen_stored_avx512(DType dtype, const void* src, float* dst, int64_t n) {
  return for_stored_format(dtype, [&](auto values) { widen_avx512<decltype(values)>(src, dst, n); });
}

void weighted_sums_avx2(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                        const float* const* rows, int64_t n_rows, int64_t d, bool onward) {
  sums_avx2<F32Values>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
}

bool weighted_sums_stored_avx2(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride,
                               int n_heads, const void* const* rows, int64_t n_rows, int64_t d) {
  return for_stored_format(dtype, [&](auto values) {
    sums_avx2<decltype(values)>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, false);
  });
}

bool widen_stored_avx2(DType dtype, const void* src, float* dst, int64_t n) {
  return for_stored_format(dtype, [&](auto values) { widen_avx2<decltype(values)>(src, dst, n); });
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
