// The values a Jinja template computes with, modelled on the Python objects
// Jinja2 sees when transformers renders a chat template: None, bool, int, float,
// str, list, tuple, dict (insertion-ordered), jinja2's Undefined, Namespace and
// LoopContext, and callables (globals such as range(), bound methods).
//
// Containers are shared and immutable once built (the ImmutableSandboxedEnvironment
// forbids list.append and friends), so copying a Value is cheap. The one mutable
// object is Namespace, which templates change with {% set ns.attr = ... %}.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"

namespace dsinfer::jinja {

class Value;
class Renderer;

enum class Kind : uint8_t {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kTuple,
  kDict,
  kNamespace,
  kLoop,
  kCallable,
};

// Python objects we hold as lists but that are not lists: dict views
// (dict.keys()/values()/items()) and the lazy iterators filters such as
// select, map and unique return. They iterate like lists, but are not
// subscriptable, do not concatenate, and (iterators) are always true and have no len().
enum class SeqFlavor : uint8_t { kPlain, kDictKeys, kDictValues, kDictItems, kIterator };

struct ListData;
struct DictData;
struct CallArgs;
struct Callable;
struct LoopInfo;

using NativeFunction = std::function<Result<Value>(const CallArgs&, Renderer&)>;

class Value {
 public:
  // A default Value is jinja2's Undefined.
  Value();

  static Value undefined(std::string message);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s, bool markup = false);
  static Value list(std::vector<Value> items, SeqFlavor flavor = SeqFlavor::kPlain);
  static Value tuple(std::vector<Value> items);
  static Value dict(DictData data);
  static Value make_namespace(DictData data);
  static Value loop(LoopInfo info);
  static Value callable(std::string name, NativeFunction fn);
  // An iterator that fails with `message` when iterated (see ListData::deferred_error).
  static Value failed_iterator(std::string message);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // Python's numbers.Number: bool, int and float.
  bool is_number() const { return kind_ == Kind::kBool || kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kTuple; }
  bool is_sequence_like() const { return kind_ == Kind::kList || kind_ == Kind::kTuple; }
  // A real list or tuple (not a dict view or iterator).
  bool is_plain_sequence() const;
  bool is_iterator() const;
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_loop() const { return kind_ == Kind::kLoop; }
  bool is_callable() const { return kind_ == Kind::kCallable; }
  // markupsafe.Markup: a str produced by |safe or |escape.
  bool is_markup() const { return kind_ == Kind::kString && markup_; }

  bool as_bool() const { return std::get<bool>(payload_); }
  int64_t as_int() const;      // bool or int
  double as_double() const;    // bool, int or float
  const std::string& as_string() const { return *std::get<StrPtr>(payload_); }
  const std::vector<Value>& items() const;
  SeqFlavor flavor() const;
  const std::string& deferred_error() const;
  const DictData& dict_data() const;
  // The attributes of a Namespace; mutable because {% set ns.x %} writes them.
  DictData& namespace_data() const;
  const LoopInfo& loop_info() const;
  const Callable& callable_data() const;
  // For Undefined: the error raised when the value is used ("'x' is undefined").
  const std::string& undefined_message() const;

  // Nesting depth of containers (1 for scalars and empty containers).
  int depth() const;
  // True for a Namespace, loop or callable, or a container holding one. Such
  // values may not be stored into a Namespace: that is the only way a template
  // could build a reference cycle (or a nesting deeper than depth() records).
  bool holds_shared_state() const;
  // True when two values are the same object (Python `is`).
  bool same_object(const Value& other) const;

 private:
  using StrPtr = std::shared_ptr<const std::string>;
  using ListPtr = std::shared_ptr<const ListData>;
  using DictPtr = std::shared_ptr<DictData>;
  using LoopPtr = std::shared_ptr<const LoopInfo>;
  using FnPtr = std::shared_ptr<const Callable>;

  Kind kind_ = Kind::kUndefined;
  bool markup_ = false;
  std::variant<std::monostate, bool, int64_t, double, StrPtr, ListPtr, DictPtr, LoopPtr, FnPtr> payload_;
};

struct ListData {
  std::vector<Value> items;
  SeqFlavor flavor = SeqFlavor::kPlain;
  int depth = 1;  // nesting depth, bounded so printing and freeing cannot overflow the stack
  bool has_shared_state = false;  // holds a Namespace, loop or callable (see Value::holds_shared_state)
  // For kIterator: the error a Python generator would raise once iterated
  // (filters like map and select run lazily in Jinja2, so a bad input only
  // fails when the result is consumed).
  std::string deferred_error;
};

// An insertion-ordered dict. Keys are usually strings; other hashable scalars
// (ints, None, bools) are allowed as in Python and compared with Python equality.
struct DictData {
  std::vector<std::pair<Value, Value>> entries;
  std::unordered_map<std::string, size_t> string_index;  // position of each string key
  int depth = 1;
  bool has_shared_state = false;

  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  // Inserts, or overwrites in place (keeping the first insertion's position).
  void set(Value key, Value value);
  size_t size() const { return entries.size(); }
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Callable {
  std::string name;  // for messages: "range", "str.split", ...
  NativeFunction fn;
};

// State of the innermost {% for %} as seen through the `loop` variable.
struct LoopInfo {
  int64_t index0 = 0;
  int64_t length = 0;
  int depth0 = 0;
  std::shared_ptr<const Value> previous;  // null on the first iteration
  std::shared_ptr<const Value> next;      // null on the last iteration
};


inline const std::vector<Value>& Value::items() const { return std::get<ListPtr>(payload_)->items; }
inline SeqFlavor Value::flavor() const { return std::get<ListPtr>(payload_)->flavor; }
inline const std::string& Value::deferred_error() const { return std::get<ListPtr>(payload_)->deferred_error; }
inline const DictData& Value::dict_data() const { return *std::get<DictPtr>(payload_); }
inline DictData& Value::namespace_data() const { return *std::get<DictPtr>(payload_); }
inline const LoopInfo& Value::loop_info() const { return *std::get<LoopPtr>(payload_); }
inline const Callable& Value::callable_data() const { return *std::get<FnPtr>(payload_); }
inline bool Value::is_plain_sequence() const {
  return kind_ == Kind::kTuple || (kind_ == Kind::kList && flavor() == SeqFlavor::kPlain);
}
inline bool Value::is_iterator() const { return kind_ == Kind::kList && flavor() == SeqFlavor::kIterator; }

// Deepest nesting of lists/dicts a template may build or receive.
inline constexpr int kMaxValueDepth = 128;

// Python's type(x).__name__, for error messages.
std::string type_name(const Value& v);
// bool(x).
bool truthy(const Value& v);
// x == y with Python semantics (1 == 1.0 == True, [1] != (1,), deep comparison).
bool py_equal(const Value& a, const Value& b);

}  // namespace dsinfer::jinja
