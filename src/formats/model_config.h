// config.json of a DeepSeek-architecture checkpoint, read into one plain struct.
// Every variant the model layer needs (q_lora or not, router kind, weight scaling policy)
// is decided here, once, from config fields; nothing downstream inspects sizes to guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace dsinfer {

enum class ModelFamily { kDeepSeekV2, kDeepSeekV3 };  // kimi_k2 and deepseek_v32 are V3-shaped
enum class ScoringFunc { kSoftmax, kSigmoid };
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
