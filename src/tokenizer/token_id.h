#pragma once

#include <cstdint>

namespace dsinfer {

// A token id as the model's embedding table indexes it.
using TokenId = int32_t;

}  // namespace dsinfer
