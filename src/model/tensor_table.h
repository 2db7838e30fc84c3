// The list of every tensor a DeepSeek V2/V3/V3.2 checkpoint holds, written once: name (HF
// spelling), shape from the config, and what kind of tensor it is. Loading, validation,
// parameter accounting (`dsinfer inspect`) and the test-model generator all walk it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/model_config.h"

namespace dsinfer {

enum class TensorKind {
  kNorm,       // RMSNorm / LayerNorm weight [n]
  kEmbedding,  // [vocab, hidden]; never FP8
  kProjection, // linear weight [out, in]; FP8 with block scales in FP8 checkpoints
  kRouter,     // small gate kept in 16/32 bits in FP8 checkpoints: MoE gate [n_experts, hidden],
               // the indexer's weights_proj [index_n_heads, hidden]
  kBias,       // vector added, not multiplied (e_score_correction_bias, the indexer's k_norm.bias)
  kHead,       // lm_head / MTP head [vocab, hidden]; never FP8
  kParameter,  // V4's small float32 learned parameters: mHC fn/base/scale, attention sinks, compressor ape
  kIndexTable, // V4's token-id -> expert table of hash-routed layers (integers)
};

enum class TensorRole {
  kAlways,        // read for every token
  kRoutedExpert,  // read for tokens routed to its expert (top_k of n_routed_experts)
  kMtp,           // the multi-token-prediction layer(s) after the main blocks
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  TensorKind kind;
  TensorRole role;
  int64_t layer = -1;   // -1 for embeddings, final norm, head
  int64_t expert = -1;  // routed expert index, or -1

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// Every tensor of the model described by `config`, main blocks first, then MTP layers.
std::vector<TensorSpec> tensor_table(const ModelConfig& config);
// The same for deepseek_v4 in its released layout (deepseek_v4_tensors.cpp);
// tensor_table() returns it for V4 configs.
std::vector<TensorSpec> v4_tensor_table(const ModelConfig& config);

// Names inside one decoder block; `prefix` is "model.layers.N.".
namespace tensor_names {
std::string layer_prefix(int64_t layer);
}

}  // namespace dsinfer
