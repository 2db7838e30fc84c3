// Python's operators on template values: arithmetic, comparison, `in`, with the
// same results and the same TypeErrors (as error Statuses).
#pragma once

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

class Renderer;

Result<Value> binary_op(BinaryOp op, const Value& a, const Value& b, Renderer& renderer);
Result<Value> negate(const Value& v, bool minus);
Result<bool> compare(CompareOp op, const Value& a, const Value& b);
// `item in container`.
Result<bool> contains(const Value& container, const Value& item);
// Ordering for sort/min/max: <0, 0, >0; errors where Python's `<` raises TypeError.
Result<int> order(const Value& a, const Value& b);

}  // namespace dsinfer::jinja
