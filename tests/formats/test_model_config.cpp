// config.json -> ModelConfig: field parsing, errors that name the field, and the
// model_type-dependent router policy and softmax scale of MODEL-NOTES.md.
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "formats/model_config.h"
#include "temp_dir.h"

namespace dsinfer {
namespace {

using nlohmann::json;
using test::contains_all;

// DeepSeek-V3 shapes (the real config's fields and values, minus the ones we do not read).
json v3_config_json() {
  return json::parse(R"({
    "model_type": "deepseek_v3", "vocab_size": 129280, "hidden_size": 7168, "num_hidden_layers": 61,
    "num_nextn_predict_layers": 1, "max_position_embeddings": 163840, "rms_norm_eps": 1e-06,
    "tie_word_embeddings": false, "num_attention_heads": 128, "q_lora_rank": 1536, "kv_lora_rank": 512,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "rope_theta": 10000,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                     "original_max_position_embeddings": 4096, "type": "yarn"},
    "intermediate_size": 18432, "first_k_dense_replace": 3, "moe_layer_freq": 1,
    "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8, "moe_intermediate_size": 2048,
    "n_group": 8, "topk_group": 4, "scoring_func": "sigmoid", "topk_method": "noaux_tc",
    "norm_topk_prob": true, "routed_scaling_factor": 2.5,
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                            "weight_block_size": [128, 128]}
  })");
}

// DeepSeek-V2-Lite shapes.
json v2_lite_config() {
  return json::parse(R"({
    "model_type": "deepseek_v2", "vocab_size": 102400, "hidden_size": 2048, "num_hidden_layers": 27,
    "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "num_attention_heads": 16, "q_lora_rank": null,
    "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
    "rope_theta": 10000,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, "mscale_all_dim": 0.707,
                     "original_max_position_embeddings": 4096, "type": "yarn"},
    "intermediate_size": 10944, "first_k_dense_replace": 1, "moe_layer_freq": 1,
    "n_routed_experts": 64, "n_shared_experts": 2, "num_experts_per_tok": 6, "moe_intermediate_size": 1408,
    "n_group": 1, "topk_group": 1, "scoring_func": "softmax", "topk_method": "greedy",
    "norm_topk_prob": false, "routed_scaling_factor": 1.0
  })");
}

Result<ModelConfig> parse(const json& j) { return parse_model_config(j.dump(), "model/config.json"); }

ModelConfig parse_ok(const json& j) {
  auto r = parse(j);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : ModelConfig{};
}

void expect_error(const json& j, std::initializer_list<std::string> needles) {
  auto r = parse(j);
  ASSERT_FALSE(r.is_ok()) << "parsed although it should not: " << j.dump();
  EXPECT_TRUE(contains_all(r.status().message(), needles));
  EXPECT_TRUE(contains_all(r.status().message(), {"model/config.json"}));
}

TEST(ModelConfig, ParsesDeepSeekV3) {
  const ModelConfig c = parse_ok(v3_config_json());
  EXPECT_EQ(c.model_type, "deepseek_v3");
  EXPECT_EQ(c.family, ModelFamily::kDeepSeekV3);
  EXPECT_EQ(c.hidden_size, 7168);
  EXPECT_EQ(c.num_hidden_layers, 61);
  EXPECT_EQ(c.num_nextn_predict_layers, 1);
  ASSERT_TRUE(c.q_lora_rank.has_value());
  EXPECT_EQ(*c.q_lora_rank, 1536);
  EXPECT_EQ(c.qk_head_dim(), 192);
  EXPECT_EQ(c.latent_dim(), 576);
  EXPECT_EQ(c.scoring_func, ScoringFunc::kSigmoid);
  EXPECT_EQ(c.topk_method, TopkMethod::kNoauxTc);
  EXPECT_EQ(c.n_group, 8);
  EXPECT_EQ(c.topk_group, 4);
  ASSERT_TRUE(c.yarn.has_value());
  EXPECT_EQ(c.yarn->factor, 40.0);
  EXPECT_EQ(c.yarn->original_max_position_embeddings, 4096);
  EXPECT_EQ(c.yarn->mscale_all_dim, 1.0);
  ASSERT_TRUE(c.fp8.has_value());
  EXPECT_EQ(c.fp8->block_rows, 128);
  EXPECT_EQ(c.fp8->block_cols, 128);
  EXPECT_FALSE(c.fp8->ue8m0_scales);
  EXPECT_FALSE(c.is_moe_layer(2));
  EXPECT_TRUE(c.is_moe_layer(3));
}

TEST(ModelConfig, ParsesDeepSeekV2Lite) {
  const ModelConfig c = parse_ok(v2_lite_config());
  EXPECT_EQ(c.family, ModelFamily::kDeepSeekV2);
  EXPECT_FALSE(c.q_lora_rank.has_value()) << "q_lora_rank: null means a plain q_proj";
  EXPECT_EQ(c.scoring_func, ScoringFunc::kSoftmax);
  EXPECT_EQ(c.topk_method, TopkMethod::kGreedy);
  EXPECT_FALSE(c.fp8.has_value());
  EXPECT_FALSE(c.is_moe_layer(0));
  EXPECT_TRUE(c.is_moe_layer(1));
}

TEST(ModelConfig, KimiK2IsV3Shaped) {
  json j = v3_config_json();
  j["model_type"] = "kimi_k2";
  EXPECT_EQ(parse_ok(j).family, ModelFamily::kDeepSeekV3);
}

// DeepSeek-V3.2: V3 plus the lightning indexer's fields (the real config's values).
json v32_config() {
  json j = v3_config_json();
  j["model_type"] = "deepseek_v32";
  j["index_n_heads"] = 64;
  j["index_head_dim"] = 128;
  j["index_topk"] = 2048;
  return j;
}

TEST(ModelConfig, ParsesDeepSeekV32Indexer) {
  const ModelConfig c = parse_ok(v32_config());
  EXPECT_EQ(c.family, ModelFamily::kDeepSeekV3);
  ASSERT_TRUE(c.indexer.has_value());
  EXPECT_EQ(c.indexer->n_heads, 64);
  EXPECT_EQ(c.indexer->head_dim, 128);
  EXPECT_EQ(c.indexer->topk, 2048);
  EXPECT_FALSE(c.indexer->rope_interleave);
  EXPECT_FALSE(parse_ok(v3_config_json()).indexer.has_value());  // V3 ignores index_* fields it does not have

  json j = v32_config();
  j["indexer_rope_interleave"] = true;
  EXPECT_TRUE(parse_ok(j).indexer->rope_interleave);
}

TEST(ModelConfig, DeepSeekV32IndexerErrorsNameTheField) {
  for (const char* field : {"index_n_heads", "index_head_dim", "index_topk"}) {
    json j = v32_config();
    j.erase(field);
    expect_error(j, {"missing required field", field});
    j[field] = 0;
    expect_error(j, {field, "positive"});
    j[field] = 1.5;
    expect_error(j, {field, "integer"});
  }
  json j = v32_config();
  j["index_head_dim"] = 96;
  expect_error(j, {"'index_head_dim'", "power of two"});
  j["index_head_dim"] = 64;  // == qk_rope_head_dim
  expect_error(j, {"'index_head_dim'", "qk_rope_head_dim"});
  j = v32_config();
  j["q_lora_rank"] = nullptr;
  expect_error(j, {"deepseek_v32", "q_lora_rank"});
  j = v32_config();
  j["indexer_rope_interleave"] = "yes";
  expect_error(j, {"'indexer_rope_interleave'", "true or false"});
}

TEST(ModelConfig, Ue8m0Scales) {
  json j = v3_config_json();
  j["quantization_config"]["scale_fmt"] = "ue8m0";
  const ModelConfig c = parse_ok(j);
  ASSERT_TRUE(c.fp8.has_value());
  EXPECT_TRUE(c.fp8->ue8m0_scales);
}

TEST(ModelConfig, ErrorsNameTheField) {
  json j = v3_config_json();
  j.erase("hidden_size");
  expect_error(j, {"missing required field 'hidden_size'"});

  j = v3_config_json();
  j["hidden_size"] = "7168";
  expect_error(j, {"'hidden_size'", "must be an integer"});

  j = v3_config_json();
  j["hidden_size"] = 0;
  expect_error(j, {"'hidden_size'", "positive"});

  j = v3_config_json();
  j["model_type"] = "llama";
  expect_error(j, {"model_type 'llama'", "not supported"});

  j = v3_config_json();
  j.erase("model_type");
  expect_error(j, {"'model_type'"});

  j = v3_config_json();
  j["topk_group"] = 9;
  expect_error(j, {"'topk_group' (9) exceeds n_group (8)"});

  j = v3_config_json();
  j["n_group"] = 3;
  j["topk_group"] = 1;
  expect_error(j, {"'n_group' (3) must divide n_routed_experts (256)"});

  j = v3_config_json();
  j["rope_scaling"]["type"] = "linear";
  expect_error(j, {"rope_scaling type 'linear'", "not supported"});

  j = v3_config_json();
  j["rope_scaling"].erase("factor");
  expect_error(j, {"'factor'"});

  j = v3_config_json();
  j["quantization_config"]["quant_method"] = "bitsandbytes";
  expect_error(j, {"quant_method 'bitsandbytes'", "fp8"});

  j = v3_config_json();
  j["quantization_config"]["weight_block_size"] = json::array({0, 128});
  expect_error(j, {"weight_block_size"});

  j = v3_config_json();
  j["qk_rope_head_dim"] = 63;
  expect_error(j, {"'qk_rope_head_dim'", "even"});

  j = v3_config_json();
  j["scoring_func"] = "relu";
  expect_error(j, {"scoring_func 'relu'"});

  j = v3_config_json();
  j["topk_method"] = "top_p";
  expect_error(j, {"topk_method 'top_p'"});

  j = v3_config_json();
  j["num_experts_per_tok"] = 129;  // more than the 4 kept groups of 32 hold
  expect_error(j, {"'num_experts_per_tok'", "kept groups"});

  j = v3_config_json();
  j["norm_topk_prob"] = 1;
  expect_error(j, {"'norm_topk_prob'", "true or false"});

  j = v3_config_json();
  j["first_k_dense_replace"] = 62;
  expect_error(j, {"'first_k_dense_replace'"});
}

TEST(ModelConfig, NotAnObject) {
  auto r = parse_model_config("{\"model_type\": ", "cfg.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains_all(r.status().message(), {"cfg.json", "not valid JSON"}));
  auto arr = parse_model_config("[1]", "cfg.json");
  ASSERT_FALSE(arr.is_ok());
  EXPECT_TRUE(contains_all(arr.status().message(), {"cfg.json", "object"}));
}

// MODEL-NOTES: deepseek_v3 divides by the sum when norm_topk_prob, then ALWAYS multiplies by
// routed_scaling_factor; deepseek_v2 multiplies only when it does NOT normalise.
TEST(ModelConfig, RouterPolicyFollowsModelType) {
  json v3 = v3_config_json();
  ModelConfig c = parse_ok(v3);
  EXPECT_TRUE(c.router_normalizes());
  EXPECT_DOUBLE_EQ(c.router_weight_scale(), 2.5);

  v3["norm_topk_prob"] = false;
  c = parse_ok(v3);
  EXPECT_FALSE(c.router_normalizes());
  EXPECT_DOUBLE_EQ(c.router_weight_scale(), 2.5);

  json v2 = v2_lite_config();
  v2["routed_scaling_factor"] = 16.0;  // V2-236B-like
  c = parse_ok(v2);
  EXPECT_FALSE(c.router_normalizes());
  EXPECT_DOUBLE_EQ(c.router_weight_scale(), 16.0);

  v2["norm_topk_prob"] = true;
  c = parse_ok(v2);
  EXPECT_TRUE(c.router_normalizes());
  EXPECT_DOUBLE_EQ(c.router_weight_scale(), 1.0) << "deepseek_v2 does not scale normalised weights";

  // V2 normalises only with more than one expert per token (HF: top_k > 1 and norm_topk_prob).
  v2["num_experts_per_tok"] = 1;
  c = parse_ok(v2);
  EXPECT_FALSE(c.router_normalizes());
  EXPECT_DOUBLE_EQ(c.router_weight_scale(), 16.0);
}

TEST(ModelConfig, SoftmaxScaleWithYarnMscaleAllDim) {
  // (128 + 64)^-0.5 * (0.1 * 1.0 * ln 40 + 1)^2 = 0.0721687836 * 1.3688879454^2.
  EXPECT_NEAR(parse_ok(v3_config_json()).softmax_scale(), 0.1352337788608801, 1e-12);
  // V2-Lite: mscale_all_dim 0.707.
  EXPECT_NEAR(parse_ok(v2_lite_config()).softmax_scale(), 0.1147213867929261, 1e-12);

  json j = v3_config_json();
  j.erase("rope_scaling");
  EXPECT_NEAR(parse_ok(j).softmax_scale(), 0.07216878364870322, 1e-12);

  j = v3_config_json();
  j["rope_scaling"]["mscale_all_dim"] = 0;
  EXPECT_NEAR(parse_ok(j).softmax_scale(), 0.07216878364870322, 1e-12);

  j = v3_config_json();
  j["rope_scaling"]["factor"] = 1.0;
  EXPECT_NEAR(parse_ok(j).softmax_scale(), 0.07216878364870322, 1e-12);
}

class LoadModelConfigTest : public test::TempDirTest {};

TEST_F(LoadModelConfigTest, ReadsTheFolderAndNamesTheFile) {
  auto missing = load_model_config(dir_.string());
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(contains_all(missing.status().message(), {path("config.json")}));

  write_text("config.json", v2_lite_config().dump(2));
  auto loaded = load_model_config(dir_.string());
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ(loaded->hidden_size, 2048);

  json bad = v2_lite_config();
  bad.erase("vocab_size");
  write_text("config.json", bad.dump());
  auto error = load_model_config(dir_.string());
  ASSERT_FALSE(error.is_ok());
  EXPECT_TRUE(contains_all(error.status().message(), {path("config.json"), "'vocab_size'"}));
}

}  // namespace
}  // namespace dsinfer

namespace dsinfer {
namespace {

// DeepSeek-V4-Flash-shaped fields (deepseek_v4): no MLA fields, V4's own ones.
json v4_config() {
  return json::parse(R"({
    "model_type": "deepseek_v4", "vocab_size": 129280, "hidden_size": 4096, "num_hidden_layers": 4,
    "num_hash_layers": 3, "num_nextn_predict_layers": 1, "num_attention_heads": 64, "head_dim": 512,
    "qk_rope_head_dim": 64, "q_lora_rank": 1024, "o_groups": 8, "o_lora_rank": 1024,
    "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 6, "moe_intermediate_size": 2048,
    "scoring_func": "sqrtsoftplus", "routed_scaling_factor": 1.5, "swiglu_limit": 10.0, "rms_norm_eps": 1e-6,
    "sliding_window": 128, "compress_ratios": [0, 4, 128, 4, 0], "compress_rope_theta": 160000.0,
    "rope_theta": 10000.0, "max_position_embeddings": 1048576,
    "rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536,
                     "beta_fast": 32, "beta_slow": 1},
    "index_n_heads": 64, "index_head_dim": 128, "index_topk": 512,
    "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-6, "hidden_act": "silu",
    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "scale_fmt": "ue8m0",
                            "weight_block_size": [128, 128]}
  })");
}

TEST(ModelConfig, ParsesDeepSeekV4) {
  const ModelConfig c = parse_ok(v4_config());
  ASSERT_TRUE(c.v4.has_value());
  EXPECT_EQ(c.family, ModelFamily::kDeepSeekV4);
  EXPECT_FALSE(c.indexer.has_value());  // V4's indexer is a V4 part, not V3.2's
  EXPECT_EQ(c.v4->head_dim, 512);
  EXPECT_EQ(c.v4->num_hash_layers, 3);
  EXPECT_EQ(c.v4->o_groups, 8);
  EXPECT_EQ(c.v4->sliding_window, 128);
  EXPECT_EQ(c.v4->ratio(1), 4);
  EXPECT_EQ(c.v4->ratio(2), 128);
  EXPECT_EQ(c.v4->index_topk, 512);
  EXPECT_EQ(c.v4->hc_mult, 4);
  EXPECT_EQ(c.v4->hc_mix(), 24);
  EXPECT_DOUBLE_EQ(c.v4->swiglu_limit, 10.0);
  EXPECT_DOUBLE_EQ(c.v4->compress_rope_theta, 160000.0);
  EXPECT_EQ(c.scoring_func, ScoringFunc::kSqrtSoftplus);
  EXPECT_EQ(*c.q_lora_rank, 1024);
  ASSERT_TRUE(c.fp8 && c.yarn);
  EXPECT_TRUE(c.fp8->ue8m0_scales);
}

TEST(ModelConfig, DeepSeekV4ErrorsNameTheField) {
  for (const char* field : {"hc_mult", "compress_ratios", "sliding_window", "o_groups", "index_topk",
                            "compress_rope_theta", "hc_eps", "head_dim"}) {
    json j = v4_config();
    j.erase(field);
    expect_error(j, {std::string("'") + field + "'"});
  }
  json j = v4_config();
  j["compress_ratios"] = {0, 4};
  expect_error(j, {"'compress_ratios' has 2 entries"});
  j = v4_config();
  j["compress_ratios"] = {0, 4, 128, 4};  // no entry for the MTP block: parsed, the block is skipped
  ASSERT_TRUE(parse(j).is_ok());
  EXPECT_EQ(parse(j)->v4->blocks(4, 1), 4);
  j = v4_config();
  j["o_groups"] = 7;
  expect_error(j, {"'o_groups' (7)"});
  j = v4_config();
  j["index_head_dim"] = 96;
  expect_error(j, {"'index_head_dim' (96)"});
  j = v4_config();
  j["num_hash_layers"] = 9;
  expect_error(j, {"'num_hash_layers' (9)"});
  j = v4_config();
  j["scoring_func"] = "relu";
  expect_error(j, {"scoring_func 'relu'"});
  j = v4_config();
  j["quantization_config"].erase("scale_fmt");
  expect_error(j, {"scale_fmt 'ue8m0'"});
}

// Counts that size the tensor table before any tensor is read, and the numbers that would
// give NaN logits: refused with the field named (tests/integration/check_config_sweep.py
// found each one hanging, crashing or giving NaN before).
TEST(ModelConfig, RefusesCountsAndNumbersNoModelHas) {
  const std::pair<const char*, json> v3_cases[] = {
      {"n_routed_experts", 4097}, {"num_hidden_layers", 513}, {"num_nextn_predict_layers", 17},
      {"num_nextn_predict_layers", -1}, {"rope_theta", 0}, {"rope_theta", -1.0}, {"rms_norm_eps", -1e-6},
  };
  for (const auto& [field, value] : v3_cases) {
    json j = v3_config_json();
    j[field] = value;
    if (std::string(field) == "n_routed_experts") j["n_group"] = 1;
    expect_error(j, {std::string("'") + field + "'"});
  }
  json limits = v3_config_json();
  limits["n_routed_experts"] = 4096;
  limits["num_hidden_layers"] = 512;
  limits["num_nextn_predict_layers"] = 16;
  limits["rms_norm_eps"] = 0.0;
  EXPECT_EQ(parse_ok(limits).n_routed_experts, 4096);

  for (const auto& [field, value] : {std::pair<const char*, json>{"hc_sinkhorn_iters", 1001}, {"hc_mult", 65},
                                     {"compress_rope_theta", 0}, {"num_nextn_predict_layers", -1}}) {
    json j = v4_config();
    j[field] = value;
    expect_error(j, {std::string("'") + field + "'"});
  }
}

}  // namespace
}  // namespace dsinfer
