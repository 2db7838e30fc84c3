#include "runtime/v4_session.h"

#include "runtime/generation_loop.h"

namespace dsinfer {

V4Session::V4Session(DeepSeekV4Model& model, int64_t capacity)
    : model_(model), state_(model.config(), model.backend(), capacity) {}

Status V4Session::append(std::span<const int32_t> tokens, const ForwardOptions& options, std::vector<float>& logits) {
  return model_.forward(tokens, state_, options.logits, logits);
}

Status V4Session::generate(std::span<const int32_t> prompt, int64_t max_new_tokens, const SamplingParams& params,
                           const std::function<bool(int32_t)>& on_token) {
  return generate_tokens(*this, prompt, max_new_tokens, params, on_token);
}

}  // namespace dsinfer
