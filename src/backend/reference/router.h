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

// The vectors route_token works in, the result's among them: a caller that routes every
// token of every step keeps one, so that routing does not allocate (about ten vectors a
// token, half of its time on a 64-expert router: docs/benchmarks.md, CPU backend,
// session 18).
struct RouterScratch {
  std::vector<float> scores, choice, group_scores;
  std::vector<int32_t> order, group_order;
  std::vector<char> keep_group;
  ExpertChoice result;
};

// logits: [n_experts]; bias: [n_experts] or empty; fixed: [top_k] experts chosen in
// advance (V4's hash layers) or empty. The choice lives in `scratch` until its next use.
const ExpertChoice& route_token(std::span<const float> logits, std::span<const float> bias, const RouterSpec& spec,
                                std::span<const int32_t> fixed, RouterScratch& scratch);
ExpertChoice route_token(std::span<const float> logits, std::span<const float> bias, const RouterSpec& spec,
                         std::span<const int32_t> fixed = {});

}  // namespace dsinfer::reference
