// Builds the statement tree of a template from its tokens, following Jinja2's
// grammar (operator precedence, where tests and filters bind, tuples without
// parentheses). Constructs outside the supported subset fail here, naming the
// construct and its position.
#pragma once

#include <memory>
#include <string_view>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace dsinfer::jinja {

struct ParsedTemplate {
  explicit ParsedTemplate(std::string_view raw) : source(raw) {}
  SourceText source;
  Body body;
};

// Deepest nesting of blocks and parenthesised expressions a template may use;
// bounds the parser's and the renderer's recursion.
inline constexpr int kMaxNesting = 100;

Result<std::shared_ptr<const ParsedTemplate>> parse_template(std::string_view source);

}  // namespace dsinfer::jinja
