#include "core/quant_blocks.h"

namespace dsinfer {
namespace {

void dequantize_q8_0(const BlockQ8_0* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int i = 0; i < 32; ++i) dst[b * 32 + i] = d * static_cast<float>(blocks[b].qs[i]);
  }
}

void dequantize_q4_0(const BlockQ4_0* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int j = 0; j < 16; ++j) {
      dst[b * 32 + j] = d * static_cast<float>((blocks[b].qs[j] & 0x0F) - 8);
      dst[b * 32 + j + 16] = d * static_cast<float>((blocks[b].qs[j] >> 4) - 8);
    }
  }
}

}  // namespace

void dequantize_blocks(DType dtype, const void* src, float* dst, size_t count) {
  const size_t n_blocks = count / static_cast<size_t>(dtype_block_elements(dtype));
  switch (dtype) {
    case DType::kQ8_0: dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n_blocks); return;
    case DType::kQ4_0: dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n_blocks); return;
    default: break;
  }
}

}  // namespace dsinfer
