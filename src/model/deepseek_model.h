// The DeepSeek V2/V3/V3.2 decoder written once against the op contract: embedding, then
// per layer MLA attention (over the lightning indexer's top-k positions for V3.2) and a
// dense SwiGLU MLP or an MoE, then the final norm and lm_head.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "backend/ops.h"
#include "formats/weight_source.h"

namespace dsinfer {

// Where one sequence's latent rows [normed c_kv | roped k_pe] (float32) live. Each layer
// has a pool of rows shared by all sequences, cut into blocks of `block_rows`; position p
// of this sequence is row p % block_rows of block block_table[p / block_rows]. A
// single-sequence cache is one block as long as the context. Owned by the runtime; the
// model writes rows as it runs. A model with the V3.2 lightning indexer also caches one
// indexer key per token and layer: a second pool per layer, paged by the same block table.
struct LatentCacheView {
  std::span<const Tensor> layer_pools;  // [num_hidden_layers], each [blocks * block_rows, latent_dim]
  std::span<const int32_t> block_table;
  int64_t block_rows = 0;
  std::span<const Tensor> index_pools;  // [num_hidden_layers] float32 [blocks * block_rows, index_head_dim]; empty without an indexer
  int64_t capacity() const { return static_cast<int64_t>(block_table.size()) * block_rows; }
};

struct ForwardOptions {
  enum class Logits { kNone, kLast, kAll };
  Logits logits = Logits::kLast;
  // Attention form; by default expanded for a multi-token chunk and absorbed for one token.
  std::optional<MlaForm> attention_form;
};

// One sequence's share of a batched step: `tokens` at positions [start_pos, start_pos + T).
struct SequenceChunk {
  std::span<const int32_t> tokens;
  int64_t start_pos = 0;
  LatentCacheView cache;
  ForwardOptions options;
};

struct AttentionWeights {
  std::unique_ptr<PreparedWeight> q_proj;                        // no q_lora
  std::unique_ptr<PreparedWeight> q_a_proj, q_a_norm, q_b_proj;  // with q_lora
  std::unique_ptr<PreparedWeight> kv_a_proj, kv_a_norm, kv_b_proj, o_proj;
};

// DeepSeek-V3.2's lightning indexer of one layer.
struct IndexerWeights {
  std::unique_ptr<PreparedWeight> wq_b;          // [n_heads * head_dim, q_lora_rank]
  std::unique_ptr<PreparedWeight> wk;            // [head_dim, hidden]
  std::unique_ptr<PreparedWeight> k_norm, k_norm_bias;  // LayerNorm [head_dim]
  std::unique_ptr<PreparedWeight> weights_proj;  // [n_heads, hidden]
};

struct MoeWeights {
  std::unique_ptr<PreparedWeight> router, selection_bias;
  std::vector<std::unique_ptr<PreparedWeight>> expert_tensors;  // owns what `experts` points to
  std::vector<FfnWeights> experts;
  std::optional<FfnWeights> shared;
};

struct LayerWeights {
  std::unique_ptr<PreparedWeight> input_norm, post_attention_norm;
  AttentionWeights attention;
  std::optional<IndexerWeights> indexer;  // deepseek_v32
  std::vector<std::unique_ptr<PreparedWeight>> dense_tensors;
  std::optional<FfnWeights> dense_mlp;  // layers below first_k_dense_replace
  std::optional<MoeWeights> moe;
};

class DeepSeekModel {
 public:
  // Validates every tensor against the config and prepares it on `backend`.
  static Result<std::unique_ptr<DeepSeekModel>> load(std::unique_ptr<WeightSource> weights, Backend& backend);

  const ModelConfig& config() const { return weights_->config(); }
  Backend& backend() const { return backend_; }

  // Runs `tokens` at positions [start_pos, start_pos + T) of the sequence whose cache is
  // `cache` (rows below start_pos must already hold the earlier positions), writes their
  // latent rows, and fills `logits` with [0, 1 or T, vocab_size] rows per `options`.
  Status forward(std::span<const int32_t> tokens, int64_t start_pos, const LatentCacheView& cache,
                 const ForwardOptions& options, std::vector<float>& logits);

  // One step over several sequences at once: every projection and expert runs once over
  // all their tokens; attention runs per sequence over its own cache. `logits` gets each
  // chunk's rows in chunk order. A sequence may appear in several chunks of one step when
  // they are in position order (their latent rows are written before any attention runs).
  // A row's result does not depend on the other rows in the batch.
  Status forward_batch(std::span<const SequenceChunk> chunks, std::vector<float>& logits);

 private:
  DeepSeekModel(std::unique_ptr<WeightSource> weights, Backend& backend);
  Status load_weights();

  // Workspace for a chunk of T tokens.
  struct Activations {
    std::unique_ptr<DeviceBuffer> buffer;
    int64_t tokens = 0;
    Tensor hidden, normed, q_low, q, latent, attention, projected, ffn_gate, ffn_up, ffn_out;
    Tensor index_q, index_k, index_weights;  // V3.2 indexer: [T, heads * dim], [T, dim], [T, heads]
    Tensor selected;                         // V3.2: int32 [T, selection_width()]
  };
  void ensure_activations(int64_t tokens);
  int64_t selection_width() const;
  Status check_chunk(const SequenceChunk& chunk) const;
  void attention_block(int64_t layer, std::span<const SequenceChunk> chunks, std::span<const int32_t> positions);
  // V3.2: the indexer keys of the step's tokens into the cache, then each chunk's
  // top-k selection into act_.selected.
  void indexer_block(int64_t layer, std::span<const SequenceChunk> chunks, std::span<const int32_t> positions);
  // Copies `rows` (the step's tokens in chunk order) to their positions in each chunk's
  // pools (the latent rows or the indexer keys) of `layer`.
  using CachePools = std::span<const Tensor> LatentCacheView::*;
  void write_cache_rows(std::span<const SequenceChunk> chunks, CachePools pools, int64_t layer, Tensor rows);
  void ffn_block(int64_t layer, int64_t tokens);

  std::unique_ptr<WeightSource> weights_;
  Backend& backend_;
  RopeTable rope_;
  float softmax_scale_ = 1.0f;
  RopePairs index_rope_pairs_ = RopePairs::kHalfSplit;
  RouterSpec router_spec_;
  std::unique_ptr<PreparedWeight> embed_, final_norm_, lm_head_;
  std::vector<LayerWeights> layers_;
  Activations act_;
  std::unique_ptr<DeviceBuffer> logits_buffer_;
  int64_t logits_rows_ = 0;
  std::vector<Tensor> pages_;  // the chunks' latent (or indexer key) pages, rebuilt per layer
  std::vector<MlaAttentionArgs> attention_args_;  // one per chunk, rebuilt per layer
};

}  // namespace dsinfer
