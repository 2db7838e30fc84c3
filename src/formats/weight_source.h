// Where a model's weights come from: a Hugging Face folder (Checkpoint) or a GGUF file.
// The model layer asks for tensors by their Hugging Face names and shapes; each source
// maps those to what it stores and returns views into its memory-mapped files.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "formats/model_config.h"

namespace dsinfer {

class WeightSource {
 public:
  virtual ~WeightSource() = default;

  virtual const ModelConfig& config() const = 0;
  // The folder or file the weights come from, for messages.
  virtual const std::string& path() const = 0;
  // nullopt when the source has no tensor of that (Hugging Face) name.
  virtual std::optional<WeightView> find(const std::string& name) const = 0;
  // Bytes stored per dtype name ("bf16", "f8_e4m3", "q4_0", ...), scales included.
  virtual std::map<std::string, int64_t> bytes_by_dtype() const = 0;

  // The tensor, checked against the expected shape and one of the allowed dtypes, with
  // its block scales attached when it has them. Fails with a message naming the tensor,
  // both shapes and dtypes, and the file.
  Result<WeightView> get(const std::string& name, const std::vector<int64_t>& shape,
                         const std::vector<DType>& allowed) const;

 protected:
  // The file holding `name`, for messages.
  virtual std::string file_of(const std::string& name) const = 0;
  // Attaches block scales stored beside the weight (FP8 `_scale_inv`); the default has none.
  virtual Status attach_scales(WeightView& view) const { return Status::ok(); }
};

}  // namespace dsinfer
