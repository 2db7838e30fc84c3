// Python's str() and repr() of template values: what {{ x }} prints and how
// lists and dicts look inside it ("['a', 1, None, True]"), byte for byte.
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

// str(x); Undefined prints as "".
std::string py_str(const Value& v);
// repr(x).
std::string py_repr(const Value& v);
// repr() of a str: quotes chosen and characters escaped as CPython does.
std::string repr_string(std::string_view text);
// repr() of a float: the shortest string that round-trips ("0.1", "1e+16", "inf").
std::string float_repr(double f);

}  // namespace dsinfer::jinja
