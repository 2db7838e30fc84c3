// What every CPU op needs: the kernel table, the thread pool and reusable scratch.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/line_aligned.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/packed_weight.h"
#include "backend/ops.h"
#include "backend/reference/dequantize.h"
#include "backend/reference/router.h"
#include "core/thread_pool.h"

namespace dsinfer::cpu {

// kv_b's halves for the absorbed decode form, built once per layer on first use.
// K: where the kernels cannot read it as stored, per head W_k^T as float32 rows
// [kv_lora_rank][nope], so q_latent = W_k^T q_nope is a dot product per latent dim; where
// they weigh its stored rows (Q4_0, Q8_0), head h's nope rows at k_rows + h * head_rows
// rows, copied to huge pages (head_rows = nope), or kv_b's own rows if the copy failed
// (head_rows apart); Q4_0 where the table has Kernels::absorb_columns_q4_0, the heads
// regrouped by latent column (absorb_columns.h) one after the other in huge pages instead.
// V: every head's rows one after the other, packed, or nullptr where they have no packed
// form that reads int8 activation blocks.
struct AbsorbedWeights {
  std::vector<float> k_transposed;
  const uint8_t* k_columns = nullptr;
  const uint8_t* k_rows = nullptr;
  int64_t head_rows = 0;
  std::unique_ptr<PackedWeight> v_rows;
};

// A weight on the CPU backend: the stored tensor, plus forms derived from it on first
// use that live and die with it.
class CpuWeight final : public PreparedWeight {
 public:
  explicit CpuWeight(WeightView view) : view_(std::move(view)) {}
  const WeightView& view() const override { return view_; }
  // Set by the first absorbed-form attention that uses this weight as kv_b.
  mutable std::unique_ptr<AbsorbedWeights> absorbed;
  // Set by the first matmul (nullptr, with `packing_tried`, when there is no packed form).
  mutable std::unique_ptr<PackedWeight> packed;
  mutable bool packing_tried = false;
  // Set by the first matmul of a file-backed float-format matrix (copy_to_huge_pages).
  mutable std::optional<WeightView> huge_page_copy;
  mutable bool copy_tried = false;
  // Set by the first float_values of this weight.
  mutable std::vector<float> values;

 private:
  WeightView view_;
};

// Buffers for running one expert over its tokens (moe_experts.h): one set per thread
// where threads take whole experts, one per expert where they share every expert's rows.
struct ExpertScratch {
  LineAlignedFloats rows, gate, up, down;
  QuantizedRows activations;  // gate and up's input, where gathered
  QuantizedRows down_input;   // the SwiGLU rows quantised for down
};

struct RoutedToken {
  int64_t token;
  float weight;
  int64_t slot;  // row of the expert-outputs buffer that receives this token's result
};

// A MoE step's routing, kept between steps so that a decode step does not allocate it
// again (a vector per expert and per token, 64 and more per layer).
struct MoeRouting {
  std::vector<std::vector<RoutedToken>> tokens_of;  // per expert, in token order
  std::vector<RoutedToken> every_token;             // the shared expert's
  reference::RouterScratch router;                  // route_token's working vectors
  // The combine's work items: each one's rows, their weights and how many (moe_ffn).
  std::vector<const float*> sum_rows;
  std::vector<float> sum_weights;
  std::vector<int64_t> sum_counts;
};

struct CpuContext {
  const Kernels& kernels;
  ThreadPool& pool;
  MatmulScratch matmul_scratch;
  std::vector<QuantizedRows> task_rows;  // matmuls: each packed task's x, quantised
  PackArena pack_arena;
  LineAlignedFloats moe_buffer;         // router logits, gathered rows, expert outputs
  LineAlignedFloats moe_swiglu_buffer;  // gate and up rows of an expert run on its own
  QuantizedRows moe_rows;               // a step's rows quantised for the routed experts
  std::vector<ExpertScratch> moe_threads;
  std::vector<ExpertScratch> moe_experts;
  MoeRouting moe_routing;
  std::vector<float> attention_buffer;  // expanded K/V, latent queries, scores
  std::vector<float> latent_buffer;     // a compact cache's rows decoded to float32 for kv_b's expansion
  std::vector<float> indexer_buffer;    // indexer scores [T, context]

  // The calling thread alone, as a pool: for what one thread of a parallel loop computes
  // while the others do other work (a MoE step's routing beside its shared expert).
  ThreadPool calling_thread{1};

  // Gives `w` its packed form if it has one and does not yet, packed by `threads`.
  void pack(const CpuWeight& w, ThreadPool& threads) {
    if (w.packing_tried) return;
    w.packed = PackedWeight::pack(kernels, threads, pack_arena, w.view());
    w.packing_tried = true;
  }
  void pack(const CpuWeight& w) { pack(w, pool); }
  // A stored-layout view (a slice of a weight, say).
  void matmul(Tensor out, Tensor x, const WeightView& w) { cpu::matmul(kernels, pool, matmul_scratch, out, x, w); }
  // A whole prepared weight: the interleaved-row kernels where it has a packed form. The
  // product's bits do not depend on how many threads compute it.
  void matmul(Tensor out, Tensor x, const PreparedWeight& w, ThreadPool& threads) {
    const auto& weight = static_cast<const CpuWeight&>(w);
    pack(weight, threads);
    if (weight.packed) {
      cpu::matmul_packed(kernels, threads, matmul_scratch, out, x, *weight.packed);
      return;
    }
    cpu::matmul(kernels, threads, matmul_scratch, out, x, resident_view(weight, threads));
  }
  void matmul(Tensor out, Tensor x, const PreparedWeight& w) { matmul(out, x, w, pool); }
  // The view an unpacked weight's products read: its huge-page copy where it has one.
  const WeightView& resident_view(const CpuWeight& weight, ThreadPool& threads) {
    if (!weight.copy_tried) {
      weight.huge_page_copy = copy_to_huge_pages(threads, pack_arena, weight.view());
      weight.copy_tried = true;
    }
    return weight.huge_page_copy ? *weight.huge_page_copy : weight.view();
  }
  const WeightView& resident_view(const CpuWeight& weight) { return resident_view(weight, pool); }
};

// w's values as float32, widened on first use and kept with the weight: the small
// vectors (norm weights, router biases, hc scales, sinks) that ops read on every call.
inline std::span<const float> float_values(const PreparedWeight& w) {
  const auto& weight = static_cast<const CpuWeight&>(w);
  if (weight.values.empty()) weight.values = reference::dequantize(weight.view());
  return weight.values;
}

void matmuls(CpuContext& ctx, std::span<const MatmulTask> tasks);
void rms_norm(CpuContext& ctx, Tensor out, Tensor x, const PreparedWeight& weight, float eps);
// 1 / sqrt(mean(s[0..n)^2) + eps), the sum of squares in sixteen partial sums (which the
// compiler vectorises) added in order: one chain of dependent adds cost about 3 us per
// 2,048 values, and decode runs one row at a time.
float inverse_rms(const float* s, int64_t n, float eps);
void moe_ffn(CpuContext& ctx, const MoeArgs& args);
void mla_attention(CpuContext& ctx, const MlaAttentionArgs& args);
void mla_attentions(CpuContext& ctx, std::span<const MlaAttentionArgs> batch);
void indexer_topk(CpuContext& ctx, const IndexerTopkArgs& args);
void sink_attention(CpuContext& ctx, const SinkAttentionArgs& args);
void hc_pre(CpuContext& ctx, const HcPreArgs& args);
void hc_post(CpuContext& ctx, const HcPostArgs& args);
// reference::fp4_round_trip with its bits, on x's rows.
void fp4_round_trip(Tensor x, int64_t block);

}  // namespace dsinfer::cpu
