// llama.cpp's deepseek2 layout: HF <-> GGUF tensor names, metadata <-> ModelConfig (the
// router variant above all), and GgufWeights serving a file by HF names, including the
// kv_b it rebuilds from the split attn_k_b / attn_v_b tensors of newer conversions.
#include <gtest/gtest.h>

#include "formats/gguf_weights.h"
#include "temp_dir.h"

namespace dsinfer {
namespace {

using test::contains_all;

TEST(Deepseek2Names, MapsEveryKindOfTensor) {
  const std::pair<const char*, const char*> cases[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
      {"model.layers.12.self_attn.q_proj.weight", "blk.12.attn_q.weight"},
      {"model.layers.3.self_attn.q_a_proj.weight", "blk.3.attn_q_a.weight"},
      {"model.layers.3.self_attn.q_a_layernorm.weight", "blk.3.attn_q_a_norm.weight"},
      {"model.layers.3.self_attn.q_b_proj.weight", "blk.3.attn_q_b.weight"},
      {"model.layers.3.self_attn.kv_a_proj_with_mqa.weight", "blk.3.attn_kv_a_mqa.weight"},
      {"model.layers.3.self_attn.kv_a_layernorm.weight", "blk.3.attn_kv_a_norm.weight"},
      {"model.layers.3.self_attn.kv_b_proj.weight", "blk.3.attn_kv_b.weight"},
      {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
      {"model.layers.3.post_attention_layernorm.weight", "blk.3.ffn_norm.weight"},
      {"model.layers.0.mlp.gate_proj.weight", "blk.0.ffn_gate.weight"},
      {"model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up.weight"},
      {"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight"},
      {"model.layers.5.mlp.gate.weight", "blk.5.ffn_gate_inp.weight"},
      {"model.layers.5.mlp.gate.e_score_correction_bias", "blk.5.exp_probs_b.bias"},
      {"model.layers.5.mlp.shared_experts.gate_proj.weight", "blk.5.ffn_gate_shexp.weight"},
      {"model.layers.5.mlp.shared_experts.up_proj.weight", "blk.5.ffn_up_shexp.weight"},
      {"model.layers.5.mlp.shared_experts.down_proj.weight", "blk.5.ffn_down_shexp.weight"},
  };
  for (const auto& [hf, gguf] : cases) {
    const auto name = deepseek2_tensor_name(hf);
    ASSERT_TRUE(name.has_value()) << hf;
    EXPECT_EQ(name->gguf_name, gguf);
    EXPECT_EQ(name->expert, -1);
  }
  const auto expert = deepseek2_tensor_name("model.layers.7.mlp.experts.255.down_proj.weight");
  ASSERT_TRUE(expert.has_value());
  EXPECT_EQ(expert->gguf_name, "blk.7.ffn_down_exps.weight");
  EXPECT_EQ(expert->expert, 255);
  for (const char* other : {"model.layers.61.embed_tokens.weight", "model.layers.61.eh_proj.weight",
                            "model.layers.3.self_attn.q_a_proj.weight_scale_inv", "model.layers.x.mlp.gate.weight",
                            "model.layers.3.mlp.experts.1.gate.weight", "something"})
    EXPECT_FALSE(deepseek2_tensor_name(other).has_value()) << other;
}

// A small V3-style config (values chosen to be distinct).
ModelConfig v3_config() {
  ModelConfig c;
  c.model_type = "deepseek_v3";
  c.family = ModelFamily::kDeepSeekV3;
  c.vocab_size = 300;
  c.hidden_size = 64;
  c.num_hidden_layers = 3;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-6;
  c.num_attention_heads = 2;
  c.q_lora_rank = 48;
  c.kv_lora_rank = 4;
  c.qk_nope_head_dim = 3;
  c.qk_rope_head_dim = 2;
  c.v_head_dim = 5;
  c.rope_theta = 50000;
  c.yarn = YarnScaling{.factor = 40, .original_max_position_embeddings = 4096, .beta_fast = 32, .beta_slow = 1,
                       .mscale = 1.0, .mscale_all_dim = 1.0};
  c.intermediate_size = 96;
  c.first_k_dense_replace = 1;
  c.n_routed_experts = 16;
  c.n_shared_experts = 1;
  c.num_experts_per_tok = 4;
  c.moe_intermediate_size = 32;
  c.n_group = 4;
  c.topk_group = 2;
  c.scoring_func = ScoringFunc::kSigmoid;
  c.topk_method = TopkMethod::kNoauxTc;
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5;
  return c;
}

Result<ModelConfig> read_back(const GgufWriter& w, const Deepseek2TensorFacts& facts) {
  return deepseek2_config([&](const std::string& k) { return w.find(k); }, facts, "test.gguf");
}

void expect_same_model(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_FLOAT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.q_lora_rank, b.q_lora_rank);
  EXPECT_EQ(a.kv_lora_rank, b.kv_lora_rank);
  EXPECT_EQ(a.qk_nope_head_dim, b.qk_nope_head_dim);
  EXPECT_EQ(a.qk_rope_head_dim, b.qk_rope_head_dim);
  EXPECT_EQ(a.v_head_dim, b.v_head_dim);
  EXPECT_FLOAT_EQ(a.rope_theta, b.rope_theta);
  ASSERT_EQ(a.yarn.has_value(), b.yarn.has_value());
  if (a.yarn) {
    EXPECT_FLOAT_EQ(a.yarn->factor, b.yarn->factor);
    EXPECT_EQ(a.yarn->original_max_position_embeddings, b.yarn->original_max_position_embeddings);
    EXPECT_FLOAT_EQ(a.yarn->mscale_all_dim, b.yarn->mscale_all_dim);
    EXPECT_FLOAT_EQ(a.yarn->mscale, b.yarn->mscale);
  }
  EXPECT_FLOAT_EQ(a.softmax_scale(), b.softmax_scale());
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.first_k_dense_replace, b.first_k_dense_replace);
  EXPECT_EQ(a.n_routed_experts, b.n_routed_experts);
  EXPECT_EQ(a.n_shared_experts, b.n_shared_experts);
  EXPECT_EQ(a.num_experts_per_tok, b.num_experts_per_tok);
  EXPECT_EQ(a.moe_intermediate_size, b.moe_intermediate_size);
  EXPECT_EQ(a.n_group, b.n_group);
  EXPECT_EQ(a.topk_group, b.topk_group);
  EXPECT_EQ(a.scoring_func, b.scoring_func);
  EXPECT_EQ(a.topk_method, b.topk_method);
  EXPECT_EQ(a.router_normalizes(), b.router_normalizes());
  EXPECT_FLOAT_EQ(a.router_weight_scale(), b.router_weight_scale());
}

TEST(Deepseek2Metadata, V3ConfigRoundTrips) {
  const ModelConfig c = v3_config();
  GgufWriter w;
  std::vector<std::string> warnings;
  ASSERT_TRUE(write_deepseek2_metadata(c, "tiny", w, warnings).is_ok());
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(*w.find("general.architecture")->as_string(), "deepseek2");
  EXPECT_EQ(*w.find("deepseek2.expert_gating_func")->as_int(), 2);
  EXPECT_EQ(*w.find("deepseek2.attention.key_length")->as_int(), 5);  // nope + rope
  EXPECT_FLOAT_EQ(*w.find("deepseek2.rope.scaling.yarn_log_multiplier")->as_float(), 0.1);
  auto back = read_back(w, {.has_selection_bias = true, .has_output = true});
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  expect_same_model(c, *back);
  EXPECT_EQ(back->family, ModelFamily::kDeepSeekV3);
}

TEST(Deepseek2Metadata, V2ConfigRoundTripsWithItsRouterSemantics) {
  ModelConfig c = v3_config();
  c.model_type = "deepseek_v2";
  c.family = ModelFamily::kDeepSeekV2;
  c.q_lora_rank.reset();
  c.scoring_func = ScoringFunc::kSoftmax;
  c.topk_method = TopkMethod::kGroupLimitedGreedy;
  c.norm_topk_prob = false;
  c.routed_scaling_factor = 16.0;
  c.yarn->mscale = c.yarn->mscale_all_dim = 0.707;
  GgufWriter w;
  std::vector<std::string> warnings;
  ASSERT_TRUE(write_deepseek2_metadata(c, "", w, warnings).is_ok());
  EXPECT_EQ(*w.find("deepseek2.attention.q_lora_rank")->as_int(), 0);
  auto back = read_back(w, {.has_selection_bias = false, .has_output = false});
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  expect_same_model(c, *back);
  EXPECT_EQ(back->family, ModelFamily::kDeepSeekV2);
  EXPECT_TRUE(back->tie_word_embeddings);
  EXPECT_FALSE(back->router_normalizes());
  EXPECT_EQ(back->router_weight_scale(), 16.0);
  // Warned: mainline's group scoring differs; ik_llama.cpp needs q_lora at 3 layers.
  std::string all;
  for (const auto& s : warnings) all += s + "\n";
  EXPECT_TRUE(contains_all(all, {"top-2 sum", "ik_llama.cpp will not load"}));
}

TEST(Deepseek2Metadata, RouterVariantDecidedFromGatingFuncAndBias) {
  GgufWriter w;
  std::vector<std::string> warnings;
  ModelConfig c = v3_config();
  c.n_group = c.topk_group = 1;
  ASSERT_TRUE(write_deepseek2_metadata(c, "", w, warnings).is_ok());
  // Sigmoid without a bias: V3 normalisation and scaling, plain top-k.
  auto back = read_back(w, {.has_selection_bias = false});
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->family, ModelFamily::kDeepSeekV3);
  EXPECT_EQ(back->topk_method, TopkMethod::kGreedy);
  // No gating key at all (files from before it): softmax, V2.
  GgufWriter old;
  ASSERT_TRUE(write_deepseek2_metadata(c, "", old, warnings).is_ok());
  old.set("deepseek2.expert_gating_func", GgufValue::u32(0));
  back = read_back(old, {});
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->scoring_func, ScoringFunc::kSoftmax);
  EXPECT_EQ(back->family, ModelFamily::kDeepSeekV2);
  // Unsupported gating functions are named.
  old.set("deepseek2.expert_gating_func", GgufValue::u32(3));
  EXPECT_TRUE(contains_all(read_back(old, {}).status().message(), {"expert_gating_func 3", "not supported"}));
}

TEST(Deepseek2Metadata, SplitKvBLayoutKeysAndErrors) {
  GgufWriter w;
  std::vector<std::string> warnings;
  ASSERT_TRUE(write_deepseek2_metadata(v3_config(), "", w, warnings).is_ok());
  // The newer converter: key_length is the latent MQA head, the real widths are _mla.
  w.set("deepseek2.attention.key_length", GgufValue::u32(4 + 2));
  w.set("deepseek2.attention.value_length", GgufValue::u32(4));
  w.set("deepseek2.attention.key_length_mla", GgufValue::u32(5));
  w.set("deepseek2.attention.value_length_mla", GgufValue::u32(5));
  w.set("deepseek2.attention.head_count_kv", GgufValue::u32(1));
  auto back = read_back(w, {.has_selection_bias = true});
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->qk_nope_head_dim, 3);
  EXPECT_EQ(back->v_head_dim, 5);

  w.set("deepseek2.attention.kv_lora_rank", GgufValue::string("512"));
  EXPECT_TRUE(contains_all(read_back(w, {}).status().message(), {"test.gguf", "kv_lora_rank", "integer", "string"}));
  w.set("general.architecture", GgufValue::string("llama"));
  EXPECT_TRUE(contains_all(read_back(w, {}).status().message(), {"'llama'", "deepseek2"}));
  GgufWriter empty;
  empty.set("general.architecture", GgufValue::string("deepseek2"));
  EXPECT_TRUE(contains_all(read_back(empty, {}).status().message(), {"missing metadata 'deepseek2.block_count'"}));
}

class GgufWeightsTest : public test::TempDirTest {};

TEST_F(GgufWeightsTest, RebuildsKvBFromSplitTensorsAndSlicesExperts) {
  const ModelConfig c = v3_config();
  const int64_t heads = c.num_attention_heads, nope = c.qk_nope_head_dim, v = c.v_head_dim, rank = c.kv_lora_rank;
  // HF kv_b [heads * (nope + v), rank], value = 100 * row + col.
  auto kv_b = [&](int64_t row, int64_t col) { return static_cast<float>(100 * row + col); };
  // The converter: kv_b.view(heads, nope + v, rank), split, k_b transposed to [heads, rank, nope].
  std::vector<float> k_b, v_b;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t col = 0; col < rank; ++col)
      for (int64_t i = 0; i < nope; ++i) k_b.push_back(kv_b(h * (nope + v) + i, col));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < v; ++j)
      for (int64_t col = 0; col < rank; ++col) v_b.push_back(kv_b(h * (nope + v) + nope + j, col));
  // Experts [16, 2 rows, 32 cols] in q8_0: expert e's block scale is e (f16), quants 1.
  std::vector<uint8_t> experts;
  for (int e = 0; e < 16; ++e)
    for (int row = 0; row < 2; ++row) {
      const uint16_t d = f32_to_f16(static_cast<float>(e));
      experts.push_back(static_cast<uint8_t>(d & 0xFF));
      experts.push_back(static_cast<uint8_t>(d >> 8));
      for (int i = 0; i < 32; ++i) experts.push_back(1);
    }

  GgufWriter w;
  std::vector<std::string> warnings;
  ASSERT_TRUE(write_deepseek2_metadata(c, "", w, warnings).is_ok());
  ASSERT_TRUE(w.add_tensor("blk.1.attn_k_b.weight", DType::kF32, {nope, rank, heads}).is_ok());
  ASSERT_TRUE(w.add_tensor("blk.1.attn_v_b.weight", DType::kF32, {rank, v, heads}).is_ok());
  ASSERT_TRUE(w.add_tensor("blk.1.ffn_up_exps.weight", DType::kQ8_0, {32, 2, 16}).is_ok());
  ASSERT_TRUE(w.open(path("split.gguf")).is_ok());
  ASSERT_TRUE(w.write(k_b.data(), k_b.size() * 4).is_ok());
  ASSERT_TRUE(w.write(v_b.data(), v_b.size() * 4).is_ok());
  ASSERT_TRUE(w.write(experts.data(), experts.size()).is_ok());
  ASSERT_TRUE(w.close().is_ok());

  auto weights = GgufWeights::open(path("split.gguf"));
  ASSERT_TRUE(weights.is_ok()) << weights.status().message();
  const auto view = (*weights)->get("model.layers.1.self_attn.kv_b_proj.weight", {heads * (nope + v), rank},
                                    {DType::kF32});
  ASSERT_TRUE(view.is_ok()) << view.status().message();
  const float* data = static_cast<const float*>(view->data);
  for (int64_t row = 0; row < heads * (nope + v); ++row)
    for (int64_t col = 0; col < rank; ++col) ASSERT_EQ(data[row * rank + col], kv_b(row, col)) << row << "," << col;

  const auto expert = (*weights)->get("model.layers.1.mlp.experts.9.up_proj.weight", {2, 32}, {DType::kQ8_0});
  ASSERT_TRUE(expert.is_ok()) << expert.status().message();
  float row[32];
  convert_to_f32(DType::kQ8_0, static_cast<const uint8_t*>(expert->data) + 34, row, 32);
  EXPECT_EQ(row[0], 9.0f);
  EXPECT_EQ(expert->model_bytes, static_cast<int64_t>((k_b.size() + v_b.size()) * sizeof(float) + experts.size()));
  EXPECT_FALSE((*weights)->find("model.layers.1.mlp.experts.16.up_proj.weight").has_value());
  // Missing tensors and wrong shapes name the GGUF tensor.
  const auto wrong = (*weights)->get("model.layers.1.mlp.experts.3.up_proj.weight", {32, 2}, {DType::kQ8_0});
  EXPECT_TRUE(contains_all(wrong.status().message(), {"expected [32,2]", "found [2,32] q8_0", "blk.1.ffn_up_exps.weight",
                                                      "expert 3"}));
  EXPECT_EQ((*weights)->config().num_hidden_layers, 3);
}

TEST_F(GgufWeightsTest, RejectsSplitTensorsOfTheWrongShape) {
  const ModelConfig c = v3_config();
  GgufWriter w;
  std::vector<std::string> warnings;
  ASSERT_TRUE(write_deepseek2_metadata(c, "", w, warnings).is_ok());
  ASSERT_TRUE(w.add_tensor("blk.0.attn_k_b.weight", DType::kF32, {4, 4, 2}).is_ok());
  ASSERT_TRUE(w.add_tensor("blk.0.attn_v_b.weight", DType::kF32, {4, 5, 2}).is_ok());
  ASSERT_TRUE(w.open(path("bad.gguf")).is_ok());
  std::vector<float> zeros(32 + 40);
  ASSERT_TRUE(w.write(zeros.data(), zeros.size() * 4).is_ok());
  ASSERT_TRUE(w.close().is_ok());
  auto weights = GgufWeights::open(path("bad.gguf"));
  ASSERT_FALSE(weights.is_ok());
  EXPECT_TRUE(contains_all(weights.status().message(), {"blk.0.attn_k_b.weight", "expected ne [3, 4, 2]"}));
}

}  // namespace
}  // namespace dsinfer
