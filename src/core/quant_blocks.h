// The block-quantised weight formats of GGUF files (ggml's Q8_0, Q4_0, Q4_K, Q5_K,
// Q6_K): their byte layout and their exact meaning as float32. These scalar decoders are
// the definition every SIMD kernel is tested against.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace dsinfer {

// Q8_0: value[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: value[i] = d * ((nibble i) - 8); byte j holds value j (low nibble) and value
// j + 16 (high nibble).
struct BlockQ4_0 {
  uint16_t d;  // f16 scale
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Decodes `count` values (a multiple of the format's block size) of a block format.
void dequantize_blocks(DType dtype, const void* src, float* dst, size_t count);

}  // namespace dsinfer
