// Checkpoint: a Hugging Face folder (config.json + safetensors shards + index) built in a
// temp dir; lookups, the `get` shape/dtype check and its message, FP8 block scales.
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "formats/checkpoint.h"
#include "temp_dir.h"

namespace dsinfer {
namespace {

using test::contains_all;

// A small, valid deepseek_v3 config.
std::string config_json(bool fp8 = false) {
  std::string text = R"({"model_type":"deepseek_v3","vocab_size":32,"hidden_size":16,"num_hidden_layers":2,
    "max_position_embeddings":64,"num_attention_heads":2,"kv_lora_rank":8,"qk_nope_head_dim":4,
    "qk_rope_head_dim":2,"v_head_dim":4,"intermediate_size":32,"first_k_dense_replace":1,
    "n_routed_experts":8,"n_shared_experts":1,"num_experts_per_tok":2,"moe_intermediate_size":8,
    "n_group":4,"topk_group":2,"scoring_func":"sigmoid","topk_method":"noaux_tc","norm_topk_prob":true,
    "routed_scaling_factor":2.5)";
  if (fp8) text += R"(,"quantization_config":{"quant_method":"fp8","weight_block_size":[128,128]})";
  return text + "}";
}

SafetensorsTensorToWrite tensor(const std::string& name, DType dtype, std::vector<int64_t> shape, uint8_t fill = 0) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  std::vector<uint8_t> bytes(static_cast<size_t>(numel) * dtype_size(dtype));
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(fill + i);
  return {name, dtype, std::move(shape), std::move(bytes)};
}

SafetensorsTensorToWrite f32_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values) {
  SafetensorsTensorToWrite t{name, DType::kF32, std::move(shape), std::vector<uint8_t>(values.size() * 4)};
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

class CheckpointTest : public test::TempDirTest {
 protected:
  void write_shard(const std::string& file, const std::vector<SafetensorsTensorToWrite>& tensors) {
    ASSERT_TRUE(write_safetensors(path(file), tensors).is_ok());
  }
  // Two shards and an index, as Hugging Face writes them.
  void write_sharded(bool fp8_config = true) {
    write_text("config.json", config_json(fp8_config));
    write_shard("model-00001-of-00002.safetensors",
                {tensor("model.embed_tokens.weight", DType::kBF16, {4, 3}, 10), tensor("model.norm.weight", DType::kF32, {5})});
    write_shard("model-00002-of-00002.safetensors",
                {tensor("layers.0.q_proj.weight", DType::kF8E4M3, {3, 130}, 1),
                 f32_tensor("layers.0.q_proj.weight_scale_inv", {1, 2}, {0.5f, 4.0f}),
                 tensor("layers.0.no_scale.weight", DType::kF8E4M3, {2, 2}),
                 tensor("layers.0.bad_scale.weight", DType::kF8E4M3, {3, 130}),
                 f32_tensor("layers.0.bad_scale.weight_scale_inv", {1, 1}, {1.0f})});
    write_text("model.safetensors.index.json", R"({"metadata":{"total_size":0},"weight_map":{
      "model.embed_tokens.weight":"model-00001-of-00002.safetensors",
      "model.norm.weight":"model-00001-of-00002.safetensors",
      "layers.0.q_proj.weight":"model-00002-of-00002.safetensors",
      "layers.0.q_proj.weight_scale_inv":"model-00002-of-00002.safetensors",
      "layers.0.no_scale.weight":"model-00002-of-00002.safetensors",
      "layers.0.bad_scale.weight":"model-00002-of-00002.safetensors",
      "layers.0.bad_scale.weight_scale_inv":"model-00002-of-00002.safetensors"}})");
  }
  Result<std::unique_ptr<Checkpoint>> open() { return Checkpoint::open(dir_.string()); }
};

TEST_F(CheckpointTest, ShardedFolderWithIndex) {
  write_sharded();
  auto opened = open();
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  const Checkpoint& ckpt = **opened;
  EXPECT_EQ(ckpt.config().hidden_size, 16);
  EXPECT_EQ(ckpt.tensor_names(),
            (std::vector<std::string>{"layers.0.bad_scale.weight", "layers.0.bad_scale.weight_scale_inv",
                                      "layers.0.no_scale.weight", "layers.0.q_proj.weight",
                                      "layers.0.q_proj.weight_scale_inv", "model.embed_tokens.weight",
                                      "model.norm.weight"}));

  auto embed = ckpt.get("model.embed_tokens.weight", {4, 3}, {DType::kBF16});
  ASSERT_TRUE(embed.is_ok()) << embed.status().message();
  EXPECT_EQ(embed->dtype, DType::kBF16);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(embed->scales.data, nullptr);
  const auto* bytes = static_cast<const uint8_t*>(embed->data);
  for (int i = 0; i < 24; ++i) ASSERT_EQ(bytes[i], 10 + i) << "byte " << i << " of the mapped tensor";
  EXPECT_TRUE(embed->file_backed);
  // Every tensor of both shards: embed 24, norm 20, q_proj 390 and its scales 8,
  // no_scale 4, bad_scale 390 and its scale 4.
  EXPECT_EQ(embed->model_bytes, 840);

  EXPECT_FALSE(ckpt.find("not.there").has_value());
  ASSERT_TRUE(ckpt.find("model.norm.weight").has_value());
  EXPECT_EQ(ckpt.find("model.norm.weight")->shape, std::vector<int64_t>{5});
  EXPECT_EQ(ckpt.find("model.norm.weight")->dtype, DType::kF32);
}

TEST_F(CheckpointTest, GetNamesExpectedAndFound) {
  write_sharded();
  auto opened = open();
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  const Checkpoint& ckpt = **opened;

  auto misshaped = ckpt.get("model.embed_tokens.weight", {3, 4}, {DType::kBF16});
  ASSERT_FALSE(misshaped.is_ok());
  EXPECT_EQ(misshaped.status().message(), "tensor 'model.embed_tokens.weight': expected [3,4] bf16, found [4,3] bf16 in " +
                                              path("model-00001-of-00002.safetensors"));

  auto wrong_dtype = ckpt.get("model.embed_tokens.weight", {4, 3}, {DType::kF32, DType::kF16});
  ASSERT_FALSE(wrong_dtype.is_ok());
  EXPECT_TRUE(contains_all(wrong_dtype.status().message(),
                           {"'model.embed_tokens.weight'", "expected [4,3] f32|f16, found [4,3] bf16",
                            "model-00001-of-00002.safetensors"}));

  auto wrong_rank = ckpt.get("model.norm.weight", {1, 5}, {DType::kF32});
  ASSERT_FALSE(wrong_rank.is_ok());
  EXPECT_TRUE(contains_all(wrong_rank.status().message(), {"expected [1,5] f32, found [5] f32"}));

  auto missing = ckpt.get("model.layers.9.mlp.up_proj.weight", {4, 4}, {DType::kBF16});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(contains_all(missing.status().message(), {"'model.layers.9.mlp.up_proj.weight'", "missing", dir_.string()}));
}

TEST_F(CheckpointTest, Fp8WeightsComeWithTheirBlockScales) {
  write_sharded();
  auto opened = open();
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  const Checkpoint& ckpt = **opened;

  auto w = ckpt.get("layers.0.q_proj.weight", {3, 130}, {DType::kF8E4M3, DType::kBF16});
  ASSERT_TRUE(w.is_ok()) << w.status().message();
  ASSERT_NE(w->scales.data, nullptr);
  EXPECT_EQ(w->scales.block_rows, 128);
  EXPECT_EQ(w->scales.block_cols, 128);
  EXPECT_EQ(w->scales.data[0], 0.5f);
  EXPECT_EQ(w->scales.data[1], 4.0f);

  auto no_scale = ckpt.get("layers.0.no_scale.weight", {2, 2}, {DType::kF8E4M3});
  ASSERT_FALSE(no_scale.is_ok());
  EXPECT_TRUE(contains_all(no_scale.status().message(),
                           {"'layers.0.no_scale.weight'", "'layers.0.no_scale.weight_scale_inv'", "no"}));

  // [3,130] in 128x128 blocks needs [1,2] scales.
  auto bad_scale = ckpt.get("layers.0.bad_scale.weight", {3, 130}, {DType::kF8E4M3});
  ASSERT_FALSE(bad_scale.is_ok());
  EXPECT_TRUE(contains_all(bad_scale.status().message(),
                           {"'layers.0.bad_scale.weight_scale_inv'", "expected [1,2] f32", "found [1,1] f32"}));
}

TEST_F(CheckpointTest, SingleFileWithoutIndex) {
  write_text("config.json", config_json());
  write_shard("model.safetensors", {tensor("w", DType::kBF16, {2, 2})});
  auto opened = open();
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  EXPECT_EQ((*opened)->tensor_names(), std::vector<std::string>{"w"});
}

TEST_F(CheckpointTest, FolderErrors) {
  auto no_config = open();
  ASSERT_FALSE(no_config.is_ok());
  EXPECT_TRUE(contains_all(no_config.status().message(), {"config.json"}));

  write_text("config.json", config_json());
  auto no_weights = open();
  ASSERT_FALSE(no_weights.is_ok());
  EXPECT_TRUE(contains_all(no_weights.status().message(), {"no model.safetensors"}));
}

TEST_F(CheckpointTest, IndexErrors) {
  write_text("config.json", config_json());
  write_text("model.safetensors.index.json", R"({"weight_map":{"w":"../outside.safetensors"}})");
  auto outside = open();
  ASSERT_FALSE(outside.is_ok());
  EXPECT_TRUE(contains_all(outside.status().message(), {"../outside.safetensors", "outside the model folder"}));

  write_text("model.safetensors.index.json", R"({"weight_map":{"w":"model-00001.safetensors"}})");
  auto missing_shard = open();
  ASSERT_FALSE(missing_shard.is_ok());
  EXPECT_TRUE(contains_all(missing_shard.status().message(), {"model-00001.safetensors"}));

  write_text("model.safetensors.index.json", R"({"metadata":{}})");
  auto no_map = open();
  ASSERT_FALSE(no_map.is_ok());
  EXPECT_TRUE(contains_all(no_map.status().message(), {"weight_map"}));
}

TEST_F(CheckpointTest, TensorInTwoShards) {
  write_text("config.json", config_json());
  write_shard("a.safetensors", {tensor("dup", DType::kBF16, {2})});
  write_shard("b.safetensors", {tensor("dup", DType::kBF16, {2})});
  auto opened = open();
  ASSERT_FALSE(opened.is_ok());
  EXPECT_TRUE(contains_all(opened.status().message(), {"'dup'", "a.safetensors", "b.safetensors"}));
}

TEST_F(CheckpointTest, CorruptShardIsNamed) {
  write_text("config.json", config_json());
  write_text("model.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\":1", 14));
  auto opened = open();
  ASSERT_FALSE(opened.is_ok());
  EXPECT_TRUE(contains_all(opened.status().message(), {"model.safetensors", "truncated"}));
}

}  // namespace
}  // namespace dsinfer
