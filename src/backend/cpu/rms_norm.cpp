// RMSNorm on the CPU: the reference's per-row arithmetic with the sum of squares in
// partial sums, and the weight widened to float32 once per weight instead of per call.
#include <cmath>

#include "backend/cpu/cpu_context.h"

namespace dsinfer::cpu {

float inverse_rms(const float* s, int64_t n, float eps) {
  constexpr int kLanes = 16;
  float part[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) part[l] += s[i + l] * s[i + l];
  float sum_sq = 0.0f;
  for (float p : part) sum_sq += p;
  for (; i < n; ++i) sum_sq += s[i] * s[i];
  return 1.0f / std::sqrt(sum_sq / static_cast<float>(n) + eps);
}

void rms_norm(CpuContext& ctx, Tensor out, Tensor x, const PreparedWeight& weight, float eps) {
  const float* scale = float_values(weight).data();
  ctx.pool.parallel_for(x.rows, [&](int, int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* in = x.f32_row(r);
      const float inv_rms = inverse_rms(in, x.cols, eps);
      float* o = out.f32_row(r);
      for (int64_t c = 0; c < x.cols; ++c) o[c] = in[c] * inv_rms * scale[c];
    }
  });
}

}  // namespace dsinfer::cpu
