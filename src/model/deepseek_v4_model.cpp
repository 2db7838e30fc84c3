#include "model/deepseek_v4_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <unordered_map>

#include "model/deepseek_v4_state.h"
#include "model/deepseek_v4_workspace.h"
#include "model/rope_table.h"
#include "model/tensor_table.h"

namespace dsinfer {
namespace {


std::vector<DType> v4_allowed_dtypes(TensorKind kind) {
  switch (kind) {
    case TensorKind::kProjection: return {DType::kF8E4M3, DType::kFP4E2M1, DType::kBF16, DType::kF16, DType::kF32};
    case TensorKind::kEmbedding:
    case TensorKind::kHead:
    case TensorKind::kNorm:
    case TensorKind::kRouter: return {DType::kBF16, DType::kF16, DType::kF32};
    case TensorKind::kBias:
    case TensorKind::kParameter: return {DType::kF32, DType::kBF16};
    case TensorKind::kIndexTable: return {DType::kI64, DType::kI32};
  }
  return {};
}

RouterSpec v4_router_spec(const ModelConfig& c) {
  RouterSpec spec;
  switch (c.scoring_func) {
    case ScoringFunc::kSoftmax: spec.scoring = RouterScoring::kSoftmax; break;
    case ScoringFunc::kSigmoid: spec.scoring = RouterScoring::kSigmoid; break;
    case ScoringFunc::kSqrtSoftplus: spec.scoring = RouterScoring::kSqrtSoftplus; break;
  }
  spec.selection = RouterSelection::kTopK;  // V4 has no expert groups
  spec.top_k = c.num_experts_per_tok;
  spec.normalize = c.scoring_func != ScoringFunc::kSoftmax;
  spec.weight_scale = static_cast<float>(c.routed_scaling_factor);
  return spec;
}

// Window-only layers turn with rope_theta and no YaRN; compressed layers with
// compress_rope_theta and YaRN. Neither scales cos/sin (no mscale in V4).
RopeTable v4_rope_table(const ModelConfig& c, bool compressed) {
  ModelConfig base = c;
  if (compressed) {
    base.rope_theta = c.v4->compress_rope_theta;
  } else {
    base.yarn.reset();
  }
  RopeTable table = make_rope_table(base);
  table.attention_factor = 1.0f;
  return table;
}

}  // namespace

DeepSeekV4Model::DeepSeekV4Model(std::unique_ptr<WeightSource> weights, Backend& backend)
    : weights_(std::move(weights)), backend_(backend) {}

DeepSeekV4Model::~DeepSeekV4Model() = default;

Result<std::unique_ptr<DeepSeekV4Model>> DeepSeekV4Model::load(std::unique_ptr<WeightSource> weights, Backend& backend) {
  if (!weights->config().v4) return error("{} is not a deepseek_v4 model", weights->path());
  auto model = std::unique_ptr<DeepSeekV4Model>(new DeepSeekV4Model(std::move(weights), backend));
  DSINFER_RETURN_IF_ERROR(model->load_weights().with_context("loading " + model->weights_->path()));
  return model;
}

namespace {

// Looks tensors up by name in the V4 tensor table, checks shape and dtype, prepares them.
class V4Loader {
 public:
  V4Loader(const WeightSource& weights, Backend& backend) : weights_(weights), backend_(backend) {
    for (auto& spec : v4_tensor_table(weights.config())) specs_.emplace(spec.name, std::move(spec));
  }
  Result<WeightView> view(const std::string& name) const {
    auto it = specs_.find(name);
    if (it == specs_.end()) return error("internal: tensor '{}' is not in the V4 tensor table", name);
    return weights_.get(name, it->second.shape, v4_allowed_dtypes(it->second.kind));
  }
  Result<std::unique_ptr<PreparedWeight>> operator()(const std::string& name) const {
    DSINFER_ASSIGN_OR_RETURN(WeightView v, view(name));
    return backend_.prepare_weight(v);
  }
  Result<std::unique_ptr<PreparedWeight>> prepare(const WeightView& v) const { return backend_.prepare_weight(v); }

 private:
  const WeightSource& weights_;
  Backend& backend_;
  std::unordered_map<std::string, TensorSpec> specs_;
};

Result<V4HcWeights> load_hc(const V4Loader& load, const std::string& prefix) {
  V4HcWeights hc;
  DSINFER_ASSIGN_OR_RETURN(hc.fn, load(prefix + "_fn"));
  DSINFER_ASSIGN_OR_RETURN(hc.base, load(prefix + "_base"));
  DSINFER_ASSIGN_OR_RETURN(hc.scale, load(prefix + "_scale"));
  return hc;
}

Result<V4CompressorWeights> load_compressor(const V4Loader& load, const std::string& prefix) {
  V4CompressorWeights w;
  DSINFER_ASSIGN_OR_RETURN(w.ape, load(prefix + "ape"));
  DSINFER_ASSIGN_OR_RETURN(w.wkv, load(prefix + "wkv.weight"));
  DSINFER_ASSIGN_OR_RETURN(w.wgate, load(prefix + "wgate.weight"));
  DSINFER_ASSIGN_OR_RETURN(w.norm, load(prefix + "norm.weight"));
  return w;
}

Result<FfnWeights> load_ffn(const V4Loader& load, const std::string& prefix,
                            std::vector<std::unique_ptr<PreparedWeight>>& owner) {
  FfnWeights ffn;
  const std::pair<const char*, const PreparedWeight**> parts[] = {
      {"w1.weight", &ffn.gate}, {"w3.weight", &ffn.up}, {"w2.weight", &ffn.down}};
  for (const auto& [name, slot] : parts) {
    DSINFER_ASSIGN_OR_RETURN(auto weight, load(prefix + name));
    *slot = weight.get();
    owner.push_back(std::move(weight));
  }
  return ffn;
}

// tid2eid [vocab, top_k] as int32, every id checked against the expert count.
Result<std::vector<int32_t>> load_hash_table(const V4Loader& load, const std::string& name, int64_t n_experts) {
  DSINFER_ASSIGN_OR_RETURN(WeightView v, load.view(name));
  std::vector<int32_t> ids(static_cast<size_t>(v.numel()));
  // Safetensors data carries no alignment guarantee: read each id by bytes.
  const auto* bytes = static_cast<const uint8_t*>(v.data);
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t id = 0;
    if (v.dtype == DType::kI64) {
      std::memcpy(&id, bytes + 8 * i, 8);
    } else {
      int32_t narrow = 0;
      std::memcpy(&narrow, bytes + 4 * i, 4);
      id = narrow;
    }
    if (id < 0 || id >= n_experts)
      return error("tensor '{}': expert id {} at index {} lies outside [0, {})", name, id, i, n_experts);
    ids[i] = static_cast<int32_t>(id);
  }
  return ids;
}

}  // namespace

Result<V4BlockWeights> DeepSeekV4Model::load_block(const std::string& p, int64_t layer) {
  const ModelConfig& c = config();
  const V4Config& v = v4();
  const V4Loader load(*weights_, backend_);
  V4BlockWeights b;
  b.ratio = v.ratio(layer);
  DSINFER_ASSIGN_OR_RETURN(b.attn_norm, load(p + "attn_norm.weight"));
  DSINFER_ASSIGN_OR_RETURN(b.ffn_norm, load(p + "ffn_norm.weight"));
  DSINFER_ASSIGN_OR_RETURN(b.hc_attn, load_hc(load, p + "hc_attn"));
  DSINFER_ASSIGN_OR_RETURN(b.hc_ffn, load_hc(load, p + "hc_ffn"));
  V4AttentionWeights& a = b.attention;
  const std::string ap = p + "attn.";
  DSINFER_ASSIGN_OR_RETURN(a.sinks, load(ap + "attn_sink"));
  DSINFER_ASSIGN_OR_RETURN(a.wq_a, load(ap + "wq_a.weight"));
  DSINFER_ASSIGN_OR_RETURN(a.q_norm, load(ap + "q_norm.weight"));
  DSINFER_ASSIGN_OR_RETURN(a.wq_b, load(ap + "wq_b.weight"));
  DSINFER_ASSIGN_OR_RETURN(a.wkv, load(ap + "wkv.weight"));
  DSINFER_ASSIGN_OR_RETURN(a.kv_norm, load(ap + "kv_norm.weight"));
  DSINFER_ASSIGN_OR_RETURN(a.wo_b, load(ap + "wo_b.weight"));
  // wo_a is used one group at a time: prepare each group's rows as its own weight.
  DSINFER_ASSIGN_OR_RETURN(WeightView wo_a, load.view(ap + "wo_a.weight"));
  for (int64_t g = 0; g < v.o_groups; ++g) {
    DSINFER_ASSIGN_OR_RETURN(auto slice, load.prepare(wo_a.row_slice(g * v.o_lora_rank, v.o_lora_rank)));
    a.wo_a.push_back(std::move(slice));
  }
  if (b.ratio > 0) {
    DSINFER_ASSIGN_OR_RETURN(a.compressor, load_compressor(load, ap + "compressor."));
  }
  if (b.ratio == V4Config::kCsaRatio) {
    V4IndexerWeights& ix = a.indexer.emplace();
    DSINFER_ASSIGN_OR_RETURN(ix.wq_b, load(ap + "indexer.wq_b.weight"));
    DSINFER_ASSIGN_OR_RETURN(ix.weights_proj, load(ap + "indexer.weights_proj.weight"));
    DSINFER_ASSIGN_OR_RETURN(ix.compressor, load_compressor(load, ap + "indexer.compressor."));
  }
  MoeWeights& moe = b.moe;
  DSINFER_ASSIGN_OR_RETURN(moe.router, load(p + "ffn.gate.weight"));
  if (layer < v.num_hash_layers) {
    DSINFER_ASSIGN_OR_RETURN(b.tid2eid, load_hash_table(load, p + "ffn.gate.tid2eid", c.n_routed_experts));
  } else {
    DSINFER_ASSIGN_OR_RETURN(moe.selection_bias, load(p + "ffn.gate.bias"));
  }
  for (int64_t e = 0; e < c.n_routed_experts; ++e) {
    DSINFER_ASSIGN_OR_RETURN(FfnWeights expert,
                             load_ffn(load, p + "ffn.experts." + std::to_string(e) + ".", moe.expert_tensors));
    moe.experts.push_back(expert);
  }
  if (c.n_shared_experts > 0) {
    DSINFER_ASSIGN_OR_RETURN(moe.shared, load_ffn(load, p + "ffn.shared_experts.", moe.expert_tensors));
  }
  return b;
}

Status DeepSeekV4Model::load_weights() {
  const ModelConfig& c = config();
  const V4Config& v = v4();
  const V4Loader load(*weights_, backend_);
  window_rope_ = v4_rope_table(c, /*compressed=*/false);
  compressed_rope_ = v4_rope_table(c, /*compressed=*/true);
  router_spec_ = v4_router_spec(c);
  ones_.assign(static_cast<size_t>(v.head_dim), 1.0f);
  DSINFER_ASSIGN_OR_RETURN(head_ones_,
                           load.prepare(WeightView{.name = "ones", .dtype = DType::kF32, .shape = {v.head_dim},
                                                   .data = ones_.data()}));

  DSINFER_ASSIGN_OR_RETURN(embed_, load("embed.weight"));
  DSINFER_ASSIGN_OR_RETURN(head_, load(c.tie_word_embeddings ? "embed.weight" : "head.weight"));
  DSINFER_ASSIGN_OR_RETURN(norm_, load("norm.weight"));
  DSINFER_ASSIGN_OR_RETURN(hc_head_, load_hc(load, "hc_head"));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    DSINFER_ASSIGN_OR_RETURN(V4BlockWeights block, load_block("layers." + std::to_string(l) + ".", l));
    blocks_.push_back(std::move(block));
  }
  if (v.blocks(c.num_hidden_layers, c.num_nextn_predict_layers) > c.num_hidden_layers) {
    V4MtpWeights& m = mtp_.emplace();
    DSINFER_ASSIGN_OR_RETURN(m.e_proj, load("mtp.0.e_proj.weight"));
    DSINFER_ASSIGN_OR_RETURN(m.h_proj, load("mtp.0.h_proj.weight"));
    DSINFER_ASSIGN_OR_RETURN(m.enorm, load("mtp.0.enorm.weight"));
    DSINFER_ASSIGN_OR_RETURN(m.hnorm, load("mtp.0.hnorm.weight"));
    DSINFER_ASSIGN_OR_RETURN(m.norm, load("mtp.0.norm.weight"));
    DSINFER_ASSIGN_OR_RETURN(m.hc_head, load_hc(load, "mtp.0.hc_head"));
    DSINFER_ASSIGN_OR_RETURN(m.block, load_block("mtp.0.", c.num_hidden_layers));
  }
  return Status::ok();
}

}  // namespace dsinfer
