// parse_safetensors_header on crafted byte buffers: the header is untrusted input, so
// every malformed case must come back as an error naming the problem (and the tensor),
// never a crash. Plus the write_safetensors -> SafetensorsFile::open round trip.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "formats/safetensors.h"
#include "temp_dir.h"

namespace dsinfer {
namespace {

using test::contains_all;

constexpr const char* kOrigin = "shard.safetensors";

// 8-byte little-endian header length, the header text, then `data_size` data bytes.
std::vector<uint8_t> file_bytes(const std::string& header, size_t data_size, uint64_t declared_len = UINT64_MAX) {
  const uint64_t len = declared_len == UINT64_MAX ? header.size() : declared_len;
  std::vector<uint8_t> bytes;
  bytes.reserve(8 + header.size() + data_size);
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(len >> (8 * i)));
  for (char c : header) bytes.push_back(static_cast<uint8_t>(c));
  for (size_t i = 0; i < data_size; ++i) bytes.push_back(static_cast<uint8_t>(i));
  return bytes;
}

Result<SafetensorsHeader> parse(const std::vector<uint8_t>& bytes) {
  return parse_safetensors_header(bytes.data(), bytes.size(), kOrigin);
}

// One tensor entry named `name`, the rest of the JSON given verbatim.
std::string one_tensor(const std::string& name, const std::string& dtype, const std::string& shape,
                       const std::string& offsets) {
  return "{\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}";
}

// The parse fails and its message contains every needle (and the file name).
void expect_parse_error(const std::vector<uint8_t>& bytes, std::initializer_list<std::string> needles) {
  auto result = parse(bytes);
  ASSERT_FALSE(result.is_ok()) << "parsed although it should not";
  EXPECT_TRUE(contains_all(result.status().message(), needles));
  EXPECT_TRUE(contains_all(result.status().message(), {kOrigin}));
}

const std::string kName = "model.layers.0.mlp.gate_proj.weight";

TEST(SafetensorsHeader, ValidFile) {
  const std::string header =
      R"({"__metadata__":{"format":"pt","n":3},)"
      R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},)"
      R"("scalar":{"dtype":"I64","shape":[],"data_offsets":[32,40]},)"
      R"("empty":{"dtype":"F8_E4M3","shape":[0,5],"data_offsets":[40,40]}}      )";  // padded, as writers do
  const auto bytes = file_bytes(header, 40);
  auto result = parse(bytes);
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  const SafetensorsHeader& h = *result;
  EXPECT_EQ(h.data_start, 8 + header.size());
  ASSERT_EQ(h.tensors.size(), 4u);
  const SafetensorsEntry& a = h.tensors.at("a");
  EXPECT_EQ(a.dtype, DType::kF32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.begin, 0u);
  EXPECT_EQ(a.end, 24u);
  const SafetensorsEntry& b = h.tensors.at("b");
  EXPECT_EQ(b.dtype, DType::kBF16);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(b.begin, 24u);
  EXPECT_EQ(h.tensors.at("scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(h.tensors.at("empty").dtype, DType::kF8E4M3);
  // String metadata is kept; other values are ignored.
  EXPECT_EQ(h.metadata.size(), 1u);
  EXPECT_EQ(h.metadata.at("format"), "pt");
}

TEST(SafetensorsHeader, EmptyObjectIsAFileWithNoTensors) {
  auto result = parse(file_bytes("{}", 0));
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  EXPECT_TRUE(result->tensors.empty());
  EXPECT_EQ(result->data_start, 10u);
}

TEST(SafetensorsHeader, Truncated) {
  expect_parse_error({}, {"0 bytes", "too short"});
  expect_parse_error({1, 0, 0, 0, 0, 0, 0}, {"7 bytes", "too short"});
  // The header claims 100 bytes; the file holds 2 after the length.
  expect_parse_error(file_bytes("{}", 0, /*declared_len=*/100), {"header length 100", "exceeds the file size", "truncated"});
  // A length no real header has (and that would overflow `8 + length`).
  expect_parse_error(file_bytes("{}", 0, uint64_t{1} << 40), {"implausible"});
  expect_parse_error(file_bytes("{}", 0, UINT64_MAX - 1), {"implausible"});
  // The header is cut off in the middle of the JSON.
  const std::string full = one_tensor(kName, "\"F32\"", "[1]", "[0,4]");
  expect_parse_error(file_bytes(full.substr(0, full.size() - 5), 0), {"not valid JSON"});
}

TEST(SafetensorsHeader, NotJsonOrNotAnObject) {
  expect_parse_error(file_bytes("", 0), {"not valid JSON"});
  expect_parse_error(file_bytes("{not json", 0), {"not valid JSON"});
  expect_parse_error(file_bytes(std::string("{\"a\"\0:1}", 8), 0), {"not valid JSON"});
  expect_parse_error(file_bytes("[1,2]", 0), {"not a JSON object"});
  expect_parse_error(file_bytes("\"text\"", 0), {"not a JSON object"});
  expect_parse_error(file_bytes("42", 0), {"not a JSON object"});
  expect_parse_error(file_bytes(R"({"__metadata__":[1]})", 0), {"__metadata__", "not an object"});
}

TEST(SafetensorsHeader, MalformedEntries) {
  expect_parse_error(file_bytes("{\"" + kName + "\":7}", 0), {kName, "not an object"});
  expect_parse_error(file_bytes("{\"" + kName + "\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), {kName, "dtype"});
  expect_parse_error(file_bytes("{\"" + kName + "\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), {kName, "shape"});
  expect_parse_error(file_bytes("{\"" + kName + "\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), {kName, "data_offsets"});
  expect_parse_error(file_bytes(one_tensor(kName, "7", "[1]", "[0,4]"), 4), {kName, "dtype"});
  expect_parse_error(file_bytes(one_tensor(kName, "\"F32\"", "{}", "[0,4]"), 4), {kName, "shape"});
  expect_parse_error(file_bytes(one_tensor(kName, "\"F32\"", "[1]", "[0,4,8]"), 8), {kName, "data_offsets", "[begin, end]"});
  expect_parse_error(file_bytes(one_tensor(kName, "\"F32\"", "[1]", "0"), 4), {kName, "data_offsets"});
}

TEST(SafetensorsHeader, UnknownDtype) {
  expect_parse_error(file_bytes(one_tensor(kName, "\"F64\"", "[1]", "[0,8]"), 8), {kName, "unsupported dtype F64"});
  expect_parse_error(file_bytes(one_tensor(kName, "\"bf16\"", "[1]", "[0,2]"), 2), {kName, "unsupported dtype bf16"});
}

TEST(SafetensorsHeader, NegativeOrNonIntegerShape) {
  for (const char* shape : {"[-1,2]", "[2,-3]", "[2.5]", "[1e3]", "[\"4\"]", "[null]", "[[2]]", "[true]"})
    expect_parse_error(file_bytes(one_tensor(kName, "\"F32\"", shape, "[0,8]"), 8), {kName, "negative or non-integer"});
}

TEST(SafetensorsHeader, OffsetsOutsideTheDataSection) {
  // 32 data bytes; the tensor claims [16, 48).
  expect_parse_error(file_bytes(one_tensor(kName, "\"F32\"", "[8]", "[16,48]"), 32), {kName, "[16, 48]", "32-byte data section"});
  // Begins beyond the end of the file.
  expect_parse_error(file_bytes(one_tensor(kName, "\"U8\"", "[0]", "[40,40]"), 32), {kName, "outside"});
  expect_parse_error(file_bytes(one_tensor(kName, "\"U8\"", "[1]", "[18446744073709551615,0]"), 32), {kName, "data_offsets"});
  for (const char* offsets : {"[-4,0]", "[0,-4]", "[0.5,4]", "[\"0\",4]"})
    expect_parse_error(file_bytes(one_tensor(kName, "\"U8\"", "[4]", offsets), 32), {kName, "non-negative integers"});
}

TEST(SafetensorsHeader, BeginAfterEnd) {
  auto result = parse(file_bytes(one_tensor(kName, "\"F32\"", "[1]", "[8,4]"), 32));
  ASSERT_FALSE(result.is_ok());
  EXPECT_TRUE(contains_all(result.status().message(), {kName, "[8, 4]", "begin after"}));
}

TEST(SafetensorsHeader, SizeMismatchWithShape) {
  // [2,3] F32 needs 24 bytes.
  expect_parse_error(file_bytes(one_tensor(kName, "\"F32\"", "[2,3]", "[0,20]"), 32),
               {kName, "[2,3]", "needs 24 bytes", "span 20"});
  expect_parse_error(file_bytes(one_tensor(kName, "\"BF16\"", "[4]", "[0,16]"), 32), {kName, "needs 8 bytes", "span 16"});
}

TEST(SafetensorsHeader, HugeShapesThatWouldOverflow) {
  // Each would wrap numel * element size to something small (here 0 or 16) in 64 bits.
  for (const char* shape : {"[4294967296,4294967296]", "[1048576,1048576,1048576,16]", "[1099511627777]",
                            "[18446744073709551615]", "[4611686018427387904,4]", "[2,9223372036854775808]"})
    expect_parse_error(file_bytes(one_tensor(kName, "\"F32\"", shape, "[0,16]"), 16), {kName, "too large"});
  // A zero dimension makes the tensor empty whatever follows.
  auto ok = parse(file_bytes(one_tensor(kName, "\"F32\"", "[0,1099511627776]", "[0,0]"), 0));
  EXPECT_TRUE(ok.is_ok()) << ok.status().message();
}

TEST(SafetensorsHeader, TheFirstBadTensorIsNamed) {
  const std::string header = R"({"good":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                             R"("bad.one":{"dtype":"U8","shape":[4],"data_offsets":[4,9]}})";
  expect_parse_error(file_bytes(header, 8), {"'bad.one'", "outside"});
}

TEST(SafetensorsHeader, DeeplyNestedJsonIsAnErrorNotACrash) {
  const std::string deep(100000, '[');
  expect_parse_error(file_bytes(deep, 0), {"not valid JSON"});
  const std::string nested = "{\"a\":" + std::string(20000, '[') + std::string(20000, ']') + "}";
  expect_parse_error(file_bytes(nested, 0), {"'a'"});
}

// ---------------------------------------------------------------- write + open

class SafetensorsFileTest : public test::TempDirTest {};

TEST_F(SafetensorsFileTest, WriteThenOpenRoundTrip) {
  std::vector<SafetensorsTensorToWrite> tensors;
  tensors.push_back({"z.first", DType::kF32, {2, 2}, {}});
  for (float v : {1.0f, -2.0f, 3.5f, 1e-3f}) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    tensors.back().bytes.insert(tensors.back().bytes.end(), b, b + 4);
  }
  tensors.push_back({"m.fp8", DType::kF8E4M3, {2, 3}, {0x38, 0x40, 0x7E, 0xFE, 0x01, 0x00}});
  tensors.push_back({"m.scale_inv", DType::kF32, {1}, {0, 0, 0x80, 0x3F}});
  tensors.push_back({"a.second", DType::kBF16, {3}, {0x80, 0x3F, 0x00, 0xC0, 0x00, 0x00}});
  tensors.push_back({"m.odd", DType::kU8, {3}, {1, 2, 3}});
  tensors.push_back({"m.scalar", DType::kI64, {}, {7, 0, 0, 0, 0, 0, 0, 0}});
  const std::string file = path("out.safetensors");
  ASSERT_TRUE(write_safetensors(file, tensors, {{"format", "pt"}}).is_ok());

  auto opened = SafetensorsFile::open(file);
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  const SafetensorsHeader& h = opened->header();
  EXPECT_EQ(h.data_start % 8, 0u) << "header is padded to 8 bytes";
  EXPECT_EQ(h.metadata.at("format"), "pt");
  ASSERT_EQ(h.tensors.size(), tensors.size());
  for (const auto& t : tensors) {
    const SafetensorsEntry& e = h.tensors.at(t.name);
    EXPECT_EQ(e.dtype, t.dtype) << t.name;
    EXPECT_EQ(e.shape, t.shape) << t.name;
    EXPECT_EQ(std::vector<uint8_t>(opened->tensor_data(e), opened->tensor_data(e) + (e.end - e.begin)), t.bytes) << t.name;
    // Mapped in place, every tensor must be naturally aligned for its element type (the
    // f32 tensor follows a 6-byte f8 one in the given order).
    EXPECT_EQ(reinterpret_cast<uintptr_t>(opened->tensor_data(e)) % dtype_size(e.dtype), 0u) << t.name << " is misaligned";
  }
  // The data section has no holes (the format forbids them): sorted by offset, each
  // tensor starts where the previous one ends, and the last one ends the file.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, e] : h.tensors) ranges.push_back({e.begin, e.end});
  std::sort(ranges.begin(), ranges.end());
  uint64_t offset = 0;
  for (const auto& [begin, end] : ranges) {
    EXPECT_EQ(begin, offset);
    offset = end;
  }
  EXPECT_EQ(h.data_start + offset, std::filesystem::file_size(file));
}

TEST_F(SafetensorsFileTest, WriteRejectsBytesThatDoNotMatchTheShape) {
  const Status s = write_safetensors(path("bad.safetensors"), {{"w.bad", DType::kF32, {2, 2}, std::vector<uint8_t>(12)}});
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(contains_all(s.message(), {"w.bad", "12 bytes", "needs 16"}));
}

TEST_F(SafetensorsFileTest, OpenErrorsNameTheFile) {
  auto missing = SafetensorsFile::open(path("nope.safetensors"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(contains_all(missing.status().message(), {"nope.safetensors"}));

  write_text("short.safetensors", "abc");
  auto truncated = SafetensorsFile::open(path("short.safetensors"));
  ASSERT_FALSE(truncated.is_ok());
  EXPECT_TRUE(contains_all(truncated.status().message(), {path("short.safetensors"), "too short"}));

  write_text("empty.safetensors", "");
  auto empty = SafetensorsFile::open(path("empty.safetensors"));
  ASSERT_FALSE(empty.is_ok());
  EXPECT_TRUE(contains_all(empty.status().message(), {"too short"}));
}

}  // namespace
}  // namespace dsinfer
