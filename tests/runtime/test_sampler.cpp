#include <cmath>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/sampler.h"

namespace dsinfer {
namespace {

TEST(Sampler, GreedyPicksTheLargestLogit) {
  Sampler sampler({});
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.9f};
  EXPECT_EQ(sampler.sample(logits), 1);
  EXPECT_EQ(sampler.sample(logits), 1);  // no penalties: same answer every time
}

TEST(Sampler, SameSeedSameTokens) {
  const std::vector<float> logits = {1.0f, 1.1f, 0.9f, 1.05f, 0.8f};
  const SamplingParams params{.temperature = 1.0f, .seed = 42};
  Sampler a(params), b(params);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(logits), b.sample(logits));
}

TEST(Sampler, PresencePenaltyMovesGreedyAway) {
  // 1 wins once; its logit then drops by 0.3 below token 3's.
  Sampler sampler({.presence_penalty = 0.3f});
  const std::vector<float> logits = {0.0f, 2.0f, 0.0f, 1.8f};
  EXPECT_EQ(sampler.sample(logits), 1);
  EXPECT_EQ(sampler.sample(logits), 3);
  // Both produced once, both lowered by the same 0.3: 1 is ahead again.
  EXPECT_EQ(sampler.sample(logits), 1);
}

TEST(Sampler, FrequencyPenaltyGrowsWithCount) {
  Sampler sampler({.frequency_penalty = 0.15f});
  const std::vector<float> logits = {0.0f, 2.0f, 1.8f};
  // 2.0 - 0.15k stays above 1.8 - 0.15j while k <= j + 1.
  std::vector<int32_t> got;
  for (int i = 0; i < 4; ++i) got.push_back(sampler.sample(logits));
  EXPECT_EQ(got, (std::vector<int32_t>{1, 1, 2, 1}));
}

TEST(Sampler, NegativePenaltyEncouragesRepeats) {
  Sampler sampler({.presence_penalty = -5.0f});
  const std::vector<float> first = {0.0f, 1.0f, 0.5f};
  const std::vector<float> later = {0.0f, 0.0f, 3.0f};
  EXPECT_EQ(sampler.sample(first), 1);
  EXPECT_EQ(sampler.sample(later), 1);  // 0 + 5 > 3
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  // Probabilities at temperature 1: token 0 dominates; min_p 0.5 keeps only it.
  const std::vector<float> logits = {5.0f, 4.0f, 0.0f};
  Sampler sampler({.temperature = 1.0f, .min_p = 0.5f, .seed = 7});
  for (int i = 0; i < 200; ++i) EXPECT_EQ(sampler.sample(logits), 0);
  // min_p 0.3: exp(-1) = 0.37 >= 0.3 keeps token 1, never token 2.
  Sampler wider({.temperature = 1.0f, .min_p = 0.3f, .seed = 7});
  std::map<int32_t, int> seen;
  for (int i = 0; i < 400; ++i) ++seen[wider.sample(logits)];
  EXPECT_GT(seen[1], 0);
  EXPECT_EQ(seen.count(2), 0u);
}

TEST(Sampler, TopKOneIsGreedy) {
  const std::vector<float> logits = {0.1f, 0.2f, 0.3f, 0.25f};
  Sampler sampler({.temperature = 2.0f, .top_k = 1, .seed = 3});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.sample(logits), 2);
}

TEST(TokenLogprobs, LogSoftmaxOfRawLogits) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, -1.0f};
  double z = 0;
  for (float x : logits) z += std::exp(x);
  const TokenLogprobs lp = token_logprobs(logits, 2, 3);
  EXPECT_NEAR(lp.chosen, 2.0 - std::log(z), 1e-6);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 1);
  EXPECT_EQ(lp.top[1].first, 2);
  EXPECT_EQ(lp.top[2].first, 0);
  EXPECT_NEAR(lp.top[0].second, 3.0 - std::log(z), 1e-6);
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) total += std::exp(token_logprobs(logits, static_cast<int32_t>(i), 0).chosen);
  EXPECT_NEAR(total, 1.0, 1e-6);
}

TEST(TokenLogprobs, TopNIsClampedAndZeroMeansNone) {
  const std::vector<float> logits = {0.0f, 1.0f};
  EXPECT_TRUE(token_logprobs(logits, 0, 0).top.empty());
  EXPECT_EQ(token_logprobs(logits, 0, 20).top.size(), 2u);
}

TEST(TokenLogprobs, LargeLogitsDoNotOverflow) {
  const std::vector<float> logits = {1000.0f, 999.0f};
  const TokenLogprobs lp = token_logprobs(logits, 0, 1);
  EXPECT_NEAR(lp.chosen, -std::log(1 + std::exp(-1.0)), 1e-5);
  EXPECT_TRUE(std::isfinite(lp.top[0].second));
}

}  // namespace
}  // namespace dsinfer
