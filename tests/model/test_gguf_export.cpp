// Writing GGUF from the tensor table: the plan (names, ne, stacked experts, per-tensor
// types and fallbacks), the test-model generator's random access (the same values as
// the Hugging Face folder), and a written file read back through GgufWeights by HF names.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "backend/reference/dequantize.h"
#include "formats/checkpoint.h"
#include "formats/gguf_weights.h"
#include "model/gguf_export.h"
#include "model/test_model.h"
#include "../formats/temp_dir.h"

namespace dsinfer {
namespace {

using ScratchDir = test::TempDirTest;

ModelConfig preset_config(const std::string& preset) {
  auto text = test_model_config_json(preset);
  EXPECT_TRUE(text.is_ok());
  auto config = parse_model_config(*text, preset);
  EXPECT_TRUE(config.is_ok()) << config.status().message();
  return *config;
}

TEST(GgufExportPlan, NamesShapesTypesAndStackedExperts) {
  const ModelConfig c = preset_config("v2-lite-tiny");  // hidden 64: no row splits into 256-value blocks
  const auto plan = gguf_export_plan(c, DType::kQ4_K);
  std::map<std::string, const GgufExportTensor*> by_name;
  for (const auto& t : plan) by_name[t.gguf_name] = &t;
  ASSERT_TRUE(by_name.count("token_embd.weight"));
  EXPECT_EQ(by_name["token_embd.weight"]->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(by_name["token_embd.weight"]->dtype, DType::kQ5_0);  // llama.cpp's fallback for q4_k
  EXPECT_EQ(by_name["blk.0.attn_norm.weight"]->dtype, DType::kF32);
  EXPECT_EQ(by_name["blk.1.ffn_gate_inp.weight"]->dtype, DType::kF32);
  EXPECT_EQ(by_name["blk.0.attn_q.weight"]->ne, (std::vector<int64_t>{64, 4 * 48}));
  const GgufExportTensor& gate = *by_name["blk.1.ffn_gate_exps.weight"];
  EXPECT_EQ(gate.ne, (std::vector<int64_t>{64, 32, 8}));
  ASSERT_EQ(gate.parts.size(), 8u);
  EXPECT_EQ(gate.parts[5].name, "model.layers.1.mlp.experts.5.gate_proj.weight");
  EXPECT_EQ(by_name["blk.2.ffn_down_exps.weight"]->ne, (std::vector<int64_t>{32, 64, 8}));
  EXPECT_EQ(by_name["blk.1.ffn_up_shexp.weight"]->ne, (std::vector<int64_t>{64, 64}));
  EXPECT_FALSE(by_name.count("blk.1.exp_probs_b.bias"));  // softmax greedy: no bias
  EXPECT_TRUE(by_name.count("output.weight"));
  // 3 layers: 1 dense (10 tensors) + 2 MoE (14 each) + embedding, final norm, head.
  EXPECT_EQ(plan.size(), 1u + 10 + 2 * 14 + 2);
}

TEST(GgufExportPlan, TypeChoicePerTensor) {
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 512, DType::kQ4_K), DType::kQ4_K);
  // llama.cpp's fallbacks where 256-value super-blocks do not fit (V2-Lite's 1408).
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 1408, DType::kQ6_K), DType::kQ8_0);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 1408, DType::kQ4_K), DType::kQ5_0);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 128, DType::kQ5_K), DType::kQ5_1);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 144, DType::kQ4_K), DType::kF16);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 1408, DType::kQ2_K), DType::kIQ4_NL);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 128, DType::kQ3_K), DType::kIQ4_NL);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 144, DType::kQ3_K), DType::kF16);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 512, DType::kQ2_K), DType::kQ2_K);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 1408, DType::kIQ4_XS), DType::kIQ4_NL);
  for (DType grid : {DType::kIQ1_S, DType::kIQ1_M, DType::kIQ2_XXS, DType::kIQ2_XS, DType::kIQ2_S, DType::kIQ3_XXS,
                     DType::kIQ3_S}) {
    EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 1408, grid), DType::kIQ4_NL) << dtype_name(grid);
    EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 512, grid), grid) << dtype_name(grid);
  }
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 1408, DType::kQ5_0), DType::kQ5_0);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 1408, DType::kQ4_0), DType::kQ4_0);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kProjection, 144, DType::kQ4_0), DType::kF16);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kHead, 100, DType::kBF16), DType::kBF16);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kRouter, 512, DType::kQ8_0), DType::kF32);
  EXPECT_EQ(gguf_tensor_type(TensorKind::kBias, 256, DType::kF16), DType::kF32);
}

class TestModelGguf : public ScratchDir {};

TEST_F(TestModelGguf, GeneratorRowsEqualTheFolderValues) {
  ASSERT_TRUE(make_test_model({.preset = "v3-tiny", .seed = 7, .out = path("hf")}).is_ok());
  auto checkpoint = Checkpoint::open(path("hf"));
  ASSERT_TRUE(checkpoint.is_ok());
  const ModelConfig& c = (*checkpoint)->config();
  const TestModelValues values(c, 7);
  int checked = 0;
  for (const TensorSpec& spec : tensor_table(c)) {
    // Spot-check every kind, an expert deep in the stream and the MTP layer.
    const bool pick = spec.kind != TensorKind::kProjection || spec.expert == 13 || spec.role == TensorRole::kMtp;
    if (!pick) continue;
    auto view = (*checkpoint)->find(spec.name);
    ASSERT_TRUE(view.has_value()) << spec.name;
    const int64_t rows = spec.shape.size() == 1 ? 1 : spec.shape[0], cols = spec.shape.back();
    const int64_t begin = rows / 2, count = rows - begin;  // a suffix of rows: random access
    std::vector<float> expected(static_cast<size_t>(count * cols)), actual(expected.size());
    values.stored_rows(spec, begin, count, expected.data());
    for (int64_t r = 0; r < count; ++r) reference::dequantize_row(*view, begin + r, actual.data() + r * cols);
    ASSERT_EQ(actual, expected) << spec.name;
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST_F(TestModelGguf, WrittenFileReadsBackByHfNames) {
  for (const char* type : {"bf16", "q8_0", "q4_k"}) {
    SCOPED_TRACE(type);
    const DType dtype = *gguf_export_type(type);
    const std::string file = path(std::string("m-") + type + ".gguf");
    ASSERT_TRUE(make_test_model({.preset = "v3-q-tiny", .seed = 3, .out = file, .gguf_type = dtype}).is_ok());
    auto weights = GgufWeights::open(file);
    ASSERT_TRUE(weights.is_ok()) << weights.status().message();
    const ModelConfig expected = preset_config("v3-q-tiny");
    const ModelConfig& c = (*weights)->config();
    EXPECT_EQ(c.hidden_size, expected.hidden_size);
    EXPECT_EQ(c.q_lora_rank, expected.q_lora_rank);
    EXPECT_EQ(c.topk_method, TopkMethod::kNoauxTc);
    EXPECT_EQ(c.n_group, 2);
    EXPECT_FLOAT_EQ(c.softmax_scale(), expected.softmax_scale());
    EXPECT_EQ(c.num_nextn_predict_layers, 0);

    const TestModelValues values(expected, 3);
    for (const TensorSpec& spec : tensor_table(expected)) {
      auto view = (*weights)->find(spec.name);
      ASSERT_TRUE(view.has_value()) << spec.name;
      ASSERT_EQ(view->shape, spec.shape) << spec.name;
      const DType want = gguf_tensor_type(spec.kind, spec.shape.back(), dtype);
      ASSERT_EQ(view->dtype, want) << spec.name;
      const int64_t rows = spec.shape.size() == 1 ? 1 : spec.shape[0], cols = spec.shape.back();
      std::vector<float> stored(static_cast<size_t>(rows * cols));
      values.stored_rows(spec, 0, rows, stored.data());
      const std::vector<float> back = reference::dequantize(*view);
      double err = 0, ref = 0;
      for (size_t i = 0; i < stored.size(); ++i) {
        err += (back[i] - stored[i]) * static_cast<double>(back[i] - stored[i]);
        ref += stored[i] * static_cast<double>(stored[i]);
      }
      const double relative = std::sqrt(err / ref);
      const double bound = want == DType::kQ4_K ? 0.12 : want == DType::kQ8_0 ? 0.01 : 0.0;
      ASSERT_LE(relative, bound) << spec.name << " " << dtype_name(want);
    }
  }
}

TEST_F(TestModelGguf, BenchPresetsAreGgufOnly) {
  const Status s = make_test_model({.preset = "bench-b", .out = path("folder")});
  EXPECT_NE(s.message().find("only as GGUF"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace dsinfer
