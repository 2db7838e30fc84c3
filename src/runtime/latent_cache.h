// The latent KV cache of one sequence: for every layer and position, the normed c_kv
// (kv_lora_rank values) and the roped shared key k_pe (qk_rope_head_dim values), nothing
// else. Per-head keys and values are never cached: that is MLA's memory win.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backend/ops.h"
#include "formats/model_config.h"
#include "model/deepseek_model.h"

namespace dsinfer {

// The serving engine's cache: per layer a pool of `blocks` blocks of `block_rows` latent
// rows each, shared by every sequence through its block table, stored as float32 or
// compactly (F16, BF16, Q8_0).
class LatentBlockPool {
 public:
  // Checks that rows of `config` can be stored as `dtype`.
  static Status check_dtype(const ModelConfig& config, DType dtype);
  LatentBlockPool(Backend& backend, const ModelConfig& config, int64_t blocks, int64_t block_rows,
                  DType dtype = DType::kF32);

  std::span<const Tensor> layer_pools() const { return layers_; }
  int64_t blocks() const { return blocks_; }
  int64_t block_rows() const { return block_rows_; }

 private:
  std::unique_ptr<DeviceBuffer> buffer_;
  int64_t blocks_ = 0;
  int64_t block_rows_ = 0;
  std::vector<Tensor> layers_;  // [blocks * block_rows, latent_dim] each
};

// A single sequence's cache (CLI runs): one block as long as the context.
class LatentCache {
 public:
  LatentCache(Backend& backend, const ModelConfig& config, int64_t capacity, DType dtype = DType::kF32);

  LatentCacheView view() const { return {pool_.layer_pools(), block_table_, pool_.block_rows()}; }
  int64_t capacity() const { return pool_.block_rows(); }
  // Bytes per token, all layers: num_hidden_layers * (kv_lora_rank + qk_rope_head_dim) values of `dtype`.
  static int64_t bytes_per_token(const ModelConfig& config, DType dtype);

 private:
  LatentBlockPool pool_;
  static constexpr int32_t block_table_[1] = {0};
};

}  // namespace dsinfer
