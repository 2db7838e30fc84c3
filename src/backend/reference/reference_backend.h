// The reference backend: plain scalar C++, one short function per op, written to be
// read. It is the specification of the op contract and the oracle every other backend
// is tested against (tests/backend/). It is not meant to be fast.
#pragma once

#include <memory>

#include "backend/ops.h"

namespace dsinfer {

std::unique_ptr<Backend> make_reference_backend();

}  // namespace dsinfer
