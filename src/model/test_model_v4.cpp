#include "model/test_model_v4.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace dsinfer {
namespace {

constexpr int64_t kFp4Block = 32;  // values per UE8M0 scale of a packed FP4 row

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// The UE8M0 byte of the smallest power of two s with amax / s <= max_code (s >= 2^-127).
uint8_t ue8m0_scale_for(float amax, float max_code) {
  if (amax <= 0.0f) return 0;
  const int exponent = static_cast<int>(std::ceil(std::log2(static_cast<double>(amax) / max_code)));
  return static_cast<uint8_t>(std::clamp(exponent + 127, 0, 254));
}

// Nearest E2M1 code of x (already divided by its scale), ties to the even code.
uint8_t e2m1_code(float x) {
  static constexpr float kGrid[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float a = std::min(std::fabs(x), 6.0f);
  int best = 0;
  for (int i = 1; i < 8; ++i) {
    const float d = std::fabs(a - kGrid[i]), d_best = std::fabs(a - kGrid[best]);
    if (d < d_best || (d == d_best && i % 2 == 0)) best = i;
  }
  return static_cast<uint8_t>(best | (std::signbit(x) && best ? 0x8 : 0));
}

// FP8 E4M3 codes with a UE8M0 scale per block_rows x block_cols block.
void add_fp8_ue8m0(std::vector<SafetensorsTensorToWrite>& out, const TensorSpec& spec, const std::vector<float>& v,
                   int64_t block_rows, int64_t block_cols) {
  const int64_t rows = spec.shape[0], cols = spec.shape[1];
  const int64_t grid_rows = (rows + block_rows - 1) / block_rows, grid_cols = (cols + block_cols - 1) / block_cols;
  std::vector<float> amax(static_cast<size_t>(grid_rows * grid_cols), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& a = amax[(r / block_rows) * grid_cols + c / block_cols];
      a = std::max(a, std::fabs(v[r * cols + c]));
    }
  std::vector<uint8_t> scales(amax.size());
  for (size_t i = 0; i < amax.size(); ++i) scales[i] = ue8m0_scale_for(amax[i], 448.0f);
  std::vector<uint8_t> codes(v.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      codes[r * cols + c] = f32_to_f8e4m3(v[r * cols + c] / ue8m0_to_f32(scales[(r / block_rows) * grid_cols + c / block_cols]));
  const std::string prefix = spec.name.substr(0, spec.name.size() - std::string(".weight").size());
  out.push_back({spec.name, DType::kF8E4M3, spec.shape, std::move(codes)});
  out.push_back({prefix + ".scale", DType::kF8E8M0, {grid_rows, grid_cols}, std::move(scales)});
}

// Packed FP4 E2M1 (element 2j in the low nibble of byte j) with a UE8M0 scale per 32 values.
void add_fp4(std::vector<SafetensorsTensorToWrite>& out, const TensorSpec& spec, const std::vector<float>& v) {
  const int64_t rows = spec.shape[0], cols = spec.shape[1];
  std::vector<uint8_t> scales(static_cast<size_t>(rows * cols / kFp4Block));
  std::vector<uint8_t> packed(static_cast<size_t>(rows * cols / 2), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < cols / kFp4Block; ++b) {
      const float* block = v.data() + r * cols + b * kFp4Block;
      float amax = 0.0f;
      for (int64_t i = 0; i < kFp4Block; ++i) amax = std::max(amax, std::fabs(block[i]));
      const uint8_t scale = ue8m0_scale_for(amax, 6.0f);
      scales[r * (cols / kFp4Block) + b] = scale;
      for (int64_t i = 0; i < kFp4Block; ++i) {
        const int64_t col = b * kFp4Block + i;
        packed[(r * cols + col) / 2] |= static_cast<uint8_t>(e2m1_code(block[i] / ue8m0_to_f32(scale)) << (4 * (col % 2)));
      }
    }
  const std::string prefix = spec.name.substr(0, spec.name.size() - std::string(".weight").size());
  out.push_back({spec.name, DType::kI8, {rows, cols / 2}, std::move(packed)});
  out.push_back({prefix + ".scale", DType::kF8E8M0, {rows, cols / kFp4Block}, std::move(scales)});
}

}  // namespace

void add_v4_test_tensor(const ModelConfig& c, const TensorSpec& spec, const std::vector<float>& v,
                        std::vector<SafetensorsTensorToWrite>& out) {
  switch (spec.kind) {
    case TensorKind::kProjection:
      if (spec.role == TensorRole::kRoutedExpert && spec.shape[1] % kFp4Block == 0) {
        add_fp4(out, spec, v);
      } else {
        add_fp8_ue8m0(out, spec, v, c.fp8->block_rows, c.fp8->block_cols);
      }
      break;
    case TensorKind::kParameter:
    case TensorKind::kBias: out.push_back({spec.name, DType::kF32, spec.shape, bytes_of(v)}); break;
    case TensorKind::kIndexTable: {
      // Distinct experts per token: a random first expert and the ones after it.
      const int64_t k = spec.shape[1];
      std::vector<int64_t> ids(v.size());
      for (int64_t t = 0; t < spec.shape[0]; ++t) {
        const auto first = static_cast<int64_t>((v[t * k] + 1.0f) * 0.5f * static_cast<float>(c.n_routed_experts));
        for (int64_t j = 0; j < k; ++j) ids[t * k + j] = (first + j) % c.n_routed_experts;
      }
      out.push_back({spec.name, DType::kI64, spec.shape, bytes_of(ids)});
      break;
    }
    case TensorKind::kNorm:
    case TensorKind::kRouter:
    case TensorKind::kEmbedding:
    case TensorKind::kHead: out.push_back({spec.name, DType::kBF16, spec.shape, bf16_bytes(v)}); break;
  }
}

}  // namespace dsinfer
