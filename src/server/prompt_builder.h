// Request -> prompt token ids. Chat requests go through the model's own chat template
// (tokenizer_config.json) with the request's tools and chat_template_kwargs as template
// variables (e.g. {"thinking": true} for V3.1), exactly as transformers'
// apply_chat_template renders them; completion prompts are tokenized as given.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.h"
#include "server/chat_format.h"
#include "server/openai_request.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::server {

struct ChatPrompt {
  std::vector<int32_t> ids;
  bool opens_reasoning = false;  // the rendered prompt ends inside <think>
};

class PromptBuilder {
 public:
  // `tokenizer` must outlive the builder. A tokenizer without a chat template can serve
  // completions only. `syntax` overrides the tool-call syntax read from the template.
  static Result<PromptBuilder> create(const Tokenizer& tokenizer, std::optional<ToolCallSyntax> syntax = std::nullopt);

  const ChatFormat& format() const { return format_; }

  ApiResult<ChatPrompt> chat(const ChatRequest& request) const;
  ApiResult<std::vector<int32_t>> completion(const CompletionPrompt& prompt) const;

 private:
  PromptBuilder(const Tokenizer& tokenizer, std::optional<ChatTemplate> tmpl, ChatFormat format)
      : tokenizer_(&tokenizer), template_(std::move(tmpl)), format_(format) {}

  const Tokenizer* tokenizer_;
  std::optional<ChatTemplate> template_;
  ChatFormat format_;
};

// How many tokens a reply may have: what the request asked for (or everything), clipped
// to the room the prompt leaves in the context, as vLLM does. A prompt that fills the
// context alone is rejected.
ApiResult<int64_t> fit_to_context(size_t prompt_tokens, std::optional<int64_t> max_tokens, int64_t context_size);

}  // namespace dsinfer::server
