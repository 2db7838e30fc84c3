// GGUF v3, llama.cpp's model file:
//
//   "GGUF"  u32 version  u64 n_tensors  u64 n_kv
//   n_kv x  { string key, u32 value_type, value }            metadata
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the data section; each tensor's
//   offset is relative to it and a multiple of the alignment.
//
// Strings are u64 length + bytes (no terminator); arrays are u32 element type, u64
// count, elements; everything little-endian. ne[] lists dimensions innermost first:
// a Hugging Face [out, in] matrix is ne = [in, out].
//
// The header is untrusted input: every count, length, offset and size is checked against
// the file before it is used or anything is allocated for it (fuzz/fuzz_gguf_header.cpp
// exercises that). The writer streams: metadata and tensor infos first, then each
// tensor's bytes as they are produced, so a model never has to be in memory at once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/tensor.h"
#include "core/status.h"

namespace dsinfer {

enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType type);

// One metadata value: a scalar, a string, or an array of one scalar type or of strings
// (GGUF allows nested arrays; no llama.cpp file uses them and this reader rejects them).
class GgufValue {
 public:
  GgufValue() = default;
  static GgufValue u32(uint32_t v) { return integer(GgufValueType::kU32, v); }
  static GgufValue i32(int32_t v) { return integer(GgufValueType::kI32, v); }
  static GgufValue u64(uint64_t v) { return integer(GgufValueType::kU64, static_cast<int64_t>(v)); }
  static GgufValue f32(float v) { return real(GgufValueType::kF32, v); }
  static GgufValue f64(double v) { return real(GgufValueType::kF64, v); }
  static GgufValue boolean(bool v) { return integer(GgufValueType::kBool, v ? 1 : 0); }
  static GgufValue string(std::string v);
  static GgufValue string_array(std::vector<std::string> v);
  // An integer array of `element_type` (a signed or unsigned integer type).
  static GgufValue int_array(GgufValueType element_type, std::vector<int64_t> v);
  static GgufValue float_array(std::vector<float> v);
  // Used by the reader: a scalar of any non-string type from its raw value.
  static GgufValue integer(GgufValueType type, int64_t v);
  static GgufValue real(GgufValueType type, double v);

  GgufValueType type() const { return type_; }
  GgufValueType element_type() const { return element_type_; }  // arrays only
  bool is_array() const { return type_ == GgufValueType::kArray; }

  // Any integer or bool scalar as int64 (u64 values above INT64_MAX wrap: no real file has them).
  std::optional<int64_t> as_int() const;
  // Any float or integer scalar.
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;

  size_t array_size() const;
  const std::vector<std::string>& strings() const { return strings_; }  // string arrays
  const std::vector<int64_t>& ints() const { return ints_; }            // integer and bool arrays
  const std::vector<double>& floats() const { return floats_; }         // float arrays

  // Used by the reader to fill arrays.
  static GgufValue empty_array(GgufValueType element_type);
  std::vector<std::string>& mutable_strings() { return strings_; }
  std::vector<int64_t>& mutable_ints() { return ints_; }
  std::vector<double>& mutable_floats() { return floats_; }

 private:
  GgufValueType type_ = GgufValueType::kU32;
  GgufValueType element_type_ = GgufValueType::kU8;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::string string_;
  std::vector<std::string> strings_;
  std::vector<int64_t> ints_;
  std::vector<double> floats_;
};

// ggml tensor types this engine reads and writes, by their GGUF numbers.
std::optional<DType> dtype_from_ggml_type(uint32_t ggml_type);
std::optional<uint32_t> ggml_type_from_dtype(DType dtype);
// ggml's name for any ggml type number ("q4_K", "iq2_xxs"), or "type N" if unknown.
std::string ggml_type_name(uint32_t ggml_type);

struct GgufTensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  uint32_t ggml_type = 0;
  std::vector<int64_t> ne;  // innermost first, as stored
  uint64_t offset = 0;      // from the start of the data section
  uint64_t size = 0;        // bytes

  // Dimensions outermost first (the Hugging Face / row-major order): reverse of ne.
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
  int64_t numel() const;
};

struct GgufHeader {
  uint32_t version = 3;
  std::vector<std::pair<std::string, GgufValue>> metadata;  // file order
  std::vector<GgufTensorInfo> tensors;                     // file order
  uint64_t alignment = 32;
  uint64_t data_start = 0;  // byte offset of the data section in the file

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* find_tensor(const std::string& name) const;
};

// Limits on what a header may claim, beyond fitting in the file.
inline constexpr uint64_t kGgufMaxStringBytes = 64ull << 20;      // chat templates are ~10 KB
inline constexpr uint64_t kGgufMaxArrayElements = 1ull << 26;     // vocabularies are ~130k
inline constexpr uint64_t kGgufMaxDims = 4;                       // GGML_MAX_DIMS

// Parses and validates the header of a GGUF file held in `bytes[0, size)`: every tensor
// lies inside the data section, is aligned and has the size its shape and type need.
// Tensor types this engine cannot read are an error naming the tensor and the type.
// `origin` names the file in error messages.
Result<GgufHeader> parse_gguf_header(const uint8_t* bytes, size_t size, const std::string& origin);

// A mapped GGUF file with a validated header.
class GgufFile {
 public:
  static Result<GgufFile> open(const std::string& path);

  const GgufHeader& header() const { return header_; }
  const std::string& path() const { return file_.path(); }
  const uint8_t* tensor_data(const GgufTensorInfo& info) const {
    return file_.data() + header_.data_start + info.offset;
  }

 private:
  MappedFile file_;
  GgufHeader header_;
};

// Streams a GGUF file. Declare metadata and tensors, open(), then write each tensor's
// bytes in declaration order (one call or many); close() checks every tensor was
// written whole. Tensor data is padded to the alignment (general.alignment, 32).
class GgufWriter {
 public:
  GgufWriter() = default;
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;
  ~GgufWriter();

  // Sets a metadata entry (a later set of the same key replaces the value, keeping its place).
  void set(const std::string& key, GgufValue value);
  const GgufValue* find(const std::string& key) const;
  // Declares a tensor with dimensions `ne` (innermost first); fails if ne[0] does not
  // split into the dtype's blocks or the name repeats.
  Status add_tensor(const std::string& name, DType dtype, std::vector<int64_t> ne);
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  Status open(const std::string& path);
  // Appends bytes to the tensor being written (the first not yet complete).
  Status write(const void* bytes, size_t count);
  Status close();

 private:
  Status write_raw(const void* bytes, size_t count);
  Status pad_to_alignment();

  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  uint64_t data_bytes_ = 0;  // declared data section size so far
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t position_ = 0;    // bytes written to the file
  uint64_t data_start_ = 0;
  size_t current_ = 0;       // tensor being written
  uint64_t current_written_ = 0;
};

}  // namespace dsinfer
