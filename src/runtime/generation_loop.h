// The sampling loop Session and V4Session share: prefill the prompt, then sample and feed
// back one token at a time until max_new_tokens or on_token returns false.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/status.h"
#include "runtime/sampler.h"

namespace dsinfer {

// SessionType has position(), capacity() and append(tokens, ForwardOptions, logits).
template <typename SessionType>
Status generate_tokens(SessionType& session, std::span<const int32_t> prompt, int64_t max_new_tokens,
                       const SamplingParams& params, const std::function<bool(int32_t)>& on_token) {
  if (prompt.empty()) return error("the prompt is empty: give at least one token");
  if (session.position() + static_cast<int64_t>(prompt.size()) + max_new_tokens > session.capacity() + 1)
    return error("prompt of {} tokens plus {} new tokens exceeds the context of {} positions", prompt.size(),
                 max_new_tokens, session.capacity());
  Sampler sampler(params);
  std::vector<float> logits;
  DSINFER_RETURN_IF_ERROR(session.append(prompt, {}, logits));
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const int32_t token = sampler.sample(logits);
    if (!on_token(token) || i + 1 == max_new_tokens) break;
    const int32_t next[] = {token};
    DSINFER_RETURN_IF_ERROR(session.append(next, {}, logits));
  }
  return Status::ok();
}

}  // namespace dsinfer
