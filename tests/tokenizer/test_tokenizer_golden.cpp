// Encode and decode against fixtures made by Hugging Face `tokenizers` itself
// (tests/reference/tokenizer/gen_golden_ids.js): every id of every corpus line.
#include <gtest/gtest.h>

#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer {
namespace {

using testing::ids_to_string;
using testing::read_jsonl;
using testing::source_path;
using testing::v3_tokenizer;

// Compares every golden line; prints the first mismatches in full.
void expect_golden(const Tokenizer& tokenizer, const std::string& fixture, const EncodeOptions& options) {
  const auto rows = read_jsonl(source_path("tests/fixtures/tokenizer/" + fixture));
  ASSERT_GE(rows.size(), 300u) << fixture;
  int mismatches = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string text = rows[i]["text"].get<std::string>();
    const std::vector<TokenId> expected = rows[i]["ids"].get<std::vector<TokenId>>();
    auto ids = tokenizer.encode(text, options);
    ASSERT_TRUE(ids.is_ok()) << ids.status().message();
    if (*ids != expected && ++mismatches <= 10) {
      ADD_FAILURE() << fixture << " line " << i + 1 << ": " << nlohmann::json(text).dump() << "\n  expected "
                    << ids_to_string(expected) << "\n  got      " << ids_to_string(*ids);
    }
  }
  EXPECT_EQ(mismatches, 0) << "lines differing from Hugging Face in " << fixture;
}

TEST(TokenizerGolden, V3MatchesHuggingFaceOnEveryCorpusLine) {
  expect_golden(v3_tokenizer(), "deepseek_v3.golden.jsonl", {});
}

TEST(TokenizerGolden, V3WithSpecialTokenMatchingOff) {
  expect_golden(v3_tokenizer(), "deepseek_v3.no_special.golden.jsonl", {.match_special_tokens = false});
}

// R1 and V3.1 give two placeholders the contents <think> and </think> (non-special).
TEST(TokenizerGolden, R1LikeAddedTokensMatchMidText) {
  auto json = nlohmann::json::parse(testing::read_text(testing::v3_dir() + "/tokenizer.json"));
  for (auto& token : json["added_tokens"]) {
    if (token["id"] == 128798) token.update({{"content", "<think>"}, {"special", false}, {"normalized", true}});
    if (token["id"] == 128799) token.update({{"content", "</think>"}, {"special", false}, {"normalized", true}});
  }
  auto tokenizer = Tokenizer::from_json(json.dump(), TokenizerConfig{});
  ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
  expect_golden(*tokenizer, "deepseek_r1_like.golden.jsonl", {});
  auto ids = tokenizer->encode("a<think>b</think>c");
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(ids->at(1), 128798);
}

TEST(TokenizerGolden, DecodeMatchesHuggingFace) {
  const auto rows = read_jsonl(source_path("tests/fixtures/tokenizer/deepseek_v3.decode.golden.jsonl"));
  ASSERT_GT(rows.size(), 100u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::vector<TokenId> ids = rows[i]["ids"].get<std::vector<TokenId>>();
    const DecodeOptions options{.skip_special_tokens = rows[i]["skip_special"].get<bool>()};
    auto text = v3_tokenizer().decode(ids, options);
    ASSERT_TRUE(text.is_ok()) << text.status().message();
    EXPECT_EQ(*text, rows[i]["text"].get<std::string>()) << "decode line " << i + 1 << ": " << ids_to_string(ids);
  }
}

TEST(TokenizerGolden, DecodeOfEncodeIsTheText) {
  for (const auto& row : read_jsonl(source_path("tests/fixtures/tokenizer/deepseek_v3.golden.jsonl"))) {
    const std::string text = row["text"].get<std::string>();
    auto text_back = v3_tokenizer().decode(row["ids"].get<std::vector<TokenId>>());
    ASSERT_TRUE(text_back.is_ok());
    EXPECT_EQ(*text_back, text);
  }
}

TEST(TokenizerGolden, AddSpecialTokensPrependsBosAsTheConfigSays) {
  const Tokenizer& tok = v3_tokenizer();
  ASSERT_TRUE(tok.config().add_bos_token);
  ASSERT_EQ(tok.bos_id(), 0);
  ASSERT_EQ(tok.eos_id(), 1);
  auto plain = tok.encode("Hello");
  auto with_bos = tok.encode("Hello", {.add_special_tokens = true});
  ASSERT_TRUE(plain.is_ok() && with_bos.is_ok());
  ASSERT_EQ(with_bos->size(), plain->size() + 1);
  EXPECT_EQ(with_bos->front(), 0);
  EXPECT_EQ(std::vector<TokenId>(with_bos->begin() + 1, with_bos->end()), *plain);
  auto empty = tok.encode("", {.add_special_tokens = true});
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(*empty, std::vector<TokenId>{0});
}

TEST(TokenizerGolden, VocabularyLookups) {
  const Tokenizer& tok = v3_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 128815u);
  EXPECT_EQ(tok.token_to_id("<｜User｜>"), 128803);
  EXPECT_EQ(tok.id_to_token(128803), "<｜User｜>");
  EXPECT_EQ(tok.token_to_id("Ġthe"), tok.encode(" the")->at(0));
  EXPECT_TRUE(tok.is_special(0));
  EXPECT_FALSE(tok.is_special(128803));
  EXPECT_EQ(tok.token_bytes(223), std::optional<std::string_view>(" "));
  EXPECT_FALSE(tok.token_bytes(-1).has_value());
  EXPECT_FALSE(tok.token_bytes(128815).has_value());
  EXPECT_TRUE(tok.warnings().empty());
}

// A reused scratch (word cache warm) gives the same ids as a fresh one.
TEST(TokenizerGolden, ReusedScratchGivesTheSameIds) {
  const auto rows = read_jsonl(source_path("tests/fixtures/tokenizer/deepseek_v3.golden.jsonl"));
  EncodeScratch scratch;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& row : rows) {
      std::vector<TokenId> ids;
      ASSERT_TRUE(v3_tokenizer().encode(row["text"].get<std::string>(), {}, scratch, ids).is_ok());
      EXPECT_EQ(ids, row["ids"].get<std::vector<TokenId>>());
    }
  }
}

}  // namespace
}  // namespace dsinfer
