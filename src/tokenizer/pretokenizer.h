// The pre-tokenizer of a tokenizer.json: cuts text into the pieces that BPE encodes one by
// one. Supported: Split (Regex or String pattern; every behaviour; invert), Digits,
// ByteLevel (last), and a Sequence of these. Semantics follow Hugging Face's
// tokenizer/normalizer.rs (NormalizedString::split) and pre_tokenizers/*.rs: each stage
// runs on every piece the previous stage produced, empty pieces are dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "tokenizer/deepseek_pretokenizer.h"
#include "tokenizer/regex.h"

namespace dsinfer {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Receives pieces in text order.
class PieceSink {
 public:
  virtual void piece(std::string_view text) = 0;

 protected:
  ~PieceSink() = default;
};

// Per-thread scratch for PreTokenizer::split.
struct PreTokenizerScratch {
  struct Segment {
    size_t begin, end;
    bool is_match;
  };
  RegexScratch regex;
  std::vector<std::vector<Segment>> segments;  // per stage depth
  std::vector<std::string> prefixed;           // per depth: piece with ByteLevel's prefix space
};

class PreTokenizer {
 public:
  // From tokenizer.json's "pre_tokenizer" value (null means no pre-tokenization). A
  // pre-tokenizer with a hand-written equivalent (DeepSeek V3's) runs that, unless
  // `allow_fast_path` is false (tests compare the two).
  static Result<PreTokenizer> from_json(const nlohmann::json& spec, bool allow_fast_path = true);

  // Whether the last stage is ByteLevel: pieces are then encoded byte by byte.
  bool byte_level() const { return byte_level_; }
  // Whether split() runs a hand-written equivalent instead of the regex stages.
  bool uses_fast_path() const { return fast_.has_value(); }

  Status split(std::string_view text, PreTokenizerScratch& scratch, PieceSink& sink) const;

 private:
  struct Stage {
    enum Kind { kSplit, kByteLevel } kind;
    std::optional<Regex> regex;  // kSplit: the pattern; kByteLevel with use_regex: GPT-2's
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;  // kByteLevel
    bool use_regex = false;         // kByteLevel
  };
  static Status add_stages(const nlohmann::json& spec, std::vector<Stage>& stages);
  Status visit(size_t depth, std::string_view piece, PreTokenizerScratch& scratch, PieceSink& sink) const;
  Status split_by(const Regex& regex, SplitBehavior behavior, bool invert, size_t depth, std::string_view piece,
                  PreTokenizerScratch& scratch, PieceSink& sink) const;

  std::vector<Stage> stages_;
  bool byte_level_ = false;
  std::optional<DeepSeekPreTokenizer> fast_;  // same pieces as stages_, without regexes
};

}  // namespace dsinfer
