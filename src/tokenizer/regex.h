// The regexes of tokenizer.json Split pre-tokenizers, run on PCRE2 (JIT, UTF + UCP).
//
// Hugging Face compiles these patterns with Oniguruma, whose syntax and Unicode tables
// differ from PCRE2's in ways that change tokenization: Oniguruma's \s includes U+0085,
// \w includes marks, \h is a hex digit, ^ and $ always match at line breaks, (?m) means
// dot-all, and its Unicode data is newer. translate_onig_pattern rewrites a pattern so
// PCRE2 matches exactly what Oniguruma would, and refuses (with an error naming it) the
// few constructs it cannot express.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;
struct pcre2_real_jit_stack_8;

namespace dsinfer {

// Oniguruma (Ruby syntax, UTF-8) pattern -> PCRE2 pattern with the same matches.
Result<std::string> translate_onig_pattern(std::string_view pattern);

// Per-thread match state, usable with any Regex. Not shared between threads.
class RegexScratch {
 public:
  RegexScratch();
  ~RegexScratch();
  RegexScratch(RegexScratch&&) noexcept;
  RegexScratch& operator=(RegexScratch&&) noexcept;
  RegexScratch(const RegexScratch&) = delete;
  RegexScratch& operator=(const RegexScratch&) = delete;

 private:
  friend class Regex;
  pcre2_real_match_data_8* match_data_ = nullptr;
  pcre2_real_match_context_8* context_ = nullptr;
  pcre2_real_jit_stack_8* jit_stack_ = nullptr;
};

class Regex {
 public:
  // `pattern` in Oniguruma syntax (a tokenizer.json {"Regex": ...}).
  static Result<Regex> compile_onig(std::string_view pattern);
  // Matches `text` literally (a tokenizer.json {"String": ...}).
  static Result<Regex> compile_literal(std::string_view text);

  Regex(Regex&&) noexcept = default;
  Regex& operator=(Regex&&) noexcept = default;

  enum class Found { kMatch, kNone, kError };
  // Finds the leftmost match at or after byte `start` of `subject` (lookarounds see the
  // whole subject). `subject` must be valid UTF-8 and `start` on a character boundary.
  // On kError, `begin` holds the PCRE2 error code.
  Found find(std::string_view subject, size_t start, RegexScratch& scratch, size_t& begin, size_t& end) const;

  // Text of a PCRE2 error code, for messages.
  static std::string error_text(int code);

 private:
  struct CodeDeleter {
    void operator()(pcre2_real_code_8* code) const;
  };
  static Result<Regex> compile(const std::string& pcre_pattern, bool literal, std::string_view shown);

  Regex() = default;
  std::unique_ptr<pcre2_real_code_8, CodeDeleter> code_;
  bool jit_ = false;
};

}  // namespace dsinfer
