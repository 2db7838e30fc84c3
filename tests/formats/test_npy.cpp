// .npy files (the interchange format with the numpy reference): the bytes written follow
// the NPY 1.0 layout, and reading them back gives the same shape and values.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "formats/npy.h"
#include "temp_dir.h"

namespace dsinfer {
namespace {

using test::contains_all;

class NpyTest : public test::TempDirTest {
 protected:
  std::string read_bytes(const std::string& name) {
    std::ifstream in(path(name), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // The header text of an .npy file's bytes (its length is the little-endian u16 at 8).
  static std::string header_of(const std::string& bytes) {
    const size_t len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    return bytes.substr(10, len);
  }
};

TEST_F(NpyTest, WritesTheNpy10Layout) {
  const std::vector<float> values{1.0f, -2.5f, 3.0f, 0.125f, 1e-3f, 7.0f};
  ASSERT_TRUE(write_npy_f32(path("a.npy"), {2, 3}, values.data()).is_ok());
  const std::string bytes = read_bytes("a.npy");
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1);  // version 1.0
  EXPECT_EQ(bytes[7], 0);
  const size_t header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u) << "data must start 64-byte aligned";
  const std::string header = bytes.substr(10, header_len);
  EXPECT_TRUE(contains_all(header, {"'descr': '<f4'", "'fortran_order': False", "'shape': (2, 3)"}));
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(bytes.size(), 10 + header_len + 6 * 4);
  std::vector<float> data(6);
  std::memcpy(data.data(), bytes.data() + 10 + header_len, 24);
  EXPECT_EQ(data, values);
}

TEST_F(NpyTest, RoundTrip) {
  const std::vector<float> values{4.0f, 5.0f, -6.0f, 0.0f, 1.5f};
  ASSERT_TRUE(write_npy_f32(path("v.npy"), {5}, values.data()).is_ok());
  const std::string header = header_of(read_bytes("v.npy"));
  EXPECT_TRUE(contains_all(header, {"'shape': (5,)"})) << "a 1-D shape is a one-element tuple";
  auto read = read_npy_f32(path("v.npy"));
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  EXPECT_EQ(read->shape, std::vector<int64_t>{5});
  EXPECT_EQ(read->data, values);

  std::vector<float> big(3 * 4 * 2);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.5f;
  ASSERT_TRUE(write_npy_f32(path("m.npy"), {3, 4, 2}, big.data()).is_ok());
  auto m = read_npy_f32(path("m.npy"));
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->shape, (std::vector<int64_t>{3, 4, 2}));
  EXPECT_EQ(m->data, big);
}

TEST_F(NpyTest, ReadErrors) {
  auto missing = read_npy_f32(path("none.npy"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(contains_all(missing.status().message(), {"none.npy"}));

  write_text("text.npy", "hello world");
  auto not_npy = read_npy_f32(path("text.npy"));
  ASSERT_FALSE(not_npy.is_ok());
  EXPECT_TRUE(contains_all(not_npy.status().message(), {"not a .npy file"}));

  const std::vector<float> values{1, 2, 3, 4};
  ASSERT_TRUE(write_npy_f32(path("t.npy"), {4}, values.data()).is_ok());
  const std::string bytes = read_bytes("t.npy");
  write_text("truncated.npy", bytes.substr(0, bytes.size() - 4));
  auto truncated = read_npy_f32(path("truncated.npy"));
  ASSERT_FALSE(truncated.is_ok());
  EXPECT_TRUE(contains_all(truncated.status().message(), {"does not match shape"}));

  std::string f64 = bytes;
  f64.replace(f64.find("<f4"), 3, "<f8");
  write_text("f64.npy", f64);
  auto wrong_type = read_npy_f32(path("f64.npy"));
  ASSERT_FALSE(wrong_type.is_ok());
  EXPECT_TRUE(contains_all(wrong_type.status().message(), {"float32"}));
}

}  // namespace
}  // namespace dsinfer
