// libFuzzer target for the bodies of POST /v1/chat/completions and /v1/completions: bytes
// any network client can send. The first byte picks the endpoint, the rest is the body.
// Any input must give either an OpenAI-style error with a message, or a request within the
// server's limits (choices, stop strings, logprobs) whose every value the rest of the
// server may take as checked; never a crash, an uncaught exception or a hang.
//
// Run: scripts/fuzz.sh fuzz_openai_request [SECONDS] (docs/fuzzing.md).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "server/openai_request.h"
#include "fuzz_check.h"

namespace {

using dsinfer::fuzz::require;
using dsinfer::server::ApiError;
using dsinfer::server::GenerationParams;
using dsinfer::server::RequestLimits;

void check_params(const GenerationParams& p, const RequestLimits& limits) {
  require(p.n >= 1 && p.n <= limits.max_n);
  require(p.stop.size() <= limits.max_stop);
  for (const auto& s : p.stop) require(!s.empty());
  require(p.top_logprobs <= limits.max_top_logprobs);
  require(!p.max_tokens || *p.max_tokens >= 1);
  require(std::isfinite(p.sampling.temperature) && p.sampling.temperature >= 0);
  require(std::isfinite(p.sampling.top_p) && p.sampling.top_p > 0 && p.sampling.top_p <= 1);
  require(!p.include_usage || p.stream);
}

template <typename Request>
const Request* accepted(const std::variant<Request, ApiError>& result) {
  if (const auto* error = std::get_if<ApiError>(&result)) {
    require(!error->message.empty());
    return nullptr;
  }
  return &std::get<Request>(result);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const RequestLimits limits{.model_name = "dsinfer-demo"};
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    const auto result = dsinfer::server::parse_chat_request(body, limits);
    if (const auto* request = accepted(result)) {
      check_params(request->params, limits);
      require(request->messages.is_array() && !request->messages.empty());
      for (const auto& message : request->messages) {
        require(message.is_object());
        const auto role = message.find("role");
        require(role != message.end() && role->is_string());
      }
      require(!request->tools || request->tools->is_array());
    }
  } else {
    const auto result = dsinfer::server::parse_completion_request(body, limits);
    if (const auto* request = accepted(result)) {
      check_params(request->params, limits);
      require(!request->prompts.empty());
    }
  }
  return 0;
}
