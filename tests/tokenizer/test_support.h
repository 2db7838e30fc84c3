// Shared helpers for the tokenizer tests: fixture paths and the real V3 tokenizer.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace dsinfer::testing {

inline std::string source_path(const std::string& relative) { return std::string(DSINFER_SOURCE_DIR) + "/" + relative; }

inline std::string v3_dir() { return source_path("data/tokenizers/deepseek_v3"); }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream lines(read_text(path));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

// Loaded once per test binary: 8 MB of JSON is not worth re-reading in every test.
inline const Tokenizer& v3_tokenizer() {
  static const Tokenizer* tokenizer = [] {
    auto loaded = Tokenizer::load(v3_dir());
    if (!loaded.is_ok()) {
      ADD_FAILURE() << loaded.status().message();
      std::abort();
    }
    return new Tokenizer(std::move(loaded).value());
  }();
  return *tokenizer;
}

inline std::string ids_to_string(const std::vector<TokenId>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  return s + "]";
}

}  // namespace dsinfer::testing

namespace dsinfer::testing {

// A small byte-level BPE tokenizer.json: the 256 byte tokens (ids 0..255, in the order of
// the byte-level alphabet's code points), "he", "ll", "hell", "hello" by merges, and
// <s> as a special added token. Tests edit the returned JSON to probe one feature.
inline nlohmann::json tiny_tokenizer_json() {
  using nlohmann::json;
  json vocab = json::object();
  int next = 0;
  std::string token;
  for (int b = 0; b < 256; ++b) {
    token.clear();
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    static int shifted = 0;
    if (b == 0) shifted = 0;
    const char32_t c = printable ? char32_t(b) : char32_t(0x100 + shifted++);
    if (c < 0x80) {
      token.push_back(char(c));
    } else {
      token.push_back(char(0xC0 | (c >> 6)));
      token.push_back(char(0x80 | (c & 0x3F)));
    }
    vocab[token] = next++;
  }
  vocab["he"] = next++;
  vocab["ll"] = next++;
  vocab["hell"] = next++;
  vocab["hello"] = next++;
  return json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", json::array({json{{"id", next}, {"content", "<s>"}, {"single_word", false}, {"lstrip", false},
                                         {"rstrip", false}, {"normalized", false}, {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", json{{"type", "ByteLevel"}}},
      {"model", json{{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", vocab},
                     {"merges", json::array({"h e", "l l", "he ll", "hell o"})}}},
  };
}

}  // namespace dsinfer::testing
