// The bodies of POST /v1/chat/completions and /v1/completions, parsed and validated into
// typed requests. Everything a client can get wrong is caught here and answered with an
// OpenAI-style error naming the field ("top_p: must be in (0, 1], got 1.5"); the rest of
// the server only sees well-formed values. Unknown fields are ignored, as vLLM does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/sampler.h"
#include "server/api_error.h"

namespace dsinfer::server {

template <typename T>
using ApiResult = std::variant<T, ApiError>;

// What the server accepts; the model name is the only one a client sees (GET /v1/models).
struct RequestLimits {
  std::string model_name;        // a request naming another model gets 404 model_not_found
  int64_t max_n = 16;            // choices per request
  size_t max_stop = 16;          // stop strings per request (OpenAI allows 4)
  int32_t max_top_logprobs = 20;
};

// Fields both endpoints share.
struct GenerationParams {
  std::optional<int64_t> max_tokens;  // nullopt: until the context is full
  SamplingParams sampling;            // temperature defaults to 1 as in the OpenAI API
  std::optional<uint64_t> seed;       // nullopt: the server picks one per choice
  std::vector<std::string> stop;      // non-empty strings
  int32_t top_logprobs = -1;          // <0: no logprobs; n: the chosen token's and n alternatives
  int64_t n = 1;                      // choices
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
};

struct ChatRequest {
  GenerationParams params;
  // The conversation for the chat template: each message has a string "role" (developer
  // becomes system) and "content" as a string or null (text parts joined with "\n");
  // other keys (tool_calls, tool_call_id, name, reasoning_content, prefix) pass through.
  nlohmann::ordered_json messages;
  std::optional<nlohmann::ordered_json> tools;  // the request's tools array, when non-empty
  // "auto", "none", "required", or the name of the one function the client asked for.
  // Only "none" changes anything: the template then gets no tools and no calls are parsed.
  std::string tool_choice = "auto";
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs
};

// One prompt of a completions request: text, or token ids.
using CompletionPrompt = std::variant<std::string, std::vector<int32_t>>;

struct CompletionRequest {
  GenerationParams params;
  std::vector<CompletionPrompt> prompts;  // at least one; choice index = prompt * n + i
};

ApiResult<ChatRequest> parse_chat_request(std::string_view body, const RequestLimits& limits);
ApiResult<CompletionRequest> parse_completion_request(std::string_view body, const RequestLimits& limits);

}  // namespace dsinfer::server
