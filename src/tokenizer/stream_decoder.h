// Streaming detokenization: text is emitted as ids arrive, never a broken UTF-8 sequence.
// Byte-level tokens can end in the middle of a character ("é" may be two tokens); those
// bytes wait for the next id. Malformed bytes become U+FFFD as soon as they are known to
// be malformed, exactly as Tokenizer::decode would replace them, so the concatenation of
// everything emitted (push... then finish) equals decode() of all the ids.
#pragma once

#include <string>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer {

class StreamDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {});

  // Adds one id; returns the text that became complete (often empty or one token's text).
  Result<std::string> push(TokenId id);
  // Ends the stream: returns what is left (a trailing incomplete character as U+FFFD).
  std::string finish();

  // Bytes held back waiting for the rest of a character (at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace dsinfer
