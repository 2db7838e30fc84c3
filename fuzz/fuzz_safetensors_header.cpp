// libFuzzer target for parse_safetensors_header: the header of a safetensors file is
// untrusted bytes. Any input must give either an error with a message or a header whose
// every tensor lies inside the buffer and matches its shape; never a crash, an
// out-of-bounds read (AddressSanitizer) or a hang.
//
// Run: scripts/fuzz.sh fuzz_safetensors_header [SECONDS] (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "formats/safetensors.h"
#include "fuzz_check.h"

using dsinfer::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto result = dsinfer::parse_safetensors_header(data, size, "fuzz.safetensors");
  if (!result.is_ok()) {
    require(!result.status().message().empty());
    return 0;
  }
  const dsinfer::SafetensorsHeader& header = *result;
  require(header.data_start >= 8 && header.data_start <= size);
  for (const auto& [name, entry] : header.tensors) {
    require(entry.begin <= entry.end);
    require(entry.end <= size - header.data_start);
    uint64_t numel = 1;
    for (int64_t d : entry.shape) {
      require(d >= 0);
      numel *= static_cast<uint64_t>(d);
    }
    require(numel * dsinfer::dtype_size(entry.dtype) == entry.end - entry.begin);
    // Touch the tensor's first and last byte: AddressSanitizer flags them if the
    // validated range still lies outside the buffer.
    if (entry.end > entry.begin) {
      volatile uint8_t first = data[header.data_start + entry.begin];
      volatile uint8_t last = data[header.data_start + entry.end - 1];
      (void)first;
      (void)last;
    }
  }
  return 0;
}
