// The routed experts of a MoE step, fused into one fork-join: with many tokens per expert
// (prefill) each thread runs whole experts (gate, up, SwiGLU, down) over all the tokens
// routed to them; with at most eight (decode, a server's batch) the threads share every
// expert's rows in chunks, so neither waits for the other's last expert.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "backend/cpu/cpu_context.h"
#include "core/function_ref.h"

namespace dsinfer::cpu {

// silu(gate) * up; limit > 0 first caps gate at limit and clamps up to [-limit, limit]
// (the clamped SwiGLU of V4's routed experts).
inline float swiglu_value(float gate, float up, float limit) {
  if (limit > 0.0f) {
    gate = std::min(gate, limit);
    up = std::clamp(up, -limit, limit);
  }
  return gate / (1.0f + std::exp(-gate)) * up;
}

// gate[c] = swiglu_value(gate[c], up[c], limit) for c < n: the table's kernel where it
// has one.
inline void swiglu_row(const Kernels& k, float* gate, const float* up, int64_t n, float limit) {
  if (k.swiglu) return k.swiglu(gate, up, n, limit);
  for (int64_t c = 0; c < n; ++c) gate[c] = swiglu_value(gate[c], up[c], limit);
}

// swiglu_row over every row of gate (and up's rows beside them), the elements shared by
// the pool's threads: one decode row of a dense layer is thousands of values.
void swiglu_rows(const Kernels& k, ThreadPool& pool, Tensor gate, Tensor up, float limit);

// Which experts run_packed_experts computed.
struct PackedExperts {
  bool routed = false;
  bool shared = false;
};

// Runs expert e over tokens_of[e] for every e, writing each result to row `slot` of
// `outputs`, and the shared expert (when given) over shared_tokens the same way if the
// routed experts have few tokens each (decode, a server's batch): then its rows go in the
// same parallel loop as the routed experts' instead of four loops of its own, which at one
// token cost more in fork-joins and idle waits than its streaming, and at sixteen computes
// while the other thread streams routed rows. The routed experts are left to the caller,
// none computed, where one has a weight without a packed form.
//
// route(alone) fills tokens_of, which is read only after it returns. With few tokens it runs
// on the calling thread inside the experts' loop (alone: the pool's other threads are
// busy with the shared expert), else before it with the pool.
PackedExperts run_packed_experts(CpuContext& ctx, Tensor x, std::span<const FfnWeights> experts,
                                 const std::vector<std::vector<RoutedToken>>& tokens_of, const FfnWeights* shared,
                                 const std::vector<RoutedToken>& shared_tokens, FunctionRef<void(bool alone)> route,
                                 float limit, Tensor outputs);

}  // namespace dsinfer::cpu
