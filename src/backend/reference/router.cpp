#include "backend/reference/router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace dsinfer::reference {
namespace {

std::vector<float> score(std::span<const float> logits, RouterScoring scoring) {
  std::vector<float> scores(logits.begin(), logits.end());
  if (scoring == RouterScoring::kSigmoid) {
    for (float& s : scores) s = 1.0f / (1.0f + std::exp(-s));
    return scores;
  }
  if (scoring == RouterScoring::kSqrtSoftplus) {
    // softplus(s) = max(s, 0) + log1p(e^-|s|), stable for large |s|.
    for (float& s : scores) s = std::sqrt(std::max(s, 0.0f) + std::log1p(std::exp(-std::fabs(s))));
    return scores;
  }
  const float max = *std::max_element(scores.begin(), scores.end());
  float sum = 0.0f;
  for (float& s : scores) sum += (s = std::exp(s - max));
  for (float& s : scores) s /= sum;
  return scores;
}

// Indices of the k largest values, largest first; the lower index wins a tie.
std::vector<int32_t> top_k_indices(std::span<const float> values, int64_t k) {
  std::vector<int32_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  });
  order.resize(static_cast<size_t>(k));
  return order;
}

// Masks (to -inf) every expert outside the topk_group best groups.
void keep_best_groups(std::vector<float>& choice, const RouterSpec& spec) {
  const int64_t group_size = static_cast<int64_t>(choice.size()) / spec.n_group;
  std::vector<float> group_scores(static_cast<size_t>(spec.n_group));
  for (int64_t g = 0; g < spec.n_group; ++g) {
    std::span<const float> members(choice.data() + g * group_size, static_cast<size_t>(group_size));
    if (spec.selection == RouterSelection::kGroupMaxTopK) {
      group_scores[g] = *std::max_element(members.begin(), members.end());
    } else {
      float sum = 0.0f;
      for (int32_t i : top_k_indices(members, std::min<int64_t>(2, group_size))) sum += members[i];
      group_scores[g] = sum;
    }
  }
  auto kept = top_k_indices(group_scores, spec.topk_group);
  std::vector<bool> keep(static_cast<size_t>(spec.n_group), false);
  for (int32_t g : kept) keep[g] = true;
  for (int64_t e = 0; e < static_cast<int64_t>(choice.size()); ++e)
    if (!keep[e / group_size]) choice[e] = -std::numeric_limits<float>::infinity();
}

// Fills the mixing weights of the chosen experts: their unbiased scores, normalised
// and scaled per spec.
ExpertChoice weigh(ExpertChoice& choice, const std::vector<float>& scores, const RouterSpec& spec) {
  float sum = 0.0f;
  for (int32_t e : choice.experts) {
    choice.weights.push_back(scores[e]);
    sum += scores[e];
  }
  for (float& w : choice.weights) {
    if (spec.normalize) w /= (sum + 1e-20f);
    w *= spec.weight_scale;
  }
  return choice;
}

}  // namespace

ExpertChoice route_token(std::span<const float> logits, std::span<const float> bias, const RouterSpec& spec,
                         std::span<const int32_t> fixed) {
  const std::vector<float> scores = score(logits, spec.scoring);
  ExpertChoice result;
  if (!fixed.empty()) {
    result.experts.assign(fixed.begin(), fixed.end());
    return weigh(result, scores, spec);
  }
  // Selection may use biased scores; the mixing weights never do.
  std::vector<float> choice = scores;
  for (size_t e = 0; e < bias.size(); ++e) choice[e] += bias[e];
  if (spec.selection != RouterSelection::kTopK && spec.n_group > 1) keep_best_groups(choice, spec);

  result.experts = top_k_indices(choice, spec.top_k);
  return weigh(result, scores, spec);
}

}  // namespace dsinfer::reference
