#include "formats/gguf.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <type_traits>
#include <unordered_set>

namespace dsinfer {

// ------------------------------------------------------------------ values

std::string_view gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::kU8: return "u8";
    case GgufValueType::kI8: return "i8";
    case GgufValueType::kU16: return "u16";
    case GgufValueType::kI16: return "i16";
    case GgufValueType::kU32: return "u32";
    case GgufValueType::kI32: return "i32";
    case GgufValueType::kF32: return "f32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kU64: return "u64";
    case GgufValueType::kI64: return "i64";
    case GgufValueType::kF64: return "f64";
  }
  return "?";
}

namespace {

bool is_integer_type(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kU16:
    case GgufValueType::kI16:
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kBool: return true;
    default: return false;
  }
}
bool is_float_type(GgufValueType t) { return t == GgufValueType::kF32 || t == GgufValueType::kF64; }

// Bytes of one scalar of type `t` (0 for strings and arrays, which have a length prefix).
size_t scalar_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool: return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16: return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32: return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64: return 8;
    default: return 0;
  }
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::kF64); }

}  // namespace

GgufValue GgufValue::integer(GgufValueType type, int64_t v) {
  GgufValue value;
  value.type_ = type;
  value.int_ = v;
  return value;
}

GgufValue GgufValue::real(GgufValueType type, double v) {
  GgufValue value;
  value.type_ = type;
  value.float_ = v;
  return value;
}

GgufValue GgufValue::string(std::string v) {
  GgufValue value;
  value.type_ = GgufValueType::kString;
  value.string_ = std::move(v);
  return value;
}

GgufValue GgufValue::empty_array(GgufValueType element_type) {
  GgufValue value;
  value.type_ = GgufValueType::kArray;
  value.element_type_ = element_type;
  return value;
}

GgufValue GgufValue::string_array(std::vector<std::string> v) {
  GgufValue value = empty_array(GgufValueType::kString);
  value.strings_ = std::move(v);
  return value;
}

GgufValue GgufValue::int_array(GgufValueType element_type, std::vector<int64_t> v) {
  GgufValue value = empty_array(element_type);
  value.ints_ = std::move(v);
  return value;
}

GgufValue GgufValue::float_array(std::vector<float> v) {
  GgufValue value = empty_array(GgufValueType::kF32);
  value.floats_.assign(v.begin(), v.end());
  return value;
}

std::optional<int64_t> GgufValue::as_int() const {
  if (is_integer_type(type_)) return int_;
  return std::nullopt;
}

std::optional<double> GgufValue::as_float() const {
  if (is_float_type(type_)) return float_;
  if (is_integer_type(type_) && type_ != GgufValueType::kBool) return static_cast<double>(int_);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (type_ == GgufValueType::kBool) return int_ != 0;
  return std::nullopt;
}

const std::string* GgufValue::as_string() const { return type_ == GgufValueType::kString ? &string_ : nullptr; }

size_t GgufValue::array_size() const {
  if (!is_array()) return 0;
  if (element_type_ == GgufValueType::kString) return strings_.size();
  if (is_float_type(element_type_)) return floats_.size();
  return ints_.size();
}

// ------------------------------------------------------------------ ggml types

namespace {

struct GgmlType {
  uint32_t id;
  const char* name;
  std::optional<DType> dtype;  // nullopt: known to ggml, not read by this engine
};

constexpr std::array<GgmlType, 36> kGgmlTypes{{
    {0, "f32", DType::kF32},       {1, "f16", DType::kF16},         {2, "q4_0", DType::kQ4_0},
    {3, "q4_1", std::nullopt},     {6, "q5_0", DType::kQ5_0},       {7, "q5_1", DType::kQ5_1},
    {8, "q8_0", DType::kQ8_0},     {9, "q8_1", std::nullopt},       {10, "q2_K", DType::kQ2_K},
    {11, "q3_K", DType::kQ3_K},     {12, "q4_K", DType::kQ4_K},      {13, "q5_K", DType::kQ5_K},
    {14, "q6_K", DType::kQ6_K},    {15, "q8_K", std::nullopt},      {16, "iq2_xxs", DType::kIQ2_XXS},
    {17, "iq2_xs", DType::kIQ2_XS},  {18, "iq3_xxs", DType::kIQ3_XXS},   {19, "iq1_s", DType::kIQ1_S},
    {20, "iq4_nl", DType::kIQ4_NL}, {21, "iq3_s", DType::kIQ3_S},     {22, "iq2_s", DType::kIQ2_S},
    {23, "iq4_xs", DType::kIQ4_XS}, {24, "i8", std::nullopt},        {25, "i16", std::nullopt},
    {26, "i32", DType::kI32},      {27, "i64", DType::kI64},        {28, "f64", std::nullopt},
    {29, "iq1_m", DType::kIQ1_M},   {30, "bf16", DType::kBF16},      {31, "q4_0_4_4 (removed)", std::nullopt},
    {34, "tq1_0", std::nullopt},   {35, "tq2_0", std::nullopt},     {39, "mxfp4", std::nullopt},
    {40, "nvfp4", std::nullopt},   {41, "q1_0", std::nullopt},      {42, "q2_0", std::nullopt},
}};

const GgmlType* find_ggml_type(uint32_t id) {
  for (const auto& t : kGgmlTypes)
    if (t.id == id) return &t;
  return nullptr;
}

std::string supported_type_list() {
  std::string s;
  for (const auto& t : kGgmlTypes)
    if (t.dtype) s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

}  // namespace

std::optional<DType> dtype_from_ggml_type(uint32_t ggml_type) {
  const GgmlType* t = find_ggml_type(ggml_type);
  return t ? t->dtype : std::nullopt;
}

std::optional<uint32_t> ggml_type_from_dtype(DType dtype) {
  for (const auto& t : kGgmlTypes)
    if (t.dtype == dtype) return t.id;
  return std::nullopt;
}

std::string ggml_type_name(uint32_t ggml_type) {
  const GgmlType* t = find_ggml_type(ggml_type);
  return t ? t->name : fmt::format("type {}", ggml_type);
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

const GgufValue* GgufHeader::find(const std::string& key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensorInfo* GgufHeader::find_tensor(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// ------------------------------------------------------------------ reader

namespace {

// Reads little-endian fields from the untrusted buffer; every read is bounds-checked
// and a short buffer is an error naming what was being read and where.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& origin) : data_(data), size_(size), origin_(origin) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  Status read(T& out, const char* what) {
    if (remaining() < sizeof(T))
      return error("{}: file ends at byte {} while reading {} ({} bytes needed)", origin_, size_, what, sizeof(T));
    std::memcpy(&out, data_ + pos_, sizeof(T));  // little-endian hosts only (x86, ARM)
    pos_ += sizeof(T);
    return Status::ok();
  }

  Status read_string(std::string& out, const char* what) {
    uint64_t length = 0;
    DSINFER_RETURN_IF_ERROR(read(length, what));
    if (length > kGgufMaxStringBytes)
      return error("{}: {} at byte {} claims {} bytes, more than the {}-byte limit", origin_, what, pos_ - 8, length,
                   kGgufMaxStringBytes);
    if (length > remaining())
      return error("{}: {} at byte {} claims {} bytes but only {} remain in the file", origin_, what, pos_ - 8, length,
                   remaining());
    out.assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return Status::ok();
  }

  const std::string& origin() const { return origin_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& origin_;
};

template <typename T>
Result<GgufValue> read_number(Cursor& in, GgufValueType type, const std::string& what) {
  T v{};
  DSINFER_RETURN_IF_ERROR(in.read(v, what.c_str()));
  if constexpr (std::is_floating_point_v<T>) return GgufValue::real(type, v);
  else return GgufValue::integer(type, static_cast<int64_t>(v));
}

Result<GgufValue> read_scalar(Cursor& in, GgufValueType type, const std::string& key) {
  const std::string what = "value of '" + key + "'";
  switch (type) {
    case GgufValueType::kU8: return read_number<uint8_t>(in, type, what);
    case GgufValueType::kI8: return read_number<int8_t>(in, type, what);
    case GgufValueType::kU16: return read_number<uint16_t>(in, type, what);
    case GgufValueType::kI16: return read_number<int16_t>(in, type, what);
    case GgufValueType::kU32: return read_number<uint32_t>(in, type, what);
    case GgufValueType::kI32: return read_number<int32_t>(in, type, what);
    case GgufValueType::kU64: return read_number<uint64_t>(in, type, what);
    case GgufValueType::kI64: return read_number<int64_t>(in, type, what);
    case GgufValueType::kF32: return read_number<float>(in, type, what);
    case GgufValueType::kF64: return read_number<double>(in, type, what);
    case GgufValueType::kBool: {
      uint8_t v = 0;
      DSINFER_RETURN_IF_ERROR(in.read(v, what.c_str()));
      if (v > 1) return error("{}: bool {} is {}, not 0 or 1", in.origin(), what, v);
      return GgufValue::integer(type, v);
    }
    case GgufValueType::kString: {
      std::string s;
      DSINFER_RETURN_IF_ERROR(in.read_string(s, what.c_str()));
      return GgufValue::string(std::move(s));
    }
    case GgufValueType::kArray: break;
  }
  return error("{}: {} has no scalar type", in.origin(), what);
}

Result<GgufValue> read_array(Cursor& in, const std::string& key) {
  uint32_t raw_type = 0;
  uint64_t count = 0;
  const std::string what = "array '" + key + "'";
  DSINFER_RETURN_IF_ERROR(in.read(raw_type, what.c_str()));
  DSINFER_RETURN_IF_ERROR(in.read(count, what.c_str()));
  if (!valid_value_type(raw_type))
    return error("{}: {} has unknown element type {}", in.origin(), what, raw_type);
  const auto type = static_cast<GgufValueType>(raw_type);
  if (type == GgufValueType::kArray) return error("{}: {} holds arrays; nested arrays are not supported", in.origin(), what);
  // Each element takes at least its scalar size (strings: their 8-byte length).
  const uint64_t min_bytes = type == GgufValueType::kString ? 8 : scalar_bytes(type);
  if (count > kGgufMaxArrayElements)
    return error("{}: {} claims {} elements, more than the limit of {}", in.origin(), what, count, kGgufMaxArrayElements);
  if (count > in.remaining() / min_bytes)
    return error("{}: {} claims {} {} elements but only {} bytes remain in the file", in.origin(), what, count,
                 gguf_value_type_name(type), in.remaining());
  GgufValue value = GgufValue::empty_array(type);
  const size_t n = static_cast<size_t>(count);
  if (type == GgufValueType::kString) {
    value.mutable_strings().resize(n);
    for (size_t i = 0; i < n; ++i) DSINFER_RETURN_IF_ERROR(in.read_string(value.mutable_strings()[i], what.c_str()));
  } else if (is_float_type(type)) {
    value.mutable_floats().reserve(n);
    for (size_t i = 0; i < n; ++i) {
      DSINFER_ASSIGN_OR_RETURN(GgufValue element, read_scalar(in, type, key));
      value.mutable_floats().push_back(*element.as_float());
    }
  } else {
    value.mutable_ints().reserve(n);
    for (size_t i = 0; i < n; ++i) {
      DSINFER_ASSIGN_OR_RETURN(GgufValue element, read_scalar(in, type, key));
      value.mutable_ints().push_back(*element.as_int());
    }
  }
  return value;
}

// Tensor bytes for dims `ne` of a type with `block` values per `block_bytes` bytes, or
// nullopt when the product overflows.
std::optional<uint64_t> tensor_bytes(const std::vector<int64_t>& ne, uint64_t block, uint64_t block_bytes) {
  constexpr uint64_t kMax = uint64_t{1} << 62;
  uint64_t bytes = static_cast<uint64_t>(ne[0]) / block * block_bytes;
  for (size_t i = 1; i < ne.size(); ++i) {
    const uint64_t d = static_cast<uint64_t>(ne[i]);
    if (d != 0 && bytes > kMax / d) return std::nullopt;
    bytes *= d;
  }
  return bytes;
}

Result<GgufTensorInfo> read_tensor_info(Cursor& in, size_t index) {
  GgufTensorInfo info;
  const std::string what = fmt::format("tensor info {}", index);
  DSINFER_RETURN_IF_ERROR(in.read_string(info.name, what.c_str()));
  const std::string where = fmt::format("{}: tensor '{}'", in.origin(), info.name);
  uint32_t n_dims = 0;
  DSINFER_RETURN_IF_ERROR(in.read(n_dims, what.c_str()));
  if (n_dims == 0 || n_dims > kGgufMaxDims) return error("{} has {} dimensions (1 to {} allowed)", where, n_dims, kGgufMaxDims);
  for (uint32_t d = 0; d < n_dims; ++d) {
    int64_t dim = 0;
    DSINFER_RETURN_IF_ERROR(in.read(dim, what.c_str()));
    if (dim < 0 || dim > (int64_t{1} << 40)) return error("{} has dimension {} = {}", where, d, dim);
    info.ne.push_back(dim);
  }
  DSINFER_RETURN_IF_ERROR(in.read(info.ggml_type, what.c_str()));
  DSINFER_RETURN_IF_ERROR(in.read(info.offset, what.c_str()));
  const auto dtype = dtype_from_ggml_type(info.ggml_type);
  if (!dtype) {
    return error("{} has ggml type {} ({}), which dsinfer does not read (supported: {})", where,
                 ggml_type_name(info.ggml_type), info.ggml_type, supported_type_list());
  }
  info.dtype = *dtype;
  const int64_t block = dtype_block_elements(info.dtype);
  if (info.ne[0] % block != 0)
    return error("{}: rows of {} values do not split into {}-value {} blocks", where, info.ne[0], block,
                 dtype_name(info.dtype));
  const auto bytes = tensor_bytes(info.ne, static_cast<uint64_t>(block), dtype_block_bytes(info.dtype));
  if (!bytes) return error("{}: dimensions {} are too large", where, shape_to_string(info.ne));
  info.size = *bytes;
  return info;
}

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

}  // namespace

Result<GgufHeader> parse_gguf_header(const uint8_t* bytes, size_t size, const std::string& origin) {
  Cursor in(bytes, size, origin);
  uint32_t magic = 0;
  DSINFER_RETURN_IF_ERROR(in.read(magic, "the magic"));
  if (std::memcmp(bytes, "GGUF", 4) != 0) return error("{}: not a GGUF file (the first 4 bytes are not 'GGUF')", origin);
  GgufHeader header;
  DSINFER_RETURN_IF_ERROR(in.read(header.version, "the version"));
  if (header.version == 0x03000000 || header.version == 0x02000000)
    return error("{}: big-endian GGUF files are not supported", origin);
  if (header.version != 2 && header.version != 3)
    return error("{}: GGUF version {} is not supported (expected 3; 2 is read too)", origin, header.version);
  uint64_t n_tensors = 0, n_kv = 0;
  DSINFER_RETURN_IF_ERROR(in.read(n_tensors, "the tensor count"));
  DSINFER_RETURN_IF_ERROR(in.read(n_kv, "the metadata count"));
  // The smallest metadata entry is 13 bytes (empty key, type, one-byte value); the
  // smallest tensor info 32 (empty name, one dimension, type, offset).
  if (n_kv > in.remaining() / 13)
    return error("{}: header claims {} metadata entries but the file has room for at most {}", origin, n_kv,
                 in.remaining() / 13);
  if (n_tensors > in.remaining() / 32)
    return error("{}: header claims {} tensors but the file has room for at most {}", origin, n_tensors,
                 in.remaining() / 32);

  std::unordered_set<std::string> keys;
  header.metadata.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    DSINFER_RETURN_IF_ERROR(in.read_string(key, "a metadata key"));
    if (!keys.insert(key).second) return error("{}: metadata key '{}' appears twice", origin, key);
    uint32_t raw_type = 0;
    DSINFER_RETURN_IF_ERROR(in.read(raw_type, "a metadata type"));
    if (!valid_value_type(raw_type)) return error("{}: metadata '{}' has unknown value type {}", origin, key, raw_type);
    const auto type = static_cast<GgufValueType>(raw_type);
    Result<GgufValue> value = type == GgufValueType::kArray ? read_array(in, key) : read_scalar(in, type, key);
    if (!value) return value.status();
    header.metadata.emplace_back(std::move(key), std::move(value).value());
  }

  if (const GgufValue* alignment = header.find("general.alignment")) {
    const auto a = alignment->as_int();
    if (alignment->type() != GgufValueType::kU32 || !a || *a <= 0 || (*a & (*a - 1)) != 0 || *a > (1 << 20))
      return error("{}: general.alignment must be a u32 power of two, found {} {}", origin,
                   gguf_value_type_name(alignment->type()), a ? std::to_string(*a) : "?");
    header.alignment = static_cast<uint64_t>(*a);
  }

  std::unordered_set<std::string> names;
  header.tensors.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    DSINFER_ASSIGN_OR_RETURN(GgufTensorInfo info, read_tensor_info(in, static_cast<size_t>(i)));
    if (!names.insert(info.name).second) return error("{}: tensor '{}' appears twice", origin, info.name);
    header.tensors.push_back(std::move(info));
  }

  header.data_start = align_up(in.position(), header.alignment);
  if (header.data_start > size && !header.tensors.empty())
    return error("{}: the data section would start at byte {}, past the end of the {}-byte file", origin,
                 header.data_start, size);
  const uint64_t data_size = header.data_start <= size ? size - header.data_start : 0;
  for (const GgufTensorInfo& t : header.tensors) {
    if (t.offset % header.alignment != 0)
      return error("{}: tensor '{}' starts at data offset {}, not a multiple of the alignment {}", origin, t.name,
                   t.offset, header.alignment);
    if (t.offset > data_size || t.size > data_size - t.offset)
      return error("{}: tensor '{}' ({} {}, {} bytes at data offset {}) extends past the end of the file "
                   "(data section of {} bytes)",
                   origin, t.name, dtype_name(t.dtype), shape_to_string(t.shape()), t.size, t.offset, data_size);
  }
  return header;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  GgufFile file;
  DSINFER_ASSIGN_OR_RETURN(file.file_, MappedFile::open(path));
  DSINFER_ASSIGN_OR_RETURN(file.header_, parse_gguf_header(file.file_.data(), file.file_.size(), path));
  return file;
}

// ------------------------------------------------------------------ writer

namespace {

void append_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}
template <typename T>
void append(std::vector<uint8_t>& out, T v) {
  append_bytes(out, &v, sizeof v);
}
void append_string(std::vector<uint8_t>& out, const std::string& s) {
  append<uint64_t>(out, s.size());
  append_bytes(out, s.data(), s.size());
}

void append_scalar(std::vector<uint8_t>& out, GgufValueType type, int64_t i, double f) {
  switch (type) {
    case GgufValueType::kU8: append<uint8_t>(out, static_cast<uint8_t>(i)); return;
    case GgufValueType::kI8: append<int8_t>(out, static_cast<int8_t>(i)); return;
    case GgufValueType::kBool: append<uint8_t>(out, i ? 1 : 0); return;
    case GgufValueType::kU16: append<uint16_t>(out, static_cast<uint16_t>(i)); return;
    case GgufValueType::kI16: append<int16_t>(out, static_cast<int16_t>(i)); return;
    case GgufValueType::kU32: append<uint32_t>(out, static_cast<uint32_t>(i)); return;
    case GgufValueType::kI32: append<int32_t>(out, static_cast<int32_t>(i)); return;
    case GgufValueType::kU64: append<uint64_t>(out, static_cast<uint64_t>(i)); return;
    case GgufValueType::kI64: append<int64_t>(out, i); return;
    case GgufValueType::kF32: append<float>(out, static_cast<float>(f)); return;
    case GgufValueType::kF64: append<double>(out, f); return;
    case GgufValueType::kString:
    case GgufValueType::kArray: return;
  }
}

void append_value(std::vector<uint8_t>& out, const GgufValue& v) {
  append<uint32_t>(out, static_cast<uint32_t>(v.type()));
  if (v.type() == GgufValueType::kString) {
    append_string(out, *v.as_string());
  } else if (v.is_array()) {
    append<uint32_t>(out, static_cast<uint32_t>(v.element_type()));
    append<uint64_t>(out, v.array_size());
    if (v.element_type() == GgufValueType::kString) {
      for (const auto& s : v.strings()) append_string(out, s);
    } else if (is_float_type(v.element_type())) {
      for (double f : v.floats()) append_scalar(out, v.element_type(), 0, f);
    } else {
      for (int64_t i : v.ints()) append_scalar(out, v.element_type(), i, 0);
    }
  } else {
    append_scalar(out, v.type(), v.as_int().value_or(0), v.as_float().value_or(0));
  }
}

}  // namespace

GgufWriter::~GgufWriter() {
  if (file_) std::fclose(file_);
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(key, std::move(value));
}

const GgufValue* GgufWriter::find(const std::string& key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

Status GgufWriter::add_tensor(const std::string& name, DType dtype, std::vector<int64_t> ne) {
  if (file_) return error("GGUF writer: tensor '{}' declared after the file was opened", name);
  const auto ggml_type = ggml_type_from_dtype(dtype);
  if (!ggml_type) return error("tensor '{}': {} has no GGUF type", name, dtype_name(dtype));
  if (ne.empty() || ne.size() > kGgufMaxDims) return error("tensor '{}': {} dimensions", name, ne.size());
  const int64_t block = dtype_block_elements(dtype);
  if (ne[0] % block != 0)
    return error("tensor '{}': rows of {} values do not split into {}-value {} blocks", name, ne[0], block,
                 dtype_name(dtype));
  for (const auto& t : tensors_)
    if (t.name == name) return error("tensor '{}' declared twice", name);
  GgufTensorInfo info;
  info.name = name;
  info.dtype = dtype;
  info.ggml_type = *ggml_type;
  info.ne = std::move(ne);
  info.size = static_cast<uint64_t>(info.numel() / block) * dtype_block_bytes(dtype);
  info.offset = data_bytes_;
  data_bytes_ = align_up(data_bytes_ + info.size, 32);
  tensors_.push_back(std::move(info));
  return Status::ok();
}

Status GgufWriter::write_raw(const void* bytes, size_t count) {
  if (count && std::fwrite(bytes, 1, count, file_) != count)
    return error("writing {}: {}", path_, std::strerror(errno));
  position_ += count;
  return Status::ok();
}

Status GgufWriter::pad_to_alignment() {
  static const uint8_t kZeros[32] = {};
  return write_raw(kZeros, static_cast<size_t>(align_up(position_, 32) - position_));
}

Status GgufWriter::open(const std::string& path) {
  if (file_) return error("GGUF writer: {} is already open", path_);
  set("general.alignment", GgufValue::u32(32));
  std::vector<uint8_t> header;
  append_bytes(header, "GGUF", 4);
  append<uint32_t>(header, 3);
  append<uint64_t>(header, tensors_.size());
  append<uint64_t>(header, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    append_string(header, key);
    append_value(header, value);
  }
  for (const auto& t : tensors_) {
    append_string(header, t.name);
    append<uint32_t>(header, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) append<uint64_t>(header, static_cast<uint64_t>(d));
    append<uint32_t>(header, t.ggml_type);
    append<uint64_t>(header, t.offset);
  }
  path_ = path;
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) return error("cannot create {}: {}", path, std::strerror(errno));
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  position_ = 0;
  DSINFER_RETURN_IF_ERROR(write_raw(header.data(), header.size()));
  DSINFER_RETURN_IF_ERROR(pad_to_alignment());
  data_start_ = position_;
  current_ = 0;
  current_written_ = 0;
  return Status::ok();
}

Status GgufWriter::write(const void* bytes, size_t count) {
  if (!file_) return error("GGUF writer: write before open");
  const auto* p = static_cast<const uint8_t*>(bytes);
  while (count > 0) {
    if (current_ >= tensors_.size()) return error("writing {}: {} bytes beyond the last tensor", path_, count);
    const GgufTensorInfo& t = tensors_[current_];
    const size_t n = static_cast<size_t>(std::min<uint64_t>(count, t.size - current_written_));
    DSINFER_RETURN_IF_ERROR(write_raw(p, n));
    p += n;
    count -= n;
    current_written_ += n;
    if (current_written_ == t.size) {
      DSINFER_RETURN_IF_ERROR(pad_to_alignment());
      ++current_;
      current_written_ = 0;
    }
  }
  return Status::ok();
}

Status GgufWriter::close() {
  if (!file_) return error("GGUF writer: close before open");
  // Zero-sized tensors complete without a write.
  while (current_ < tensors_.size() && tensors_[current_].size == 0) ++current_;
  Status status = current_ == tensors_.size()
                      ? Status::ok()
                      : error("writing {}: tensor '{}' got {} of its {} bytes", path_, tensors_[current_].name,
                              current_written_, tensors_[current_].size);
  if (std::fclose(file_) != 0 && status.is_ok()) status = error("closing {}: {}", path_, std::strerror(errno));
  file_ = nullptr;
  return status;
}

}  // namespace dsinfer
