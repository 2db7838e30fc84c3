// One sequence being processed: its latent cache and how far it has got. Tokens are
// appended in chunks (a prefill) or one at a time (decode); each append returns logits.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "model/deepseek_model.h"
#include "runtime/latent_cache.h"
#include "runtime/sampler.h"

namespace dsinfer {

class Session {
 public:
  // `capacity`: the most positions this sequence may reach; `kv_dtype`: how the cache
  // stores latent rows (LatentBlockPool::check_dtype says which the model allows).
  Session(DeepSeekModel& model, int64_t capacity, DType kv_dtype = DType::kF32);

  int64_t position() const { return position_; }
  int64_t capacity() const { return cache_.capacity(); }

  // Runs `tokens` at the next positions; `logits` gets the last row, or all rows.
  Status append(std::span<const int32_t> tokens, const ForwardOptions& options, std::vector<float>& logits);

  // Prefills `prompt`, then samples up to `max_new_tokens` tokens, calling `on_token` for
  // each; it may return false to stop early.
  Status generate(std::span<const int32_t> prompt, int64_t max_new_tokens, const SamplingParams& params,
                  const std::function<bool(int32_t)>& on_token);

 private:
  DeepSeekModel& model_;
  LatentCache cache_;
  int64_t position_ = 0;
};

// Opens the weights at `model_path`: a Hugging Face model folder.
Result<std::unique_ptr<WeightSource>> open_weights(const std::string& model_path);
// Opens `model_path` and loads the model onto `backend`.
Result<std::unique_ptr<DeepSeekModel>> load_model(const std::string& model_path, Backend& backend);

}  // namespace dsinfer
