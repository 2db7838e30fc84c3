#include "runtime/session.h"

#include "formats/checkpoint.h"
#include "formats/gguf_weights.h"
#include "runtime/generation_loop.h"

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
  return generate_tokens(*this, prompt, max_new_tokens, params, on_token);
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
