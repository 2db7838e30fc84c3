// RoPE frequencies of a config, with YaRN scaling when rope_scaling says so.
#pragma once

#include "backend/ops.h"
#include "formats/model_config.h"

namespace dsinfer {

RopeTable make_rope_table(const ModelConfig& config);

}  // namespace dsinfer
