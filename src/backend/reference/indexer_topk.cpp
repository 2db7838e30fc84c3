// Reference lightning indexer (DeepSeek-V3.2): score every visible cached position, keep
// the top_k. The selection is a set; it is written in position order so attention over
// it sums in the same order as attention over everything (see MlaAttentionArgs).
#include <algorithm>
#include <numeric>
#include <vector>

#include "backend/reference/reference_ops.h"

namespace dsinfer::reference {

void indexer_topk(const IndexerTopkArgs& a) {
  std::vector<float> scores;
  std::vector<int32_t> order;
  for (int64_t t = 0; t < a.q.rows; ++t) {
    const int64_t visible = a.start_pos + t + 1;
    scores.assign(static_cast<size_t>(visible), 0.0f);
    for (int64_t p = 0; p < visible; ++p) {
      const float* key = a.keys.row(p);
      for (int64_t h = 0; h < a.n_heads; ++h) {
        const float* q = a.q.f32_row(t) + h * a.head_dim;
        float dot = 0.0f;
        for (int64_t d = 0; d < a.head_dim; ++d) dot += q[d] * key[d];
        scores[p] += std::max(dot, 0.0f) * (a.weights.f32_row(t)[h] * a.weight_scale);
      }
    }
    order.resize(static_cast<size_t>(visible));
    std::iota(order.begin(), order.end(), 0);
    const int64_t keep = std::min(a.top_k, visible);
    // Highest score first; equal scores: the lower position first.
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), [&](int32_t x, int32_t y) {
      return scores[x] != scores[y] ? scores[x] > scores[y] : x < y;
    });
    std::sort(order.begin(), order.begin() + keep);
    auto* out = static_cast<int32_t*>(a.selected.row_data(t));
    std::copy_n(order.begin(), keep, out);
    std::fill(out + keep, out + a.top_k, -1);
  }
}

}  // namespace dsinfer::reference
