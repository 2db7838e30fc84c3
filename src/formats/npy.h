// Writes and reads NumPy .npy files (format 1.0, little-endian float32, C order):
// the interchange format of `dsinfer logits` and the numpy reference.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace dsinfer {

Status write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data);

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
Result<NpyArray> read_npy_f32(const std::string& path);

}  // namespace dsinfer
