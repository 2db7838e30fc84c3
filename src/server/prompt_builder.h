// Request -> prompt token ids. Chat requests go through the model's prompt format
// (tokenizer/chat_prompt_format.h: its Jinja chat template, exactly as transformers'
// apply_chat_template renders it, or the built-in DeepSeek-V3.2 / V4 encoder) with the
// request's tools and chat_template_kwargs (e.g. {"thinking": true} for V3.1, V3.2, V4);
// completion prompts are tokenized as given.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.h"
#include "server/chat_format.h"
#include "server/openai_request.h"
#include "tokenizer/chat_prompt_format.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::server {

struct ChatPrompt {
  std::vector<int32_t> ids;
  bool opens_reasoning = false;  // the rendered prompt ends inside <think>
  std::string forced_output;     // the reply's start written by the prompt (forced tool call)
};

class PromptBuilder {
 public:
  // `tokenizer` must outlive the builder. A model without a prompt format (kNone) can
  // serve completions only. `syntax` overrides the tool-call syntax the format implies.
  static PromptBuilder create(const Tokenizer& tokenizer, ChatPromptFormat prompt_format,
                              std::optional<ToolCallSyntax> syntax = std::nullopt);

  const ChatFormat& format() const { return format_; }

  ApiResult<ChatPrompt> chat(const ChatRequest& request) const;
  ApiResult<std::vector<int32_t>> completion(const CompletionPrompt& prompt) const;

 private:
  PromptBuilder(const Tokenizer& tokenizer, ChatPromptFormat prompt_format, ChatFormat format)
      : tokenizer_(&tokenizer), prompt_format_(std::move(prompt_format)), format_(format) {}

  const Tokenizer* tokenizer_;
  ChatPromptFormat prompt_format_;
  ChatFormat format_;
};

// How many tokens a reply may have: what the request asked for (or everything), clipped
// to the room the prompt leaves in the context, as vLLM does. A prompt that fills the
// context alone is rejected.
ApiResult<int64_t> fit_to_context(size_t prompt_tokens, std::optional<int64_t> max_tokens, int64_t context_size);

}  // namespace dsinfer::server
