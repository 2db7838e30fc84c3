#include "tokenizer/jinja/percent_format.h"

#include <cmath>
#include <cstdio>

#include "tokenizer/jinja/py_format.h"
#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {
namespace {

struct Spec {
  bool left = false, plus = false, space = false, zero = false, alt = false;
  int width = 0;
  int precision = -1;
  char conversion = 0;
};

// Pads a formatted number or text to the spec's width.
std::string pad(std::string body, const Spec& spec, bool numeric) {
  const int len = static_cast<int>(count_code_points(body));
  if (len >= spec.width) return body;
  const size_t fill = static_cast<size_t>(spec.width - len);
  if (spec.left) return body + std::string(fill, ' ');
  if (spec.zero && numeric) {
    size_t sign = (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
    if (body.size() > sign + 1 && body[sign] == '0' && (body[sign + 1] == 'x' || body[sign + 1] == 'X' || body[sign + 1] == 'o'))
      sign += 2;
    return body.insert(sign, std::string(fill, '0'));
  }
  return std::string(fill, ' ') + body;
}

Result<std::string> format_int(const Value& v, const Spec& spec) {
  int64_t n;
  if (v.is_int() || v.is_bool()) {
    n = v.as_int();
  } else if (v.is_float() && (spec.conversion == 'd' || spec.conversion == 'i' || spec.conversion == 'u')) {
    const double f = v.as_double();
    if (std::isnan(f) || std::isinf(f) || std::fabs(f) > 9.2e18) return error("cannot convert float {} to integer", float_repr(f));
    n = static_cast<int64_t>(f);
  } else {
    return error("%{} format: {} is required, not {}", spec.conversion,
                 spec.conversion == 'd' || spec.conversion == 'i' || spec.conversion == 'u' ? "a real number" : "an integer",
                 type_name(v));
  }
  const bool negative = n < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  std::string digits;
  const int base = spec.conversion == 'x' || spec.conversion == 'X' ? 16 : spec.conversion == 'o' ? 8 : 10;
  const char* alphabet = spec.conversion == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits.insert(digits.begin(), alphabet[magnitude % base]);
    magnitude /= base;
  } while (magnitude);
  if (spec.precision > static_cast<int>(digits.size())) digits.insert(0, spec.precision - digits.size(), '0');
  if (spec.alt && base == 16) digits.insert(0, spec.conversion == 'X' ? "0X" : "0x");
  if (spec.alt && base == 8) digits.insert(0, "0o");
  const char* sign = negative ? "-" : spec.plus ? "+" : spec.space ? " " : "";
  return pad(sign + digits, spec, true);
}

Result<std::string> format_float(const Value& v, const Spec& spec) {
  if (!v.is_number()) return error("must be real number, not {}", type_name(v));
  const double f = v.as_double();
  std::string c_spec = "%";
  if (spec.plus) c_spec += '+';
  if (spec.space) c_spec += ' ';
  if (spec.alt) c_spec += '#';
  c_spec += "." + std::to_string(spec.precision < 0 ? 6 : std::min(spec.precision, 300));
  c_spec += spec.conversion == 'F' ? 'f' : spec.conversion;
  char buf[1024];
  std::snprintf(buf, sizeof(buf), c_spec.c_str(), f);
  return pad(buf, spec, std::isfinite(f));
}

Result<std::string> convert(const Value& v, const Spec& spec) {
  switch (spec.conversion) {
    case 's':
    case 'r':
    case 'a': {
      std::string text = spec.conversion == 's' ? py_str(v) : py_repr(v);
      if (spec.precision >= 0) {
        std::u32string cps = decode_utf8(text);
        if (cps.size() > static_cast<size_t>(spec.precision)) text = encode_utf8(cps.substr(0, spec.precision));
      }
      return pad(text, spec, false);
    }
    case 'd': case 'i': case 'u': case 'x': case 'X': case 'o':
      return format_int(v, spec);
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
      return format_float(v, spec);
    case 'c': {
      if (v.is_string() && count_code_points(v.as_string()) == 1) return pad(v.as_string(), spec, false);
      if (v.is_int() && v.as_int() >= 0 && v.as_int() <= 0x10FFFF) {
        std::string s;
        append_utf8(s, static_cast<char32_t>(v.as_int()));
        return pad(s, spec, false);
      }
      return error("%c requires an int or a unicode character");
    }
    default:
      return error("unsupported format character '{}'", spec.conversion);
  }
}

}  // namespace

Result<std::string> percent_format(const std::string& format, const Value& args) {
  std::vector<Value> positional;
  const DictData* mapping = nullptr;
  // Python skips the "not all arguments converted" check when the argument
  // supports subscripting (dict, list, Undefined): it might be a mapping.
  const bool mapping_like = args.is_dict() || (args.is_list() && args.flavor() == SeqFlavor::kPlain) || args.is_undefined();
  if (args.is_tuple()) positional = args.items();
  else if (args.is_dict()) mapping = &args.dict_data();
  else positional.push_back(args);
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) return error("incomplete format");
    const Value* value = nullptr;
    if (format[i] == '(') {
      if (!mapping) return error("format requires a mapping");
      const size_t close = format.find(')', i);
      if (close == std::string::npos) return error("incomplete format key");
      const Value* found = mapping->find(format.substr(i + 1, close - i - 1));
      if (!found) return error("KeyError: '{}'", format.substr(i + 1, close - i - 1));
      value = found;
      used_mapping = true;
      i = close + 1;
    }
    Spec spec;
    for (; i < format.size(); ++i) {
      const char c = format[i];
      if (c == '-') spec.left = true;
      else if (c == '+') spec.plus = true;
      else if (c == ' ') spec.space = true;
      else if (c == '0') spec.zero = true;
      else if (c == '#') spec.alt = true;
      else break;
    }
    while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) {
      spec.width = std::min(spec.width * 10 + (format[i++] - '0'), 1 << 20);
    }
    if (i < format.size() && format[i] == '.') {
      spec.precision = 0;
      ++i;
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) {
        spec.precision = std::min(spec.precision * 10 + (format[i++] - '0'), 1 << 20);
      }
    }
    if (i < format.size() && format[i] == '*') return error("'*' widths are not supported in % formatting");
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) return error("incomplete format");
    spec.conversion = format[i];
    if (spec.conversion == '%') {
      out.push_back('%');
      continue;
    }
    if (!value) {
      if (mapping) {
        value = &args;  // Python formats the whole dict for a bare %s
      } else {
        if (next >= positional.size()) return error("not enough arguments for format string");
        value = &positional[next++];
      }
    }
    DSINFER_ASSIGN_OR_RETURN(std::string piece, convert(*value, spec));
    out += piece;
  }
  if (!mapping && !mapping_like && next < positional.size())
    return error("not all arguments converted during string formatting");
  (void)used_mapping;
  return out;
}

}  // namespace dsinfer::jinja
