// Reference versions of the transforms DeepSeek-V3.2's lightning indexer applies to its
// queries and keys before scoring: a Hadamard rotation (spreads outliers over the whole
// vector so one FP8 scale per block fits all of it) and the FP8 round trip itself.
#include <algorithm>
#include <cmath>

#include "backend/reference/reference_ops.h"
#include "backend/reference/value_blocks.h"
#include "core/dtype.h"

namespace dsinfer::reference {
namespace {

constexpr float kFp8Max = 448.0f;       // largest finite E4M3 value
constexpr float kFp8AmaxFloor = 1e-4f;  // keeps the scale of an all-zero block finite

// The scale of one block: amax / 448, or the next power of two at or above it (UE8M0
// scales). Computed in float32, as the kernels the checkpoints were trained with do.
float fp8_scale(float amax, bool pow2) {
  const float s = std::max(amax, kFp8AmaxFloor) * (1.0f / kFp8Max);
  if (!pow2) return s;
  int exponent;
  const float fraction = std::frexp(s, &exponent);  // s = fraction * 2^exponent, fraction in [0.5, 1)
  return fraction == 0.5f ? s : std::ldexp(1.0f, exponent);
}

constexpr float kFp4Max = 6.0f;                 // largest E2M1 magnitude
constexpr float kFp4AmaxFloor = 6.0f * 0x1p-126f;  // smallest normal float times 6

// 2^ceil(log2(v)) of a positive float32 (v itself when a power of two).
float pow2_ceil(float v) {
  int exponent;
  const float fraction = std::frexp(v, &exponent);
  return fraction == 0.5f ? v : std::ldexp(1.0f, exponent);
}

// Nearest E2M1 magnitude of a in [0, 6], ties to the even code.
float round_e2m1(float a) {
  static constexpr float kGrid[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  int best = 0;
  for (int i = 1; i < 8; ++i) {
    const float d_best = std::fabs(a - kGrid[best]);
    const float d = std::fabs(a - kGrid[i]);
    if (d < d_best || (d == d_best && i % 2 == 0)) best = i;
  }
  return kGrid[best];
}

}  // namespace

float fp4_block_scale(float amax) { return pow2_ceil(std::max(amax, kFp4AmaxFloor) * (1.0f / kFp4Max)); }

void fp4_round_trip(Tensor x, int64_t block) {
  for_each_block(x, block, [](float* v, int64_t n, float amax) {
    const float s = fp4_block_scale(amax);
    for (int64_t i = 0; i < n; ++i) {
      const float q = std::clamp(v[i] / s, -kFp4Max, kFp4Max);
      v[i] = std::copysign(round_e2m1(std::fabs(q)), q) * s;
    }
  });
}

void hadamard(Tensor x) {
  const int64_t n = x.cols;
  const float scale = 1.0f / std::sqrt(static_cast<float>(n));
  for (int64_t r = 0; r < x.rows; ++r) {
    float* v = x.f32_row(r);
    // Butterflies of width 1, 2, 4, ...: (a, b) -> (a + b, a - b).
    for (int64_t h = 1; h < n; h *= 2)
      for (int64_t i = 0; i < n; i += 2 * h)
        for (int64_t j = i; j < i + h; ++j) {
          const float a = v[j], b = v[j + h];
          v[j] = a + b;
          v[j + h] = a - b;
        }
    for (int64_t i = 0; i < n; ++i) v[i] *= scale;
  }
}

void fp8_round_trip(Tensor x, int64_t block, bool pow2_scales) {
  for_each_block(x, block, [&](float* v, int64_t n, float amax) {
    const float s = fp8_scale(amax, pow2_scales);
    for (int64_t i = 0; i < n; ++i) {
      const float q = std::clamp(v[i] / s, -kFp8Max, kFp8Max);
      v[i] = f8e4m3_to_f32(f32_to_f8e4m3(q)) * s;
    }
  });
}

}  // namespace dsinfer::reference
