// Dot products whose sums run in index order with a rounding after every multiply and
// every add: the arithmetic of a plain `sum += q[c] * k[c]` loop, so results are bitwise
// those of the reference ops that are written that way (V4's sink attention, whose
// in-model FP8 roundings turn any other order into a different token now and then).
// Eight rows at a time, one per lane: eight independent chains instead of one. Also the
// weighted sum of rows that follows such dots, sum_i p_i v_i, a multiply and an add per
// value and row, in row order.
// This file is compiled with -ffp-contract=off: a fused multiply-add would round once.
#if defined(__x86_64__)

#include <immintrin.h>

#include <utility>

#include "backend/cpu/kernels.h"

#define DSINFER_AVX2_SEQ __attribute__((target("avx2,fma,f16c")))

namespace dsinfer::cpu {
namespace {

// Columns c..c+7 of eight rows, transposed: out[j] holds element c + j of every row.
DSINFER_AVX2_SEQ inline void transpose8(const float* const* rows, int64_t c, __m256 out[8]) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(rows[i] + c);
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  out[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  out[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  out[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  out[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  out[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  out[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  out[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  out[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

}  // namespace

DSINFER_AVX2_SEQ void sequential_dots8_avx2(const float* q, const float* const* rows, int64_t n, float out[8]) {
  __m256 sum = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) {
    __m256 column[8];
    transpose8(rows, c, column);
    for (int j = 0; j < 8; ++j) sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_set1_ps(q[c + j]), column[j]));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  for (; c < n; ++c)
    for (int i = 0; i < 8; ++i) lanes[i] += q[c] * rows[i][c];
  for (int i = 0; i < 8; ++i) out[i] = lanes[i];
}

// R rows in R chains, each row's value at c broadcast against column c of the queries.
template <int R>
DSINFER_AVX2_SEQ void dots_heads8(const float* q_columns, const float* const* rows, int64_t n, float* out) {
  __m256 sum[R];
  for (auto& s : sum) s = _mm256_setzero_ps();
  for (int64_t c = 0; c < n; ++c) {
    const __m256 column = _mm256_loadu_ps(q_columns + 8 * c);
    for (int r = 0; r < R; ++r) sum[r] = _mm256_add_ps(sum[r], _mm256_mul_ps(column, _mm256_broadcast_ss(rows[r] + c)));
  }
  for (int r = 0; r < R; ++r) _mm256_storeu_ps(out + 8 * r, sum[r]);
}

DSINFER_AVX2_SEQ void sequential_dots_heads8_avx2(const float* q_columns, const float* const* rows, int n_rows,
                                                  int64_t n, float* out) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((n_rows == I + 1 ? dots_heads8<I + 1>(q_columns, rows, n, out) : void()), ...);
  }(std::make_integer_sequence<int, kMaxHeadDotRows>{});
}

DSINFER_AVX2_SEQ void weighted_sum_avx2(float* o, const float* p, const float* const* rows, int64_t n_rows,
                                         int64_t d) {
  // 64 columns at a time stay in registers while every row goes by, each column summed
  // over the rows in order, from zero.
  int64_t c = 0;
  for (; c + 64 <= d; c += 64) {
    __m256 sum[8];
    for (auto& s : sum) s = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_rows; ++i) {
      const __m256 scale = _mm256_set1_ps(p[i]);
      for (int j = 0; j < 8; ++j)
        sum[j] = _mm256_add_ps(sum[j], _mm256_mul_ps(scale, _mm256_loadu_ps(rows[i] + c + 8 * j)));
    }
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(o + c + 8 * j, sum[j]);
  }
  for (; c + 8 <= d; c += 8) {
    __m256 sum = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_rows; ++i) sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_set1_ps(p[i]), _mm256_loadu_ps(rows[i] + c)));
    _mm256_storeu_ps(o + c, sum);
  }
  for (; c < d; ++c) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n_rows; ++i) sum += p[i] * rows[i][c];
    o[c] = sum;
  }
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
