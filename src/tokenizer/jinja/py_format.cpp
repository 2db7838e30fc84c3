#include "tokenizer/jinja/py_format.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  if (f == 0.0) return std::signbit(f) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then laid out by CPython's rules (float_repr_style
  // 'short'): positional when -4 < decpt <= 16, otherwise d.ddde+XX.
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string sci(buf, result.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int decpt = exponent + 1;
  std::string out = sign;
  if (decpt > -4 && decpt <= 16) {
    const int n = static_cast<int>(digits.size());
    if (decpt <= 0) {
      out += "0." + std::string(-decpt, '0') + digits;
    } else if (decpt >= n) {
      out += digits + std::string(decpt - n, '0') + ".0";
    } else {
      out += digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out += exp_buf;
  return out;
}

std::string repr_string(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t cp : decode_utf8(text)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (is_py_printable(cp)) {
      append_utf8(out, cp);
    } else {
      char buf[16];
      if (cp < 0x100) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(cp));
      } else if (cp < 0x10000) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(cp));
      }
      out += buf;
    }
  }
  out.push_back(quote);
  return out;
}

namespace {

void append_items_repr(std::string& out, const std::vector<Value>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += py_repr(items[i]);
  }
}

std::string dict_repr(const DictData& d) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : d.entries) {
    if (!first) out += ", ";
    first = false;
    out += py_repr(key);
    out += ": ";
    out += py_repr(value);
  }
  out += "}";
  return out;
}

}  // namespace

std::string py_repr(const Value& v) {
  switch (v.kind()) {
    case Kind::kString:
      return v.is_markup() ? "Markup(" + repr_string(v.as_string()) + ")" : repr_string(v.as_string());
    case Kind::kList: {
      std::string out;
      switch (v.flavor()) {
        case SeqFlavor::kDictKeys: out = "dict_keys(["; break;
        case SeqFlavor::kDictValues: out = "dict_values(["; break;
        case SeqFlavor::kDictItems: out = "dict_items(["; break;
        case SeqFlavor::kIterator: return "<generator object>";  // CPython adds an address
        default: out = "["; break;
      }
      append_items_repr(out, v.items());
      out += v.flavor() == SeqFlavor::kPlain ? "]" : "])";
      return out;
    }
    case Kind::kTuple: {
      std::string out = "(";
      append_items_repr(out, v.items());
      if (v.items().size() == 1) out += ",";
      out += ")";
      return out;
    }
    case Kind::kUndefined:
      return "Undefined";
    default:
      return py_str(v);
  }
}

std::string py_str(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined: return "";
    case Kind::kNone: return "None";
    case Kind::kBool: return v.as_bool() ? "True" : "False";
    case Kind::kInt: return std::to_string(v.as_int());
    case Kind::kFloat: return float_repr(v.as_double());
    case Kind::kString: return v.as_string();
    case Kind::kList:
    case Kind::kTuple: return py_repr(v);
    case Kind::kDict: return dict_repr(v.dict_data());
    case Kind::kNamespace: return "<Namespace " + dict_repr(v.namespace_data()) + ">";
    case Kind::kLoop: {
      const LoopInfo& loop = v.loop_info();
      return "<LoopContext " + std::to_string(loop.index0 + 1) + "/" + std::to_string(loop.length) + ">";
    }
    case Kind::kCallable: return "<built-in function " + v.callable_data().name + ">";
  }
  return "";
}

}  // namespace dsinfer::jinja
