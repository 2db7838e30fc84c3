// Kernels::weighted_sums and weighted_sums_stored in four lanes (AArch64 Advanced SIMD):
// the weighted sums of several heads over the same rows (MLA decode: every head's softmax
// weights over one sequence's latent rows), each row read once for a group of eight heads
// rather than once per head. Each head's column is weighted_sum's chain: a multiply, then
// an add onto the sum so far, rows in order from zero, so the bits are those of the x86
// tables (weighted_sums_x86.cpp, the same passes in wider lanes). Rows of float32, or of
// F16 / BF16 / Q8_0 (a compact latent cache) widened exactly as they are loaded; and
// Kernels::widen_stored, those rows widened; and Kernels::weighted_sum, one head's sums.
// This file is compiled with -ffp-contract=off: a fused multiply-add would round once.
#if defined(__aarch64__)

#include <arm_neon.h>

#include <cstring>

#include "backend/cpu/kernels.h"
#include "backend/cpu/weighted_sums_passes.h"

namespace dsinfer::cpu {
namespace {

using namespace weighted_sums_passes;

// The value types with their loads of four values from column c (a multiple of four).
struct F32Values : F32Row {
  static float32x4_t four(Row row, int64_t c) { return vld1q_f32(row + c); }
};

struct F16Values : F16Row {
  static float32x4_t four(Row row, int64_t c) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(of(row) + c))); }
};

struct BF16Values : BF16Row {
  static float32x4_t four(Row row, int64_t c) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(of(row) + c), 16)); }
};

// Four codes are read as one 32-bit word: eight could run past the row's last block.
struct Q8_0Values : Q8_0Row {
  static float32x4_t four(Row row, int64_t c) {
    int32_t word;
    std::memcpy(&word, at(row, c), sizeof word);
    const int16x8_t codes = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(word)));
    const float32x4_t values = vcvtq_f32_s32(vmovl_s16(vget_low_s16(codes)));
    const float32x4_t scale = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(block(row, c).d)));
    return vmulq_f32(values, scale);
  }
};

// Columns [c, c + 4 NV) of NH heads' sums over rows [i0, i1) of n_rows: from zero, or
// onward from what the previous pass (or call) stored (a float stored and loaded back is
// the same float, so the chains keep their bits). Eight heads of eight columns hold
// sixteen of the 32 vector registers.
template <int NH, int NV, class V>
inline void sum_block(float* o, int64_t o_stride, const float* p, int64_t p_stride, const typename V::Row* rows,
                      int64_t i0, int64_t i1, int64_t n_rows, bool from_zero, int64_t c) {
  float32x4_t acc[NH][NV];
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v) acc[h][v] = from_zero ? vdupq_n_f32(0.0f) : vld1q_f32(o + h * o_stride + c + 4 * v);
  for (int64_t i = i0; i < i1; ++i) {
    // The same columns of the next pass's rows, a pass ahead: the rows are a latent row
    // apart, a stride the hardware's prefetchers may not follow.
    if (i + kRowsPerPass < n_rows) __builtin_prefetch(V::at(rows[i + kRowsPerPass], c));
    float32x4_t values[NV];
    for (int v = 0; v < NV; ++v) values[v] = V::four(rows[i], c + 4 * v);
    for (int h = 0; h < NH; ++h) {
      const float weight = p[h * p_stride + i];
      for (int v = 0; v < NV; ++v) acc[h][v] = vaddq_f32(acc[h][v], vmulq_n_f32(values[v], weight));
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v) vst1q_f32(o + h * o_stride + c + 4 * v, acc[h][v]);
}

// NH heads over rows [i0, i1), every column.
template <int NH, class V>
void sum_pass(float* o, int64_t o_stride, const float* p, int64_t p_stride, const typename V::Row* rows, int64_t i0,
              int64_t i1, int64_t n_rows, bool from_zero, int64_t d) {
  int64_t c = 0;
  for (; c + 8 <= d; c += 8) sum_block<NH, 2, V>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, from_zero, c);
  for (; c + 4 <= d; c += 4) sum_block<NH, 1, V>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, from_zero, c);
  sum_columns_one_by_one<V>(o, o_stride, p, p_stride, NH, rows, i0, i1, from_zero, c, d);
}

template <class V>
void sums(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads, const typename V::Row* rows,
          int64_t n_rows, int64_t d, bool onward) {
  static constexpr PassFn<V> kPasses[] = {sum_pass<1, V>, sum_pass<2, V>, sum_pass<3, V>, sum_pass<4, V>,
                                          sum_pass<5, V>, sum_pass<6, V>, sum_pass<7, V>, sum_pass<8, V>};
  sum_in_passes<V>(kPasses, o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
}

// n values of a row stored as V holds them, widened into dst.
template <class V>
void widen(typename V::Row row, float* dst, int64_t n) {
  int64_t c = 0;
  for (; c + 4 <= n; c += 4) vst1q_f32(dst + c, V::four(row, c));
  for (; c < n; ++c) dst[c] = V::one(row, c);
}

}  // namespace

void weighted_sums_neon(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                        const float* const* rows, int64_t n_rows, int64_t d, bool onward) {
  sums<F32Values>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, onward);
}

// Kernels::weighted_sum: the same chains for one head.
void weighted_sum_neon(float* o, const float* p, const float* const* rows, int64_t n_rows, int64_t d) {
  sums<F32Values>(o, 0, p, 0, 1, rows, n_rows, d, false);
}

bool weighted_sums_stored_neon(DType dtype, float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                               const void* const* rows, int64_t n_rows, int64_t d) {
  return for_stored_format<F16Values, BF16Values, Q8_0Values>(dtype, [&](auto values) {
    sums<decltype(values)>(o, o_stride, p, p_stride, n_heads, rows, n_rows, d, false);
  });
}

bool widen_stored_neon(DType dtype, const void* src, float* dst, int64_t n) {
  return for_stored_format<F16Values, BF16Values, Q8_0Values>(dtype, [&](auto values) {
    widen<decltype(values)>(src, dst, n);
  });
}

}  // namespace dsinfer::cpu

#endif  // __aarch64__
