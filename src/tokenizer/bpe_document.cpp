#include "tokenizer/bpe_document.h"

#include <iterator>
#include <vector>

#include <fmt/format.h>

namespace dsinfer {
namespace {

using nlohmann::json;

json split(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

// Kimi K2 (a DeepSeek-V3 model with Moonshot's own tiktoken vocabulary): the pat_str of
// Moonshot's tokenization_kimi.py, in Oniguruma syntax as it stands there. Its classes
// intersect letters with [^\p{Han}] so that Han runs split on their own; camelCase words
// split at each capital. (llama.cpp approximates this split in code; the model was trained
// on Moonshot's.)
constexpr const char* kKimiK2Pattern =
    R"re([\p{Han}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)re"
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)re"
    R"re(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// `text` as a JSON string literal. Bytes that are not valid UTF-8 pass through, and the
// tokenizer.json parser then names them.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + '"';
}

}  // namespace

std::optional<json> named_pre_tokenizer(std::string_view name) {
  std::vector<json> steps;
  // From DeepSeek's own tokenizer.json files: V3 splits digits in runs of up to three, V2
  // splits newlines, cased letters, ASCII and CJK punctuation, trailing spaces, CJK, and
  // digit runs of any length. Three letters of V2's class are written as escapes: U+1F7D,
  // U+1FD3 and U+1FDB end ranges, and in source text an editor's NFC normalization turns
  // them into look-alikes that reverse the ranges.
  if (name == "deepseek-v3") {
    steps = {split("\\p{N}{1,3}"), split("[一-龥぀-ゟ゠-ヿ]+"),
             split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
                   " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+")};
  } else if (name == "deepseek-llm") {
    steps = {split("[\r\n]"),
             split("\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-"
                   "\u1F7Dᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆ"
                   "ﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+"),
             split("\\s?[!-/:-~！-／：-～‘-‟　-。]+"), split("\\s+$"), split("[一-龥ࠀ-一가-퟿]+"), split("\\p{N}+")};
  } else if (name == "kimi-k2") {
    steps = {split(kKimiK2Pattern)};
  } else {
    return std::nullopt;
  }
  steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});
  return json{{"type", "Sequence"}, {"pretokenizers", std::move(steps)}};
}

void ByteLevelBpeDocument::add_token(std::string_view text, int64_t id) {
  fmt::format_to(std::back_inserter(vocab_), "{}{}:{}", vocab_.empty() ? "" : ",", json_string(text), id);
}

void ByteLevelBpeDocument::add_added_token(std::string_view text, int64_t id, bool special) {
  add_token(text, id);
  fmt::format_to(std::back_inserter(added_),
                 "{}{{\"id\":{},\"content\":{},\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                 "\"normalized\":{},\"special\":{}}}",
                 added_.empty() ? "" : ",", id, json_string(text), !special, special);
}

void ByteLevelBpeDocument::add_merge(std::string_view merge) {
  fmt::format_to(std::back_inserter(merges_), "{}{}", merges_.empty() ? "" : ",", json_string(merge));
}

std::string ByteLevelBpeDocument::finish(const json& pre_tokenizer, bool ignore_merges) const {
  return fmt::format(
      "{{\"version\":\"1.0\",\"added_tokens\":[{}],\"pre_tokenizer\":{},"
      "\"decoder\":{{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true}},"
      "\"model\":{{\"type\":\"BPE\",\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":{},"
      "\"vocab\":{{{}}},\"merges\":[{}]}}}}",
      added_, pre_tokenizer.dump(), ignore_merges, vocab_, merges_);
}

}  // namespace dsinfer
