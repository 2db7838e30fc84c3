#include "tokenizer/jinja/json_io.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tokenizer/jinja/py_format.h"
#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {

Result<Value> value_from_json(const nlohmann::ordered_json& json, int max_depth) {
  if (max_depth <= 0) return error("JSON input nests too deeply");
  using T = nlohmann::ordered_json::value_t;
  switch (json.type()) {
    case T::null:
      return Value::none();
    case T::boolean:
      return Value::boolean(json.get<bool>());
    case T::number_integer:
      return Value::integer(json.get<int64_t>());
    case T::number_unsigned: {
      const uint64_t u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case T::number_float:
      return Value::number(json.get<double>());
    case T::string:
      return Value::string(json.get<std::string>());
    case T::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) {
        DSINFER_ASSIGN_OR_RETURN(Value v, value_from_json(item, max_depth - 1));
        items.push_back(std::move(v));
      }
      return Value::list(std::move(items));
    }
    case T::object: {
      DictData data;
      for (auto it = json.begin(); it != json.end(); ++it) {
        DSINFER_ASSIGN_OR_RETURN(Value v, value_from_json(it.value(), max_depth - 1));
        data.set(Value::string(it.key()), std::move(v));
      }
      return Value::dict(std::move(data));
    }
    default:
      return error("unsupported JSON value (binary data)");
  }
}

namespace {

void append_json_string(std::string& out, const std::string& text, bool ensure_ascii) {
  out.push_back('"');
  for (char32_t cp : decode_utf8(text)) {
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    char buf[16];
    if (cp < 0x20 || (ensure_ascii && cp > 0x7F)) {
      if (cp < 0x10000) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
        out += buf;
      } else {
        const char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
        out += buf;
      }
    } else {
      append_utf8(out, cp);
    }
  }
  out.push_back('"');
}

Result<std::string> key_string(const Value& key) {
  switch (key.kind()) {
    case Kind::kString: return key.as_string();
    case Kind::kNone: return std::string("null");
    case Kind::kBool: return std::string(key.as_bool() ? "true" : "false");
    case Kind::kInt: return std::to_string(key.as_int());
    case Kind::kFloat: return float_repr(key.as_double());
    default: return error("keys must be str, int, float, bool or None, not {}", type_name(key));
  }
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpOptions& options) : options_(options) {}

  Status dump(const Value& v, int level) {
    switch (v.kind()) {
      case Kind::kNone: out_ += "null"; return Status::ok();
      case Kind::kBool: out_ += v.as_bool() ? "true" : "false"; return Status::ok();
      case Kind::kInt: out_ += std::to_string(v.as_int()); return Status::ok();
      case Kind::kFloat: {
        const double f = v.as_double();
        if (std::isnan(f)) out_ += "NaN";
        else if (std::isinf(f)) out_ += f > 0 ? "Infinity" : "-Infinity";
        else out_ += float_repr(f);
        return Status::ok();
      }
      case Kind::kString: append_json_string(out_, v.as_string(), options_.ensure_ascii); return Status::ok();
      case Kind::kList:
        if (v.flavor() != SeqFlavor::kPlain) return error("Object of type {} is not JSON serializable", type_name(v));
        return dump_list(v.items(), level);
      case Kind::kTuple: return dump_list(v.items(), level);
      case Kind::kDict: return dump_dict(v.dict_data(), level);
      default: return error("Object of type {} is not JSON serializable", type_name(v));
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void newline(int level) {
    if (!options_.indent) return;
    out_.push_back('\n');
    for (int i = 0; i < level; ++i) out_ += *options_.indent;
  }

  Status dump_list(const std::vector<Value>& items, int level) {
    if (items.empty()) {
      out_ += "[]";
      return Status::ok();
    }
    out_.push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out_ += options_.item_separator;
      newline(level + 1);
      DSINFER_RETURN_IF_ERROR(dump(items[i], level + 1));
    }
    newline(level);
    out_.push_back(']');
    return Status::ok();
  }

  Status dump_dict(const DictData& d, int level) {
    if (d.size() == 0) {
      out_ += "{}";
      return Status::ok();
    }
    std::vector<std::pair<std::string, const Value*>> entries;
    entries.reserve(d.size());
    for (const auto& [key, value] : d.entries) {
      DSINFER_ASSIGN_OR_RETURN(std::string k, key_string(key));
      entries.emplace_back(std::move(k), &value);
    }
    if (options_.sort_keys) {
      // Python sorts the original keys; for string keys that is code-point order,
      // which is UTF-8 byte order.
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    out_.push_back('{');
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out_ += options_.item_separator;
      newline(level + 1);
      append_json_string(out_, entries[i].first, options_.ensure_ascii);
      out_ += options_.key_separator;
      DSINFER_RETURN_IF_ERROR(dump(*entries[i].second, level + 1));
    }
    newline(level);
    out_.push_back('}');
    return Status::ok();
  }

  const JsonDumpOptions& options_;
  std::string out_;
};

}  // namespace

Result<std::string> json_dumps(const Value& v, const JsonDumpOptions& options) {
  Dumper dumper(options);
  DSINFER_RETURN_IF_ERROR(dumper.dump(v, 0));
  return dumper.take();
}

}  // namespace dsinfer::jinja
