// Streaming detokenization: ids one at a time, every chunk valid UTF-8, and all chunks
// together equal decode() of the whole sequence.
#include <gtest/gtest.h>

#include "test_support.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/utf8.h"

namespace dsinfer {
namespace {

using testing::read_jsonl;
using testing::source_path;
using testing::v3_tokenizer;

// The id of the single-byte token for byte `b`.
TokenId byte_token(unsigned char b) {
  std::string spelled;
  const char c = char(b);
  append_byte_level(std::string_view(&c, 1), spelled);
  return *v3_tokenizer().token_to_id(spelled);
}

// Streams `ids`, checking each chunk; returns the chunks.
std::vector<std::string> stream(const std::vector<TokenId>& ids, DecodeOptions options = {}) {
  StreamDecoder decoder(v3_tokenizer(), options);
  std::vector<std::string> chunks;
  for (TokenId id : ids) {
    auto chunk = decoder.push(id);
    EXPECT_TRUE(chunk.is_ok()) << chunk.status().message();
    EXPECT_TRUE(is_valid_utf8(*chunk)) << "chunk after id " << id;
    EXPECT_LE(decoder.pending_bytes(), 3u);
    chunks.push_back(*chunk);
  }
  chunks.push_back(decoder.finish());
  EXPECT_TRUE(is_valid_utf8(chunks.back()));
  return chunks;
}

std::string join(const std::vector<std::string>& chunks) {
  std::string all;
  for (const auto& c : chunks) all += c;
  return all;
}

TEST(StreamDecoder, ConcatenationEqualsDecodeOnEveryGoldenLine) {
  for (const auto& row : read_jsonl(source_path("tests/fixtures/tokenizer/deepseek_v3.golden.jsonl"))) {
    const auto ids = row["ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(join(stream(ids)), row["text"].get<std::string>());
  }
}

TEST(StreamDecoder, ConcatenationEqualsDecodeOnBrokenSequences) {
  // Random ids and lone byte tokens from the decode fixture: many malformed sequences.
  for (const auto& row : read_jsonl(source_path("tests/fixtures/tokenizer/deepseek_v3.decode.golden.jsonl"))) {
    const auto ids = row["ids"].get<std::vector<TokenId>>();
    const DecodeOptions options{.skip_special_tokens = row["skip_special"].get<bool>()};
    EXPECT_EQ(join(stream(ids, options)), row["text"].get<std::string>());
  }
}

TEST(StreamDecoder, BytesOfAnIncompleteCharacterWait) {
  // "中" is E4 B8 AD; fed as three byte tokens it appears only with the last one.
  const auto chunks = stream({byte_token(0xE4), byte_token(0xB8), byte_token(0xAD), byte_token('!')});
  EXPECT_EQ(chunks, (std::vector<std::string>{"", "", "中", "!", ""}));
  // An emoji (4 bytes) split 1 + 3 across a regular token.
  const auto emoji = stream({byte_token(0xF0), byte_token(0x9F), byte_token(0x98), byte_token(0x80)});
  EXPECT_EQ(emoji, (std::vector<std::string>{"", "", "", "😀", ""}));
}

TEST(StreamDecoder, MalformedBytesBecomeReplacementCharactersAsSoonAsKnown) {
  // E4 followed by 'a': E4 cannot be completed, so U+FFFD comes out with the 'a'.
  EXPECT_EQ(stream({byte_token(0xE4), byte_token('a')}), (std::vector<std::string>{"", "\uFFFDa", ""}));
  // A continuation byte alone is malformed at once.
  EXPECT_EQ(stream({byte_token(0x80)}), (std::vector<std::string>{"\uFFFD", ""}));
  // An incomplete character at the end of the stream: one U+FFFD from finish().
  EXPECT_EQ(stream({byte_token('x'), byte_token(0xE4), byte_token(0xB8)}),
            (std::vector<std::string>{"x", "", "", "\uFFFD"}));
}

TEST(StreamDecoder, SpecialTokensCanBeSkipped) {
  const auto ids = *v3_tokenizer().encode("<｜begin▁of▁sentence｜>Hi<｜User｜>");
  EXPECT_EQ(join(stream(ids)), "<｜begin▁of▁sentence｜>Hi<｜User｜>");
  EXPECT_EQ(join(stream(ids, {.skip_special_tokens = true})), "Hi<｜User｜>");  // <｜User｜> is not special
}

TEST(StreamDecoder, UnknownIdIsAnError) {
  StreamDecoder decoder(v3_tokenizer());
  EXPECT_FALSE(decoder.push(200000).is_ok());
  EXPECT_FALSE(decoder.push(-5).is_ok());
}

TEST(Utf8, LossyDecodingMatchesRustFromUtf8Lossy) {
  auto lossy = [](std::string_view bytes) {
    std::string out;
    append_utf8_lossy(bytes, true, out);
    return out;
  };
  // Each maximal ill-formed subpart becomes one U+FFFD (Unicode's recommended practice).
  EXPECT_EQ(lossy("a\x80" "b"), "a\uFFFDb");
  EXPECT_EQ(lossy("\xE0\x80\x80"), "\uFFFD\uFFFD\uFFFD");  // overlong: E0 then two stray bytes
  EXPECT_EQ(lossy("\xF0\x90\x80" "A"), "\uFFFDA");         // truncated 4-byte sequence
  EXPECT_EQ(lossy("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");  // surrogate
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(lossy("\xC3"), "\uFFFD");
  EXPECT_EQ(lossy("ok \xC3\xA9"), "ok é");
  std::string out;
  EXPECT_EQ(append_utf8_lossy("ab\xE4\xB8", false, out), 2u);  // the incomplete tail waits
  EXPECT_EQ(out, "ab");
  EXPECT_EQ(find_invalid_utf8("abc\xC3\xA9\xFF"), std::optional<size_t>(5));
  EXPECT_FALSE(find_invalid_utf8("日本語 😀 \U0010FFFF").has_value());
}

}  // namespace
}  // namespace dsinfer
