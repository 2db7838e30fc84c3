// V4's hyper-connections on the CPU: the reference's arithmetic, scheduled for a decode
// step. With one token, the reference's loops ran on one thread while the other waited,
// and hc_pre's sum of squares over hc x hidden values was one chain of dependent adds
// (8,192 for bench-v4, about 15 us per call, 25 calls per token).
#include <cmath>

#include "backend/cpu/cpu_context.h"
#include "backend/reference/reference_ops.h"

namespace dsinfer::cpu {

void hc_pre(CpuContext& ctx, const HcPreArgs& args) {
  const std::span<const float> scale = float_values(*args.scale), base = float_values(*args.base);
  const int64_t n = args.hc * args.x.cols;
  ctx.pool.parallel_for(args.x.rows, [&](int, int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      reference::hc_pre_after_norm(args, t, inverse_rms(args.streams.f32_row(t), n, args.norm_eps), scale.data(),
                                   base.data());
  });
}

// One (token, stream) pair per work item: a decode step's hc streams split over the threads.
void hc_post(CpuContext& ctx, const HcPostArgs& args) {
  ctx.pool.parallel_for(args.f.rows * args.hc, [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) reference::hc_post_stream(args, i / args.hc, i % args.hc);
  });
}

}  // namespace dsinfer::cpu
