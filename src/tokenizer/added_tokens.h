// Added tokens (tokenizer.json "added_tokens"): strings such as "<｜User｜>" that are cut
// out of the text before pre-tokenization and encoded as one id each. Mirrors Hugging
// Face's tokenizer/added_vocabulary.rs: ids assigned as HF assigns them, leftmost-longest
// matching, non-normalized tokens matched before normalized ones, and with
// match_special false the special ones are passed over as ordinary text.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "tokenizer/flat_hash.h"
#include "tokenizer/regex.h"
#include "tokenizer/token_id.h"

namespace dsinfer {

struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool single_word = false;  // only matched where no word character touches it
  bool lstrip = false;       // swallows the whitespace before it
  bool rstrip = false;       // swallows the whitespace after it
  bool normalized = true;    // matched in normalized text (the same text here: see below)
  bool special = false;      // skipped by decode(skip_special_tokens) and by match_special=false
};

class AddedVocabulary {
 public:
  // From the "added_tokens" list. As in HF, the "id" written in the file is not used: a
  // token takes the id its content already has (earlier added token, then model
  // vocabulary), else the next free id counting from the model's vocabulary size. Ids
  // that differ from the file's are reported in `warnings`.
  static Result<AddedVocabulary> from_json(const nlohmann::json& list,
                                           const std::function<std::optional<TokenId>(std::string_view)>& model_lookup,
                                           size_t model_vocab_size, std::vector<std::string>& warnings);

  // A span of the text: an added token (id >= 0) or text to pre-tokenize (id == -1).
  struct Segment {
    size_t begin;
    size_t end;
    TokenId id;
  };
  // Cuts `text` into segments, in order. `scratch` serves the single_word checks.
  void split(std::string_view text, bool match_special, RegexScratch& scratch, std::vector<Segment>& out) const;

  std::optional<TokenId> find(std::string_view content) const;
  const AddedToken* token(TokenId id) const;  // nullptr if `id` is not an added token
  bool is_special_content(std::string_view content) const { return special_.find(content) != FlatStringMap::kMissing; }
  const std::vector<AddedToken>& tokens() const { return tokens_; }  // sorted by id
  bool empty() const { return tokens_.empty(); }

 private:
  // A byte trie over token contents. Children are a sibling list; the first-byte filter
  // lets the scan skip text that cannot start a token.
  struct Trie {
    struct Node {
      int32_t first_child = -1;
      int32_t next_sibling = -1;
      int32_t token = -1;  // index into tokens_
      unsigned char byte = 0;
    };
    std::vector<Node> nodes = std::vector<Node>(1);  // the root
    bool first_byte[256] = {};
    int only_first_byte = -1;  // the one byte all tokens start with, if so (-2: several)
    void insert(std::string_view content, int32_t token);
    // Longest token starting at `pos`: (index, length), or index -1.
    std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const;
  };

  void split_with(const Trie& trie, std::string_view text, size_t base, bool match_special, RegexScratch& scratch,
                  std::vector<Segment>& out) const;
  bool is_word_char_before(std::string_view text, size_t pos, RegexScratch& scratch) const;
  bool is_word_char_at(std::string_view text, size_t pos, RegexScratch& scratch) const;

  std::vector<AddedToken> tokens_;  // by id
  FlatStringMap by_content_;        // content -> id
  FlatStringMap special_;           // contents ever added as special
  Trie plain_trie_;                 // normalized == false: matched first, in the raw text
  Trie normalized_trie_;            // normalized == true: matched in what remains
  std::optional<Regex> word_char_;  // one character of Rust regex's \w (single_word tokens)
};

}  // namespace dsinfer
