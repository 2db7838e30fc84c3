// libFuzzer target for Kimi K2's tiktoken vocabulary (tokenizer/tiktoken_vocabulary.h):
//
//   first byte even: the rest is a tiktoken.model, with a tokenizer_config.json naming two
//                    special tokens; odd: the rest is a tokenizer_config.json, with a
//                    tiktoken.model of the 256 bytes and a few merged tokens
//
// Either a clear error, or a tokenizer whose decode(encode(text)) gives back the text.
// Run: scripts/fuzz.sh fuzz_tiktoken [SECONDS] (docs/fuzzing.md).
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "tokenizer/tiktoken_vocabulary.h"

namespace {

// base64 of the 256 single bytes (rank = byte) and of "he", "ll", "hell", "hello".
std::string small_vocabulary() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto encode = [](std::string_view bytes) {
    std::string out;
    for (size_t i = 0; i < bytes.size(); i += 3) {
      uint32_t bits = 0;
      const size_t n = std::min<size_t>(3, bytes.size() - i);
      for (size_t k = 0; k < n; ++k) bits |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + k])) << (16 - 8 * k);
      for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(bits >> (18 - 6 * k)) & 63] : '=';
    }
    return out;
  };
  std::string text;
  int rank = 0;
  for (int b = 0; b < 256; ++b) text += encode(std::string(1, static_cast<char>(b))) + " " + std::to_string(rank++) + "\n";
  for (const char* token : {"he", "ll", "hell", "hello"}) text += encode(token) + " " + std::to_string(rank++) + "\n";
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const std::string vocabulary = small_vocabulary();
  const std::string config = R"({"added_tokens_decoder": {"260": {"content": "[BOS]"}, "261": {"content": "[EOS]"}}})";
  auto tokenizer = data[0] % 2 == 0
                       ? dsinfer::tokenizer_from_tiktoken_text(rest, "tiktoken.model", config, "tokenizer_config.json")
                       : dsinfer::tokenizer_from_tiktoken_text(vocabulary, "tiktoken.model", rest,
                                                               "tokenizer_config.json");
  if (!tokenizer.is_ok()) {
    dsinfer::fuzz::require(!tokenizer.status().message().empty());
    return 0;
  }
  for (std::string_view text : {"hello world", "Hello wörld 123 getUserName", "\r\n\t 中文 😀"}) {
    auto ids = tokenizer->encode(text);
    dsinfer::fuzz::require(ids.is_ok());
    auto back = tokenizer->decode(*ids);
    dsinfer::fuzz::require(back.is_ok() && *back == text);
  }
  return 0;
}
