// Backend::matmuls on the CPU: the row groups of every packed weight in one parallel loop.
#include <algorithm>

#include "backend/cpu/cpu_context.h"

namespace dsinfer::cpu {

void matmuls(CpuContext& ctx, std::span<const MatmulTask> tasks) {
  struct Packed {
    const MatmulTask* task;
    const PackedWeight* w;
  };
  std::vector<Packed> packed;
  for (const MatmulTask& t : tasks) {
    const auto& weight = static_cast<const CpuWeight&>(*t.w);
    ctx.pack(weight);
    if (weight.packed)
      packed.push_back({&t, weight.packed.get()});
    else
      ctx.matmul(t.out, t.x, *t.w);  // no packed form: a loop of its own
  }
  if (packed.empty()) return;
  if (ctx.task_rows.size() < packed.size()) ctx.task_rows.resize(packed.size());
  int64_t groups = 0;
  for (size_t i = 0; i < packed.size(); ++i) {
    quantize_activations(activation_form(ctx.kernels, *packed[i].w), ctx.kernels, ctx.pool, ctx.task_rows[i],
                         packed[i].task->x);
    groups += packed[i].w->rows() / 8;
  }
  // Chunks of about the size matmul_packed cuts a matrix of all these rows into, none
  // spanning two products; first[i] is product i's first chunk.
  const int64_t chunk = std::max<int64_t>(1, groups / (kChunksPerThread * ctx.pool.size()));
  std::vector<int64_t> first(packed.size() + 1, 0);
  for (size_t i = 0; i < packed.size(); ++i) first[i + 1] = first[i] + (packed[i].w->rows() / 8 + chunk - 1) / chunk;
  ChunkQueue queue(first.back(), ctx.pool.size());
  ctx.pool.run_on_all([&](int thread) {
    for (int64_t c = queue.take(thread); c >= 0; c = queue.take(thread)) {
      const auto i = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), c) - first.begin() - 1);
      const Packed& p = packed[i];
      const int64_t g0 = (c - first[i]) * chunk, g1 = std::min(g0 + chunk, p.w->rows() / 8);
      matmul_packed_rows(ctx.kernels, *p.w, p.task->x, ctx.task_rows[i], p.task->out, g0, g1);
    }
  });
}

}  // namespace dsinfer::cpu
