// The block structure the reference's activation round trips share (FP8, FP4): each
// row cut into runs of `block` values, each run scaled by its own largest magnitude.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "backend/ops.h"

namespace dsinfer::reference {

// Calls round_block(values, count, amax) for every run of `block` values of each row
// (the last run of a row may be shorter), amax being the run's largest magnitude.
template <typename RoundBlock>
void for_each_block(Tensor x, int64_t block, RoundBlock&& round_block) {
  for (int64_t r = 0; r < x.rows; ++r) {
    float* v = x.f32_row(r);
    for (int64_t begin = 0; begin < x.cols; begin += block) {
      const int64_t n = std::min(x.cols - begin, block);
      float amax = 0.0f;
      for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[begin + i]));
      round_block(v + begin, n, amax);
    }
  }
}

}  // namespace dsinfer::reference
