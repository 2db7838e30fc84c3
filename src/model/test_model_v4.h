// The tensors of a tiny DeepSeek-V4 test model in the released layout (make-test-model
// --preset v4-tiny): FP8 E4M3 projections with UE8M0 block scales, routed experts as
// packed FP4 E2M1 with one UE8M0 scale per 32 values, mHC / sink / ape parameters in F32,
// tid2eid in I64, everything else BF16.
#pragma once

#include <cstdint>
#include <vector>

#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "model/tensor_table.h"

namespace dsinfer {

// Little-endian BF16 bytes of `values`, as the test-model writers store BF16 tensors.
std::vector<uint8_t> bf16_bytes(const std::vector<float>& values);

// The stored form of one tensor of the V4 layout (and its .scale tensor, if any) from its
// float32 values, appended to `out`.
void add_v4_test_tensor(const ModelConfig& config, const TensorSpec& spec, const std::vector<float>& values,
                        std::vector<SafetensorsTensorToWrite>& out);

}  // namespace dsinfer
