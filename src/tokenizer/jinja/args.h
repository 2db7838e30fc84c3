// Binding of call arguments to parameters the way Python binds them, for the
// built-in filters, tests, methods and globals.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

// One slot per parameter, in order; nullopt where the caller passed nothing.
using BoundArgs = std::vector<std::optional<Value>>;

// Binds `args` to `params` (positional first, then by keyword). Fails on too
// many positional arguments, unknown keywords, or a parameter given twice.
Result<BoundArgs> bind_args(const CallArgs& args, std::string_view function,
                            std::initializer_list<std::string_view> params);

// Helpers to read bound slots with Python-like type checks.
Result<std::string> string_arg(const std::optional<Value>& v, std::string_view function, std::string_view param,
                               const std::string& fallback);
Result<int64_t> int_arg(const std::optional<Value>& v, std::string_view function, std::string_view param,
                        int64_t fallback);
bool bool_arg(const std::optional<Value>& v, bool fallback);

}  // namespace dsinfer::jinja
