// The built-in filters (jinja2/filters.py) plus transformers' |tojson, which
// is json.dumps with ensure_ascii=False instead of Jinja's HTML-safe version.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tokenizer/jinja/access.h"
#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/json_io.h"
#include "tokenizer/jinja/methods.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/percent_format.h"
#include "tokenizer/jinja/py_format.h"
#include "tokenizer/jinja/renderer.h"
#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {
namespace {

// str(x) that leaves Markup as Markup (jinja2's soft_str).
std::string soft_str(const Value& v) { return py_str(v); }

// jinja2's make_attrgetter: "a.b.0" walks items/attributes; missing -> default.
Result<Value> get_attribute_path(const Value& item, const Value& attribute, const std::optional<Value>& fallback) {
  Value current = item;
  std::vector<Value> parts;
  if (attribute.is_string()) {
    const std::string& path = attribute.as_string();
    size_t start = 0;
    while (true) {
      const size_t dot = path.find('.', start);
      std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (numeric && part.size() < 18) parts.push_back(Value::integer(std::stoll(part)));
      else parts.push_back(Value::string(std::move(part)));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  } else {
    parts.push_back(attribute);
  }
  for (const Value& part : parts) {
    if (current.is_undefined()) return Status::error(current.undefined_message());
    current = get_item(current, part);
  }
  if (current.is_undefined() && fallback) return *fallback;
  return current;
}

// Sort key with case_sensitive=False lower-casing strings, as jinja2's ignore_case.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(str_lower(v.as_string()));
  return v;
}

// Sorts values by key; fails if keys are not mutually orderable.
Status stable_sort_by(std::vector<std::pair<Value, Value>>& keyed, bool reverse) {
  Status status;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    if (!status.is_ok()) return false;
    auto c = reverse ? order(b.first, a.first) : order(a.first, b.first);
    if (!c.is_ok()) {
      status = c.status();
      return false;
    }
    return *c < 0;
  });
  return status;
}

Result<Value> f_default(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "default", {"default_value", "boolean"}));
  const Value fallback = a[0] ? *a[0] : Value::string("");
  if (v.is_undefined() || (bool_arg(a[1], false) && !truthy(v))) return fallback;
  return v;
}

Result<Value> f_length(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "length", {}).status());
  DSINFER_ASSIGN_OR_RETURN(int64_t n, py_len(v));
  return Value::integer(n);
}

Result<Value> f_string(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "string", {}).status());
  if (v.is_string()) return v;
  return Value::string(soft_str(v));
}

Result<Value> f_trim(const Value& v, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "trim", {"chars"}));
  CallArgs strip_args;
  if (a[0]) strip_args.positional.push_back(*a[0]);
  auto strip = find_method(Value::string(soft_str(v)), "strip");
  return renderer.call(*strip, strip_args);
}

Result<Value> f_join(const Value& v, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "join", {"d", "attribute"}));
  const std::string sep = a[0] ? soft_str(*a[0]) : "";
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    Value item = items[i];
    if (a[1] && !a[1]->is_none()) {
      DSINFER_ASSIGN_OR_RETURN(item, get_attribute_path(item, *a[1], std::nullopt));
    }
    if (i) out += sep;
    out += soft_str(item);
    DSINFER_RETURN_IF_ERROR(renderer.check_string_size(out.size()));
  }
  return Value::string(std::move(out));
}

Result<Value> f_first(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "first", {}).status());
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Result<Value> f_last(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "last", {}).status());
  if (v.is_iterator()) return error("'generator' object is not reversible");
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Result<Value> f_list(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "list", {}).status());
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  return Value::list(std::move(items));
}

Result<Value> f_items_eager(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "items", {}).status());
  if (v.is_undefined()) return Value::list({}, SeqFlavor::kIterator);
  if (!v.is_dict()) return error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.dict_data().entries) out.push_back(Value::tuple({k, val}));
  return Value::list(std::move(out), SeqFlavor::kIterator);
}

Result<Value> f_lower(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "lower", {}).status());
  return Value::string(str_lower(soft_str(v)));
}

Result<Value> f_upper(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "upper", {}).status());
  return Value::string(str_upper(soft_str(v)));
}

Result<Value> f_capitalize(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "capitalize", {}).status());
  return Value::string(py_capitalize(soft_str(v)));
}

// jinja2's do_title: capitalises after runs of [-\s({[<], not Python's str.title().
Result<Value> f_title(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "title", {}).status());
  const std::u32string cps = decode_utf8(soft_str(v));
  std::string out;
  bool word_start = true;
  for (char32_t cp : cps) {
    const bool separator = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_py_space(cp);
    if (separator) {
      append_utf8(out, cp);
      word_start = true;
    } else if (word_start) {
      if (cp == 0xDF) out += "Ss";
      else append_utf8(out, to_upper(cp));
      word_start = false;
    } else {
      append_utf8(out, to_lower(cp));
    }
  }
  return Value::string(std::move(out));
}

Result<Value> f_replace(const Value& v, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "replace", {"old", "new", "count"}));
  if (!a[0] || !a[1]) return error("replace() missing required arguments 'old' and 'new'");
  CallArgs call;
  call.positional = {Value::string(soft_str(*a[0])), Value::string(soft_str(*a[1]))};
  if (a[2] && !a[2]->is_none()) call.positional.push_back(*a[2]);
  auto method = find_method(Value::string(soft_str(v)), "replace");
  return renderer.call(*method, call);
}

Result<Value> f_safe(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "safe", {}).status());
  return Value::string(soft_str(v), true);
}

Result<Value> f_escape(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "escape", {}).status());
  if (v.is_markup()) return v;
  std::string out;
  for (char c : soft_str(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return Value::string(std::move(out), true);
}

Result<Value> f_tojson(const Value& v, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a,
                           bind_args(args, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonDumpOptions options;
  options.ensure_ascii = bool_arg(a[0], false);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      options.indent = a[1]->as_string();
    } else if (a[1]->is_int() || a[1]->is_bool()) {
      options.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(a[1]->as_int(), 0, 1024)), ' ');
    } else {
      return error("tojson(): indent must be an int or a str");
    }
    options.item_separator = ",";
  }
  if (a[2] && !a[2]->is_none()) {
    if (!a[2]->is_sequence_like() || a[2]->items().size() != 2 || !a[2]->items()[0].is_string() ||
        !a[2]->items()[1].is_string())
      return error("tojson(): separators must be a pair of strings");
    options.item_separator = a[2]->items()[0].as_string();
    options.key_separator = a[2]->items()[1].as_string();
  }
  options.sort_keys = bool_arg(a[3], false);
  DSINFER_ASSIGN_OR_RETURN(std::string text, json_dumps(v, options));
  DSINFER_RETURN_IF_ERROR(renderer.check_string_size(text.size()));
  return Value::string(std::move(text));
}

Result<Value> f_abs(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "abs", {}).status());
  if (v.is_undefined()) return Status::error(v.undefined_message());
  if (v.is_float()) return Value::number(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) return error("integer result out of range");
    return Value::integer(std::llabs(v.as_int()));
  }
  return error("bad operand type for abs(): '{}'", type_name(v));
}

// float(x) for a str, with Python's accepted spellings; nullopt if invalid.
std::optional<double> parse_float(const std::string& text) {
  std::string s;
  for (char32_t cp : decode_utf8(text)) {
    if (!is_py_space(cp)) append_utf8(s, cp);
    else if (!s.empty()) s.push_back(' ');
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  std::string cleaned;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return std::nullopt;
      continue;
    }
    cleaned.push_back(s[i]);
  }
  if (cleaned.empty()) return std::nullopt;
  std::string lower = str_lower(cleaned);
  std::string body = lower;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body = body.substr(1);
  if (body == "inf" || body == "infinity" || body == "nan") {
    double r = body == "nan" ? NAN : INFINITY;
    return lower[0] == '-' ? -r : r;
  }
  for (char c : body) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' || c == '-')) return std::nullopt;
  }
  char* end = nullptr;
  const double r = std::strtod(cleaned.c_str(), &end);
  if (end != cleaned.c_str() + cleaned.size()) return std::nullopt;
  return r;
}

Result<Value> f_int(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "int", {"default", "base"}));
  const Value fallback = a[0] ? *a[0] : Value::integer(0);
  DSINFER_ASSIGN_OR_RETURN(int64_t base, int_arg(a[1], "int", "base", 10));
  if (v.is_undefined()) return Status::error(v.undefined_message());  // int(Undefined) raises
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    const double f = v.as_double();
    if (std::isnan(f) || std::isinf(f) || std::fabs(f) > 9.2e18) return fallback;
    return Value::integer(static_cast<int64_t>(f));
  }
  if (v.is_string()) {
    std::string s;
    for (char c : v.as_string()) {
      if (c != '_') s.push_back(c);
    }
    const size_t b = s.find_first_not_of(" \t\n\r\f\v");
    const size_t e = s.find_last_not_of(" \t\n\r\f\v");
    if (b != std::string::npos) {
      s = s.substr(b, e - b + 1);
      errno = 0;
      char* end = nullptr;
      const long long r = std::strtoll(s.c_str(), &end, static_cast<int>(base));
      if (end == s.c_str() + s.size() && errno == 0 && base >= 2 && base <= 36) return Value::integer(r);
    }
    if (auto f = parse_float(v.as_string())) {
      if (std::isnan(*f) || std::isinf(*f) || std::fabs(*f) > 9.2e18) return fallback;
      return Value::integer(static_cast<int64_t>(*f));
    }
  }
  return fallback;
}

Result<Value> f_float(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "float", {"default"}));
  const Value fallback = a[0] ? *a[0] : Value::number(0.0);
  if (v.is_undefined()) return Status::error(v.undefined_message());  // float(Undefined) raises
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    if (auto f = parse_float(v.as_string())) return Value::number(*f);
  }
  return fallback;
}

// Python's round(x, ndigits): correctly rounded, ties to even.
double py_round(double x, int64_t digits) {
  if (std::isnan(x) || std::isinf(x)) return x;
  if (digits >= 0) {
    if (digits > 300) return x;
    char buf[1024];  // %.300f of the largest double needs about 610 bytes
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(digits), x);
    return std::strtod(buf, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(x / scale) * scale;
}

Result<Value> f_round(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "round", {"precision", "method"}));
  DSINFER_ASSIGN_OR_RETURN(int64_t precision, int_arg(a[0], "round", "precision", 0));
  DSINFER_ASSIGN_OR_RETURN(std::string method, string_arg(a[1], "round", "method", "common"));
  if (method != "common" && method != "ceil" && method != "floor")
    return error("method must be 'common', 'ceil' or 'floor'");
  if (v.is_undefined()) return Status::error(v.undefined_message());
  if (!v.is_number()) return error("type {} doesn't define __round__ method", type_name(v));
  if (method == "common") {
    if (!v.is_float()) return Value::integer(v.as_int());  // round(int, n) stays an int
    return Value::number(py_round(v.as_double(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Result<Value> f_reverse(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "reverse", {}).status());
  if (v.is_string()) {
    std::u32string cps = decode_utf8(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(encode_utf8(cps));
  }
  if (v.is_iterator()) return error("'generator' object is not reversible");
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items), SeqFlavor::kIterator);  // reversed(): an iterator
}

Result<Value> f_sort(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "sort", {"reverse", "case_sensitive", "attribute"}));
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  const bool case_sensitive = bool_arg(a[1], false);
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& item : items) {
    Value key = item;
    if (a[2] && !a[2]->is_none()) {
      DSINFER_ASSIGN_OR_RETURN(key, get_attribute_path(item, *a[2], std::nullopt));
    }
    keyed.emplace_back(sort_key(key, case_sensitive), std::move(item));
  }
  DSINFER_RETURN_IF_ERROR(stable_sort_by(keyed, bool_arg(a[0], false)));
  std::vector<Value> out;
  for (auto& [key, item] : keyed) out.push_back(std::move(item));
  return Value::list(std::move(out));
}

Result<Value> f_unique_eager(const Value& v, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "unique", {"case_sensitive", "attribute"}));
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  const bool case_sensitive = bool_arg(a[0], false);
  std::vector<Value> seen, out;
  for (const Value& item : items) {
    Value key = item;
    if (a[1] && !a[1]->is_none()) {
      DSINFER_ASSIGN_OR_RETURN(key, get_attribute_path(item, *a[1], std::nullopt));
    }
    key = sort_key(key, case_sensitive);
    DSINFER_RETURN_IF_ERROR(renderer.tick(seen.size() / 64 + 1));
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return py_equal(s, key); })) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::list(std::move(out), SeqFlavor::kIterator);
}

Result<Value> f_dictsort(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "dictsort", {"case_sensitive", "by", "reverse"}));
  if (!v.is_dict()) return error("dictsort(): expected a mapping, got {}", type_name(v));
  DSINFER_ASSIGN_OR_RETURN(std::string by, string_arg(a[1], "dictsort", "by", "key"));
  if (by != "key" && by != "value") return error("You can only sort by either \"key\" or \"value\"");
  const bool case_sensitive = bool_arg(a[0], false);
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& [k, val] : v.dict_data().entries)
    keyed.emplace_back(sort_key(by == "key" ? k : val, case_sensitive), Value::tuple({k, val}));
  DSINFER_RETURN_IF_ERROR(stable_sort_by(keyed, bool_arg(a[2], false)));
  std::vector<Value> out;
  for (auto& [key, item] : keyed) out.push_back(std::move(item));
  return Value::list(std::move(out));
}

Result<Value> f_map_eager(const Value& v, const CallArgs& args, Renderer& renderer) {
  if (!truthy(v)) return Value::list({}, SeqFlavor::kIterator);  // jinja2: `if value:` before iterating
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::vector<Value> out;
  if (args.positional.empty()) {  // map(attribute='x', default=...)
    std::optional<Value> attribute, fallback;
    for (const auto& [key, value] : args.keyword) {
      if (key == "attribute") attribute = value;
      else if (key == "default") fallback = value;
      else return error("map(): unexpected keyword argument '{}'", key);
    }
    if (!attribute) return error("map requires a filter argument");
    for (const Value& item : items) {
      DSINFER_ASSIGN_OR_RETURN(Value mapped, get_attribute_path(item, *attribute, fallback));
      out.push_back(std::move(mapped));
    }
    return Value::list(std::move(out), SeqFlavor::kIterator);
  }
  if (!args.positional[0].is_string()) return error("map(): the filter name must be a string");
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items) {
    DSINFER_ASSIGN_OR_RETURN(Value mapped, renderer.call_filter(args.positional[0].as_string(), item, rest));
    out.push_back(std::move(mapped));
  }
  return Value::list(std::move(out), SeqFlavor::kIterator);
}

// select/reject/selectattr/rejectattr share this: `attr` picks the attribute
// to test; with no test name the value's truthiness decides.
Result<Value> select_impl(const Value& v, const CallArgs& args, Renderer& renderer, bool by_attribute, bool keep) {
  if (!truthy(v)) return Value::list({}, SeqFlavor::kIterator);  // jinja2: `if value:` before iterating
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  size_t next = 0;
  std::optional<Value> attribute;
  if (by_attribute) {
    if (args.positional.empty()) return error("selectattr/rejectattr need an attribute name");
    attribute = args.positional[next++];
  }
  std::optional<std::string> test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) return error("the test name must be a string");
    test = args.positional[next++].as_string();
  }
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<long>(next), args.positional.end());
  test_args.keyword = args.keyword;
  std::vector<Value> out;
  for (const Value& item : items) {
    Value subject = item;
    if (attribute) {
      DSINFER_ASSIGN_OR_RETURN(subject, get_attribute_path(item, *attribute, std::nullopt));
    }
    bool passed;
    if (test) {
      DSINFER_ASSIGN_OR_RETURN(passed, renderer.call_test(*test, subject, test_args));
    } else {
      passed = truthy(subject);
    }
    if (passed == keep) out.push_back(item);
  }
  return Value::list(std::move(out), SeqFlavor::kIterator);
}

// Jinja2 runs these filters as generators: any error surfaces only when the
// result is iterated, so it is deferred into the returned iterator.
Value lazily(Result<Value> result) {
  if (result.is_ok()) return std::move(result).value();
  return Value::failed_iterator(result.status().message());
}

Result<Value> f_select(const Value& v, const CallArgs& a, Renderer& r) { return lazily(select_impl(v, a, r, false, true)); }
Result<Value> f_reject(const Value& v, const CallArgs& a, Renderer& r) { return lazily(select_impl(v, a, r, false, false)); }
Result<Value> f_selectattr(const Value& v, const CallArgs& a, Renderer& r) { return lazily(select_impl(v, a, r, true, true)); }
Result<Value> f_rejectattr(const Value& v, const CallArgs& a, Renderer& r) { return lazily(select_impl(v, a, r, true, false)); }
Result<Value> f_map(const Value& v, const CallArgs& a, Renderer& r) { return lazily(f_map_eager(v, a, r)); }
Result<Value> f_unique(const Value& v, const CallArgs& a, Renderer& r) { return lazily(f_unique_eager(v, a, r)); }
Result<Value> f_items(const Value& v, const CallArgs& a, Renderer& r) { return lazily(f_items_eager(v, a, r)); }

Result<Value> f_sum(const Value& v, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "sum", {"attribute", "start"}));
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  Value total = a[1] ? *a[1] : Value::integer(0);
  for (const Value& item : items) {
    Value x = item;
    if (a[0] && !a[0]->is_none()) {
      DSINFER_ASSIGN_OR_RETURN(x, get_attribute_path(item, *a[0], std::nullopt));
    }
    DSINFER_ASSIGN_OR_RETURN(total, binary_op(BinaryOp::kAdd, total, x, renderer));
  }
  return total;
}

Result<Value> min_max(const Value& v, const CallArgs& args, bool want_max) {
  const char* name = want_max ? "max" : "min";
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"case_sensitive", "attribute"}));
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  const bool case_sensitive = bool_arg(a[0], false);
  std::optional<Value> best, best_key;
  for (const Value& item : items) {
    Value key = item;
    if (a[1] && !a[1]->is_none()) {
      DSINFER_ASSIGN_OR_RETURN(key, get_attribute_path(item, *a[1], std::nullopt));
    }
    key = sort_key(key, case_sensitive);
    if (!best) {
      best = item;
      best_key = key;
      continue;
    }
    DSINFER_ASSIGN_OR_RETURN(int c, order(key, *best_key));
    if (want_max ? c > 0 : c < 0) {
      best = item;
      best_key = key;
    }
  }
  return *best;
}

Result<Value> f_max(const Value& v, const CallArgs& a, Renderer&) { return min_max(v, a, true); }
Result<Value> f_min(const Value& v, const CallArgs& a, Renderer&) { return min_max(v, a, false); }

Result<Value> f_indent(const Value& v, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "indent", {"width", "first", "blank"}));
  std::string indentation;
  if (a[0] && a[0]->is_string()) {
    indentation = a[0]->as_string();
  } else {
    DSINFER_ASSIGN_OR_RETURN(int64_t width, int_arg(a[0], "indent", "width", 4));
    indentation = std::string(static_cast<size_t>(std::clamp<int64_t>(width, 0, 1 << 16)), ' ');
  }
  const bool first = bool_arg(a[1], false), blank = bool_arg(a[2], false);
  if (v.is_undefined()) return Status::error(v.undefined_message());
  if (!v.is_string()) return error("unsupported operand type(s) for +=: '{}' and 'str'", type_name(v));
  std::string text = soft_str(v);
  text += '\n';  // jinja2 appends a newline before splitting (intentionally)
  std::vector<std::string> lines = split_lines(text);
  std::string out;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) {
        out += '\n';
        out += indentation;
      }
      out += lines[i];
    }
  } else {
    out = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      out += "\n";
      if (!lines[i].empty()) out += indentation;
      out += lines[i];
    }
  }
  if (first) out.insert(0, indentation);
  DSINFER_RETURN_IF_ERROR(renderer.check_string_size(out.size()));
  return Value::string(std::move(out));
}

Result<Value> f_center(const Value& v, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "center", {"width"}));
  CallArgs call;
  call.positional.push_back(a[0] ? *a[0] : Value::integer(80));
  return renderer.call(*find_method(Value::string(soft_str(v)), "center"), call);
}

Result<Value> f_wordcount(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(bind_args(args, "wordcount", {}).status());
  // len(re.findall(r"\w+", s))
  int64_t count = 0;
  bool in_word = false;
  for (char32_t cp : decode_utf8(soft_str(v))) {
    const bool word = is_py_alpha(cp) || is_py_digit(cp) || cp == '_';
    if (word && !in_word) ++count;
    in_word = word;
  }
  return Value::integer(count);
}

Result<Value> f_attr(const Value& v, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "attr", {"name"}));
  DSINFER_ASSIGN_OR_RETURN(std::string name, string_arg(a[0], "attr", "name", ""));
  if (v.is_undefined()) return Status::error(v.undefined_message());
  if (v.is_dict()) {  // attr() is getattr only: dict keys are not attributes
    if (auto method = find_method(v, name)) return *method;
    return Value::undefined("'dict object' has no attribute '" + name + "'");
  }
  return get_attr(v, name);
}

// jinja2's do_format: `value % (kwargs or args)`.
Result<Value> f_format(const Value& v, const CallArgs& args, Renderer& renderer) {
  if (!args.positional.empty() && !args.keyword.empty())
    return error("can't handle positional and keyword arguments at the same time");
  Value operand;
  if (!args.keyword.empty()) {
    DictData data;
    for (const auto& [key, value] : args.keyword) data.set(Value::string(key), value);
    operand = Value::dict(std::move(data));
  } else {
    operand = Value::tuple(args.positional);
  }
  DSINFER_ASSIGN_OR_RETURN(std::string text, percent_format(soft_str(v), operand));
  DSINFER_RETURN_IF_ERROR(renderer.check_string_size(text.size()));
  return Value::string(std::move(text));
}

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

constexpr FilterEntry kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", f_unique},
    {"upper", f_upper},
    {"wordcount", f_wordcount},
};

constexpr std::string_view kOtherJinjaFilters[] = {
    "batch", "filesizeformat", "forceescape", "groupby", "pprint", "random", "slice",
    "striptags", "truncate", "urlencode", "urlize", "wordwrap", "xmlattr",
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const FilterEntry& e : kFilters) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

bool is_jinja_filter_name(std::string_view name) {
  return find_filter(name) != nullptr ||
         std::find(std::begin(kOtherJinjaFilters), std::end(kOtherJinjaFilters), name) != std::end(kOtherJinjaFilters);
}

}  // namespace dsinfer::jinja
