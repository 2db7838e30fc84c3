#include "runtime/v4_session.h"

namespace dsinfer {

V4Session::V4Session(DeepSeekV4Model& model, int64_t capacity)
    : model_(model), state_(model.config(), model.backend(), capacity) {}

Status V4Session::append(std::span<const int32_t> tokens, const ForwardOptions& options, std::vector<float>& logits) {
  return model_.forward(tokens, state_, options.logits, logits);
}

Status V4Session::generate(std::span<const int32_t> prompt, int64_t max_new_tokens, const SamplingParams& params,
                           const std::function<bool(int32_t)>& on_token) {
  if (prompt.empty()) return error("the prompt is empty: give at least one token");
  if (position() + static_cast<int64_t>(prompt.size()) + max_new_tokens > state_.capacity() + 1)
    return error("prompt of {} tokens plus {} new tokens exceeds the context of {} positions", prompt.size(),
                 max_new_tokens, state_.capacity());
  Sampler sampler(params);
  std::vector<float> logits;
  DSINFER_RETURN_IF_ERROR(append(prompt, {}, logits));
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const int32_t token = sampler.sample(logits);
    if (!on_token(token) || i + 1 == max_new_tokens) break;
    const int32_t next[] = {token};
    DSINFER_RETURN_IF_ERROR(append(next, {}, logits));
  }
  return Status::ok();
}

}  // namespace dsinfer
