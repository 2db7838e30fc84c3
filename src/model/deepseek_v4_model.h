// DeepSeek-V4 (model_type deepseek_v4) written against the op contract: mHC residual
// streams around every sub-block; attention over a sliding window of raw rows plus
// compressed rows (CSA: ratio 4 with a lightning indexer's top-k; HCA: all rows of a
// larger ratio) with per-head sinks and a grouped low-rank output; MoE with hash routing
// in the first layers and sqrt(softplus) scores elsewhere; then the mHC head.
// Its caches (window ring, compressor state, compressed rows) are a V4State, not the MLA
// latent cache.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "backend/ops.h"
#include "formats/weight_source.h"
#include "model/deepseek_model.h"

namespace dsinfer {

class V4State;
struct V4Workspace;  // per-pass scratch (deepseek_v4_workspace.h)

// mHC parameters around one sub-block (or of a head: hc mixes, scale [1]).
struct V4HcWeights {
  std::unique_ptr<PreparedWeight> fn;     // [mix, hc * hidden] float32
  std::unique_ptr<PreparedWeight> base;   // [mix]
  std::unique_ptr<PreparedWeight> scale;  // [3] ([1] for a head)
};

// One compressor: gated pooling of `ratio` positions into one row.
struct V4CompressorWeights {
  std::unique_ptr<PreparedWeight> ape;          // [ratio, width]; width = 2 * dim for CSA, else dim
  std::unique_ptr<PreparedWeight> wkv, wgate;   // [width, hidden]
  std::unique_ptr<PreparedWeight> norm;         // [dim]
};

struct V4IndexerWeights {
  std::unique_ptr<PreparedWeight> wq_b;          // [index_heads * index_head_dim, q_lora_rank]
  std::unique_ptr<PreparedWeight> weights_proj;  // [index_heads, hidden]
  V4CompressorWeights compressor;                // keys, index_head_dim wide
};

struct V4AttentionWeights {
  std::unique_ptr<PreparedWeight> wq_a, q_norm, wq_b, wkv, kv_norm, wo_b, sinks;
  std::vector<std::unique_ptr<PreparedWeight>> wo_a;  // [o_groups] row slices [o_lora_rank, heads * head_dim / o_groups]
  std::optional<V4CompressorWeights> compressor;      // ratio > 0
  std::optional<V4IndexerWeights> indexer;            // ratio == 4
};

struct V4BlockWeights {
  int64_t ratio = 0;  // compress_ratios[layer]
  std::unique_ptr<PreparedWeight> attn_norm, ffn_norm;
  V4HcWeights hc_attn, hc_ffn;
  V4AttentionWeights attention;
  MoeWeights moe;
  std::vector<int32_t> tid2eid;  // hash layers: [vocab, top_k] expert ids; empty otherwise
};

// The MTP block's extra input path and its own head.
struct V4MtpWeights {
  std::unique_ptr<PreparedWeight> e_proj, h_proj, enorm, hnorm, norm;
  V4HcWeights hc_head;
  V4BlockWeights block;
};

// One sequence's part of a batched forward: `tokens` at the next positions of `state`.
struct V4Chunk {
  std::span<const int32_t> tokens;
  V4State* state = nullptr;
  ForwardOptions::Logits logits = ForwardOptions::Logits::kLast;
};

class DeepSeekV4Model {
 public:
  ~DeepSeekV4Model();
  static Result<std::unique_ptr<DeepSeekV4Model>> load(std::unique_ptr<WeightSource> weights, Backend& backend);

  const ModelConfig& config() const { return weights_->config(); }
  const V4Config& v4() const { return *config().v4; }
  Backend& backend() const { return backend_; }
  bool has_mtp() const { return mtp_.has_value(); }

  // Runs `tokens` at the next positions of `state` (prefill chunk or one decode token),
  // updates its caches, and fills `logits` with the last row or all rows.
  Status forward(std::span<const int32_t> tokens, V4State& state, ForwardOptions::Logits which,
                 std::vector<float>& logits);
  // The same for chunks of different sequences in one pass: every weight is applied to all
  // their rows at once, attention and caches stay per sequence. `logits` gets each chunk's
  // rows in order. A chunk's results are those of its own forward call, bit for bit.
  Status forward(std::span<const V4Chunk> chunks, std::vector<float>& logits);
  // MTP logits [T - 1, vocab] of a whole sequence run from position 0: row i from the final
  // streams at position i and token i + 1 (predicting token i + 2). Uses a fresh state.
  Status mtp_logits(std::span<const int32_t> tokens, std::vector<float>& logits);

 private:
  DeepSeekV4Model(std::unique_ptr<WeightSource> weights, Backend& backend);
  Status load_weights();
  Result<V4BlockWeights> load_block(const std::string& prefix, int64_t layer);

  // Each of ws.chunks over its rows of the streams [T, hc * hidden] (every chunk's tokens
  // in `tokens`, in row order) through the main blocks.
  void run_blocks(std::span<const int32_t> tokens, V4Workspace& ws);
  // One block: mHC pre, RMSNorm and attention, mHC post; the same around the MoE.
  void block(const V4BlockWeights& w, int64_t layer, std::span<const int32_t> tokens, V4Workspace& ws);
  // x [T, hidden] (normed) -> attention output [T, hidden] in ws.
  void attention(const V4BlockWeights& w, int64_t layer, V4Workspace& ws);
  // New compressed rows of each chunk into its state's rows of `layer` (main or indexer).
  void compress(const V4CompressorWeights& w, int64_t layer, bool indexer, V4Workspace& ws);
  // One chunk's queries against its sequence's window and compressed rows.
  void attend(const V4AttentionWeights& a, int64_t layer, int64_t ratio, size_t chunk, V4Workspace& ws);
  // streams -> logits rows (each chunk's as it asks) through an mHC head, norm and the LM head.
  void head_logits(const V4HcWeights& hc, const PreparedWeight& norm, V4Workspace& ws, std::vector<float>& logits);

  std::unique_ptr<WeightSource> weights_;
  Backend& backend_;
  RopeTable window_rope_;      // rope_theta, no YaRN: window-only layers
  RopeTable compressed_rope_;  // compress_rope_theta with YaRN: compressed layers and their indexer
  RouterSpec router_spec_;
  std::unique_ptr<PreparedWeight> embed_, head_, norm_;
  std::unique_ptr<PreparedWeight> head_ones_;  // q's per-head RMS has no weight: rms_norm gets ones
  std::vector<float> ones_;
  V4HcWeights hc_head_;
  std::vector<V4BlockWeights> blocks_;
  std::optional<V4MtpWeights> mtp_;
  std::unique_ptr<V4Workspace> ws_;
  std::vector<int32_t> all_tokens_;  // a pass's tokens, chunk after chunk
};

}  // namespace dsinfer
