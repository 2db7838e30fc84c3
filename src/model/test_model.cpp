#include "model/test_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "model/gguf_export.h"
#include "model/tensor_table.h"
#include "model/test_model_v4.h"

namespace dsinfer {
namespace {

using nlohmann::json;

struct Preset {
  std::string name;
  json config;
  int shards = 1;
  bool gguf_only = false;  // peer benchmarks: GGUF only, the file llama.cpp runs too
  // Folder presets that speak text: the real tokenizer files copied from data/tokenizers/<name>.
  std::string tokenizer;
};

json yarn(double factor, double mscale, double mscale_all_dim) {
  return {{"type", "yarn"}, {"factor", factor}, {"original_max_position_embeddings", 4096},
          {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", mscale}, {"mscale_all_dim", mscale_all_dim}};
}

// Fields every preset shares; each preset overrides what makes it what it is.
json base_config() {
  return {{"vocab_size", 512},          {"hidden_size", 64},       {"num_hidden_layers", 3},
          {"first_k_dense_replace", 1}, {"intermediate_size", 128}, {"moe_intermediate_size", 32},
          {"moe_layer_freq", 1},        {"num_attention_heads", 4}, {"num_key_value_heads", 4},
          {"kv_lora_rank", 32},         {"qk_rope_head_dim", 16},  {"qk_nope_head_dim", 32},
          {"v_head_dim", 32},           {"rms_norm_eps", 1e-6},    {"rope_theta", 10000.0},
          {"max_position_embeddings", 163840}, {"tie_word_embeddings", false}, {"hidden_act", "silu"},
          {"bos_token_id", 0},          {"eos_token_id", 1},       {"attention_bias", false},
          {"torch_dtype", "bfloat16"},  {"num_nextn_predict_layers", 0}};
}

std::vector<Preset> presets() {
  std::vector<Preset> out;
  {  // DeepSeek-V2-Lite in miniature: no q_lora, softmax greedy routing, 2 shared experts.
    json c = base_config();
    c.update({{"model_type", "deepseek_v2"}, {"architectures", {"DeepseekV2ForCausalLM"}},
              {"q_lora_rank", nullptr}, {"n_routed_experts", 8}, {"n_shared_experts", 2},
              {"num_experts_per_tok", 3}, {"n_group", 1}, {"topk_group", 1}, {"scoring_func", "softmax"},
              {"topk_method", "greedy"}, {"norm_topk_prob", false}, {"routed_scaling_factor", 1.0},
              {"rope_scaling", yarn(40, 0.707, 0.707)}});
    out.push_back({"v2-lite-tiny", c, 1});
  }
  {  // DeepSeek-V2 (236B) in miniature: q_lora, group-limited greedy routing.
    json c = base_config();
    c.update({{"model_type", "deepseek_v2"}, {"architectures", {"DeepseekV2ForCausalLM"}},
              {"q_lora_rank", 48}, {"n_routed_experts", 16}, {"n_shared_experts", 2},
              {"num_experts_per_tok", 4}, {"n_group", 4}, {"topk_group", 2}, {"scoring_func", "softmax"},
              {"topk_method", "group_limited_greedy"}, {"norm_topk_prob", false}, {"routed_scaling_factor", 16.0},
              {"rope_scaling", yarn(40, 1.0, 1.0)}});
    out.push_back({"v2-tiny", c, 1});
  }
  {  // DeepSeek-V3 in miniature: sigmoid noaux_tc with groups, an MTP layer, 3 shards.
    json c = base_config();
    c.update({{"model_type", "deepseek_v3"}, {"architectures", {"DeepseekV3ForCausalLM"}},
              {"q_lora_rank", 48}, {"n_routed_experts", 16}, {"n_shared_experts", 1},
              {"num_experts_per_tok", 4}, {"n_group", 4}, {"topk_group", 2}, {"scoring_func", "sigmoid"},
              {"topk_method", "noaux_tc"}, {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5},
              {"num_nextn_predict_layers", 1}, {"rope_scaling", yarn(4, 1.0, 0.8)}});
    out.push_back({"v3-tiny", c, 3});
  }
  {  // DeepSeek-V3 FP8 layout: E4M3 projections with 128x128 block scales, partial edge blocks.
    json c = base_config();
    c.update({{"model_type", "deepseek_v3"}, {"architectures", {"DeepseekV3ForCausalLM"}},
              {"hidden_size", 192}, {"num_hidden_layers", 2}, {"intermediate_size", 288},
              {"moe_intermediate_size", 96}, {"q_lora_rank", 160}, {"kv_lora_rank", 144},
              {"n_routed_experts", 8}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2}, {"n_group", 2},
              {"topk_group", 1}, {"scoring_func", "sigmoid"}, {"topk_method", "noaux_tc"},
              {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5}, {"rope_scaling", yarn(40, 1.0, 1.0)},
              {"quantization_config", {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"},
                                       {"weight_block_size", {128, 128}}}}});
    out.push_back({"v3-fp8-tiny", c, 2});
  }
  {  // V3 router with every row length a multiple of 256, so K-quants (q4_k, q5_k, q6_k)
     // apply to every projection; mscale == mscale_all_dim, which GGUF can express.
    json c = base_config();
    c.update({{"model_type", "deepseek_v3"}, {"architectures", {"DeepseekV3ForCausalLM"}},
              {"hidden_size", 256}, {"intermediate_size", 512}, {"moe_intermediate_size", 256},
              {"num_attention_heads", 2}, {"num_key_value_heads", 2}, {"q_lora_rank", 256}, {"kv_lora_rank", 256},
              {"qk_nope_head_dim", 64}, {"qk_rope_head_dim", 32}, {"v_head_dim", 128},
              {"n_routed_experts", 8}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2}, {"n_group", 2},
              {"topk_group", 1}, {"scoring_func", "sigmoid"}, {"topk_method", "noaux_tc"},
              {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5}, {"rope_scaling", yarn(4, 0.8, 0.8)}});
    out.push_back({"v3-q-tiny", c, 1});
  }
  {  // DeepSeek-V3.2 in miniature: V3 plus the lightning indexer, whose index_topk is below
     // the golden tests' prompt length, so the selection drops positions in prefill and decode.
    json c = base_config();
    c.update({{"model_type", "deepseek_v32"}, {"architectures", {"DeepseekV32ForCausalLM"}},
              {"q_lora_rank", 48}, {"n_routed_experts", 16}, {"n_shared_experts", 1},
              {"num_experts_per_tok", 4}, {"n_group", 4}, {"topk_group", 2}, {"scoring_func", "sigmoid"},
              {"topk_method", "noaux_tc"}, {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5},
              {"index_n_heads", 4}, {"index_head_dim", 64}, {"index_topk", 6}, {"rope_scaling", yarn(4, 1.0, 0.8)}});
    out.push_back({"v32-tiny", c, 1});
  }
  json v4_base;  // v4-tiny, which bench-v4 scales up
  {  // DeepSeek-V4 in the released layout, shaped like the numpy reference's v4 preset:
     // window 8, CSA / HCA / window-only layers, index_topk 6 and hash routing in layer 1
     // all matter for a prompt of a few hundred tokens; FP8 in 32x32 UE8M0 blocks, FP4 experts.
    json c = {{"model_type", "deepseek_v4"}, {"architectures", {"DeepseekV4ForCausalLM"}},
              {"vocab_size", 512}, {"hidden_size", 64}, {"num_hidden_layers", 4}, {"num_hash_layers", 2},
              {"num_nextn_predict_layers", 1}, {"num_attention_heads", 4}, {"num_key_value_heads", 1},
              {"head_dim", 96}, {"qk_rope_head_dim", 32}, {"q_lora_rank", 48}, {"o_groups", 2}, {"o_lora_rank", 24},
              {"n_routed_experts", 8}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2},
              {"moe_intermediate_size", 64}, {"scoring_func", "sqrtsoftplus"}, {"topk_method", "noaux_tc"},
              {"norm_topk_prob", true}, {"routed_scaling_factor", 1.5}, {"swiglu_limit", 1.0}, {"hidden_act", "silu"},
              {"rms_norm_eps", 1e-6}, {"sliding_window", 8}, {"compress_ratios", {0, 4, 128, 4, 0}},
              {"compress_rope_theta", 160000.0}, {"rope_theta", 10000.0},
              {"rope_scaling", {{"type", "yarn"}, {"factor", 16}, {"original_max_position_embeddings", 256},
                                {"beta_fast", 32}, {"beta_slow", 1}}},
              {"index_n_heads", 8}, {"index_head_dim", 64}, {"index_topk", 6}, {"hc_mult", 4},
              {"hc_sinkhorn_iters", 20}, {"hc_eps", 1e-6}, {"max_position_embeddings", 4096},
              {"tie_word_embeddings", false}, {"bos_token_id", 0}, {"eos_token_id", 1}, {"torch_dtype", "bfloat16"},
              {"quantization_config", {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"},
                                       {"scale_fmt", "ue8m0"}, {"weight_block_size", {32, 32}}}}};
    out.push_back({"v4-tiny", c, 1});
    v4_base = c;
    // The same with the real vocabulary and tokenizer, so `run -p` speaks text (noise).
    c.update({{"vocab_size", 129280}});
    out.push_back({"v4-demo", c, 1, false, "deepseek_v3"});
  }
  {  // The V4 benchmark: V4-Flash's layer recipe (two window-only layers, then CSA and HCA
     // alternating; hash routing in the first three; hc_mult 4; head_dim 512 with a single
     // KV head; FP8 dense weights in 128x128 blocks, FP4 experts) at half its width, a
     // quarter of its experts and 12 layers: 3.6 GB, about 0.7 GB read per token.
    json c = v4_base;
    c.update({{"vocab_size", 32000}, {"hidden_size", 2048}, {"num_hidden_layers", 12}, {"num_hash_layers", 3},
              {"num_attention_heads", 16}, {"head_dim", 512}, {"qk_rope_head_dim", 64}, {"q_lora_rank", 512},
              {"o_groups", 4}, {"o_lora_rank", 512}, {"n_routed_experts", 64}, {"num_experts_per_tok", 6},
              {"moe_intermediate_size", 1024}, {"swiglu_limit", 10.0}, {"sliding_window", 128},
              {"compress_ratios", {0, 0, 4, 128, 4, 128, 4, 128, 4, 128, 4, 128, 0}},
              {"rope_scaling", {{"type", "yarn"}, {"factor", 16}, {"original_max_position_embeddings", 65536},
                                {"beta_fast", 32}, {"beta_slow", 1}}},
              {"index_n_heads", 16}, {"index_head_dim", 128}, {"index_topk", 512},
              {"max_position_embeddings", 1048576}});
    c["quantization_config"]["weight_block_size"] = {128, 128};
    out.push_back({"bench-v4", c, 4});
  }
  {  // The demo: V3-shaped with the real V3 vocabulary and tokenizer, chat template
     // included, small enough to answer at once (random weights: the text is noise).
    json c = base_config();
    c.update({{"model_type", "deepseek_v3"}, {"architectures", {"DeepseekV3ForCausalLM"}},
              {"vocab_size", 129280}, {"hidden_size", 128}, {"num_hidden_layers", 3}, {"intermediate_size", 256},
              {"moe_intermediate_size", 64}, {"q_lora_rank", 96}, {"n_routed_experts", 16}, {"n_shared_experts", 1},
              {"num_experts_per_tok", 4}, {"n_group", 4}, {"topk_group", 2}, {"scoring_func", "sigmoid"},
              {"topk_method", "noaux_tc"}, {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5},
              {"bos_token_id", 0}, {"eos_token_id", 1}, {"max_position_embeddings", 163840},
              {"rope_scaling", yarn(40, 1.0, 1.0)}});
    out.push_back({"demo", c, 1, false, "deepseek_v3"});
  }
  {  // Benchmark A: DeepSeek-V2-Lite's shape (15.7 B parameters). GGUF output only.
    json c = base_config();
    c.update({{"model_type", "deepseek_v2"}, {"architectures", {"DeepseekV2ForCausalLM"}},
              {"vocab_size", 102400}, {"hidden_size", 2048}, {"num_hidden_layers", 27},
              {"first_k_dense_replace", 1}, {"intermediate_size", 10944}, {"moe_intermediate_size", 1408},
              {"num_attention_heads", 16}, {"num_key_value_heads", 16}, {"q_lora_rank", nullptr},
              {"kv_lora_rank", 512}, {"qk_rope_head_dim", 64}, {"qk_nope_head_dim", 128}, {"v_head_dim", 128},
              {"n_routed_experts", 64}, {"n_shared_experts", 2}, {"num_experts_per_tok", 6}, {"n_group", 1},
              {"topk_group", 1}, {"scoring_func", "softmax"}, {"topk_method", "greedy"},
              {"norm_topk_prob", false}, {"routed_scaling_factor", 1.0}, {"rope_scaling", yarn(40, 0.707, 0.707)}});
    out.push_back({"bench-a", c, 1, /*gguf_only=*/true});
  }
  {  // Benchmark B: a small V3 (sigmoid routing with bias, q_lora): 0.75 B parameters.
    json c = base_config();
    c.update({{"model_type", "deepseek_v3"}, {"architectures", {"DeepseekV3ForCausalLM"}},
              {"vocab_size", 32000}, {"hidden_size", 1024}, {"num_hidden_layers", 8},
              {"first_k_dense_replace", 1}, {"intermediate_size", 2816}, {"moe_intermediate_size", 512},
              {"num_attention_heads", 16}, {"num_key_value_heads", 16}, {"q_lora_rank", 384},
              {"kv_lora_rank", 256}, {"qk_rope_head_dim", 32}, {"qk_nope_head_dim", 64}, {"v_head_dim", 64},
              {"n_routed_experts", 64}, {"n_shared_experts", 1}, {"num_experts_per_tok", 6}, {"n_group", 8},
              {"topk_group", 4}, {"scoring_func", "sigmoid"}, {"topk_method", "noaux_tc"},
              {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5}, {"rope_scaling", yarn(40, 1.0, 1.0)}});
    out.push_back({"bench-b", c, 1, /*gguf_only=*/true});
  }
  return out;
}

// splitmix64: a tiny generator whose stream is the same on every platform. Its state
// advances by a constant per draw, so any position of the stream is one multiply away.
class Random {
 public:
  static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;
  explicit Random(uint64_t seed) : state_(seed) {}
  // The generator after `draws` draws from `seed`.
  static Random at(uint64_t seed, uint64_t draws) { return Random(seed + draws * kGamma); }
  uint64_t next() {
    uint64_t z = (state_ += kGamma);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() >> 40) / 16777216.0f; }

 private:
  uint64_t state_;
};

// The next `count` random values of a tensor of kind spec.kind (one draw each), scaled so
// activations stay O(1) through the network and logits have clear winners.
void random_values(const TensorSpec& spec, Random& rng, float* out, int64_t count) {
  float lo = -1.0f, hi = 1.0f;
  switch (spec.kind) {
    case TensorKind::kNorm: lo = 0.8f, hi = 1.2f; break;
    // V4's mHC fn mixes a whole [hc * hidden] row: scaled like a projection so the mixes
    // stay O(1); the short vectors (bases, scales, sinks) get up to +-0.5.
    case TensorKind::kParameter:
      hi = std::min(0.5f, std::sqrt(3.0f / static_cast<float>(spec.shape.back())));
      lo = -hi;
      break;
    case TensorKind::kIndexTable: break;  // written by the V4 writer, not drawn here
    // Large next to the spread of sigmoid scores, so the bias changes which experts win.
    case TensorKind::kBias: lo = 0.0f, hi = 0.3f; break;
    case TensorKind::kEmbedding: break;
    case TensorKind::kRouter:
    case TensorKind::kProjection:
    case TensorKind::kHead: {
      const float gain = spec.kind == TensorKind::kHead ? 3.0f : (spec.kind == TensorKind::kRouter ? 2.0f : 1.0f);
      hi = gain * std::sqrt(3.0f / static_cast<float>(spec.shape.back()));
      lo = -hi;
      break;
    }
  }
  for (int64_t i = 0; i < count; ++i) out[i] = rng.uniform(lo, hi);
}

uint64_t stream_seed(uint64_t seed) { return seed * 0x2545F4914F6CDD1Dull + 1; }

}  // namespace

std::vector<uint8_t> bf16_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = f32_to_bf16(values[i]);
    bytes[2 * i] = static_cast<uint8_t>(h & 0xFF);
    bytes[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
  return bytes;
}

namespace {

std::vector<uint8_t> as_f32(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// FP8 E4M3 with one F32 scale per block: scale = max|block| / 448 (the range of E4M3).
void add_fp8(std::vector<SafetensorsTensorToWrite>& out, const TensorSpec& spec, const std::vector<float>& values,
             int64_t block_rows, int64_t block_cols) {
  const int64_t rows = spec.shape[0];
  const int64_t cols = spec.shape[1];
  const int64_t grid_rows = (rows + block_rows - 1) / block_rows;
  const int64_t grid_cols = (cols + block_cols - 1) / block_cols;
  std::vector<float> scales(static_cast<size_t>(grid_rows * grid_cols), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& s = scales[(r / block_rows) * grid_cols + c / block_cols];
      s = std::max(s, std::fabs(values[r * cols + c]) / 448.0f);
    }
  std::vector<uint8_t> stored(values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float s = scales[(r / block_rows) * grid_cols + c / block_cols];
      stored[r * cols + c] = f32_to_f8e4m3(s > 0 ? values[r * cols + c] / s : 0.0f);
    }
  out.push_back({spec.name, DType::kF8E4M3, spec.shape, std::move(stored)});
  out.push_back({spec.name + "_scale_inv", DType::kF32, {grid_rows, grid_cols}, as_f32(scales)});
}

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return error("cannot create {}", path);
  out << text;
  return out ? Status::ok() : error("failed writing {}", path);
}

// Appends the stored form of one tensor (with its scales, if any) to `out`.
using MakeTensor = std::function<void(const TensorSpec& spec, std::vector<SafetensorsTensorToWrite>& out)>;

// Makes and writes the tensors of `specs` in `shards` files of about equal element counts,
// then the index. Only one file's tensors are in memory at a time, and a weight's scales,
// made with it, share its file as in real checkpoints.
Status write_shards(const std::string& dir, const std::vector<TensorSpec>& specs, int shards, const MakeTensor& make) {
  int64_t total_elements = 0;
  for (const TensorSpec& spec : specs) total_elements += spec.numel();
  json weight_map = json::object();
  uint64_t total_bytes = 0;
  size_t next = 0;
  int64_t made = 0;
  for (int s = 0; s < shards; ++s) {
    const int64_t until = total_elements * (s + 1) / shards;
    std::vector<SafetensorsTensorToWrite> tensors;
    for (; next < specs.size() && (made < until || s == shards - 1); ++next) {
      make(specs[next], tensors);
      made += specs[next].numel();
    }
    const std::string name =
        shards == 1 ? "model.safetensors" : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards);
    for (const auto& t : tensors) {
      weight_map[t.name] = name;
      total_bytes += t.bytes.size();
    }
    DSINFER_RETURN_IF_ERROR(write_safetensors(dir + "/" + name, tensors));
  }
  if (shards == 1) return Status::ok();
  json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  return write_text(dir + "/model.safetensors.index.json", index.dump(2));
}

// UTF-8 of one code point below 0x800 (all the byte-level alphabet needs).
std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// A byte-level BPE vocabulary without merges, enough for llama.cpp to load the file and
// tokenize any text: the preset's BOS/EOS ids as control tokens, the 256 byte tokens of
// GPT-2's byte-to-unicode alphabet next, and "[PADn]" up to vocab_size. The padding
// tokens are normal ones, so a random model's output prints as "[PAD123]..." and the
// token ids can be read back from llama.cpp's text (to compare greedy runs).
void add_synthetic_vocab(const ModelConfig& config, const json& preset, GgufWriter& w) {
  const int64_t bos = preset.value("bos_token_id", 0), eos = preset.value("eos_token_id", 1);
  if (config.vocab_size < 258 || bos < 0 || eos < 0 || bos >= config.vocab_size || eos >= config.vocab_size) {
    w.set("tokenizer.ggml.model", GgufValue::string("no_vocab"));
    return;
  }
  std::vector<std::string> tokens(static_cast<size_t>(config.vocab_size));
  std::vector<int64_t> types(tokens.size(), 1);  // llama.cpp token types: 1 normal, 3 control
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = fmt::format("[PAD{}]", i);
  tokens[bos] = "<｜begin▁of▁sentence｜>";
  tokens[eos] = "<｜end▁of▁sentence｜>";
  types[bos] = types[eos] = 3;
  size_t next_id = 0;
  uint32_t extra = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? b : 256 + extra++;
    while (static_cast<int64_t>(next_id) == bos || static_cast<int64_t>(next_id) == eos) ++next_id;
    tokens[next_id] = utf8(cp);
    types[next_id] = 1;
    ++next_id;
  }
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w.set("tokenizer.ggml.pre",
        GgufValue::string(config.family == ModelFamily::kDeepSeekV2 ? "deepseek-llm" : "deepseek-v3"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", GgufValue::int_array(GgufValueType::kI32, std::move(types)));
  w.set("tokenizer.ggml.merges", GgufValue::string_array({}));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(bos)));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(eos)));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
}

const Preset* find_preset(const std::vector<Preset>& all, const std::string& name) {
  auto it = std::find_if(all.begin(), all.end(), [&](const Preset& p) { return p.name == name; });
  return it == all.end() ? nullptr : &*it;
}

Result<const Preset*> lookup_preset(const std::vector<Preset>& all, const std::string& name) {
  if (const Preset* p = find_preset(all, name)) return p;
  std::string names;
  for (const auto& p : all) names += (names.empty() ? "" : ", ") + p.name;
  return error("unknown preset '{}' (choose one of: {})", name, names);
}

// The tokenizer files a text preset ships, plus the generation_config.json the real
// checkpoints carry.
Status copy_tokenizer_files(const Preset& preset, const std::string& out) {
  const std::filesystem::path source = std::filesystem::path(DSINFER_DATA_DIR) / "tokenizers" / preset.tokenizer;
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    std::error_code ec;
    std::filesystem::copy_file(source / file, std::filesystem::path(out) / file,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return error("cannot copy {} into {}: {}", (source / file).string(), out, ec.message());
  }
  const json generation = {{"_from_model_config", true},
                           {"bos_token_id", preset.config["bos_token_id"]},
                           {"eos_token_id", preset.config["eos_token_id"]},
                           {"do_sample", true},
                           {"temperature", 0.6},
                           {"top_p", 0.95}};
  return write_text(out + "/generation_config.json", generation.dump(2) + "\n");
}

Status write_folder(const Preset& preset, const ModelConfig& config, const std::string& config_text,
                    const TestModelOptions& options) {
  if (preset.gguf_only)
    return error("preset {} is written only as GGUF (--out FILE.gguf), the file llama.cpp runs beside dsinfer; as "
                 "a BF16 folder it would be several times larger",
                 preset.name);
  std::error_code ec;
  std::filesystem::create_directories(options.out, ec);
  if (ec) return error("cannot create {}: {}", options.out, ec.message());
  DSINFER_RETURN_IF_ERROR(write_text(options.out + "/config.json", config_text + "\n"));

  const TestModelValues generator(config, options.seed);
  auto make = [&](const TensorSpec& spec, std::vector<SafetensorsTensorToWrite>& tensors) {
    std::vector<float> values(static_cast<size_t>(spec.numel()));
    generator.rows(spec, 0, spec.shape.size() == 1 ? 1 : spec.shape[0], values.data());
    if (config.v4) {
      add_v4_test_tensor(config, spec, values, tensors);
    } else if (config.fp8 && spec.kind == TensorKind::kProjection) {
      add_fp8(tensors, spec, values, config.fp8->block_rows, config.fp8->block_cols);
    } else if (spec.kind == TensorKind::kBias) {
      tensors.push_back({spec.name, DType::kF32, spec.shape, as_f32(values)});
    } else {
      tensors.push_back({spec.name, DType::kBF16, spec.shape, bf16_bytes(values)});
    }
  };
  DSINFER_RETURN_IF_ERROR(write_shards(options.out, tensor_table(config), preset.shards, make));
  if (preset.tokenizer.empty()) return Status::ok();
  return copy_tokenizer_files(preset, options.out);
}

Status write_gguf(const Preset& preset, const ModelConfig& config, const TestModelOptions& options) {
  const TestModelValues generator(config, options.seed);
  GgufExportOptions o{.type = options.gguf_type,
                      .model_name = "dsinfer test model " + preset.name,
                      .pool = options.pool,
                      .progress = options.progress,
                      .extra_metadata = [&](GgufWriter& w) {
                        add_synthetic_vocab(config, preset.config, w);
                        return Status::ok();
                      }};
  auto rows = [&](const TensorSpec& spec, int64_t begin, int64_t count, float* out) {
    generator.stored_rows(spec, begin, count, out);
    return Status::ok();
  };
  DSINFER_ASSIGN_OR_RETURN(GgufExportSummary summary, write_gguf_model(config, rows, options.out, o));
  if (options.progress)
    for (const auto& w : summary.warnings) std::fprintf(stderr, "note: %s\n", w.c_str());
  return Status::ok();
}

}  // namespace

TestModelValues::TestModelValues(const ModelConfig& config, uint64_t seed) : stream_start_(stream_seed(seed)) {
  uint64_t position = 0;  // every value is one draw, tensors in tensor_table order
  for (const TensorSpec& spec : tensor_table(config)) {
    offsets_.emplace(spec.name, position);
    position += static_cast<uint64_t>(spec.numel());
  }
}

void TestModelValues::rows(const TensorSpec& spec, int64_t begin, int64_t count, float* out) const {
  const int64_t cols = spec.shape.back();
  Random rng = Random::at(stream_start_, offsets_.at(spec.name) + static_cast<uint64_t>(begin * cols));
  random_values(spec, rng, out, count * cols);
}

void TestModelValues::stored_rows(const TensorSpec& spec, int64_t begin, int64_t count, float* out) const {
  rows(spec, begin, count, out);
  if (spec.kind == TensorKind::kBias) return;
  const int64_t n = count * spec.shape.back();
  for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(f32_to_bf16(out[i]));
}

std::vector<std::string> test_model_presets() {
  std::vector<std::string> names;
  for (const auto& p : presets()) names.push_back(p.name);
  return names;
}

Result<std::string> test_model_config_json(const std::string& name) {
  const auto all = presets();
  DSINFER_ASSIGN_OR_RETURN(const Preset* preset, lookup_preset(all, name));
  return preset->config.dump(2);
}

Status make_test_model(const TestModelOptions& options) {
  const auto all = presets();
  DSINFER_ASSIGN_OR_RETURN(const Preset* preset, lookup_preset(all, options.preset));
  const std::string config_text = preset->config.dump(2);
  DSINFER_ASSIGN_OR_RETURN(ModelConfig config, parse_model_config(config_text, "preset " + preset->name));
  if (options.out.ends_with(".gguf")) {
    if (config.v4) return error("preset {} is written only as a Hugging Face folder (GGUF has no V4 layout)", preset->name);
    return write_gguf(*preset, config, options);
  }
  return write_folder(*preset, config, config_text, options);
}

}  // namespace dsinfer
