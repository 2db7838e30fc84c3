// libFuzzer target for parse_tokenizer_config: a checkpoint's tokenizer_config.json is
// untrusted text (special tokens as strings or AddedToken objects, a chat template as a
// string or a list of named ones). Any input must give either an error with a message or
// a config; never a crash, an uncaught exception (a JSON value of the wrong type) or a hang.
//
// Run: scripts/fuzz.sh fuzz_tokenizer_config [SECONDS] (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tokenizer/tokenizer_config.h"
#include "fuzz_check.h"

using dsinfer::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto result = dsinfer::parse_tokenizer_config(text, "fuzz/tokenizer_config.json");
  if (!result.is_ok()) require(!result.status().message().empty());
  return 0;
}
