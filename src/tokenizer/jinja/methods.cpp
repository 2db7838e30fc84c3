#include "tokenizer/jinja/methods.h"

#include <algorithm>
#include <string_view>

#include "tokenizer/jinja/access.h"
#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/py_format.h"
#include "tokenizer/jinja/renderer.h"
#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {
namespace {

using Method = Result<Value> (*)(const Value& self, const CallArgs& args, Renderer& renderer);

// --- str ---------------------------------------------------------------------

std::vector<Value> to_values(std::vector<std::string> parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return out;
}

// str.split() without a separator: runs of whitespace, ends trimmed.
std::vector<std::string> split_whitespace(std::string_view text, int64_t maxsplit, bool from_right) {
  std::u32string cps = decode_utf8(text);
  if (from_right) std::reverse(cps.begin(), cps.end());
  std::vector<std::u32string> parts;
  size_t i = 0;
  const size_t n = cps.size();
  while (i < n) {
    while (i < n && is_py_space(cps[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.push_back(cps.substr(i));  // the remainder keeps its trailing whitespace
      break;
    }
    size_t j = i;
    while (j < n && !is_py_space(cps[j])) ++j;
    parts.push_back(cps.substr(i, j - i));
    i = j;
  }
  std::vector<std::string> out;
  for (auto& p : parts) {
    if (from_right) std::reverse(p.begin(), p.end());
    out.push_back(encode_utf8(p));
  }
  if (from_right) std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> split_on(std::string_view text, std::string_view sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> out;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      size_t found = text.find(sep, start);
      if (found == std::string_view::npos) break;
      out.emplace_back(text.substr(start, found - start));
      start = found + sep.size();
    }
    out.emplace_back(text.substr(start));
    return out;
  }
  size_t end = text.size();
  std::vector<std::string> reversed;
  while (maxsplit < 0 || static_cast<int64_t>(reversed.size()) < maxsplit) {
    if (end < sep.size()) break;
    size_t found = text.rfind(sep, end - sep.size());
    if (found == std::string_view::npos) break;
    reversed.emplace_back(text.substr(found + sep.size(), end - found - sep.size()));
    end = found;
  }
  reversed.emplace_back(text.substr(0, end));
  return std::vector<std::string>(reversed.rbegin(), reversed.rend());
}

Result<Value> split_impl(const Value& self, const CallArgs& args, bool from_right) {
  const char* name = from_right ? "str.rsplit" : "str.split";
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"sep", "maxsplit"}));
  DSINFER_ASSIGN_OR_RETURN(int64_t maxsplit, int_arg(a[1], name, "maxsplit", -1));
  if (!a[0] || a[0]->is_none()) return Value::list(to_values(split_whitespace(self.as_string(), maxsplit, from_right)));
  DSINFER_ASSIGN_OR_RETURN(std::string sep, string_arg(a[0], name, "sep", ""));
  if (sep.empty()) return error("empty separator");
  return Value::list(to_values(split_on(self.as_string(), sep, maxsplit, from_right)));
}

Result<Value> m_split(const Value& self, const CallArgs& args, Renderer&) { return split_impl(self, args, false); }
Result<Value> m_rsplit(const Value& self, const CallArgs& args, Renderer&) { return split_impl(self, args, true); }

Result<Value> strip_impl(const Value& self, const CallArgs& args, const char* name, bool left, bool right) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"chars"}));
  std::u32string cps = decode_utf8(self.as_string());
  std::u32string chars;
  const bool whitespace = !a[0] || a[0]->is_none();
  if (!whitespace) {
    DSINFER_ASSIGN_OR_RETURN(std::string c, string_arg(a[0], name, "chars", ""));
    chars = decode_utf8(c);
  }
  auto strip_this = [&](char32_t cp) {
    return whitespace ? is_py_space(cp) : chars.find(cp) != std::u32string::npos;
  };
  size_t begin = 0, end = cps.size();
  if (left) {
    while (begin < end && strip_this(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip_this(cps[end - 1])) --end;
  }
  return Value::string(encode_utf8(std::u32string_view(cps).substr(begin, end - begin)));
}

Result<Value> m_strip(const Value& s, const CallArgs& a, Renderer&) { return strip_impl(s, a, "str.strip", true, true); }
Result<Value> m_lstrip(const Value& s, const CallArgs& a, Renderer&) { return strip_impl(s, a, "str.lstrip", true, false); }
Result<Value> m_rstrip(const Value& s, const CallArgs& a, Renderer&) { return strip_impl(s, a, "str.rstrip", false, true); }

// Code-point window [start, end) of a str for startswith/find and friends.
Result<std::u32string> window(const std::u32string& cps, const std::optional<Value>& start_v,
                              const std::optional<Value>& end_v, const char* name, size_t& offset) {
  const int64_t n = static_cast<int64_t>(cps.size());
  DSINFER_ASSIGN_OR_RETURN(int64_t start, int_arg(start_v, name, "start", 0));
  DSINFER_ASSIGN_OR_RETURN(int64_t end, int_arg(end_v, name, "end", n));
  if (start < 0) start = std::max<int64_t>(start + n, 0);
  if (end < 0) end = std::max<int64_t>(end + n, 0);
  start = std::min(start, n);
  end = std::min(end, n);
  offset = static_cast<size_t>(start);
  if (end <= start) return std::u32string();
  return cps.substr(static_cast<size_t>(start), static_cast<size_t>(end - start));
}

Result<Value> affix_impl(const Value& self, const CallArgs& args, const char* name, bool prefix) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"affix", "start", "end"}));
  if (!a[0]) return error("{}() takes at least 1 argument (0 given)", name);
  std::vector<std::string> candidates;
  if (a[0]->is_string()) {
    candidates.push_back(a[0]->as_string());
  } else if (a[0]->is_tuple()) {
    for (const Value& v : a[0]->items()) {
      if (!v.is_string()) return error("tuple for {} must only contain str, not {}", name, type_name(v));
      candidates.push_back(v.as_string());
    }
  } else {
    return error("{} first arg must be str or a tuple of str, not {}", name, type_name(*a[0]));
  }
  size_t offset = 0;
  DSINFER_ASSIGN_OR_RETURN(std::u32string text, window(decode_utf8(self.as_string()), a[1], a[2], name, offset));
  const std::string hay = encode_utf8(text);
  for (const std::string& c : candidates) {
    if (c.size() > hay.size()) continue;
    if (prefix ? hay.compare(0, c.size(), c) == 0 : hay.compare(hay.size() - c.size(), c.size(), c) == 0)
      return Value::boolean(true);
  }
  return Value::boolean(false);
}

Result<Value> m_startswith(const Value& s, const CallArgs& a, Renderer&) { return affix_impl(s, a, "str.startswith", true); }
Result<Value> m_endswith(const Value& s, const CallArgs& a, Renderer&) { return affix_impl(s, a, "str.endswith", false); }

Result<Value> m_replace(const Value& self, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "str.replace", {"old", "new", "count"}));
  if (!a[0] || !a[1]) return error("str.replace() takes at least 2 arguments");
  DSINFER_ASSIGN_OR_RETURN(std::string old_s, string_arg(a[0], "str.replace", "old", ""));
  DSINFER_ASSIGN_OR_RETURN(std::string new_s, string_arg(a[1], "str.replace", "new", ""));
  DSINFER_ASSIGN_OR_RETURN(int64_t count, int_arg(a[2], "str.replace", "count", -1));
  const std::string& text = self.as_string();
  std::string out;
  int64_t done = 0;
  if (old_s.empty()) {  // inserts `new` between code points
    const std::u32string cps = decode_utf8(text);
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += new_s;
        ++done;
      }
      if (i < cps.size()) append_utf8(out, cps[i]);
      DSINFER_RETURN_IF_ERROR(renderer.check_string_size(out.size()));
    }
    return Value::string(std::move(out));
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    size_t found = text.find(old_s, start);
    if (found == std::string::npos) break;
    out.append(text, start, found - start);
    out += new_s;
    start = found + old_s.size();
    ++done;
    DSINFER_RETURN_IF_ERROR(renderer.check_string_size(out.size()));
  }
  out.append(text, start, std::string::npos);
  DSINFER_RETURN_IF_ERROR(renderer.check_string_size(out.size()));
  return Value::string(std::move(out));
}

Result<Value> no_args(const CallArgs& args, const char* name) {
  if (!args.positional.empty() || !args.keyword.empty()) return error("{}() takes no arguments", name);
  return Value();
}

Result<Value> m_upper(const Value& s, const CallArgs& a, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(a, "str.upper").status());
  return Value::string(str_upper(s.as_string()));
}

Result<Value> m_lower(const Value& s, const CallArgs& a, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(a, "str.lower").status());
  return Value::string(str_lower(s.as_string()));
}

}  // namespace

// Shared with the title/capitalize filters.
std::string py_title(std::string_view text) {
  std::string out;
  bool previous_cased = false;
  for (char32_t cp : decode_utf8(text)) {
    const bool cased = is_lower_cased(cp) || is_upper_cased(cp);
    if (cased) {
      if (previous_cased) {
        append_utf8(out, to_lower(cp));
      } else if (cp == 0xDF) {
        out += "Ss";
      } else {
        append_utf8(out, to_upper(cp));
      }
    } else {
      append_utf8(out, cp);
    }
    previous_cased = cased;
  }
  return out;
}

std::string py_capitalize(std::string_view text) {
  std::u32string cps = decode_utf8(text);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0) {
      if (cps[0] == 0xDF) out += "Ss";
      else append_utf8(out, to_upper(cps[0]));
    } else {
      append_utf8(out, to_lower(cps[i]));
    }
  }
  return out;
}

namespace {

Result<Value> m_title(const Value& s, const CallArgs& a, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(a, "str.title").status());
  return Value::string(py_title(s.as_string()));
}

Result<Value> m_capitalize(const Value& s, const CallArgs& a, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(a, "str.capitalize").status());
  return Value::string(py_capitalize(s.as_string()));
}

Result<Value> find_impl(const Value& self, const CallArgs& args, const char* name, bool from_right, bool raise) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"sub", "start", "end"}));
  if (!a[0]) return error("{}() takes at least 1 argument (0 given)", name);
  DSINFER_ASSIGN_OR_RETURN(std::string sub_s, string_arg(a[0], name, "sub", ""));
  size_t offset = 0;
  DSINFER_ASSIGN_OR_RETURN(std::u32string text, window(decode_utf8(self.as_string()), a[1], a[2], name, offset));
  const std::u32string sub = decode_utf8(sub_s);
  const size_t found = from_right ? text.rfind(sub) : text.find(sub);
  if (found == std::u32string::npos) {
    if (raise) return error("substring not found");
    return Value::integer(-1);
  }
  return Value::integer(static_cast<int64_t>(found + offset));
}

Result<Value> m_find(const Value& s, const CallArgs& a, Renderer&) { return find_impl(s, a, "str.find", false, false); }
Result<Value> m_rfind(const Value& s, const CallArgs& a, Renderer&) { return find_impl(s, a, "str.rfind", true, false); }
Result<Value> m_index(const Value& s, const CallArgs& a, Renderer&) { return find_impl(s, a, "str.index", false, true); }
Result<Value> m_rindex(const Value& s, const CallArgs& a, Renderer&) { return find_impl(s, a, "str.rindex", true, true); }

Result<Value> m_count(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "str.count", {"sub"}));
  DSINFER_ASSIGN_OR_RETURN(std::string sub, string_arg(a[0], "str.count", "sub", ""));
  const std::string& text = self.as_string();
  if (sub.empty()) return Value::integer(static_cast<int64_t>(count_code_points(text)) + 1);
  int64_t n = 0;
  for (size_t pos = text.find(sub); pos != std::string::npos; pos = text.find(sub, pos + sub.size())) ++n;
  return Value::integer(n);
}

Result<Value> m_join(const Value& self, const CallArgs& args, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "str.join", {"iterable"}));
  if (!a[0]) return error("str.join() takes exactly one argument (0 given)");
  DSINFER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(*a[0]));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string())
      return error("sequence item {}: expected str instance, {} found", i, type_name(items[i]));
    if (i) out += self.as_string();
    out += items[i].as_string();
    DSINFER_RETURN_IF_ERROR(renderer.check_string_size(out.size()));
  }
  return Value::string(std::move(out));
}

template <bool (*Pred)(char32_t)>
Result<Value> char_class(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(args, "str.is*").status());
  const std::u32string cps = decode_utf8(self.as_string());
  if (cps.empty()) return Value::boolean(false);
  return Value::boolean(std::all_of(cps.begin(), cps.end(), Pred));
}

bool alnum(char32_t cp) { return is_py_alpha(cp) || is_py_digit(cp); }

Result<Value> case_check(const Value& self, bool want_upper) {
  bool any_cased = false;
  for (char32_t cp : decode_utf8(self.as_string())) {
    if (is_upper_cased(cp)) {
      if (!want_upper) return Value::boolean(false);
      any_cased = true;
    } else if (is_lower_cased(cp)) {
      if (want_upper) return Value::boolean(false);
      any_cased = true;
    }
  }
  return Value::boolean(any_cased);
}

Result<Value> m_isupper(const Value& s, const CallArgs&, Renderer&) { return case_check(s, true); }
Result<Value> m_islower(const Value& s, const CallArgs&, Renderer&) { return case_check(s, false); }

Result<Value> m_splitlines(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "str.splitlines", {"keepends"}));
  if (bool_arg(a[0], false)) return error("str.splitlines(keepends=True) is not supported");
  return Value::list(to_values(split_lines(self.as_string())));
}

Result<Value> affix_remove(const Value& self, const CallArgs& args, const char* name, bool prefix) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"affix"}));
  DSINFER_ASSIGN_OR_RETURN(std::string affix, string_arg(a[0], name, "affix", ""));
  const std::string& text = self.as_string();
  if (affix.size() <= text.size()) {
    if (prefix && text.compare(0, affix.size(), affix) == 0) return Value::string(text.substr(affix.size()));
    if (!prefix && text.compare(text.size() - affix.size(), affix.size(), affix) == 0)
      return Value::string(text.substr(0, text.size() - affix.size()));
  }
  return Value::string(text);
}

Result<Value> m_removeprefix(const Value& s, const CallArgs& a, Renderer&) { return affix_remove(s, a, "str.removeprefix", true); }
Result<Value> m_removesuffix(const Value& s, const CallArgs& a, Renderer&) { return affix_remove(s, a, "str.removesuffix", false); }

Result<Value> partition_impl(const Value& self, const CallArgs& args, const char* name, bool from_right) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"sep"}));
  DSINFER_ASSIGN_OR_RETURN(std::string sep, string_arg(a[0], name, "sep", ""));
  if (sep.empty()) return error("empty separator");
  const std::string& text = self.as_string();
  const size_t found = from_right ? text.rfind(sep) : text.find(sep);
  if (found == std::string::npos) {
    if (from_right) return Value::tuple({Value::string(""), Value::string(""), Value::string(text)});
    return Value::tuple({Value::string(text), Value::string(""), Value::string("")});
  }
  return Value::tuple({Value::string(text.substr(0, found)), Value::string(sep), Value::string(text.substr(found + sep.size()))});
}

Result<Value> m_partition(const Value& s, const CallArgs& a, Renderer&) { return partition_impl(s, a, "str.partition", false); }
Result<Value> m_rpartition(const Value& s, const CallArgs& a, Renderer&) { return partition_impl(s, a, "str.rpartition", true); }

Result<Value> pad_impl(const Value& self, const CallArgs& args, const char* name, int mode, Renderer& renderer) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, name, {"width", "fillchar"}));
  DSINFER_ASSIGN_OR_RETURN(int64_t width, int_arg(a[0], name, "width", 0));
  DSINFER_ASSIGN_OR_RETURN(std::string fill, string_arg(a[1], name, "fillchar", " "));
  if (count_code_points(fill) != 1) return error("The fill character must be exactly one character long");
  const int64_t len = static_cast<int64_t>(count_code_points(self.as_string()));
  if (width <= len) return Value::string(self.as_string());
  if (static_cast<uint64_t>(width) > renderer.limits().max_output_bytes)
    return renderer.check_string_size(renderer.limits().max_output_bytes + 1);
  DSINFER_RETURN_IF_ERROR(renderer.check_string_size(static_cast<size_t>(width) * fill.size()));
  const int64_t total = width - len;
  int64_t left = 0;
  if (mode == 0) left = total / 2 + (total & width & 1);  // CPython's centering rule
  else if (mode == 2) left = total;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += self.as_string();
  for (int64_t i = 0; i < total - left; ++i) out += fill;
  return Value::string(std::move(out));
}

Result<Value> m_center(const Value& s, const CallArgs& a, Renderer& r) { return pad_impl(s, a, "str.center", 0, r); }
Result<Value> m_ljust(const Value& s, const CallArgs& a, Renderer& r) { return pad_impl(s, a, "str.ljust", 1, r); }
Result<Value> m_rjust(const Value& s, const CallArgs& a, Renderer& r) { return pad_impl(s, a, "str.rjust", 2, r); }

// --- dict ---------------------------------------------------------------------

Result<Value> m_get(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "dict.get", {"key", "default"}));
  if (!a[0]) return error("get expected at least 1 argument, got 0");
  if (const Value* v = self.dict_data().find(*a[0])) return *v;
  return a[1] ? *a[1] : Value::none();
}

Result<Value> m_items(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(args, "dict.items").status());
  std::vector<Value> out;
  for (const auto& [k, v] : self.dict_data().entries) out.push_back(Value::tuple({k, v}));
  return Value::list(std::move(out), SeqFlavor::kDictItems);
}

Result<Value> m_keys(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(args, "dict.keys").status());
  std::vector<Value> out;
  for (const auto& entry : self.dict_data().entries) out.push_back(entry.first);
  return Value::list(std::move(out), SeqFlavor::kDictKeys);
}

Result<Value> m_values(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(args, "dict.values").status());
  std::vector<Value> out;
  for (const auto& entry : self.dict_data().entries) out.push_back(entry.second);
  return Value::list(std::move(out), SeqFlavor::kDictValues);
}

Result<Value> m_dict_copy(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(args, "dict.copy").status());
  return Value::dict(self.dict_data());
}

// --- list / tuple ---------------------------------------------------------------

Result<Value> m_seq_count(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "count", {"value"}));
  if (!a[0]) return error("count() takes exactly one argument (0 given)");
  int64_t n = 0;
  for (const Value& v : self.items()) n += py_equal(v, *a[0]) ? 1 : 0;
  return Value::integer(n);
}

Result<Value> m_seq_index(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "index", {"value"}));
  if (!a[0]) return error("index expected at least 1 argument, got 0");
  const auto& items = self.items();
  for (size_t i = 0; i < items.size(); ++i) {
    if (py_equal(items[i], *a[0])) return Value::integer(static_cast<int64_t>(i));
  }
  return error("{} is not in {}", py_repr(*a[0]), type_name(self));
}

Result<Value> m_list_copy(const Value& self, const CallArgs& args, Renderer&) {
  DSINFER_RETURN_IF_ERROR(no_args(args, "list.copy").status());
  return Value::list(self.items());
}

struct MethodEntry {
  std::string_view name;
  Method fn;
};

constexpr MethodEntry kStrMethods[] = {
    {"split", m_split},           {"rsplit", m_rsplit},
    {"strip", m_strip},           {"lstrip", m_lstrip},
    {"rstrip", m_rstrip},         {"startswith", m_startswith},
    {"endswith", m_endswith},     {"replace", m_replace},
    {"upper", m_upper},           {"lower", m_lower},
    {"casefold", m_lower},        {"title", m_title},
    {"capitalize", m_capitalize}, {"find", m_find},
    {"rfind", m_rfind},           {"index", m_index},
    {"rindex", m_rindex},         {"count", m_count},
    {"join", m_join},             {"isdigit", char_class<is_py_digit>},
    {"isdecimal", char_class<is_py_digit>}, {"isnumeric", char_class<is_py_digit>},
    {"isalpha", char_class<is_py_alpha>},   {"isalnum", char_class<alnum>},
    {"isspace", char_class<is_py_space>},   {"isupper", m_isupper},
    {"islower", m_islower},       {"splitlines", m_splitlines},
    {"removeprefix", m_removeprefix}, {"removesuffix", m_removesuffix},
    {"partition", m_partition},   {"rpartition", m_rpartition},
    {"center", m_center},         {"ljust", m_ljust},
    {"rjust", m_rjust},
};

// Python str methods we do not implement: calling one is a clear error.
constexpr std::string_view kUnsupportedStrMethods[] = {
    "encode", "expandtabs", "format", "format_map", "isascii", "isidentifier", "isprintable",
    "istitle", "maketrans", "swapcase", "translate", "zfill",
};

constexpr MethodEntry kDictMethods[] = {
    {"get", m_get}, {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"copy", m_dict_copy},
};
constexpr std::string_view kUnsafeDictMethods[] = {"clear", "pop", "popitem", "setdefault", "update", "fromkeys"};

constexpr MethodEntry kListMethods[] = {{"count", m_seq_count}, {"index", m_seq_index}, {"copy", m_list_copy}};
constexpr MethodEntry kTupleMethods[] = {{"count", m_seq_count}, {"index", m_seq_index}};
constexpr std::string_view kUnsafeListMethods[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};

template <size_t N>
Method lookup(const MethodEntry (&table)[N], const std::string& name) {
  for (const MethodEntry& e : table) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

template <size_t N>
bool listed(const std::string_view (&names)[N], const std::string& name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

Value bind(const Value& self, const std::string& name, Method fn) {
  return Value::callable(type_name(self) + "." + name,
                         [self, fn](const CallArgs& args, Renderer& renderer) { return fn(self, args, renderer); });
}

}  // namespace

std::optional<Value> find_method(const Value& self, const std::string& name) {
  Method fn = nullptr;
  switch (self.kind()) {
    case Kind::kString:
      fn = lookup(kStrMethods, name);
      if (!fn && listed(kUnsupportedStrMethods, name)) {
        return Value::undefined("str." + name + "() is not supported by dsinfer's chat template interpreter");
      }
      break;
    case Kind::kDict:
      fn = lookup(kDictMethods, name);
      if (!fn && listed(kUnsafeDictMethods, name))
        return Value::undefined("access to attribute '" + name + "' of 'dict' object is unsafe.");
      break;
    case Kind::kList:
      if (self.flavor() != SeqFlavor::kPlain) break;  // views and iterators have no list methods
      fn = lookup(kListMethods, name);
      if (!fn && listed(kUnsafeListMethods, name))
        return Value::undefined("access to attribute '" + name + "' of 'list' object is unsafe.");
      break;
    case Kind::kTuple:
      fn = lookup(kTupleMethods, name);
      break;
    default:
      break;
  }
  if (!fn) return std::nullopt;
  return bind(self, name, fn);
}

}  // namespace dsinfer::jinja
