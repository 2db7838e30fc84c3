// libFuzzer target for parse_model_config: a checkpoint's config.json is untrusted text
// (V2/V3 fields, deepseek_v32's indexer, deepseek_v4's compress_ratios, hc_* and
// quantization_config). Any input must give either an error with a message or a config
// (V2/V3: one that passes validate_model_config); never a crash, an uncaught exception
// (a JSON value of the wrong type) or a hang.
//
// Run: scripts/fuzz.sh fuzz_model_config [SECONDS] (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/model_config.h"
#include "fuzz_check.h"

using dsinfer::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto result = dsinfer::parse_model_config(text, "fuzz/config.json");
  if (!result.is_ok()) {
    require(!result.status().message().empty());
    return 0;
  }
  // A V2/V3 config the parser accepts, the checks that GGUF configs go through accept too
  // (V4 configs have checks of their own, inside the parser).
  if (!result->v4) require(dsinfer::validate_model_config(*result, "fuzz/config.json").is_ok());
  return 0;
}
