#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "tokenizer/utf8.h"

namespace dsinfer {
namespace {

using nlohmann::json;

// Decodes the code point at `pos` of valid UTF-8 text.
char32_t code_point_at(std::string_view text, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t len = utf8_sequence_length(p[0]);
  if (len == 1) return p[0];
  char32_t c = p[0] & (0xFF >> (len + 1));
  for (size_t i = 1; i < len; ++i) c = (c << 6) | (p[i] & 0x3F);
  return c;
}

// Unicode White_Space, which Rust regex's \s (HF's lstrip / rstrip) matches.
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

size_t previous_char_start(std::string_view text, size_t pos) {
  size_t i = pos - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  return i;
}

Result<bool> flag(const json& entry, const char* key, bool fallback) {
  auto it = entry.find(key);
  if (it == entry.end()) return fallback;
  if (!it->is_boolean()) return error("added_tokens: '{}' must be true or false", key);
  return it->get<bool>();
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view content, int32_t token) {
  int32_t node = 0;
  for (unsigned char b : content) {
    int32_t child = nodes[node].first_child;
    while (child >= 0 && nodes[child].byte != b) child = nodes[child].next_sibling;
    if (child < 0) {
      child = int32_t(nodes.size());
      Node fresh;
      fresh.byte = b;
      fresh.next_sibling = nodes[node].first_child;
      nodes.push_back(fresh);
      nodes[node].first_child = child;
    }
    node = child;
  }
  nodes[node].token = token;
  const auto first = static_cast<unsigned char>(content[0]);
  first_byte[first] = true;
  only_first_byte = only_first_byte == -1 || only_first_byte == first ? first : -2;
}

std::pair<int32_t, size_t> AddedVocabulary::Trie::longest_at(std::string_view text, size_t pos) const {
  int32_t node = 0;
  std::pair<int32_t, size_t> best{-1, 0};
  for (size_t i = pos; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    int32_t child = nodes[node].first_child;
    while (child >= 0 && nodes[child].byte != b) child = nodes[child].next_sibling;
    if (child < 0) break;
    node = child;
    if (nodes[node].token >= 0) best = {nodes[node].token, i + 1 - pos};
  }
  return best;
}

Result<AddedVocabulary> AddedVocabulary::from_json(
    const json& list, const std::function<std::optional<TokenId>(std::string_view)>& model_lookup,
    size_t model_vocab_size, std::vector<std::string>& warnings) {
  AddedVocabulary vocab;
  if (list.is_null()) return vocab;
  if (!list.is_array()) return error("added_tokens: expected a list");
  std::map<TokenId, AddedToken> by_id;
  TokenId next_id = TokenId(model_vocab_size);
  for (const json& entry : list) {
    if (!entry.is_object()) return error("added_tokens: each entry must be an object");
    auto content = entry.find("content");
    if (content == entry.end() || !content->is_string()) return error("added_tokens: entry without a string 'content'");
    AddedToken token;
    token.content = content->get<std::string>();
    DSINFER_ASSIGN_OR_RETURN(token.single_word, flag(entry, "single_word", false));
    DSINFER_ASSIGN_OR_RETURN(token.lstrip, flag(entry, "lstrip", false));
    DSINFER_ASSIGN_OR_RETURN(token.rstrip, flag(entry, "rstrip", false));
    DSINFER_ASSIGN_OR_RETURN(token.special, flag(entry, "special", false));
    DSINFER_ASSIGN_OR_RETURN(token.normalized, flag(entry, "normalized", !token.special));
    if (token.content.empty()) continue;

    // HF's AddedVocabulary::add_tokens.
    const uint32_t known = vocab.by_content_.find(token.content);
    std::optional<TokenId> id;
    if (known != FlatStringMap::kMissing) {
      const AddedToken& old = by_id.at(TokenId(known));
      if (old.content == token.content && old.single_word == token.single_word && old.lstrip == token.lstrip && old.rstrip == token.rstrip &&
          old.normalized == token.normalized && old.special == token.special)
        continue;  // the same token again
      id = TokenId(known);
    } else {
      id = model_lookup(token.content);
    }
    if (!id) {
      if (next_id == INT32_MAX) return error("added_tokens: too many tokens");
      id = next_id++;
    }
    if (auto file_id = entry.find("id"); file_id != entry.end() && file_id->is_number_integer() &&
                                         file_id->get<int64_t>() != int64_t(*id)) {
      warnings.push_back(fmt::format("added token \"{}\" has id {} in the file and gets id {} (as in Hugging Face)",
                                     token.content, file_id->get<int64_t>(), *id));
    }
    token.id = *id;
    vocab.by_content_.insert(token.content, uint32_t(*id));
    if (token.special) vocab.special_.insert(token.content, 1);
    by_id[*id] = std::move(token);
  }

  for (auto& [id, token] : by_id) vocab.tokens_.push_back(std::move(token));
  bool any_single_word = false;
  for (size_t i = 0; i < vocab.tokens_.size(); ++i) {
    const AddedToken& t = vocab.tokens_[i];
    (t.normalized ? vocab.normalized_trie_ : vocab.plain_trie_).insert(t.content, int32_t(i));
    any_single_word |= t.single_word;
  }
  if (any_single_word) {
    // Rust regex's Unicode \w: Alphabetic, marks, decimal digits, connectors, joiners.
    DSINFER_ASSIGN_OR_RETURN(Regex word, Regex::compile_onig("[\\p{L}\\p{Nl}\\p{M}\\p{Nd}\\p{Pc}\\u200C\\u200D]"));
    vocab.word_char_.emplace(std::move(word));
  }
  return vocab;
}

std::optional<TokenId> AddedVocabulary::find(std::string_view content) const {
  const uint32_t id = by_content_.find(content);
  if (id == FlatStringMap::kMissing) return std::nullopt;
  return TokenId(id);
}

const AddedToken* AddedVocabulary::token(TokenId id) const {
  auto it = std::lower_bound(tokens_.begin(), tokens_.end(), id,
                             [](const AddedToken& t, TokenId value) { return t.id < value; });
  return it != tokens_.end() && it->id == id ? &*it : nullptr;
}

bool AddedVocabulary::is_word_char_at(std::string_view text, size_t pos, RegexScratch& scratch) const {
  size_t begin = 0, end = 0;
  const size_t len = std::min(utf8_sequence_length(static_cast<unsigned char>(text[pos])), text.size() - pos);
  return word_char_->find(text.substr(pos, len), 0, scratch, begin, end) == Regex::Found::kMatch;
}

bool AddedVocabulary::is_word_char_before(std::string_view text, size_t pos, RegexScratch& scratch) const {
  return is_word_char_at(text, previous_char_start(text, pos), scratch);
}

void AddedVocabulary::split(std::string_view text, bool match_special, RegexScratch& scratch,
                            std::vector<Segment>& out) const {
  out.clear();
  if (text.empty()) return;
  // Pass 1: non-normalized tokens in the raw text.
  std::vector<Segment> first;
  split_with(plain_trie_, text, 0, match_special, scratch, first);
  // Pass 2: normalized tokens in the remaining text. dsinfer supports no normalizer that
  // changes text, so "normalized" text is the text itself.
  for (const Segment& s : first) {
    if (s.id >= 0) {
      out.push_back(s);
    } else {
      split_with(normalized_trie_, text.substr(s.begin, s.end - s.begin), s.begin, match_special, scratch, out);
    }
  }
}

// HF's AddedVocabulary::find_matches on one piece of text (`base` is its offset in the
// whole text). Matches that are passed over (special ones when !match_special, single_word
// ones touching a word) still consume their text, as the Aho-Corasick iterator HF uses
// continues after them.
void AddedVocabulary::split_with(const Trie& trie, std::string_view text, size_t base, bool match_special,
                                 RegexScratch& scratch, std::vector<Segment>& out) const {
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (trie.only_first_byte >= 0) {  // DeepSeek: every added token starts with '<'
      const void* hit = std::memchr(text.data() + pos, trie.only_first_byte, text.size() - pos);
      if (!hit) break;
      pos = size_t(static_cast<const char*>(hit) - text.data());
    } else if (!trie.first_byte[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [index, length] = trie.longest_at(text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[index];
    size_t start = pos;
    size_t stop = pos + length;
    pos = stop;
    if (!match_special && token.special) continue;
    if (token.single_word) {
      const bool space_before = start == 0 || !is_word_char_before(text, start, scratch);
      const bool space_after = stop == text.size() || !is_word_char_at(text, stop, scratch);
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) {
      size_t s = start;
      while (s > 0) {
        const size_t prev = previous_char_start(text, s);
        if (!is_white_space(code_point_at(text, prev))) break;
        s = prev;
      }
      start = std::max(s, start_offset);
    }
    if (token.rstrip) {
      while (stop < text.size() && is_white_space(code_point_at(text, stop)))
        stop += utf8_sequence_length(static_cast<unsigned char>(text[stop]));
      pos = stop;
    }
    if (start_offset < start) out.push_back({base + start_offset, base + start, -1});
    out.push_back({base + start, base + stop, token.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) out.push_back({base + start_offset, base + text.size(), -1});
}

}  // namespace dsinfer
