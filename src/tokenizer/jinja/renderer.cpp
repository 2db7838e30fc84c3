#include "tokenizer/jinja/renderer.h"

#include <optional>
#include <utility>

#include "tokenizer/jinja/access.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/py_format.h"

namespace dsinfer::jinja {

// Evaluates `expr` (a Result) into `lhs`; on failure returns the error located at `node`.
#define JINJA_TRY_AT(node, lhs, expr)                                          \
  auto DSINFER_CONCAT(jinja_result_, __LINE__) = (expr);                      \
  if (!DSINFER_CONCAT(jinja_result_, __LINE__).is_ok())                        \
    return located((node), DSINFER_CONCAT(jinja_result_, __LINE__).status()); \
  lhs = std::move(DSINFER_CONCAT(jinja_result_, __LINE__)).value()

namespace {

// Pushes a scope for one loop iteration and pops it however the iteration ends.
class ScopeGuard {
 public:
  explicit ScopeGuard(std::vector<std::unordered_map<std::string, Value>>& scopes) : scopes_(scopes) {
    scopes_.emplace_back();
  }
  ~ScopeGuard() { scopes_.pop_back(); }

 private:
  std::vector<std::unordered_map<std::string, Value>>& scopes_;
};

}  // namespace

Renderer::Renderer(const ParsedTemplate& tmpl, const RenderLimits& limits) : template_(tmpl), limits_(limits) {}

Result<std::string> Renderer::render(const DictData& variables) {
  scopes_.clear();
  scopes_.emplace_back();
  for (const auto& [key, value] : variables.entries) {
    if (key.is_string()) scopes_[0][key.as_string()] = value;
  }
  out_.clear();
  steps_ = 0;
  DSINFER_ASSIGN_OR_RETURN(Flow flow, exec_body(template_.body));
  (void)flow;
  return std::move(out_);
}

Status Renderer::tick(uint64_t steps) {
  steps_ += steps;
  if (steps_ > limits_.max_steps)
    return error("template exceeded the limit of {} evaluation steps", limits_.max_steps);
  return Status::ok();
}

Status Renderer::check_string_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    return error("template built a string longer than the limit of {} bytes", limits_.max_output_bytes);
  return Status::ok();
}

Status Renderer::check_items(size_t count) const {
  if (count > limits_.max_items) return error("template built a list longer than the limit of {} items", limits_.max_items);
  return Status::ok();
}

Status Renderer::located(size_t offset, const Status& status) const {
  if (status.is_ok() || is_raised_by_template(status)) return status;
  if (status.message().find(" at line ") != std::string::npos) return status;
  return Status::error(status.message() + template_.source.where(offset));
}

Status Renderer::located(const Expr& e, const Status& status) const { return located(e.offset, status); }

Status Renderer::write(std::string_view text) {
  out_.append(text);
  if (out_.size() > limits_.max_output_bytes)
    return error("template output exceeded the limit of {} bytes", limits_.max_output_bytes);
  return Status::ok();
}

Value Renderer::lookup(const std::string& name) const {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto found = it->find(name);
    if (found != it->end()) return found->second;
  }
  return find_global(name);
}

// --- statements -------------------------------------------------------------

Result<Renderer::Flow> Renderer::exec_body(const Body& body) {
  for (const StmtPtr& stmt : body) {
    DSINFER_ASSIGN_OR_RETURN(Flow flow, exec(*stmt));
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Result<std::string> Renderer::capture(const Body& body) {
  std::string saved = std::move(out_);
  out_.clear();
  auto flow = exec_body(body);
  std::string captured = std::move(out_);
  out_ = std::move(saved);
  if (!flow.is_ok()) return flow.status();
  return captured;
}

Result<Renderer::Flow> Renderer::exec(const Stmt& stmt) {
  DSINFER_RETURN_IF_ERROR(located(stmt.offset, tick()));
  switch (stmt.kind) {
    case StmtKind::kText:
      DSINFER_RETURN_IF_ERROR(located(stmt.offset, write(stmt.text)));
      return Flow::kNormal;
    case StmtKind::kPrint: {
      DSINFER_ASSIGN_OR_RETURN(Value v, eval(*stmt.expr));
      DSINFER_RETURN_IF_ERROR(located(stmt.offset, write(v.is_string() ? v.as_string() : py_str(v))));
      return Flow::kNormal;
    }
    case StmtKind::kIf:
      return exec_if(stmt);
    case StmtKind::kFor:
      return exec_for(stmt);
    case StmtKind::kSet:
      DSINFER_RETURN_IF_ERROR(exec_set(stmt));
      return Flow::kNormal;
    case StmtKind::kSetBlock: {
      DSINFER_ASSIGN_OR_RETURN(std::string text, capture(stmt.body));
      Value value = Value::string(std::move(text));
      if (stmt.expr) {
        DSINFER_ASSIGN_OR_RETURN(value, eval_filter(*stmt.expr, &value));
      }
      DSINFER_RETURN_IF_ERROR(assign(stmt.target, value));
      return Flow::kNormal;
    }
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
    case StmtKind::kFilterBlock: {
      DSINFER_ASSIGN_OR_RETURN(std::string text, capture(stmt.body));
      const Value block = Value::string(std::move(text));
      DSINFER_ASSIGN_OR_RETURN(Value result, eval_filter(*stmt.expr, &block));
      DSINFER_RETURN_IF_ERROR(located(stmt.offset, write(py_str(result))));
      return Flow::kNormal;
    }
    case StmtKind::kScope:
      return exec_body(stmt.body);
    case StmtKind::kMacro: {
      const Stmt* macro = &stmt;  // the parsed template outlives every render
      scopes_.back()[stmt.text] = Value::callable(
          stmt.text, [macro](const CallArgs& args, Renderer& renderer) { return renderer.call_macro(*macro, args); });
      return Flow::kNormal;
    }
  }
  return Flow::kNormal;
}

Result<Renderer::Flow> Renderer::exec_if(const Stmt& stmt) {
  for (const auto& [condition, body] : stmt.branches) {
    DSINFER_ASSIGN_OR_RETURN(Value test, eval(*condition));
    if (truthy(test)) return exec_body(body);
  }
  return exec_body(stmt.else_body);
}

Result<Renderer::Flow> Renderer::exec_for(const Stmt& stmt) {
  DSINFER_ASSIGN_OR_RETURN(Value iterable, eval(*stmt.expr));
  std::vector<Value> items;
  JINJA_TRY_AT(*stmt.expr, items, iterate(iterable));
  if (stmt.condition) {  // {% for x in xs if cond %}: filtered before `loop` is computed
    std::vector<Value> kept;
    for (Value& item : items) {
      ScopeGuard scope(scopes_);
      DSINFER_RETURN_IF_ERROR(assign(stmt.target, item));
      DSINFER_ASSIGN_OR_RETURN(Value keep, eval(*stmt.condition));
      if (truthy(keep)) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(stmt.else_body);
  const int64_t length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    DSINFER_RETURN_IF_ERROR(located(stmt.offset, tick()));
    ScopeGuard scope(scopes_);
    DSINFER_RETURN_IF_ERROR(assign(stmt.target, items[i]));
    LoopInfo info;
    info.index0 = i;
    info.length = length;
    if (i > 0) info.previous = std::make_shared<const Value>(items[i - 1]);
    if (i + 1 < length) info.next = std::make_shared<const Value>(items[i + 1]);
    scopes_.back()["loop"] = Value::loop(std::move(info));
    DSINFER_ASSIGN_OR_RETURN(Flow flow, exec_body(stmt.body));
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Status Renderer::exec_set(const Stmt& stmt) {
  DSINFER_ASSIGN_OR_RETURN(Value value, eval(*stmt.expr));
  return assign(stmt.target, value);
}

Status Renderer::assign(const Target& target, const Value& value) {
  switch (target.kind) {
    case Target::Kind::kName:
      scopes_.back()[target.name] = value;
      return Status::ok();
    case Target::Kind::kAttribute: {
      const Value ns = lookup(target.name);
      if (!ns.is_namespace())
        return located(target.offset, error("cannot assign attribute on non-namespace object"));
      if (value.holds_shared_state())
        return located(target.offset,
                       error("a namespace may not hold another namespace, a loop or a function"));
      if (value.depth() >= kMaxValueDepth) return located(target.offset, error("value nests too deeply"));
      ns.namespace_data().set(Value::string(target.attribute), value);
      return Status::ok();
    }
    case Target::Kind::kTuple: {
      auto items = iterate(value);
      if (!items.is_ok()) return located(target.offset, items.status());
      const size_t want = target.items.size();
      if (items->size() > want)
        return located(target.offset, error("too many values to unpack (expected {})", want));
      if (items->size() < want)
        return located(target.offset,
                       error("not enough values to unpack (expected {}, got {})", want, items->size()));
      for (size_t i = 0; i < want; ++i) DSINFER_RETURN_IF_ERROR(assign(target.items[i], (*items)[i]));
      return Status::ok();
    }
  }
  return Status::ok();
}

// --- expressions ------------------------------------------------------------

Result<CallArgs> Renderer::eval_args(const Expr& e, size_t first_arg) {
  CallArgs args;
  for (size_t i = first_arg; i < e.children.size(); ++i) {
    DSINFER_ASSIGN_OR_RETURN(Value v, eval(*e.children[i]));
    args.positional.push_back(std::move(v));
  }
  for (const auto& [key, expr] : e.kwargs) {
    DSINFER_ASSIGN_OR_RETURN(Value v, eval(*expr));
    args.keyword.emplace_back(key, std::move(v));
  }
  return args;
}

Result<Value> Renderer::eval_filter(const Expr& e, const Value* block_text) {
  Value input;
  const Expr* inner = e.children[0].get();
  if (inner == nullptr) {
    if (block_text != nullptr) input = *block_text;
  } else if (inner->kind == ExprKind::kFilter) {
    DSINFER_ASSIGN_OR_RETURN(input, eval_filter(*inner, block_text));
  } else {
    DSINFER_ASSIGN_OR_RETURN(input, eval(*inner));
  }
  DSINFER_ASSIGN_OR_RETURN(CallArgs args, eval_args(e, 1));
  Value result;
  JINJA_TRY_AT(e, result, e.filter(input, args, *this));
  return result;
}

Result<Value> Renderer::eval_call(const Expr& e) {
  DSINFER_ASSIGN_OR_RETURN(Value callee, eval(*e.children[0]));
  DSINFER_ASSIGN_OR_RETURN(CallArgs args, eval_args(e, 1));
  Value result;
  JINJA_TRY_AT(e, result, call(callee, args));
  return result;
}

Result<Value> Renderer::call(const Value& callee, const CallArgs& args) {
  if (callee.is_undefined()) return Status::error(callee.undefined_message());
  if (!callee.is_callable()) return error("'{}' object is not callable", type_name(callee));
  DSINFER_RETURN_IF_ERROR(tick());
  return callee.callable_data().fn(args, *this);
}

Result<Value> Renderer::call_macro(const Stmt& macro, const CallArgs& args) {
  if (macro_depth_ >= kMaxMacroDepth)
    return located(macro.offset, error("macro '{}' recursed deeper than {} calls", macro.text, kMaxMacroDepth));
  const size_t n = macro.params.size();
  if (args.positional.size() > n)
    return error("macro '{}' takes not more than {} argument(s)", macro.text, n);
  std::vector<std::optional<Value>> bound(n);
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < n && macro.params[i] != key) ++i;
    if (i == n) return error("macro '{}' takes no keyword argument '{}'", macro.text, key);
    if (bound[i]) return error("macro '{}' got multiple values for argument '{}'", macro.text, key);
    bound[i] = value;
  }
  // A macro sees the template's top-level variables, not its caller's locals;
  // its own {% set %}s stay inside it.
  std::vector<std::unordered_map<std::string, Value>> saved = std::move(scopes_);
  scopes_.clear();
  scopes_.push_back(saved.front());
  scopes_.emplace_back();
  ++macro_depth_;
  Status status;
  for (size_t i = 0; i < n && status.is_ok(); ++i) {
    if (bound[i]) {
      scopes_.back()[macro.params[i]] = *bound[i];
    } else if (macro.defaults[i]) {
      auto fallback = eval(*macro.defaults[i]);
      if (fallback.is_ok()) scopes_.back()[macro.params[i]] = *fallback;
      else status = fallback.status();
    } else {
      scopes_.back()[macro.params[i]] =
          Value::undefined(fmt::format("parameter '{}' was not provided", macro.params[i]));
    }
  }
  Result<std::string> output = status.is_ok() ? capture(macro.body) : Result<std::string>(status);
  --macro_depth_;
  scopes_ = std::move(saved);
  if (!output.is_ok()) return output.status();
  return Value::string(std::move(output).value());
}

Result<Value> Renderer::call_filter(std::string_view name, const Value& input, const CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (fn == nullptr) return error("no filter named '{}'", name);
  DSINFER_RETURN_IF_ERROR(tick());
  return fn(input, args, *this);
}

Result<bool> Renderer::call_test(std::string_view name, const Value& input, const CallArgs& args) {
  TestFn fn = find_test(name);
  if (fn == nullptr) return error("no test named '{}'", name);
  DSINFER_RETURN_IF_ERROR(tick());
  return fn(input, args, *this);
}

Result<Value> Renderer::eval(const Expr& e) {
  DSINFER_RETURN_IF_ERROR(located(e, tick()));
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.literal;
    case ExprKind::kName:
      return lookup(e.name);
    case ExprKind::kGetattr: {
      DSINFER_ASSIGN_OR_RETURN(Value obj, eval(*e.children[0]));
      if (obj.is_undefined()) return located(e, Status::error(obj.undefined_message()));
      return get_attr(obj, e.name);
    }
    case ExprKind::kGetitem: {
      DSINFER_ASSIGN_OR_RETURN(Value obj, eval(*e.children[0]));
      const Expr& key_expr = *e.children[1];
      if (key_expr.kind == ExprKind::kSlice) {
        Value bounds[3];
        for (int i = 0; i < 3; ++i) {
          if (key_expr.children[i]) {
            DSINFER_ASSIGN_OR_RETURN(bounds[i], eval(*key_expr.children[i]));
          } else {
            bounds[i] = Value::none();
          }
        }
        Value sliced;
        JINJA_TRY_AT(e, sliced, get_slice(obj, bounds[0], bounds[1], bounds[2]));
        return sliced;
      }
      DSINFER_ASSIGN_OR_RETURN(Value key, eval(key_expr));
      if (obj.is_undefined()) return located(e, Status::error(obj.undefined_message()));
      return get_item(obj, key);
    }
    case ExprKind::kSlice:
      return located(e, error("slice outside of a subscript"));
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(e.children.size());
      for (const ExprPtr& child : e.children) {
        DSINFER_ASSIGN_OR_RETURN(Value v, eval(*child));
        items.push_back(std::move(v));
      }
      Value result = e.kind == ExprKind::kList ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      if (result.depth() > kMaxValueDepth) return located(e, error("value nests too deeply"));
      return result;
    }
    case ExprKind::kDict: {
      DictData data;
      for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
        DSINFER_ASSIGN_OR_RETURN(Value key, eval(*e.children[i]));
        DSINFER_ASSIGN_OR_RETURN(Value value, eval(*e.children[i + 1]));
        if (key.is_list() || key.is_dict() || key.is_namespace() || key.is_undefined() || key.is_loop())
          return located(*e.children[i], error("unhashable type: '{}'", type_name(key)));
        data.set(std::move(key), std::move(value));
      }
      Value result = Value::dict(std::move(data));
      if (result.depth() > kMaxValueDepth) return located(e, error("value nests too deeply"));
      return result;
    }
    case ExprKind::kNot: {
      DSINFER_ASSIGN_OR_RETURN(Value v, eval(*e.children[0]));
      return Value::boolean(!truthy(v));
    }
    case ExprKind::kNeg:
    case ExprKind::kPos: {
      DSINFER_ASSIGN_OR_RETURN(Value v, eval(*e.children[0]));
      Value result;
      JINJA_TRY_AT(e, result, negate(v, e.kind == ExprKind::kNeg));
      return result;
    }
    case ExprKind::kBinary: {
      DSINFER_ASSIGN_OR_RETURN(Value left, eval(*e.children[0]));
      DSINFER_ASSIGN_OR_RETURN(Value right, eval(*e.children[1]));
      Value result;
      JINJA_TRY_AT(e, result, binary_op(e.binary_op, left, right, *this));
      return result;
    }
    case ExprKind::kAnd: {
      DSINFER_ASSIGN_OR_RETURN(Value left, eval(*e.children[0]));
      if (!truthy(left)) return left;
      return eval(*e.children[1]);
    }
    case ExprKind::kOr: {
      DSINFER_ASSIGN_OR_RETURN(Value left, eval(*e.children[0]));
      if (truthy(left)) return left;
      return eval(*e.children[1]);
    }
    case ExprKind::kConcat: {
      std::string out;
      for (const ExprPtr& child : e.children) {
        DSINFER_ASSIGN_OR_RETURN(Value v, eval(*child));
        out += v.is_string() ? v.as_string() : py_str(v);
        DSINFER_RETURN_IF_ERROR(located(e, check_string_size(out.size())));
      }
      return Value::string(std::move(out));
    }
    case ExprKind::kCompare: {
      DSINFER_ASSIGN_OR_RETURN(Value left, eval(*e.children[0]));
      for (size_t i = 0; i < e.compare_ops.size(); ++i) {
        DSINFER_ASSIGN_OR_RETURN(Value right, eval(*e.children[i + 1]));
        bool ok = false;
        JINJA_TRY_AT(e, ok, compare(e.compare_ops[i], left, right));
        if (!ok) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case ExprKind::kCondExpr: {
      DSINFER_ASSIGN_OR_RETURN(Value test, eval(*e.children[0]));
      if (truthy(test)) return eval(*e.children[1]);
      if (e.children[2]) return eval(*e.children[2]);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
    case ExprKind::kFilter:
      return eval_filter(e, nullptr);
    case ExprKind::kTest: {
      DSINFER_ASSIGN_OR_RETURN(Value subject, eval(*e.children[0]));
      DSINFER_ASSIGN_OR_RETURN(CallArgs args, eval_args(e, 1));
      bool passed = false;
      JINJA_TRY_AT(e, passed, e.test(subject, args, *this));
      return Value::boolean(passed != e.negated);
    }
    case ExprKind::kCall:
      return eval_call(e);
  }
  return located(e, error("unhandled expression"));
}

}  // namespace dsinfer::jinja
