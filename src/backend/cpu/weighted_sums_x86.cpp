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
#include "backend/cpu/weighted_sums_passes.h"
#include "core/dtype.h"

#define DSINFER_AVX2_SEQ __attribute__((target("avx2,fma,f16c")))
#define DSINFER_AVX512_SEQ __attribute__((target("avx2,fma,f16c,avx512f")))

namespace dsinfer::cpu {
namespace {

using namespace weighted_sums_passes;

// The value types with their loads of sixteen and of eight values from column c (a
// multiple of the vector's width).
struct F32Values : F32Row {
  DSINFER_AVX512_SEQ static __m512 sixteen(Row row, int64_t c) { return _mm512_loadu_ps(row + c); }
  DSINFER_AVX2_SEQ static __m256 eight(Row row, int64_t c) { return _mm256_loadu_ps(row + c); }
};

struct F16Values : F16Row {
  DSINFER_AVX512_SEQ static __m512 sixteen(Row row, int64_t c) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(of(row) + c)));
  }
  DSINFER_AVX2_SEQ static __m256 eight(Row row, int64_t c) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(of(row) + c)));
  }
};

struct BF16Values : BF16Row {
  DSINFER_AVX512_SEQ static __m512 sixteen(Row row, int64_t c) {
    const __m512i words = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(of(row) + c)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(words, 16));
  }
  DSINFER_AVX2_SEQ static __m256 eight(Row row, int64_t c) {
    const __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(of(row) + c)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(words, 16));
  }
};

struct Q8_0Values : Q8_0Row {
  DSINFER_AVX512_SEQ static __m512 sixteen(Row row, int64_t c) {
    const __m128i codes = _mm_loadu_si128(static_cast<const __m128i*>(at(row, c)));
    return _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(block(row, c).d)), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(codes)));
  }
  DSINFER_AVX2_SEQ static __m256 eight(Row row, int64_t c) {
    const __m128i codes = _mm_loadl_epi64(static_cast<const __m128i*>(at(row, c)));
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(block(row, c).d)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes)));
  }
};

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

}  // namespace

void weighted_sums_avx512(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                          const float* const* rows, int64_t n_rows, int64_t d, bool onward) {
  sums_avx512<F32Values>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
}

bool weighted_sums_stored_avx512(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                 int n_heads, const void* const* rows, int64_t n_rows, int64_t d) {
  return for_stored_format<F16Values, BF16Values, Q8_0Values>(dtype, [&](auto values) {
    sums_avx512<decltype(values)>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, false);
  });
}

bool widen_stored_avx512(DType dtype, const void* src, float* dst, int64_t n) {
  return for_stored_format<F16Values, BF16Values, Q8_0Values>(dtype, [&](auto values) {
    widen_avx512<decltype(values)>(src, dst, n);
  });
}

void weighted_sums_avx2(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                        const float* const* rows, int64_t n_rows, int64_t d, bool onward) {
  sums_avx2<F32Values>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
}

bool weighted_sums_stored_avx2(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride,
                               int n_heads, const void* const* rows, int64_t n_rows, int64_t d) {
  return for_stored_format<F16Values, BF16Values, Q8_0Values>(dtype, [&](auto values) {
    sums_avx2<decltype(values)>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, false);
  });
}

bool widen_stored_avx2(DType dtype, const void* src, float* dst, int64_t n) {
  return for_stored_format<F16Values, BF16Values, Q8_0Values>(dtype, [&](auto values) {
    widen_avx2<decltype(values)>(src, dst, n);
  });
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
