// Test weights whose real values the test knows exactly: every value is chosen to be
// representable in the stored dtype (k/64 for bf16/f16, k/8 with |k| <= 15 for FP8
// E4M3), so the naive oracles below compute on the intended values in double precision
// and never go through the engine's decoders.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace dsinfer::test {

// A weight that owns its bytes. `real` is the value of element (r, c) the oracle uses:
// the stored value times its block scale.
struct OwnedWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;  // block scales, empty unless FP8
  std::vector<double> real;   // [rows * cols]
  WeightView view;

  OwnedWeight() = default;
  OwnedWeight(const OwnedWeight&) = delete;  // `view` points into `bytes` and `scales`
  OwnedWeight& operator=(const OwnedWeight&) = delete;
  OwnedWeight(OwnedWeight&&) = default;  // vector moves keep their buffers
  OwnedWeight& operator=(OwnedWeight&&) = default;

  int64_t rows() const { return view.rows(); }
  int64_t cols() const { return view.cols(); }
  double at(int64_t r, int64_t c) const { return real[static_cast<size_t>(r * cols() + c)]; }
};

// Deterministic small-integer source (mt19937 output is specified by the standard; the
// distributions are not, so the mapping is done by hand).
class Rng {
 public:
  explicit Rng(uint32_t seed) : engine_(seed) {}
  int next_int(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(engine_() % static_cast<uint32_t>(hi - lo + 1));
  }
  // A float with 1/1024 resolution in [-range, range].
  float uniform(float range) { return range * static_cast<float>(next_int(-1024, 1024)) / 1024.0f; }

 private:
  std::mt19937 engine_;
};

// Encodes one value that is exactly representable in `dtype`.
inline void store(DType dtype, float value, uint8_t* dst) {
  switch (dtype) {
    case DType::kF32: std::memcpy(dst, &value, 4); return;
    case DType::kBF16: { uint16_t h = f32_to_bf16(value); std::memcpy(dst, &h, 2); return; }
    case DType::kF16: { uint16_t h = f32_to_f16(value); std::memcpy(dst, &h, 2); return; }
    case DType::kF8E4M3: *dst = f32_to_f8e4m3(value); return;
    default: std::abort();
  }
}

// A value exactly representable in `dtype`, in about [-1, 1].
inline float representable(DType dtype, Rng& rng) {
  if (dtype == DType::kF8E4M3) return static_cast<float>(rng.next_int(-15, 15)) / 8.0f;
  if (dtype == DType::kF32) return rng.uniform(1.0f) + static_cast<float>(rng.next_int(0, 1000)) * 1e-7f;
  return static_cast<float>(rng.next_int(-64, 64)) / 64.0f;
}

// A weight of `shape` ([n] or [rows, cols]) with random representable values; FP8 weights
// get random block scales of block_rows x block_cols (edge blocks partial).
inline OwnedWeight random_weight(const std::string& name, DType dtype, std::vector<int64_t> shape, Rng& rng,
                                 int64_t block_rows = 128, int64_t block_cols = 128) {
  OwnedWeight w;
  w.view.name = name;
  w.view.dtype = dtype;
  w.view.shape = std::move(shape);
  const int64_t rows = w.view.rows();
  const int64_t cols = w.view.cols();
  const size_t elem = dtype_size(dtype);
  w.bytes.resize(static_cast<size_t>(rows * cols) * elem);
  w.real.resize(static_cast<size_t>(rows * cols));
  std::vector<float> stored(w.real.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    stored[i] = representable(dtype, rng);
    store(dtype, stored[i], w.bytes.data() + i * elem);
  }
  const int64_t scale_cols = (cols + block_cols - 1) / block_cols;
  if (dtype == DType::kF8E4M3) {
    const int64_t scale_rows = (rows + block_rows - 1) / block_rows;
    for (int64_t i = 0; i < scale_rows * scale_cols; ++i)
      w.scales.push_back(static_cast<float>(rng.next_int(1, 40)) / 16.0f);  // 0.0625 .. 2.5, distinct per block
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      double v = stored[static_cast<size_t>(r * cols + c)];
      if (!w.scales.empty()) v *= w.scales[static_cast<size_t>((r / block_rows) * scale_cols + c / block_cols)];
      w.real[static_cast<size_t>(r * cols + c)] = v;
    }
  }
  w.view.data = w.bytes.data();
  if (!w.scales.empty()) w.view.scales = BlockScales{w.scales.data(), block_rows, block_cols};
  return w;
}

// A 1-D or 2-D weight with the given values (each exactly representable in dtype).
inline OwnedWeight weight_from(const std::string& name, DType dtype, std::vector<int64_t> shape,
                               const std::vector<float>& values) {
  OwnedWeight w;
  w.view.name = name;
  w.view.dtype = dtype;
  w.view.shape = std::move(shape);
  const size_t elem = dtype_size(dtype);
  w.bytes.resize(values.size() * elem);
  for (size_t i = 0; i < values.size(); ++i) {
    store(dtype, values[i], w.bytes.data() + i * elem);
    w.real.push_back(values[i]);
  }
  w.view.data = w.bytes.data();
  return w;
}

// A float32 activation matrix that owns its storage, optionally wider than its view so
// that writes past `cols` (into the sentinel columns) are caught.
struct Activation {
  std::vector<float> storage;
  Tensor tensor;

  static constexpr float kSentinel = -12345.5f;

  Activation(int64_t rows, int64_t cols, int64_t pad = 0)
      : storage(static_cast<size_t>(rows * (cols + pad)), kSentinel),
        tensor{DType::kF32, rows, cols, cols + pad, nullptr} {
    tensor.data = storage.data();
  }
  Activation(const Activation&) = delete;
  Activation& operator=(const Activation&) = delete;

  float& at(int64_t r, int64_t c) { return storage[static_cast<size_t>(r * tensor.row_stride + c)]; }
  float at(int64_t r, int64_t c) const { return storage[static_cast<size_t>(r * tensor.row_stride + c)]; }
  void fill_random(Rng& rng, float range = 1.0f) {
    for (int64_t r = 0; r < tensor.rows; ++r)
      for (int64_t c = 0; c < tensor.cols; ++c) at(r, c) = rng.uniform(range);
  }
  // Number of padding cells that no longer hold the sentinel.
  int64_t clobbered_padding() const {
    int64_t n = 0;
    for (int64_t r = 0; r < tensor.rows; ++r)
      for (int64_t c = tensor.cols; c < tensor.row_stride; ++c) n += at(r, c) != kSentinel;
    return n;
  }
};

}  // namespace dsinfer::test
