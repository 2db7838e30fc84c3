#include "runtime/latent_cache.h"

namespace dsinfer {

LatentCache::LatentCache(Backend& backend, const ModelConfig& config, int64_t capacity) : capacity_(capacity) {
  const int64_t row = config.latent_dim();
  const int64_t per_layer = capacity * row;
  buffer_ = backend.allocate(static_cast<size_t>(per_layer * config.num_hidden_layers) * sizeof(float));
  auto* base = static_cast<float*>(buffer_->data());
  for (int64_t l = 0; l < config.num_hidden_layers; ++l)
    layers_.push_back(Tensor::contiguous(DType::kF32, capacity, row, base + l * per_layer));
}

int64_t LatentCache::bytes_per_token(const ModelConfig& config, int64_t bytes_per_value) {
  return config.num_hidden_layers * config.latent_dim() * bytes_per_value;
}

}  // namespace dsinfer
