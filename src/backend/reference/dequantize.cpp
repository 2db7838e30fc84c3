#include "backend/reference/dequantize.h"

namespace dsinfer::reference {

void dequantize_row(const WeightView& weight, int64_t row, float* out) {
  const int64_t cols = weight.cols();
  const auto* base = static_cast<const uint8_t*>(weight.data) + row * static_cast<int64_t>(dtype_bytes(weight.dtype, cols));
  convert_to_f32(weight.dtype, base, out, static_cast<size_t>(cols));
  const BlockScales& s = weight.scales;
  if (!s.data) return;
  const float* row_scales = s.row_scales(row, cols);
  for (int64_t c = 0; c < cols; ++c) out[c] *= row_scales[c / s.block_cols];
}

std::vector<float> dequantize(const WeightView& weight) {
  const int64_t rows = weight.rows();
  const int64_t cols = weight.cols();
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(weight, r, out.data() + r * cols);
  return out;
}

}  // namespace dsinfer::reference
