// The tensors of a DeepSeek-V4 checkpoint in its released layout (no "model." prefix):
// FP8 projections with UE8M0 `.scale` tensors beside them, routed experts FP4, mHC
// parameters, sinks and compressor position biases in float32.
#include "model/tensor_table.h"

namespace dsinfer {
namespace {

// One block: layers.N (main) or mtp.0 (the MTP block, layer index num_hidden_layers).
void add_v4_block(std::vector<TensorSpec>& out, const ModelConfig& c, const std::string& p, int64_t layer,
                  TensorRole role) {
  const V4Config& v = *c.v4;
  const int64_t D = c.hidden_size;
  const int64_t H = c.num_attention_heads;
  const int64_t hd = v.head_dim;
  const int64_t q_lora = *c.q_lora_rank;
  const int64_t r = v.ratio(layer);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, TensorKind kind,
                 TensorRole tensor_role = TensorRole::kAlways, int64_t expert = -1) {
    out.push_back({p + name, std::move(shape), kind, role == TensorRole::kMtp ? role : tensor_role, layer, expert});
  };
  add("attn_norm.weight", {D}, TensorKind::kNorm);
  add("ffn_norm.weight", {D}, TensorKind::kNorm);
  for (const char* which : {"attn", "ffn"}) {
    const std::string h = std::string("hc_") + which;
    add(h + "_fn", {v.hc_mix(), v.hc_mult * D}, TensorKind::kParameter);
    add(h + "_base", {v.hc_mix()}, TensorKind::kParameter);
    add(h + "_scale", {3}, TensorKind::kParameter);
  }
  add("attn.attn_sink", {H}, TensorKind::kParameter);
  add("attn.wq_a.weight", {q_lora, D}, TensorKind::kProjection);
  add("attn.q_norm.weight", {q_lora}, TensorKind::kNorm);
  add("attn.wq_b.weight", {H * hd, q_lora}, TensorKind::kProjection);
  add("attn.wkv.weight", {hd, D}, TensorKind::kProjection);
  add("attn.kv_norm.weight", {hd}, TensorKind::kNorm);
  add("attn.wo_a.weight", {v.o_groups * v.o_lora_rank, H * hd / v.o_groups}, TensorKind::kProjection);
  add("attn.wo_b.weight", {D, v.o_groups * v.o_lora_rank}, TensorKind::kProjection);
  // Compressors: the CSA one (ratio 4) is twice as wide (overlapping pools).
  auto add_compressor = [&](const std::string& cp, int64_t ratio, int64_t dim) {
    const int64_t width = (ratio == V4Config::kCsaRatio ? 2 : 1) * dim;
    add(cp + "ape", {ratio, width}, TensorKind::kParameter);
    add(cp + "wkv.weight", {width, D}, TensorKind::kRouter);
    add(cp + "wgate.weight", {width, D}, TensorKind::kRouter);
    add(cp + "norm.weight", {dim}, TensorKind::kNorm);
  };
  if (r > 0) add_compressor("attn.compressor.", r, hd);
  if (r == V4Config::kCsaRatio) {
    add("attn.indexer.wq_b.weight", {v.index_n_heads * v.index_head_dim, q_lora}, TensorKind::kProjection);
    add("attn.indexer.weights_proj.weight", {v.index_n_heads, D}, TensorKind::kRouter);
    add_compressor("attn.indexer.compressor.", r, v.index_head_dim);
  }
  const int64_t E = c.n_routed_experts;
  const int64_t I = c.moe_intermediate_size;
  add("ffn.gate.weight", {E, D}, TensorKind::kRouter);
  if (layer < v.num_hash_layers) {
    add("ffn.gate.tid2eid", {c.vocab_size, c.num_experts_per_tok}, TensorKind::kIndexTable);
  } else {
    add("ffn.gate.bias", {E}, TensorKind::kBias);
  }
  for (int64_t e = 0; e < E; ++e) {
    const std::string ep = "ffn.experts." + std::to_string(e) + ".";
    add(ep + "w1.weight", {I, D}, TensorKind::kProjection, TensorRole::kRoutedExpert, e);
    add(ep + "w3.weight", {I, D}, TensorKind::kProjection, TensorRole::kRoutedExpert, e);
    add(ep + "w2.weight", {D, I}, TensorKind::kProjection, TensorRole::kRoutedExpert, e);
  }
  if (c.n_shared_experts > 0) {
    const int64_t S = c.n_shared_experts * I;
    add("ffn.shared_experts.w1.weight", {S, D}, TensorKind::kProjection);
    add("ffn.shared_experts.w3.weight", {S, D}, TensorKind::kProjection);
    add("ffn.shared_experts.w2.weight", {D, S}, TensorKind::kProjection);
  }
}

void add_v4_head(std::vector<TensorSpec>& out, const ModelConfig& c, const std::string& p, TensorRole role,
                 int64_t layer) {
  const V4Config& v = *c.v4;
  out.push_back({p + "hc_head_fn", {v.hc_mult, v.hc_mult * c.hidden_size}, TensorKind::kParameter, role, layer});
  out.push_back({p + "hc_head_base", {v.hc_mult}, TensorKind::kParameter, role, layer});
  out.push_back({p + "hc_head_scale", {1}, TensorKind::kParameter, role, layer});
  out.push_back({p + "norm.weight", {c.hidden_size}, TensorKind::kNorm, role, layer});
}

}  // namespace

std::vector<TensorSpec> v4_tensor_table(const ModelConfig& c) {
  const int64_t D = c.hidden_size;
  std::vector<TensorSpec> out;
  out.push_back({"embed.weight", {c.vocab_size, D}, TensorKind::kEmbedding, TensorRole::kAlways});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    add_v4_block(out, c, "layers." + std::to_string(l) + ".", l, TensorRole::kAlways);
  add_v4_head(out, c, "", TensorRole::kAlways, -1);
  if (!c.tie_word_embeddings) out.push_back({"head.weight", {c.vocab_size, D}, TensorKind::kHead, TensorRole::kAlways});
  const int64_t blocks = c.v4->blocks(c.num_hidden_layers, c.num_nextn_predict_layers);
  for (int64_t i = 0; c.num_hidden_layers + i < blocks; ++i) {
    // The released checkpoints hold one MTP block, mtp.0; more would be mtp.1, ...
    const std::string p = "mtp." + std::to_string(i) + ".";
    const int64_t layer = c.num_hidden_layers + i;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, TensorKind kind) {
      out.push_back({p + name, std::move(shape), kind, TensorRole::kMtp, layer});
    };
    add("e_proj.weight", {D, D}, TensorKind::kProjection);
    add("h_proj.weight", {D, D}, TensorKind::kProjection);
    add("enorm.weight", {D}, TensorKind::kNorm);
    add("hnorm.weight", {D}, TensorKind::kNorm);
    add_v4_block(out, c, p, layer, TensorRole::kMtp);
    add_v4_head(out, c, p, TensorRole::kMtp, layer);
  }
  return out;
}

}  // namespace dsinfer
