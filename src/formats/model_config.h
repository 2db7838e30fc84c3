// config.json of a DeepSeek-architecture checkpoint, read into one plain struct.
// Every variant the model layer needs (q_lora or not, router kind, weight scaling policy)
// is decided here, once, from config fields; nothing downstream inspects sizes to guess.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace dsinfer {

enum class ModelFamily { kDeepSeekV2, kDeepSeekV3, kDeepSeekV4 };  // kimi_k2 and deepseek_v32 are V3-shaped
enum class ScoringFunc { kSoftmax, kSigmoid, kSqrtSoftplus };  // sqrtsoftplus: V4
enum class TopkMethod { kGreedy, kGroupLimitedGreedy, kNoauxTc };

struct YarnScaling {
  double factor = 1.0;
  int64_t original_max_position_embeddings = 4096;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
};

struct Fp8Quantization {
  int64_t block_rows = 128;  // weight_block_size[0]
  int64_t block_cols = 128;  // weight_block_size[1]
  bool ue8m0_scales = false;  // scale_fmt "ue8m0" (V3.1): scales are powers of two
};

// DeepSeek Sparse Attention's lightning indexer (deepseek_v32): per layer it scores every
// earlier position and MLA attends to the `topk` best only.
struct IndexerConfig {
  int64_t n_heads = 0;           // index_n_heads
  int64_t head_dim = 0;          // index_head_dim: a power of two (Hadamard), > qk_rope_head_dim
  int64_t topk = 0;              // index_topk
  bool rope_interleave = false;  // indexer_rope_interleave (GLM-5 configs); V3.2 turns half-split pairs
};

// DeepSeek-V4 (deepseek_v4): no MLA. One K=V head per layer over a sliding window of raw
// rows plus compressed rows (CSA ratio 4 with a lightning indexer, HCA any other ratio),
// mHC residual streams, hash-routed first layers. Fields that V4 shares with V3 (sizes,
// experts, rope_theta, yarn, q_lora_rank, qk_rope_head_dim) stay in ModelConfig.
struct V4Config {
  int64_t head_dim = 0;             // one head's width; K = V
  int64_t num_hash_layers = 0;      // layers [0, num_hash_layers) route by gate.tid2eid[token]
  int64_t o_groups = 0;             // output projection: heads split into o_groups groups
  int64_t o_lora_rank = 0;          //   each projected to o_lora_rank by its slice of wo_a
  double swiglu_limit = 0.0;        // clamp of the expert SwiGLU (0: none)
  int64_t sliding_window = 0;       // raw rows each query sees, itself included
  std::vector<int64_t> compress_ratios;  // per layer (then MTP layers): 0, 4 (CSA) or other (HCA)
  double compress_rope_theta = 0.0; // RoPE base of compressed layers (with YaRN)
  int64_t index_n_heads = 0;        // CSA lightning indexer
  int64_t index_head_dim = 0;
  int64_t index_topk = 0;
  int64_t hc_mult = 1;              // residual streams
  int64_t hc_sinkhorn_iters = 0;
  double hc_eps = 0.0;

  static constexpr int64_t kCsaRatio = 4;  // the ratio with overlapping pools and an indexer
  int64_t ratio(int64_t layer) const { return compress_ratios[static_cast<size_t>(layer)]; }
  // Blocks (main, then MTP) that have a compress ratio: the MTP blocks beyond it are skipped.
  int64_t blocks(int64_t num_hidden_layers, int64_t num_nextn_predict_layers) const {
    return std::min<int64_t>(num_hidden_layers + num_nextn_predict_layers, static_cast<int64_t>(compress_ratios.size()));
  }
  int64_t hc_mix() const { return (2 + hc_mult) * hc_mult; }  // pre, post, comb mixes per sub-block
};

struct ModelConfig {
  std::string model_type;  // as written: deepseek_v2, deepseek_v3, kimi_k2, deepseek_v32
  ModelFamily family = ModelFamily::kDeepSeekV3;

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;   // transformer blocks; MTP layers come after these
  int64_t num_nextn_predict_layers = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;

  // MLA
  int64_t num_attention_heads = 0;
  std::optional<int64_t> q_lora_rank;  // absent: plain q_proj (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  double rope_theta = 10000.0;
  std::optional<YarnScaling> yarn;

  // Dense MLP (layers below first_k_dense_replace)
  int64_t intermediate_size = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;

  // MoE
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  ScoringFunc scoring_func = ScoringFunc::kSoftmax;
  TopkMethod topk_method = TopkMethod::kGreedy;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;

  std::optional<Fp8Quantization> fp8;
  std::optional<IndexerConfig> indexer;  // deepseek_v32 only
  std::optional<V4Config> v4;            // deepseek_v4 only

  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  int64_t latent_dim() const { return kv_lora_rank + qk_rope_head_dim; }  // cached per token per layer
  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  // How routing weights are post-processed (the model_type-dependent rule of MODEL-NOTES).
  bool router_normalizes() const;
  double router_weight_scale() const;
  // Attention softmax scale including the YaRN mscale correction.
  double softmax_scale() const;
};

Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& origin);
// The consistency checks parse_model_config applies (positive sizes, experts vs groups,
// ...), for configs built from other sources (GGUF metadata).
Status validate_model_config(const ModelConfig& config, const std::string& origin);
Result<ModelConfig> load_model_config(const std::string& model_dir);

}  // namespace dsinfer
