// llama.cpp's `deepseek2` GGUF layout, both directions, written once: the metadata keys
// and what they mean as a ModelConfig, the tensor names and how a Hugging Face tensor
// sits in them, and `GgufWeights`, the WeightSource that serves a .gguf file to the
// model by Hugging Face names.
//
// How llama.cpp (convert_hf_to_gguf.py, DeepseekV2Model) lays a checkpoint out:
// - names: token_embd, blk.N.{attn_norm, attn_q | attn_q_a, attn_q_a_norm, attn_q_b,
//   attn_kv_a_mqa, attn_kv_a_norm, attn_kv_b | attn_k_b + attn_v_b, attn_output, ffn_norm,
//   ffn_gate/up/down (dense), ffn_gate_inp (router), exp_probs_b (the V3 selection bias,
//   suffix .bias), ffn_{gate,up,down}_exps (routed experts stacked into one 3-D tensor,
//   expert index outermost), ffn_{gate,up,down}_shexp}, output_norm, output; every other
//   tensor has the suffix .weight.
// - shapes: ne[] innermost first, so an HF [out, in] matrix is ne [in, out] with the same
//   bytes; expert E of a stacked tensor is the E-th [out, in] slab, a zero-copy view.
// - no data changes: q/k are not permuted (deepseek2 uses adjacent-pair RoPE, the same
//   rotation HF's interleaved apply_rotary_pos_emb computes on the unpermuted weights).
// - kv_b: files converted before 2025-04 store attn_kv_b [kv_lora, heads*(nope+v)];
//   newer ones split it per head into attn_k_b ne [nope, kv_lora, heads] (transposed:
//   HF's k rows of head h become its columns) and attn_v_b ne [kv_lora, v, heads], and
//   write attention.key_length_mla / value_length_mla (key_length is then
//   kv_lora + rope, the "MQA" head). Both are read here.
// - MTP layers are not converted; norms, router and bias are F32.
//
// Written files use the older kv_b layout (head_count_kv = head_count, key_length =
// nope + rope, no _mla keys): mainline llama.cpp still runs it (without its absorbed
// MLA path) and ik_llama.cpp runs it natively, while ik_llama.cpp aborts on k_b/v_b-only
// files unless the shapes are exactly DeepSeek's (rope 64, kv_lora 512).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/gguf.h"
#include "formats/gguf_split.h"
#include "formats/weight_source.h"

namespace dsinfer {

inline constexpr const char* kDeepseek2Arch = "deepseek2";

// Where a Hugging Face tensor lives in a deepseek2 GGUF file.
struct Deepseek2TensorName {
  std::string gguf_name;  // "blk.3.ffn_gate_exps.weight"
  int64_t expert = -1;    // routed expert E: slab E of the stacked 3-D tensor; else -1
};
// nullopt for names the layout has no place for (MTP layers' own tensors, FP8 scales).
// kv_b maps to attn_kv_b; files with attn_k_b/attn_v_b instead are handled by GgufWeights.
std::optional<Deepseek2TensorName> deepseek2_tensor_name(const std::string& hf_name);

// Looks up metadata by key (a GgufHeader or a GgufWriter being filled).
using GgufMetadataLookup = std::function<const GgufValue*(const std::string& key)>;

// What the metadata cannot say and the tensors do.
struct Deepseek2TensorFacts {
  bool has_selection_bias = false;  // blk.N.exp_probs_b.bias present
  bool has_output = true;           // output.weight present (else tied to token_embd)
  std::optional<int64_t> embedding_rows;  // token_embd ne[1], the vocabulary size
};

// ModelConfig from deepseek2.* metadata. The router variant is decided here and only
// here: expert_gating_func sigmoid (2), or a selection bias present, gives V3 semantics
// (normalise top-k by expert_weights_norm, then always scale by expert_weights_scale;
// with the bias: noaux_tc selection, groups scored by their top-2 sum); softmax (1, the
// default of files that predate the key) gives V2 semantics (scale only when not
// normalising; groups from expert_group_count scored by their max, as HF's
// group_limited_greedy does; mainline llama.cpp scores them by the top-2 sum).
Result<ModelConfig> deepseek2_config(const GgufMetadataLookup& metadata, const Deepseek2TensorFacts& facts,
                                     const std::string& origin);

// Writes the deepseek2.* and general.* metadata of `config` (not the tokenizer), the
// way llama.cpp's converter does, plus attention.q_lora_rank = 0 when there is no
// q_lora (mainline llama.cpp requires the key unless the model has 26 or 27 layers).
// Fails for configs the layout cannot express; appends to `warnings` what llama.cpp
// will read differently from the Hugging Face config (dsinfer reads the file back as
// llama.cpp does, except for the router, see deepseek2_config).
Status write_deepseek2_metadata(const ModelConfig& config, const std::string& model_name, GgufWriter& writer,
                                std::vector<std::string>& warnings);

class GgufWeights final : public WeightSource {
 public:
  // A .gguf file, or the first shard of a split model (gguf_split.h).
  static Result<std::unique_ptr<GgufWeights>> open(const std::string& path);

  const ModelConfig& config() const override { return config_; }
  const std::string& path() const override { return files_.path(); }
  std::optional<WeightView> find(const std::string& name) const override;
  std::map<std::string, int64_t> bytes_by_dtype() const override;

 protected:
  std::string file_of(const std::string& name) const override;

 private:
  GgufWeights() = default;
  Status build_kv_b_from_split(int64_t layer);

  GgufModelFiles files_;
  ModelConfig config_;
  std::unordered_map<std::string, GgufModelFiles::Tensor> tensors_;
  int64_t tensor_bytes_ = 0;  // of every tensor in the files
  // kv_b of files that store attn_k_b / attn_v_b instead: rebuilt once at open as F32
  // [heads * (nope + v), kv_lora], keyed by HF name. F32 keeps the stored values exact;
  // it is a small part of a model (V3: 1.0 B of 671 B parameters, 4 GB as F32 next to a
  // ~400 GB Q4_K_M file; V2-Lite: 57 M of 15.7 B).
  std::unordered_map<std::string, std::vector<float>> owned_kv_b_;
};

}  // namespace dsinfer
