// Backend::matmuls on the CPU: the rows of every packed or float-format weight in one
// parallel loop.
#include <algorithm>

#include "backend/cpu/cpu_context.h"

namespace dsinfer::cpu {
namespace {

// A product of the loop: its weight in units of rows (eight-row groups of a packed
// weight, row_tile rows of a float one) cut into chunks of units_per_chunk units, taken
// one at a time or, where the kernels read far pairs, in FarChunks pairs (megabytes
// apart in a large matrix).
struct Product {
  const MatmulTask* task;
  const PackedWeight* packed;  // or nullptr: a float-format weight read through view
  const WeightView* view;
  int64_t unit_rows, units, units_per_chunk = 1;
  QuantizedRows* x_rows = nullptr;  // x quantised for a packed weight's kernel

  bool beside = false;  // chunk c of the first half read beside chunk c + items()

  int64_t chunks() const { return (units + units_per_chunk - 1) / units_per_chunk; }
  FarChunks pairing() const { return {chunks(), beside}; }
  void run(const Kernels& k, int64_t item) const {
    auto first_unit = [&](int64_t chunk) { return chunk * units_per_chunk; };
    auto end_unit = [&](int64_t chunk) { return std::min(first_unit(chunk) + units_per_chunk, units); };
    if (const int64_t far = pairing().far_chunk(item); far >= 0) {
      if (!packed) {
        auto first_row = [&](int64_t chunk) { return first_unit(chunk) * unit_rows; };
        auto end_row = [&](int64_t chunk) { return std::min(end_unit(chunk) * unit_rows, view->rows()); };
        return float_rows_beside(k, task->out, task->x, *view, first_row(item), end_row(item), first_row(far),
                                 end_row(far));
      }
      return matmul_packed_rows_beside(k, *packed, first_unit(item), end_unit(item), task->out, *packed,
                                       first_unit(far), end_unit(far), task->out, task->x, *x_rows);
    }
    if (packed) return matmul_packed_rows(k, *packed, task->x, *x_rows, task->out, first_unit(item), end_unit(item));
    for (int64_t u = first_unit(item); u < end_unit(item); ++u)
      float_weight_rows(k, task->out, task->x, *view, u * unit_rows, std::min((u + 1) * unit_rows, view->rows()));
  }
};

}  // namespace

void matmuls(CpuContext& ctx, std::span<const MatmulTask> tasks) {
  const int threads = ctx.pool.size();
  std::vector<Product> products;
  int64_t bytes = 0;
  for (const MatmulTask& t : tasks) {
    const auto& weight = static_cast<const CpuWeight&>(*t.w);
    ctx.pack(weight);
    const WeightView& view = weight.packed ? weight.view() : ctx.resident_view(weight);
    if (!weight.packed && !is_float_weight(view)) {
      ctx.matmul(t.out, t.x, *t.w);  // other formats: a loop of their own
      continue;
    }
    const int64_t unit_rows = weight.packed ? 8 : row_tile(view.rows(), threads);
    products.push_back({&t, weight.packed.get(), &view, unit_rows, (view.rows() + unit_rows - 1) / unit_rows});
    bytes += static_cast<int64_t>(dtype_bytes(view.dtype, view.cols())) * view.rows();
  }
  if (products.empty()) return;
  if (ctx.task_rows.size() < products.size()) ctx.task_rows.resize(products.size());
  // Chunks of about the bytes matmul's loop gives one chunk of a matrix this size, none
  // spanning two products; first[i] is product i's first chunk.
  const int64_t per_thread = chunks_per_thread(bytes, threads, products.front().task->out.rows);
  const int64_t chunk_bytes = std::max<int64_t>(1, bytes / (per_thread * threads));
  std::vector<int64_t> first(products.size() + 1, 0);
  for (size_t i = 0; i < products.size(); ++i) {
    Product& p = products[i];
    const int64_t unit_bytes = static_cast<int64_t>(dtype_bytes(p.view->dtype, p.view->cols())) * p.unit_rows;
    p.units_per_chunk = std::max<int64_t>(1, chunk_bytes / unit_bytes);
    if (p.packed) {
      p.units_per_chunk += p.units_per_chunk % 2;  // whole pairs of groups, as matmul_packed
      p.x_rows = &ctx.task_rows[i];
      quantize_activations(activation_form(ctx.kernels, *p.packed), ctx.kernels, ctx.pool, *p.x_rows, p.task->x);
      p.beside = reads_beside(ctx.kernels, *p.packed, p.task->out.rows);
    } else {
      p.beside = reads_float_beside(ctx.kernels, *p.view, p.task->out.rows);
    }
    first[i + 1] = first[i] + p.pairing().items();
  }
  ChunkQueue queue(first.back(), threads);
  ctx.pool.run_on_all([&](int thread) {
    for (int64_t c = queue.take(thread); c >= 0; c = queue.take(thread)) {
      const auto i = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), c) - first.begin() - 1);
      products[i].run(ctx.kernels, c - first[i]);
    }
  });
}

}  // namespace dsinfer::cpu
