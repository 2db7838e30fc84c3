// sequential_dots_avx2.cpp's kernels in four lanes (AArch64 Advanced SIMD): dot products
// whose sums run in index order with a rounding after every multiply and every add, the
// arithmetic of a plain `sum += q[c] * k[c]` loop (V4's sink attention, whose in-model
// FP8 roundings turn any other order into a different token now and then), eight rows at
// a time as two vectors of four chains (the weighted sum of rows that follows them is
// weighted_sums_neon.cpp's, for one head).
// This file is compiled with -ffp-contract=off: a fused multiply-add would round once.
#if defined(__aarch64__)

#include <arm_neon.h>

#include <utility>

#include "backend/cpu/kernels.h"

namespace dsinfer::cpu {
namespace {

// Columns c..c+3 of four rows, transposed: out[j] holds element c + j of every row.
inline void transpose4(const float* const* rows, int64_t c, float32x4_t out[4]) {
  const float32x4_t r0 = vld1q_f32(rows[0] + c), r1 = vld1q_f32(rows[1] + c);
  const float32x4_t r2 = vld1q_f32(rows[2] + c), r3 = vld1q_f32(rows[3] + c);
  const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1)), t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
  const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3)), t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
  out[0] = vreinterpretq_f32_f64(vtrn1q_f64(t0, t2));
  out[1] = vreinterpretq_f32_f64(vtrn1q_f64(t1, t3));
  out[2] = vreinterpretq_f32_f64(vtrn2q_f64(t0, t2));
  out[3] = vreinterpretq_f32_f64(vtrn2q_f64(t1, t3));
}

// R rows in R chains of eight lanes, each row's value at c broadcast against column c of
// the queries.
template <int R>
void dots_heads8(const float* q_columns, const float* const* rows, int64_t n, float* out) {
  float32x4_t sum[R][2];
  for (auto& s : sum) s[0] = s[1] = vdupq_n_f32(0.0f);
  for (int64_t c = 0; c < n; ++c) {
    const float32x4_t low = vld1q_f32(q_columns + 8 * c), high = vld1q_f32(q_columns + 8 * c + 4);
    for (int r = 0; r < R; ++r) {
      sum[r][0] = vaddq_f32(sum[r][0], vmulq_n_f32(low, rows[r][c]));
      sum[r][1] = vaddq_f32(sum[r][1], vmulq_n_f32(high, rows[r][c]));
    }
  }
  for (int r = 0; r < R; ++r) {
    vst1q_f32(out + 8 * r, sum[r][0]);
    vst1q_f32(out + 8 * r + 4, sum[r][1]);
  }
}

}  // namespace

void sequential_dots8_neon(const float* q, const float* const* rows, int64_t n, float out[8]) {
  float32x4_t sum[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  int64_t c = 0;
  for (; c + 4 <= n; c += 4)
    for (int half = 0; half < 2; ++half) {
      float32x4_t column[4];
      transpose4(rows + 4 * half, c, column);
      for (int j = 0; j < 4; ++j) sum[half] = vaddq_f32(sum[half], vmulq_n_f32(column[j], q[c + j]));
    }
  float lanes[8];
  vst1q_f32(lanes, sum[0]);
  vst1q_f32(lanes + 4, sum[1]);
  for (; c < n; ++c)
    for (int i = 0; i < 8; ++i) lanes[i] += q[c] * rows[i][c];
  for (int i = 0; i < 8; ++i) out[i] = lanes[i];
}

void sequential_dots_heads8_neon(const float* q_columns, const float* const* rows, int n_rows, int64_t n,
                                 float* out) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((n_rows == I + 1 ? dots_heads8<I + 1>(q_columns, rows, n, out) : void()), ...);
  }(std::make_integer_sequence<int, kMaxHeadDotRows>{});
}

}  // namespace dsinfer::cpu

#endif  // __aarch64__
