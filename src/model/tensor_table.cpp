#include "model/tensor_table.h"

namespace dsinfer {

std::string tensor_names::layer_prefix(int64_t layer) { return "model.layers." + std::to_string(layer) + "."; }

namespace {

// The tensors of one decoder block (attention + dense MLP or MoE).
void add_block(std::vector<TensorSpec>& out, const ModelConfig& c, int64_t layer, TensorRole role) {
  const std::string p = tensor_names::layer_prefix(layer);
  const int64_t H = c.hidden_size;
  const int64_t heads = c.num_attention_heads;
  auto add = [&](std::string name, std::vector<int64_t> shape, TensorKind kind, TensorRole r = TensorRole::kAlways,
                 int64_t expert = -1) {
    out.push_back({p + name, std::move(shape), kind, role == TensorRole::kMtp ? TensorRole::kMtp : r, layer, expert});
  };

  add("input_layernorm.weight", {H}, TensorKind::kNorm);
  if (c.q_lora_rank) {
    add("self_attn.q_a_proj.weight", {*c.q_lora_rank, H}, TensorKind::kProjection);
    add("self_attn.q_a_layernorm.weight", {*c.q_lora_rank}, TensorKind::kNorm);
    add("self_attn.q_b_proj.weight", {heads * c.qk_head_dim(), *c.q_lora_rank}, TensorKind::kProjection);
  } else {
    add("self_attn.q_proj.weight", {heads * c.qk_head_dim(), H}, TensorKind::kProjection);
  }
  add("self_attn.kv_a_proj_with_mqa.weight", {c.latent_dim(), H}, TensorKind::kProjection);
  add("self_attn.kv_a_layernorm.weight", {c.kv_lora_rank}, TensorKind::kNorm);
  add("self_attn.kv_b_proj.weight", {heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank},
      TensorKind::kProjection);
  add("self_attn.o_proj.weight", {H, heads * c.v_head_dim}, TensorKind::kProjection);
  if (c.indexer) {
    // DeepSeek Sparse Attention's lightning indexer: queries from the q latent, one shared
    // key per token (LayerNorm with bias), and per-head weights from the hidden state.
    const int64_t ihd = c.indexer->head_dim;
    add("self_attn.indexer.wq_b.weight", {c.indexer->n_heads * ihd, *c.q_lora_rank}, TensorKind::kProjection);
    add("self_attn.indexer.wk.weight", {ihd, H}, TensorKind::kProjection);
    add("self_attn.indexer.k_norm.weight", {ihd}, TensorKind::kNorm);
    add("self_attn.indexer.k_norm.bias", {ihd}, TensorKind::kBias);
    add("self_attn.indexer.weights_proj.weight", {c.indexer->n_heads, H}, TensorKind::kRouter);
  }
  add("post_attention_layernorm.weight", {H}, TensorKind::kNorm);

  if (!c.is_moe_layer(layer)) {
    add("mlp.gate_proj.weight", {c.intermediate_size, H}, TensorKind::kProjection);
    add("mlp.up_proj.weight", {c.intermediate_size, H}, TensorKind::kProjection);
    add("mlp.down_proj.weight", {H, c.intermediate_size}, TensorKind::kProjection);
    return;
  }
  const int64_t I = c.moe_intermediate_size;
  add("mlp.gate.weight", {c.n_routed_experts, H}, TensorKind::kRouter);
  if (c.topk_method == TopkMethod::kNoauxTc) add("mlp.gate.e_score_correction_bias", {c.n_routed_experts}, TensorKind::kBias);
  for (int64_t e = 0; e < c.n_routed_experts; ++e) {
    const std::string ep = "mlp.experts." + std::to_string(e) + ".";
    add(ep + "gate_proj.weight", {I, H}, TensorKind::kProjection, TensorRole::kRoutedExpert, e);
    add(ep + "up_proj.weight", {I, H}, TensorKind::kProjection, TensorRole::kRoutedExpert, e);
    add(ep + "down_proj.weight", {H, I}, TensorKind::kProjection, TensorRole::kRoutedExpert, e);
  }
  if (c.n_shared_experts > 0) {
    const int64_t S = c.n_shared_experts * I;
    add("mlp.shared_experts.gate_proj.weight", {S, H}, TensorKind::kProjection);
    add("mlp.shared_experts.up_proj.weight", {S, H}, TensorKind::kProjection);
    add("mlp.shared_experts.down_proj.weight", {H, S}, TensorKind::kProjection);
  }
}

// An MTP layer: its own embedding and head, two input norms, a projection of the
// concatenated [embedding | hidden], then a full decoder block.
void add_mtp_layer(std::vector<TensorSpec>& out, const ModelConfig& c, int64_t layer) {
  const std::string p = tensor_names::layer_prefix(layer);
  const int64_t H = c.hidden_size;
  auto add = [&](std::string name, std::vector<int64_t> shape, TensorKind kind) {
    out.push_back({p + name, std::move(shape), kind, TensorRole::kMtp, layer, -1});
  };
  add("embed_tokens.weight", {c.vocab_size, H}, TensorKind::kEmbedding);
  add("enorm.weight", {H}, TensorKind::kNorm);
  add("hnorm.weight", {H}, TensorKind::kNorm);
  add("eh_proj.weight", {H, 2 * H}, TensorKind::kProjection);
  add_block(out, c, layer, TensorRole::kMtp);
  add("shared_head.norm.weight", {H}, TensorKind::kNorm);
  add("shared_head.head.weight", {c.vocab_size, H}, TensorKind::kHead);
}

}  // namespace

std::vector<TensorSpec> tensor_table(const ModelConfig& c) {
  if (c.v4) return v4_tensor_table(c);
  std::vector<TensorSpec> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, TensorKind::kEmbedding,
                 TensorRole::kAlways});
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) add_block(out, c, layer, TensorRole::kAlways);
  out.push_back({"model.norm.weight", {c.hidden_size}, TensorKind::kNorm, TensorRole::kAlways});
  if (!c.tie_word_embeddings)
    out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}, TensorKind::kHead, TensorRole::kAlways});
  for (int64_t i = 0; i < c.num_nextn_predict_layers; ++i) add_mtp_layer(out, c, c.num_hidden_layers + i);
  return out;
}

}  // namespace dsinfer
