// libFuzzer target for parse_gguf_header: a GGUF file is untrusted bytes. Any input must
// give either an error with a message or a header whose every tensor lies inside the
// buffer, is aligned and has the size its type and dimensions need; never a crash, an
// out-of-bounds read (AddressSanitizer), a huge allocation or a hang. A header's
// vocabulary (tokenizer.ggml.*) must give an error with a message or a tokenizer that
// encodes and decodes text.
//
// Run: scripts/fuzz.sh fuzz_gguf_header [SECONDS] (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>

#include "formats/gguf.h"
#include "fuzz_check.h"
#include "tokenizer/gguf_vocabulary.h"

using dsinfer::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto result = dsinfer::parse_gguf_header(data, size, "fuzz.gguf");
  if (!result.is_ok()) {
    require(!result.status().message().empty());
    return 0;
  }
  const dsinfer::GgufHeader& header = *result;
  require(header.alignment > 0 && (header.alignment & (header.alignment - 1)) == 0);
  require(header.data_start % header.alignment == 0);
  for (const auto& t : header.tensors) {
    require(header.data_start <= size);
    require(t.offset % header.alignment == 0);
    require(t.offset <= size - header.data_start && t.size <= size - header.data_start - t.offset);
    uint64_t numel = 1;
    for (int64_t d : t.ne) {
      require(d >= 0);
      numel *= static_cast<uint64_t>(d);
    }
    require(numel / static_cast<uint64_t>(dsinfer::dtype_block_elements(t.dtype)) *
                dsinfer::dtype_block_bytes(t.dtype) ==
            t.size);
    // Touch the tensor's first and last byte: AddressSanitizer flags them if the
    // validated range still lies outside the buffer.
    if (t.size > 0) {
      volatile uint8_t first = data[header.data_start + t.offset];
      volatile uint8_t last = data[header.data_start + t.offset + t.size - 1];
      (void)first;
      (void)last;
    }
  }
  for (const auto& [key, value] : header.metadata) {
    if (value.is_array()) require(value.array_size() <= dsinfer::kGgufMaxArrayElements);
    if (const std::string* s = value.as_string()) require(s->size() <= size);
  }
  auto tokenizer = dsinfer::tokenizer_from_gguf(header, "fuzz.gguf");
  if (!tokenizer.is_ok()) {
    require(!tokenizer.status().message().empty());
    return 0;
  }
  auto ids = tokenizer->encode("Hi 12\n");
  if (!ids.is_ok()) {
    require(!ids.status().message().empty());
    return 0;
  }
  require(tokenizer->decode(*ids).is_ok());
  return 0;
}
