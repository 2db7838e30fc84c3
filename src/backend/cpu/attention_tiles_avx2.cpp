// Prefill attention tiles for AVX2 + FMA: up to four queries of one head against keys
// stored transposed in blocks of eight, and the matching probability-weighted sums of
// value rows. Every (query, key) score and every output value is one fused multiply-add
// chain in index order from zero, the arithmetic of the generic table's loops, so a
// query's result does not depend on which tile, or how full a tile, it was in.
#if defined(__x86_64__)

#include <immintrin.h>

#include <cmath>

#include "backend/cpu/kernels.h"

#define DSINFER_AVX2 __attribute__((target("avx2,fma")))

namespace dsinfer::cpu {
namespace {

// Scores of NQ queries against the 8 * NB keys of NB consecutive blocks.
template <int NQ, int NB>
DSINFER_AVX2 inline void score_blocks(const float* const* q, const float* keys_t, int64_t d, float scale,
                                      float* scores, int64_t stride) {
  __m256 acc[NQ][NB];
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  for (int64_t c = 0; c < d; ++c) {
    __m256 keys[NB];
    for (int b = 0; b < NB; ++b) keys[b] = _mm256_loadu_ps(keys_t + (b * d + c) * 8);
    for (int j = 0; j < NQ; ++j) {
      const __m256 qj = _mm256_broadcast_ss(q[j] + c);
      for (int b = 0; b < NB; ++b) acc[j][b] = _mm256_fmadd_ps(qj, keys[b], acc[j][b]);
    }
  }
  const __m256 s = _mm256_set1_ps(scale);
  for (int j = 0; j < NQ; ++j)
    for (int b = 0; b < NB; ++b) _mm256_storeu_ps(scores + j * stride + 8 * b, _mm256_mul_ps(acc[j][b], s));
}

template <int NQ>
DSINFER_AVX2 void key_scores(const float* const* q, const float* keys_t, int64_t d, int64_t n_blocks, float scale,
                             float* scores, int64_t stride) {
  int64_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) score_blocks<NQ, 2>(q, keys_t + b * d * 8, d, scale, scores + 8 * b, stride);
  if (b < n_blocks) score_blocks<NQ, 1>(q, keys_t + b * d * 8, d, scale, scores + 8 * b, stride);
}

// Columns [c, c + 8 * NV) of NQ outputs.
template <int NQ, int NV>
DSINFER_AVX2 inline void sum_columns(const float* p, int64_t p_stride, const float* v, int64_t v_stride,
                                     int64_t n_keys, float* out, int64_t out_stride) {
  __m256 acc[NQ][NV];
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  for (int64_t i = 0; i < n_keys; ++i) {
    __m256 values[NV];
    for (int u = 0; u < NV; ++u) values[u] = _mm256_loadu_ps(v + i * v_stride + 8 * u);
    for (int j = 0; j < NQ; ++j) {
      const __m256 pj = _mm256_broadcast_ss(p + j * p_stride + i);
      for (int u = 0; u < NV; ++u) acc[j][u] = _mm256_fmadd_ps(pj, values[u], acc[j][u]);
    }
  }
  for (int j = 0; j < NQ; ++j)
    for (int u = 0; u < NV; ++u) _mm256_storeu_ps(out + j * out_stride + 8 * u, acc[j][u]);
}

template <int NQ>
DSINFER_AVX2 void value_sums(const float* p, int64_t p_stride, const float* v, int64_t v_stride, int64_t n_keys,
                             int64_t d, float* out, int64_t out_stride) {
  int64_t c = 0;
  for (; c + 16 <= d; c += 16) sum_columns<NQ, 2>(p, p_stride, v + c, v_stride, n_keys, out + c, out_stride);
  for (; c + 8 <= d; c += 8) sum_columns<NQ, 1>(p, p_stride, v + c, v_stride, n_keys, out + c, out_stride);
  for (; c < d; ++c)
    for (int j = 0; j < NQ; ++j) {
      float sum = 0.0f;
      for (int64_t i = 0; i < n_keys; ++i) sum = std::fma(p[j * p_stride + i], v[i * v_stride + c], sum);
      out[j * out_stride + c] = sum;
    }
}

}  // namespace

DSINFER_AVX2 void key_block_scores_avx2(const float* const* q, int nq, const float* keys_t, int64_t d,
                                        int64_t n_blocks, float scale, float* scores, int64_t stride) {
  switch (nq) {
    case 1: return key_scores<1>(q, keys_t, d, n_blocks, scale, scores, stride);
    case 2: return key_scores<2>(q, keys_t, d, n_blocks, scale, scores, stride);
    case 3: return key_scores<3>(q, keys_t, d, n_blocks, scale, scores, stride);
    default: return key_scores<4>(q, keys_t, d, n_blocks, scale, scores, stride);
  }
}

DSINFER_AVX2 void value_row_sums_avx2(const float* p, int64_t p_stride, int nq, const float* v, int64_t v_stride,
                                      int64_t n_keys, int64_t d, float* out, int64_t out_stride) {
  switch (nq) {
    case 1: return value_sums<1>(p, p_stride, v, v_stride, n_keys, d, out, out_stride);
    case 2: return value_sums<2>(p, p_stride, v, v_stride, n_keys, d, out, out_stride);
    case 3: return value_sums<3>(p, p_stride, v, v_stride, n_keys, d, out, out_stride);
    default: return value_sums<4>(p, p_stride, v, v_stride, n_keys, d, out, out_stride);
  }
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
