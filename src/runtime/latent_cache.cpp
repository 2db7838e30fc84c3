#include "runtime/latent_cache.h"

namespace dsinfer {

LatentCache::LatentCache(Backend& backend, const ModelConfig& config, int64_t capacity, DType dtype)
    : pool_(backend, config, 1, capacity, dtype) {}

Result<DType> parse_kv_dtype(const std::string& name) {
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0})
    if (dtype_name(d) == name) return d;
  return error("--kv-type: expected f32, f16, bf16 or q8_0, got '{}'", name);
}

Status LatentBlockPool::check_dtype(const ModelConfig& config, DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16: return Status::ok();
    case DType::kQ8_0:
      if (config.latent_dim() % 32 == 0) return Status::ok();
      return error("a q8_0 KV cache needs kv_lora_rank + qk_rope_head_dim to be a multiple of 32, this model has {}",
                   config.latent_dim());
    default: return error("the KV cache can be f32, f16, bf16 or q8_0, not {}", dtype_name(dtype));
  }
}

LatentBlockPool::LatentBlockPool(Backend& backend, const ModelConfig& config, int64_t blocks, int64_t block_rows,
                                 DType dtype)
    : blocks_(blocks), block_rows_(block_rows) {
  const int64_t row = config.latent_dim();
  const size_t per_layer = dtype_bytes(dtype, blocks * block_rows * row);
  buffer_ = backend.allocate(per_layer * static_cast<size_t>(config.num_hidden_layers));
  auto* base = static_cast<uint8_t*>(buffer_->data());
  for (int64_t l = 0; l < config.num_hidden_layers; ++l)
    layers_.push_back(Tensor::contiguous(dtype, blocks * block_rows, row, base + l * per_layer));
  if (!config.indexer) return;
  const int64_t index_row = config.indexer->head_dim;
  const size_t index_per_layer = dtype_bytes(DType::kF32, blocks * block_rows * index_row);
  index_buffer_ = backend.allocate(index_per_layer * static_cast<size_t>(config.num_hidden_layers));
  auto* index_base = static_cast<uint8_t*>(index_buffer_->data());
  for (int64_t l = 0; l < config.num_hidden_layers; ++l)
    index_layers_.push_back(
        Tensor::contiguous(DType::kF32, blocks * block_rows, index_row, index_base + l * index_per_layer));
}

int64_t LatentCache::bytes_per_token(const ModelConfig& config, DType dtype) {
  const int64_t index_row = config.indexer ? config.indexer->head_dim : 0;
  return config.num_hidden_layers *
         static_cast<int64_t>(dtype_bytes(dtype, config.latent_dim()) + dtype_bytes(DType::kF32, index_row));
}

}  // namespace dsinfer
