// The tokenizer read back from a GGUF file's metadata against Hugging Face's own ids: the
// real DeepSeek-V3 tokenizer written as `dsinfer quantize` writes it (llama.cpp's
// tokenizer.ggml.* keys) must encode and decode every golden line as tokenizer.json does.
#include <gtest/gtest.h>

#include "../formats/temp_dir.h"
#include "formats/gguf_tokenizer.h"
#include "test_support.h"
#include "tokenizer/gguf_vocabulary.h"

namespace dsinfer {
namespace {

using testing::read_jsonl;
using testing::source_path;
using testing::v3_dir;
using testing::v3_tokenizer;

constexpr int64_t kV3VocabSize = 129280;  // DeepSeek-V3's config.json vocab_size

class GgufVocabularyTest : public test::TempDirTest {
 protected:
  // The V3 tokenizer's metadata with `edit` applied, written to a tensor-less GGUF and read back.
  Result<GgufFile> v3_gguf(const std::function<void(GgufWriter&)>& edit = [](GgufWriter&) {}) {
    GgufWriter writer;
    writer.set("general.architecture", GgufValue::string("deepseek2"));
    std::vector<std::string> warnings;
    auto added = add_hf_tokenizer_metadata(v3_dir(), kV3VocabSize, writer, warnings);
    if (!added.is_ok()) return added.status();
    edit(writer);
    const std::string file = path("v3.gguf");
    DSINFER_RETURN_IF_ERROR(writer.open(file));
    DSINFER_RETURN_IF_ERROR(writer.close());
    return GgufFile::open(file);
  }

  Result<Tokenizer> v3_from_gguf(const std::function<void(GgufWriter&)>& edit = [](GgufWriter&) {}) {
    DSINFER_ASSIGN_OR_RETURN(GgufFile file, v3_gguf(edit));
    return tokenizer_from_gguf(file.header(), "v3.gguf");
  }
};

TEST_F(GgufVocabularyTest, V3EncodesEveryGoldenLineAsHuggingFace) {
  auto tokenizer = v3_from_gguf();
  ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
  for (const auto& [fixture, options] : {std::pair{"deepseek_v3.golden.jsonl", EncodeOptions{}},
                                         std::pair{"deepseek_v3.no_special.golden.jsonl",
                                                   EncodeOptions{.match_special_tokens = false}}}) {
    const auto rows = read_jsonl(source_path(std::string("tests/fixtures/tokenizer/") + fixture));
    ASSERT_GE(rows.size(), 300u);
    int mismatches = 0;
    for (const auto& row : rows) {
      auto ids = tokenizer->encode(row["text"].get<std::string>(), options);
      ASSERT_TRUE(ids.is_ok()) << ids.status().message();
      if (*ids != row["ids"].get<std::vector<TokenId>>() && ++mismatches <= 5)
        ADD_FAILURE() << fixture << ": " << row["text"].dump() << " gives " << testing::ids_to_string(*ids);
    }
    EXPECT_EQ(mismatches, 0) << fixture;
  }
}

TEST_F(GgufVocabularyTest, V3DecodesEveryGoldenLineAsHuggingFace) {
  auto tokenizer = v3_from_gguf();
  ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
  for (const auto& row : read_jsonl(source_path("tests/fixtures/tokenizer/deepseek_v3.decode.golden.jsonl"))) {
    const auto ids = row["ids"].get<std::vector<TokenId>>();
    auto text = tokenizer->decode(ids, {.skip_special_tokens = row["skip_special"].get<bool>()});
    ASSERT_TRUE(text.is_ok()) << text.status().message();
    EXPECT_EQ(*text, row["text"].get<std::string>()) << testing::ids_to_string(ids);
  }
}

TEST_F(GgufVocabularyTest, SettingsMatchTokenizerConfigJson) {
  auto tokenizer = v3_from_gguf();
  ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
  const TokenizerConfig& from_json = v3_tokenizer().config();
  const TokenizerConfig& from_gguf = tokenizer->config();
  EXPECT_EQ(from_gguf.bos_token, from_json.bos_token);
  EXPECT_EQ(from_gguf.eos_token, from_json.eos_token);
  EXPECT_EQ(from_gguf.add_bos_token, from_json.add_bos_token);
  EXPECT_EQ(from_gguf.add_eos_token, from_json.add_eos_token);
  ASSERT_TRUE(from_gguf.chat_template.has_value());
  EXPECT_EQ(from_gguf.chat_template, from_json.chat_template);
  EXPECT_EQ(tokenizer->bos_id(), v3_tokenizer().bos_id());
  EXPECT_EQ(tokenizer->eos_id(), v3_tokenizer().eos_id());
  // ids beyond the vocabulary's tokens (129280 - 128815 of them) are unused: no token has them.
  EXPECT_FALSE(tokenizer->token_bytes(129000).has_value());
}

// V2's split ("deepseek-llm") cuts every newline alone and keeps digit runs whole, where
// V3's joins "\n\n" into one piece. With V3's vocabulary, "ab 123\n\nxy" splits into
// "ab", " ", "123", "\n", "\n", "xy", each of which V3 also keeps whole.
TEST_F(GgufVocabularyTest, DeepSeekLlmSplitsAsV2) {
  auto v2 = v3_from_gguf([](GgufWriter& w) { w.set("tokenizer.ggml.pre", GgufValue::string("deepseek-llm")); });
  ASSERT_TRUE(v2.is_ok()) << v2.status().message();
  std::vector<TokenId> expected;
  for (const char* piece : {"ab", " ", "123", "\n", "\n", "xy"}) {
    auto ids = v3_tokenizer().encode(piece);
    ASSERT_TRUE(ids.is_ok());
    expected.insert(expected.end(), ids->begin(), ids->end());
  }
  auto ids = v2->encode("ab 123\n\nxy");
  ASSERT_TRUE(ids.is_ok()) << ids.status().message();
  EXPECT_EQ(*ids, expected);
  EXPECT_NE(*v3_tokenizer().encode("ab 123\n\nxy"), expected);
}

TEST_F(GgufVocabularyTest, RefusesWhatItCannotTokenizeFaithfully) {
  const std::pair<std::function<void(GgufWriter&)>, std::vector<std::string>> cases[] = {
      {[](GgufWriter& w) { w.set("tokenizer.ggml.pre", GgufValue::string("qwen2")); },
       {"tokenizer.ggml.pre is 'qwen2'", "deepseek-v3"}},
      {[](GgufWriter& w) { w.set("tokenizer.ggml.model", GgufValue::string("llama")); },
       {"tokenizer.ggml.model is 'llama'", "byte-level BPE"}},
      {[](GgufWriter& w) { w.set("tokenizer.ggml.model", GgufValue::string("no_vocab")); }, {"has no vocabulary"}},
      {[](GgufWriter& w) { w.set("tokenizer.ggml.token_type", GgufValue::int_array(GgufValueType::kI32, {1, 1})); },
       {"one type per token (129280)", "found 2"}},
      {[](GgufWriter& w) { w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(200000)); },
       {"tokenizer.ggml.bos_token_id is 200000", "129280 tokens"}},
      {[](GgufWriter& w) { w.set("tokenizer.ggml.add_bos_token", GgufValue::u32(1)); },
       {"tokenizer.ggml.add_bos_token must be a bool"}},
      {[](GgufWriter& w) { w.set("tokenizer.chat_template", GgufValue::u32(1)); },
       {"tokenizer.chat_template must be a string"}},
      {[](GgufWriter& w) { w.set("tokenizer.ggml.merges", GgufValue::int_array(GgufValueType::kI32, {1})); },
       {"tokenizer.ggml.merges must be an array of strings"}},
      {[](GgufWriter& w) {
         std::vector<std::string> tokens = w.find("tokenizer.ggml.tokens")->strings();
         tokens[7] = tokens[5];
         w.set("tokenizer.ggml.tokens", GgufValue::string_array(std::move(tokens)));
       },
       {"appears twice, at ids 5 and 7"}},
  };
  for (const auto& [edit, needles] : cases) {
    auto tokenizer = v3_from_gguf(edit);
    ASSERT_FALSE(tokenizer.is_ok());
    for (const auto& needle : needles) EXPECT_NE(tokenizer.status().message().find(needle), std::string::npos)
        << tokenizer.status().message() << " lacks " << needle;
  }
}

}  // namespace
}  // namespace dsinfer
