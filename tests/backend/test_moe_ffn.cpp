// Fused MoE FFN against a per-token naive loop written here in double precision: route
// the token (own implementation of the DeepSeek rules), run each chosen expert's SwiGLU,
// mix with the routing weights, add the shared experts.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "backend/reference/reference_backend.h"
#include "test_weights.h"

namespace dsinfer {
namespace {

using test::Activation;
using test::OwnedWeight;
using test::Rng;

struct NaiveFfn {
  const OwnedWeight* gate;
  const OwnedWeight* up;
  const OwnedWeight* down;
};

// down(silu(gate x) * up x) for one token.
std::vector<double> naive_swiglu(const std::vector<double>& x, const NaiveFfn& w) {
  const int64_t inter = w.gate->rows();
  const int64_t hidden = static_cast<int64_t>(x.size());
  std::vector<double> h(static_cast<size_t>(inter));
  for (int64_t i = 0; i < inter; ++i) {
    double g = 0, u = 0;
    for (int64_t k = 0; k < hidden; ++k) {
      g += w.gate->at(i, k) * x[k];
      u += w.up->at(i, k) * x[k];
    }
    h[i] = g / (1 + std::exp(-g)) * u;
  }
  std::vector<double> y(static_cast<size_t>(hidden), 0.0);
  for (int64_t o = 0; o < hidden; ++o)
    for (int64_t i = 0; i < inter; ++i) y[o] += w.down->at(o, i) * h[i];
  return y;
}

// Indices sorted by value, largest first, lower index first among equals.
std::vector<int> ranked(const std::vector<double>& v) {
  std::vector<int> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
  return order;
}

// (expert, weight) pairs for one token's router logits.
std::vector<std::pair<int, double>> naive_route(const std::vector<double>& logits, const std::vector<double>& bias,
                                                const RouterSpec& spec) {
  const int n = static_cast<int>(logits.size());
  std::vector<double> scores(n);
  if (spec.scoring == RouterScoring::kSigmoid) {
    for (int e = 0; e < n; ++e) scores[e] = 1 / (1 + std::exp(-logits[e]));
  } else {
    double sum = 0;
    for (int e = 0; e < n; ++e) sum += std::exp(logits[e]);
    for (int e = 0; e < n; ++e) scores[e] = std::exp(logits[e]) / sum;
  }
  std::vector<double> choice = scores;
  for (size_t e = 0; e < bias.size(); ++e) choice[e] += bias[e];
  std::vector<bool> allowed(n, true);
  if (spec.selection != RouterSelection::kTopK) {
    const int group_size = n / static_cast<int>(spec.n_group);
    std::vector<double> group_score(spec.n_group);
    for (int g = 0; g < spec.n_group; ++g) {
      std::vector<double> members(choice.begin() + g * group_size, choice.begin() + (g + 1) * group_size);
      std::sort(members.rbegin(), members.rend());
      group_score[g] = spec.selection == RouterSelection::kGroupMaxTopK ? members[0] : members[0] + members[1];
    }
    const std::vector<int> groups = ranked(group_score);
    for (int e = 0; e < n; ++e)
      allowed[e] = std::find(groups.begin(), groups.begin() + spec.topk_group, e / group_size) !=
                   groups.begin() + spec.topk_group;
  }
  for (int e = 0; e < n; ++e)
    if (!allowed[e]) choice[e] = -INFINITY;
  const std::vector<int> order = ranked(choice);
  std::vector<std::pair<int, double>> picked;
  double sum = 0;
  for (int k = 0; k < spec.top_k; ++k) {
    picked.push_back({order[k], scores[order[k]]});
    sum += scores[order[k]];
  }
  for (auto& [e, w] : picked) w = (spec.normalize ? w / sum : w) * spec.weight_scale;
  return picked;
}

struct MoeCase {
  const char* name;
  RouterSpec spec;
  DType expert_dtype;
  bool bias;
  bool shared;
  int64_t block = 128;  // FP8 block size (square)
};

class MoeFfnTest : public ::testing::TestWithParam<MoeCase> {};

TEST_P(MoeFfnTest, MatchesPerTokenNaiveLoop) {
  const MoeCase& p = GetParam();
  constexpr int64_t T = 5, hidden = 10, n_experts = 8, inter = 6, shared_inter = 12;
  auto backend = make_reference_backend();
  Rng rng(7);

  const OwnedWeight router = test::random_weight("gate", DType::kBF16, {n_experts, hidden}, rng);
  std::vector<float> bias_values;
  for (int e = 0; e < n_experts; ++e) bias_values.push_back(rng.uniform(0.3f));
  const OwnedWeight bias = test::weight_from("bias", DType::kF32, {n_experts}, bias_values);

  std::vector<OwnedWeight> weights;  // gate, up, down per expert, then the shared FFN
  weights.reserve(3 * n_experts + 3);
  for (int e = 0; e <= n_experts; ++e) {
    const int64_t width = e < n_experts ? inter : shared_inter;
    weights.push_back(test::random_weight("gate", p.expert_dtype, {width, hidden}, rng, p.block, p.block));
    weights.push_back(test::random_weight("up", p.expert_dtype, {width, hidden}, rng, p.block, p.block));
    weights.push_back(test::random_weight("down", p.expert_dtype, {hidden, width}, rng, p.block, p.block));
  }
  std::vector<std::unique_ptr<PreparedWeight>> prepared;
  for (const auto& w : weights) prepared.push_back(std::move(backend->prepare_weight(w.view)).value());
  auto router_w = std::move(backend->prepare_weight(router.view)).value();
  auto bias_w = std::move(backend->prepare_weight(bias.view)).value();

  std::vector<FfnWeights> experts;
  for (int e = 0; e < n_experts; ++e)
    experts.push_back({prepared[3 * e].get(), prepared[3 * e + 1].get(), prepared[3 * e + 2].get()});
  const FfnWeights shared{prepared[3 * n_experts].get(), prepared[3 * n_experts + 1].get(),
                          prepared[3 * n_experts + 2].get()};

  Activation x(T, hidden), out(T, hidden, /*pad=*/1);
  x.fill_random(rng, 2.0f);
  MoeArgs args{.out = out.tensor, .x = x.tensor, .router = router_w.get(),
               .selection_bias = p.bias ? bias_w.get() : nullptr, .experts = experts, .spec = p.spec};
  if (p.shared) args.shared = shared;
  backend->moe_ffn(args);
  EXPECT_EQ(out.clobbered_padding(), 0);

  std::vector<double> bias_d(bias.real.begin(), bias.real.end());
  if (!p.bias) bias_d.clear();
  RouterSpec plain_spec = p.spec;
  plain_spec.selection = RouterSelection::kTopK;
  int64_t failures = 0, changed_by_bias = 0, changed_by_groups = 0;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> xt(hidden), logits(n_experts, 0.0), expected(hidden, 0.0);
    for (int64_t k = 0; k < hidden; ++k) xt[k] = x.at(t, k);
    for (int e = 0; e < n_experts; ++e)
      for (int64_t k = 0; k < hidden; ++k) logits[e] += router.at(e, k) * xt[k];
    // Coverage of the data: the bias and the group rule must change some token's experts.
    changed_by_bias += naive_route(logits, bias_d, p.spec) != naive_route(logits, {}, p.spec);
    changed_by_groups += naive_route(logits, {}, p.spec) != naive_route(logits, {}, plain_spec);
    for (const auto& [e, w] : naive_route(logits, bias_d, p.spec)) {
      const auto y = naive_swiglu(xt, {&weights[3 * e], &weights[3 * e + 1], &weights[3 * e + 2]});
      for (int64_t o = 0; o < hidden; ++o) expected[o] += w * y[o];
    }
    if (p.shared) {
      const auto y = naive_swiglu(xt, {&weights[3 * n_experts], &weights[3 * n_experts + 1], &weights[3 * n_experts + 2]});
      for (int64_t o = 0; o < hidden; ++o) expected[o] += y[o];
    }
    for (int64_t o = 0; o < hidden; ++o)
      if (!(std::fabs(out.at(t, o) - expected[o]) <= 1e-4 * (1 + std::fabs(expected[o]))) && failures++ < 5)
        ADD_FAILURE() << "out[" << t << "," << o << "] = " << out.at(t, o) << ", naive " << expected[o];
  }
  EXPECT_EQ(failures, 0);
  if (p.bias) {
    EXPECT_GT(changed_by_bias, 0) << "test data never exercises the selection bias";
  }
  if (p.spec.selection != RouterSelection::kTopK) {
    EXPECT_GT(changed_by_groups, 0) << "test data never exercises the group limit";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Routers, MoeFfnTest,
    ::testing::Values(
        // DeepSeek-V3: sigmoid, group top-2-sum with selection bias, normalise, x2.5, shared.
        MoeCase{"v3_noaux_tc",
                {.scoring = RouterScoring::kSigmoid, .selection = RouterSelection::kGroupTop2SumTopK, .top_k = 3,
                 .n_group = 4, .topk_group = 2, .normalize = true, .weight_scale = 2.5f},
                DType::kBF16, /*bias=*/true, /*shared=*/true},
        // DeepSeek-V2-Lite: softmax, plain top-k, no normalisation, shared.
        MoeCase{"v2_greedy", {.scoring = RouterScoring::kSoftmax, .top_k = 2}, DType::kBF16, false, true},
        // V2-236B style group max with scaling, FP8 experts in 4x4 blocks (partial edges), no shared.
        MoeCase{"group_max_fp8",
                {.scoring = RouterScoring::kSoftmax, .selection = RouterSelection::kGroupMaxTopK, .top_k = 3,
                 .n_group = 2, .topk_group = 1, .weight_scale = 16.0f},
                DType::kF8E4M3, false, false, 4},
        // Every expert chosen by every token.
        MoeCase{"all_experts_f16", {.scoring = RouterScoring::kSoftmax, .top_k = 8, .normalize = true},
                DType::kF16, false, true}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dsinfer
