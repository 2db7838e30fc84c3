#include "backend/reference/router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace dsinfer::reference {
namespace {

void score(std::span<const float> logits, RouterScoring scoring, std::vector<float>& scores) {
  scores.assign(logits.begin(), logits.end());
  if (scoring == RouterScoring::kSigmoid) {
    for (float& s : scores) s = 1.0f / (1.0f + std::exp(-s));
    return;
  }
  if (scoring == RouterScoring::kSqrtSoftplus) {
    // softplus(s) = max(s, 0) + log1p(e^-|s|), stable for large |s|.
    for (float& s : scores) s = std::sqrt(std::max(s, 0.0f) + std::log1p(std::exp(-std::fabs(s))));
    return;
  }
  const float max = *std::max_element(scores.begin(), scores.end());
  float sum = 0.0f;
  for (float& s : scores) sum += (s = std::exp(s - max));
  for (float& s : scores) s /= sum;
}

// Indices of the k largest values into `order`, largest first; the lower index wins a tie.
void top_k_indices(std::span<const float> values, int64_t k, std::vector<int32_t>& order) {
  order.resize(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  });
  order.resize(static_cast<size_t>(k));
}

// Masks (to -inf) every expert of scratch.choice outside the topk_group best groups.
void keep_best_groups(const RouterSpec& spec, RouterScratch& scratch) {
  std::vector<float>& choice = scratch.choice;
  const int64_t group_size = static_cast<int64_t>(choice.size()) / spec.n_group;
  scratch.group_scores.resize(static_cast<size_t>(spec.n_group));
  for (int64_t g = 0; g < spec.n_group; ++g) {
    std::span<const float> members(choice.data() + g * group_size, static_cast<size_t>(group_size));
    if (spec.selection == RouterSelection::kGroupMaxTopK) {
      scratch.group_scores[g] = *std::max_element(members.begin(), members.end());
    } else {
      float sum = 0.0f;
      top_k_indices(members, std::min<int64_t>(2, group_size), scratch.group_order);
      for (int32_t i : scratch.group_order) sum += members[i];
      scratch.group_scores[g] = sum;
    }
  }
  top_k_indices(scratch.group_scores, spec.topk_group, scratch.group_order);
  scratch.keep_group.assign(static_cast<size_t>(spec.n_group), 0);
  for (int32_t g : scratch.group_order) scratch.keep_group[g] = 1;
  for (int64_t e = 0; e < static_cast<int64_t>(choice.size()); ++e)
    if (!scratch.keep_group[e / group_size]) choice[e] = -std::numeric_limits<float>::infinity();
}

// Fills the mixing weights of the chosen experts: their unbiased scores, normalised
// and scaled per spec.
const ExpertChoice& weigh(ExpertChoice& choice, const std::vector<float>& scores, const RouterSpec& spec) {
  float sum = 0.0f;
  choice.weights.clear();
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

const ExpertChoice& route_token(std::span<const float> logits, std::span<const float> bias, const RouterSpec& spec,
                                std::span<const int32_t> fixed, RouterScratch& scratch) {
  score(logits, spec.scoring, scratch.scores);
  ExpertChoice& result = scratch.result;
  if (!fixed.empty()) {
    result.experts.assign(fixed.begin(), fixed.end());
    return weigh(result, scratch.scores, spec);
  }
  // Selection may use biased scores; the mixing weights never do.
  scratch.choice = scratch.scores;
  for (size_t e = 0; e < bias.size(); ++e) scratch.choice[e] += bias[e];
  if (spec.selection != RouterSelection::kTopK && spec.n_group > 1) keep_best_groups(spec, scratch);

  top_k_indices(scratch.choice, spec.top_k, result.experts);
  return weigh(result, scratch.scores, spec);
}

ExpertChoice route_token(std::span<const float> logits, std::span<const float> bias, const RouterSpec& spec,
                         std::span<const int32_t> fixed) {
  RouterScratch scratch;
  return route_token(logits, bias, spec, fixed, scratch);
}

}  // namespace dsinfer::reference
