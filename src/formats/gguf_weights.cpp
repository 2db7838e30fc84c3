#include "formats/gguf_weights.h"

#include <array>
#include <cmath>
#include <string_view>

namespace dsinfer {
namespace {

std::string key(const char* suffix) { return std::string(kDeepseek2Arch) + "." + suffix; }

// HF name suffix inside "model.layers.N." -> GGUF name suffix inside "blk.N.".
struct LayerName {
  std::string_view hf;
  std::string_view gguf;
};
constexpr std::array<LayerName, 18> kLayerNames{{
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
    {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
    {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
    {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
    {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
    {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
    {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
    {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
    {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
}};

// "123.rest" -> 123 and "rest"; nullopt when there is no number.
std::optional<std::pair<int64_t, std::string_view>> leading_index(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && digits < 9 && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits >= s.size() || s[digits] != '.') return std::nullopt;
  int64_t value = 0;
  for (size_t i = 0; i < digits; ++i) value = value * 10 + (s[i] - '0');
  return std::pair{value, s.substr(digits + 1)};
}

}  // namespace

std::optional<Deepseek2TensorName> deepseek2_tensor_name(const std::string& hf_name) {
  if (hf_name == "model.embed_tokens.weight") return Deepseek2TensorName{"token_embd.weight"};
  if (hf_name == "model.norm.weight") return Deepseek2TensorName{"output_norm.weight"};
  if (hf_name == "lm_head.weight") return Deepseek2TensorName{"output.weight"};
  constexpr std::string_view kLayers = "model.layers.";
  if (!std::string_view(hf_name).starts_with(kLayers)) return std::nullopt;
  const auto layer = leading_index(std::string_view(hf_name).substr(kLayers.size()));
  if (!layer) return std::nullopt;
  const auto [n, rest] = *layer;
  const std::string blk = "blk." + std::to_string(n) + ".";
  for (const auto& entry : kLayerNames)
    if (rest == entry.hf) return Deepseek2TensorName{blk + std::string(entry.gguf)};
  constexpr std::string_view kExperts = "mlp.experts.";
  if (rest.starts_with(kExperts)) {
    const auto expert = leading_index(rest.substr(kExperts.size()));
    if (!expert) return std::nullopt;
    const auto [e, part] = *expert;
    for (std::string_view proj : {"gate", "up", "down"})
      if (part == std::string(proj) + "_proj.weight")
        return Deepseek2TensorName{blk + "ffn_" + std::string(proj) + "_exps.weight", e};
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ metadata -> config

namespace {

class MetadataReader {
 public:
  MetadataReader(const GgufMetadataLookup& find, const std::string& origin) : find_(find), origin_(origin) {}

  // Integer `deepseek2.<suffix>`; absent leaves `out` unless required.
  Status get_int(const char* suffix, int64_t& out, bool required) const {
    const std::string k = key(suffix);
    const GgufValue* v = find_(k);
    if (!v) return required ? error("{}: missing metadata '{}'", origin_, k) : Status::ok();
    const auto i = v->as_int();
    if (!i || v->type() == GgufValueType::kBool)
      return error("{}: metadata '{}' must be an integer, found {}", origin_, k, describe(*v));
    out = *i;
    return Status::ok();
  }
  Status get_float(const char* suffix, double& out, bool required) const {
    const std::string k = key(suffix);
    const GgufValue* v = find_(k);
    if (!v) return required ? error("{}: missing metadata '{}'", origin_, k) : Status::ok();
    const auto f = v->as_float();
    if (!f || !std::isfinite(*f)) return error("{}: metadata '{}' must be a finite number, found {}", origin_, k, describe(*v));
    out = *f;
    return Status::ok();
  }
  Status get_bool(const char* suffix, bool& out) const {
    const std::string k = key(suffix);
    const GgufValue* v = find_(k);
    if (!v) return Status::ok();
    const auto b = v->as_bool();
    if (!b) return error("{}: metadata '{}' must be a bool, found {}", origin_, k, describe(*v));
    out = *b;
    return Status::ok();
  }
  const GgufValue* raw(const std::string& full_key) const { return find_(full_key); }

 private:
  static std::string describe(const GgufValue& v) {
    if (v.is_array()) return fmt::format("an array of {}", gguf_value_type_name(v.element_type()));
    return std::string(gguf_value_type_name(v.type()));
  }
  const GgufMetadataLookup& find_;
  const std::string& origin_;
};

constexpr int64_t kGatingSoftmax = 1;  // llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX
constexpr int64_t kGatingSigmoid = 2;  // ... _SIGMOID

Result<std::optional<YarnScaling>> read_rope_scaling(const MetadataReader& r, const std::string& origin) {
  const GgufValue* type = r.raw(key("rope.scaling.type"));
  if (!type) return std::optional<YarnScaling>{};
  const std::string* name = type->as_string();
  if (!name) return error("{}: metadata '{}' must be a string", origin, key("rope.scaling.type"));
  if (*name == "none") return std::optional<YarnScaling>{};
  if (*name != "yarn")
    return error("{}: rope scaling '{}' is not supported (DeepSeek models use 'yarn')", origin, *name);
  YarnScaling yarn;
  DSINFER_RETURN_IF_ERROR(r.get_float("rope.scaling.factor", yarn.factor, true));
  DSINFER_RETURN_IF_ERROR(r.get_int("rope.scaling.original_context_length", yarn.original_max_position_embeddings, true));
  DSINFER_RETURN_IF_ERROR(r.get_float("rope.scaling.yarn_beta_fast", yarn.beta_fast, false));
  DSINFER_RETURN_IF_ERROR(r.get_float("rope.scaling.yarn_beta_slow", yarn.beta_slow, false));
  // The converter writes 0.1 * mscale_all_dim and no mscale: llama.cpp takes mscale =
  // mscale_all_dim (so the rotated q/k keep their magnitude), and so does this reader.
  double log_multiplier = 0.0;
  DSINFER_RETURN_IF_ERROR(r.get_float("rope.scaling.yarn_log_multiplier", log_multiplier, false));
  yarn.mscale_all_dim = log_multiplier / 0.1;
  yarn.mscale = log_multiplier != 0.0 ? yarn.mscale_all_dim : 1.0;
  if (!(yarn.factor >= 1.0)) return error("{}: rope.scaling.factor must be >= 1, found {}", origin, yarn.factor);
  if (yarn.original_max_position_embeddings <= 0)
    return error("{}: rope.scaling.original_context_length must be positive", origin);
  return std::optional<YarnScaling>{yarn};
}

}  // namespace

Result<ModelConfig> deepseek2_config(const GgufMetadataLookup& metadata, const Deepseek2TensorFacts& facts,
                                     const std::string& origin) {
  MetadataReader r(metadata, origin);
  const GgufValue* arch = metadata("general.architecture");
  if (!arch || !arch->as_string()) return error("{}: missing string metadata 'general.architecture'", origin);
  if (*arch->as_string() != kDeepseek2Arch)
    return error("{}: general.architecture is '{}'; dsinfer reads '{}' (DeepSeek V2/V3) files", origin,
                 *arch->as_string(), kDeepseek2Arch);
  if (const GgufValue* heads = metadata(key("attention.head_count")); heads && heads->is_array())
    return error("{}: per-layer attention.head_count arrays are not supported", origin);

  ModelConfig c;
  int64_t block_count = 0, nextn = 0;
  DSINFER_RETURN_IF_ERROR(r.get_int("block_count", block_count, true));
  DSINFER_RETURN_IF_ERROR(r.get_int("nextn_predict_layers", nextn, false));
  if (nextn < 0 || nextn >= block_count)
    return error("{}: nextn_predict_layers {} does not fit block_count {}", origin, nextn, block_count);
  c.num_hidden_layers = block_count - nextn;  // MTP blocks (if any) follow the main ones; not used
  DSINFER_RETURN_IF_ERROR(r.get_int("context_length", c.max_position_embeddings, true));
  DSINFER_RETURN_IF_ERROR(r.get_int("embedding_length", c.hidden_size, true));
  DSINFER_RETURN_IF_ERROR(r.get_float("attention.layer_norm_rms_epsilon", c.rms_norm_eps, true));
  if (!(c.rms_norm_eps > 0.0)) return error("{}: attention.layer_norm_rms_epsilon must be positive", origin);
  c.tie_word_embeddings = !facts.has_output;

  if (!metadata(key("vocab_size"))) {
    if (facts.embedding_rows) {
      c.vocab_size = *facts.embedding_rows;
    } else if (const GgufValue* tokens = metadata("tokenizer.ggml.tokens"); tokens && tokens->is_array()) {
      c.vocab_size = static_cast<int64_t>(tokens->array_size());
    }
  }
  DSINFER_RETURN_IF_ERROR(r.get_int("vocab_size", c.vocab_size, false));

  DSINFER_RETURN_IF_ERROR(r.get_int("attention.head_count", c.num_attention_heads, true));
  int64_t q_lora = 0;
  DSINFER_RETURN_IF_ERROR(r.get_int("attention.q_lora_rank", q_lora, false));
  if (q_lora > 0) c.q_lora_rank = q_lora;
  DSINFER_RETURN_IF_ERROR(r.get_int("attention.kv_lora_rank", c.kv_lora_rank, true));
  DSINFER_RETURN_IF_ERROR(r.get_int("rope.dimension_count", c.qk_rope_head_dim, true));
  // Per-head q/k and v widths: the _mla keys when the file has them (the split-kv_b
  // layout, whose key_length is the latent "MQA" head), else key_length / value_length.
  int64_t qk_head = 0;
  if (metadata(key("attention.key_length_mla"))) {
    DSINFER_RETURN_IF_ERROR(r.get_int("attention.key_length_mla", qk_head, true));
    DSINFER_RETURN_IF_ERROR(r.get_int("attention.value_length_mla", c.v_head_dim, true));
  } else {
    DSINFER_RETURN_IF_ERROR(r.get_int("attention.key_length", qk_head, true));
    DSINFER_RETURN_IF_ERROR(r.get_int("attention.value_length", c.v_head_dim, true));
  }
  c.qk_nope_head_dim = qk_head - c.qk_rope_head_dim;
  if (c.qk_nope_head_dim <= 0)
    return error("{}: attention key length {} leaves no room beside rope.dimension_count {}", origin, qk_head,
                 c.qk_rope_head_dim);
  DSINFER_RETURN_IF_ERROR(r.get_float("rope.freq_base", c.rope_theta, false));
  DSINFER_ASSIGN_OR_RETURN(c.yarn, read_rope_scaling(r, origin));

  DSINFER_RETURN_IF_ERROR(r.get_int("feed_forward_length", c.intermediate_size, false));
  DSINFER_RETURN_IF_ERROR(r.get_int("leading_dense_block_count", c.first_k_dense_replace, false));
  DSINFER_RETURN_IF_ERROR(r.get_int("expert_count", c.n_routed_experts, false));
  DSINFER_RETURN_IF_ERROR(r.get_int("expert_shared_count", c.n_shared_experts, false));
  DSINFER_RETURN_IF_ERROR(r.get_int("expert_used_count", c.num_experts_per_tok, c.n_routed_experts > 0));
  DSINFER_RETURN_IF_ERROR(r.get_int("expert_feed_forward_length", c.moe_intermediate_size, c.n_routed_experts > 0));
  DSINFER_RETURN_IF_ERROR(r.get_int("expert_group_count", c.n_group, false));
  c.topk_group = c.n_group;
  DSINFER_RETURN_IF_ERROR(r.get_int("expert_group_used_count", c.topk_group, false));
  DSINFER_RETURN_IF_ERROR(r.get_float("expert_weights_scale", c.routed_scaling_factor, false));
  if (c.routed_scaling_factor == 0.0) c.routed_scaling_factor = 1.0;  // llama.cpp: 0 means "do not scale"
  DSINFER_RETURN_IF_ERROR(r.get_bool("expert_weights_norm", c.norm_topk_prob));
  int64_t gating = kGatingSoftmax;  // files from before the key are V2 / V2.5: softmax
  DSINFER_RETURN_IF_ERROR(r.get_int("expert_gating_func", gating, false));
  if (gating == 0) gating = kGatingSoftmax;  // llama.cpp's "none": its default for deepseek2
  if (gating != kGatingSoftmax && gating != kGatingSigmoid)
    return error("{}: expert_gating_func {} is not supported (1 softmax, 2 sigmoid)", origin, gating);

  // The router variant, decided once (see the header).
  c.scoring_func = gating == kGatingSigmoid ? ScoringFunc::kSigmoid : ScoringFunc::kSoftmax;
  const bool v3_router = gating == kGatingSigmoid || facts.has_selection_bias;
  c.family = v3_router ? ModelFamily::kDeepSeekV3 : ModelFamily::kDeepSeekV2;
  c.model_type = v3_router ? "deepseek_v3" : "deepseek_v2";  // a label for messages; the file has none
  if (facts.has_selection_bias) c.topk_method = TopkMethod::kNoauxTc;
  else if (c.n_group > 1) c.topk_method = TopkMethod::kGroupLimitedGreedy;
  else c.topk_method = TopkMethod::kGreedy;

  DSINFER_RETURN_IF_ERROR(validate_model_config(c, origin));
  return c;
}

// ------------------------------------------------------------------ config -> metadata

Status write_deepseek2_metadata(const ModelConfig& c, const std::string& model_name, GgufWriter& w,
                                std::vector<std::string>& warnings) {
  if (c.moe_layer_freq != 1)
    return error("moe_layer_freq {} cannot be written: llama.cpp's deepseek2 has every layer after the dense ones "
                 "use experts",
                 c.moe_layer_freq);
  auto u32 = [](int64_t v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  auto f32 = [](double v) { return GgufValue::f32(static_cast<float>(v)); };
  w.set("general.architecture", GgufValue::string(kDeepseek2Arch));
  if (!model_name.empty()) w.set("general.name", GgufValue::string(model_name));
  w.set(key("block_count"), u32(c.num_hidden_layers));
  w.set(key("context_length"), u32(c.max_position_embeddings));
  w.set(key("embedding_length"), u32(c.hidden_size));
  w.set(key("feed_forward_length"), u32(c.intermediate_size));
  w.set(key("attention.head_count"), u32(c.num_attention_heads));
  w.set(key("attention.head_count_kv"), u32(c.num_attention_heads));  // the kv_b layout: MHA after expansion
  w.set(key("rope.freq_base"), f32(c.rope_theta));
  w.set(key("attention.layer_norm_rms_epsilon"), f32(c.rms_norm_eps));
  w.set(key("expert_used_count"), u32(c.num_experts_per_tok));
  w.set(key("expert_count"), u32(c.n_routed_experts));
  if (c.n_group > 1) {
    w.set(key("expert_group_count"), u32(c.n_group));
    w.set(key("expert_group_used_count"), u32(c.topk_group));
  }
  w.set(key("expert_gating_func"), u32(c.scoring_func == ScoringFunc::kSigmoid ? kGatingSigmoid : kGatingSoftmax));
  w.set(key("leading_dense_block_count"), u32(c.first_k_dense_replace));
  w.set(key("vocab_size"), u32(c.vocab_size));
  w.set(key("attention.q_lora_rank"), u32(c.q_lora_rank.value_or(0)));
  w.set(key("attention.kv_lora_rank"), u32(c.kv_lora_rank));
  w.set(key("attention.key_length"), u32(c.qk_head_dim()));
  w.set(key("attention.value_length"), u32(c.v_head_dim));
  w.set(key("expert_feed_forward_length"), u32(c.moe_intermediate_size));
  w.set(key("expert_shared_count"), u32(c.n_shared_experts));
  w.set(key("expert_weights_scale"), f32(c.routed_scaling_factor));
  w.set(key("expert_weights_norm"), GgufValue::boolean(c.norm_topk_prob));
  w.set(key("rope.dimension_count"), u32(c.qk_rope_head_dim));
  if (c.yarn) {
    w.set(key("rope.scaling.type"), GgufValue::string("yarn"));
    w.set(key("rope.scaling.factor"), f32(c.yarn->factor));
    w.set(key("rope.scaling.original_context_length"), u32(c.yarn->original_max_position_embeddings));
    w.set(key("rope.scaling.yarn_beta_fast"), f32(c.yarn->beta_fast));
    w.set(key("rope.scaling.yarn_beta_slow"), f32(c.yarn->beta_slow));
    if (c.yarn->mscale_all_dim != 0.0) w.set(key("rope.scaling.yarn_log_multiplier"), f32(0.1 * c.yarn->mscale_all_dim));
    if (c.yarn->mscale != c.yarn->mscale_all_dim && c.yarn->mscale_all_dim != 0.0)
      warnings.push_back(fmt::format(
          "rope_scaling.mscale {} differs from mscale_all_dim {}: GGUF keeps only mscale_all_dim and llama.cpp (and "
          "dsinfer reading the file) take mscale = mscale_all_dim, so attention scores differ slightly from the "
          "Hugging Face model",
          c.yarn->mscale, c.yarn->mscale_all_dim));
  }

  // What the file will mean when read back, against the config it came from.
  const Deepseek2TensorFacts facts{.has_selection_bias = c.topk_method == TopkMethod::kNoauxTc,
                                   .has_output = !c.tie_word_embeddings,
                                   .embedding_rows = c.vocab_size};
  DSINFER_ASSIGN_OR_RETURN(ModelConfig back,
                           deepseek2_config([&](const std::string& k) { return w.find(k); }, facts, "metadata"));
  if (back.scoring_func != c.scoring_func || back.topk_method != c.topk_method ||
      back.router_normalizes() != c.router_normalizes() || back.router_weight_scale() != c.router_weight_scale())
    warnings.push_back(fmt::format(
        "the router of model_type {} ({} scoring, norm_topk_prob {}, routed_scaling_factor {}) reads back from "
        "GGUF with {} semantics: top-k weights {}normalised, scaled by {}",
        c.model_type, c.scoring_func == ScoringFunc::kSigmoid ? "sigmoid" : "softmax", c.norm_topk_prob,
        c.routed_scaling_factor, back.family == ModelFamily::kDeepSeekV3 ? "V3" : "V2",
        back.router_normalizes() ? "" : "not ", back.router_weight_scale()));
  if (c.router_normalizes() && c.router_weight_scale() == 1.0 && c.routed_scaling_factor != 1.0)
    warnings.push_back(fmt::format("llama.cpp scales normalised top-k weights by expert_weights_scale {} where the "
                                   "V2 model does not",
                                   c.routed_scaling_factor));
  if (c.topk_method == TopkMethod::kGroupLimitedGreedy)
    warnings.push_back("group-limited routing: mainline llama.cpp scores expert groups by their top-2 sum, the V2 "
                       "model (and dsinfer) by their maximum");
  if (c.num_nextn_predict_layers > 0)
    warnings.push_back(fmt::format("the {} multi-token-prediction layer(s) are not written (llama.cpp's converter "
                                   "drops them too)",
                                   c.num_nextn_predict_layers));
  const bool lite_by_layer_count = c.num_hidden_layers == 26 || c.num_hidden_layers == 27;
  if (lite_by_layer_count == c.q_lora_rank.has_value())
    warnings.push_back(fmt::format(
        "llama.cpp and ik_llama.cpp decide whether q_lora exists from the layer count ({} layers {} 'lite', no "
        "q_lora) and this model {} q_lora: {}",
        c.num_hidden_layers, lite_by_layer_count ? "means" : "does not mean", c.q_lora_rank ? "has" : "has no",
        lite_by_layer_count ? "neither of them loads the file"
                            : "ik_llama.cpp will not load the file (mainline reads attention.q_lora_rank = 0)"));
  return Status::ok();
}

// ------------------------------------------------------------------ GgufWeights

Result<std::unique_ptr<GgufWeights>> GgufWeights::open(const std::string& path) {
  auto weights = std::unique_ptr<GgufWeights>(new GgufWeights());
  DSINFER_ASSIGN_OR_RETURN(weights->files_, GgufModelFiles::open(path));
  const GgufHeader& header = weights->files_.metadata();
  Deepseek2TensorFacts facts;
  facts.has_output = false;
  for (const GgufModelFiles::Tensor& tensor : weights->files_.tensors()) {
    const GgufTensorInfo& t = *tensor.info;
    weights->tensors_.emplace(t.name, tensor);
    weights->tensor_bytes_ += static_cast<int64_t>(t.size);
    if (t.name.ends_with(".exp_probs_b.bias")) facts.has_selection_bias = true;
    if (t.name == "output.weight") facts.has_output = true;
    if (t.name == "token_embd.weight" && t.ne.size() == 2) facts.embedding_rows = t.ne[1];
  }
  DSINFER_ASSIGN_OR_RETURN(weights->config_,
                           deepseek2_config([&](const std::string& k) { return header.find(k); }, facts, path));
  for (int64_t layer = 0; layer < weights->config_.num_hidden_layers; ++layer)
    DSINFER_RETURN_IF_ERROR(weights->build_kv_b_from_split(layer));
  return weights;
}

Status GgufWeights::build_kv_b_from_split(int64_t layer) {
  const std::string blk = "blk." + std::to_string(layer) + ".";
  if (tensors_.count(blk + "attn_kv_b.weight")) return Status::ok();
  auto k_it = tensors_.find(blk + "attn_k_b.weight");
  auto v_it = tensors_.find(blk + "attn_v_b.weight");
  if (k_it == tensors_.end() || v_it == tensors_.end()) return Status::ok();  // reported as missing kv_b on load
  const GgufTensorInfo& k = *k_it->second.info;
  const GgufTensorInfo& v = *v_it->second.info;
  const ModelConfig& c = config_;
  const int64_t heads = c.num_attention_heads, nope = c.qk_nope_head_dim, vdim = c.v_head_dim, rank = c.kv_lora_rank;
  // Rows of ne[0] values: k_b has heads * kv_lora rows of nope (row h*rank + c holds
  // column c of head h's k block), v_b heads * v rows of kv_lora.
  if (k.ne[0] != nope || k.numel() != heads * rank * nope)
    return error("{}: tensor '{}' is {}, expected ne [{}, {}, {}] (nope, kv_lora, heads)", path(), k.name,
                 shape_to_string(k.ne), nope, rank, heads);
  if (v.ne[0] != rank || v.numel() != heads * vdim * rank)
    return error("{}: tensor '{}' is {}, expected ne [{}, {}, {}] (kv_lora, v, heads)", path(), v.name,
                 shape_to_string(v.ne), rank, vdim, heads);
  std::vector<float> kv_b(static_cast<size_t>(heads * (nope + vdim) * rank));
  std::vector<float> row(static_cast<size_t>(std::max(nope, rank)));
  const size_t k_row_bytes = dtype_bytes(k.dtype, nope), v_row_bytes = dtype_bytes(v.dtype, rank);
  for (int64_t h = 0; h < heads; ++h) {
    const int64_t base = h * (nope + vdim);
    for (int64_t col = 0; col < rank; ++col) {
      convert_to_f32(k.dtype, k_it->second.data + (h * rank + col) * k_row_bytes, row.data(), nope);
      for (int64_t i = 0; i < nope; ++i) kv_b[(base + i) * rank + col] = row[i];
    }
    for (int64_t j = 0; j < vdim; ++j)
      convert_to_f32(v.dtype, v_it->second.data + (h * vdim + j) * v_row_bytes, &kv_b[(base + nope + j) * rank],
                     rank);
  }
  owned_kv_b_.emplace("model.layers." + std::to_string(layer) + ".self_attn.kv_b_proj.weight", std::move(kv_b));
  return Status::ok();
}

std::optional<WeightView> GgufWeights::find(const std::string& name) const {
  if (auto owned = owned_kv_b_.find(name); owned != owned_kv_b_.end()) {
    const ModelConfig& c = config_;
    return WeightView{name, DType::kF32, {c.num_attention_heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank},
                      owned->second.data()};
  }
  const auto location = deepseek2_tensor_name(name);
  if (!location) return std::nullopt;
  auto it = tensors_.find(location->gguf_name);
  if (it == tensors_.end()) return std::nullopt;
  const GgufTensorInfo& t = *it->second.info;
  WeightView view;
  view.name = name;
  view.dtype = t.dtype;
  view.file_backed = true;
  view.model_bytes = tensor_bytes_;
  if (location->expert < 0) {
    view.shape = t.shape();
    view.data = it->second.data;
    return view;
  }
  // Expert E of a stacked [n_expert, out, in] tensor.
  if (t.ne.size() != 3 || location->expert >= t.ne[2]) return std::nullopt;
  const uint64_t slab = t.size / static_cast<uint64_t>(t.ne[2]);
  view.shape = {t.ne[1], t.ne[0]};
  view.data = it->second.data + static_cast<uint64_t>(location->expert) * slab;
  return view;
}

std::map<std::string, int64_t> GgufWeights::bytes_by_dtype() const {
  std::map<std::string, int64_t> bytes;
  for (const GgufModelFiles::Tensor& t : files_.tensors())
    bytes[std::string(dtype_name(t.info->dtype))] += static_cast<int64_t>(t.info->size);
  for (const auto& [name, values] : owned_kv_b_) bytes["f32"] += static_cast<int64_t>(values.size() * sizeof(float));
  return bytes;
}

std::string GgufWeights::file_of(const std::string& name) const {
  const auto location = deepseek2_tensor_name(name);
  if (!location) return path();
  if (owned_kv_b_.count(name)) return fmt::format("{} (built from attn_k_b / attn_v_b)", path());
  const auto it = tensors_.find(location->gguf_name);
  return fmt::format("{} (GGUF tensor '{}'{})", it == tensors_.end() ? path() : *it->second.file, location->gguf_name,
                     location->expert >= 0 ? fmt::format(", expert {}", location->expert) : "");
}

}  // namespace dsinfer
