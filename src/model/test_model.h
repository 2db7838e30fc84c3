// Small random-weight checkpoints in the real Hugging Face layout (config.json with real
// field names, safetensors with real tensor names, sharded with an index for some
// presets, FP8 with 128x128 block scales for another). Tests and the demo run on them;
// the numpy reference in tests/reference reads the same folders independently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace dsinfer {

struct TestModelOptions {
  std::string preset;  // one of test_model_presets()
  uint64_t seed = 0;
  std::string out_dir;
};

std::vector<std::string> test_model_presets();

// Writes config.json and the safetensors file(s) of `options.preset` into out_dir
// (created if needed).
Status make_test_model(const TestModelOptions& options);

}  // namespace dsinfer
