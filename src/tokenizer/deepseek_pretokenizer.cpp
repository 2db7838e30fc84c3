#include "tokenizer/deepseek_pretokenizer.h"

#include <cstdint>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/json_member.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace dsinfer {
namespace {

using nlohmann::json;

constexpr std::string_view kDigits = R"(\p{N}{1,3})";
constexpr std::string_view kCjk = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
constexpr std::string_view kWords =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

bool is_isolated_regex(const json& stage, std::string_view pattern) {
  if (!stage.is_object() || json_member_or<std::string>(stage, "type", "") != "Split" ||
      json_member_or<std::string>(stage, "behavior", "") != "Isolated") return false;
  if (json_member_or(stage, "invert", true)) return false;
  auto p = stage.find("pattern");
  if (p == stage.end() || !p->is_object() || p->size() != 1) return false;
  auto re = p->find("Regex");
  return re != p->end() && re->is_string() && re->get_ref<const std::string&>() == pattern;
}

// Code points [\x{4e00}-\x{9fa5}\x{3040}-\x{309f}\x{30a0}-\x{30ff}].
bool is_cjk(char32_t c) { return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x30FF); }

// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]: every ASCII punctuation and symbol character.
bool is_ascii_punct(unsigned char c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

bool is_ascii_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

}  // namespace

bool DeepSeekPreTokenizer::matches(const json& spec) {
  if (!spec.is_object() || json_member_or<std::string>(spec, "type", "") != "Sequence") return false;
  auto list = spec.find("pretokenizers");
  if (list == spec.end() || !list->is_array() || list->size() != 4) return false;
  const json& byte_level = (*list)[3];
  return is_isolated_regex((*list)[0], kDigits) && is_isolated_regex((*list)[1], kCjk) &&
         is_isolated_regex((*list)[2], kWords) && byte_level.is_object() &&
         json_member_or<std::string>(byte_level, "type", "") == "ByteLevel" &&
         !json_member_or(byte_level, "add_prefix_space", true) && !json_member_or(byte_level, "use_regex", true);
}

// Stage 1, \p{N}{1,3}: runs of numbers in threes from the left; the text between them
// goes to stage 2. A piece of numbers passes stages 2 and 3 unchanged (no number is in the
// CJK ranges, and the word regex matches nowhere in it), so it is emitted directly.
void DeepSeekPreTokenizer::split(std::string_view text, PieceSink& sink) const {
  size_t gap = 0, pos = 0;
  while (pos < text.size()) {
    size_t length;
    if (!(class_at(text, pos, length) & kClassN)) {
      pos += length;
      continue;
    }
    if (gap < pos) split_cjk(text.substr(gap, pos - gap), sink);
    size_t end = pos + length;
    for (int count = 1; count < 3 && end < text.size(); ++count) {
      size_t next;
      if (!(class_at(text, end, next) & kClassN)) break;
      end += next;
    }
    sink.piece(text.substr(pos, end - pos));
    gap = pos = end;
  }
  if (gap < text.size()) split_cjk(text.substr(gap), sink);
}

// Stage 2, CJK runs isolated; both the runs and the text between go to stage 3.
void DeepSeekPreTokenizer::split_cjk(std::string_view text, PieceSink& sink) const {
  size_t gap = 0, pos = 0;
  while (pos < text.size()) {
    // ASCII text cannot hold CJK: skip eight bytes at a time.
    while (text.size() - pos >= 8) {
      uint64_t word;
      std::memcpy(&word, text.data() + pos, 8);
      if (word & 0x8080808080808080ULL) break;
      pos += 8;
    }
    if (pos >= text.size()) break;
    if (static_cast<unsigned char>(text[pos]) < 0xE3) {  // CJK ranges are all 3-byte E3..E9
      pos += utf8_sequence_length(static_cast<unsigned char>(text[pos]));
      continue;
    }
    size_t length;
    if (!is_cjk(decode_utf8(text, pos, length))) {
      pos += length;
      continue;
    }
    size_t end = pos + length;
    while (end < text.size()) {
      size_t next;
      if (!is_cjk(decode_utf8(text, end, next))) break;
      end += next;
    }
    if (gap < pos) split_words(text.substr(gap, pos - gap), sink);
    split_words(text.substr(pos, end - pos), sink);
    gap = pos = end;
  }
  if (gap < text.size()) split_words(text.substr(gap), sink);
}

// Stage 3: leftmost matches of the word regex isolated, the text between them kept.
void DeepSeekPreTokenizer::split_words(std::string_view text, PieceSink& sink) const {
  size_t gap = 0, pos = 0;
  while (pos < text.size()) {
    const size_t length = match_word(text, pos);
    if (length == 0) {
      pos += utf8_sequence_length(static_cast<unsigned char>(text[pos]));
      continue;
    }
    if (gap < pos) sink.piece(text.substr(gap, pos - gap));
    sink.piece(text.substr(pos, length));
    gap = pos = pos + length;
  }
  if (gap < text.size()) sink.piece(text.substr(gap));
}

// Length of the word regex's match at `pos` (the first alternative that matches, with
// the backtracking PCRE2 / Oniguruma do), or 0. The lookahead (?!\S) sees only `text`.
size_t DeepSeekPreTokenizer::match_word(std::string_view text, size_t pos) const {
  const size_t n = text.size();
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  size_t len0;
  const uint8_t c0 = class_at(text, pos, len0);
  auto run_of = [&](size_t from, uint8_t classes) {
    size_t end = from, length;
    while (end < n && (class_at(text, end, length) & classes)) end += length;
    return end;
  };

  // [!"#...~][A-Za-z]+
  if (is_ascii_punct(byte(pos)) && pos + 1 < n && is_ascii_letter(byte(pos + 1))) {
    size_t end = pos + 2;
    while (end < n && is_ascii_letter(byte(end))) ++end;
    return end - pos;
  }
  // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ : with the optional character if a letter or
  // mark follows it, else (backtracking) without it.
  if (byte(pos) != '\r' && byte(pos) != '\n' && !(c0 & (kClassL | kClassP | kClassS)) && pos + len0 < n) {
    size_t len1;
    if (class_at(text, pos + len0, len1) & (kClassL | kClassM)) return run_of(pos + len0, kClassL | kClassM) - pos;
  }
  if (c0 & (kClassL | kClassM)) return run_of(pos, kClassL | kClassM) - pos;
  // ' '?[\p{P}\p{S}]+[\r\n]*
  {
    size_t start = pos;
    if (byte(pos) == ' ' && pos + 1 < n) {
      size_t len1;
      if (class_at(text, pos + 1, len1) & (kClassP | kClassS)) start = pos + 1;
    }
    size_t len;
    if (class_at(text, start, len) & (kClassP | kClassS)) {
      size_t end = run_of(start, kClassP | kClassS);
      while (end < n && (byte(end) == '\r' || byte(end) == '\n')) ++end;
      return end - pos;
    }
  }
  if (!(c0 & kClassSpace)) return 0;
  // The whitespace run [pos, space_end) serves the three remaining alternatives.
  size_t space_end = pos, last_newline_end = 0, last_char_start = pos, length;
  while (space_end < n && (class_at(text, space_end, length) & kClassSpace)) {
    if (byte(space_end) == '\r' || byte(space_end) == '\n') last_newline_end = space_end + 1;
    last_char_start = space_end;
    space_end += length;
  }
  // \s*[\r\n]+ : \s* gives back characters until a CR/LF can follow; the match ends
  // after the last CR/LF of the run.
  if (last_newline_end) return last_newline_end - pos;
  // \s+(?!\S) : the whole run at the end of the text, else all but its last character.
  if (space_end == n) return space_end - pos;
  if (last_char_start > pos) return last_char_start - pos;
  // \s+
  return space_end - pos;
}

}  // namespace dsinfer
