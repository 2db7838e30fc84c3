#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace dsinfer {

int32_t Sampler::sample(std::span<const float> logits) {
  const auto greedy = [&] {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  };
  if (params_.temperature <= 0.0f) return greedy();

  // Candidates sorted by logit, cut to top_k.
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t keep = params_.top_k > 0 ? std::min<size_t>(static_cast<size_t>(params_.top_k), order.size()) : order.size();
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  order.resize(keep);

  // Softmax over the candidates at this temperature, then the nucleus cut.
  std::vector<double> probs(keep);
  const double max = logits[order[0]];
  double sum = 0.0;
  for (size_t i = 0; i < keep; ++i) sum += (probs[i] = std::exp((logits[order[i]] - max) / params_.temperature));
  size_t nucleus = keep;
  if (params_.top_p < 1.0f) {
    double cumulative = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i] / sum;
      if (cumulative >= params_.top_p) {
        nucleus = i + 1;
        break;
      }
    }
  }
  std::discrete_distribution<size_t> pick(probs.begin(), probs.begin() + static_cast<std::ptrdiff_t>(nucleus));
  return order[pick(rng_)];
}

}  // namespace dsinfer
