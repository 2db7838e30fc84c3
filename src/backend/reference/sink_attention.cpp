// Reference DeepSeek-V4 attention: one K = V head shared by every query head, over the
// rows a query's `visible` list names, with a per-head sink logit in the denominator.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/reference/dequantize.h"
#include "backend/reference/reference_ops.h"

namespace dsinfer::reference {

void sink_attention(const SinkAttentionArgs& a) { sink_attention_part(a, 0, a.q.rows, 0, a.n_heads); }

void sink_attention_part(const SinkAttentionArgs& a, int64_t t_begin, int64_t t_end, int64_t h_begin,
                         int64_t h_end) {
  const int64_t d = a.head_dim;
  const std::vector<float> sinks = dequantize(a.sinks->view());
  auto row_of = [&](int32_t i) {
    return i < a.raw.rows ? a.raw.f32_row(i) : a.compressed.f32_row(i - a.raw.rows);
  };
  std::vector<float> logits;
  for (int64_t t = t_begin; t < t_end; ++t) {
    std::vector<int32_t> rows;
    for (int64_t j = 0; j < a.visible.cols; ++j) {
      const int32_t i = static_cast<const int32_t*>(a.visible.row_data(t))[j];
      if (i >= 0) rows.push_back(i);
    }
    logits.resize(rows.size());
    for (int64_t h = h_begin; h < h_end; ++h) {
      const float* q = a.q.f32_row(t) + h * d;
      float max = sinks[h];
      for (size_t n = 0; n < rows.size(); ++n) {
        const float* k = row_of(rows[n]);
        float dot = 0.0f;
        for (int64_t c = 0; c < d; ++c) dot += q[c] * k[c];
        logits[n] = dot * a.softmax_scale;
        max = std::max(max, logits[n]);
      }
      float* o = a.out.f32_row(t) + h * d;
      std::fill_n(o, d, 0.0f);
      float denominator = std::exp(sinks[h] - max);
      for (size_t n = 0; n < rows.size(); ++n) {
        const float p = std::exp(logits[n] - max);
        denominator += p;
        const float* v = row_of(rows[n]);
        for (int64_t c = 0; c < d; ++c) o[c] += p * v[c];
      }
      for (int64_t c = 0; c < d; ++c) o[c] /= denominator;
    }
  }
}

}  // namespace dsinfer::reference
