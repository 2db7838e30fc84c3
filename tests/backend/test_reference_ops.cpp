// The fine-grained ops of the reference backend, each against hand-computed values or a
// naive double-precision computation written here. The reference backend is the oracle
// for every later backend, so these tests are what make it trustworthy.
#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "backend/reference/dequantize.h"
#include "backend/reference/reference_backend.h"
#include "test_weights.h"

namespace dsinfer {
namespace {

using test::Activation;
using test::OwnedWeight;
using test::Rng;

class ReferenceOps : public ::testing::Test {
 protected:
  std::unique_ptr<PreparedWeight> prepare(const OwnedWeight& w) {
    auto prepared = backend->prepare_weight(w.view);
    EXPECT_TRUE(prepared.is_ok()) << prepared.status().message();
    return std::move(prepared).value();
  }
  std::unique_ptr<Backend> backend = make_reference_backend();
};

// ---------------------------------------------------------------- embedding

class EmbeddingTest : public ReferenceOps, public ::testing::WithParamInterface<DType> {};

TEST_P(EmbeddingTest, GathersRowsOfTheTable) {
  Rng rng(1);
  const OwnedWeight table = test::random_weight("embed", GetParam(), {7, 5}, rng);
  auto prepared = prepare(table);
  const std::vector<int32_t> ids{3, 0, 6, 3};
  Activation out(4, 5, /*pad=*/2);
  backend->embedding(out.tensor, *prepared, ids);
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t c = 0; c < 5; ++c)
      EXPECT_EQ(out.at(t, c), static_cast<float>(table.at(ids[t], c))) << "token " << t << " col " << c;
  EXPECT_EQ(out.clobbered_padding(), 0);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, EmbeddingTest, ::testing::Values(DType::kF32, DType::kBF16, DType::kF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// ---------------------------------------------------------------- rms_norm

TEST_F(ReferenceOps, RmsNormHandValues) {
  // Row 0: [3, 4]: mean square 12.5, rms 3.5355339; weight [1, 2].
  // Row 1: [2, 2] with eps 0: rms 2 -> [1, 2].
  const OwnedWeight weight = test::weight_from("norm", DType::kBF16, {2}, {1.0f, 2.0f});
  auto w = prepare(weight);
  Activation x(2, 2), out(2, 2);
  x.at(0, 0) = 3; x.at(0, 1) = 4;
  x.at(1, 0) = 2; x.at(1, 1) = 2;
  backend->rms_norm(out.tensor, x.tensor, *w, 0.0f);
  EXPECT_NEAR(out.at(0, 0), 3.0 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(out.at(0, 1), 2.0 * 4.0 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(out.at(1, 0), 1.0, 1e-6);
  EXPECT_NEAR(out.at(1, 1), 2.0, 1e-6);
}

TEST_F(ReferenceOps, RmsNormAddsEpsInsideTheRoot) {
  // [2, 2], eps 1: 2 / sqrt(4 + 1).
  const OwnedWeight weight = test::weight_from("norm", DType::kF32, {2}, {1.0f, 1.0f});
  auto w = prepare(weight);
  Activation x(1, 2), out(1, 2);
  x.at(0, 0) = 2; x.at(0, 1) = 2;
  backend->rms_norm(out.tensor, x.tensor, *w, 1.0f);
  EXPECT_NEAR(out.at(0, 0), 2.0 / std::sqrt(5.0), 1e-6);
  EXPECT_NEAR(out.at(0, 1), 2.0 / std::sqrt(5.0), 1e-6);
}

// Naive rms_norm of row `r` in double.
std::vector<double> naive_rms_norm(const Activation& x, int64_t r, const OwnedWeight& w, double eps) {
  const int64_t n = x.tensor.cols;
  double sum_sq = 0;
  for (int64_t c = 0; c < n; ++c) sum_sq += double(x.at(r, c)) * x.at(r, c);
  const double inv = 1.0 / std::sqrt(sum_sq / n + eps);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t c = 0; c < n; ++c) out[c] = x.at(r, c) * inv * w.real[c];
  return out;
}

TEST_F(ReferenceOps, RmsNormInPlace) {
  Rng rng(2);
  const OwnedWeight weight = test::random_weight("norm", DType::kBF16, {37}, rng);
  auto w = prepare(weight);
  Activation x(3, 37);
  x.fill_random(rng, 3.0f);
  std::vector<std::vector<double>> expected;
  for (int64_t r = 0; r < 3; ++r) expected.push_back(naive_rms_norm(x, r, weight, 1e-6));
  backend->rms_norm(x.tensor, x.tensor, *w, 1e-6f);  // out aliases x
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 37; ++c) EXPECT_NEAR(x.at(r, c), expected[r][c], 1e-5) << r << "," << c;
}

TEST_F(ReferenceOps, RmsNormOnColumnSlices) {
  // x is columns [3, 8) of a [4, 12] buffer; out is columns [6, 11) of another. Only the
  // slice's own columns take part in the mean, and nothing outside `out` is written.
  Rng rng(3);
  const OwnedWeight weight = test::random_weight("norm", DType::kF16, {5}, rng);
  auto w = prepare(weight);
  Activation x_buf(4, 12), out_buf(4, 12);
  x_buf.fill_random(rng, 2.0f);
  const std::vector<float> out_before = out_buf.storage;
  const Tensor x = x_buf.tensor.col_slice(3, 5);
  const Tensor out = out_buf.tensor.col_slice(6, 5);
  backend->rms_norm(out, x, *w, 1e-6f);

  for (int64_t r = 0; r < 4; ++r) {
    double sum_sq = 0;
    for (int64_t c = 3; c < 8; ++c) sum_sq += double(x_buf.at(r, c)) * x_buf.at(r, c);
    const double inv = 1.0 / std::sqrt(sum_sq / 5 + 1e-6);
    for (int64_t c = 0; c < 12; ++c) {
      if (c >= 6 && c < 11) {
        EXPECT_NEAR(out_buf.at(r, c), x_buf.at(r, c - 3) * inv * weight.real[c - 6], 1e-5) << r << "," << c;
      } else {
        EXPECT_EQ(out_buf.at(r, c), out_before[static_cast<size_t>(r * 12 + c)]) << "wrote outside the slice at " << r << "," << c;
      }
    }
  }
}

// ---------------------------------------------------------------- rope

TEST_F(ReferenceOps, RopeHandRotation) {
  // One head of 6 dims: 2 untouched dims, then 2 rotated pairs (offset 2, rope_dim 4).
  // inv_freq [pi/2, pi/3]; position 1 rotates pair 0 by 90 degrees and pair 1 by 60.
  RopeTable table{.inv_freq = {static_cast<float>(std::numbers::pi / 2), static_cast<float>(std::numbers::pi / 3)}};
  Activation x(2, 6);
  const float row[6] = {7, 8, 1, 2, 3, 4};
  for (int64_t r = 0; r < 2; ++r)
    for (int c = 0; c < 6; ++c) x.at(r, c) = row[c];
  const std::vector<int32_t> positions{1, 2};
  backend->rope({.x = x.tensor, .head_dim = 6, .rope_offset = 2, .rope_dim = 4, .positions = positions, .table = &table});

  const double s3 = std::sqrt(3.0) / 2;
  // Position 1: (1,2) -> (-2, 1); (3,4) by 60 degrees -> (3*0.5 - 4*s3, 3*s3 + 4*0.5).
  const double p1[6] = {7, 8, -2, 1, 1.5 - 4 * s3, 3 * s3 + 2};
  // Position 2: (1,2) by 180 -> (-1,-2); (3,4) by 120 -> (3*-0.5 - 4*s3, 3*s3 + 4*-0.5).
  const double p2[6] = {7, 8, -1, -2, -1.5 - 4 * s3, 3 * s3 - 2};
  for (int c = 0; c < 6; ++c) {
    EXPECT_NEAR(x.at(0, c), p1[c], 1e-5) << "position 1 dim " << c;
    EXPECT_NEAR(x.at(1, c), p2[c], 1e-5) << "position 2 dim " << c;
  }
}

TEST_F(ReferenceOps, RopeRotatesEveryHeadAndScalesByAttentionFactor) {
  // 3 heads of head_dim 5 (nope 3 | rope 2), position 1, angle pi/2, attention_factor 2:
  // each head's (a, b) -> (-2b, 2a); the nope dims are untouched.
  RopeTable table{.inv_freq = {static_cast<float>(std::numbers::pi / 2)}, .attention_factor = 2.0f};
  Activation x(1, 15);
  for (int c = 0; c < 15; ++c) x.at(0, c) = static_cast<float>(c + 1);
  const std::vector<int32_t> positions{1};
  backend->rope({.x = x.tensor, .head_dim = 5, .rope_offset = 3, .rope_dim = 2, .positions = positions, .table = &table});
  for (int h = 0; h < 3; ++h) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(x.at(0, h * 5 + c), h * 5 + c + 1) << "head " << h;
    const double a = h * 5 + 4, b = h * 5 + 5;
    EXPECT_NEAR(x.at(0, h * 5 + 3), -2 * b, 1e-5) << "head " << h;
    EXPECT_NEAR(x.at(0, h * 5 + 4), 2 * a, 1e-5) << "head " << h;
  }
}

TEST_F(ReferenceOps, RopePositionZeroIsIdentity) {
  RopeTable table{.inv_freq = {1.0f, 0.1f, 0.01f}};
  Rng rng(4);
  Activation x(1, 12);
  x.fill_random(rng);
  const std::vector<float> before = x.storage;
  const std::vector<int32_t> positions{0};
  backend->rope({.x = x.tensor, .head_dim = 6, .rope_offset = 0, .rope_dim = 6, .positions = positions, .table = &table});
  for (int c = 0; c < 12; ++c) EXPECT_NEAR(x.storage[c], before[c], 1e-7);
}

// The Hugging Face form: de-interleave the rope dims ([x0,x2,x4,..., x1,x3,x5,...]),
// then y*cos + rotate_half(y)*sin with rotate_half(y) = [-second half, first half].
// It yields the de-interleaved order of the interleaved rotation's result.
TEST_F(ReferenceOps, RopeEqualsDeinterleavedRotateHalf) {
  const int64_t n_heads = 4, nope = 3, rope_dim = 8, head_dim = nope + rope_dim;
  RopeTable table;
  for (int64_t i = 0; i < rope_dim / 2; ++i)
    table.inv_freq.push_back(static_cast<float>(1.0 / std::pow(10000.0, double(2 * i) / rope_dim)));
  table.attention_factor = 1.25f;
  Rng rng(5);
  Activation x(3, n_heads * head_dim);
  x.fill_random(rng);
  const std::vector<float> input = x.storage;
  const std::vector<int32_t> positions{0, 7, 93};
  backend->rope({.x = x.tensor, .head_dim = head_dim, .rope_offset = nope, .rope_dim = rope_dim,
                 .positions = positions, .table = &table});

  const int64_t half = rope_dim / 2;
  for (int64_t t = 0; t < 3; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      const float* in = input.data() + t * n_heads * head_dim + h * head_dim + nope;
      std::vector<double> y(rope_dim), rotated(rope_dim), expected(rope_dim);
      for (int64_t i = 0; i < half; ++i) {
        y[i] = in[2 * i];
        y[half + i] = in[2 * i + 1];
      }
      for (int64_t i = 0; i < half; ++i) {
        rotated[i] = -y[half + i];
        rotated[half + i] = y[i];
      }
      for (int64_t d = 0; d < rope_dim; ++d) {
        const double angle = double(positions[t]) * double(table.inv_freq[d % half]);
        expected[d] = (y[d] * std::cos(angle) + rotated[d] * std::sin(angle)) * table.attention_factor;
      }
      for (int64_t i = 0; i < half; ++i) {
        // De-interleave the engine's result to compare.
        EXPECT_NEAR(x.at(t, h * head_dim + nope + 2 * i), expected[i], 2e-5) << "t " << t << " head " << h << " pair " << i;
        EXPECT_NEAR(x.at(t, h * head_dim + nope + 2 * i + 1), expected[half + i], 2e-5)
            << "t " << t << " head " << h << " pair " << i;
      }
      for (int64_t d = 0; d < nope; ++d)
        EXPECT_EQ(x.at(t, h * head_dim + d), input[static_cast<size_t>(t * n_heads * head_dim + h * head_dim + d)]);
    }
  }
}

// ---------------------------------------------------------------- add, silu_and_mul

TEST_F(ReferenceOps, AddElementwiseWithAliasingAndStrides) {
  Rng rng(6);
  Activation a(3, 7, 2), b(3, 7, 1), out(3, 7, 3);
  a.fill_random(rng);
  b.fill_random(rng);
  backend->add(out.tensor, a.tensor, b.tensor);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 7; ++c) EXPECT_EQ(out.at(r, c), a.at(r, c) + b.at(r, c));
  EXPECT_EQ(out.clobbered_padding(), 0);

  Activation a_copy(3, 7, 2);
  a_copy.storage = a.storage;
  backend->add(a.tensor, a.tensor, b.tensor);  // out aliases a
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 7; ++c) EXPECT_EQ(a.at(r, c), a_copy.at(r, c) + b.at(r, c));
  EXPECT_EQ(a.clobbered_padding(), 0);
}

TEST_F(ReferenceOps, SiluAndMulHandValues) {
  // silu(g) = g / (1 + e^-g): silu(0) = 0, silu(1) = 0.7310585786, silu(-1) = -0.2689414214,
  // silu(3) = 2.8577223804; silu of a large negative gate is a (signed) zero, not NaN.
  Activation gate(1, 6), up(1, 6), out(1, 6, 1);
  const float g[6] = {0, 1, -1, 3, -200, 30};
  const float u[6] = {5, 2, 2, -1, 7, 0.5f};
  for (int c = 0; c < 6; ++c) {
    gate.at(0, c) = g[c];
    up.at(0, c) = u[c];
  }
  backend->silu_and_mul(out.tensor, gate.tensor, up.tensor);
  EXPECT_EQ(out.at(0, 0), 0.0f);
  EXPECT_NEAR(out.at(0, 1), 2 * 0.7310585786, 1e-6);
  EXPECT_NEAR(out.at(0, 2), 2 * -0.2689414214, 1e-6);
  EXPECT_NEAR(out.at(0, 3), -2.8577223804, 1e-6);
  EXPECT_FALSE(std::isnan(out.at(0, 4)));
  EXPECT_NEAR(out.at(0, 4), 0.0, 1e-30);
  EXPECT_NEAR(out.at(0, 5), 15.0, 1e-5);
  EXPECT_EQ(out.clobbered_padding(), 0);
}

// ---------------------------------------------------------------- matmul

struct MatmulCase {
  DType dtype;
  int64_t t, n, k;
  int64_t block_rows = 128, block_cols = 128;
};

std::string matmul_case_name(const ::testing::TestParamInfo<MatmulCase>& info) {
  const MatmulCase& c = info.param;
  return std::string(dtype_name(c.dtype)) + "_t" + std::to_string(c.t) + "_n" + std::to_string(c.n) + "_k" +
         std::to_string(c.k) + (c.dtype == DType::kF8E4M3 ? "_b" + std::to_string(c.block_rows) + "x" + std::to_string(c.block_cols) : "");
}

class MatmulTest : public ReferenceOps, public ::testing::WithParamInterface<MatmulCase> {};

TEST_P(MatmulTest, MatchesNaiveDoubleLoop) {
  const MatmulCase& p = GetParam();
  Rng rng(static_cast<uint32_t>(p.n * 131 + p.k));
  const OwnedWeight w = test::random_weight("w", p.dtype, {p.n, p.k}, rng, p.block_rows, p.block_cols);
  auto prepared = prepare(w);
  Activation x(p.t, p.k, /*pad=*/3), out(p.t, p.n, /*pad=*/2);
  x.fill_random(rng);
  backend->matmul(out.tensor, x.tensor, *prepared);

  int64_t failures = 0;
  for (int64_t t = 0; t < p.t; ++t) {
    for (int64_t n = 0; n < p.n; ++n) {
      double sum = 0, sum_abs = 0;
      for (int64_t k = 0; k < p.k; ++k) {
        sum += double(x.at(t, k)) * w.at(n, k);
        sum_abs += std::fabs(double(x.at(t, k)) * w.at(n, k));
      }
      // float32 accumulation: error grows with the sum of |terms|.
      const double tol = 1e-5 * sum_abs + 1e-7;
      if (std::fabs(out.at(t, n) - sum) > tol && failures++ < 5)
        ADD_FAILURE() << "out[" << t << "," << n << "] = " << out.at(t, n) << ", expected " << sum << " (tol " << tol << ")";
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(out.clobbered_padding(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, MatmulTest,
    ::testing::Values(MatmulCase{DType::kF32, 1, 1, 1}, MatmulCase{DType::kF32, 3, 5, 7},
                      MatmulCase{DType::kF32, 2, 17, 33}, MatmulCase{DType::kBF16, 1, 9, 31},
                      MatmulCase{DType::kBF16, 4, 13, 129}, MatmulCase{DType::kF16, 3, 11, 65},
                      MatmulCase{DType::kF16, 1, 1, 3},
                      // FP8 with 128x128 blocks: one partial block; full + partial edges in both
                      // directions; exact multiples.
                      MatmulCase{DType::kF8E4M3, 2, 5, 7}, MatmulCase{DType::kF8E4M3, 3, 130, 257},
                      MatmulCase{DType::kF8E4M3, 1, 256, 128},
                      // Small blocks so that many blocks (and their distinct scales) meet one row.
                      MatmulCase{DType::kF8E4M3, 2, 19, 23, 4, 8}, MatmulCase{DType::kF8E4M3, 3, 9, 10, 3, 3}),
    matmul_case_name);

// ---------------------------------------------------------------- argmax

TEST_F(ReferenceOps, ArgmaxFirstOnTies) {
  Activation x(4, 5, 1);
  const float rows[4][5] = {{1, 3, 2, 3, 0}, {-5, -1, -1, -7, -2}, {4, 4, 4, 4, 4}, {0, 0, 0, 0, 9}};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 5; ++c) x.at(r, c) = rows[r][c];
  std::vector<int32_t> out(4, -1);
  backend->argmax(out, x.tensor);
  EXPECT_EQ(out, (std::vector<int32_t>{1, 1, 0, 4}));
}

TEST_F(ReferenceOps, ArgmaxOnAColumnSlice) {
  // The two columns before the slice hold 100, which the slice must not see.
  Activation x(2, 8);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 8; ++c) x.at(r, c) = (c < 2) ? 100.0f : static_cast<float>((c * (r + 3)) % 5);
  // Slice columns [2, 8): row 0 values (c*3)%5 for c=2..7 -> 1,4,2,0,3,1 -> index 1;
  // row 1 (c*4)%5 -> 3,2,1,0,4,3 -> index 4.
  std::vector<int32_t> out(2, -1);
  backend->argmax(out, x.tensor.col_slice(2, 6));
  EXPECT_EQ(out, (std::vector<int32_t>{1, 4}));
}

// ---------------------------------------------------------------- dequantize_row

TEST(DequantizeRow, Fp8AppliesTheBlockScaleOfEachColumn) {
  // [3, 5] FP8 with 2x2 blocks: scales [[2, 0.5, 4], [0.25, 8, 1]] (block row 1 is partial,
  // block column 2 is partial).
  const std::vector<float> stored{1, 1.5f, -2, 0.5f, 3, 0.25f, -1, 1, 1.75f, -0.5f, 1, 2, -3, 0.125f, 1};
  test::OwnedWeight w = test::weight_from("w", DType::kF8E4M3, {3, 5}, stored);
  const std::vector<float> scales{2, 0.5f, 4, 0.25f, 8, 1};
  w.view.scales = BlockScales{scales.data(), 2, 2};
  std::vector<float> row(5);
  reference::dequantize_row(w.view, 0, row.data());
  EXPECT_EQ(row, (std::vector<float>{2, 3, -1, 0.25f, 12}));
  reference::dequantize_row(w.view, 1, row.data());
  EXPECT_EQ(row, (std::vector<float>{0.5f, -2, 0.5f, 0.875f, -2}));
  reference::dequantize_row(w.view, 2, row.data());
  EXPECT_EQ(row, (std::vector<float>{0.25f, 0.5f, -24, 1, 1}));
  EXPECT_EQ(reference::dequantize(w.view),
            (std::vector<float>{2, 3, -1, 0.25f, 12, 0.5f, -2, 0.5f, 0.875f, -2, 0.25f, 0.5f, -24, 1, 1}));
}

TEST(DequantizeRow, Bf16VectorAndF16Rows) {
  const test::OwnedWeight v = test::weight_from("v", DType::kBF16, {4}, {1, -0.5f, 3.25f, 1024});
  std::vector<float> row(4);
  reference::dequantize_row(v.view, 0, row.data());
  EXPECT_EQ(row, (std::vector<float>{1, -0.5f, 3.25f, 1024}));

  const test::OwnedWeight m = test::weight_from("m", DType::kF16, {2, 3}, {1, 2, 3, -0.125f, 65504, 0});
  reference::dequantize_row(m.view, 1, row.data());
  EXPECT_EQ(row[0], -0.125f);
  EXPECT_EQ(row[1], 65504.0f);
  EXPECT_EQ(row[2], 0.0f);
}

}  // namespace
}  // namespace dsinfer
