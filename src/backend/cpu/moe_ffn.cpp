// Fused MoE on the CPU: route every token, group the tokens by expert, then run each
// chosen expert once over all of its tokens, so a step streams each selected expert's
// weights once however many tokens chose it.
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_context.h"
#include "backend/cpu/moe_experts.h"
#include "backend/reference/router.h"

namespace dsinfer::cpu {
namespace {

// Each part of a buffer starting on a cache line.
int64_t whole_lines(int64_t floats) {
  constexpr auto kLine = static_cast<int64_t>(kCacheLineBytes / sizeof(float));
  return (floats + kLine - 1) / kLine * kLine;
}

// Slices of one float buffer laid out for a step: logits, gathered rows, an expert's
// output rows, then the routed results.
struct MoeWorkspace {
  Tensor logits, rows, expert_out, routed_out;
};

MoeWorkspace carve(LineAlignedFloats& buffer, int64_t T, int64_t hidden, int64_t n_experts, int64_t top_k) {
  // routed_out: a row per (token, choice), then one per token for the shared expert.
  const int64_t sizes[] = {whole_lines(T * n_experts), whole_lines(T * hidden), whole_lines(T * hidden),
                           whole_lines(T * (top_k + 1) * hidden)};
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (buffer.size() < static_cast<size_t>(total)) buffer.resize(static_cast<size_t>(total));
  float* p = buffer.data();
  MoeWorkspace ws;
  ws.logits = Tensor::contiguous(DType::kF32, T, n_experts, p);
  p += sizes[0];
  ws.rows = Tensor::contiguous(DType::kF32, T, hidden, p);
  p += sizes[1];
  ws.expert_out = Tensor::contiguous(DType::kF32, T, hidden, p);
  p += sizes[2];
  ws.routed_out = Tensor::contiguous(DType::kF32, T * (top_k + 1), hidden, p);
  return ws;
}

// out = down(silu(gate(rows)) * up(rows)), gate and up in ctx.moe_swiglu_buffer, sized
// here for the expert at hand. Sized at every step for the largest of all the experts,
// they cost a B decode layer about 3 us: the experts' weight objects had left the cache
// since the previous token (docs/benchmarks.md, CPU backend, session 48).
void swiglu(CpuContext& ctx, Tensor rows, Tensor out, const FfnWeights& w, float limit) {
  const int64_t n = rows.rows, inter = w.gate->view().rows(), area = whole_lines(n * inter);
  LineAlignedFloats& buffer = ctx.moe_swiglu_buffer;
  if (buffer.size() < static_cast<size_t>(2 * area)) buffer.resize(static_cast<size_t>(2 * area));
  const Tensor gate = Tensor::contiguous(DType::kF32, n, inter, buffer.data());
  const Tensor up = Tensor::contiguous(DType::kF32, n, inter, buffer.data() + area);
  ctx.matmul(gate, rows, *w.gate);
  ctx.matmul(up, rows, *w.up);
  swiglu_rows(ctx.kernels, ctx.pool, gate, up, limit);
  ctx.matmul(out, gate, *w.down);
}

}  // namespace

void swiglu_rows(const Kernels& k, ThreadPool& pool, Tensor gate, Tensor up, float limit) {
  pool.parallel_for(gate.rows * gate.cols, [&](int, int64_t begin, int64_t end) {
    // [begin, end) runs over whole rows and parts of the first and last.
    for (int64_t i = begin; i < end;) {
      const int64_t row = i / gate.cols, col = i % gate.cols, stop = std::min(end - i, gate.cols - col) + col;
      swiglu_row(k, gate.f32_row(row) + col, up.f32_row(row) + col, stop - col, limit);
      i += stop - col;
    }
  });
}

void moe_ffn(CpuContext& ctx, const MoeArgs& a) {
  const int64_t T = a.x.rows;
  const int64_t hidden = a.x.cols;
  const int64_t n_experts = static_cast<int64_t>(a.experts.size());
  const MoeWorkspace ws = carve(ctx.moe_buffer, T, hidden, n_experts, a.spec.top_k);

  const std::span<const float> bias = a.selection_bias ? float_values(*a.selection_bias) : std::span<const float>{};
  // Each list emptied, its storage kept.
  auto cleared = [](std::vector<std::vector<RoutedToken>>& lists, int64_t n) -> auto& {
    if (lists.size() < static_cast<size_t>(n)) lists.resize(static_cast<size_t>(n));
    for (auto& list : lists) list.clear();
    return lists;
  };
  auto& tokens_of = cleared(ctx.moe_routing.tokens_of, n_experts);
  auto route = [&](bool alone) {
    ctx.matmul(ws.logits, a.x, *a.router, alone ? ctx.calling_thread : ctx.pool);
    for (int64_t t = 0; t < T; ++t) {
      const auto fixed = a.fixed_experts.empty() ? std::span<const int32_t>{}
                                                 : a.fixed_experts.subspan(static_cast<size_t>(t * a.spec.top_k),
                                                                           static_cast<size_t>(a.spec.top_k));
      const auto& choice = reference::route_token({ws.logits.f32_row(t), static_cast<size_t>(n_experts)}, bias, a.spec,
                                                  fixed, ctx.moe_routing.router);
      for (size_t k = 0; k < choice.experts.size(); ++k)
        tokens_of[choice.experts[k]].push_back({t, choice.weights[k], t * a.spec.top_k + static_cast<int64_t>(k)});
    }
  };

  // The shared expert's token t goes to row T * top_k + t of the outputs, when it runs
  // beside the routed experts.
  std::vector<RoutedToken>& every_token = ctx.moe_routing.every_token;
  every_token.clear();
  if (a.shared)
    for (int64_t t = 0; t < T; ++t) every_token.push_back({t, 1.0f, T * a.spec.top_k + t});
  const PackedExperts ran = run_packed_experts(ctx, a.x, a.experts, tokens_of, a.shared ? &*a.shared : nullptr,
                                               every_token, route, a.swiglu_limit, ws.routed_out);

  // The shared expert's rows, computed here when they did not run beside the routed ones.
  const Tensor shared_out = ws.routed_out.row_slice(T * a.spec.top_k, T);
  if (a.shared && !ran.shared) swiglu(ctx, a.x, shared_out, *a.shared, a.swiglu_limit);
  if (!ran.routed) {
    for (int64_t e = 0; e < n_experts; ++e) {
      const auto& routed = tokens_of[e];
      const int64_t n = static_cast<int64_t>(routed.size());
      if (n == 0) continue;
      for (int64_t i = 0; i < n; ++i) std::copy_n(a.x.f32_row(routed[i].token), hidden, ws.rows.f32_row(i));
      swiglu(ctx, ws.rows.row_slice(0, n), ws.expert_out.row_slice(0, n), a.experts[e], a.swiglu_limit);
      for (int64_t i = 0; i < n; ++i) std::copy_n(ws.expert_out.f32_row(i), hidden, ws.routed_out.f32_row(routed[i].slot));
    }
  }
  // Each token's output is its rows summed in order: the shared expert's first at weight 1
  // (1 x s + 0 is s, so the sum has the bits of one that starts from it), then its routed
  // results in expert order. With fewer tokens than threads (decode) the threads split the
  // columns; this ran on one thread between the parallel loops.
  const int64_t per_token = a.spec.top_k + 1;
  const int64_t parts = T < ctx.pool.size() ? ctx.pool.size() : 1;
  // Part boundaries on sixteen columns, so that each part's rows start on a cache line.
  auto part_start = [&](int64_t part) { return part == parts ? hidden : hidden * part / parts / 16 * 16; };
  // Work item i = t * parts + part: its rows (from column part_start(part)) and weights
  // at i * per_token, counts[i] of them.
  MoeRouting& routing = ctx.moe_routing;
  const auto items = static_cast<size_t>(T * parts);
  routing.sum_rows.assign(items * static_cast<size_t>(per_token), nullptr);
  routing.sum_weights.assign(items * static_cast<size_t>(per_token), 0.0f);
  routing.sum_counts.assign(items, 0);
  auto add_row = [&](int64_t t, const float* row, float weight) {
    for (int64_t part = 0; part < parts; ++part) {
      const auto item = static_cast<size_t>(t * parts + part);
      const auto at = item * static_cast<size_t>(per_token) + static_cast<size_t>(routing.sum_counts[item]++);
      routing.sum_rows[at] = row + part_start(part);
      routing.sum_weights[at] = weight;
    }
  };
  if (a.shared)
    for (int64_t t = 0; t < T; ++t) add_row(t, shared_out.f32_row(t), 1.0f);
  for (const auto& routed : tokens_of)
    for (const RoutedToken& r : routed) add_row(r.token, ws.routed_out.f32_row(r.slot), r.weight);
  ctx.pool.parallel_for(T * parts, [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t t = i / parts, part = i % parts, c0 = part_start(part);
      const auto first = static_cast<size_t>(i * per_token);
      weighted_sum(ctx.kernels, a.out.f32_row(t) + c0, routing.sum_weights.data() + first,
                   routing.sum_rows.data() + first, routing.sum_counts[static_cast<size_t>(i)], part_start(part + 1) - c0);
    }
  });
}

}  // namespace dsinfer::cpu
