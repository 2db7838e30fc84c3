// safetensors: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data; offsets are relative to the end of the header.
// The header is untrusted input: every offset, shape and size is checked against the
// file before any tensor is read (fuzz/fuzz_safetensors_header.cpp exercises it).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"

namespace dsinfer {

struct SafetensorsEntry {
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // byte offset of the data section in the file
};

// Parses and validates the header of a safetensors file held in `bytes[0, size)`.
// `origin` names the file in error messages.
Result<SafetensorsHeader> parse_safetensors_header(const uint8_t* bytes, size_t size,
                                                   const std::string& origin);

// A mapped safetensors file with a validated header.
class SafetensorsFile {
 public:
  static Result<SafetensorsFile> open(const std::string& path);

  const SafetensorsHeader& header() const { return header_; }
  const std::string& path() const { return file_.path(); }
  const uint8_t* tensor_data(const SafetensorsEntry& entry) const {
    return file_.data() + header_.data_start + entry.begin;
  }

 private:
  MappedFile file_;
  SafetensorsHeader header_;
};

// A tensor to write: name, dtype, shape and its raw little-endian bytes.
struct SafetensorsTensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Writes a safetensors file: header padded to 8 bytes, tensors ordered by decreasing
// element alignment (given order otherwise) so that each one is naturally aligned.
Status write_safetensors(const std::string& path, const std::vector<SafetensorsTensorToWrite>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

}  // namespace dsinfer
