// Kernels::weighted_sums in sixteen lanes (AVX-512) and in eight (AVX2): the weighted sums
// of several heads over the same rows (MLA decode: every head's softmax weights over one
// sequence's latent rows), each row read once for a group of heads (eight with 32 vector
// registers, four with 16). Each head's column is weighted_sum's chain: a multiply, then
// an add onto the sum so far, rows in order from zero. The two ISAs keep separate copies
// of the loops: a template carries one target attribute.
// This file is compiled with -ffp-contract=off: a fused multiply-add would round once.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>

#include "backend/cpu/kernels.h"

#define DSINFER_AVX2_SEQ __attribute__((target("avx2,fma,f16c")))
#define DSINFER_AVX512_SEQ __attribute__((target("avx2,fma,f16c,avx512f")))

namespace dsinfer::cpu {
namespace {

// Rows per pass: a pass keeps its rows (32 latent rows of 576 floats, 72 KiB) in L2 while
// each group of eight heads goes over them, column block by column block, so a long
// context is read from memory once per step instead of once per head.
constexpr int64_t kRowsPerPass = 32;

// Columns [c0, d) that fill no vector, the same chains one value at a time.
void sum_columns_one_by_one(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                            const float* const* rows, int64_t i0, int64_t i1, int64_t c0, int64_t d) {
  for (int64_t c = c0; c < d; ++c)
    for (int h = 0; h < n_heads; ++h) {
      float sum = i0 == 0 ? 0.0f : o[h * o_stride + c];
      for (int64_t i = i0; i < i1; ++i) sum += p[h * p_stride + i] * rows[i][c];
      o[h * o_stride + c] = sum;
    }
}

// Columns [c, c + 16 NV) of NH heads' sums over rows [i0, i1) of n_rows: from zero when
// i0 is the first row, else onward from what the previous pass stored (a float stored and
// loaded back is the same float, so the chains keep their bits).
template <int NH, int NV>
DSINFER_AVX512_SEQ inline void sum_block(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                         const float* const* rows, int64_t i0, int64_t i1, int64_t n_rows, int64_t c) {
  __m512 acc[NH][NV];
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v)
      acc[h][v] = i0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(o + h * o_stride + c + 16 * v);
  for (int64_t i = i0; i < i1; ++i) {
    // The same columns of the next pass's rows, a pass ahead: the rows are a latent row's
    // 2.3 KiB apart, a stride the hardware's prefetchers left to stall (decode at 4,096
    // positions: 0.81x the per-head token time without this, 0.70-0.73x with).
    if (i + kRowsPerPass < n_rows)
      for (int v = 0; v < NV; ++v)
        _mm_prefetch(reinterpret_cast<const char*>(rows[i + kRowsPerPass] + c + 16 * v), _MM_HINT_T0);
    __m512 values[NV];
    for (int v = 0; v < NV; ++v) values[v] = _mm512_loadu_ps(rows[i] + c + 16 * v);
    for (int h = 0; h < NH; ++h) {
      const __m512 weight = _mm512_set1_ps(p[h * p_stride + i]);
      for (int v = 0; v < NV; ++v) acc[h][v] = _mm512_add_ps(acc[h][v], _mm512_mul_ps(weight, values[v]));
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(o + h * o_stride + c + 16 * v, acc[h][v]);
}

// NH heads over rows [i0, i1), every column.
template <int NH>
DSINFER_AVX512_SEQ void sum_pass(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                 const float* const* rows, int64_t i0, int64_t i1, int64_t n_rows, int64_t d) {
  int64_t c = 0;
  for (; c + 32 <= d; c += 32) sum_block<NH, 2>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, c);
  for (; c + 16 <= d; c += 16) sum_block<NH, 1>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, c);
  sum_columns_one_by_one(o, o_stride, p, p_stride, NH, rows, i0, i1, c, d);
}

// sum_block and sum_pass in eight lanes, four heads at a time.
template <int NH, int NV>
DSINFER_AVX2_SEQ inline void sum_block8(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                        const float* const* rows, int64_t i0, int64_t i1, int64_t n_rows, int64_t c) {
  __m256 acc[NH][NV];
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v)
      acc[h][v] = i0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(o + h * o_stride + c + 8 * v);
  for (int64_t i = i0; i < i1; ++i) {
    if (i + kRowsPerPass < n_rows)  // at most sixteen columns: one line
      _mm_prefetch(reinterpret_cast<const char*>(rows[i + kRowsPerPass] + c), _MM_HINT_T0);
    __m256 values[NV];
    for (int v = 0; v < NV; ++v) values[v] = _mm256_loadu_ps(rows[i] + c + 8 * v);
    for (int h = 0; h < NH; ++h) {
      const __m256 weight = _mm256_set1_ps(p[h * p_stride + i]);
      for (int v = 0; v < NV; ++v) acc[h][v] = _mm256_add_ps(acc[h][v], _mm256_mul_ps(weight, values[v]));
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(o + h * o_stride + c + 8 * v, acc[h][v]);
}

template <int NH>
DSINFER_AVX2_SEQ void sum_pass8(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                                const float* const* rows, int64_t i0, int64_t i1, int64_t n_rows, int64_t d) {
  int64_t c = 0;
  for (; c + 16 <= d; c += 16) sum_block8<NH, 2>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, c);
  for (; c + 8 <= d; c += 8) sum_block8<NH, 1>(o, o_stride, p, p_stride, rows, i0, i1, n_rows, c);
  sum_columns_one_by_one(o, o_stride, p, p_stride, NH, rows, i0, i1, c, d);
}

// One pass's sums for a group of heads: sum_pass<n> or sum_pass8<n>.
using PassFn = void (*)(float* o, int64_t o_stride, const float* p, int64_t p_stride, const float* const* rows,
                        int64_t i0, int64_t i1, int64_t n_rows, int64_t d);

// weighted_sums pass by pass, heads in groups of up to N: passes[n - 1] sums n heads.
template <size_t N>
void sum_in_passes(const PassFn (&passes)[N], float* o, int64_t o_stride, const float* p, int64_t p_stride,
                   int n_heads, const float* const* rows, int64_t n_rows, int64_t d) {
  if (n_rows == 0) {
    for (int h = 0; h < n_heads; ++h) std::fill_n(o + h * o_stride, d, 0.0f);
    return;
  }
  const int group = static_cast<int>(N);
  for (int64_t i0 = 0; i0 < n_rows; i0 += kRowsPerPass)
    for (int h = 0; h < n_heads; h += group)
      passes[std::min(group, n_heads - h) - 1](o + h * o_stride, o_stride, p + h * p_stride, p_stride, rows, i0,
                                               std::min(i0 + kRowsPerPass, n_rows), n_rows, d);
}

}  // namespace

void weighted_sums_avx512(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                          const float* const* rows, int64_t n_rows, int64_t d) {
  static constexpr PassFn kPasses[] = {sum_pass<1>, sum_pass<2>, sum_pass<3>, sum_pass<4>,
                                       sum_pass<5>, sum_pass<6>, sum_pass<7>, sum_pass<8>};
  sum_in_passes(kPasses, o, o_stride, p, p_stride, n_heads, rows, n_rows, d);
}

void weighted_sums_avx2(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                        const float* const* rows, int64_t n_rows, int64_t d) {
  static constexpr PassFn kPasses[] = {sum_pass8<1>, sum_pass8<2>, sum_pass8<3>, sum_pass8<4>};
  sum_in_passes(kPasses, o, o_stride, p, p_stride, n_heads, rows, n_rows, d);
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
