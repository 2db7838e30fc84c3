// The latent KV cache of one sequence: for every layer and position, the normed c_kv
// (kv_lora_rank values) and the roped shared key k_pe (qk_rope_head_dim values), nothing
// else. Per-head keys and values are never cached: that is MLA's memory win.
#pragma once

#include <memory>
#include <vector>

#include "backend/ops.h"
#include "formats/model_config.h"
#include "model/deepseek_model.h"

namespace dsinfer {

class LatentCache {
 public:
  LatentCache(Backend& backend, const ModelConfig& config, int64_t capacity);

  LatentCacheView view() const { return {layers_, block_table_, capacity_}; }
  int64_t capacity() const { return capacity_; }
  // Bytes per token, all layers: num_hidden_layers * (kv_lora_rank + qk_rope_head_dim) * 4.
  static int64_t bytes_per_token(const ModelConfig& config, int64_t bytes_per_value = sizeof(float));

 private:
  std::unique_ptr<DeviceBuffer> buffer_;
  int64_t capacity_ = 0;
  std::vector<Tensor> layers_;                 // [capacity, latent_dim] each: one block
  std::vector<int32_t> block_table_ = {0};
};

}  // namespace dsinfer
