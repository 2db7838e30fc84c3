// The pre-tokenizer: Oniguruma -> PCRE2 pattern translation, split behaviours, and the
// hand-written DeepSeek splitter against the regex path on random text.
#include <random>

#include <gtest/gtest.h>

#include "test_support.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/regex.h"

namespace dsinfer {
namespace {

using nlohmann::json;

struct Collect final : PieceSink {
  std::vector<std::string> pieces;
  void piece(std::string_view text) override { pieces.emplace_back(text); }
};

std::vector<std::string> split(const PreTokenizer& pt, std::string_view text) {
  PreTokenizerScratch scratch;
  Collect out;
  Status s = pt.split(text, scratch, out);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return out.pieces;
}

PreTokenizer make(const json& spec, bool fast = true) {
  auto pt = PreTokenizer::from_json(spec, fast);
  EXPECT_TRUE(pt.is_ok()) << spec.dump() << ": " << pt.status().message();
  return std::move(pt).value();
}

json split_spec(const std::string& regex, const std::string& behavior, bool invert = false) {
  return json{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}, {"invert", invert}};
}

// Whether `regex` (Oniguruma syntax) matches all of `text`.
bool matches_whole(const std::string& regex, std::string_view text) {
  auto re = Regex::compile_onig(regex);
  EXPECT_TRUE(re.is_ok()) << re.status().message();
  RegexScratch scratch;
  size_t begin = 0, end = 0;
  return re->find(text, 0, scratch, begin, end) == Regex::Found::kMatch && begin == 0 && end == text.size();
}

// Facts about Hugging Face's Oniguruma, checked with the reference (see
// tests/reference/tokenizer/gen_unicode_tables.js), that plain PCRE2 gets wrong.
TEST(OnigTranslation, MatchesOnigurumaSemantics) {
  EXPECT_TRUE(matches_whole("\\s", "\u0085"));        // NEL is \s in Oniguruma
  EXPECT_FALSE(matches_whole("\\S", "\u0085"));
  EXPECT_TRUE(matches_whole("[\\s]", "\u0085"));
  EXPECT_TRUE(matches_whole("[^\\S]", "\u0085"));     // \S inside a class
  EXPECT_TRUE(matches_whole("\\h+", "09afAF"));       // \h is a hex digit
  EXPECT_FALSE(matches_whole("\\h", " "));
  EXPECT_TRUE(matches_whole("\\w+", "a_1²Ⅻ\u0301‿"));  // \w: letters, marks, numbers, connectors
  EXPECT_FALSE(matches_whole("\\w", "-"));
  EXPECT_TRUE(matches_whole("\\d\\d", "1٣"));
  EXPECT_FALSE(matches_whole("\\d", "²"));
  EXPECT_TRUE(matches_whole("\\u0061", "a"));
  EXPECT_TRUE(matches_whole("(?m).", "\n"));          // Oniguruma's (?m) is dot-all
  EXPECT_FALSE(matches_whole(".", "\n"));
  // Characters newer than PCRE2's Unicode 14 tables.
  EXPECT_TRUE(matches_whole("\\p{L}+", "\U0002EBF0\U00031350\U00011F04"));  // CJK Ext I, H; Kawi
  EXPECT_TRUE(matches_whole("\\p{N}+", "\U0001E4F0\U0001CCF0"));             // Nag Mundari, outlined digits
  EXPECT_TRUE(matches_whole("\\p{S}", "\U0001FAE8"));
  EXPECT_TRUE(matches_whole("[^\\p{L}]", "\U00010940"));                     // Unicode 17: not yet a letter
  EXPECT_TRUE(matches_whole("\\P{L}", "1"));
  EXPECT_FALSE(matches_whole("\\P{L}", "\U0002EBF0"));
  EXPECT_TRUE(matches_whole("[^\\P{L}]", "\U0002EBF0"));
}

TEST(OnigTranslation, LineAnchorsAreMultiline) {
  const PreTokenizer pt = make(split_spec("^a", "Removed"));
  EXPECT_EQ(split(pt, "a\na a"), (std::vector<std::string>{"\n", " a"}));
  const PreTokenizer end = make(split_spec("a$", "Removed"));
  EXPECT_EQ(split(end, "a\na a"), (std::vector<std::string>{"\na "}));
}

TEST(OnigTranslation, UnsupportedConstructsAreNamed) {
  const std::string deep = std::string(20, '[') + "a" + std::string(20, ']');
  for (const std::string pattern : {"[&&a]", "[a&&]", "[a&&&&b]", "(?W)a", "[a", "\\u12", "[a[b", deep.c_str()}) {
    auto re = Regex::compile_onig(pattern);
    EXPECT_FALSE(re.is_ok()) << pattern;
  }
}

// Oniguruma's class set operations (Kimi K2's pre-tokenizer intersects letters with
// [^\p{Han}]): a nested class is a union, && an intersection of everything on its sides,
// and a leading ^ negates the whole. Expected values from Oniguruma's documented
// semantics (doc/RE: "[a-w&&[^c-g]z]" is ([a-w] AND ([^c-g] OR z))).
TEST(OnigTranslation, ClassUnionAndIntersection) {
  EXPECT_TRUE(matches_whole("[a[0-9]]", "5"));
  EXPECT_TRUE(matches_whole("[a[0-9]]", "a"));
  EXPECT_FALSE(matches_whole("[a[0-9]]", "b"));
  EXPECT_TRUE(matches_whole("[^a[0-9]]", "b"));
  EXPECT_FALSE(matches_whole("[^a[0-9]]", "7"));
  EXPECT_TRUE(matches_whole("[a-z&&[^aeiou]]+", "bcd"));
  EXPECT_FALSE(matches_whole("[a-z&&[^aeiou]]", "e"));
  EXPECT_FALSE(matches_whole("[a-z&&[^aeiou]]", "B"));
  EXPECT_TRUE(matches_whole("[^a-z&&[^aeiou]]", "e"));
  EXPECT_TRUE(matches_whole("[^a-z&&[^aeiou]]", "\u00e9"));
  EXPECT_FALSE(matches_whole("[^a-z&&[^aeiou]]", "b"));
  EXPECT_TRUE(matches_whole("[a-w&&[^c-g]z]", "b"));
  EXPECT_FALSE(matches_whole("[a-w&&[^c-g]z]", "d"));
  EXPECT_FALSE(matches_whole("[a-w&&[^c-g]z]", "z"));  // z is in the second operand only
  EXPECT_TRUE(matches_whole("[a-z&&b-y&&[^c]]", "b"));
  EXPECT_FALSE(matches_whole("[a-z&&b-y&&[^c]]", "c"));
  EXPECT_FALSE(matches_whole("[a-z&&b-y&&[^c]]", "a"));
  // Kimi K2's letter classes: letters other than Han, marks included.
  EXPECT_TRUE(matches_whole("[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]+", "A\u00c9\u0301\u3042"));
  EXPECT_FALSE(matches_whole("[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]", "\u4e2d"));
  EXPECT_FALSE(matches_whole("[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]", "a"));
}

TEST(SplitBehavior, AllBehaviorsMatchHuggingFace) {
  // Expected values from HF's tests/pre_tokenizers/split.rs and normalizer.rs.
  const std::string text = "How are you doing?";
  EXPECT_EQ(split(make(split_spec(" ", "Removed")), text), (std::vector<std::string>{"How", "are", "you", "doing?"}));
  EXPECT_EQ(split(make(split_spec(" ", "Isolated")), text),
            (std::vector<std::string>{"How", " ", "are", " ", "you", " ", "doing?"}));
  EXPECT_EQ(split(make(split_spec(" ", "MergedWithPrevious")), text),
            (std::vector<std::string>{"How ", "are ", "you ", "doing?"}));
  EXPECT_EQ(split(make(split_spec(" ", "MergedWithNext")), text),
            (std::vector<std::string>{"How", " are", " you", " doing?"}));
  EXPECT_EQ(split(make(split_spec("-", "Contiguous")), "The-final--countdown"),
            (std::vector<std::string>{"The", "-", "final", "--", "countdown"}));
  EXPECT_EQ(split(make(split_spec("\\w+", "Removed", /*invert=*/true)), text),
            (std::vector<std::string>{"How", "are", "you", "doing"}));
  const json literal = {{"type", "Split"}, {"pattern", {{"String", "."}}}, {"behavior", "Isolated"}, {"invert", false}};
  EXPECT_EQ(split(make(literal), "a.b"), (std::vector<std::string>{"a", ".", "b"}));
  const json digits = {{"type", "Digits"}, {"individual_digits", true}};
  EXPECT_EQ(split(make(digits), "a123"), (std::vector<std::string>{"a", "1", "2", "3"}));
}

TEST(DeepSeekFastPath, UsedForTheV3PreTokenizer) {
  const json spec = json::parse(testing::read_text(testing::v3_dir() + "/tokenizer.json"))["pre_tokenizer"];
  EXPECT_TRUE(make(spec).uses_fast_path());
  EXPECT_FALSE(make(spec, /*fast=*/false).uses_fast_path());
  json changed = spec;
  changed["pretokenizers"][2]["pattern"]["Regex"] = "\\s+";
  EXPECT_FALSE(make(changed).uses_fast_path());
}

// The hand-written splitter and the regex stages cut random text identically.
TEST(DeepSeekFastPath, SameCutsAsTheRegexPathOnRandomText) {
  const json spec = json::parse(testing::read_text(testing::v3_dir() + "/tokenizer.json"))["pre_tokenizer"];
  const PreTokenizer fast = make(spec, true);
  const PreTokenizer regex = make(spec, false);
  // Characters at every boundary the patterns care about.
  const std::vector<std::string> alphabet = {
      "a", "Z", "q", "é", "ß", "Ω", "ж", "ا", "ع", "क", "ि", "্", "ก", "ั", "\u0301", "\u20DD", "0", "7", "٣", "²", "Ⅻ",
      "½", "１", " ", "  ", "\t", "\r", "\n", "\r\n", "\u000B", "\u000C", "\u0085", "\u00A0", "\u2028", "\u3000",
      "\u200B", "\u200D", "!", ".", ",", "'", "\"", "-", "_", "(", ")", "[", "\\", "]", "^", "`", "{", "|", "}", "~",
      "$", "+", "<", "=", ">", "@", "#", "%", "&", "*", "/", ":", ";", "?", "€", "©", "→", "。", "、", "「", "」", "・",
      "ー", "\u4DFF", "\u4E00", "中", "文", "\u9FA5", "\u9FA6", "\u9FFF", "\u303F", "\u3040", "あ", "\u3099", "\u309B",
      "\u309F", "\u30A0", "カ", "\u30FB", "\u30FF", "\u3100", "한", "😀", "👍🏽", "🇺", "\U0001F3F4", "\U000E0067",
      "\U0002EBF0", "\U0001E4F0", "\U0001CCF0", "\U00010940", "\U0001171E", "\uE000", "\u0000", "\u0001", "\u007F",
      "\U0010FFFF", "\uFFFD", "ab", "the", "Hello", "123", "1234",
  };
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<int> length(0, 24);
  int differences = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (int n = length(rng); n > 0; --n) text += alphabet[pick(rng)];
    const auto a = split(fast, text), b = split(regex, text);
    if (a != b && ++differences <= 5) ADD_FAILURE() << "pieces differ for " << json(text).dump();
  }
  EXPECT_EQ(differences, 0);
}

}  // namespace
}  // namespace dsinfer
