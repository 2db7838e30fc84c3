// The FP4 (E2M1) round trip of V4's indexer queries and keys, with the reference's bits:
// its nearest-grid-point search (eight distances per value) replaced by the grid's three
// spacings, each rounding to an integer number of steps with ties to even, which is the
// same choice. 16 x 128 values in cache: 33 K cycles for the reference, 15.5 K for this
// (/tmp/mb18/fp4.cpp, docs/benchmarks.md, V4 session 18).
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_context.h"
#include "backend/reference/reference_ops.h"
#include "backend/reference/value_blocks.h"

namespace dsinfer::cpu {
namespace {

constexpr float kFp4Max = 6.0f;

// x rounded to an integer, ties to even, for |x| < 2^22 (float32's own rounding of the
// sum puts the integer part in the last mantissa bit).
inline float round_even(float x) { return (x + 0x1.8p23f) - 0x1.8p23f; }

// Nearest E2M1 magnitude of a in [0, 6], ties to the even code: steps of 0.5 below 2 (codes
// 0-4), of 1 up to 4 (codes 4-6), of 2 up to 6 (codes 6-7); an even code is an even
// number of steps in each range. NaN gives 0, as the reference's search does.
inline float round_e2m1(float a) {
  const float low = 0.5f * round_even(2.0f * a), middle = round_even(a), high = 2.0f * round_even(0.5f * a);
  return a >= 4.0f ? high : a >= 2.0f ? middle : a >= 0.0f ? low : 0.0f;
}

}  // namespace

void fp4_round_trip(Tensor x, int64_t block) {
  reference::for_each_block(x, block, [](float* v, int64_t n, float amax) {
    // s is a power of two whose reciprocal is a normal float (fp4_block_scale's range),
    // so multiplying by it is the reference's division.
    const float s = reference::fp4_block_scale(amax), inverse = 1.0f / s;
    for (int64_t i = 0; i < n; ++i) {
      float q = v[i] * inverse;  // clamped as std::clamp does (NaN stays NaN)
      q = q < -kFp4Max ? -kFp4Max : q;
      q = q > kFp4Max ? kFp4Max : q;
      v[i] = std::copysign(round_e2m1(std::fabs(q)), q) * s;
    }
  });
}

}  // namespace dsinfer::cpu
