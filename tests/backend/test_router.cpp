// route_token: expert choice and mixing weights for one token, on hand-made logits whose
// expected outcome is worked out in the comments (sigmoid(x) = 1 / (1 + e^-x)).
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "backend/reference/router.h"

namespace dsinfer {
namespace {

using reference::ExpertChoice;
using reference::route_token;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Every case routes twice: through a fresh scratch, and through one scratch that every
// earlier case of this file has used (other sizes, scorings and group settings), as the
// CPU backend reuses one; both must choose and weigh alike.
ExpertChoice route(const std::vector<float>& logits, const RouterSpec& spec, const std::vector<float>& bias = {}) {
  static reference::RouterScratch reused;
  const ExpertChoice fresh = route_token(logits, bias, spec);
  const ExpertChoice& again = route_token(logits, bias, spec, {}, reused);
  EXPECT_EQ(again.experts, fresh.experts);
  EXPECT_EQ(again.weights, fresh.weights);
  return fresh;
}

void expect_weights(const ExpertChoice& choice, const std::vector<double>& expected, double tol = 1e-6) {
  ASSERT_EQ(choice.weights.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_NEAR(choice.weights[k], expected[k], tol) << "weight " << k;
}

TEST(Router, SoftmaxPlainTopK) {
  // Softmax over [1, 3, 2, 0]; the two best are experts 1 and 2, weighted by their
  // softmax probabilities (not renormalised).
  const auto choice = route({1, 3, 2, 0}, {.scoring = RouterScoring::kSoftmax, .top_k = 2});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{1, 2}));
  const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0) + 1.0;
  expect_weights(choice, {std::exp(3.0) / z, std::exp(2.0) / z});
}

TEST(Router, SoftmaxIsShiftInvariantForLargeLogits) {
  // Logits around 1000 would overflow a naive exp; the result equals that of [1, 3, 2, 0].
  const auto choice = route({1001, 1003, 1002, 1000}, {.scoring = RouterScoring::kSoftmax, .top_k = 2});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{1, 2}));
  const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0) + 1.0;
  expect_weights(choice, {std::exp(3.0) / z, std::exp(2.0) / z});
}

TEST(Router, SigmoidScoring) {
  // sigmoid(2) = 0.8807970780, sigmoid(1) = 0.7310585786, sigmoid(0) = 0.5.
  const auto choice = route({0, -2, 2, 1}, {.scoring = RouterScoring::kSigmoid, .top_k = 3});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{2, 3, 0}));
  expect_weights(choice, {0.8807970780, 0.7310585786, 0.5});
}

TEST(Router, NormalizeThenWeightScale) {
  // Experts 2 and 3: 0.8807970780 / 1.6118556566 * 2.5 and 0.7310585786 / 1.6118556566 * 2.5.
  const auto choice =
      route({0, -2, 2, 1}, {.scoring = RouterScoring::kSigmoid, .top_k = 2, .normalize = true, .weight_scale = 2.5f});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{2, 3}));
  expect_weights(choice, {1.3661228, 1.1338772});
  EXPECT_NEAR(choice.weights[0] + choice.weights[1], 2.5, 1e-6);
}

TEST(Router, WeightScaleWithoutNormalize) {
  const auto choice = route({0, -2, 2, 1}, {.scoring = RouterScoring::kSigmoid, .top_k = 2, .weight_scale = 16.0f});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{2, 3}));
  expect_weights(choice, {16 * 0.8807970780, 16 * 0.7310585786}, 1e-5);
}

// Eight experts in four groups of two: g0 = {0,1}, g1 = {2,3}, g2 = {4,5}, g3 = {6,7}.
const std::vector<float> kGroupLogits{5, 0, 4.8f, 4.7f, 4.9f, 0, 6, -5};

TEST(Router, PlainTopKIgnoresGroups) {
  const auto choice = route(kGroupLogits, {.scoring = RouterScoring::kSigmoid, .selection = RouterSelection::kTopK,
                                           .top_k = 3, .n_group = 4, .topk_group = 2});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{6, 0, 4}));
}

TEST(Router, GroupMaxKeepsGroupsWithTheBestExpert) {
  // Group maxima (by logit, softmax is monotonic): g0 5, g1 4.8, g2 4.9, g3 6 -> keep g3
  // and g0; top-3 of {0, 1, 6, 7} is 6, 0, 1 (plain top-3 would take 4 over 1).
  const auto choice = route(kGroupLogits, {.scoring = RouterScoring::kSoftmax,
                                           .selection = RouterSelection::kGroupMaxTopK,
                                           .top_k = 3, .n_group = 4, .topk_group = 2});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{6, 0, 1}));
  double z = 0;
  for (float l : kGroupLogits) z += std::exp(double(l));
  expect_weights(choice, {std::exp(6.0) / z, std::exp(5.0) / z, std::exp(0.0) / z});
}

TEST(Router, GroupTop2SumKeepsGroupsWithTheBestPair) {
  // Sigmoid scores: g0 0.99331+0.5 = 1.49331, g1 0.99184+0.99099 = 1.98283,
  // g2 0.99260+0.5 = 1.49260, g3 0.99753+0.00669 = 1.00422 -> keep g1 and g0 (g3 holds
  // the best single expert but is dropped); top-3 of {0,1,2,3} is 0, 2, 3.
  const RouterSpec spec{.scoring = RouterScoring::kSigmoid, .selection = RouterSelection::kGroupTop2SumTopK,
                        .top_k = 3, .n_group = 4, .topk_group = 2};
  const auto choice = route(kGroupLogits, spec);
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{0, 2, 3}));
  expect_weights(choice, {sigmoid(5), sigmoid(4.8), sigmoid(4.7)});

  // The group-max rule on the same sigmoid scores keeps g3 and g0 instead.
  RouterSpec by_max = spec;
  by_max.selection = RouterSelection::kGroupMaxTopK;
  EXPECT_EQ(route(kGroupLogits, by_max).experts, (std::vector<int32_t>{6, 0, 1}));
}

TEST(Router, SelectionBiasChoosesButDoesNotWeigh) {
  // No groups: sigmoid scores of [2, 1, 0, -1] are 0.8808, 0.7311, 0.5, 0.2689. A bias of
  // +5 on expert 3 makes it the first choice; its weight stays sigmoid(-1).
  const RouterSpec spec{.scoring = RouterScoring::kSigmoid, .selection = RouterSelection::kGroupTop2SumTopK,
                        .top_k = 2, .n_group = 1, .topk_group = 1};
  const auto unbiased = route({2, 1, 0, -1}, spec);
  EXPECT_EQ(unbiased.experts, (std::vector<int32_t>{0, 1}));
  const auto biased = route({2, 1, 0, -1}, spec, {0, 0, 0, 5});
  EXPECT_EQ(biased.experts, (std::vector<int32_t>{3, 0}));
  expect_weights(biased, {sigmoid(-1), sigmoid(2)});
}

TEST(Router, NoauxTcBiasChangesTheKeptGroupsAndWeightsStayUnbiased) {
  // DeepSeek-V3 routing on 8 experts in 4 groups, keep 2 groups, top-2, normalise, x2.5.
  // Scores: sigmoid([2, 1, 1.5, 0.5, -1, -1, 0, -0.5]) =
  //   [0.880797, 0.731059, 0.817574, 0.622459, 0.268941, 0.268941, 0.5, 0.377541].
  // Unbiased group sums: g0 1.611856, g1 1.440033, g2 0.537883, g3 0.877541 -> g0, g1
  // -> experts 0, 2.
  // Bias +0.6 on g3: g3 becomes 1.1 + 0.977541 = 2.077541 -> keep g3, g0; biased scores
  // of {0, 1, 6, 7} are 0.8808, 0.7311, 1.1, 0.9775 -> experts 6, 7, weighted by their
  // UNBIASED scores: 0.5 / 0.877541 * 2.5 = 1.424435 and 0.377541 / 0.877541 * 2.5 = 1.075565.
  const std::vector<float> logits{2, 1, 1.5f, 0.5f, -1, -1, 0, -0.5f};
  const RouterSpec spec{.scoring = RouterScoring::kSigmoid, .selection = RouterSelection::kGroupTop2SumTopK,
                        .top_k = 2, .n_group = 4, .topk_group = 2, .normalize = true, .weight_scale = 2.5f};
  const auto unbiased = route(logits, spec);
  EXPECT_EQ(unbiased.experts, (std::vector<int32_t>{0, 2}));
  const double s0 = sigmoid(2), s2 = sigmoid(1.5);
  expect_weights(unbiased, {s0 / (s0 + s2) * 2.5, s2 / (s0 + s2) * 2.5});

  const auto biased = route(logits, spec, {0, 0, 0, 0, 0, 0, 0.6f, 0.6f});
  EXPECT_EQ(biased.experts, (std::vector<int32_t>{6, 7}));
  expect_weights(biased, {1.424435, 1.075565});
}

TEST(Router, TiesGoToTheLowerExpert) {
  const auto choice = route({1, 1, 1, 1}, {.scoring = RouterScoring::kSoftmax, .top_k = 2});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{0, 1}));
  expect_weights(choice, {0.25, 0.25});

  const auto three = route({0, 2, 1, 2, 2}, {.scoring = RouterScoring::kSigmoid, .top_k = 2});
  EXPECT_EQ(three.experts, (std::vector<int32_t>{1, 3}));
}

TEST(Router, TiedGroupsGoToTheLowerGroup) {
  // All logits 0 -> every sigmoid score is exactly 0.5. Biases make the biased scores
  // g0 = [0.75, 0.75] and g1 = [1.0, 0.5]: both groups sum to exactly 1.5. Keeping the
  // lower group (g0) picks expert 0; keeping g1 would pick expert 2 (as plain top-1 does).
  const std::vector<float> logits{0, 0, 0, 0};
  const std::vector<float> bias{0.25f, 0.25f, 0.5f, 0.0f};
  const RouterSpec spec{.scoring = RouterScoring::kSigmoid, .selection = RouterSelection::kGroupTop2SumTopK,
                        .top_k = 1, .n_group = 2, .topk_group = 1};
  const auto choice = route(logits, spec, bias);
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{0}));
  expect_weights(choice, {0.5});

  RouterSpec plain = spec;
  plain.selection = RouterSelection::kTopK;
  EXPECT_EQ(route(logits, plain, bias).experts, (std::vector<int32_t>{2}));
}

TEST(Router, GroupMaskNeverLetsAMaskedExpertIn) {
  // Keep 1 of 2 groups, top-2: both choices must come from the kept group even though the
  // other group's experts score higher than the kept group's second.
  // Softmax maxima: g0 max 3 (expert 0), g1 max 2.9 -> keep g0 = {0,1,2}; top-2: 0, 2.
  const auto choice = route({3, -4, -1, 2.9f, 2.8f, 2.7f}, {.scoring = RouterScoring::kSoftmax,
                                                              .selection = RouterSelection::kGroupMaxTopK,
                                                              .top_k = 2, .n_group = 2, .topk_group = 1});
  EXPECT_EQ(choice.experts, (std::vector<int32_t>{0, 2}));
}

}  // namespace
}  // namespace dsinfer
