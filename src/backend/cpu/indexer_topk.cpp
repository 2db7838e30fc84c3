// The lightning indexer on the CPU: all scores of the chunk [T, context] in parallel over
// (query, position) pairs with the dot-product kernel, then each query's top_k chosen in
// parallel over queries, with the reference's order (score, then lower position).
#include <algorithm>
#include <numeric>
#include <vector>

#include "backend/cpu/cpu_context.h"

namespace dsinfer::cpu {

void indexer_topk(CpuContext& ctx, const IndexerTopkArgs& a) {
  const Kernels& k = ctx.kernels;
  const int64_t T = a.q.rows;
  const int64_t context = a.start_pos + T;
  ctx.indexer_buffer.resize(static_cast<size_t>(T * context));
  float* scores = ctx.indexer_buffer.data();

  ctx.pool.parallel_for(T * context, [&](int, int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t t = pair / context, p = pair % context;
      if (p > a.start_pos + t) continue;  // causal: never read
      const float* key = a.keys.row(p);
      const float* q = a.q.f32_row(t);
      const float* w = a.weights.f32_row(t);
      float score = 0.0f;
      for (int64_t h = 0; h < a.n_heads; ++h)
        score += std::max(k.dot_f32(q + h * a.head_dim, key, a.head_dim), 0.0f) * (w[h] * a.weight_scale);
      scores[pair] = score;
    }
  });

  ctx.pool.parallel_for(T, [&](int, int64_t begin, int64_t end) {
    std::vector<int32_t> order;
    for (int64_t t = begin; t < end; ++t) {
      const float* row = scores + t * context;
      const int64_t visible = a.start_pos + t + 1;
      const int64_t keep = std::min(a.top_k, visible);
      order.resize(static_cast<size_t>(visible));
      std::iota(order.begin(), order.end(), 0);
      if (keep < visible)
        std::nth_element(order.begin(), order.begin() + keep, order.end(), [&](int32_t x, int32_t y) {
          return row[x] != row[y] ? row[x] > row[y] : x < y;
        });
      std::sort(order.begin(), order.begin() + keep);
      auto* out = static_cast<int32_t*>(a.selected.row_data(t));
      std::copy_n(order.begin(), keep, out);
      std::fill(out + keep, out + a.top_k, -1);
    }
  });
}

}  // namespace dsinfer::cpu
