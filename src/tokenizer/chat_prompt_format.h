// How a model turns a conversation into prompt text, decided here and nowhere else:
//   1. tokenizer_config.json has a chat_template -> that Jinja template, as transformers'
//      apply_chat_template renders it (a template given with the model always wins);
//   2. otherwise config.json's model_type deepseek_v32 / deepseek_v4 -> the built-in
//      DeepSeek-V3.2 / V4 encoder (those checkpoints ship Python encoders instead of a
//      template; see dsml_chat_encoding.h);
//   3. otherwise none (base models): rendering fails, saying so.
// The encoders read the chat-template kwargs the serving stacks use for these models:
// "thinking" (bool, default false: chat mode), "drop_thinking" (bool, default true) and,
// for V4, "reasoning_effort" (null, "high" or "max"); other kwargs are ignored, as a
// template ignores variables it does not use.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer_config.h"

namespace dsinfer {

struct ChatPromptInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::optional<nlohmann::ordered_json> tools;  // [{"type": "function", "function": {...}}]
  // Templates only: end with the assistant turn's opening. The encoders always do so
  // after a user turn.
  bool add_generation_prompt = true;
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();  // e.g. {"thinking": true}
};

class ChatPromptFormat {
 public:
  enum class Kind { kNone, kJinja, kDsmlV32, kDsmlV4 };

  // Reads DIR/config.json (for model_type) only when `config` has no chat template; a
  // folder without config.json has no model_type.
  static Result<ChatPromptFormat> load(const std::string& model_dir, const TokenizerConfig& config);
  // Fails only on a template that does not parse.
  static Result<ChatPromptFormat> create(const TokenizerConfig& config, std::string_view model_type);

  Kind kind() const { return kind_; }
  // "the chat template", "the DeepSeek-V3.2 encoder", ...: for logs and messages.
  std::string_view description() const;

  // The prompt, BOS included (encode it without adding special tokens).
  Result<std::string> render(const ChatPromptInputs& inputs) const;

 private:
  ChatPromptFormat() = default;

  Kind kind_ = Kind::kNone;
  std::optional<ChatTemplate> template_;
  std::optional<std::string> bos_token_;
  std::optional<std::string> eos_token_;
  std::string model_type_;  // for the kNone error message
};

}  // namespace dsinfer
