#include "formats/model_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dsinfer {
namespace {

using nlohmann::json;

// Reads typed fields of one JSON object and names the offending field on error.
class FieldReader {
 public:
  FieldReader(const json& object, std::string origin) : object_(object), origin_(std::move(origin)) {}

  Status int_field(const char* key, int64_t& out, bool required) const {
    const json* v = find(key);
    if (!v) return required ? error("{}: missing required field '{}'", origin_, key) : Status::ok();
    if (!v->is_number_integer()) return error("{}: field '{}' must be an integer, found {}", origin_, key, v->dump());
    out = v->get<int64_t>();
    return Status::ok();
  }
  Status optional_int_field(const char* key, std::optional<int64_t>& out) const {
    const json* v = find(key);
    if (!v) return Status::ok();
    if (!v->is_number_integer()) return error("{}: field '{}' must be an integer or null, found {}", origin_, key, v->dump());
    out = v->get<int64_t>();
    return Status::ok();
  }
  Status number_field(const char* key, double& out, bool required = false) const {
    const json* v = find(key);
    if (!v) return required ? error("{}: missing required field '{}'", origin_, key) : Status::ok();
    if (!v->is_number()) return error("{}: field '{}' must be a number, found {}", origin_, key, v->dump());
    out = v->get<double>();
    return Status::ok();
  }
  Status bool_field(const char* key, bool& out) const {
    const json* v = find(key);
    if (!v) return Status::ok();
    if (!v->is_boolean()) return error("{}: field '{}' must be true or false, found {}", origin_, key, v->dump());
    out = v->get<bool>();
    return Status::ok();
  }
  Status string_field(const char* key, std::string& out, bool required = false) const {
    const json* v = find(key);
    if (!v) return required ? error("{}: missing required field '{}'", origin_, key) : Status::ok();
    if (!v->is_string()) return error("{}: field '{}' must be a string, found {}", origin_, key, v->dump());
    out = v->get<std::string>();
    return Status::ok();
  }
  // Null counts as absent: HF configs write "q_lora_rank": null.
  const json* find(const char* key) const {
    auto it = object_.find(key);
    return (it == object_.end() || it->is_null()) ? nullptr : &*it;
  }
  const std::string& origin() const { return origin_; }

 private:
  const json& object_;
  std::string origin_;
};

Result<std::optional<YarnScaling>> parse_rope_scaling(const FieldReader& fields) {
  const json* scaling = fields.find("rope_scaling");
  if (!scaling) return std::optional<YarnScaling>{};
  if (!scaling->is_object()) return error("{}: field 'rope_scaling' must be an object or null", fields.origin());
  FieldReader r(*scaling, fields.origin() + ": rope_scaling");
  std::string type;
  if (const json* t = r.find("type"); t && t->is_string()) type = t->get<std::string>();
  if (const json* t = r.find("rope_type"); type.empty() && t && t->is_string()) type = t->get<std::string>();
  if (type != "yarn")
    return error("{}: rope_scaling type '{}' is not supported (DeepSeek models use 'yarn')", fields.origin(), type);
  YarnScaling yarn;
  DSINFER_RETURN_IF_ERROR(r.number_field("factor", yarn.factor, /*required=*/true));
  DSINFER_RETURN_IF_ERROR(r.int_field("original_max_position_embeddings", yarn.original_max_position_embeddings, true));
  DSINFER_RETURN_IF_ERROR(r.number_field("beta_fast", yarn.beta_fast));
  DSINFER_RETURN_IF_ERROR(r.number_field("beta_slow", yarn.beta_slow));
  DSINFER_RETURN_IF_ERROR(r.number_field("mscale", yarn.mscale));
  DSINFER_RETURN_IF_ERROR(r.number_field("mscale_all_dim", yarn.mscale_all_dim));
  if (!(yarn.factor >= 1.0)) return error("{}: rope_scaling.factor must be >= 1, found {}", fields.origin(), yarn.factor);
  if (yarn.original_max_position_embeddings <= 0)
    return error("{}: rope_scaling.original_max_position_embeddings must be positive", fields.origin());
  return std::optional<YarnScaling>{yarn};
}

Result<std::optional<Fp8Quantization>> parse_quantization(const FieldReader& fields) {
  const json* q = fields.find("quantization_config");
  if (!q) return std::optional<Fp8Quantization>{};
  if (!q->is_object()) return error("{}: field 'quantization_config' must be an object", fields.origin());
  FieldReader r(*q, fields.origin() + ": quantization_config");
  std::string method;
  DSINFER_RETURN_IF_ERROR(r.string_field("quant_method", method, /*required=*/true));
  if (method != "fp8")
    return error("{}: quantization_config.quant_method '{}' is not supported (expected 'fp8')", fields.origin(), method);
  Fp8Quantization fp8;
  if (const json* block = r.find("weight_block_size")) {
    if (!block->is_array() || block->size() != 2 || !(*block)[0].is_number_integer() ||
        !(*block)[1].is_number_integer() || (*block)[0].get<int64_t>() <= 0 || (*block)[1].get<int64_t>() <= 0)
      return error("{}: quantization_config.weight_block_size must be two positive integers", fields.origin());
    fp8.block_rows = (*block)[0].get<int64_t>();
    fp8.block_cols = (*block)[1].get<int64_t>();
  }
  std::string scale_fmt;
  DSINFER_RETURN_IF_ERROR(r.string_field("scale_fmt", scale_fmt));
  if (!scale_fmt.empty() && scale_fmt != "ue8m0")
    return error("{}: quantization_config.scale_fmt '{}' is not supported", fields.origin(), scale_fmt);
  fp8.ue8m0_scales = scale_fmt == "ue8m0";
  return std::optional<Fp8Quantization>{fp8};
}

Status require_positive(const std::string& origin, const char* field, int64_t value) {
  if (value <= 0) return error("{}: field '{}' must be positive, found {}", origin, field, value);
  return Status::ok();
}

// Upper limits on the counts that size the tensor table (an entry per layer and per routed
// expert) before any tensor is read. They lie far above any released model (V3, R1 and
// Kimi K2: 61 layers, 256 or 384 experts, one MTP layer) and keep a corrupt or hostile
// config.json from spending minutes and gigabytes on a table the checkpoint cannot match.
constexpr int64_t kMaxLayers = 512;
constexpr int64_t kMaxNextnLayers = 16;
constexpr int64_t kMaxRoutedExperts = 4096;
// Sinkhorn iterations of V4's mHC mixing, run per token and layer (the release uses 20).
constexpr int64_t kMaxSinkhornIters = 1000;
// V4's residual streams (the release has 4). The mHC maps are [(2 + hc) * hc, hc * hidden]:
// at 2^40 their element counts overflowed int64 before any tensor was read (UBSan, in
// the config sweep).
constexpr int64_t kMaxHcMult = 64;

Status check_counts(const ModelConfig& c, const std::string& origin) {
  const std::pair<const char*, std::pair<int64_t, int64_t>> counts[] = {
      {"num_hidden_layers", {c.num_hidden_layers, kMaxLayers}},
      {"num_nextn_predict_layers", {c.num_nextn_predict_layers, kMaxNextnLayers}},
      {"n_routed_experts", {c.n_routed_experts, kMaxRoutedExperts}},
  };
  for (const auto& [field, value_and_limit] : counts) {
    const auto [value, limit] = value_and_limit;
    if (value < 0) return error("{}: field '{}' must not be negative, found {}", origin, field, value);
    if (value > limit)
      return error("{}: field '{}' is {}; dsinfer supports at most {} (is this the config of the checkpoint?)", origin,
                   field, value, limit);
  }
  return Status::ok();
}

// RoPE bases and the norm epsilon: a base of 0 or below, or a negative epsilon, would give
// NaN logits without a word.
Status check_numbers(const ModelConfig& c, const std::string& origin) {
  std::vector<std::pair<const char*, double>> bases = {{"rope_theta", c.rope_theta}};
  if (c.v4) bases.emplace_back("compress_rope_theta", c.v4->compress_rope_theta);
  for (const auto& [field, base] : bases) {
    if (!(base > 0) || !std::isfinite(base))
      return error("{}: field '{}' must be a positive number (a RoPE base), found {}", origin, field, base);
  }
  if (!(c.rms_norm_eps >= 0) || !std::isfinite(c.rms_norm_eps))
    return error("{}: field 'rms_norm_eps' must not be negative, found {}", origin, c.rms_norm_eps);
  return Status::ok();
}

// deepseek_v32 configs name the indexer's sizes at the top level; all three are required.
Result<IndexerConfig> parse_indexer(const FieldReader& r) {
  IndexerConfig ix;
  DSINFER_RETURN_IF_ERROR(r.int_field("index_n_heads", ix.n_heads, /*required=*/true));
  DSINFER_RETURN_IF_ERROR(r.int_field("index_head_dim", ix.head_dim, true));
  DSINFER_RETURN_IF_ERROR(r.int_field("index_topk", ix.topk, true));
  DSINFER_RETURN_IF_ERROR(r.bool_field("indexer_rope_interleave", ix.rope_interleave));
  return ix;
}

Status validate_indexer(const ModelConfig& c, const std::string& origin) {
  const IndexerConfig& ix = *c.indexer;
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "index_n_heads", ix.n_heads));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "index_head_dim", ix.head_dim));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "index_topk", ix.topk));
  if ((ix.head_dim & (ix.head_dim - 1)) != 0)
    return error("{}: field 'index_head_dim' must be a power of two (the indexer Hadamard-rotates its vectors), found {}",
                 origin, ix.head_dim);
  if (ix.head_dim <= c.qk_rope_head_dim)
    return error("{}: field 'index_head_dim' ({}) must exceed qk_rope_head_dim ({}): its vectors are [rope | nope]",
                 origin, ix.head_dim, c.qk_rope_head_dim);
  if (!c.q_lora_rank)
    return error("{}: deepseek_v32 needs q_lora_rank (the indexer's queries are made from the q latent)", origin);
  return Status::ok();
}

Status validate(const ModelConfig& c, const std::string& origin) {
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "vocab_size", c.vocab_size));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "hidden_size", c.hidden_size));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "num_hidden_layers", c.num_hidden_layers));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "num_attention_heads", c.num_attention_heads));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "kv_lora_rank", c.kv_lora_rank));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "qk_nope_head_dim", c.qk_nope_head_dim));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "qk_rope_head_dim", c.qk_rope_head_dim));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "v_head_dim", c.v_head_dim));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "max_position_embeddings", c.max_position_embeddings));
  DSINFER_RETURN_IF_ERROR(check_counts(c, origin));
  DSINFER_RETURN_IF_ERROR(check_numbers(c, origin));
  if (c.qk_rope_head_dim % 2 != 0)
    return error("{}: field 'qk_rope_head_dim' must be even (RoPE rotates pairs), found {}", origin, c.qk_rope_head_dim);
  if (c.q_lora_rank) DSINFER_RETURN_IF_ERROR(require_positive(origin, "q_lora_rank", *c.q_lora_rank));
  if (c.indexer) DSINFER_RETURN_IF_ERROR(validate_indexer(c, origin));
  if (c.first_k_dense_replace < 0 || c.first_k_dense_replace > c.num_hidden_layers)
    return error("{}: field 'first_k_dense_replace' ({}) must lie in [0, num_hidden_layers={}]", origin,
                 c.first_k_dense_replace, c.num_hidden_layers);
  if (c.first_k_dense_replace > 0 || c.n_routed_experts == 0)
    DSINFER_RETURN_IF_ERROR(require_positive(origin, "intermediate_size", c.intermediate_size));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "moe_layer_freq", c.moe_layer_freq));
  if (c.n_shared_experts < 0) return error("{}: field 'n_shared_experts' must not be negative", origin);
  if (c.n_routed_experts > 0) {
    DSINFER_RETURN_IF_ERROR(require_positive(origin, "moe_intermediate_size", c.moe_intermediate_size));
    DSINFER_RETURN_IF_ERROR(require_positive(origin, "num_experts_per_tok", c.num_experts_per_tok));
    DSINFER_RETURN_IF_ERROR(require_positive(origin, "n_group", c.n_group));
    DSINFER_RETURN_IF_ERROR(require_positive(origin, "topk_group", c.topk_group));
    if (c.num_experts_per_tok > c.n_routed_experts)
      return error("{}: field 'num_experts_per_tok' ({}) exceeds n_routed_experts ({})", origin, c.num_experts_per_tok,
                   c.n_routed_experts);
    if (c.n_routed_experts % c.n_group != 0)
      return error("{}: field 'n_group' ({}) must divide n_routed_experts ({})", origin, c.n_group, c.n_routed_experts);
    if (c.topk_group > c.n_group)
      return error("{}: field 'topk_group' ({}) exceeds n_group ({})", origin, c.topk_group, c.n_group);
    const int64_t selectable = c.topk_method == TopkMethod::kGreedy ? c.n_routed_experts
                                                                    : c.topk_group * (c.n_routed_experts / c.n_group);
    if (c.num_experts_per_tok > selectable)
      return error("{}: field 'num_experts_per_tok' ({}) exceeds the {} experts in the topk_group={} kept groups",
                   origin, c.num_experts_per_tok, selectable, c.topk_group);
    if (c.topk_method == TopkMethod::kNoauxTc && c.n_routed_experts / c.n_group < 2)
      return error("{}: noaux_tc scores a group by its top-2 experts; n_routed_experts/n_group must be >= 2", origin);
  }
  return Status::ok();
}

// deepseek_v4: the V4 fields plus the V3 fields it shares; no MLA fields.
Status parse_v4(const FieldReader& r, ModelConfig& c) {
  const std::string& origin = r.origin();
  V4Config& v = c.v4.emplace();
  c.family = ModelFamily::kDeepSeekV4;
  c.first_k_dense_replace = 0;
  c.topk_method = TopkMethod::kGreedy;
  c.scoring_func = ScoringFunc::kSqrtSoftplus;
  c.n_shared_experts = 1;
  const std::pair<const char*, int64_t*> required[] = {
      {"vocab_size", &c.vocab_size},
      {"hidden_size", &c.hidden_size},
      {"num_hidden_layers", &c.num_hidden_layers},
      {"num_attention_heads", &c.num_attention_heads},
      {"head_dim", &v.head_dim},
      {"qk_rope_head_dim", &c.qk_rope_head_dim},
      {"o_groups", &v.o_groups},
      {"o_lora_rank", &v.o_lora_rank},
      {"n_routed_experts", &c.n_routed_experts},
      {"num_experts_per_tok", &c.num_experts_per_tok},
      {"moe_intermediate_size", &c.moe_intermediate_size},
      {"sliding_window", &v.sliding_window},
      {"index_n_heads", &v.index_n_heads},
      {"index_head_dim", &v.index_head_dim},
      {"index_topk", &v.index_topk},
      {"hc_mult", &v.hc_mult},
      {"hc_sinkhorn_iters", &v.hc_sinkhorn_iters},
      {"max_position_embeddings", &c.max_position_embeddings},
  };
  for (const auto& [key, slot] : required) {
    DSINFER_RETURN_IF_ERROR(r.int_field(key, *slot, /*required=*/true));
    if (*slot <= 0) return error("{}: field '{}' must be positive, found {}", origin, key, *slot);
  }
  if (v.hc_sinkhorn_iters > kMaxSinkhornIters)
    return error("{}: field 'hc_sinkhorn_iters' is {}; dsinfer supports at most {} (the release uses 20)", origin,
                 v.hc_sinkhorn_iters, kMaxSinkhornIters);
  if (v.hc_mult > kMaxHcMult)
    return error("{}: field 'hc_mult' is {}; dsinfer supports at most {} residual streams (the release uses 4)",
                 origin, v.hc_mult, kMaxHcMult);
  int64_t q_lora = 0;
  DSINFER_RETURN_IF_ERROR(r.int_field("q_lora_rank", q_lora, true));
  DSINFER_RETURN_IF_ERROR(require_positive(origin, "q_lora_rank", q_lora));
  c.q_lora_rank = q_lora;
  DSINFER_RETURN_IF_ERROR(r.int_field("num_hash_layers", v.num_hash_layers, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("num_nextn_predict_layers", c.num_nextn_predict_layers, false));
  DSINFER_RETURN_IF_ERROR(check_counts(c, origin));
  DSINFER_RETURN_IF_ERROR(r.int_field("n_shared_experts", c.n_shared_experts, false));
  DSINFER_RETURN_IF_ERROR(r.number_field("routed_scaling_factor", c.routed_scaling_factor));
  DSINFER_RETURN_IF_ERROR(r.number_field("swiglu_limit", v.swiglu_limit));
  DSINFER_RETURN_IF_ERROR(r.number_field("rms_norm_eps", c.rms_norm_eps));
  DSINFER_RETURN_IF_ERROR(r.number_field("rope_theta", c.rope_theta));
  DSINFER_RETURN_IF_ERROR(r.number_field("compress_rope_theta", v.compress_rope_theta, true));
  DSINFER_RETURN_IF_ERROR(r.number_field("hc_eps", v.hc_eps, true));
  DSINFER_RETURN_IF_ERROR(r.bool_field("tie_word_embeddings", c.tie_word_embeddings));
  DSINFER_ASSIGN_OR_RETURN(c.yarn, parse_rope_scaling(r));
  DSINFER_ASSIGN_OR_RETURN(c.fp8, parse_quantization(r));

  std::string scoring = "sqrtsoftplus";
  DSINFER_RETURN_IF_ERROR(r.string_field("scoring_func", scoring));
  if (scoring == "sqrtsoftplus") c.scoring_func = ScoringFunc::kSqrtSoftplus;
  else if (scoring == "sigmoid") c.scoring_func = ScoringFunc::kSigmoid;
  else if (scoring == "softmax") c.scoring_func = ScoringFunc::kSoftmax;
  else return error("{}: scoring_func '{}' is not supported (expected sqrtsoftplus, sigmoid or softmax)", origin, scoring);
  // The official code always normalises non-softmax weights and ignores norm_topk_prob.
  c.norm_topk_prob = c.scoring_func != ScoringFunc::kSoftmax;

  const json* ratios = r.find("compress_ratios");
  if (!ratios) return error("{}: missing required field 'compress_ratios'", origin);
  if (!ratios->is_array()) return error("{}: field 'compress_ratios' must be a list of integers", origin);
  for (const json& ratio : *ratios) {
    if (!ratio.is_number_integer() || ratio.get<int64_t>() < 0)
      return error("{}: field 'compress_ratios' must hold non-negative integers, found {}", origin, ratio.dump());
    v.compress_ratios.push_back(ratio.get<int64_t>());
  }
  // One entry per block; an MTP block without its entry is not loaded (as in the reference).
  if (static_cast<int64_t>(v.compress_ratios.size()) < c.num_hidden_layers)
    return error("{}: field 'compress_ratios' has {} entries; num_hidden_layers is {}", origin,
                 v.compress_ratios.size(), c.num_hidden_layers);

  if (c.qk_rope_head_dim % 2 != 0 || c.qk_rope_head_dim >= v.head_dim)
    return error("{}: field 'qk_rope_head_dim' ({}) must be even and below head_dim ({})", origin, c.qk_rope_head_dim,
                 v.head_dim);
  if ((v.head_dim - c.qk_rope_head_dim) % 64 != 0)
    return error("{}: head_dim - qk_rope_head_dim ({}) must be a multiple of 64 (keys are FP8-rounded in blocks of 64)",
                 origin, v.head_dim - c.qk_rope_head_dim);
  if ((c.num_attention_heads * v.head_dim) % v.o_groups != 0)
    return error("{}: field 'o_groups' ({}) must divide num_attention_heads * head_dim ({})", origin, v.o_groups,
                 c.num_attention_heads * v.head_dim);
  const bool has_csa = std::find(v.compress_ratios.begin(), v.compress_ratios.end(), V4Config::kCsaRatio) !=
                       v.compress_ratios.end();
  if (has_csa && ((v.index_head_dim & (v.index_head_dim - 1)) != 0 || v.index_head_dim % 32 != 0 ||
                  v.index_head_dim <= c.qk_rope_head_dim))
    return error("{}: field 'index_head_dim' ({}) must be a power of two, a multiple of 32 and above qk_rope_head_dim",
                 origin, v.index_head_dim);
  if (v.num_hash_layers < 0 || v.num_hash_layers > c.num_hidden_layers)
    return error("{}: field 'num_hash_layers' ({}) must lie in [0, num_hidden_layers={}]", origin, v.num_hash_layers,
                 c.num_hidden_layers);
  if (c.num_experts_per_tok > c.n_routed_experts)
    return error("{}: field 'num_experts_per_tok' ({}) exceeds n_routed_experts ({})", origin, c.num_experts_per_tok,
                 c.n_routed_experts);
  if (c.n_shared_experts < 0) return error("{}: field 'n_shared_experts' must not be negative", origin);
  if (v.swiglu_limit < 0) return error("{}: field 'swiglu_limit' must not be negative", origin);
  if (!(v.hc_eps >= 0)) return error("{}: field 'hc_eps' must not be negative", origin);
  DSINFER_RETURN_IF_ERROR(check_numbers(c, origin));
  if (!c.fp8 || !c.fp8->ue8m0_scales)
    return error("{}: deepseek_v4 needs quantization_config with scale_fmt 'ue8m0' (the released FP8/FP4 layout)", origin);
  if (const json* act = r.find("hidden_act"); act && (!act->is_string() || act->get<std::string>() != "silu"))
    return error("{}: field 'hidden_act' must be 'silu', found {}", origin, act->dump());
  return Status::ok();
}

}  // namespace

Status validate_model_config(const ModelConfig& config, const std::string& origin) { return validate(config, origin); }

bool ModelConfig::router_normalizes() const {
  if (family == ModelFamily::kDeepSeekV2) return num_experts_per_tok > 1 && norm_topk_prob;
  return norm_topk_prob;
}

double ModelConfig::router_weight_scale() const {
  // V2 scales only when it does not normalise; V3 always scales.
  if (family == ModelFamily::kDeepSeekV2) return router_normalizes() ? 1.0 : routed_scaling_factor;
  return routed_scaling_factor;
}

double ModelConfig::softmax_scale() const {
  double scale = 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
  if (yarn && yarn->mscale_all_dim != 0.0 && yarn->factor > 1.0) {
    const double m = 0.1 * yarn->mscale_all_dim * std::log(yarn->factor) + 1.0;
    scale *= m * m;
  }
  return scale;
}

Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& origin) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return error("{}: not valid JSON", origin);
  if (!root.is_object()) return error("{}: expected a JSON object", origin);
  FieldReader r(root, origin);

  ModelConfig c;
  DSINFER_RETURN_IF_ERROR(r.string_field("model_type", c.model_type, /*required=*/true));
  if (c.model_type == "deepseek_v2") {
    c.family = ModelFamily::kDeepSeekV2;
  } else if (c.model_type == "deepseek_v3" || c.model_type == "kimi_k2" || c.model_type == "deepseek_v32") {
    c.family = ModelFamily::kDeepSeekV3;
  } else if (c.model_type == "deepseek_v4") {
    DSINFER_RETURN_IF_ERROR(parse_v4(r, c));
    return c;
  } else {
    return error(
        "{}: model_type '{}' is not supported (expected deepseek_v2, deepseek_v3, kimi_k2, deepseek_v32 or deepseek_v4)",
        origin, c.model_type);
  }
  if (c.model_type == "deepseek_v32") {
    DSINFER_ASSIGN_OR_RETURN(c.indexer, parse_indexer(r));
  }

  DSINFER_RETURN_IF_ERROR(r.int_field("vocab_size", c.vocab_size, true));
  DSINFER_RETURN_IF_ERROR(r.int_field("hidden_size", c.hidden_size, true));
  DSINFER_RETURN_IF_ERROR(r.int_field("num_hidden_layers", c.num_hidden_layers, true));
  DSINFER_RETURN_IF_ERROR(r.int_field("num_nextn_predict_layers", c.num_nextn_predict_layers, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("max_position_embeddings", c.max_position_embeddings, true));
  DSINFER_RETURN_IF_ERROR(r.number_field("rms_norm_eps", c.rms_norm_eps));
  DSINFER_RETURN_IF_ERROR(r.bool_field("tie_word_embeddings", c.tie_word_embeddings));

  DSINFER_RETURN_IF_ERROR(r.int_field("num_attention_heads", c.num_attention_heads, true));
  DSINFER_RETURN_IF_ERROR(r.optional_int_field("q_lora_rank", c.q_lora_rank));
  DSINFER_RETURN_IF_ERROR(r.int_field("kv_lora_rank", c.kv_lora_rank, true));
  DSINFER_RETURN_IF_ERROR(r.int_field("qk_nope_head_dim", c.qk_nope_head_dim, true));
  DSINFER_RETURN_IF_ERROR(r.int_field("qk_rope_head_dim", c.qk_rope_head_dim, true));
  DSINFER_RETURN_IF_ERROR(r.int_field("v_head_dim", c.v_head_dim, true));
  DSINFER_RETURN_IF_ERROR(r.number_field("rope_theta", c.rope_theta));
  DSINFER_ASSIGN_OR_RETURN(c.yarn, parse_rope_scaling(r));

  DSINFER_RETURN_IF_ERROR(r.int_field("intermediate_size", c.intermediate_size, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("first_k_dense_replace", c.first_k_dense_replace, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("moe_layer_freq", c.moe_layer_freq, false));

  DSINFER_RETURN_IF_ERROR(r.int_field("n_routed_experts", c.n_routed_experts, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("n_shared_experts", c.n_shared_experts, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("num_experts_per_tok", c.num_experts_per_tok, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("moe_intermediate_size", c.moe_intermediate_size, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("n_group", c.n_group, false));
  DSINFER_RETURN_IF_ERROR(r.int_field("topk_group", c.topk_group, false));
  DSINFER_RETURN_IF_ERROR(r.bool_field("norm_topk_prob", c.norm_topk_prob));
  DSINFER_RETURN_IF_ERROR(r.number_field("routed_scaling_factor", c.routed_scaling_factor));

  std::string scoring = "softmax";
  DSINFER_RETURN_IF_ERROR(r.string_field("scoring_func", scoring));
  if (scoring == "softmax") c.scoring_func = ScoringFunc::kSoftmax;
  else if (scoring == "sigmoid") c.scoring_func = ScoringFunc::kSigmoid;
  else return error("{}: scoring_func '{}' is not supported (expected softmax or sigmoid)", origin, scoring);

  std::string topk = "greedy";
  DSINFER_RETURN_IF_ERROR(r.string_field("topk_method", topk));
  if (topk == "greedy") c.topk_method = TopkMethod::kGreedy;
  else if (topk == "group_limited_greedy") c.topk_method = TopkMethod::kGroupLimitedGreedy;
  else if (topk == "noaux_tc") c.topk_method = TopkMethod::kNoauxTc;
  else return error("{}: topk_method '{}' is not supported (expected greedy, group_limited_greedy or noaux_tc)", origin, topk);

  DSINFER_ASSIGN_OR_RETURN(c.fp8, parse_quantization(r));
  DSINFER_RETURN_IF_ERROR(validate(c, origin));
  return c;
}

Result<ModelConfig> load_model_config(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open {} (is --model a Hugging Face model folder?)", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_model_config(text.str(), path);
}

}  // namespace dsinfer
