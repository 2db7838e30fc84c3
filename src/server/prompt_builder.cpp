#include "server/prompt_builder.h"

#include <fmt/format.h>

#include "server/reasoning_parser.h"

namespace dsinfer::server {

Result<PromptBuilder> PromptBuilder::create(const Tokenizer& tokenizer, std::optional<ToolCallSyntax> syntax) {
  std::optional<ChatTemplate> tmpl;
  ChatFormat format;
  if (const auto& source = tokenizer.config().chat_template) {
    DSINFER_ASSIGN_OR_RETURN(ChatTemplate parsed, ChatTemplate::parse(*source));
    tmpl = std::move(parsed);
    format = detect_chat_format(*source);
  }
  if (syntax) format.tool_calls = *syntax;
  return PromptBuilder(tokenizer, std::move(tmpl), format);
}

ApiResult<ChatPrompt> PromptBuilder::chat(const ChatRequest& request) const {
  if (!template_) {
    return bad_request("This model has no chat template (tokenizer_config.json); use /v1/completions.");
  }
  const TokenizerConfig& config = tokenizer_->config();
  ChatTemplateInputs inputs{.messages = request.messages,
                            .add_generation_prompt = true,
                            .bos_token = config.bos_token,
                            .eos_token = config.eos_token,
                            .extra = request.template_kwargs};
  if (request.tool_choice != "none") inputs.tools = request.tools;
  Result<std::string> text = render_chat_template(*template_, inputs);
  // The template's own checks (raise_exception: "Conversation roles must alternate ...")
  // are about the conversation the client sent.
  if (!text) return invalid_request("messages", "messages: " + text.status().message());
  // The template writes BOS itself.
  Result<std::vector<TokenId>> ids = tokenizer_->encode(*text, {.add_special_tokens = false});
  if (!ids) return invalid_request("messages", "messages: " + ids.status().message());
  return ChatPrompt{.ids = std::vector<int32_t>(ids->begin(), ids->end()), .opens_reasoning = prompt_opens_reasoning(*text)};
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
