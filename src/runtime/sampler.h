// Picks the next token from a row of logits: greedy (temperature 0) or sampled with
// temperature, top-k and top-p (nucleus) filtering from a seeded generator, so a run
// with the same seed reproduces.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace dsinfer {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  float top_p = 1.0f;        // keep the smallest set of tokens whose probability reaches top_p
  int64_t top_k = 0;         // 0: no limit
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}
  int32_t sample(std::span<const float> logits);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace dsinfer
