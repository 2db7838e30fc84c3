// A Hugging Face byte-level BPE tokenizer as llama.cpp's tokenizer.ggml.* metadata.
#include <filesystem>

#include <gtest/gtest.h>

#include "formats/gguf_tokenizer.h"
#include "temp_dir.h"

namespace dsinfer {
namespace {

using test::contains_all;

class GgufTokenizerTest : public test::TempDirTest {};

constexpr const char* kTokenizerJson = R"({
  "added_tokens": [
    {"id": 0, "content": "<s>", "special": true},
    {"id": 1, "content": "</s>", "special": true},
    {"id": 6, "content": "<tool>", "special": false}
  ],
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated"},
    {"type": "ByteLevel", "add_prefix_space": false}]},
  "model": {"type": "BPE", "vocab": {"a": 2, "b": 3, "ab": 4, "Ġ": 5},
            "merges": ["a b", ["Ġ", "a"]]}
})";

constexpr const char* kTokenizerConfig = R"({
  "add_bos_token": true, "add_eos_token": false,
  "bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>",
  "chat_template": "{{ messages }}"
})";

TEST_F(GgufTokenizerTest, WritesVocabularyTypesMergesAndSpecialTokens) {
  write_text("tokenizer.json", kTokenizerJson);
  write_text("tokenizer_config.json", kTokenizerConfig);
  GgufWriter w;
  std::vector<std::string> warnings;
  auto added = add_hf_tokenizer_metadata(dir_.string(), 9, w, warnings);
  ASSERT_TRUE(added.is_ok()) << added.status().message();
  EXPECT_TRUE(*added);
  EXPECT_EQ(*w.find("tokenizer.ggml.model")->as_string(), "gpt2");
  EXPECT_EQ(*w.find("tokenizer.ggml.pre")->as_string(), "deepseek-v3");
  EXPECT_EQ(w.find("tokenizer.ggml.tokens")->strings(),
            (std::vector<std::string>{"<s>", "</s>", "a", "b", "ab", "Ġ", "<tool>", "[PAD7]", "[PAD8]"}));
  EXPECT_EQ(w.find("tokenizer.ggml.token_type")->ints(), (std::vector<int64_t>{3, 3, 1, 1, 1, 1, 4, 5, 5}));
  EXPECT_EQ(w.find("tokenizer.ggml.merges")->strings(), (std::vector<std::string>{"a b", "Ġ a"}));
  EXPECT_EQ(*w.find("tokenizer.ggml.bos_token_id")->as_int(), 0);
  EXPECT_EQ(*w.find("tokenizer.ggml.eos_token_id")->as_int(), 1);
  EXPECT_EQ(*w.find("tokenizer.ggml.add_bos_token")->as_bool(), true);
  EXPECT_EQ(*w.find("tokenizer.chat_template")->as_string(), "{{ messages }}");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(contains_all(warnings[0], {"2 ids", "[PADn]"}));
}

TEST_F(GgufTokenizerTest, AbsentTokenizerWritesNothing) {
  GgufWriter w;
  std::vector<std::string> warnings;
  auto added = add_hf_tokenizer_metadata(dir_.string(), 9, w, warnings);
  ASSERT_TRUE(added.is_ok());
  EXPECT_FALSE(*added);
  EXPECT_EQ(w.find("tokenizer.ggml.model"), nullptr);
}

TEST_F(GgufTokenizerTest, IdsBeyondTheVocabularyAndBadFilesAreErrors) {
  write_text("tokenizer.json", kTokenizerJson);
  GgufWriter w;
  std::vector<std::string> warnings;
  EXPECT_TRUE(contains_all(add_hf_tokenizer_metadata(dir_.string(), 5, w, warnings).status().message(),
                           {"tokenizer.json", "'Ġ'", "id 5", "vocab_size 5"}));
  write_text("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  EXPECT_TRUE(contains_all(add_hf_tokenizer_metadata(dir_.string(), 5, w, warnings).status().message(), {"BPE"}));
  write_text("tokenizer.json", "{not json");
  EXPECT_TRUE(contains_all(add_hf_tokenizer_metadata(dir_.string(), 5, w, warnings).status().message(),
                           {"not a JSON object"}));
}

// The real DeepSeek-V3 tokenizer when the checkout has it (data/ is not always present).
TEST(GgufTokenizerReal, DeepSeekV3) {
  const std::filesystem::path dir = std::filesystem::path(DSINFER_SOURCE_DIR) / "data/tokenizers/deepseek_v3";
  if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "no " << dir.string();
  GgufWriter w;
  std::vector<std::string> warnings;
  auto added = add_hf_tokenizer_metadata(dir.string(), 129280, w, warnings);
  ASSERT_TRUE(added.is_ok()) << added.status().message();
  EXPECT_EQ(*w.find("tokenizer.ggml.pre")->as_string(), "deepseek-v3");
  EXPECT_EQ(w.find("tokenizer.ggml.tokens")->array_size(), 129280u);
  EXPECT_EQ(w.find("tokenizer.ggml.merges")->array_size(), 127741u);
  EXPECT_EQ(*w.find("tokenizer.ggml.bos_token_id")->as_int(), 0);
  EXPECT_EQ(*w.find("tokenizer.ggml.eos_token_id")->as_int(), 1);
  EXPECT_EQ(w.find("tokenizer.ggml.tokens")->strings()[0], "<｜begin▁of▁sentence｜>");
}

}  // namespace
}  // namespace dsinfer
