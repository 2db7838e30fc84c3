// One DeepSeek-V4 sequence: its V4State caches and how far it has got, with the same
// append / generate interface as Session (which serves the MLA models).
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "model/deepseek_v4_model.h"
#include "model/deepseek_v4_state.h"
#include "runtime/sampler.h"

namespace dsinfer {

class V4Session {
 public:
  V4Session(DeepSeekV4Model& model, int64_t capacity);

  int64_t position() const { return state_.position(); }
  int64_t capacity() const { return state_.capacity(); }
  // Runs `tokens` at the next positions; `logits` gets the last row, or all rows.
  // (options.attention_form does not apply to V4.)
  Status append(std::span<const int32_t> tokens, const ForwardOptions& options, std::vector<float>& logits);
  // Prefills `prompt`, then samples up to `max_new_tokens` tokens, calling `on_token` for
  // each; it may return false to stop early.
  Status generate(std::span<const int32_t> prompt, int64_t max_new_tokens, const SamplingParams& params,
                  const std::function<bool(int32_t)>& on_token);

 private:
  DeepSeekV4Model& model_;
  V4State state_;
};

}  // namespace dsinfer
