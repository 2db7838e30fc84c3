// ggml's grid formats against ggml itself: the codebooks and decodes of random blocks as
// ggml-quants.c gives them (tests/fixtures/grid_blocks/README.md), then the reference
// encoders' error on random data.
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/grid_blocks.h"
#include "core/grid_codebooks.h"
#include "core/quant_blocks.h"

namespace dsinfer {
namespace {

constexpr DType kGridFormats[] = {DType::kIQ2_XXS, DType::kIQ2_XS, DType::kIQ2_S, DType::kIQ3_XXS,
                                  DType::kIQ3_S,   DType::kIQ1_S,  DType::kIQ1_M};

std::vector<uint8_t> grid_fixture(const std::string& name) {
  std::ifstream in(std::string(DSINFER_SOURCE_DIR) + "/tests/fixtures/grid_blocks/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing fixture " << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(GridCodebooks, EveryCoordinateIsGgmls) {
  const std::vector<uint8_t> golden = grid_fixture("codebooks.bin");
  size_t at = 0;
  for (Codebook book : {Codebook::kIQ2XXS, Codebook::kIQ2XS, Codebook::kIQ2S, Codebook::kIQ3XXS, Codebook::kIQ3S,
                        Codebook::kIQ1S}) {
    const CodebookPoints& points = codebook_points(book);
    const size_t bytes = static_cast<size_t>(points.size * points.dims);
    ASSERT_LE(at + bytes, golden.size());
    for (size_t i = 0; i < bytes; ++i)
      ASSERT_EQ(points.coordinates[i], static_cast<int8_t>(golden[at + i]))
          << "book " << static_cast<int>(book) << " point " << i / points.dims << " coordinate " << i % points.dims;
    at += bytes;
  }
  EXPECT_EQ(at, golden.size());
}

TEST(GridCodebooks, NearestPointOfAPointIsItself) {
  for (Codebook book : {Codebook::kIQ2XXS, Codebook::kIQ2XS, Codebook::kIQ2S, Codebook::kIQ3XXS, Codebook::kIQ3S,
                        Codebook::kIQ1S}) {
    const CodebookPoints& points = codebook_points(book);
    for (int i = 0; i < points.size; ++i) {
      float target[8];
      // Off the lattice by less than half a level gap, towards zero.
      for (int j = 0; j < points.dims; ++j) target[j] = static_cast<float>(points.point(i)[j]) * 0.97f;
      EXPECT_EQ(nearest_codebook_point(book, target), i) << "book " << static_cast<int>(book);
    }
  }
}

TEST(GridBlocks, DecodeAsGgmlBitForBit) {
  for (DType dtype : kGridFormats) {
    const std::string name(dtype_name(dtype));
    const std::vector<uint8_t> raw = grid_fixture(name + ".raw");
    const std::vector<uint8_t> golden = grid_fixture(name + ".f32");
    ASSERT_EQ(raw.size(), 4 * dtype_block_bytes(dtype)) << name;
    ASSERT_EQ(golden.size(), 4 * 256 * sizeof(float)) << name;
    std::vector<float> got(1024);
    dequantize_blocks(dtype, raw.data(), got.data(), got.size());
    for (size_t i = 0; i < got.size(); ++i) {
      float want;
      std::memcpy(&want, golden.data() + 4 * i, 4);
      ASSERT_EQ(std::memcmp(&got[i], &want, 4), 0) << name << " value " << i << ": " << got[i] << " vs " << want;
    }
  }
}

TEST(GridBlocks, CodesTimesStepsAreTheValues) {
  for (DType dtype : kGridFormats) {
    const std::vector<uint8_t> raw = grid_fixture(std::string(dtype_name(dtype)) + ".raw");
    std::vector<float> values(256);
    dequantize_blocks(dtype, raw.data() + dtype_block_bytes(dtype), values.data(), 256);
    GridCodes g;
    decode_grid_codes(dtype, raw.data() + dtype_block_bytes(dtype), g);
    for (int i = 0; i < 256; ++i) EXPECT_EQ(g.steps[i / 16] * static_cast<float>(g.codes[i]), values[i]) << i;
  }
}

double grid_rel_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < x.size(); ++i) diff += (x[i] - y[i]) * (x[i] - y[i]), norm += x[i] * x[i];
  return std::sqrt(diff / norm);
}

std::vector<float> gaussian_row(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  return x;
}

// Relative RMS error of the reference encoders on Gaussian rows, measured (64 blocks,
// seed 5): iq3_s 0.1531, iq3_xxs 0.2008, iq2_s 0.2769, iq2_xs 0.3246, iq2_xxs 0.3722,
// iq1_m 0.4566, iq1_s 0.5058. Bounds sit 15% above.
TEST(GridBlocks, EncoderErrorOnGaussianRows) {
  const struct {
    DType dtype;
    double bound;
  } cases[] = {{DType::kIQ3_S, 0.176},   {DType::kIQ3_XXS, 0.231}, {DType::kIQ2_S, 0.318}, {DType::kIQ2_XS, 0.373},
               {DType::kIQ2_XXS, 0.428}, {DType::kIQ1_M, 0.525},   {DType::kIQ1_S, 0.582}};
  const std::vector<float> x = gaussian_row(64 * 256, 5);
  for (const auto& c : cases) {
    std::vector<uint8_t> blocks(dtype_bytes(c.dtype, static_cast<int64_t>(x.size())));
    quantize_blocks(c.dtype, x.data(), blocks.data(), x.size());
    std::vector<float> y(x.size());
    dequantize_blocks(c.dtype, blocks.data(), y.data(), y.size());
    const double e = grid_rel_rms(x, y);
    EXPECT_LE(e, c.bound) << dtype_name(c.dtype);
    std::printf("%s relative RMS error %.4f\n", std::string(dtype_name(c.dtype)).c_str(), e);
  }
}

TEST(GridBlocks, ZerosStayZeroAndOutliersKeepTheirSign) {
  for (DType dtype : kGridFormats) {
    std::vector<float> x(256, 0.0f);
    std::vector<uint8_t> block(dtype_block_bytes(dtype));
    std::vector<float> y(256, 1.0f);
    quantize_blocks(dtype, x.data(), block.data(), 256);
    dequantize_blocks(dtype, block.data(), y.data(), 256);
    for (float v : y) ASSERT_LE(std::fabs(v), 1e-30f) << dtype_name(dtype);
    x = gaussian_row(256, 9);
    x[37] = 0.5f;
    x[200] = -0.5f;
    quantize_blocks(dtype, x.data(), block.data(), 256);
    dequantize_blocks(dtype, block.data(), y.data(), 256);
    EXPECT_GT(y[37], 0.25f) << dtype_name(dtype);
    EXPECT_LT(y[200], -0.25f) << dtype_name(dtype);
  }
}

}  // namespace
}  // namespace dsinfer
