#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace dsinfer {

int32_t Sampler::sample(std::span<const float> raw_logits) {
  std::span<const float> logits = raw_logits;
  if (has_penalties() && !produced_.empty()) {
    penalized_.assign(raw_logits.begin(), raw_logits.end());
    for (const auto& [token, count] : produced_) {
      if (token < 0 || static_cast<size_t>(token) >= penalized_.size()) continue;
      penalized_[token] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(count);
    }
    logits = penalized_;
  }
  const int32_t token = [&] {
    if (params_.temperature <= 0.0f) {
      return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }

    // Candidates sorted by logit, cut to top_k.
    std::vector<int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    const size_t keep =
        params_.top_k > 0 ? std::min<size_t>(static_cast<size_t>(params_.top_k), order.size()) : order.size();
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    order.resize(keep);

    // Softmax over the candidates at this temperature, then the min-p and nucleus cuts.
    std::vector<double> probs(keep);
    const double max = logits[order[0]];
    double sum = 0.0;
    for (size_t i = 0; i < keep; ++i) sum += (probs[i] = std::exp((logits[order[i]] - max) / params_.temperature));
    size_t nucleus = keep;
    if (params_.min_p > 0.0f) {
      // probs[0] is the best candidate's (unnormalised) probability, exactly 1.
      const double floor = params_.min_p * probs[0];
      while (nucleus > 1 && probs[nucleus - 1] < floor) sum -= probs[--nucleus];
    }
    if (params_.top_p < 1.0f) {
      double cumulative = 0.0;
      for (size_t i = 0; i < nucleus; ++i) {
        cumulative += probs[i] / sum;
        if (cumulative >= params_.top_p) {
          nucleus = i + 1;
          break;
        }
      }
    }
    std::discrete_distribution<size_t> pick(probs.begin(), probs.begin() + static_cast<std::ptrdiff_t>(nucleus));
    return order[pick(rng_)];
  }();
  if (has_penalties()) ++produced_[token];
  return token;
}

TokenLogprobs token_logprobs(std::span<const float> logits, int32_t chosen, int64_t top_n) {
  TokenLogprobs out;
  if (logits.empty()) return out;
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  const double log_z = max + std::log(sum);
  if (chosen >= 0 && static_cast<size_t>(chosen) < logits.size()) {
    out.chosen = static_cast<float>(logits[chosen] - log_z);
  }
  const size_t n = std::min<size_t>(static_cast<size_t>(std::max<int64_t>(top_n, 0)), logits.size());
  if (n == 0) return out;
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  out.top.reserve(n);
  for (size_t i = 0; i < n; ++i) out.top.emplace_back(order[i], static_cast<float>(logits[order[i]] - log_z));
  return out;
}

}  // namespace dsinfer
