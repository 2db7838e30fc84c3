#include "tokenizer/jinja/value.h"

#include <algorithm>

namespace dsinfer::jinja {

const Value* DictData::find(const std::string& key) const {
  auto it = string_index.find(key);
  return it == string_index.end() ? nullptr : &entries[it->second].second;
}

const Value* DictData::find(const Value& key) const {
  if (key.is_string()) return find(key.as_string());
  for (const auto& [k, v] : entries) {
    if (!k.is_string() && py_equal(k, key)) return &v;
  }
  return nullptr;
}

void DictData::set(Value key, Value value) {
  depth = std::max(depth, 1 + std::max(key.depth(), value.depth()));
  has_shared_state = has_shared_state || key.holds_shared_state() || value.holds_shared_state();
  if (key.is_string()) {
    auto it = string_index.find(key.as_string());
    if (it != string_index.end()) {
      entries[it->second].second = std::move(value);
      return;
    }
    string_index.emplace(key.as_string(), entries.size());
    entries.emplace_back(std::move(key), std::move(value));
    return;
  }
  for (auto& [k, v] : entries) {
    if (!k.is_string() && py_equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Value::Value() = default;

Value Value::undefined(std::string message) {
  Value v;
  v.payload_ = std::make_shared<const std::string>(std::move(message));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.payload_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.payload_ = i;
  return v;
}

Value Value::number(double f) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.payload_ = f;
  return v;
}

Value Value::string(std::string s, bool markup) {
  Value v;
  v.kind_ = Kind::kString;
  v.markup_ = markup;
  v.payload_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

namespace {
int max_item_depth(const std::vector<Value>& items) {
  int depth = 0;
  for (const Value& item : items) depth = std::max(depth, item.depth());
  return depth;
}

bool any_shared_state(const std::vector<Value>& items) {
  for (const Value& item : items) {
    if (item.holds_shared_state()) return true;
  }
  return false;
}
}  // namespace

Value Value::list(std::vector<Value> items, SeqFlavor flavor) {
  Value v;
  v.kind_ = Kind::kList;
  auto data = std::make_shared<ListData>();
  data->depth = 1 + max_item_depth(items);
  data->has_shared_state = any_shared_state(items);
  data->items = std::move(items);
  data->flavor = flavor;
  v.payload_ = ListPtr(std::move(data));
  return v;
}

Value Value::failed_iterator(std::string message) {
  Value v;
  v.kind_ = Kind::kList;
  auto data = std::make_shared<ListData>();
  data->flavor = SeqFlavor::kIterator;
  data->deferred_error = std::move(message);
  v.payload_ = ListPtr(std::move(data));
  return v;
}

Value Value::tuple(std::vector<Value> items) {
  Value v = list(std::move(items));
  v.kind_ = Kind::kTuple;
  return v;
}

Value Value::dict(DictData data) {
  Value v;
  v.kind_ = Kind::kDict;
  v.payload_ = std::make_shared<DictData>(std::move(data));
  return v;
}

Value Value::make_namespace(DictData data) {
  Value v = dict(std::move(data));
  v.kind_ = Kind::kNamespace;
  return v;
}

Value Value::loop(LoopInfo info) {
  Value v;
  v.kind_ = Kind::kLoop;
  v.payload_ = std::make_shared<const LoopInfo>(std::move(info));
  return v;
}

Value Value::callable(std::string name, NativeFunction fn) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.payload_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

int64_t Value::as_int() const {
  if (kind_ == Kind::kBool) return std::get<bool>(payload_) ? 1 : 0;
  return std::get<int64_t>(payload_);
}

double Value::as_double() const {
  if (kind_ == Kind::kFloat) return std::get<double>(payload_);
  return static_cast<double>(as_int());
}

const std::string& Value::undefined_message() const {
  static const std::string kGeneric = "value is undefined";
  if (auto* p = std::get_if<StrPtr>(&payload_)) return **p;
  return kGeneric;
}

int Value::depth() const {
  if (auto* p = std::get_if<ListPtr>(&payload_)) return (*p)->depth;
  if (auto* p = std::get_if<DictPtr>(&payload_)) return (*p)->depth;
  return 1;
}

bool Value::holds_shared_state() const {
  switch (kind_) {
    case Kind::kNamespace:
    case Kind::kLoop:
    case Kind::kCallable:
      return true;
    case Kind::kList:
    case Kind::kTuple:
      return std::get<ListPtr>(payload_)->has_shared_state;
    case Kind::kDict:
      return std::get<DictPtr>(payload_)->has_shared_state;
    default:
      return false;
  }
}

bool Value::same_object(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kBool:
      return as_bool() == other.as_bool();
    case Kind::kInt:
      return as_int() == other.as_int();
    case Kind::kFloat:
      return false;  // Python floats are boxed: `x is y` is only true for the very same object
    default:
      return payload_ == other.payload_;
  }
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return v.is_markup() ? "Markup" : "str";
    case Kind::kList:
      switch (v.flavor()) {
        case SeqFlavor::kDictKeys: return "dict_keys";
        case SeqFlavor::kDictValues: return "dict_values";
        case SeqFlavor::kDictItems: return "dict_items";
        case SeqFlavor::kIterator: return "generator";
        default: return "list";
      }
    case Kind::kTuple: return "tuple";
    case Kind::kDict: return "dict";
    case Kind::kNamespace: return "Namespace";
    case Kind::kLoop: return "LoopContext";
    case Kind::kCallable: return "builtin_function_or_method";
  }
  return "object";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool: return v.as_bool();
    case Kind::kInt: return v.as_int() != 0;
    case Kind::kFloat: return v.as_double() != 0.0;
    case Kind::kString: return !v.as_string().empty();
    case Kind::kList:
      if (v.flavor() == SeqFlavor::kIterator) return true;  // generator objects are always true
      return !v.items().empty();
    case Kind::kTuple: return !v.items().empty();
    case Kind::kDict: return v.dict_data().size() != 0;
    default: return true;
  }
}

bool py_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return a.as_string() == b.as_string();
    case Kind::kList:
    case Kind::kTuple: {
      if (a.is_list() && (a.flavor() != SeqFlavor::kPlain || b.flavor() != SeqFlavor::kPlain)) {
        if (a.flavor() != b.flavor()) return false;
        if (a.flavor() == SeqFlavor::kIterator || a.flavor() == SeqFlavor::kDictValues) return a.same_object(b);
        // dict_keys / dict_items compare as sets
        if (a.items().size() != b.items().size()) return false;
        for (const Value& x : a.items()) {
          bool found = false;
          for (const Value& y : b.items()) found = found || py_equal(x, y);
          if (!found) return false;
        }
        return true;
      }
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!py_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      const DictData& x = a.dict_data();
      const DictData& y = b.dict_data();
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.entries) {
        const Value* other = y.find(key);
        if (other == nullptr || !py_equal(value, *other)) return false;
      }
      return true;
    }
    default:
      return a.same_object(b);
  }
}

}  // namespace dsinfer::jinja
