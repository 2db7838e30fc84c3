#include "tokenizer/jinja/access.h"

#include <algorithm>
#include <optional>

#include "tokenizer/jinja/methods.h"
#include "tokenizer/jinja/py_format.h"
#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {
namespace {

// jinja2.utils.object_type_repr, as used in Undefined's messages.
std::string object_repr(const Value& obj) {
  if (obj.is_none()) return "None";
  return type_name(obj) + " object";
}

Value missing_attribute(const Value& obj, const std::string& name) {
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_repr(obj), name));
}

Value missing_element(const Value& obj, const Value& key) {
  if (key.is_string()) return missing_attribute(obj, key.as_string());
  return Value::undefined(fmt::format("'{}' has no element {}", object_repr(obj), py_repr(key)));
}

Value loop_attribute(const Value& loop_value, const std::string& name) {
  const LoopInfo& loop = loop_value.loop_info();
  if (name == "index") return Value::integer(loop.index0 + 1);
  if (name == "index0") return Value::integer(loop.index0);
  if (name == "revindex") return Value::integer(loop.length - loop.index0);
  if (name == "revindex0") return Value::integer(loop.length - loop.index0 - 1);
  if (name == "first") return Value::boolean(loop.index0 == 0);
  if (name == "last") return Value::boolean(loop.index0 + 1 == loop.length);
  if (name == "length") return Value::integer(loop.length);
  if (name == "depth") return Value::integer(loop.depth0 + 1);
  if (name == "depth0") return Value::integer(loop.depth0);
  if (name == "previtem") {
    return loop.previous ? *loop.previous : Value::undefined("there is no previous item");
  }
  if (name == "nextitem") {
    return loop.next ? *loop.next : Value::undefined("there is no next item");
  }
  if (name == "cycle") {
    const int64_t index0 = loop.index0;
    return Value::callable("loop.cycle", [index0](const CallArgs& args, Renderer&) -> Result<Value> {
      if (args.positional.empty()) return error("no items for cycling given");
      return args.positional[index0 % static_cast<int64_t>(args.positional.size())];
    });
  }
  return missing_attribute(loop_value, name);
}

// Python index normalisation: negative counts from the end; nullopt when out of range.
std::optional<size_t> normalize_index(int64_t index, size_t size) {
  const int64_t n = static_cast<int64_t>(size);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return std::nullopt;
  return static_cast<size_t>(index);
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Kind::kDict: {
      if (auto method = find_method(obj, name)) return *method;
      if (const Value* v = obj.dict_data().find(name)) return *v;
      return missing_attribute(obj, name);
    }
    case Kind::kNamespace: {
      if (const Value* v = obj.namespace_data().find(name)) return *v;
      return missing_attribute(obj, name);
    }
    case Kind::kLoop:
      return loop_attribute(obj, name);
    case Kind::kString:
    case Kind::kList:
    case Kind::kTuple:
      if (auto method = find_method(obj, name)) return *method;
      return missing_attribute(obj, name);
    default:
      return missing_attribute(obj, name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Kind::kDict:
      if (const Value* v = obj.dict_data().find(key)) return *v;
      break;
    case Kind::kList:
    case Kind::kTuple:
      if (!obj.is_plain_sequence()) break;  // dict views and iterators are not subscriptable
      if (key.is_int() || key.is_bool()) {
        if (auto i = normalize_index(key.as_int(), obj.items().size())) return obj.items()[*i];
        return missing_element(obj, key);
      }
      break;
    case Kind::kString:
      if (key.is_int() || key.is_bool()) {
        const std::u32string cps = decode_utf8(obj.as_string());
        if (auto i = normalize_index(key.as_int(), cps.size())) {
          std::string out;
          append_utf8(out, cps[*i]);
          return Value::string(std::move(out));
        }
        return missing_element(obj, key);
      }
      break;
    case Kind::kNamespace:
    case Kind::kLoop:
      break;
    default:
      return missing_element(obj, key);
  }
  // obj[key] failed: a string key falls back to the attribute.
  if (key.is_string()) {
    if (obj.is_dict()) {
      if (auto method = find_method(obj, key.as_string())) return *method;
      return missing_attribute(obj, key.as_string());
    }
    return get_attr(obj, key.as_string());
  }
  return missing_element(obj, key);
}

namespace {

// Python's slice.indices(n), then the index sequence it selects.
Result<std::vector<size_t>> slice_indices(const Value& start_v, const Value& stop_v, const Value& step_v, size_t size) {
  auto is_index = [](const Value& v) { return v.is_none() || v.is_int() || v.is_bool(); };
  if (!is_index(start_v) || !is_index(stop_v) || !is_index(step_v)) return error("slice indices must be integers or None");
  const int64_t n = static_cast<int64_t>(size);
  const int64_t step = step_v.is_none() ? 1 : step_v.as_int();
  if (step == 0) return error("slice step cannot be zero");
  int64_t start, stop;
  if (step > 0) {
    start = start_v.is_none() ? 0 : start_v.as_int();
    stop = stop_v.is_none() ? n : stop_v.as_int();
    if (start < 0) start = std::max<int64_t>(start + n, 0);
    if (stop < 0) stop = std::max<int64_t>(stop + n, 0);
    start = std::min(start, n);
    stop = std::min(stop, n);
  } else {
    start = start_v.is_none() ? n - 1 : start_v.as_int();
    stop = stop_v.is_none() ? -1 : stop_v.as_int();
    if (!start_v.is_none()) {
      if (start < 0) start = std::max<int64_t>(start + n, -1);
      start = std::min(start, n - 1);
    }
    if (!stop_v.is_none()) {
      if (stop < 0) stop = std::max<int64_t>(stop + n, -1);
      stop = std::min(stop, n - 1);
    }
  }
  std::vector<size_t> out;
  // Stops on overflow of i + step: past the end either way.
  if (step > 0) {
    for (int64_t i = start; i < stop;) {
      out.push_back(static_cast<size_t>(i));
      if (__builtin_add_overflow(i, step, &i)) break;
    }
  } else {
    for (int64_t i = start; i > stop;) {
      out.push_back(static_cast<size_t>(i));
      if (__builtin_add_overflow(i, step, &i)) break;
    }
  }
  return out;
}

}  // namespace

Result<Value> get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_string()) {
    const std::u32string cps = decode_utf8(obj.as_string());
    DSINFER_ASSIGN_OR_RETURN(std::vector<size_t> indices, slice_indices(start, stop, step, cps.size()));
    std::string out;
    for (size_t i : indices) append_utf8(out, cps[i]);
    return Value::string(std::move(out));
  }
  // Jinja slices with Python's own subscript (not its lenient getitem), so
  // slicing anything else is an error, not an Undefined.
  if (obj.is_plain_sequence()) {
    DSINFER_ASSIGN_OR_RETURN(std::vector<size_t> indices, slice_indices(start, stop, step, obj.items().size()));
    std::vector<Value> items;
    items.reserve(indices.size());
    for (size_t i : indices) items.push_back(obj.items()[i]);
    return obj.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  }
  if (obj.is_undefined()) return Status::error(obj.undefined_message());
  if (obj.is_dict()) return error("unhashable type: 'slice'");
  return error("'{}' object is not subscriptable", type_name(obj));
}

Result<std::vector<Value>> iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return std::vector<Value>{};
    case Kind::kList:
      if (!v.deferred_error().empty()) return Status::error(v.deferred_error());
      return v.items();
    case Kind::kTuple:
      return v.items();
    case Kind::kDict: {
      std::vector<Value> keys;
      keys.reserve(v.dict_data().size());
      for (const auto& entry : v.dict_data().entries) keys.push_back(entry.first);
      return keys;
    }
    case Kind::kString: {
      std::vector<Value> chars;
      for (char32_t cp : decode_utf8(v.as_string())) {
        std::string c;
        append_utf8(c, cp);
        chars.push_back(Value::string(std::move(c)));
      }
      return chars;
    }
    default:
      return error("'{}' object is not iterable", type_name(v));
  }
}

Result<int64_t> py_len(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined: return int64_t{0};
    case Kind::kString: return static_cast<int64_t>(count_code_points(v.as_string()));
    case Kind::kList:
      if (v.is_iterator()) return error("object of type 'generator' has no len()");
      return static_cast<int64_t>(v.items().size());
    case Kind::kTuple: return static_cast<int64_t>(v.items().size());
    case Kind::kDict: return static_cast<int64_t>(v.dict_data().size());
    default: return error("object of type '{}' has no len()", type_name(v));
  }
}

}  // namespace dsinfer::jinja
