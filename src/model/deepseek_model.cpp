#include "model/deepseek_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "model/rope_table.h"
#include "model/tensor_table.h"

namespace dsinfer {
namespace {

// Stored types each kind of tensor may have: FP8 (with block scales) comes from FP8
// checkpoints, the GGUF block formats from .gguf files, which quantize projections,
// embedding and head but keep norms, router and bias in F32 (as llama.cpp does).
std::vector<DType> allowed_dtypes(TensorKind kind) {
  switch (kind) {
    case TensorKind::kProjection:
      return {DType::kBF16, DType::kF16,  DType::kF32,  DType::kF8E4M3, DType::kQ8_0, DType::kQ4_0,
              DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ5_K,   DType::kQ6_K, DType::kQ2_K,
              DType::kQ3_K, DType::kIQ4_NL, DType::kIQ4_XS, DType::kIQ2_XXS, DType::kIQ2_XS, DType::kIQ2_S,
              DType::kIQ3_XXS, DType::kIQ3_S, DType::kIQ1_S, DType::kIQ1_M};
    case TensorKind::kEmbedding:
    case TensorKind::kHead:
      return {DType::kBF16, DType::kF16,  DType::kF32,  DType::kQ8_0, DType::kQ4_0,
              DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
              DType::kQ2_K, DType::kQ3_K, DType::kIQ4_NL, DType::kIQ4_XS, DType::kIQ2_XXS, DType::kIQ2_XS,
              DType::kIQ2_S, DType::kIQ3_XXS, DType::kIQ3_S, DType::kIQ1_S, DType::kIQ1_M};
    case TensorKind::kBias:
    case TensorKind::kNorm:
    case TensorKind::kRouter:
      return {DType::kBF16, DType::kF16, DType::kF32};
    case TensorKind::kParameter:
      return {DType::kF32};
    case TensorKind::kIndexTable:
      return {DType::kI64, DType::kI32};
  }
  return {};
}

RouterSpec router_spec(const ModelConfig& c) {
  RouterSpec spec;
  spec.scoring = c.scoring_func == ScoringFunc::kSigmoid ? RouterScoring::kSigmoid : RouterScoring::kSoftmax;
  switch (c.topk_method) {
    case TopkMethod::kGreedy: spec.selection = RouterSelection::kTopK; break;
    case TopkMethod::kGroupLimitedGreedy: spec.selection = RouterSelection::kGroupMaxTopK; break;
    case TopkMethod::kNoauxTc: spec.selection = RouterSelection::kGroupTop2SumTopK; break;
  }
  spec.top_k = c.num_experts_per_tok;
  spec.n_group = c.n_group;
  spec.topk_group = c.topk_group;
  spec.normalize = c.router_normalizes();
  spec.weight_scale = static_cast<float>(c.router_weight_scale());
  return spec;
}

// The first `tokens` rows of a workspace tensor.
Tensor rows(const Tensor& t, int64_t tokens) { return t.row_slice(0, tokens); }

}  // namespace

DeepSeekModel::DeepSeekModel(std::unique_ptr<WeightSource> weights, Backend& backend)
    : weights_(std::move(weights)), backend_(backend) {}

Result<std::unique_ptr<DeepSeekModel>> DeepSeekModel::load(std::unique_ptr<WeightSource> weights, Backend& backend) {
  if (weights->config().v4)
    return error("{}: deepseek_v4 is not an MLA model and this command does not take it yet (logits, run, chat, "
                 "bench, inspect, serve and bench-serve do)",
                 weights->path());
  auto model = std::unique_ptr<DeepSeekModel>(new DeepSeekModel(std::move(weights), backend));
  DSINFER_RETURN_IF_ERROR(model->load_weights().with_context("loading " + model->weights_->path()));
  return model;
}

// Looks tensors up in the checkpoint by name, checks them against the tensor table and
// prepares them on the backend.
class WeightLoader {
 public:
  WeightLoader(const WeightSource& weights, Backend& backend) : weights_(weights), backend_(backend) {
    for (auto& spec : tensor_table(weights.config())) specs_.emplace(spec.name, std::move(spec));
  }
  Result<std::unique_ptr<PreparedWeight>> operator()(const std::string& name) const {
    auto it = specs_.find(name);
    if (it == specs_.end()) return error("internal: tensor '{}' is not in the tensor table", name);
    DSINFER_ASSIGN_OR_RETURN(WeightView view,
                             weights_.get(name, it->second.shape, allowed_dtypes(it->second.kind)));
    return backend_.prepare_weight(view);
  }

 private:
  const WeightSource& weights_;
  Backend& backend_;
  std::unordered_map<std::string, TensorSpec> specs_;
};

namespace {

Result<FfnWeights> load_ffn(const WeightLoader& load, const std::string& prefix,
                            std::vector<std::unique_ptr<PreparedWeight>>& owner) {
  FfnWeights ffn;
  const std::pair<const char*, const PreparedWeight**> parts[] = {
      {"gate_proj.weight", &ffn.gate}, {"up_proj.weight", &ffn.up}, {"down_proj.weight", &ffn.down}};
  for (const auto& [name, slot] : parts) {
    DSINFER_ASSIGN_OR_RETURN(auto weight, load(prefix + name));
    *slot = weight.get();
    owner.push_back(std::move(weight));
  }
  return ffn;
}

}  // namespace

Status DeepSeekModel::load_weights() {
  const ModelConfig& c = config();
  const WeightLoader load(*weights_, backend_);
  softmax_scale_ = static_cast<float>(c.softmax_scale());
  router_spec_ = router_spec(c);
  if (c.indexer && c.indexer->rope_interleave) index_rope_pairs_ = RopePairs::kInterleaved;

  DSINFER_ASSIGN_OR_RETURN(embed_, load("model.embed_tokens.weight"));
  DSINFER_ASSIGN_OR_RETURN(final_norm_, load("model.norm.weight"));
  DSINFER_ASSIGN_OR_RETURN(lm_head_, load(c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight"));

  layers_.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    LayerWeights& layer = layers_[l];
    const std::string p = tensor_names::layer_prefix(l);
    DSINFER_ASSIGN_OR_RETURN(layer.input_norm, load(p + "input_layernorm.weight"));
    DSINFER_ASSIGN_OR_RETURN(layer.post_attention_norm, load(p + "post_attention_layernorm.weight"));
    AttentionWeights& a = layer.attention;
    if (c.q_lora_rank) {
      DSINFER_ASSIGN_OR_RETURN(a.q_a_proj, load(p + "self_attn.q_a_proj.weight"));
      DSINFER_ASSIGN_OR_RETURN(a.q_a_norm, load(p + "self_attn.q_a_layernorm.weight"));
      DSINFER_ASSIGN_OR_RETURN(a.q_b_proj, load(p + "self_attn.q_b_proj.weight"));
    } else {
      DSINFER_ASSIGN_OR_RETURN(a.q_proj, load(p + "self_attn.q_proj.weight"));
    }
    DSINFER_ASSIGN_OR_RETURN(a.kv_a_proj, load(p + "self_attn.kv_a_proj_with_mqa.weight"));
    DSINFER_ASSIGN_OR_RETURN(a.kv_a_norm, load(p + "self_attn.kv_a_layernorm.weight"));
    DSINFER_ASSIGN_OR_RETURN(a.kv_b_proj, load(p + "self_attn.kv_b_proj.weight"));
    DSINFER_ASSIGN_OR_RETURN(a.o_proj, load(p + "self_attn.o_proj.weight"));
    if (c.indexer) {
      IndexerWeights& ix = layer.indexer.emplace();
      DSINFER_ASSIGN_OR_RETURN(ix.wq_b, load(p + "self_attn.indexer.wq_b.weight"));
      DSINFER_ASSIGN_OR_RETURN(ix.wk, load(p + "self_attn.indexer.wk.weight"));
      DSINFER_ASSIGN_OR_RETURN(ix.k_norm, load(p + "self_attn.indexer.k_norm.weight"));
      DSINFER_ASSIGN_OR_RETURN(ix.k_norm_bias, load(p + "self_attn.indexer.k_norm.bias"));
      DSINFER_ASSIGN_OR_RETURN(ix.weights_proj, load(p + "self_attn.indexer.weights_proj.weight"));
    }

    if (!c.is_moe_layer(l)) {
      DSINFER_ASSIGN_OR_RETURN(layer.dense_mlp, load_ffn(load, p + "mlp.", layer.dense_tensors));
      continue;
    }
    MoeWeights& moe = layer.moe.emplace();
    DSINFER_ASSIGN_OR_RETURN(moe.router, load(p + "mlp.gate.weight"));
    if (c.topk_method == TopkMethod::kNoauxTc) {
      DSINFER_ASSIGN_OR_RETURN(moe.selection_bias, load(p + "mlp.gate.e_score_correction_bias"));
    }
    for (int64_t e = 0; e < c.n_routed_experts; ++e) {
      DSINFER_ASSIGN_OR_RETURN(FfnWeights expert,
                               load_ffn(load, p + "mlp.experts." + std::to_string(e) + ".", moe.expert_tensors));
      moe.experts.push_back(expert);
    }
    if (c.n_shared_experts > 0) {
      DSINFER_ASSIGN_OR_RETURN(moe.shared, load_ffn(load, p + "mlp.shared_experts.", moe.expert_tensors));
    }
  }
  // After the weights: their shapes have checked qk_rope_head_dim against the checkpoint,
  // so a config that overstates it fails there rather than allocating its table.
  rope_ = make_rope_table(c);
  return Status::ok();
}

// The indexer's selection per query: index_topk tokens, but never more than the context
// can hold (tests set a huge index_topk to make attention dense, and a config may too).
int64_t DeepSeekModel::selection_width() const {
  const ModelConfig& c = config();
  return c.indexer ? std::min(c.indexer->topk, c.max_position_embeddings) : 0;
}

void DeepSeekModel::ensure_activations(int64_t tokens) {
  if (act_.tokens >= tokens) return;
  const ModelConfig& c = config();
  const int64_t H = c.hidden_size;
  const int64_t heads = c.num_attention_heads;
  const int64_t q_low = c.q_lora_rank.value_or(0);
  const int64_t inter = c.intermediate_size;
  const IndexerConfig ix = c.indexer.value_or(IndexerConfig{});  // all zero without an indexer
  const int64_t widths[] = {H,     H,     q_low, heads * c.qk_head_dim(), c.latent_dim(), heads * c.v_head_dim,
                            H,     inter, inter, H, ix.n_heads * ix.head_dim, ix.head_dim, ix.n_heads, selection_width()};
  const int64_t per_token = std::accumulate(std::begin(widths), std::end(widths), int64_t{0});
  static_assert(sizeof(float) == sizeof(int32_t));  // the selection shares the float buffer
  act_.buffer = backend_.allocate(static_cast<size_t>(per_token * tokens) * sizeof(float));
  act_.tokens = tokens;
  float* next = static_cast<float*>(act_.buffer->data());
  Tensor* slots[] = {&act_.hidden,   &act_.normed,  &act_.q_low,   &act_.q,       &act_.latent,
                     &act_.attention, &act_.projected, &act_.ffn_gate, &act_.ffn_up, &act_.ffn_out,
                     &act_.index_q,  &act_.index_k, &act_.index_weights, &act_.selected};
  for (size_t i = 0; i < std::size(slots); ++i) {
    *slots[i] = Tensor::contiguous(slots[i] == &act_.selected ? DType::kI32 : DType::kF32, tokens, widths[i], next);
    next += widths[i] * tokens;
  }
}

void DeepSeekModel::write_cache_rows(std::span<const SequenceChunk> chunks, CachePools pools, int64_t layer,
                                     Tensor rows) {
  int64_t offset = 0;
  for (const SequenceChunk& chunk : chunks) {
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    const int64_t B = chunk.cache.block_rows;
    for (int64_t done = 0; done < n;) {
      const int64_t p = chunk.start_pos + done;
      const int64_t block = chunk.cache.block_table[p / B];
      const int64_t run = std::min(n - done, B - p % B);
      backend_.copy((chunk.cache.*pools)[layer].row_slice(block * B + p % B, run), rows.row_slice(offset + done, run));
      done += run;
    }
    offset += n;
  }
}

void DeepSeekModel::indexer_block(int64_t layer, std::span<const SequenceChunk> chunks,
                                  std::span<const int32_t> positions) {
  const ModelConfig& c = config();
  const IndexerConfig& ix = *c.indexer;
  const IndexerWeights& w = *layers_[layer].indexer;
  const int64_t T = static_cast<int64_t>(positions.size());
  // The official kernels quantise the indexer's q and k to FP8 with one scale per 128
  // values after a Hadamard rotation; the values they score with are these round trips.
  const int64_t quant_block = std::min<int64_t>(128, ix.head_dim);
  const bool pow2_scales = c.fp8 && c.fp8->ue8m0_scales;
  auto rotate_and_round = [&](Tensor v, int64_t heads) {
    backend_.rope({.x = v, .head_dim = ix.head_dim, .rope_offset = 0, .rope_dim = c.qk_rope_head_dim,
                   .positions = positions, .table = &rope_, .pairs = index_rope_pairs_});
    // [T, heads * head_dim] seen as [T * heads, head_dim]: one vector per row.
    const Tensor vectors = Tensor::contiguous(DType::kF32, T * heads, ix.head_dim, v.data);
    backend_.hadamard(vectors);
    backend_.fp8_round_trip(vectors, quant_block, pow2_scales);
  };

  // q: [T, n_heads * head_dim] from the normed q latent; each vector is [rope | nope].
  Tensor q = rows(act_.index_q, T);
  backend_.matmul(q, rows(act_.q_low, T), *w.wq_b);
  rotate_and_round(q, ix.n_heads);
  // k: [T, head_dim], one key per token shared by the heads, cached.
  Tensor k = rows(act_.index_k, T);
  backend_.matmul(k, rows(act_.normed, T), *w.wk);
  backend_.layer_norm(k, k, *w.k_norm, *w.k_norm_bias, 1e-6f);  // the official LayerNorm's default eps
  rotate_and_round(k, 1);
  write_cache_rows(chunks, &LatentCacheView::index_pools, layer, k);
  // Per-head weights [T, n_heads], scaled by n_heads^-0.5 * head_dim^-0.5 inside the op.
  Tensor weights = rows(act_.index_weights, T);
  backend_.matmul(weights, rows(act_.normed, T), *w.weights_proj);
  const float weight_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(ix.n_heads * ix.head_dim)));

  int64_t offset = 0;
  for (const SequenceChunk& chunk : chunks) {
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    const int64_t length = chunk.start_pos + n;
    pages_.clear();
    for (int64_t b = 0; b * chunk.cache.block_rows < length; ++b)
      pages_.push_back(chunk.cache.index_pools[layer].row_slice(chunk.cache.block_table[b] * chunk.cache.block_rows,
                                                                chunk.cache.block_rows));
    backend_.indexer_topk({.selected = act_.selected.row_slice(offset, n), .q = q.row_slice(offset, n),
                           .weights = weights.row_slice(offset, n),
                           .keys = {pages_.data(), chunk.cache.block_rows, length}, .n_heads = ix.n_heads,
                           .head_dim = ix.head_dim, .top_k = selection_width(), .start_pos = chunk.start_pos,
                           .weight_scale = weight_scale});
    offset += n;
  }
}

void DeepSeekModel::attention_block(int64_t layer, std::span<const SequenceChunk> chunks,
                                    std::span<const int32_t> positions) {
  const ModelConfig& c = config();
  const AttentionWeights& w = layers_[layer].attention;
  const int64_t T = static_cast<int64_t>(positions.size());
  Tensor x = rows(act_.normed, T);  // rms_norm(hidden) [T, H]

  // q: [T, heads * (nope + rope)], through the low-rank q_low where the model has one;
  // latent_new: the new latent rows [c_kv | k_pe] for every token. Both products of x in
  // one call (one parallel loop on the CPU).
  Tensor q = rows(act_.q, T);
  Tensor q_low = c.q_lora_rank ? rows(act_.q_low, T) : Tensor{};
  Tensor latent_new = rows(act_.latent, T);
  const MatmulTask from_x[] = {c.q_lora_rank ? MatmulTask{q_low, x, w.q_a_proj.get()} : MatmulTask{q, x, w.q_proj.get()},
                               {latent_new, x, w.kv_a_proj.get()}};
  backend_.matmuls(from_x);
  if (c.q_lora_rank) {
    backend_.rms_norm(q_low, q_low, *w.q_a_norm, static_cast<float>(c.rms_norm_eps));
    backend_.matmul(q, q_low, *w.q_b_proj);
  }
  backend_.rope({.x = q, .head_dim = c.qk_head_dim(), .rope_offset = c.qk_nope_head_dim,
                 .rope_dim = c.qk_rope_head_dim, .positions = positions, .table = &rope_});

  // c_kv normed, k_pe rotated, then copied into each sequence's cache blocks before any
  // attention reads them.
  Tensor c_kv = latent_new.col_slice(0, c.kv_lora_rank);
  backend_.rms_norm(c_kv, c_kv, *w.kv_a_norm, static_cast<float>(c.rms_norm_eps));
  backend_.rope({.x = latent_new, .head_dim = c.latent_dim(), .rope_offset = c.kv_lora_rank,
                 .rope_dim = c.qk_rope_head_dim, .positions = positions, .table = &rope_});
  write_cache_rows(chunks, &LatentCacheView::layer_pools, layer, latent_new);
  if (c.indexer) indexer_block(layer, chunks, positions);

  // Every chunk's pages first: the attention calls point into pages_.
  pages_.clear();
  std::vector<size_t> first_page;
  for (const SequenceChunk& chunk : chunks) {
    const LatentCacheView& cache = chunk.cache;
    first_page.push_back(pages_.size());
    for (int64_t b = 0; b * cache.block_rows < chunk.start_pos + static_cast<int64_t>(chunk.tokens.size()); ++b)
      pages_.push_back(cache.layer_pools[layer].row_slice(cache.block_table[b] * cache.block_rows, cache.block_rows));
  }
  attention_args_.clear();
  int64_t offset = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const SequenceChunk& chunk = chunks[i];
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    const MlaForm form = chunk.options.attention_form.value_or(n > 1 ? MlaForm::kExpanded : MlaForm::kAbsorbed);
    attention_args_.push_back({.out = act_.attention.row_slice(offset, n), .q = q.row_slice(offset, n),
                               .latent = {pages_.data() + first_page[i], chunk.cache.block_rows, chunk.start_pos + n},
                               .kv_b = w.kv_b_proj.get(), .n_heads = c.num_attention_heads,
                               .nope_dim = c.qk_nope_head_dim, .rope_dim = c.qk_rope_head_dim,
                               .v_head_dim = c.v_head_dim, .kv_lora_rank = c.kv_lora_rank,
                               .start_pos = chunk.start_pos, .softmax_scale = softmax_scale_, .form = form,
                               .visible = c.indexer ? std::optional(act_.selected.row_slice(offset, n)) : std::nullopt});
    offset += n;
  }
  backend_.mla_attentions(attention_args_);
  Tensor projected = rows(act_.projected, T);
  backend_.matmul(projected, rows(act_.attention, T), *w.o_proj);
  backend_.add(rows(act_.hidden, T), rows(act_.hidden, T), projected);
}

void DeepSeekModel::ffn_block(int64_t layer, int64_t T) {
  const LayerWeights& w = layers_[layer];
  Tensor x = rows(act_.normed, T);  // rms_norm(hidden) [T, H]
  Tensor out = rows(act_.ffn_out, T);
  if (w.dense_mlp) {
    Tensor gate = rows(act_.ffn_gate, T);
    Tensor up = rows(act_.ffn_up, T);
    const MatmulTask from_x[] = {{gate, x, w.dense_mlp->gate}, {up, x, w.dense_mlp->up}};
    backend_.matmuls(from_x);
    backend_.silu_and_mul(gate, gate, up);
    backend_.matmul(out, gate, *w.dense_mlp->down);
  } else {
    const MoeWeights& moe = *w.moe;
    backend_.moe_ffn({.out = out, .x = x, .router = moe.router.get(), .selection_bias = moe.selection_bias.get(),
                      .experts = moe.experts, .shared = moe.shared, .spec = router_spec_});
  }
  backend_.add(rows(act_.hidden, T), rows(act_.hidden, T), out);
}

Status DeepSeekModel::forward(std::span<const int32_t> tokens, int64_t start_pos, const LatentCacheView& cache,
                              const ForwardOptions& options, std::vector<float>& logits) {
  const SequenceChunk chunk{.tokens = tokens, .start_pos = start_pos, .cache = cache, .options = options};
  return forward_batch({&chunk, 1}, logits);
}

Status DeepSeekModel::check_chunk(const SequenceChunk& chunk) const {
  const ModelConfig& c = config();
  const int64_t T = static_cast<int64_t>(chunk.tokens.size());
  const int64_t start_pos = chunk.start_pos;
  if (T == 0) return error("forward: no tokens given");
  for (int64_t t = 0; t < T; ++t)
    if (chunk.tokens[t] < 0 || chunk.tokens[t] >= c.vocab_size)
      return error("token id {} at position {} is out of range [0, {})", chunk.tokens[t], start_pos + t, c.vocab_size);
  if (start_pos + T > c.max_position_embeddings)
    return error("{} tokens exceed the model's context of max_position_embeddings={}", start_pos + T,
                 c.max_position_embeddings);
  if (static_cast<int64_t>(chunk.cache.layer_pools.size()) != c.num_hidden_layers || chunk.cache.block_rows <= 0)
    return error("internal: the latent cache view does not match the model's {} layers", c.num_hidden_layers);
  if (static_cast<int64_t>(chunk.cache.index_pools.size()) != (c.indexer ? c.num_hidden_layers : 0))
    return error("internal: the cache view's indexer key pools do not match the model");
  if (start_pos < 0 || start_pos + T > chunk.cache.capacity())
    return error("{} tokens exceed the cache capacity of {} positions", start_pos + T, chunk.cache.capacity());
  return Status::ok();
}

Status DeepSeekModel::forward_batch(std::span<const SequenceChunk> chunks, std::vector<float>& logits) {
  const ModelConfig& c = config();
  if (chunks.empty()) return error("forward: no sequences given");
  std::vector<int32_t> tokens, positions;
  int64_t logit_rows = 0;
  for (const SequenceChunk& chunk : chunks) {
    DSINFER_RETURN_IF_ERROR(check_chunk(chunk));
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    tokens.insert(tokens.end(), chunk.tokens.begin(), chunk.tokens.end());
    for (int64_t t = 0; t < n; ++t) positions.push_back(static_cast<int32_t>(chunk.start_pos + t));
    logit_rows += chunk.options.logits == ForwardOptions::Logits::kAll ? n
                  : chunk.options.logits == ForwardOptions::Logits::kLast ? 1 : 0;
  }
  const int64_t T = static_cast<int64_t>(tokens.size());
  ensure_activations(T);
  const float eps = static_cast<float>(c.rms_norm_eps);

  Tensor hidden = rows(act_.hidden, T);  // the residual stream [T, H]
  Tensor normed = rows(act_.normed, T);
  backend_.embedding(hidden, *embed_, tokens);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    backend_.rms_norm(normed, hidden, *layers_[l].input_norm, eps);
    attention_block(l, chunks, positions);
    backend_.rms_norm(normed, hidden, *layers_[l].post_attention_norm, eps);
    ffn_block(l, T);
  }

  if (logit_rows == 0) {
    logits.clear();
    return Status::ok();
  }
  // The final norm of the rows that want logits, packed together, then one lm_head pass.
  int64_t offset = 0, packed = 0;
  for (const SequenceChunk& chunk : chunks) {
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    const int64_t first = chunk.options.logits == ForwardOptions::Logits::kAll ? 0 : n - 1;
    if (chunk.options.logits != ForwardOptions::Logits::kNone) {
      backend_.rms_norm(normed.row_slice(packed, n - first), hidden.row_slice(offset + first, n - first), *final_norm_, eps);
      packed += n - first;
    }
    offset += n;
  }
  if (!logits_buffer_ || logits_rows_ < logit_rows) {
    logits_buffer_ = backend_.allocate(static_cast<size_t>(logit_rows * c.vocab_size) * sizeof(float));
    logits_rows_ = logit_rows;
  }
  Tensor logits_tensor = Tensor::contiguous(DType::kF32, logit_rows, c.vocab_size, logits_buffer_->data());
  backend_.matmul(logits_tensor, normed.row_slice(0, logit_rows), *lm_head_);
  logits.resize(static_cast<size_t>(logit_rows * c.vocab_size));  // not cleared first: no zeroing when the size holds
  backend_.download(logits_tensor, logits.data());
  return Status::ok();
}

}  // namespace dsinfer
