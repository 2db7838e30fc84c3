// The op contract: everything the model layer asks of a device. Porting dsinfer to a new
// chip means implementing this interface and passing tests/backend/ (every op against the
// reference backend), and nothing else.
//
// Conventions
// - Activations are float32 Tensors (2-D views with a row stride) in memory the backend
//   allocated. Weights stay in their stored dtype (F32, BF16, F16, FP8 E4M3 with block
//   scales); `prepare_weight` lets a backend repack each one once at load.
// - A backend may run ops immediately (CPU) or enqueue them on its stream; results are
//   visible to the host after `synchronize()`.
// - Ops validate nothing that the model layer already validated at load; they must not
//   be reachable with unchecked user input (token ids are checked before `embedding`).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace dsinfer {

// A weight as a backend holds it after prepare_weight (possibly repacked).
class PreparedWeight {
 public:
  virtual ~PreparedWeight() = default;
  virtual const WeightView& view() const = 0;  // the stored tensor it was prepared from
};

// Memory a backend allocated for activations or caches.
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  virtual void* data() = 0;
  virtual size_t size() const = 0;
};

// RoPE frequencies, precomputed once per model (YaRN blending included): position p
// rotates pair i by angle p * inv_freq[i]; cos/sin are multiplied by `attention_factor`.
struct RopeTable {
  std::vector<float> inv_freq;  // [rope_dim / 2]
  float attention_factor = 1.0f;
};

// Which dims of a head's rope part turn together as pair i.
enum class RopePairs {
  kInterleaved,  // (2i, 2i + 1): MLA in the official DeepSeek code
  kHalfSplit,    // (i, i + rope_dim / 2): the V3.2 lightning indexer
};

struct RopeArgs {
  Tensor x;                 // [T, n_heads * head_dim], rotated in place
  int64_t head_dim = 0;     // stride between heads within a row
  int64_t rope_offset = 0;  // first rotated dim inside each head
  int64_t rope_dim = 0;     // rotated dims
  std::span<const int32_t> positions;  // [T]
  const RopeTable* table = nullptr;
  RopePairs pairs = RopePairs::kInterleaved;
};

enum class MlaForm {
  kExpanded,  // expand the latent into per-head K and V (prefill)
  kAbsorbed,  // fold kv_b's K half into q and its V half after attention (decode)
};

// One sequence's latent rows [normed c_kv | roped k_pe] as the paged cache holds them:
// position p is row p % page_rows of pages[p / page_rows]. A contiguous cache is one page.
// Pages are float32, or F16/BF16/Q8_0 for a compact cache (row() is for float32 only).
struct LatentRows {
  const Tensor* pages = nullptr;  // each [page_rows, kv_lora_rank + rope]
  int64_t page_rows = 0;
  int64_t length = 0;             // positions held: start_pos + T

  static LatentRows contiguous(const Tensor& rows) { return {&rows, rows.rows, rows.rows}; }
  DType dtype() const { return pages[0].dtype; }
  const float* row(int64_t p) const { return pages[p / page_rows].f32_row(p % page_rows); }
  const void* row_data(int64_t p) const { return pages[p / page_rows].row_data(p % page_rows); }
  // Rows [begin, begin + count) of the page holding `begin`, capped at the page's end.
  Tensor page_run(int64_t begin, int64_t count) const {
    const int64_t in_page = begin % page_rows;
    return pages[begin / page_rows].row_slice(in_page, std::min(count, page_rows - in_page));
  }
};

// Multi-head latent attention over one sequence's latent cache.
// With `visible`, query row t attends only to the cached positions listed in row t
// (ascending, padded with -1; DeepSeek Sparse Attention's selection from indexer_topk).
// Without it, every position up to its own. Listing all of them gives the same result,
// bit for bit, as passing none.
struct MlaAttentionArgs {
  Tensor out;         // [T, n_heads * v_head_dim]
  Tensor q;           // [T, n_heads * (nope + rope)], RoPE already applied to each head's rope part
  LatentRows latent;  // start_pos + T rows
  const PreparedWeight* kv_b = nullptr;  // [n_heads * (nope + v_head_dim), kv_lora_rank]
  int64_t n_heads = 0;
  int64_t nope_dim = 0;
  int64_t rope_dim = 0;
  int64_t v_head_dim = 0;
  int64_t kv_lora_rank = 0;
  int64_t start_pos = 0;  // query row t sits at position start_pos + t and sees rows [0, start_pos + t]
  float softmax_scale = 1.0f;
  MlaForm form = MlaForm::kExpanded;
  std::optional<Tensor> visible;  // int32 [T, k]
};

// The V3.2 lightning indexer's choice, per query row t at position start_pos + t, of
// the `top_k` cached positions p <= start_pos + t with the highest scores
//   score(t, p) = weight_scale * sum_h weights[t, h] * relu(q[t, h] . keys[p])
// (ties: the lower position; all of them while there are no more than top_k). Row t of
// `selected` gets the chosen positions ascending, then -1 up to its end.
struct IndexerTopkArgs {
  Tensor selected;  // int32 [T, top_k]
  Tensor q;         // [T, n_heads * head_dim]
  Tensor weights;   // [T, n_heads]
  LatentRows keys;  // start_pos + T rows of [head_dim], float32, paged like the latent rows
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  int64_t top_k = 0;
  int64_t start_pos = 0;
  float weight_scale = 1.0f;
};

// DeepSeek-V4 attention: every query head attends over rows that are both key and value
// (one KV head): raw rows of the sliding window and compressed rows. Row t of `visible`
// lists the rows query t sees (-1 padded; index i < raw.rows is raw row i, otherwise
// compressed row i - raw.rows). A learned per-head sink logit joins the softmax
// denominator only:  o_h = sum_n e^(l_n) row_n / (sum_n e^(l_n) + e^(sink_h)),
// l_n = softmax_scale * q_h . row_n.
struct SinkAttentionArgs {
  Tensor out;         // [T, n_heads * head_dim]
  Tensor q;           // [T, n_heads * head_dim]
  Tensor raw;         // [Nr, head_dim]
  Tensor compressed;  // [Nc, head_dim] (may have no rows)
  Tensor visible;     // int32 [T, k]
  const PreparedWeight* sinks = nullptr;  // [n_heads]
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  float softmax_scale = 1.0f;
};

// mHC, before a sub-block (or the final head): from the hc residual streams and their
// mixes (streams @ fn^T, by matmul), with r = 1 / sqrt(mean(streams^2) + norm_eps) per row:
//   pre  = sigmoid(r mixes[:hc] * scale[0] + base[:hc]) + hc_eps;   x = sum_j pre[j] stream[j]
//   post = 2 sigmoid(r mixes[hc:2hc] * scale[1] + base[hc:2hc])
//   comb = Sinkhorn(r mixes[2hc:] * scale[2] + base[2hc:]) as [source j, target k]: row
//          softmax + hc_eps, column normalise, then (iters - 1) x (row, column), each
//          dividing by sum + hc_eps.
// With `head` (the final collapse) mixes has hc columns and only x is produced.
struct HcPreArgs {
  Tensor x;        // [T, hidden]
  Tensor post;     // [T, hc] (unused with head)
  Tensor comb;     // [T, hc * hc] (unused with head)
  Tensor streams;  // [T, hc * hidden]
  Tensor mixes;    // [T, (2 + hc) * hc], or [T, hc] with head
  const PreparedWeight* scale = nullptr;  // [3], or [1] with head
  const PreparedWeight* base = nullptr;   // [(2 + hc) * hc], or [hc] with head
  int64_t hc = 1;
  int64_t sinkhorn_iters = 1;
  float hc_eps = 0.0f;
  float norm_eps = 1e-6f;
  bool head = false;
};

// mHC after a sub-block: out[k] = post[k] f + sum_j comb[j, k] residual[j] per stream k.
// out must not alias residual.
struct HcPostArgs {
  Tensor out;       // [T, hc * hidden]
  Tensor f;         // [T, hidden]
  Tensor residual;  // [T, hc * hidden]
  Tensor post;      // [T, hc]
  Tensor comb;      // [T, hc * hc]
  int64_t hc = 1;
};

// DeepSeek-V4's compressor: compressed row b pools the `ratio` positions [b r, (b+1) r)
// with a per-dimension softmax over score + ape[p % r] weighting kv. With `overlap`
// (CSA, ratio 4) projections are 2 * dim wide and the pool also covers the previous block:
// its positions contribute their first half, the current block's their second half
// (block 0 has no previous block). A position's projections [kv | score] (width 2 * w,
// w = dim or 2 * dim) are row p - chunk_start of `chunk` for p >= chunk_start, else row
// p % state.rows of `state` (the ring of earlier positions a decoder carries).
struct CompressPoolArgs {
  Tensor out;    // [blocks, dim]: rows of blocks first_block, first_block + 1, ...
  Tensor chunk;  // [T, 2 * w]
  Tensor state;  // [ring, 2 * w]; ring >= 2 r with overlap, else r
  const PreparedWeight* ape = nullptr;  // [ratio, w]
  int64_t chunk_start = 0;
  int64_t first_block = 0;
  int64_t ratio = 0;
  int64_t dim = 0;
  bool overlap = false;
};

enum class RouterScoring { kSoftmax, kSigmoid, kSqrtSoftplus };
enum class RouterSelection {
  kTopK,               // plain top-k over all experts
  kGroupMaxTopK,       // keep topk_group groups ranked by their best expert, then top-k
  kGroupTop2SumTopK,   // keep topk_group groups ranked by the sum of their two best, then top-k
};

// How a token chooses experts and weighs them.
struct RouterSpec {
  RouterScoring scoring = RouterScoring::kSoftmax;
  RouterSelection selection = RouterSelection::kTopK;
  int64_t top_k = 1;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool normalize = false;    // divide the chosen weights by their sum (+1e-20)
  float weight_scale = 1.0f; // then multiply by this
};

// One SwiGLU FFN: down(silu(gate(x)) * up(x)).
struct FfnWeights {
  const PreparedWeight* gate = nullptr;  // [inter, hidden]
  const PreparedWeight* up = nullptr;    // [inter, hidden]
  const PreparedWeight* down = nullptr;  // [hidden, inter]
};

struct MoeArgs {
  Tensor out;  // [T, hidden]
  Tensor x;    // [T, hidden]
  const PreparedWeight* router = nullptr;          // [n_experts, hidden]
  const PreparedWeight* selection_bias = nullptr;  // [n_experts] added for selection only, or null
  std::span<const FfnWeights> experts;             // [n_experts]
  std::optional<FfnWeights> shared;                // shared experts as one wide FFN
  RouterSpec spec;
  // Experts fixed per token instead of chosen by score (V4's hash layers): [T * top_k],
  // token t's at [t * top_k, (t + 1) * top_k). Their weights are still the scores.
  std::span<const int32_t> fixed_experts;
  // > 0: every expert (routed and shared) computes silu(min(gate, L)) * clamp(up, -L, L).
  float swiglu_limit = 0.0f;
};

// One product of Backend::matmuls: out = x @ w^T.
struct MatmulTask {
  Tensor out;
  Tensor x;
  const PreparedWeight* w = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;

  virtual std::unique_ptr<DeviceBuffer> allocate(size_t bytes) = 0;
  virtual Result<std::unique_ptr<PreparedWeight>> prepare_weight(const WeightView& weight) = 0;
  virtual void synchronize() = 0;
  // Copies a float32 tensor to host memory (row after row); waits for pending ops.
  virtual void download(Tensor src, float* dst) = 0;

  // out[t] = row ids[t] of table [vocab, hidden]. Ids are in range (checked by the caller).
  virtual void embedding(Tensor out, const PreparedWeight& table, std::span<const int32_t> ids) = 0;
  // out = x / sqrt(mean(x^2) + eps) * weight, per row. out may alias x.
  virtual void rms_norm(Tensor out, Tensor x, const PreparedWeight& weight, float eps) = 0;
  // out = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, per row. out may alias x.
  virtual void layer_norm(Tensor out, Tensor x, const PreparedWeight& weight, const PreparedWeight& bias,
                          float eps) = 0;
  // Each row (cols a power of two) <- its orthonormal Walsh-Hadamard transform, Sylvester
  // order H[i][j] = (-1)^popcount(i & j) / sqrt(cols), in place.
  virtual void hadamard(Tensor x) = 0;
  // Each block of `block` values of a row <- its FP8 E4M3 quantise-dequantise round trip
  // (round to nearest even) with scale s = max(amax, 1e-4) / 448, rounded up to a power of
  // two when `pow2_scales`: what the V3.2 indexer's FP8 activations hold. In place.
  virtual void fp8_round_trip(Tensor x, int64_t block, bool pow2_scales) = 0;
  // Each block of `block` values <- its FP4 E2M1 round trip (round to nearest even) with
  // the power-of-two scale s = 2^ceil(log2(max(amax, 6 * 2^-126) / 6)): V4's indexer
  // queries and keys. In place.
  virtual void fp4_round_trip(Tensor x, int64_t block) = 0;
  virtual void rope(const RopeArgs& args) = 0;
  // dst = src, same shape; src float32, dst float32 or a compact cache type (F16, BF16,
  // Q8_0 with cols a multiple of 32): cache writes.
  virtual void copy(Tensor dst, Tensor src) = 0;
  // out = a + b elementwise. out may alias a or b.
  virtual void add(Tensor out, Tensor a, Tensor b) = 0;
  // out = silu(gate) * up elementwise.
  virtual void silu_and_mul(Tensor out, Tensor gate, Tensor up) = 0;
  // out[T, N] = x[T, K] @ W[N, K]^T, W in its stored dtype, float32 accumulation.
  virtual void matmul(Tensor out, Tensor x, const PreparedWeight& w) = 0;
  // Independent products, each with the bits matmul gives it; no output may overlap an
  // input or another output. One call lets a backend run them as one parallel loop: in
  // decode a product of a megabyte or two costs about as much again in fork-join, idle
  // waits and stream ramp-up as in streaming its weights.
  virtual void matmuls(std::span<const MatmulTask> tasks) {
    for (const MatmulTask& t : tasks) matmul(t.out, t.x, *t.w);
  }
  // Index of the largest value of each row (first one on ties).
  virtual void argmax(std::span<int32_t> out, Tensor x) = 0;

  // Fused ops.
  virtual void mla_attention(const MlaAttentionArgs& args) = 0;
  // Several sequences' attention (a server step's), each with the bits mla_attention
  // gives it; no output may overlap an input or another output. One call lets a backend
  // run every sequence's decode rows as one parallel loop per stage: on the CPU, sixteen
  // sequences' attention in a V2-Lite-shaped layer took 30-35% less time in one call
  // than in sixteen (docs/benchmarks.md, Serving, session 15).
  virtual void mla_attentions(std::span<const MlaAttentionArgs> batch) {
    for (const MlaAttentionArgs& a : batch) mla_attention(a);
  }
  virtual void indexer_topk(const IndexerTopkArgs& args) = 0;
  virtual void moe_ffn(const MoeArgs& args) = 0;
  // DeepSeek-V4 parts.
  virtual void sink_attention(const SinkAttentionArgs& args) = 0;
  virtual void hc_pre(const HcPreArgs& args) = 0;
  virtual void hc_post(const HcPostArgs& args) = 0;
  virtual void compress_pool(const CompressPoolArgs& args) = 0;
};

}  // namespace dsinfer
