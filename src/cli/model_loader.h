// Commands take MLA models and DeepSeek-V4 alike: with_model loads whichever model the
// weights describe and hands it to one generic body.
#pragma once

#include <memory>
#include <utility>

#include "model/deepseek_model.h"
#include "model/deepseek_v4_model.h"

namespace dsinfer {

// Loads `weights` on `backend` as a DeepSeekV4Model (deepseek_v4 configs) or a
// DeepSeekModel and returns run(model); both calls of `run` must return the same type.
template <typename Run>
auto with_model(std::unique_ptr<WeightSource> weights, Backend& backend, Run&& run)
    -> decltype(run(std::declval<DeepSeekModel&>())) {
  if (weights->config().v4) {
    DSINFER_ASSIGN_OR_RETURN(auto model, DeepSeekV4Model::load(std::move(weights), backend));
    return run(*model);
  }
  DSINFER_ASSIGN_OR_RETURN(auto model, DeepSeekModel::load(std::move(weights), backend));
  return run(*model);
}

}  // namespace dsinfer
