// Chat templates: renders a model's Jinja chat template (tokenizer_config.json's
// `chat_template`) into the prompt text, byte-identical to Hugging Face
// transformers' apply_chat_template(..., tokenize=False).
//
//   DSINFER_ASSIGN_OR_RETURN(ChatTemplate tmpl, ChatTemplate::parse(*config.chat_template));
//   ChatTemplateInputs in{.messages = request["messages"], .add_generation_prompt = true,
//                         .bos_token = config.bos_token, .eos_token = config.eos_token};
//   DSINFER_ASSIGN_OR_RETURN(std::string prompt, render_chat_template(tmpl, in));
//
// Parse once, render many times; a ChatTemplate is immutable and can be rendered
// from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace dsinfer {

namespace jinja {
struct ParsedTemplate;
}

class ChatTemplate {
 public:
  // Fails, naming the construct and its line and column, on syntax errors and on
  // Jinja features outside the supported subset (e.g. "unsupported Jinja tag 'macro'").
  static Result<ChatTemplate> parse(std::string_view source);

  // The parsed form, for the renderer.
  const jinja::ParsedTemplate& parsed() const { return *parsed_; }

 private:
  explicit ChatTemplate(std::shared_ptr<const jinja::ParsedTemplate> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const jinja::ParsedTemplate> parsed_;
};

// The variables transformers passes to the template. JSON object key order is
// kept (ordered_json) because templates print tool schemas with |tojson; a plain
// nlohmann::json converts implicitly, with its keys sorted.
struct ChatTemplateInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  // Tool definitions ([{"type": "function", "function": {...}}]); absent means
  // the template sees tools = None, as in transformers.
  std::optional<nlohmann::ordered_json> tools;
  bool add_generation_prompt = false;
  // Absent tokens are undefined in the template (transformers passes only the
  // special tokens the tokenizer has).
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  // Extra template variables (transformers' **kwargs), e.g. {"thinking": true}.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

// Bounds on one rendering, so a hostile template cannot hang or exhaust memory.
struct ChatTemplateLimits {
  size_t max_output_bytes = size_t{64} << 20;  // also caps any single string value
  uint64_t max_steps = 20'000'000;             // statements and expressions evaluated
  size_t max_items = 1'000'000;                // length of any list built
};

// Renders the prompt. Errors carry the template line and column; a template's
// raise_exception('msg') fails with exactly 'msg'.
Result<std::string> render_chat_template(const ChatTemplate& tmpl, const ChatTemplateInputs& inputs,
                                         const ChatTemplateLimits& limits = {});

}  // namespace dsinfer
