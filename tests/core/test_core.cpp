// Status/Result, tensor views and mapped files.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "core/mapped_file.h"
#include "core/status.h"
#include "core/tensor.h"

namespace dsinfer {
namespace {

Result<int> half_of(int x) {
  if (x % 2) return error("{} is odd", x);
  return x / 2;
}

Result<int> quarter_of(int x) {
  DSINFER_ASSIGN_OR_RETURN(int half, half_of(x));
  DSINFER_ASSIGN_OR_RETURN(int quarter, half_of(half));
  return quarter;
}

Status check_even(int x) {
  DSINFER_RETURN_IF_ERROR(half_of(x).status());
  return Status::ok();
}

TEST(Status, OkAndErrorAndContext) {
  EXPECT_TRUE(Status::ok().is_ok());
  EXPECT_EQ(Status::ok().message(), "ok");
  const Status e = Status::error("bad tensor");
  EXPECT_FALSE(e.is_ok());
  EXPECT_EQ(e.with_context("loading /m").message(), "loading /m: bad tensor");
  EXPECT_TRUE(Status::ok().with_context("x").is_ok());
}

TEST(Status, ResultPropagation) {
  EXPECT_EQ(*quarter_of(12), 3);
  EXPECT_EQ(quarter_of(6).status().message(), "3 is odd");
  EXPECT_EQ(quarter_of(7).status().message(), "7 is odd");
  EXPECT_TRUE(check_even(4).is_ok());
  EXPECT_EQ(check_even(5).message(), "5 is odd");
  EXPECT_TRUE(quarter_of(8).status().is_ok());
}

TEST(Tensor, SlicesAreViewsWithTheParentStride) {
  float buffer[4 * 6];
  for (int i = 0; i < 24; ++i) buffer[i] = static_cast<float>(i);
  const Tensor t = Tensor::contiguous(DType::kF32, 4, 6, buffer);
  EXPECT_EQ(t.row_stride, 6);
  const Tensor cols = t.col_slice(2, 3);
  EXPECT_EQ(cols.rows, 4);
  EXPECT_EQ(cols.cols, 3);
  EXPECT_EQ(cols.row_stride, 6);
  EXPECT_EQ(cols.f32_row(0)[0], 2.0f);
  EXPECT_EQ(cols.f32_row(3)[2], 3 * 6 + 4.0f);
  const Tensor rows = t.row_slice(1, 2).col_slice(4, 2);
  EXPECT_EQ(rows.rows, 2);
  EXPECT_EQ(rows.f32_row(0)[0], 10.0f);
  EXPECT_EQ(rows.f32_row(1)[1], 17.0f);
  // Byte offsets follow the element size.
  uint16_t half[2 * 4];
  const Tensor h = Tensor::contiguous(DType::kBF16, 2, 4, half).row_slice(1, 1).col_slice(3, 1);
  EXPECT_EQ(static_cast<uint16_t*>(h.data), half + 7);
}

TEST(Tensor, WeightViewShapes) {
  WeightView v{.shape = {7}};
  EXPECT_EQ(v.rows(), 1);
  EXPECT_EQ(v.cols(), 7);
  EXPECT_EQ(v.numel(), 7);
  WeightView m{.shape = {3, 5}};
  EXPECT_EQ(m.rows(), 3);
  EXPECT_EQ(m.cols(), 5);
  EXPECT_EQ(m.numel(), 15);
  EXPECT_EQ(shape_to_string({2048, 512}), "[2048,512]");
  EXPECT_EQ(shape_to_string({}), "[]");
}

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dsinfer_core_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(MappedFileTest, MapsContents) {
  const std::string path = (dir_ / "a.bin").string();
  std::ofstream(path, std::ios::binary) << "hello";
  auto file = MappedFile::open(path);
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  ASSERT_EQ(file->size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(file->data()), 5), "hello");
  EXPECT_EQ(file->path(), path);
  MappedFile moved = std::move(file).value();
  EXPECT_EQ(moved.size(), 5u);
  EXPECT_EQ(moved.data()[4], 'o');
}

TEST_F(MappedFileTest, EmptyFile) {
  const std::string path = (dir_ / "empty.bin").string();
  std::ofstream(path, std::ios::binary).close();
  auto file = MappedFile::open(path);
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  EXPECT_EQ(file->size(), 0u);
}

TEST_F(MappedFileTest, ErrorsNameThePath) {
  const std::string missing = (dir_ / "missing.bin").string();
  auto file = MappedFile::open(missing);
  ASSERT_FALSE(file.is_ok());
  EXPECT_NE(file.status().message().find(missing), std::string::npos) << file.status().message();
  auto dir = MappedFile::open(dir_.string());
  ASSERT_FALSE(dir.is_ok());
  EXPECT_NE(dir.status().message().find("not a regular file"), std::string::npos) << dir.status().message();
}

}  // namespace
}  // namespace dsinfer
