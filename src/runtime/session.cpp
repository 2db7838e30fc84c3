#include "runtime/session.h"

#include "formats/checkpoint.h"
#include "formats/gguf_weights.h"

namespace dsinfer {

Session::Session(DeepSeekModel& model, int64_t capacity, DType kv_dtype)
    : model_(model), cache_(model.backend(), model.config(), capacity, kv_dtype) {}

Status Session::append(std::span<const int32_t> tokens, const ForwardOptions& options, std::vector<float>& logits) {
  DSINFER_RETURN_IF_ERROR(model_.forward(tokens, position_, cache_.view(), options, logits));
  position_ += static_cast<int64_t>(tokens.size());
  return Status::ok();
}

Status Session::generate(std::span<const int32_t> prompt, int64_t max_new_tokens, const SamplingParams& params,
                         const std::function<bool(int32_t)>& on_token) {
  if (prompt.empty()) return error("the prompt is empty: give at least one token");
  if (position_ + static_cast<int64_t>(prompt.size()) + max_new_tokens > capacity() + 1)
    return error("prompt of {} tokens plus {} new tokens exceeds the context of {} positions", prompt.size(),
                 max_new_tokens, capacity());
  Sampler sampler(params);
  std::vector<float> logits;
  DSINFER_RETURN_IF_ERROR(append(prompt, {}, logits));
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const int32_t token = sampler.sample(logits);
    if (!on_token(token) || i + 1 == max_new_tokens) break;
    const int32_t next[] = {token};
    DSINFER_RETURN_IF_ERROR(append(next, {}, logits));
  }
  return Status::ok();
}

Result<std::unique_ptr<WeightSource>> open_weights(const std::string& model_path) {
  if (model_path.ends_with(".gguf")) {
    DSINFER_ASSIGN_OR_RETURN(auto gguf, GgufWeights::open(model_path));
    return std::unique_ptr<WeightSource>(std::move(gguf));
  }
  DSINFER_ASSIGN_OR_RETURN(auto checkpoint, Checkpoint::open(model_path));
  return std::unique_ptr<WeightSource>(std::move(checkpoint));
}

Result<std::unique_ptr<DeepSeekModel>> load_model(const std::string& model_path, Backend& backend) {
  DSINFER_ASSIGN_OR_RETURN(auto weights, open_weights(model_path));
  return DeepSeekModel::load(std::move(weights), backend);
}

}  // namespace dsinfer
