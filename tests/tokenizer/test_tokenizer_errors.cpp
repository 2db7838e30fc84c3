// Loading errors name the unsupported feature or the broken field; encode and decode
// reject bad input with an error instead of guessing.
#include <gtest/gtest.h>

#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_config.h"

namespace dsinfer {
namespace {

using nlohmann::json;
using testing::tiny_tokenizer_json;

Result<Tokenizer> load(const json& spec) { return Tokenizer::from_json(spec.dump(), TokenizerConfig{}); }

void expect_load_error(const json& spec, const std::string& fragment) {
  auto tokenizer = load(spec);
  ASSERT_FALSE(tokenizer.is_ok()) << "loaded, but expected an error containing: " << fragment;
  EXPECT_NE(tokenizer.status().message().find(fragment), std::string::npos) << tokenizer.status().message();
}

TEST(TokenizerLoad, TinyTokenizerWorks) {
  auto tokenizer = load(tiny_tokenizer_json());
  ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
  auto ids = tokenizer->encode("hello<s>hello");
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{259, 260, 259}));
  EXPECT_EQ(*tokenizer->decode(*ids), "hello<s>hello");
}

TEST(TokenizerLoad, UnsupportedModelTypeIsNamed) {
  json spec = tiny_tokenizer_json();
  spec["model"]["type"] = "Unigram";
  expect_load_error(spec, "model type 'Unigram' is not supported");
  spec["model"]["type"] = "WordPiece";
  expect_load_error(spec, "model type 'WordPiece' is not supported");
}

TEST(TokenizerLoad, UnsupportedComponentsAreNamed) {
  json spec = tiny_tokenizer_json();
  spec["normalizer"] = json{{"type", "NFC"}};
  expect_load_error(spec, "normalizer type 'NFC' is not supported");

  spec = tiny_tokenizer_json();
  spec["pre_tokenizer"] = json{{"type", "Metaspace"}, {"replacement", "▁"}};
  expect_load_error(spec, "pre_tokenizer type 'Metaspace' is not supported");

  spec = tiny_tokenizer_json();
  spec["decoder"] = json{{"type", "WordPiece"}};
  expect_load_error(spec, "decoder type 'WordPiece' is not supported");

  spec = tiny_tokenizer_json();
  spec["post_processor"] = json{{"type", "BertProcessing"}};
  expect_load_error(spec, "post_processor type 'BertProcessing' is not supported");

  spec = tiny_tokenizer_json();
  spec["model"]["dropout"] = 0.1;
  expect_load_error(spec, "dropout");

  spec = tiny_tokenizer_json();
  spec["model"]["byte_fallback"] = true;
  expect_load_error(spec, "byte_fallback is not supported");

  spec = tiny_tokenizer_json();
  spec["model"]["continuing_subword_prefix"] = "##";
  expect_load_error(spec, "continuing_subword_prefix is not supported");

  spec = tiny_tokenizer_json();
  spec["truncation"] = json{{"max_length", 512}};
  expect_load_error(spec, "truncation is not supported");

  spec = tiny_tokenizer_json();
  spec["pre_tokenizer"] = json{{"type", "Split"}, {"pattern", {{"Regex", "[a-z&&]"}}}, {"behavior", "Isolated"},
                               {"invert", false}};
  expect_load_error(spec, "is not supported");

  spec = tiny_tokenizer_json();
  spec["pre_tokenizer"] = json{{"type", "Sequence"},
                               {"pretokenizers", json::array({json{{"type", "ByteLevel"}}, json{{"type", "Digits"}}})}};
  expect_load_error(spec, "after ByteLevel is not supported");

  spec = tiny_tokenizer_json();
  spec["version"] = "2.0";
  expect_load_error(spec, "version");
}

TEST(TokenizerLoad, BrokenJsonIsReported) {
  const std::string text = tiny_tokenizer_json().dump();
  for (size_t cut : {size_t(0), size_t(1), text.size() / 3, text.size() / 2, text.size() - 1}) {
    auto tokenizer = Tokenizer::from_json(text.substr(0, cut), TokenizerConfig{});
    EXPECT_FALSE(tokenizer.is_ok()) << "prefix of " << cut << " bytes loaded";
  }
  EXPECT_FALSE(Tokenizer::from_json("[1, 2, 3]", TokenizerConfig{}).is_ok());
  EXPECT_FALSE(Tokenizer::from_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1.5}, \"merges\": []}}",
                                    TokenizerConfig{}).is_ok());
  EXPECT_FALSE(Tokenizer::from_json(std::string("{\"model\": {\"vocab\": {\"\xff\": 0}, \"merges\": []}}"),
                                    TokenizerConfig{}).is_ok());
  auto missing = Tokenizer::load("/nonexistent-dsinfer-dir");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("tokenizer.json"), std::string::npos);
}

TEST(TokenizerLoad, MergesMustReferToVocabulary) {
  json spec = tiny_tokenizer_json();
  spec["model"]["merges"].push_back("x yz");
  expect_load_error(spec, "\"yz\" is not in the vocabulary");
  spec = tiny_tokenizer_json();
  spec["model"]["merges"].push_back("a b c");
  expect_load_error(spec, "is not two tokens");
}

TEST(TokenizerLoad, MergesAsPairsEqualMergesAsStrings) {
  json spec = tiny_tokenizer_json();
  spec["model"]["merges"] = json::array({json::array({"h", "e"}), json::array({"l", "l"}), json::array({"he", "ll"}),
                                          json::array({"hell", "o"})});
  auto tokenizer = load(spec);
  ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
  EXPECT_EQ(*tokenizer->encode("hello"), std::vector<TokenId>{259});
}

TEST(TokenizerEncode, InvalidUtf8IsAnError) {
  const Tokenizer& tok = testing::v3_tokenizer();
  for (std::string bad : {std::string("abc\xff"), std::string("\xc3"), std::string("\xed\xa0\x80"),  // surrogate
                          std::string("\xc0\xaf"), std::string("ok \xf4\x90\x80\x80")}) {
    auto ids = tok.encode(bad);
    ASSERT_FALSE(ids.is_ok());
    EXPECT_NE(ids.status().message().find("not valid UTF-8"), std::string::npos) << ids.status().message();
  }
}

TEST(TokenizerDecode, UnknownIdIsAnError) {
  const Tokenizer& tok = testing::v3_tokenizer();
  EXPECT_FALSE(tok.decode(std::vector<TokenId>{1, 128815}).is_ok());
  EXPECT_FALSE(tok.decode(std::vector<TokenId>{-1}).is_ok());
}

TEST(TokenizerLoad, AddedTokenIdsFollowHuggingFace) {
  // HF ignores the ids written in added_tokens: a new token takes the next free id.
  json spec = tiny_tokenizer_json();
  spec["added_tokens"].push_back(json{{"id", 9999}, {"content", "<t>"}, {"special", false}, {"normalized", true}});
  auto tokenizer = load(spec);
  ASSERT_TRUE(tokenizer.is_ok());
  EXPECT_EQ(tokenizer->token_to_id("<t>"), 261);
  EXPECT_FALSE(tokenizer->warnings().empty());
}

TEST(TokenizerLoad, AddedTokenFlags) {
  json spec = tiny_tokenizer_json();
  spec["added_tokens"].push_back(json{{"content", "X"}, {"special", false}, {"lstrip", true}, {"rstrip", true}});
  spec["added_tokens"].push_back(json{{"content", "ab"}, {"special", false}, {"single_word", true}});
  auto tokenizer = load(spec);
  ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
  const TokenId x = *tokenizer->token_to_id("X"), ab = *tokenizer->token_to_id("ab");
  // lstrip / rstrip swallow the spaces around X.
  EXPECT_EQ(*tokenizer->encode("h  X  e"), (std::vector<TokenId>{'h', x, 'e'}));
  // single_word: "ab" only where no word character touches it.
  EXPECT_EQ(tokenizer->encode("ab")->front(), ab);
  EXPECT_NE(tokenizer->encode("cab")->back(), ab);
}

// The id -> text table is dense: one far-off id would cost gigabytes (fuzz_tokenizer ran
// out of memory on a vocabulary of 261 tokens with the id 257,777,774).
TEST(TokenizerLoad, FarOffVocabularyIdsAreRefused) {
  json spec = tiny_tokenizer_json();
  spec["model"]["vocab"]["hello"] = 257777774;
  expect_load_error(spec, "model.vocab: id 257777774 is far beyond the 260 tokens");
}

// Members of the wrong type where a string or a boolean is looked for: an error or the
// member ignored, never nlohmann's type_error ending the process (fuzz_tokenizer_config
// found the chat template list's case).
TEST(TokenizerLoad, MembersOfTheWrongTypeAreNotFatal) {
  for (const json& pre : {json{{"type", 5}}, json{{"type", "Sequence"}, {"pretokenizers", json::array({
                                                 json{{"type", "Split"}, {"behavior", 1}, {"invert", "no"}},
                                                 json{{"type", nullptr}}, json::object(),
                                                 json{{"type", "ByteLevel"}, {"add_prefix_space", "no"}}})}}}) {
    json spec = tiny_tokenizer_json();
    spec["pre_tokenizer"] = pre;
    EXPECT_FALSE(load(spec).is_ok()) << pre.dump();
  }
  const auto config = parse_tokenizer_config(
      R"({"chat_template": [{"name": null, "template": "a"}, {"name": 7}, {"name": "default", "template": "b"}]})",
      "tokenizer_config.json");
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  EXPECT_EQ(config->chat_template, "b");
}

}  // namespace
}  // namespace dsinfer
