// Picks the next token from a row of logits: greedy (temperature 0) or sampled with
// temperature, top-k, min-p and top-p (nucleus) filtering from a seeded generator, so a
// run with the same seed reproduces. Presence and frequency penalties (OpenAI semantics)
// lower the logits of tokens this sampler has already produced.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dsinfer {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  float top_p = 1.0f;        // keep the smallest set of tokens whose probability reaches top_p
  int64_t top_k = 0;         // 0: no limit
  float min_p = 0.0f;        // drop tokens less likely than min_p * the most likely one; 0: off
  // logit -= presence_penalty * (count > 0) + frequency_penalty * count, where count is
  // how often this sampler has already produced the token. Applied before greedy too.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
};

// Order of the filters: penalties on the raw logits, top-k, softmax at the temperature,
// min-p (relative to the best candidate), then top-p over what is left.
class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}
  int32_t sample(std::span<const float> logits);

 private:
  bool has_penalties() const { return params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f; }

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::unordered_map<int32_t, int32_t> produced_;  // token -> times sampled; only with penalties
  std::vector<float> penalized_;                   // scratch copy of the logits
};

// Log-probabilities under the model's own distribution: log-softmax of the raw logits
// (temperature 1, no penalties or filters), as OpenAI's `logprobs` reports them.
struct TokenLogprobs {
  float chosen = 0.0f;                           // of the token that was picked
  std::vector<std::pair<int32_t, float>> top;    // the top_n most likely, best first
};
TokenLogprobs token_logprobs(std::span<const float> logits, int32_t chosen, int64_t top_n);

}  // namespace dsinfer
