// The tokenizer.json text of a byte-level BPE vocabulary assembled from another format's
// parts (a GGUF file's metadata, a tiktoken file): such vocabularies are read as that
// document, so one loader, with its checks and its errors, serves every format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dsinfer {

// The pre-tokenizer a name stands for, as llama.cpp's tokenizer.ggml.pre names them:
// "deepseek-v3" (V3, R1, V3.1, V3.2, V4), "deepseek-llm" (V2) and "kimi-k2" (Moonshot's
// tiktoken split); nullopt for any other name.
std::optional<nlohmann::json> named_pre_tokenizer(std::string_view name);

class ByteLevelBpeDocument {
 public:
  // A vocabulary token, `text` in the byte-level alphabet (byte_level.h) or as written.
  void add_token(std::string_view text, int64_t id);
  // An added token (also in the vocabulary, as Hugging Face numbers them): special ones
  // are matched in text before it is split, and skipped when decoding skips specials.
  void add_added_token(std::string_view text, int64_t id, bool special);
  // A merge "a b", in priority order.
  void add_merge(std::string_view merge);
  // ignore_merges: a piece that is a token whole becomes that token before any merging,
  // as tiktoken encodes (Hugging Face's BPE option of that name).
  std::string finish(const nlohmann::json& pre_tokenizer, bool ignore_merges) const;

 private:
  // Written as text: building a json object of 129k tokens and merges and dumping it
  // took half a second, five times the rest of a GGUF vocabulary's load.
  std::string vocab_, added_, merges_;
};

}  // namespace dsinfer
