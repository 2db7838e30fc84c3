// Attention kernels for AVX2 + FMA: the exponentials of a row of scores (and of the
// SwiGLU of a feed-forward row, which needs the same exponential), and prefill
// tiles of up to four queries of one head against keys stored transposed in blocks of
// eight, with the matching probability-weighted sums of value rows. Every (query, key)
// score and every output value of a tile is one fused multiply-add chain in index order
// from zero, the arithmetic of the generic table's loops, so a query's result does not
// depend on which tile, or how full a tile, it was in.
#if defined(__x86_64__)

#include <immintrin.h>

#include <cmath>

#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_tile_helpers.h"

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

// exp(x) as 2^n * e^r with n = round(x / ln 2) and |r| <= ln 2 / 2: r from x with ln 2
// split in two parts (the first exact in float), e^r from a degree-7 polynomial (Cephes'
// expf coefficients), 2^n built in the exponent bits. x is clamped to [-87.3, 88.4], where
// 2^n stays a normal float.
DSINFER_AVX2 inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.37626f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(pow2n));
}

}  // namespace

DSINFER_AVX2 float exp_and_sum_avx2(float* v, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(v + i), s));
    _mm256_storeu_ps(v + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (i < n) {
    // The last partial vector through masked loads and stores; its idle lanes add 0.
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(_mm256_maskload_ps(v + i, mask), s)), _mm256_castsi256_ps(mask));
    _mm256_maskstore_ps(v + i, mask, e);
    sum = _mm256_add_ps(sum, e);
  }
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  return _mm_cvtss_f32(_mm_add_ss(half, _mm_movehdup_ps(half)));
}

DSINFER_AVX2 void swiglu_avx2(float* gate, const float* up, int64_t n, float limit) {
  const __m256 one = _mm256_set1_ps(1.0f);
  auto eight = [&](__m256 g, __m256 u) DSINFER_AVX2 {
    if (limit > 0.0f) {
      const __m256 l = _mm256_set1_ps(limit);
      g = _mm256_min_ps(g, l);
      u = _mm256_min_ps(_mm256_max_ps(u, _mm256_sub_ps(_mm256_setzero_ps(), l)), l);
    }
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), u);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(gate + i, eight(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i < n) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(gate + i, mask, eight(_mm256_maskload_ps(gate + i, mask), _mm256_maskload_ps(up + i, mask)));
  }
}

DSINFER_AVX2 void key_block_scores_avx2(const float* const* q, int nq, const float* keys_t, int64_t d,
                                        int64_t n_blocks, float scale, float* scores, int64_t stride) {
  x86::for_token_tiles<4>(nq, [&](auto nt, int first) {
    key_scores<decltype(nt)::value>(q + first, keys_t, d, n_blocks, scale, scores + first * stride, stride);
  });
}

DSINFER_AVX2 void value_row_sums_avx2(const float* p, int64_t p_stride, int nq, const float* v, int64_t v_stride,
                                      int64_t n_keys, int64_t d, float* out, int64_t out_stride) {
  x86::for_token_tiles<4>(nq, [&](auto nt, int first) {
    value_sums<decltype(nt)::value>(p + first * p_stride, p_stride, v, v_stride, n_keys, d, out + first * out_stride,
                                    out_stride);
  });
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
