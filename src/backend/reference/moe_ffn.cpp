// Reference fused MoE: route every token, then run each chosen expert once over the
// tokens that chose it and add their weighted outputs; shared experts see every token.
#include <algorithm>
#include <vector>

#include "backend/reference/dequantize.h"
#include "backend/reference/reference_ops.h"
#include "backend/reference/router.h"

namespace dsinfer::reference {
namespace {

// out = down(silu(gate(x)) * up(x)) for every row of x; with limit > 0, gate is capped
// at limit and up clamped to [-limit, limit] first (V4).
void swiglu_ffn(Tensor out, Tensor x, const FfnWeights& w, float limit) {
  const int64_t inter = w.gate->view().rows();
  std::vector<float> gate(static_cast<size_t>(x.rows * inter));
  std::vector<float> up(gate.size());
  Tensor gate_t = Tensor::contiguous(DType::kF32, x.rows, inter, gate.data());
  Tensor up_t = Tensor::contiguous(DType::kF32, x.rows, inter, up.data());
  matmul(gate_t, x, w.gate->view());
  matmul(up_t, x, w.up->view());
  if (limit > 0.0f) {
    for (float& g : gate) g = std::min(g, limit);
    for (float& u : up) u = std::clamp(u, -limit, limit);
  }
  silu_and_mul(gate_t, gate_t, up_t);
  matmul(out, gate_t, w.down->view());
}

}  // namespace

void moe_ffn(const MoeArgs& a) {
  const int64_t T = a.x.rows;
  const int64_t hidden = a.x.cols;
  const int64_t n_experts = static_cast<int64_t>(a.experts.size());

  std::vector<float> logits(static_cast<size_t>(T * n_experts));
  matmul(Tensor::contiguous(DType::kF32, T, n_experts, logits.data()), a.x, a.router->view());
  std::vector<float> bias;
  if (a.selection_bias) bias = dequantize(a.selection_bias->view());

  // tokens_of[e] lists (token, weight) pairs routed to expert e.
  std::vector<std::vector<std::pair<int64_t, float>>> tokens_of(static_cast<size_t>(n_experts));
  for (int64_t t = 0; t < T; ++t) {
    std::span<const float> row(logits.data() + t * n_experts, static_cast<size_t>(n_experts));
    const auto fixed = a.fixed_experts.empty() ? std::span<const int32_t>{}
                                               : a.fixed_experts.subspan(static_cast<size_t>(t * a.spec.top_k),
                                                                         static_cast<size_t>(a.spec.top_k));
    ExpertChoice choice = route_token(row, bias, a.spec, fixed);
    for (size_t k = 0; k < choice.experts.size(); ++k) tokens_of[choice.experts[k]].push_back({t, choice.weights[k]});
  }

  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < hidden; ++c) a.out.f32_row(t)[c] = 0.0f;

  std::vector<float> x_rows;
  std::vector<float> y_rows;
  for (int64_t e = 0; e < n_experts; ++e) {
    const auto& routed = tokens_of[e];
    if (routed.empty()) continue;
    const int64_t n = static_cast<int64_t>(routed.size());
    x_rows.resize(static_cast<size_t>(n * hidden));
    y_rows.resize(x_rows.size());
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(a.x.f32_row(routed[i].first), hidden, x_rows.data() + i * hidden);
    swiglu_ffn(Tensor::contiguous(DType::kF32, n, hidden, y_rows.data()),
               Tensor::contiguous(DType::kF32, n, hidden, x_rows.data()), a.experts[e], a.swiglu_limit);
    for (int64_t i = 0; i < n; ++i) {
      float* o = a.out.f32_row(routed[i].first);
      for (int64_t c = 0; c < hidden; ++c) o[c] += routed[i].second * y_rows[i * hidden + c];
    }
  }

  if (a.shared) {
    std::vector<float> shared(static_cast<size_t>(T * hidden));
    Tensor shared_t = Tensor::contiguous(DType::kF32, T, hidden, shared.data());
    swiglu_ffn(shared_t, a.x, *a.shared, a.swiglu_limit);
    add(a.out, a.out, shared_t);
  }
}

}  // namespace dsinfer::reference
