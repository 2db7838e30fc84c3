// Reference mHC (manifold-constrained hyper-connections) of DeepSeek-V4: collapsing the
// residual streams before a sub-block and mixing them back after it; and the compressor's
// gated pooling (same file: both are small per-row loops over V4's own parameters).
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/reference/dequantize.h"
#include "backend/reference/reference_ops.h"

namespace dsinfer::reference {
namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// c [hc, hc] as [source j, target k] <- doubly stochastic (approximately) by Sinkhorn.
void sinkhorn(float* c, int64_t hc, int64_t iters, float eps) {
  auto normalize_rows = [&] {
    for (int64_t j = 0; j < hc; ++j) {
      float sum = 0.0f;
      for (int64_t k = 0; k < hc; ++k) sum += c[j * hc + k];
      for (int64_t k = 0; k < hc; ++k) c[j * hc + k] /= sum + eps;
    }
  };
  auto normalize_columns = [&] {
    for (int64_t k = 0; k < hc; ++k) {
      float sum = 0.0f;
      for (int64_t j = 0; j < hc; ++j) sum += c[j * hc + k];
      for (int64_t j = 0; j < hc; ++j) c[j * hc + k] /= sum + eps;
    }
  };
  for (int64_t j = 0; j < hc; ++j) {  // row softmax + eps
    float* row = c + j * hc;
    const float max = *std::max_element(row, row + hc);
    float sum = 0.0f;
    for (int64_t k = 0; k < hc; ++k) sum += (row[k] = std::exp(row[k] - max));
    for (int64_t k = 0; k < hc; ++k) row[k] = row[k] / sum + eps;
  }
  normalize_columns();
  for (int64_t i = 1; i < iters; ++i) {
    normalize_rows();
    normalize_columns();
  }
}

}  // namespace

void hc_pre_after_norm(const HcPreArgs& a, int64_t t, float r, const float* scale, const float* base) {
  const int64_t hc = a.hc;
  const int64_t hidden = a.x.cols;
  const float* s = a.streams.f32_row(t);
  const float* m = a.mixes.f32_row(t);
  std::vector<float> pre(static_cast<size_t>(hc));
  for (int64_t j = 0; j < hc; ++j) pre[j] = sigmoid(m[j] * r * scale[0] + base[j]) + a.hc_eps;
  float* x = a.x.f32_row(t);
  std::fill_n(x, hidden, 0.0f);
  for (int64_t j = 0; j < hc; ++j)
    for (int64_t c = 0; c < hidden; ++c) x[c] += pre[j] * s[j * hidden + c];
  if (a.head) return;
  float* post = a.post.f32_row(t);
  for (int64_t j = 0; j < hc; ++j) post[j] = 2.0f * sigmoid(m[hc + j] * r * scale[1] + base[hc + j]);
  float* comb = a.comb.f32_row(t);
  for (int64_t i = 0; i < hc * hc; ++i) comb[i] = m[2 * hc + i] * r * scale[2] + base[2 * hc + i];
  sinkhorn(comb, hc, a.sinkhorn_iters, a.hc_eps);
}

void hc_pre(const HcPreArgs& a) {
  const std::vector<float> scale = dequantize(a.scale->view());
  const std::vector<float> base = dequantize(a.base->view());
  const int64_t n = a.hc * a.x.cols;
  for (int64_t t = 0; t < a.x.rows; ++t) {
    const float* s = a.streams.f32_row(t);
    float sum_sq = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum_sq += s[i] * s[i];
    hc_pre_after_norm(a, t, 1.0f / std::sqrt(sum_sq / static_cast<float>(n) + a.norm_eps), scale.data(), base.data());
  }
}

// Columns innermost, each value still the same products and sums in the same order.
void hc_post_stream(const HcPostArgs& a, int64_t t, int64_t k) {
  const int64_t hc = a.hc;
  const int64_t hidden = a.f.cols;
  const float* f = a.f.f32_row(t);
  const float* res = a.residual.f32_row(t);
  const float post = a.post.f32_row(t)[k];
  const float* comb = a.comb.f32_row(t);
  float* out = a.out.f32_row(t) + k * hidden;
  for (int64_t c = 0; c < hidden; ++c) out[c] = post * f[c];
  for (int64_t j = 0; j < hc; ++j) {
    const float weight = comb[j * hc + k];
    const float* r = res + j * hidden;
    for (int64_t c = 0; c < hidden; ++c) out[c] += weight * r[c];
  }
}

void hc_post(const HcPostArgs& a) {
  for (int64_t t = 0; t < a.f.rows; ++t)
    for (int64_t k = 0; k < a.hc; ++k) hc_post_stream(a, t, k);
}

void compress_pool(const CompressPoolArgs& a) { compress_pool(a, dequantize(a.ape->view()), 0, a.dim); }

void compress_pool(const CompressPoolArgs& a, std::span<const float> ape, int64_t c0, int64_t c1) {
  const int64_t r = a.ratio;
  const int64_t d = a.dim;
  const int64_t w = a.overlap ? 2 * d : d;  // projection width per position
  auto projections = [&](int64_t p) {
    return p >= a.chunk_start ? a.chunk.f32_row(p - a.chunk_start) : a.state.f32_row(p % a.state.rows);
  };
  // Each pooled entry of a block: its kv values, its gate scores and its position's ape
  // row, all from column 0 of its part (found once per block, not once per column).
  struct Member {
    const float *kv, *score, *ape;
  };
  std::vector<Member> members;
  std::vector<float> scores;
  for (int64_t i = 0; i < a.out.rows; ++i) {
    const int64_t b = a.first_block + i;
    members.clear();
    auto add = [&](int64_t p, int64_t offset) {
      const float* row = projections(p) + offset;
      members.push_back({row, row + w, ape.data() + (p % r) * w + offset});
    };
    if (a.overlap && b > 0)
      for (int64_t p = (b - 1) * r; p < b * r; ++p) add(p, 0);
    for (int64_t p = b * r; p < (b + 1) * r; ++p) add(p, a.overlap ? d : 0);
    scores.resize(members.size());
    float* out = a.out.f32_row(i);
    for (int64_t c = c0; c < c1; ++c) {
      float max = -INFINITY;
      for (size_t m = 0; m < members.size(); ++m) {
        scores[m] = members[m].score[c] + members[m].ape[c];
        max = std::max(max, scores[m]);
      }
      float sum = 0.0f, pooled = 0.0f;
      for (size_t m = 0; m < members.size(); ++m) {
        const float e = std::exp(scores[m] - max);
        sum += e;
        pooled += e * members[m].kv[c];
      }
      out[c] = pooled / sum;
    }
  }
}

}  // namespace dsinfer::reference
