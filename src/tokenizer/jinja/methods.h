// Python methods callable on template values: str (split, strip, startswith,
// ...), dict (get, items, keys, values) and list/tuple (count, index). Methods
// that mutate (list.append, dict.update, ...) are refused like in transformers'
// ImmutableSandboxedEnvironment.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

// The bound method `self.name`: a callable, an Undefined that fails when called
// (unsafe or unsupported methods), or nullopt when the type has no such method.
std::optional<Value> find_method(const Value& self, const std::string& name);

}  // namespace dsinfer::jinja

namespace dsinfer::jinja {
// str.title() and str.capitalize(), shared with the |title and |capitalize filters.
std::string py_title(std::string_view text);
std::string py_capitalize(std::string_view text);
}  // namespace dsinfer::jinja
