#include "server/prompt_builder.h"

#include <fmt/format.h>

#include "server/reasoning_parser.h"
#include "server/tool_call_parser.h"

namespace dsinfer::server {

PromptBuilder PromptBuilder::create(const Tokenizer& tokenizer, ChatPromptFormat prompt_format,
                                   std::optional<ToolCallSyntax> syntax) {
  ChatFormat format;
  switch (prompt_format.kind()) {
    case ChatPromptFormat::Kind::kNone: break;
    case ChatPromptFormat::Kind::kJinja: format = detect_chat_format(*tokenizer.config().chat_template); break;
    // Both always have a thinking mode.
    case ChatPromptFormat::Kind::kDsmlV32: format = {.tool_calls = ToolCallSyntax::kDsmlV32, .reasoning = true}; break;
    case ChatPromptFormat::Kind::kDsmlV4: format = {.tool_calls = ToolCallSyntax::kDsmlV4, .reasoning = true}; break;
  }
  if (syntax) format.tool_calls = *syntax;
  return PromptBuilder(tokenizer, std::move(prompt_format), format);
}

ApiResult<ChatPrompt> PromptBuilder::chat(const ChatRequest& request) const {
  if (prompt_format_.kind() == ChatPromptFormat::Kind::kNone) {
    return bad_request(
        "This model has no chat template (tokenizer_config.json) and no built-in prompt format; use /v1/completions.");
  }
  ChatPromptInputs inputs{.messages = request.messages, .add_generation_prompt = true, .kwargs = request.template_kwargs};
  if (request.tool_choice != "none") inputs.tools = request.tools;
  Result<std::string> text = prompt_format_.render(inputs);
  // The format's own checks (a template's raise_exception: "Conversation roles must
  // alternate ...", the encoders' "tool message does not answer a tool call") are about
  // the conversation the client sent.
  if (!text) return invalid_request("messages", "messages: " + text.status().message());
  const bool opens_reasoning = prompt_opens_reasoning(*text);
  // "required" or a named function: the prompt opens the call block (and the named
  // call), so the reply can only be a call. A thinking model must think first, which
  // leaves nothing to force at the start of its reply.
  std::string forced;
  if (request.tools && request.tool_choice != "none" && request.tool_choice != "auto") {
    const std::string_view name = request.tool_choice == "required" ? "" : std::string_view(request.tool_choice);
    forced = forced_call_opening(format_.tool_calls, name);
    if (forced.empty()) {
      return invalid_request("tool_choice", "tool_choice: this model has no known tool-call syntax, so 'required' or "
                                            "a named function cannot be enforced; use 'auto'");
    }
    if (opens_reasoning) {
      return invalid_request("tool_choice", "tool_choice: 'required' or a named function cannot be enforced while the "
                                            "model is thinking; turn thinking off (chat_template_kwargs) or use 'auto'");
    }
    *text += forced;
  }
  // The format writes BOS itself.
  Result<std::vector<TokenId>> ids = tokenizer_->encode(*text, {.add_special_tokens = false});
  if (!ids) return invalid_request("messages", "messages: " + ids.status().message());
  return ChatPrompt{.ids = std::vector<int32_t>(ids->begin(), ids->end()),
                    .opens_reasoning = opens_reasoning,
                    .forced_output = std::move(forced)};
}

ApiResult<std::vector<int32_t>> PromptBuilder::completion(const CompletionPrompt& prompt) const {
  if (const auto* ids = std::get_if<std::vector<int32_t>>(&prompt)) {
    for (int32_t id : *ids) {
      if (static_cast<size_t>(id) >= tokenizer_->vocab_size()) {
        return invalid_request("prompt", fmt::format("prompt: token id {} is outside the vocabulary (size {})", id,
                                                     tokenizer_->vocab_size()));
      }
    }
    return *ids;
  }
  // BOS as the tokenizer config says, as vLLM's completions endpoint does.
  Result<std::vector<TokenId>> ids = tokenizer_->encode(std::get<std::string>(prompt), {.add_special_tokens = true});
  if (!ids) return invalid_request("prompt", "prompt: " + ids.status().message());
  return std::vector<int32_t>(ids->begin(), ids->end());
}

ApiResult<int64_t> fit_to_context(size_t prompt_tokens, std::optional<int64_t> max_tokens, int64_t context_size) {
  const int64_t prompt = static_cast<int64_t>(prompt_tokens);
  if (prompt == 0) return bad_request("The prompt is empty.");
  if (prompt >= context_size) {
    return bad_request(fmt::format("This model's maximum context length is {} tokens. However, your prompt has {} tokens, "
                                   "which leaves no room for a reply. Please shorten the prompt.",
                                   context_size, prompt),
                       "context_length_exceeded");
  }
  const int64_t room = context_size - prompt;
  return max_tokens ? std::min(*max_tokens, room) : room;
}

}  // namespace dsinfer::server
