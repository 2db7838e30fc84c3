#include "backend/cpu/moe_experts.h"

#include <atomic>

namespace dsinfer::cpu {
namespace {

const PackedWeight* packed_form(CpuContext& ctx, const PreparedWeight* w) {
  const auto& weight = static_cast<const CpuWeight&>(*w);
  ctx.pack(weight);
  return weight.packed.get();
}

struct PackedExpert {
  const PackedWeight *gate, *up, *down;
  const std::vector<RoutedToken>* tokens;
};

Tensor rows_of(std::vector<float>& buffer, int64_t rows, int64_t cols) {
  if (buffer.size() < static_cast<size_t>(rows * cols)) buffer.resize(static_cast<size_t>(rows * cols));
  return Tensor::contiguous(DType::kF32, rows, cols, buffer.data());
}

// One expert over its n tokens, on the calling thread only.
void run_expert(const Kernels& k, MoeThreadScratch& s, Tensor x, const PackedExpert& e, float limit, Tensor outputs) {
  const auto& tokens = *e.tokens;
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t hidden = x.cols, inter = e.gate->rows();
  Tensor rows = rows_of(s.rows, n, hidden);
  for (int64_t i = 0; i < n; ++i) std::copy_n(x.f32_row(tokens[i].token), hidden, rows.f32_row(i));
  const ActivationForm gate_form = activation_form(k, *e.gate), up_form = activation_form(k, *e.up);
  quantize_rows(gate_form, k, rows, s.activations);
  if (up_form != gate_form) quantize_rows(up_form, k, rows, s.activations);
  Tensor gate = rows_of(s.gate, n, inter), up = rows_of(s.up, n, inter);
  matmul_packed_rows(k, *e.gate, rows, s.activations, gate, 0, inter / 8);
  matmul_packed_rows(k, *e.up, rows, s.activations, up, 0, inter / 8);
  for (int64_t i = 0; i < n; ++i) {
    float* g = gate.f32_row(i);
    const float* u = up.f32_row(i);
    for (int64_t c = 0; c < inter; ++c) g[c] = swiglu_value(g[c], u[c], limit);
  }
  quantize_rows(activation_form(k, *e.down), k, gate, s.activations);
  Tensor down = rows_of(s.down, n, hidden);
  matmul_packed_rows(k, *e.down, gate, s.activations, down, 0, hidden / 8);
  for (int64_t i = 0; i < n; ++i) std::copy_n(down.f32_row(i), hidden, outputs.f32_row(tokens[i].slot));
}

}  // namespace

bool run_packed_experts(CpuContext& ctx, Tensor x, std::span<const FfnWeights> experts,
                        const std::vector<std::vector<RoutedToken>>& tokens_of, float limit, Tensor outputs) {
  std::vector<PackedExpert> active;
  for (size_t e = 0; e < experts.size(); ++e) {
    if (tokens_of[e].empty()) continue;
    PackedExpert p{packed_form(ctx, experts[e].gate), packed_form(ctx, experts[e].up), packed_form(ctx, experts[e].down),
                   &tokens_of[e]};
    if (!p.gate || !p.up || !p.down) return false;
    active.push_back(p);
  }
  // Threads take the next expert until none is left, the ones with most tokens first, so
  // the step ends about when the slowest thread's last expert does.
  std::stable_sort(active.begin(), active.end(),
                   [](const PackedExpert& a, const PackedExpert& b) { return a.tokens->size() > b.tokens->size(); });
  const int threads = ctx.pool.size();
  if (ctx.moe_threads.size() < static_cast<size_t>(threads)) ctx.moe_threads.resize(static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  ctx.pool.run_on_all([&](int thread) {
    for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < active.size();
         i = next.fetch_add(1, std::memory_order_relaxed))
      run_expert(ctx.kernels, ctx.moe_threads[thread], x, active[i], limit, outputs);
  });
  return true;
}

}  // namespace dsinfer::cpu
