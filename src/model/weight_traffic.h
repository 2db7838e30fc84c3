// How many bytes of weights one decode step reads: every always-used tensor in full, one
// row of the embedding and of V4's hash-routing tables, and num_experts_per_tok of each
// MoE layer's experts, block scales included as stored. This is the denominator of the
// memory-bandwidth bound on token generation.
#pragma once

#include <cstdint>

#include "formats/weight_source.h"

namespace dsinfer {

int64_t weight_bytes_per_token(const WeightSource& weights);

}  // namespace dsinfer
