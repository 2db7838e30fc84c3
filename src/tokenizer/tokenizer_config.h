// tokenizer_config.json: the settings Hugging Face keeps beside tokenizer.json
// (special-token strings, whether BOS/EOS are added, the chat template).
#pragma once

#include <optional>
#include <string>

#include "core/status.h"

namespace dsinfer {

struct TokenizerConfig {
  std::optional<std::string> bos_token;   // e.g. "<｜begin▁of▁sentence｜>"
  std::optional<std::string> eos_token;   // e.g. "<｜end▁of▁sentence｜>"
  std::optional<std::string> pad_token;
  bool add_bos_token = false;
  bool add_eos_token = false;
  std::optional<std::string> chat_template;  // Jinja source; absent for base models
};

// Parses the text of a tokenizer_config.json. Token fields may be plain strings or
// AddedToken objects ({"content": "...", ...}); a chat_template given as a list of
// named templates uses the one named "default".
Result<TokenizerConfig> parse_tokenizer_config(const std::string& json_text, const std::string& origin);

// Reads DIR/tokenizer_config.json, and DIR/chat_template.jinja where there is one: as in
// transformers, that file's template replaces the config's.
Result<TokenizerConfig> load_tokenizer_config(const std::string& model_dir);

}  // namespace dsinfer
