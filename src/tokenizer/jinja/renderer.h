// Executes a parsed template: Jinja2's runtime semantics (scoping of {% set %}
// inside loops, Undefined, the loop object, Python operators) over Values, with
// limits so that a hostile template cannot run forever or exhaust memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/parser.h"
#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // also caps any single string built
  uint64_t max_steps = 20'000'000;             // statements + expressions evaluated
  size_t max_items = 1'000'000;                // length of any list built
};

class Renderer {
 public:
  Renderer(const ParsedTemplate& tmpl, const RenderLimits& limits);

  // Renders with `variables` as the template's context.
  Result<std::string> render(const DictData& variables);

  // --- services for filters, tests and methods -----------------------------
  const RenderLimits& limits() const { return limits_; }
  // Counts work done; fails once the step budget is spent.
  Status tick(uint64_t steps = 1);
  Status check_string_size(size_t bytes) const;
  Status check_items(size_t count) const;
  Result<Value> call_filter(std::string_view name, const Value& input, const CallArgs& args);
  Result<bool> call_test(std::string_view name, const Value& input, const CallArgs& args);
  Result<Value> call(const Value& callee, const CallArgs& args);
  // Runs a {% macro %} body with its parameters bound; returns its output.
  Result<Value> call_macro(const Stmt& macro, const CallArgs& args);

 private:
  enum class Flow : uint8_t { kNormal, kBreak, kContinue };

  Result<Flow> exec_body(const Body& body);
  Result<Flow> exec(const Stmt& stmt);
  Result<Flow> exec_if(const Stmt& stmt);
  Result<Flow> exec_for(const Stmt& stmt);
  Status exec_set(const Stmt& stmt);
  Status assign(const Target& target, const Value& value);
  Result<std::string> capture(const Body& body);
  Status write(std::string_view text);

  Result<Value> eval(const Expr& e);
  Result<Value> eval_filter(const Expr& e, const Value* block_text);
  Result<Value> eval_call(const Expr& e);
  Result<CallArgs> eval_args(const Expr& e, size_t first_arg);
  Value lookup(const std::string& name) const;
  Status located(const Expr& e, const Status& status) const;
  Status located(size_t offset, const Status& status) const;

  const ParsedTemplate& template_;
  const RenderLimits& limits_;
  std::vector<std::unordered_map<std::string, Value>> scopes_;
  std::string out_;
  uint64_t steps_ = 0;
  int macro_depth_ = 0;
};

// Deepest chain of macro calls (a macro calling itself counts each time).
inline constexpr int kMaxMacroDepth = 64;

}  // namespace dsinfer::jinja
