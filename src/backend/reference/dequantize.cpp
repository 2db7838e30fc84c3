#include "backend/reference/dequantize.h"

#include <algorithm>

#include "core/quant_blocks.h"

namespace dsinfer::reference {

void dequantize_row(const WeightView& weight, int64_t row, float* out) {
  const int64_t cols = weight.cols();
  const auto* base = static_cast<const uint8_t*>(weight.data) + row * static_cast<int64_t>(dtype_bytes(weight.dtype, cols));
  convert_to_f32(weight.dtype, base, out, static_cast<size_t>(cols));
  const BlockScales& s = weight.scales;
  if (!s.present()) return;
  for (int64_t b = 0; b * s.block_cols < cols; ++b) {
    const float scale = s.scale(row, b, cols);
    for (int64_t c = b * s.block_cols; c < std::min(cols, (b + 1) * s.block_cols); ++c) out[c] *= scale;
  }
}

std::vector<float> dequantize(const WeightView& weight) {
  const int64_t rows = weight.rows();
  const int64_t cols = weight.cols();
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(weight, r, out.data() + r * cols);
  return out;
}

Tensor widen_latent(const LatentRows& latent, std::vector<float>& scratch) {
  const int64_t width = latent.pages[0].cols;
  scratch.resize(static_cast<size_t>(latent.length * width));
  for (int64_t p = 0; p < latent.length; ++p) {
    const Tensor& page = latent.pages[p / latent.page_rows];
    decode_values(page.dtype, page.row_data(p % latent.page_rows), scratch.data() + p * width, static_cast<size_t>(width));
  }
  return Tensor::contiguous(DType::kF32, latent.length, width, scratch.data());
}

}  // namespace dsinfer::reference
