// The built-in tests of jinja2/tests.py (`x is defined`, `x is string`, ...).
#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/access.h"
#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/py_format.h"
#include "tokenizer/jinja/renderer.h"
#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {
namespace {

Status no_arguments(const CallArgs& args, const char* name) {
  if (!args.positional.empty() || !args.keyword.empty()) return error("test '{}' takes no arguments", name);
  return Status::ok();
}

Result<Value> one_arg(const CallArgs& args, const char* name) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"other"}));
  if (!a[0]) return error("test '{}' needs an argument", name);
  return *a[0];
}

#define SIMPLE_TEST(fn_name, test_name, expr)                            \
  Result<bool> fn_name(const Value& v, const CallArgs& args, Renderer&) { \
    DSINFER_RETURN_IF_ERROR(no_arguments(args, test_name));                    \
    return (expr);                                                        \
  }

SIMPLE_TEST(t_defined, "defined", !v.is_undefined())
SIMPLE_TEST(t_undefined, "undefined", v.is_undefined())
SIMPLE_TEST(t_none, "none", v.is_none())
SIMPLE_TEST(t_boolean, "boolean", v.is_bool())
SIMPLE_TEST(t_false, "false", v.is_bool() && !v.as_bool())
SIMPLE_TEST(t_true, "true", v.is_bool() && v.as_bool())
SIMPLE_TEST(t_integer, "integer", v.is_int())
SIMPLE_TEST(t_float, "float", v.is_float())
SIMPLE_TEST(t_number, "number", v.is_number())
SIMPLE_TEST(t_string, "string", v.is_string())
SIMPLE_TEST(t_mapping, "mapping", v.is_dict())
// Anything with len() and [] (Undefined has both); dict views and iterators lack [].
SIMPLE_TEST(t_sequence, "sequence", v.is_string() || v.is_plain_sequence() || v.is_dict() || v.is_undefined())
SIMPLE_TEST(t_iterable, "iterable", v.is_string() || v.is_sequence_like() || v.is_dict() || v.is_undefined())
SIMPLE_TEST(t_callable, "callable", v.is_callable() || v.is_undefined())  // Undefined has __call__
SIMPLE_TEST(t_escaped, "escaped", v.is_markup())

// value % 2 == 1 / == 0, with Python's modulo (floats allowed).
Result<int> parity(const Value& v, const char* name) {
  if (v.is_undefined()) return Status::error(v.undefined_message());
  if (v.is_int() || v.is_bool()) return static_cast<int>(((v.as_int() % 2) + 2) % 2);
  if (v.is_float()) {
    double r = std::fmod(v.as_double(), 2.0);
    if (r < 0) r += 2.0;
    return r == 1.0 ? 1 : r == 0.0 ? 0 : -1;
  }
  return error("test '{}': unsupported operand type(s) for %: '{}' and 'int'", name, type_name(v));
}

Result<bool> t_odd(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_arguments(args, "odd"));
  DSINFER_ASSIGN_OR_RETURN(int p, parity(v, "odd"));
  return p == 1;
}

Result<bool> t_even(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_arguments(args, "even"));
  DSINFER_ASSIGN_OR_RETURN(int p, parity(v, "even"));
  return p == 0;
}

Result<bool> t_divisibleby(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(Value n, one_arg(args, "divisibleby"));
  if (!v.is_number() || !n.is_number()) return error("test 'divisibleby' needs numbers");
  if (!v.is_float() && !n.is_float()) {
    if (n.as_int() == 0) return error("integer division or modulo by zero");
    return v.as_int() % n.as_int() == 0;
  }
  if (n.as_double() == 0) return error("float modulo");
  return std::fmod(v.as_double(), n.as_double()) == 0;
}

// str(value).islower() / .isupper(), as jinja2's tests do.
Result<bool> t_lower(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_arguments(args, "lower"));
  bool cased = false;
  for (char32_t cp : decode_utf8(py_str(v))) {
    if (is_upper_cased(cp)) return false;
    cased = cased || is_lower_cased(cp);
  }
  return cased;
}

Result<bool> t_upper(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_arguments(args, "upper"));
  bool cased = false;
  for (char32_t cp : decode_utf8(py_str(v))) {
    if (is_lower_cased(cp)) return false;
    cased = cased || is_upper_cased(cp);
  }
  return cased;
}

Result<bool> t_sameas(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(Value other, one_arg(args, "sameas"));
  return v.same_object(other);
}

Result<bool> t_in(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(Value seq, one_arg(args, "in"));
  return contains(seq, v);
}

template <CompareOp Op>
Result<bool> t_compare(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(Value other, one_arg(args, "comparison"));
  return compare(Op, v, other);
}

Result<bool> t_filter(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_arguments(args, "filter"));
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}

Result<bool> t_test(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_arguments(args, "test"));
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

struct TestEntry {
  std::string_view name;
  TestFn fn;
};

constexpr TestEntry kTests[] = {
    {"defined", t_defined},
    {"undefined", t_undefined},
    {"none", t_none},
    {"boolean", t_boolean},
    {"false", t_false},
    {"true", t_true},
    {"integer", t_integer},
    {"float", t_float},
    {"number", t_number},
    {"string", t_string},
    {"mapping", t_mapping},
    {"sequence", t_sequence},
    {"iterable", t_iterable},
    {"callable", t_callable},
    {"escaped", t_escaped},
    {"odd", t_odd},
    {"even", t_even},
    {"divisibleby", t_divisibleby},
    {"lower", t_lower},
    {"upper", t_upper},
    {"sameas", t_sameas},
    {"in", t_in},
    {"==", t_compare<CompareOp::kEq>},
    {"eq", t_compare<CompareOp::kEq>},
    {"equalto", t_compare<CompareOp::kEq>},
    {"!=", t_compare<CompareOp::kNe>},
    {"ne", t_compare<CompareOp::kNe>},
    {"<", t_compare<CompareOp::kLt>},
    {"lt", t_compare<CompareOp::kLt>},
    {"lessthan", t_compare<CompareOp::kLt>},
    {"<=", t_compare<CompareOp::kLe>},
    {"le", t_compare<CompareOp::kLe>},
    {">", t_compare<CompareOp::kGt>},
    {"gt", t_compare<CompareOp::kGt>},
    {"greaterthan", t_compare<CompareOp::kGt>},
    {">=", t_compare<CompareOp::kGe>},
    {"ge", t_compare<CompareOp::kGe>},
    {"filter", t_filter},
    {"test", t_test},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const TestEntry& e : kTests) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

bool is_jinja_test_name(std::string_view name) { return find_test(name) != nullptr; }

}  // namespace dsinfer::jinja
