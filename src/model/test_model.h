// Small random-weight checkpoints in the real Hugging Face layout (config.json with real
// field names, safetensors with real tensor names, sharded with an index for some
// presets, FP8 with 128x128 block scales for another). Tests and the demo run on them;
// the numpy reference in tests/reference reads the same folders independently.
//
// The same presets (and the two benchmark shapes, too big for a folder in memory) can be
// written directly as a llama.cpp `deepseek2` GGUF file, one tensor at a time, with the
// same values the folder holds: TestModelValues generates any rows of any tensor on
// demand from one splitmix64 stream whose position is computed, not replayed.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "formats/model_config.h"
#include "model/tensor_table.h"

namespace dsinfer {

class ThreadPool;

struct TestModelOptions {
  std::string preset;  // one of test_model_presets()
  uint64_t seed = 0;
  std::string out;     // a folder (Hugging Face layout) or FILE.gguf
  DType gguf_type = DType::kQ8_0;  // projections, embedding and head of a .gguf
  ThreadPool* pool = nullptr;      // quantizes .gguf tensors in parallel when given
  bool progress = false;           // .gguf: one line per tensor on stderr
};

std::vector<std::string> test_model_presets();
// The config.json text of a preset.
Result<std::string> test_model_config_json(const std::string& preset);

// The values of every tensor of a preset's model, addressable by tensor and row.
class TestModelValues {
 public:
  TestModelValues(const ModelConfig& config, uint64_t seed);

  // Rows [begin, begin + count) of `spec` (a tensor of tensor_table(config)) as float32,
  // before any rounding to the stored type.
  void rows(const TensorSpec& spec, int64_t begin, int64_t count, float* out) const;
  // The same rounded as the Hugging Face folder stores them (bf16; biases f32). FP8
  // presets store projections in FP8; these are their bf16 values instead.
  void stored_rows(const TensorSpec& spec, int64_t begin, int64_t count, float* out) const;

 private:
  uint64_t stream_start_;
  std::unordered_map<std::string, uint64_t> offsets_;  // first stream position of each tensor
};

// Writes the preset: config.json and safetensors file(s) into `options.out` (created if
// needed), or, when it ends in .gguf, a GGUF file in `options.gguf_type`.
Status make_test_model(const TestModelOptions& options);

}  // namespace dsinfer
