// The tensors of a tiny DeepSeek-V4 test model in the released layout (make-test-model
// --preset v4-tiny): FP8 E4M3 projections with UE8M0 block scales, routed experts as
// packed FP4 E2M1 with one UE8M0 scale per 32 values, mHC / sink / ape parameters in F32,
// tid2eid in I64, everything else BF16.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "model/tensor_table.h"

namespace dsinfer {

// `values(spec, out)` fills the float32 values of a tensor (numel(spec) of them).
using TensorValues = std::function<void(const TensorSpec& spec, float* out)>;

// Little-endian BF16 bytes of `values`, as the test-model writers store BF16 tensors.
std::vector<uint8_t> bf16_bytes(const std::vector<float>& values);

std::vector<SafetensorsTensorToWrite> v4_test_tensors(const ModelConfig& config, const TensorValues& values);

}  // namespace dsinfer
