// The DeepSeek V2/V3 decoder written once against the op contract: embedding, then per
// layer MLA attention and a dense SwiGLU MLP or an MoE, then the final norm and lm_head.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "backend/ops.h"
#include "formats/weight_source.h"

namespace dsinfer {

// One sequence's latent cache: per layer, rows of [normed c_kv | roped k_pe] (float32),
// row p holding position p. Owned by the runtime; the model writes rows as it runs.
struct LatentCacheView {
  std::vector<Tensor> layers;  // [capacity, kv_lora_rank + qk_rope_head_dim] each
  int64_t capacity() const { return layers.empty() ? 0 : layers.front().rows; }
};

struct ForwardOptions {
  enum class Logits { kLast, kAll };
  Logits logits = Logits::kLast;
  // Attention form; by default expanded for a multi-token chunk and absorbed for one token.
  std::optional<MlaForm> attention_form;
};

struct AttentionWeights {
  std::unique_ptr<PreparedWeight> q_proj;                        // no q_lora
  std::unique_ptr<PreparedWeight> q_a_proj, q_a_norm, q_b_proj;  // with q_lora
  std::unique_ptr<PreparedWeight> kv_a_proj, kv_a_norm, kv_b_proj, o_proj;
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
  // latent rows, and fills `logits` with [1 or T, vocab_size] rows per `options`.
  Status forward(std::span<const int32_t> tokens, int64_t start_pos, const LatentCacheView& cache,
                 const ForwardOptions& options, std::vector<float>& logits);

 private:
  DeepSeekModel(std::unique_ptr<WeightSource> weights, Backend& backend);
  Status load_weights();

  // Workspace for a chunk of T tokens.
  struct Activations {
    std::unique_ptr<DeviceBuffer> buffer;
    int64_t tokens = 0;
    Tensor hidden, normed, q_low, q, attention, projected, ffn_gate, ffn_up, ffn_out;
  };
  void ensure_activations(int64_t tokens);
  void attention_block(int64_t layer, std::span<const int32_t> positions, int64_t start_pos,
                       const LatentCacheView& cache, MlaForm form);
  void ffn_block(int64_t layer, int64_t tokens);

  std::unique_ptr<WeightSource> weights_;
  Backend& backend_;
  RopeTable rope_;
  float softmax_scale_ = 1.0f;
  RouterSpec router_spec_;
  std::unique_ptr<PreparedWeight> embed_, final_norm_, lm_head_;
  std::vector<LayerWeights> layers_;
  Activations act_;
  std::unique_ptr<DeviceBuffer> logits_buffer_;
  int64_t logits_rows_ = 0;
};

}  // namespace dsinfer
