// Python's printf-style string formatting, `'%s: %d' % (a, b)` and Jinja's
// |format filter: conversions s r a d i u f F e E g G x X o c and %%, with flags,
// width, precision and %(key)s mapping keys (no '*' widths).
#pragma once

#include <string>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

// `args` is a tuple (positional values), a dict (for %(key)s), or one value.
Result<std::string> percent_format(const std::string& format, const Value& args);

}  // namespace dsinfer::jinja
