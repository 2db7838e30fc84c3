// libFuzzer target for the tokenizer: the tokenizer.json loader (any bytes as the file),
// and encode/decode of any bytes as text with the real DeepSeek V3 tokenizer, checking
// that decode(encode(text)) == text and that the hand-written DeepSeek pre-tokenizer cuts
// text exactly as the regex path does.
//
//   first byte even: the rest is a tokenizer.json; odd: the rest is text
//
// Run: scripts/fuzz.sh fuzz_tokenizer [SECONDS] (docs/fuzzing.md).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using dsinfer::PreTokenizer;
using dsinfer::Tokenizer;

struct Collect final : dsinfer::PieceSink {
  std::string joined;
  void piece(std::string_view text) override {
    joined.append(text);
    joined.push_back('\x1f');
  }
};

struct V3 {
  Tokenizer tokenizer;
  PreTokenizer fast;
  PreTokenizer regex;
};

const V3& v3() {
  static const V3* loaded = [] {
    const std::string dir = DSINFER_SOURCE_DIR "/data/tokenizers/deepseek_v3";
    auto tokenizer = Tokenizer::load(dir);
    if (!tokenizer.is_ok()) std::abort();
    std::FILE* f = std::fopen((dir + "/tokenizer.json").c_str(), "rb");
    std::string text;
    char buffer[1 << 16];
    for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), f)) > 0;) text.append(buffer, n);
    std::fclose(f);
    const auto spec = nlohmann::json::parse(text)["pre_tokenizer"];
    return new V3{std::move(tokenizer).value(), std::move(PreTokenizer::from_json(spec, true)).value(),
                  std::move(PreTokenizer::from_json(spec, false)).value()};
  }();
  return *loaded;
}

void fuzz_loader(std::string_view json) {
  auto tokenizer = Tokenizer::from_json(json, dsinfer::TokenizerConfig{});
  if (!tokenizer.is_ok()) return;
  for (std::string_view text : {"", "Hello wörld 123 <s>", "\r\n\t 中文 😀"}) {
    auto ids = tokenizer->encode(text);
    if (!ids.is_ok()) continue;
    (void)tokenizer->decode(*ids);
  }
}

void fuzz_text(std::string_view text) {
  const V3& v = v3();
  auto ids = v.tokenizer.encode(text);
  if (!dsinfer::is_valid_utf8(text)) {
    if (ids.is_ok()) std::abort();  // invalid UTF-8 must be refused
    return;
  }
  if (!ids.is_ok()) std::abort();
  auto back = v.tokenizer.decode(*ids);
  if (!back.is_ok() || *back != text) std::abort();
  dsinfer::PreTokenizerScratch scratch;
  Collect a, b;
  if (!v.fast.split(text, scratch, a).is_ok() || !v.regex.split(text, scratch, b).is_ok()) std::abort();
  if (a.joined != b.joined) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    fuzz_loader(rest);
  } else {
    fuzz_text(rest);
  }
  return 0;
}
