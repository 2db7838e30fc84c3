// The JSON objects of OpenAI responses: chat.completion, chat.completion.chunk,
// text_completion (whole and streamed), usage and logprobs, shaped field for field like
// the OpenAI API's so its official clients parse them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/chat_output.h"

namespace dsinfer::server {

struct ResponseMeta {
  std::string id;        // chatcmpl-... / cmpl-...
  std::string model;
  int64_t created = 0;   // Unix seconds
  bool chat = true;      // chat.completion(.chunk) or text_completion
  bool include_usage = false;  // streaming: every chunk has "usage": null, a last chunk has it
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
};

// One generated token with its log-probability and the best alternatives.
struct LogprobEntry {
  std::string token;  // the token's bytes (maybe part of a UTF-8 character)
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top;
  size_t text_offset = 0;  // completions: byte offset of the token's text in the reply
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;
};

// A finished choice.
struct ChoiceResult {
  std::string reasoning;
  std::string content;  // chat content or completion text
  std::vector<ToolCall> calls;
  std::optional<std::vector<LogprobEntry>> logprobs;  // when requested
  std::string finish_reason;
};

nlohmann::json usage_json(const Usage& usage);
// {"content": [{token, logprob, bytes, top_logprobs: [...]}, ...]}
nlohmann::json chat_logprobs_json(std::span<const LogprobEntry> entries);
// {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}
nlohmann::json completion_logprobs_json(std::span<const LogprobEntry> entries);

nlohmann::json completion_response_json(const ResponseMeta& meta, std::span<const ChoiceResult> choices,
                                        const Usage& usage);

// A streamed delta of a chat message. call_ids[i] is the id of tool call i; a call's
// first delta carries its id, type and name.
nlohmann::json chat_delta_json(const MessageDelta& delta, const std::vector<std::string>& call_ids);
// One chunk with one choice: `delta` is the chat delta object, or the text piece.
nlohmann::json chunk_json(const ResponseMeta& meta, size_t index, nlohmann::json delta,
                          nlohmann::json logprobs, std::optional<std::string> finish_reason);
// The final chunk of a stream with include_usage: no choices, the usage.
nlohmann::json usage_chunk_json(const ResponseMeta& meta, const Usage& usage);

}  // namespace dsinfer::server
