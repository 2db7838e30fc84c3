// The tokenizer a GGUF file carries (llama.cpp's tokenizer.ggml.* metadata), so that a
// .gguf file alone runs `run -p`, `chat`, `serve` and `tokenize`, as it does in llama.cpp.
//
// Read: tokenizer.ggml.model "gpt2" (byte-level BPE; other models are refused),
// tokenizer.ggml.pre "deepseek-v3", "deepseek-llm" or "kimi-k2" (the split patterns of
// DeepSeek's V3 and V2 tokenizers and of Kimi K2's; other names are refused rather than
// tokenized by a guess), tokens by
// id, token_type (1 normal, 3 control = special added token, 4 user-defined = added
// token that is not special, 5 unused: no token has that id), merges "a b",
// bos/eos/padding ids, add_bos_token / add_eos_token, and tokenizer.chat_template.
#pragma once

#include <string>

#include "core/status.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_config.h"

namespace dsinfer {

// The settings tokenizer_config.json would hold: BOS/EOS/pad as their tokens' text, the
// add_* flags and the chat template. `origin` names the file in error messages.
Result<TokenizerConfig> tokenizer_config_from_gguf(const GgufHeader& header, const std::string& origin);

Result<Tokenizer> tokenizer_from_gguf(const GgufHeader& header, const std::string& origin);

// A model's tokenizer from a Hugging Face folder (tokenizer.json and tokenizer_config.json,
// or Kimi K2's tiktoken.model: tiktoken_vocabulary.h) or a .gguf file (its metadata).
Result<Tokenizer> load_model_tokenizer(const std::string& model_path);
// Only the tokenizer_config.json settings: from the folder's file, or from a .gguf
// file's metadata.
Result<TokenizerConfig> load_model_tokenizer_config(const std::string& model_path);

}  // namespace dsinfer
