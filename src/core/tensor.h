// Views of memory the engine computes on. Neither type owns memory: weights point into
// mapped checkpoint files, activations into buffers a Backend allocated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dsinfer {

// A 2-D row-major activation view [rows, cols] with a row stride in elements, so that a
// column slice (the c_kv half of a [T, kv_lora + rope] projection) is a view, not a copy.
// A vector is a view with one row. Mostly float32; a compactly stored cache may use F16,
// BF16 or Q8_0 (then strides and slice starts are multiples of the block size).
struct Tensor {
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;  // elements between the starts of consecutive rows
  void* data = nullptr;

  static Tensor contiguous(DType dtype, int64_t rows, int64_t cols, void* data) {
    return Tensor{dtype, rows, cols, cols, data};
  }
  float* f32_row(int64_t r) const { return static_cast<float*>(data) + r * row_stride; }
  void* row_data(int64_t r) const { return static_cast<uint8_t*>(data) + dtype_bytes(dtype, r * row_stride); }
  // Columns [begin, begin + count) of every row.
  Tensor col_slice(int64_t begin, int64_t count) const {
    return Tensor{dtype, rows, count, row_stride,
                  static_cast<uint8_t*>(data) + dtype_bytes(dtype, begin)};
  }
  // Rows [begin, begin + count).
  Tensor row_slice(int64_t begin, int64_t count) const {
    return Tensor{dtype, count, cols, row_stride,
                  static_cast<uint8_t*>(data) + dtype_bytes(dtype, begin * row_stride)};
  }
};

// Per-block dequantisation scales of a block-quantised weight (FP8 checkpoints):
// real[r][c] = stored[r][c] * scales[r / block_rows][c / block_cols]; edge blocks partial.
struct BlockScales {
  const float* data = nullptr;  // [ceil(rows/block_rows), ceil(cols/block_cols)] row-major
  int64_t block_rows = 0;
  int64_t block_cols = 0;
  int64_t first_row = 0;  // row of the full weight that row 0 of this view is (row slices)
  int64_t stored_bytes = 4;  // of one scale in the checkpoint: f32, or 1 for UE8M0 codes
  // Or, instead of data, the UE8M0 codes as stored (scale 2^(code - 127)), read in place:
  // V4's FP4 experts carry one per 32 values, which as float32 would add a quarter to
  // their memory. FP4 only: the FP8 kernels read `data`.
  const uint8_t* ue8m0 = nullptr;

  bool present() const { return data != nullptr || ue8m0 != nullptr; }

  // Scales of the whole [rows, cols] weight, as stored.
  int64_t stored_bytes_for(int64_t rows, int64_t cols) const {
    return ((rows + block_rows - 1) / block_rows) * ((cols + block_cols - 1) / block_cols) * stored_bytes;
  }

  // Row `row`'s block scales: as float32 (data), or as stored codes (ue8m0).
  const float* row_scales(int64_t row, int64_t cols) const { return data + first_scale(row, cols); }
  const uint8_t* row_codes(int64_t row, int64_t cols) const { return ue8m0 + first_scale(row, cols); }

  // The scale of block `block` of row `row`, either way.
  float scale(int64_t row, int64_t block, int64_t cols) const {
    const int64_t i = first_scale(row, cols) + block;
    return data ? data[i] : ue8m0_to_f32(ue8m0[i]);
  }

 private:
  int64_t first_scale(int64_t row, int64_t cols) const {
    return ((first_row + row) / block_rows) * ((cols + block_cols - 1) / block_cols);
  }
};

// A weight as stored in the checkpoint: a 1-D vector (norm weights, biases) or a 2-D
// [out_features, in_features] matrix, in its stored dtype.
struct WeightView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  BlockScales scales;  // data == nullptr unless the weight is block-scaled
  // data lies in a read-only file mapping: a backend that copied it elsewhere may drop
  // its pages, which are re-read from the file if anything reads them again.
  bool file_backed = false;
  // With file_backed: the bytes of all the weights in the model's files, which a backend
  // that copies weights weighs against the machine's memory (cpu::release_file_pages).
  int64_t model_bytes = 0;

  int64_t rows() const { return shape.empty() ? 0 : (shape.size() == 1 ? 1 : shape[0]); }
  int64_t cols() const { return shape.empty() ? 0 : shape.back(); }
  // Rows [begin, begin + count) of a 2-D weight, as a view.
  WeightView row_slice(int64_t begin, int64_t count) const {
    WeightView v = *this;
    v.shape = {count, cols()};
    v.data = static_cast<const uint8_t*>(data) + begin * static_cast<int64_t>(dtype_bytes(dtype, cols()));
    v.scales.first_row += begin;
    return v;
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

std::string shape_to_string(const std::vector<int64_t>& shape);

}  // namespace dsinfer
