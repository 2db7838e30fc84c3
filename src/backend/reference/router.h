// MoE routing for one token: scores from router logits, expert choice (plain or
// group-limited top-k, with an optional selection-only bias), and the weights the chosen
// experts' outputs are mixed with. Shared by every backend: it is a few hundred flops
// per token and must decide identically everywhere.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/ops.h"

namespace dsinfer::reference {

struct ExpertChoice {
  std::vector<int32_t> experts;  // [top_k], best first
  std::vector<float> weights;    // [top_k]
};

// logits: [n_experts]; bias: [n_experts] or empty; fixed: [top_k] experts chosen in
// advance (V4's hash layers) or empty.
ExpertChoice route_token(std::span<const float> logits, std::span<const float> bias, const RouterSpec& spec,
                         std::span<const int32_t> fixed = {});

}  // namespace dsinfer::reference
