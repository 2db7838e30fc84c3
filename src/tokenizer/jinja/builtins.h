// Tables of the filters, tests and global functions templates can call. The
// parser resolves filter and test names once, so a template naming one we do
// not implement fails at parse time with the name in the message.
#pragma once

#include <string_view>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

using FilterFn = Result<Value> (*)(const Value& input, const CallArgs& args, Renderer& renderer);
using TestFn = Result<bool> (*)(const Value& input, const CallArgs& args, Renderer& renderer);

// nullptr when there is no such filter / test.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// Names Jinja2 knows that this interpreter does not implement, so errors can say
// "unsupported" rather than "unknown".
bool is_jinja_filter_name(std::string_view name);
bool is_jinja_test_name(std::string_view name);

// The globals transformers' environment provides: range, dict, namespace,
// raise_exception, strftime_now. Undefined for any other name.
Value find_global(const std::string& name);

// Marks the Status produced by raise_exception(): the template's own message,
// passed to the caller without a position suffix.
bool is_raised_by_template(const Status& status);
Status raised_by_template(const std::string& message);
std::string strip_raise_marker(const std::string& message);

}  // namespace dsinfer::jinja
