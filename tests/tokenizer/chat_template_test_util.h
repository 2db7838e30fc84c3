// Helpers shared by the chat-template tests: fixture paths and a readable
// description of where two renderings first differ.
#pragma once

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace dsinfer::testing {

inline std::string chat_template_fixture(const std::string& name) {
  return std::string(DSINFER_SOURCE_DIR) + "/tests/fixtures/chat_templates/" + name;
}

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "first difference at byte N: expected "...", got "..."" (with context).
inline std::string first_difference(const std::string& expected, const std::string& actual) {
  size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) + " (expected " + std::to_string(expected.size()) +
         " bytes, got " + std::to_string(actual.size()) + ")\n  expected: ..." + expected.substr(from, 100) +
         "\n  actual:   ..." + actual.substr(from, 100);
}

}  // namespace dsinfer::testing
