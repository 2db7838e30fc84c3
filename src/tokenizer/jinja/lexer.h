// Splits a template into tokens exactly where Jinja2's lexer would with
// transformers' settings (trim_blocks, lstrip_blocks, keep_trailing_newline off),
// so the text between tags, after whitespace control, is byte-identical.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dsinfer::jinja {

// The template source after Jinja's newline normalisation (\r\n and \r become
// \n, one trailing newline is dropped), with a map from offsets to positions.
class SourceText {
 public:
  explicit SourceText(std::string_view raw);
  const std::string& text() const { return text_; }
  // 1-based line and column (in code points) of a byte offset.
  std::pair<int, int> position(size_t offset) const;
  // " at line L, column C": appended to every error about the template.
  std::string where(size_t offset) const;

 private:
  std::string text_;
  std::vector<size_t> line_starts_;
};

enum class TokenType : uint8_t {
  kData,           // literal text between tags
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,         // text holds the decoded value
  kInteger,
  kFloat,
  kOperator,       // text holds the operator: "+", "//", "(", ...
  kEof,
};

struct Token {
  TokenType type;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0.0;
  size_t offset = 0;  // into SourceText::text()

  bool is_op(std::string_view op) const { return type == TokenType::kOperator && text == op; }
  bool is_name(std::string_view name) const { return type == TokenType::kName && text == name; }
};

// Tokenizes source.text(); the last token is kEof.
Result<std::vector<Token>> tokenize(const SourceText& source);

// Describes a token for "expected X, got Y" messages.
std::string describe(const Token& token);

}  // namespace dsinfer::jinja
