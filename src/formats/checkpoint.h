// A Hugging Face model folder: config.json plus one safetensors file or shards listed in
// model.safetensors.index.json. All shards are memory-mapped; tensors are looked up by
// name and returned as views into the mapping.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "formats/weight_source.h"

namespace dsinfer {

class Checkpoint final : public WeightSource {
 public:
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& model_dir);

  const ModelConfig& config() const override { return config_; }
  const std::string& path() const override { return dir_; }
  std::optional<WeightView> find(const std::string& name) const override;
  std::map<std::string, int64_t> bytes_by_dtype() const override;

  // Every tensor name, in sorted order.
  std::vector<std::string> tensor_names() const;

 protected:
  std::string file_of(const std::string& name) const override;
  // FP8 weights get their `<name>_scale_inv` block scales (F32); in the released V4
  // layout `<p>.weight` gets `<p>.scale` (UE8M0), for FP8 and for packed FP4 alike.
  Status attach_scales(WeightView& view) const override;

 private:
  struct Location {
    const SafetensorsFile* file;
    const SafetensorsEntry* entry;
  };
  Status add_shard(const std::string& file_name);
  // V4: fails on the NaN code 0xFF in any UE8M0 scale tensor, and widens those of FP8
  // matrices to float32 once, so views can point at them. FP4 experts' scales are read
  // as stored: widened, they would add a quarter to the experts' memory.
  Status decode_ue8m0_scales();
  Status attach_v4_scales(WeightView& view) const;

  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::unordered_map<std::string, Location> tensors_;
  int64_t tensor_bytes_ = 0;  // of every tensor in the shards
  std::unordered_map<std::string, std::vector<float>> ue8m0_scales_;  // FP8 scales: name -> float32 values
};

}  // namespace dsinfer
