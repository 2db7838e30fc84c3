// Text in, text out over a Session: what `run -p` and `chat` share. Generated text is
// streamed as ids arrive (never a broken UTF-8 character) and generation stops at the
// tokenizer's end-of-sequence token or after max_new_tokens.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/deepseek_model.h"
#include "model/deepseek_v4_model.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::cli {

struct TextGenerationResult {
  std::string text;
  std::vector<int32_t> ids;
  bool stopped_at_eos = false;
};

// Runs `prompt` through a fresh session of `model` and samples up to max_new_tokens,
// calling on_text with each newly complete piece of text.
Result<TextGenerationResult> generate_text(DeepSeekModel& model, const Tokenizer& tokenizer,
                                           const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                           const SamplingParams& sampling,
                                           const std::function<void(const std::string&)>& on_text);
// The same for a DeepSeek-V4 model (its own caches).
Result<TextGenerationResult> generate_text(DeepSeekV4Model& model, const Tokenizer& tokenizer,
                                           const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                           const SamplingParams& sampling,
                                           const std::function<void(const std::string&)>& on_text);

}  // namespace dsinfer::cli
