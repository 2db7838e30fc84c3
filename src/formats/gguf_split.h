// A GGUF model in one file, or split by llama.cpp's gguf-split into shards named
// PREFIX-00001-of-0000N.gguf ... PREFIX-0000N-of-0000N.gguf, as the large DeepSeek-V3 / R1
// quants are published (Hugging Face takes files of at most 50 GB). Every shard is a
// whole GGUF file holding some of the tensors, each at an offset into its own data
// section. The first shard also holds all the metadata. Every shard says split.no (its
// index from 0), split.count (the number of shards) and split.tensors.count (the tensors
// of all shards). A split model is opened from the first shard's path, as llama.cpp
// opens it.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "formats/gguf.h"

namespace dsinfer {

class GgufModelFiles {
 public:
  struct Tensor {
    const GgufTensorInfo* info;
    const uint8_t* data;      // the tensor's first byte in its shard's mapping
    const std::string* file;  // its shard's path
  };

  // Opens `path` and, when it is the first shard of a split model, every other shard
  // (checking each one's split.no and split.count, that no tensor is in two shards, and
  // that the shards hold split.tensors.count tensors).
  static Result<GgufModelFiles> open(const std::string& path);

  // The model's metadata: the first shard's header.
  const GgufHeader& metadata() const { return shards_.front().header(); }
  // Every shard's tensors, shard by shard in file order.
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const std::string& path() const { return shards_.front().path(); }
  size_t shard_count() const { return shards_.size(); }

 private:
  std::vector<GgufFile> shards_;
  std::vector<Tensor> tensors_;
};

}  // namespace dsinfer
