// V4's sink attention on the CPU: the reference arithmetic (reference/sink_attention.cpp),
// bit for bit, made fast. Query-key dots go eight heads at a time through
// Kernels::sequential_dots_heads8 (the heads left over, and tables without it, eight
// visible rows at a time through sequential_dots8), each row's sum in index order; the
// weighted sum of value rows is element-wise (Kernels::weighted_sum), so vectorising it
// changes nothing. Bitwise equality is the point: V4 rounds keys to FP8 inside the model, and an
// attention output that moves by one float32 ulp can flip one of those roundings and,
// now and then, a token.
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_context.h"

namespace dsinfer::cpu {
namespace {

// Logits of eight heads (from h) against every row, by_head[8 i + j] for row i and head
// h + j: the heads' queries turned into columns once, then eight rows per call.
void eight_heads_logits(const Kernels& k, const float* q, int64_t d, const std::vector<const float*>& rows,
                        std::vector<float>& q_columns, std::vector<float>& by_head) {
  q_columns.resize(static_cast<size_t>(8 * d));
  for (int j = 0; j < 8; ++j)
    for (int64_t c = 0; c < d; ++c) q_columns[static_cast<size_t>(8 * c + j)] = q[j * d + c];
  by_head.resize(8 * rows.size());
  for (size_t n = 0; n < rows.size(); n += kMaxHeadDotRows) {
    const int count = static_cast<int>(std::min<size_t>(kMaxHeadDotRows, rows.size() - n));
    k.sequential_dots_heads8(q_columns.data(), rows.data() + n, count, d, by_head.data() + 8 * n);
  }
}

// One head's logits against every row, each a sum in index order.
void head_logits(const Kernels& k, const float* q, int64_t d, const std::vector<const float*>& rows,
                 std::vector<float>& logits) {
  const size_t n_rows = rows.size();
  size_t n = 0;
  if (k.sequential_dots8)
    for (; n + 8 <= n_rows; n += 8) k.sequential_dots8(q, rows.data() + n, d, logits.data() + n);
  for (; n < n_rows; ++n) {
    float dot = 0.0f;
    for (int64_t c = 0; c < d; ++c) dot += q[c] * rows[n][c];
    logits[n] = dot;
  }
}

void attend_rows(const Kernels& k, const SinkAttentionArgs& a, std::span<const float> sinks, int64_t t_begin,
                 int64_t t_end, int64_t h_begin, int64_t h_end) {
  const int64_t d = a.head_dim;
  std::vector<const float*> rows;
  std::vector<float> logits, q_columns, by_head;
  for (int64_t t = t_begin; t < t_end; ++t) {
    rows.clear();
    const auto* listed = static_cast<const int32_t*>(a.visible.row_data(t));
    for (int64_t j = 0; j < a.visible.cols; ++j) {
      const int32_t i = listed[j];
      if (i >= 0) rows.push_back(i < a.raw.rows ? a.raw.f32_row(i) : a.compressed.f32_row(i - a.raw.rows));
    }
    const size_t n_rows = rows.size();
    logits.resize(n_rows);
    int64_t group_end = h_begin;  // heads [group_end - 8, group_end) have their logits in by_head
    for (int64_t h = h_begin; h < h_end; ++h) {
      const float* q = a.q.f32_row(t) + h * d;
      if (h >= group_end && k.sequential_dots_heads8 && h + 8 <= h_end) {
        eight_heads_logits(k, q, d, rows, q_columns, by_head);
        group_end = h + 8;
      }
      if (h < group_end)
        for (size_t i = 0; i < n_rows; ++i) logits[i] = by_head[8 * i + static_cast<size_t>(h - (group_end - 8))];
      else
        head_logits(k, q, d, rows, logits);
      float max = sinks[static_cast<size_t>(h)];
      for (size_t i = 0; i < n_rows; ++i) {
        logits[i] *= a.softmax_scale;
        max = std::max(max, logits[i]);
      }
      float* o = a.out.f32_row(t) + h * d;
      float denominator = std::exp(sinks[static_cast<size_t>(h)] - max);
      for (size_t i = 0; i < n_rows; ++i) {
        logits[i] = std::exp(logits[i] - max);  // now the row's weight
        denominator += logits[i];
      }
      weighted_sum(k, o, logits.data(), rows.data(), static_cast<int64_t>(n_rows), d);
      for (int64_t c = 0; c < d; ++c) o[c] /= denominator;
    }
  }
}

}  // namespace

void sink_attention(CpuContext& ctx, const SinkAttentionArgs& a) {
  const std::span<const float> sinks = float_values(*a.sinks);
  // A decode step has one query row: its heads are split instead.
  if (a.q.rows == 1) {
    ctx.pool.parallel_for(a.n_heads, [&](int, int64_t b, int64_t e) { attend_rows(ctx.kernels, a, sinks, 0, 1, b, e); });
    return;
  }
  // Later queries may see more rows: they go out in small chunks so threads end together.
  ctx.pool.parallel_for_dynamic(
      a.q.rows, /*chunks_per_thread=*/8, [&](int, int64_t b, int64_t e) { attend_rows(ctx.kernels, a, sinks, b, e, 0, a.n_heads); });
}

}  // namespace dsinfer::cpu
