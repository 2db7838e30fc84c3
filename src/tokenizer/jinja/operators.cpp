#include "tokenizer/jinja/operators.h"

#include <cmath>
#include <limits>

#include "tokenizer/jinja/access.h"
#include "tokenizer/jinja/percent_format.h"
#include "tokenizer/jinja/py_format.h"
#include "tokenizer/jinja/renderer.h"

namespace dsinfer::jinja {
namespace {

const char* op_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSub: return "-";
    case BinaryOp::kMul: return "*";
    case BinaryOp::kDiv: return "/";
    case BinaryOp::kFloorDiv: return "//";
    case BinaryOp::kMod: return "%";
    case BinaryOp::kPow: return "**";
  }
  return "?";
}

Status unsupported(BinaryOp op, const Value& a, const Value& b) {
  return error("unsupported operand type(s) for {}: '{}' and '{}'", op_symbol(op), type_name(a), type_name(b));
}

Status overflow() { return error("integer result out of range (dsinfer keeps template integers in 64 bits)"); }

// Python's floor division and modulo for ints (results take the divisor's sign).
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

double float_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  if (r == 0) r = std::copysign(0.0, b);
  return r;
}

Result<Value> numeric(BinaryOp op, const Value& a, const Value& b) {
  const bool ints = !a.is_float() && !b.is_float();
  if (ints) {
    const int64_t x = a.as_int(), y = b.as_int();
    int64_t r = 0;
    switch (op) {
      case BinaryOp::kAdd:
        if (__builtin_add_overflow(x, y, &r)) return overflow();
        return Value::integer(r);
      case BinaryOp::kSub:
        if (__builtin_sub_overflow(x, y, &r)) return overflow();
        return Value::integer(r);
      case BinaryOp::kMul:
        if (__builtin_mul_overflow(x, y, &r)) return overflow();
        return Value::integer(r);
      case BinaryOp::kDiv:
        if (y == 0) return error("division by zero");
        return Value::number(static_cast<double>(x) / static_cast<double>(y));
      case BinaryOp::kFloorDiv:
        if (y == 0) return error("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) return overflow();
        return Value::integer(floor_div(x, y));
      case BinaryOp::kMod:
        if (y == 0) return error("integer division or modulo by zero");
        if (y == -1) return Value::integer(0);
        return Value::integer(floor_mod(x, y));
      case BinaryOp::kPow: {
        if (y < 0) return Value::number(std::pow(static_cast<double>(x), static_cast<double>(y)));
        int64_t result = 1, base = x, e = y;
        while (e > 0) {
          if (e & 1) {
            if (__builtin_mul_overflow(result, base, &result)) return overflow();
          }
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) return overflow();
        }
        return Value::integer(result);
      }
    }
  }
  const double x = a.as_double(), y = b.as_double();
  switch (op) {
    case BinaryOp::kAdd: return Value::number(x + y);
    case BinaryOp::kSub: return Value::number(x - y);
    case BinaryOp::kMul: return Value::number(x * y);
    case BinaryOp::kDiv:
      if (y == 0) return error("float division by zero");
      return Value::number(x / y);
    case BinaryOp::kFloorDiv:
      if (y == 0) return error("float floor division by zero");
      return Value::number(std::floor(x / y));
    case BinaryOp::kMod:
      if (y == 0) return error("float modulo");
      return Value::number(float_mod(x, y));
    case BinaryOp::kPow: {
      if (x == 0 && y < 0) return error("0.0 cannot be raised to a negative power");
      const double r = std::pow(x, y);
      if (std::isinf(r) && !std::isinf(x)) return error("numerical result out of range");
      return Value::number(r);
    }
  }
  return unsupported(op, a, b);
}

// markupsafe.escape of a str, for Markup + str.
std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

Result<Value> repeat(const Value& seq, int64_t times, Renderer& renderer) {
  if (times <= 0) {
    if (seq.is_string()) return Value::string("", seq.is_markup());
    return seq.is_tuple() ? Value::tuple({}) : Value::list({});
  }
  if (seq.is_string()) {
    const size_t size = seq.as_string().size();
    if (size != 0 && static_cast<uint64_t>(times) > renderer.limits().max_output_bytes / size)
      return renderer.check_string_size(renderer.limits().max_output_bytes + 1);
    std::string out;
    out.reserve(size * times);
    for (int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value::string(std::move(out), seq.is_markup());
  }
  const auto& items = seq.items();
  if (!items.empty() && static_cast<uint64_t>(times) > renderer.limits().max_items / items.size())
    return renderer.check_items(renderer.limits().max_items + 1);
  std::vector<Value> out;
  out.reserve(items.size() * times);
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace

Result<Value> binary_op(BinaryOp op, const Value& a, const Value& b, Renderer& renderer) {
  if (op == BinaryOp::kMod && a.is_string()) {  // str % x formats, even when x is Undefined
    DSINFER_ASSIGN_OR_RETURN(std::string text, percent_format(a.as_string(), b));
    DSINFER_RETURN_IF_ERROR(renderer.check_string_size(text.size()));
    return Value::string(std::move(text));
  }
  if (a.is_undefined()) return Status::error(a.undefined_message());
  if (b.is_undefined()) return Status::error(b.undefined_message());
  if (a.is_number() && b.is_number()) return numeric(op, a, b);
  if (op == BinaryOp::kAdd) {
    if (a.is_string() && b.is_string()) {
      // Markup + str escapes the str (and str + Markup calls Markup.__radd__).
      const bool markup = a.is_markup() || b.is_markup();
      std::string left = (markup && !a.is_markup()) ? html_escape(a.as_string()) : a.as_string();
      const std::string& right_raw = b.as_string();
      DSINFER_RETURN_IF_ERROR(renderer.check_string_size(left.size() + right_raw.size()));
      if (markup && !b.is_markup()) left += html_escape(right_raw);
      else left += right_raw;
      return Value::string(std::move(left), markup);
    }
    if ((a.is_list() && b.is_list() && a.is_plain_sequence() && b.is_plain_sequence()) || (a.is_tuple() && b.is_tuple())) {
      DSINFER_RETURN_IF_ERROR(renderer.check_items(a.items().size() + b.items().size()));
      std::vector<Value> items = a.items();
      items.insert(items.end(), b.items().begin(), b.items().end());
      return a.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    if (a.is_string()) return error("can only concatenate str (not \"{}\") to str", type_name(b));
    if (a.is_list()) return error("can only concatenate list (not \"{}\") to list", type_name(b));
  }
  if (op == BinaryOp::kMul) {
    if ((a.is_string() || a.is_plain_sequence()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int(), renderer);
    if ((b.is_string() || b.is_plain_sequence()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int(), renderer);
  }
  return unsupported(op, a, b);
}

Result<Value> negate(const Value& v, bool minus) {
  if (v.is_undefined()) return Status::error(v.undefined_message());
  if (v.is_float()) return Value::number(minus ? -v.as_double() : v.as_double());
  if (v.is_int() || v.is_bool()) {
    if (minus && v.as_int() == INT64_MIN) return overflow();
    return Value::integer(minus ? -v.as_int() : v.as_int());
  }
  return error("bad operand type for unary {}: '{}'", minus ? "-" : "+", type_name(v));
}

Result<int> order(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    const double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());  // UTF-8 byte order is code-point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if ((a.is_list() && b.is_list() && a.is_plain_sequence() && b.is_plain_sequence()) ||
      (a.is_tuple() && b.is_tuple())) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (py_equal(x[i], y[i])) continue;
      return order(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  if (a.is_undefined()) return Status::error(a.undefined_message());
  if (b.is_undefined()) return Status::error(b.undefined_message());
  return error("'<' not supported between instances of '{}' and '{}'", type_name(a), type_name(b));
}

Result<bool> contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::kString:
      if (!item.is_string())
        return error("'in <string>' requires string as left operand, not {}", type_name(item));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::kList:
    case Kind::kTuple:
      if (container.is_list() && !container.deferred_error().empty()) return Status::error(container.deferred_error());
      for (const Value& v : container.items()) {
        if (py_equal(v, item)) return true;
      }
      return false;
    case Kind::kDict:
      return container.dict_data().find(item) != nullptr;
    case Kind::kUndefined:
      return false;  // Undefined iterates as empty
    default:
      return error("argument of type '{}' is not iterable", type_name(container));
  }
}

Result<bool> compare(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::kEq: return py_equal(a, b);
    case CompareOp::kNe: return !py_equal(a, b);
    case CompareOp::kIn: return contains(b, a);
    case CompareOp::kNotIn: {
      DSINFER_ASSIGN_OR_RETURN(bool in, contains(b, a));
      return !in;
    }
    default: break;
  }
  auto ordered = order(a, b);
  if (!ordered.is_ok()) {
    if (a.is_undefined() || b.is_undefined()) return ordered.status();
    const char* sym = op == CompareOp::kLt ? "<" : op == CompareOp::kLe ? "<=" : op == CompareOp::kGt ? ">" : ">=";
    return error("'{}' not supported between instances of '{}' and '{}'", sym, type_name(a), type_name(b));
  }
  const int c = *ordered;
  // NaN compares false every way; order() reports it as equal, so recheck floats.
  if (a.is_number() && b.is_number() && (std::isnan(a.as_double()) || std::isnan(b.as_double()))) return false;
  switch (op) {
    case CompareOp::kLt: return c < 0;
    case CompareOp::kLe: return c <= 0;
    case CompareOp::kGt: return c > 0;
    case CompareOp::kGe: return c >= 0;
    default: return false;
  }
}

}  // namespace dsinfer::jinja
