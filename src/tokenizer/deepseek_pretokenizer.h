// The pre-tokenizer of DeepSeek V3 (and R1, V3.1, which share its tokenizer.json), run
// without a regex engine. Its three Split regexes are
//
//   \p{N}{1,3}
//   [\x{4e00}-\x{9fa5}\x{3040}-\x{309f}\x{30a0}-\x{30ff}]+
//   [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//     ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// each Isolated, then ByteLevel without prefix space or regex. Through PCRE2 they run
// at ~15-30 MB/s (a call per match, and big Unicode classes); written out as the
// backtracking those regexes do, with one table lookup per character, the split runs
// several times faster. PreTokenizer uses it when tokenizer.json has exactly this
// pre-tokenizer; a differential test checks it against the regex path on random text.
#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/unicode_classes.h"

namespace dsinfer {

class PieceSink;

class DeepSeekPreTokenizer {
 public:
  // Whether `spec` (tokenizer.json's "pre_tokenizer") is exactly the one above.
  static bool matches(const nlohmann::json& spec);

  void split(std::string_view text, PieceSink& sink) const;

 private:
  void split_cjk(std::string_view text, PieceSink& sink) const;
  void split_words(std::string_view text, PieceSink& sink) const;
  size_t match_word(std::string_view text, size_t pos) const;
  uint8_t class_at(std::string_view text, size_t pos, size_t& length) const {
    return classes_.of(decode_utf8(text, pos, length));
  }

  UnicodeClasses classes_;
};

}  // namespace dsinfer
