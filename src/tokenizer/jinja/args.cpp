#include "tokenizer/jinja/args.h"

namespace dsinfer::jinja {

Result<BoundArgs> bind_args(const CallArgs& args, std::string_view function,
                            std::initializer_list<std::string_view> params) {
  BoundArgs bound(params.size());
  if (args.positional.size() > params.size()) {
    return error("{}() takes at most {} argument(s) ({} given)", function, params.size(), args.positional.size());
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t index = 0;
    bool found = false;
    for (std::string_view param : params) {
      if (param == key) {
        found = true;
        break;
      }
      ++index;
    }
    if (!found) return error("{}() got an unexpected keyword argument '{}'", function, key);
    if (bound[index]) return error("{}() got multiple values for argument '{}'", function, key);
    bound[index] = value;
  }
  return bound;
}

Result<std::string> string_arg(const std::optional<Value>& v, std::string_view function, std::string_view param,
                               const std::string& fallback) {
  if (!v || v->is_none()) return fallback;
  if (!v->is_string()) return error("{}(): argument '{}' must be str, not {}", function, param, type_name(*v));
  return v->as_string();
}

Result<int64_t> int_arg(const std::optional<Value>& v, std::string_view function, std::string_view param,
                        int64_t fallback) {
  if (!v || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool())
    return error("{}(): argument '{}' must be int, not {}", function, param, type_name(*v));
  return v->as_int();
}

bool bool_arg(const std::optional<Value>& v, bool fallback) { return v ? truthy(*v) : fallback; }

}  // namespace dsinfer::jinja
