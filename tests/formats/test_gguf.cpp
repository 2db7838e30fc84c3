// GGUF reader and writer: a written file reads back with every metadata type (arrays
// included) and every tensor in place; corrupt or unsupported headers give an error that
// says what is wrong, never a crash.
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>

#include "formats/gguf.h"
#include "temp_dir.h"

namespace dsinfer {
namespace {

using test::contains_all;

class GgufTest : public test::TempDirTest {
 protected:
  std::vector<uint8_t> read_bytes(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void write_bytes(const std::string& name, const std::vector<uint8_t>& bytes) const {
    std::ofstream out(path(name), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  // A small valid file: metadata of every type, an f32 [3, 2] matrix, a q8_0 [2, 64]
  // matrix written in two pieces and an empty-name-free bf16 vector.
  void write_sample(const std::string& name) {
    GgufWriter w;
    w.set("general.architecture", GgufValue::string("deepseek2"));
    w.set("u32", GgufValue::u32(4000000000u));
    w.set("i32", GgufValue::i32(-7));
    w.set("u64", GgufValue::u64(1ull << 40));
    w.set("f32", GgufValue::f32(0.25f));
    w.set("f64", GgufValue::f64(-1.5));
    w.set("flag", GgufValue::boolean(true));
    w.set("u8", GgufValue::integer(GgufValueType::kU8, 200));
    w.set("i16", GgufValue::integer(GgufValueType::kI16, -300));
    w.set("strings", GgufValue::string_array({"a", "", "ünïcode ▁"}));
    w.set("ints", GgufValue::int_array(GgufValueType::kI32, {1, -2, 3}));
    w.set("floats", GgufValue::float_array({0.5f, -0.75f}));
    w.set("empty", GgufValue::string_array({}));
    ASSERT_TRUE(w.add_tensor("matrix", DType::kF32, {2, 3}).is_ok());
    ASSERT_TRUE(w.add_tensor("quant", DType::kQ8_0, {64, 2}).is_ok());
    ASSERT_TRUE(w.add_tensor("vector", DType::kBF16, {5}).is_ok());
    ASSERT_TRUE(w.open(path(name)).is_ok());
    const float matrix[6] = {1, 2, 3, 4, 5, 6};
    ASSERT_TRUE(w.write(matrix, sizeof matrix).is_ok());
    std::vector<uint8_t> quant(2 * 2 * 34);
    for (size_t i = 0; i < quant.size(); ++i) quant[i] = static_cast<uint8_t>(i);
    ASSERT_TRUE(w.write(quant.data(), 50).is_ok());  // a tensor may come in pieces
    ASSERT_TRUE(w.write(quant.data() + 50, quant.size() - 50).is_ok());
    const uint16_t vec[5] = {0x3F80, 0x4000, 0, 0xBF80, 0x4040};
    ASSERT_TRUE(w.write(vec, sizeof vec).is_ok());
    ASSERT_TRUE(w.close().is_ok());
  }
};

TEST_F(GgufTest, WriteReadRoundTrip) {
  write_sample("a.gguf");
  auto file = GgufFile::open(path("a.gguf"));
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  const GgufHeader& h = file->header();
  EXPECT_EQ(h.version, 3u);
  EXPECT_EQ(h.alignment, 32u);
  EXPECT_EQ(h.data_start % 32, 0u);
  EXPECT_EQ(*h.find("general.architecture")->as_string(), "deepseek2");
  EXPECT_EQ(h.find("u32")->type(), GgufValueType::kU32);
  EXPECT_EQ(*h.find("u32")->as_int(), 4000000000);
  EXPECT_EQ(*h.find("i32")->as_int(), -7);
  EXPECT_EQ(*h.find("u64")->as_int(), 1ll << 40);
  EXPECT_EQ(*h.find("f32")->as_float(), 0.25);
  EXPECT_EQ(*h.find("f64")->as_float(), -1.5);
  EXPECT_EQ(*h.find("flag")->as_bool(), true);
  EXPECT_EQ(*h.find("u8")->as_int(), 200);
  EXPECT_EQ(*h.find("i16")->as_int(), -300);
  EXPECT_EQ(h.find("strings")->strings(), (std::vector<std::string>{"a", "", "ünïcode ▁"}));
  EXPECT_EQ(h.find("ints")->element_type(), GgufValueType::kI32);
  EXPECT_EQ(h.find("ints")->ints(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(h.find("floats")->floats(), (std::vector<double>{0.5, -0.75}));
  EXPECT_EQ(h.find("empty")->array_size(), 0u);
  EXPECT_EQ(h.find("missing"), nullptr);

  ASSERT_EQ(h.tensors.size(), 3u);
  const GgufTensorInfo& m = h.tensors[0];
  EXPECT_EQ(m.name, "matrix");
  EXPECT_EQ(m.ne, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(m.shape(), (std::vector<int64_t>{3, 2}));
  const float* values = reinterpret_cast<const float*>(file->tensor_data(m));
  EXPECT_EQ(values[5], 6.0f);
  const GgufTensorInfo& q = h.tensors[1];
  EXPECT_EQ(q.dtype, DType::kQ8_0);
  EXPECT_EQ(q.ggml_type, 8u);
  EXPECT_EQ(q.size, 136u);
  EXPECT_EQ(q.offset % 32, 0u);
  EXPECT_EQ(file->tensor_data(q)[135], 135);
  const GgufTensorInfo& v = h.tensors[2];
  EXPECT_EQ(v.dtype, DType::kBF16);
  EXPECT_EQ(reinterpret_cast<const uint16_t*>(file->tensor_data(v))[4], 0x4040);
}

TEST_F(GgufTest, WriterChecksTensorsAndCompleteness) {
  GgufWriter w;
  EXPECT_TRUE(contains_all(w.add_tensor("x", DType::kQ4_K, {128, 2}).message(), {"x", "128", "256"}));
  EXPECT_TRUE(contains_all(w.add_tensor("x", DType::kF8E4M3, {4}).message(), {"f8_e4m3", "no GGUF type"}));
  ASSERT_TRUE(w.add_tensor("a", DType::kF32, {4}).is_ok());
  EXPECT_TRUE(contains_all(w.add_tensor("a", DType::kF32, {4}).message(), {"'a'", "twice"}));
  ASSERT_TRUE(w.open(path("short.gguf")).is_ok());
  const float two[2] = {1, 2};
  ASSERT_TRUE(w.write(two, sizeof two).is_ok());
  EXPECT_TRUE(contains_all(w.close().message(), {"'a'", "8 of its 16 bytes"}));
}

// Offsets of fields in the sample file, found by scanning for known byte patterns.
size_t find(const std::vector<uint8_t>& bytes, const std::string& needle, size_t from = 0) {
  auto it = std::search(bytes.begin() + static_cast<std::ptrdiff_t>(from), bytes.end(), needle.begin(), needle.end());
  return it == bytes.end() ? std::string::npos : static_cast<size_t>(it - bytes.begin());
}
template <typename T>
void poke(std::vector<uint8_t>& bytes, size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

struct CorruptCase {
  const char* name;
  std::vector<std::string> expected;  // substrings of the message
};

TEST_F(GgufTest, CorruptHeadersGiveClearErrors) {
  write_sample("good.gguf");
  const std::vector<uint8_t> good = read_bytes("good.gguf");
  // "quant" tensor info: name, then n_dims (u32), ne (2 x u64), type (u32), offset (u64).
  const size_t quant_info = find(good, std::string("quant", 5), find(good, "empty")) + 5;
  ASSERT_NE(quant_info, std::string::npos);
  const size_t quant_type = quant_info + 4 + 16;
  const size_t quant_offset = quant_type + 4;

  auto expect_error = [&](const std::vector<uint8_t>& bytes, std::initializer_list<std::string> needles) {
    write_bytes("bad.gguf", bytes);
    auto file = GgufFile::open(path("bad.gguf"));
    ASSERT_FALSE(file.is_ok());
    EXPECT_TRUE(contains_all(file.status().message(), needles));
    // parse_gguf_header on the same bytes agrees.
    EXPECT_FALSE(parse_gguf_header(bytes.data(), bytes.size(), "bad").is_ok());
  };

  {  // truncated everywhere: never a crash, always a message naming the file
    for (size_t cut : {size_t{0}, size_t{3}, size_t{10}, size_t{30}, quant_info, quant_offset + 4, good.size() - 25}) {  // the last tensor has 10 bytes + 22 of padding
      SCOPED_TRACE(cut);
      expect_error(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)), {"bad.gguf"});
    }
  }
  {
    auto bytes = good;
    bytes[0] = 'X';
    expect_error(bytes, {"not a GGUF file"});
  }
  {
    auto bytes = good;
    poke<uint32_t>(bytes, 4, 1);
    expect_error(bytes, {"version 1"});
  }
  {
    auto bytes = good;
    poke<uint32_t>(bytes, 4, 0x03000000);
    expect_error(bytes, {"big-endian"});
  }
  {  // lying counts
    auto bytes = good;
    poke<uint64_t>(bytes, 8, 1ull << 40);
    expect_error(bytes, {"claims 1099511627776 tensors"});
    bytes = good;
    poke<uint64_t>(bytes, 16, 1ull << 60);
    expect_error(bytes, {"metadata entries"});
  }
  {  // a string length beyond the file
    auto bytes = good;
    const size_t arch = find(bytes, "general.architecture") - 8;
    poke<uint64_t>(bytes, arch, 1ull << 50);
    expect_error(bytes, {"claims", "bytes"});
  }
  {  // an array count beyond the file
    auto bytes = good;
    const size_t ints = find(bytes, "ints") + 4 + 4 + 4;  // key, value type, element type
    poke<uint64_t>(bytes, ints, 1ull << 30);
    expect_error(bytes, {"array 'ints'", "elements"});
  }
  {  // unknown metadata value type
    auto bytes = good;
    poke<uint32_t>(bytes, find(bytes, "flag") + 4, 99);
    expect_error(bytes, {"'flag'", "unknown value type 99"});
  }
  {  // unknown and unsupported tensor types
    auto bytes = good;
    poke<uint32_t>(bytes, quant_type, 34);
    expect_error(bytes, {"'quant'", "tq1_0", "does not read"});
    poke<uint32_t>(bytes, quant_type, 77);
    expect_error(bytes, {"'quant'", "type 77"});
  }
  {  // misaligned and out-of-range data offsets
    auto bytes = good;
    uint64_t offset;
    std::memcpy(&offset, bytes.data() + quant_offset, 8);
    poke<uint64_t>(bytes, quant_offset, offset + 4);
    expect_error(bytes, {"'quant'", "not a multiple of the alignment 32"});
    poke<uint64_t>(bytes, quant_offset, offset + 4096);
    expect_error(bytes, {"'quant'", "past the end"});
  }
  {  // dimensions that do not split into blocks, and too many dimensions
    auto bytes = good;
    poke<uint64_t>(bytes, quant_info + 4, 48);
    expect_error(bytes, {"'quant'", "48", "32-value"});
    bytes = good;
    poke<uint32_t>(bytes, quant_info, 7);
    expect_error(bytes, {"'quant'", "7 dimensions"});
  }
  {  // a bad general.alignment
    GgufWriter w;
    w.set("general.alignment", GgufValue::u32(3));
    ASSERT_TRUE(w.open(path("align.gguf")).is_ok());
    ASSERT_TRUE(w.close().is_ok());
    // The writer always writes alignment 32; patch the value the way a broken file would.
    auto bytes = read_bytes("align.gguf");
    poke<uint32_t>(bytes, find(bytes, "general.alignment") + 17 + 4, 24);
    expect_error(bytes, {"general.alignment", "power of two"});
  }
}

}  // namespace
}  // namespace dsinfer
