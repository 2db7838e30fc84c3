// The latent KV cache of one sequence: for every layer and position, the normed c_kv
// (kv_lora_rank values) and the roped shared key k_pe (qk_rope_head_dim values), nothing
// else. Per-head keys and values are never cached: that is MLA's memory win. V3.2 models
// add the lightning indexer's key (index_head_dim float32 values) per layer and position.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/ops.h"
#include "formats/model_config.h"
#include "model/deepseek_model.h"

namespace dsinfer {

// The serving engine's cache: per layer a pool of `blocks` blocks of `block_rows` latent
// rows each, shared by every sequence through its block table, stored as float32 or
// compactly (F16, BF16, Q8_0). With an indexer (V3.2), a second pool per layer holds the
// indexer keys of the same blocks, always float32 (they are FP8-rounded values already).
class LatentBlockPool {
 public:
  // Checks that rows of `config` can be stored as `dtype`.
  static Status check_dtype(const ModelConfig& config, DType dtype);
  LatentBlockPool(Backend& backend, const ModelConfig& config, int64_t blocks, int64_t block_rows,
                  DType dtype = DType::kF32);

  std::span<const Tensor> layer_pools() const { return layers_; }
  std::span<const Tensor> index_pools() const { return index_layers_; }
  // The cache of one sequence whose positions live in `block_table`'s blocks.
  LatentCacheView view(std::span<const int32_t> block_table) const {
    return {.layer_pools = layers_, .block_table = block_table, .block_rows = block_rows_, .index_pools = index_layers_};
  }
  int64_t blocks() const { return blocks_; }
  int64_t block_rows() const { return block_rows_; }

 private:
  std::unique_ptr<DeviceBuffer> buffer_, index_buffer_;
  int64_t blocks_ = 0;
  int64_t block_rows_ = 0;
  std::vector<Tensor> layers_;        // [blocks * block_rows, latent_dim] each
  std::vector<Tensor> index_layers_;  // [blocks * block_rows, index_head_dim] each, or none
};

// The cache storage type named by --kv-type: f32, f16, bf16 or q8_0.
Result<DType> parse_kv_dtype(const std::string& name);

// A single sequence's cache (CLI runs): one block as long as the context.
class LatentCache {
 public:
  LatentCache(Backend& backend, const ModelConfig& config, int64_t capacity, DType dtype = DType::kF32);

  LatentCacheView view() const { return pool_.view(block_table_); }
  int64_t capacity() const { return pool_.block_rows(); }
  // Bytes per token, all layers: num_hidden_layers * (kv_lora_rank + qk_rope_head_dim) values of `dtype`,
  // plus num_hidden_layers * index_head_dim float32 values with an indexer.
  static int64_t bytes_per_token(const ModelConfig& config, DType dtype);

 private:
  LatentBlockPool pool_;
  static constexpr int32_t block_table_[1] = {0};
};

}  // namespace dsinfer
