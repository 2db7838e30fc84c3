// Stored weight -> float32, one row at a time: the definition of what every weight
// format means, used by the reference ops and by tests of faster kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/ops.h"
#include "core/tensor.h"

namespace dsinfer::reference {

// Writes the `row`-th row (weight.cols() values) of `weight` as float32 into `out`,
// applying block scales when the weight has them.
void dequantize_row(const WeightView& weight, int64_t row, float* out);

// The whole weight as a row-major float32 matrix [rows, cols].
std::vector<float> dequantize(const WeightView& weight);

// A compactly stored sequence's latent rows decoded to float32 into `scratch`, as one
// contiguous [length, width] tensor (what attention then reads).
Tensor widen_latent(const LatentRows& latent, std::vector<float>& scratch);

}  // namespace dsinfer::reference
