#include "server/openai_response.h"

namespace dsinfer::server {
namespace {

using json = nlohmann::json;

json bytes_json(const std::string& s) {
  json bytes = json::array();
  for (unsigned char c : s) bytes.push_back(static_cast<int>(c));
  return bytes;
}

json meta_json(const ResponseMeta& meta, bool chunk) {
  return {{"id", meta.id},
          {"object", meta.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
          {"created", meta.created},
          {"model", meta.model}};
}

}  // namespace

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json chat_logprobs_json(std::span<const LogprobEntry> entries) {
  json content = json::array();
  for (const LogprobEntry& e : entries) {
    json top = json::array();
    for (const auto& [token, logprob] : e.top) {
      top.push_back({{"token", token}, {"logprob", logprob}, {"bytes", bytes_json(token)}});
    }
    content.push_back({{"token", e.token}, {"logprob", e.logprob}, {"bytes", bytes_json(e.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

json completion_logprobs_json(std::span<const LogprobEntry> entries) {
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(), offsets = json::array();
  for (const LogprobEntry& e : entries) {
    tokens.push_back(e.token);
    token_logprobs.push_back(e.logprob);
    json alternatives = json::object();
    for (const auto& [token, logprob] : e.top) {
      // Two tokens may decode to the same text; the more likely one (listed first) wins.
      if (!alternatives.contains(token)) alternatives[token] = logprob;
    }
    top.push_back(alternatives);
    offsets.push_back(e.text_offset);
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

json completion_response_json(const ResponseMeta& meta, std::span<const ChoiceResult> choices, const Usage& usage) {
  json out = meta_json(meta, /*chunk=*/false);
  json list = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    json choice = {{"index", i}};
    if (meta.chat) {
      json message = {{"role", "assistant"}};
      // OpenAI sends content null when the reply is only tool calls.
      message["content"] = c.content.empty() && !c.calls.empty() ? json(nullptr) : json(c.content);
      if (!c.reasoning.empty()) message["reasoning_content"] = c.reasoning;
      if (!c.calls.empty()) {
        json calls = json::array();
        for (const ToolCall& call : c.calls) {
          calls.push_back({{"id", call.id}, {"type", "function"}, {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
        }
        message["tool_calls"] = calls;
      }
      choice["message"] = message;
      choice["logprobs"] = c.logprobs ? chat_logprobs_json(*c.logprobs) : json(nullptr);
    } else {
      choice["text"] = c.content;
      choice["logprobs"] = c.logprobs ? completion_logprobs_json(*c.logprobs) : json(nullptr);
    }
    choice["finish_reason"] = c.finish_reason;
    list.push_back(choice);
  }
  out["choices"] = list;
  out["usage"] = usage_json(usage);
  return out;
}

json chat_delta_json(const MessageDelta& delta, const std::vector<std::string>& call_ids) {
  json out = json::object();
  if (!delta.reasoning.empty()) out["reasoning_content"] = delta.reasoning;
  if (!delta.content.empty()) out["content"] = delta.content;
  if (!delta.tool_calls.empty()) {
    json calls = json::array();
    for (const ToolCallDelta& d : delta.tool_calls) {
      json call = {{"index", d.index}};
      json function = json::object();
      if (!d.name.empty()) {
        call["id"] = d.index < call_ids.size() ? call_ids[d.index] : "";
        call["type"] = "function";
        function["name"] = d.name;
      }
      function["arguments"] = d.arguments;
      call["function"] = function;
      calls.push_back(call);
    }
    out["tool_calls"] = calls;
  }
  return out;
}

json chunk_json(const ResponseMeta& meta, size_t index, json delta, json logprobs,
                std::optional<std::string> finish_reason) {
  json out = meta_json(meta, /*chunk=*/true);
  json choice = {{"index", index}};
  if (meta.chat) {
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = std::move(delta);
  }
  choice["logprobs"] = std::move(logprobs);
  choice["finish_reason"] = finish_reason ? json(*finish_reason) : json(nullptr);
  out["choices"] = json::array({choice});
  if (meta.include_usage) out["usage"] = nullptr;
  return out;
}

json usage_chunk_json(const ResponseMeta& meta, const Usage& usage) {
  json out = meta_json(meta, /*chunk=*/true);
  out["choices"] = json::array();
  out["usage"] = usage_json(usage);
  return out;
}

}  // namespace dsinfer::server
