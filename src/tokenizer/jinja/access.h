// Attribute and item access the way Jinja2's sandboxed environment does it
// (getattr then getitem for `x.y`, getitem then getattr for `x['y']`), plus
// iteration, len() and slicing. Missing things give Undefined, not errors.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

// x.name. `obj` must not be Undefined (using an Undefined is the caller's error).
Value get_attr(const Value& obj, const std::string& name);
// x[key].
Value get_item(const Value& obj, const Value& key);
// x[start:stop:step]; each bound may be None. Undefined when obj is not sliceable.
Result<Value> get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// list(x): elements of a list/tuple, keys of a dict, characters of a str;
// Undefined iterates as empty.
Result<std::vector<Value>> iterate(const Value& v);
// len(x).
Result<int64_t> py_len(const Value& v);

}  // namespace dsinfer::jinja
