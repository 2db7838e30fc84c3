#include "cli/text_generation.h"

#include "runtime/session.h"
#include "runtime/v4_session.h"
#include "tokenizer/stream_decoder.h"

namespace dsinfer::cli {

namespace {

template <typename SessionType, typename Model>
Result<TextGenerationResult> generate_with(Model& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                                           int64_t max_new_tokens, const SamplingParams& sampling,
                                           const std::function<void(const std::string&)>& on_text) {
  const int64_t context = model.config().max_position_embeddings;
  if (static_cast<int64_t>(prompt.size()) >= context)
    return error("the prompt is {} tokens, the model's context is {}", prompt.size(), context);
  const int64_t budget = std::min<int64_t>(max_new_tokens, context - static_cast<int64_t>(prompt.size()));
  SessionType session(model, static_cast<int64_t>(prompt.size()) + budget);
  StreamDecoder decoder(tokenizer, {.skip_special_tokens = true});
  TextGenerationResult result;
  Status stream_status;
  DSINFER_RETURN_IF_ERROR(session.generate(prompt, budget, sampling, [&](int32_t id) {
    if (tokenizer.ends_generation(id)) {
      result.stopped_at_eos = true;
      return false;
    }
    result.ids.push_back(id);
    // Padding ids past the tokenizer's vocabulary (vocab_size is rounded up) have no
    // text; like HF's decode, skip them.
    if (!tokenizer.token_bytes(static_cast<TokenId>(id))) return true;
    auto piece = decoder.push(static_cast<TokenId>(id));
    if (!piece) {
      stream_status = piece.status();
      return false;
    }
    result.text += *piece;
    if (!piece->empty()) on_text(*piece);
    return true;
  }));
  DSINFER_RETURN_IF_ERROR(stream_status);
  const std::string rest = decoder.finish();
  result.text += rest;
  if (!rest.empty()) on_text(rest);
  return result;
}

}  // namespace

Result<TextGenerationResult> generate_text(DeepSeekModel& model, const Tokenizer& tokenizer,
                                           const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                           const SamplingParams& sampling,
                                           const std::function<void(const std::string&)>& on_text) {
  return generate_with<Session>(model, tokenizer, prompt, max_new_tokens, sampling, on_text);
}

Result<TextGenerationResult> generate_text(DeepSeekV4Model& model, const Tokenizer& tokenizer,
                                           const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                           const SamplingParams& sampling,
                                           const std::function<void(const std::string&)>& on_text) {
  return generate_with<V4Session>(model, tokenizer, prompt, max_new_tokens, sampling, on_text);
}

}  // namespace dsinfer::cli
