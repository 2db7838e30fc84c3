// Global functions of transformers' chat-template environment: Jinja's range,
// dict and namespace, plus transformers' raise_exception and strftime_now.
#include <ctime>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/renderer.h"

namespace dsinfer::jinja {
namespace {

// The sandbox refuses ranges longer than this (jinja2.sandbox.MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

// A control character no template text can produce, marking raise_exception().
constexpr std::string_view kRaiseMarker = "\x1f" "raise\x1f";

Result<Value> g_range(const CallArgs& args, Renderer& renderer) {
  if (!args.keyword.empty()) return error("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) return error("range expected 1 to 3 arguments, got {}", p.size());
  for (const Value& v : p) {
    if (!v.is_int() && !v.is_bool())
      return error("'{}' object cannot be interpreted as an integer", type_name(v));
  }
  int64_t start = 0, stop, step = 1;
  if (p.size() == 1) {
    stop = p[0].as_int();
  } else {
    start = p[0].as_int();
    stop = p[1].as_int();
    if (p.size() == 3) step = p[2].as_int();
  }
  if (step == 0) return error("range() arg 3 must not be zero");
  __int128 length = 0;  // 128 bits: stop - start may not fit in 64
  if (step > 0 && stop > start) length = (static_cast<__int128>(stop) - start - 1) / step + 1;
  if (step < 0 && stop < start) length = (static_cast<__int128>(start) - stop - 1) / -static_cast<__int128>(step) + 1;
  if (length > kMaxRange)
    return error("Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange);
  DSINFER_RETURN_IF_ERROR(renderer.tick(static_cast<uint64_t>(length) / 16));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(length));
  for (int64_t i = 0; i < static_cast<int64_t>(length); ++i) items.push_back(Value::integer(start + i * step));
  return Value::list(std::move(items));
}

Result<DictData> collect_kwargs(const CallArgs& args, const char* name) {
  DictData data;
  if (args.positional.size() > 1) return error("{} expected at most 1 positional argument", name);
  if (!args.positional.empty()) {
    const Value& init = args.positional[0];
    if (!init.is_dict()) return error("{}(): the positional argument must be a mapping", name);
    data = init.dict_data();
  }
  for (const auto& [key, value] : args.keyword) data.set(Value::string(key), value);
  return data;
}

Result<Value> g_dict(const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(DictData data, collect_kwargs(args, "dict"));
  return Value::dict(std::move(data));
}

Result<Value> g_namespace(const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(DictData data, collect_kwargs(args, "namespace"));
  if (data.has_shared_state) return error("a namespace may not hold another namespace, a loop or a function");
  return Value::make_namespace(std::move(data));
}

Result<Value> g_raise_exception(const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "raise_exception", {"message"}));
  if (!a[0]) return error("raise_exception() missing required argument 'message'");
  return raised_by_template(a[0]->is_string() ? a[0]->as_string() : std::string("template raised an exception"));
}

Result<Value> g_strftime_now(const CallArgs& args, Renderer&) {
  DSINFER_ASSIGN_OR_RETURN(BoundArgs a, bind_args(args, "strftime_now", {"format"}));
  DSINFER_ASSIGN_OR_RETURN(std::string format, string_arg(a[0], "strftime_now", "format", ""));
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[512];
  const size_t n = std::strftime(buf, sizeof(buf), format.c_str(), &local);
  if (n == 0 && !format.empty()) return error("strftime_now(): format produced no output or is too long");
  return Value::string(std::string(buf, n));
}

}  // namespace

Value find_global(const std::string& name) {
  if (name == "range") return Value::callable("range", g_range);
  if (name == "namespace") return Value::callable("namespace", g_namespace);
  if (name == "dict") return Value::callable("dict", g_dict);
  if (name == "raise_exception") return Value::callable("raise_exception", g_raise_exception);
  if (name == "strftime_now") return Value::callable("strftime_now", g_strftime_now);
  if (name == "lipsum" || name == "cycler" || name == "joiner")
    return Value::undefined("unsupported Jinja global '" + name + "'");
  return Value::undefined("'" + name + "' is undefined");
}

Status raised_by_template(const std::string& message) {
  return Status::error(std::string(kRaiseMarker) + message);
}

bool is_raised_by_template(const Status& status) {
  return !status.is_ok() && status.message().compare(0, kRaiseMarker.size(), kRaiseMarker) == 0;
}

std::string strip_raise_marker(const std::string& message) {
  if (message.compare(0, kRaiseMarker.size(), kRaiseMarker) == 0) return message.substr(kRaiseMarker.size());
  return message;
}

}  // namespace dsinfer::jinja
