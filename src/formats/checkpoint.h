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

namespace dsinfer {

class Checkpoint {
 public:
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& model_dir);

  const ModelConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }

  // nullopt when the checkpoint has no tensor of that name.
  std::optional<WeightView> find(const std::string& name) const;
  // The tensor, checked against the expected shape and one of the allowed dtypes.
  // FP8 weights come with their `<name>_scale_inv` block scales attached.
  Result<WeightView> get(const std::string& name, const std::vector<int64_t>& shape,
                         const std::vector<DType>& allowed) const;

  // Every tensor name, in sorted order, and the file holding it.
  std::vector<std::string> tensor_names() const;
  const SafetensorsEntry& entry(const std::string& name) const;

 private:
  struct Location {
    const SafetensorsFile* file;
    const SafetensorsEntry* entry;
  };
  Status add_shard(const std::string& file_name);
  Result<BlockScales> block_scales(const std::string& name, const std::vector<int64_t>& shape) const;

  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::unordered_map<std::string, Location> tensors_;
};

}  // namespace dsinfer
