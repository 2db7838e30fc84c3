// DeepSeek-V3.2's lightning-indexer ops on the reference backend, each against a naive
// version written here in double precision: the Hadamard rotation (as a matrix), the FP8
// round trip (hand-checked values), half-split RoPE, LayerNorm, and indexer_topk (scores
// and selection, ties, causality, paged keys).
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "backend/reference/reference_backend.h"
#include "test_weights.h"

namespace dsinfer {
namespace {

using test::Activation;
using test::OwnedWeight;
using test::Rng;

TEST(Hadamard, MatchesTheSylvesterMatrix) {
  auto backend = make_reference_backend();
  for (int64_t n : {1, 2, 8, 64}) {
    Rng rng(static_cast<uint32_t>(n));
    Activation x(3, n, /*pad=*/1);
    x.fill_random(rng);
    std::vector<double> expected(static_cast<size_t>(3 * n));
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t i = 0; i < n; ++i) {
        double s = 0;
        for (int64_t j = 0; j < n; ++j)
          s += (std::popcount(static_cast<uint64_t>(i & j)) % 2 ? -1.0 : 1.0) * x.at(r, j);
        expected[static_cast<size_t>(r * n + i)] = s / std::sqrt(static_cast<double>(n));
      }
    backend->hadamard(x.tensor);
    EXPECT_EQ(x.clobbered_padding(), 0);
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(x.at(r, i), expected[static_cast<size_t>(r * n + i)], 1e-5) << n;
  }
}

TEST(Fp8RoundTrip, RoundsEachBlockThroughE4M3) {
  auto backend = make_reference_backend();
  // Block 0: amax 448 -> scale 1 either way; 3.1 lies between E4M3 values 3 and 3.25 and
  // goes to the nearer, 3; 17 lies halfway between 16 and 18 and goes to the even code, 16.
  // Block 1: amax 1 -> linear scale 1/448, or 2^-8 as a power of two (the next one up).
  Activation x(1, 6);
  const float in[6] = {448.0f, 3.1f, 17.0f, 1.0f, -0.5f, 0.3f};
  for (int c = 0; c < 6; ++c) x.at(0, c) = in[c];
  Activation pow2(1, 6);
  for (int c = 0; c < 6; ++c) pow2.at(0, c) = in[c];
  backend->fp8_round_trip(x.tensor, 3, /*pow2_scales=*/false);
  backend->fp8_round_trip(pow2.tensor, 3, /*pow2_scales=*/true);
  EXPECT_EQ(x.at(0, 0), 448.0f);
  EXPECT_EQ(x.at(0, 1), 3.0f);
  EXPECT_EQ(x.at(0, 2), 16.0f);
  EXPECT_EQ(pow2.at(0, 1), 3.0f);
  // Linear: 1 and -0.5 are exact multiples of the scale's E4M3 grid; 0.3 * 448 = 134.4 -> 128.
  const float linear = 1.0f * (1.0f / 448.0f);
  EXPECT_FLOAT_EQ(x.at(0, 3), 448.0f * linear);
  EXPECT_FLOAT_EQ(x.at(0, 4), -224.0f * linear);
  EXPECT_FLOAT_EQ(x.at(0, 5), 128.0f * linear);
  // Power of two 2^-8: 1 -> 256 (exact), -0.5 -> -128, 0.3 -> 76.8 -> 80 (E4M3 steps of 8 above 64).
  EXPECT_EQ(pow2.at(0, 3), 1.0f);
  EXPECT_EQ(pow2.at(0, 4), -0.5f);
  EXPECT_EQ(pow2.at(0, 5), 80.0f / 256.0f);
}

TEST(Rope, HalfSplitPairsTurnDimIWithDimIPlusHalf) {
  auto backend = make_reference_backend();
  // One head of 6 dims: rope part [0, 4) turns pairs (0, 2) and (1, 3); dims 4, 5 stay.
  Activation x(1, 6);
  for (int c = 0; c < 6; ++c) x.at(0, c) = static_cast<float>(c + 1);
  const RopeTable table{{0.5f, 0.25f}, 1.0f};
  const std::vector<int32_t> positions{3};
  backend->rope({.x = x.tensor, .head_dim = 6, .rope_offset = 0, .rope_dim = 4, .positions = positions,
                 .table = &table, .pairs = RopePairs::kHalfSplit});
  const double a0 = 3 * 0.5, a1 = 3 * 0.25;
  EXPECT_NEAR(x.at(0, 0), 1 * std::cos(a0) - 3 * std::sin(a0), 1e-6);
  EXPECT_NEAR(x.at(0, 2), 1 * std::sin(a0) + 3 * std::cos(a0), 1e-6);
  EXPECT_NEAR(x.at(0, 1), 2 * std::cos(a1) - 4 * std::sin(a1), 1e-6);
  EXPECT_NEAR(x.at(0, 3), 2 * std::sin(a1) + 4 * std::cos(a1), 1e-6);
  EXPECT_EQ(x.at(0, 4), 5.0f);
  EXPECT_EQ(x.at(0, 5), 6.0f);
}

TEST(LayerNorm, CentersScalesAndShifts) {
  auto backend = make_reference_backend();
  Rng rng(5);
  const int64_t n = 37;
  const OwnedWeight weight = test::random_weight("w", DType::kBF16, {n}, rng);
  const OwnedWeight bias = test::random_weight("b", DType::kF32, {n}, rng);
  auto w = backend->prepare_weight(weight.view);
  auto b = backend->prepare_weight(bias.view);
  Activation x(2, n), out(2, n, /*pad=*/2);
  x.fill_random(rng, 3.0f);
  backend->layer_norm(out.tensor, x.tensor, **w, **b, 1e-6f);
  EXPECT_EQ(out.clobbered_padding(), 0);
  for (int64_t r = 0; r < 2; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < n; ++c) mean += x.at(r, c) / double(n);
    for (int64_t c = 0; c < n; ++c) var += (x.at(r, c) - mean) * (x.at(r, c) - mean) / double(n);
    for (int64_t c = 0; c < n; ++c)
      EXPECT_NEAR(out.at(r, c), (x.at(r, c) - mean) / std::sqrt(var + 1e-6) * weight.real[c] + bias.real[c], 1e-5);
  }
}

constexpr int64_t kIndexHeads = 3, kIndexDim = 8;

// The positions naive scoring picks for query row t: top_k by score (ties: lower
// position), ascending.
std::vector<int32_t> naive_topk(const Activation& q, const Activation& w, const Activation& keys, int64_t t,
                                int64_t start_pos, int64_t top_k, float weight_scale) {
  const int64_t visible = start_pos + t + 1;
  std::vector<double> score(static_cast<size_t>(visible), 0.0);
  for (int64_t p = 0; p < visible; ++p)
    for (int64_t h = 0; h < kIndexHeads; ++h) {
      double dot = 0;
      for (int64_t d = 0; d < kIndexDim; ++d) dot += double(q.at(t, h * kIndexDim + d)) * keys.at(p, d);
      score[p] += std::max(dot, 0.0) * w.at(t, h) * weight_scale;
    }
  std::vector<int32_t> order(static_cast<size_t>(visible));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return score[a] > score[b]; });
  order.resize(static_cast<size_t>(std::min(top_k, visible)));
  std::sort(order.begin(), order.end());
  return order;
}

// Keys spread over pages of 2 rows placed out of order in a pool; unused rows are NaN.
struct PagedKeys {
  Activation pool;
  std::vector<Tensor> pages;
  PagedKeys(const Activation& keys, int64_t length) : pool(16, kIndexDim) {
    std::fill(pool.storage.begin(), pool.storage.end(), std::numeric_limits<float>::quiet_NaN());
    const int64_t placement[] = {5, 0, 7, 2, 3, 6, 1, 4};
    for (int64_t i = 0; i * 2 < length; ++i) {
      pages.push_back(pool.tensor.row_slice(placement[i] * 2, 2));
      for (int64_t p = i * 2; p < std::min(length, i * 2 + 2); ++p)
        for (int64_t d = 0; d < kIndexDim; ++d) pool.at(placement[i] * 2 + p % 2, d) = keys.at(p, d);
    }
  }
  LatentRows rows(int64_t length) const { return {pages.data(), 2, length}; }
};

TEST(IndexerTopk, SelectsTheHighestScoringVisiblePositions) {
  auto backend = make_reference_backend();
  for (int64_t start_pos : {0, 3, 9}) {
    for (int64_t top_k : {1, 4, 20}) {
      const int64_t T = 4, length = start_pos + T;
      Rng rng(static_cast<uint32_t>(start_pos * 31 + top_k));
      Activation q(T, kIndexHeads * kIndexDim), w(T, kIndexHeads), keys(length, kIndexDim);
      q.fill_random(rng);
      w.fill_random(rng);
      keys.fill_random(rng);
      const PagedKeys paged(keys, length);
      std::vector<int32_t> selected(static_cast<size_t>(T * top_k), 77);
      backend->indexer_topk({.selected = Tensor::contiguous(DType::kI32, T, top_k, selected.data()),
                             .q = q.tensor, .weights = w.tensor, .keys = paged.rows(length), .n_heads = kIndexHeads,
                             .head_dim = kIndexDim, .top_k = top_k, .start_pos = start_pos, .weight_scale = 0.7f});
      for (int64_t t = 0; t < T; ++t) {
        std::vector<int32_t> expected = naive_topk(q, w, keys, t, start_pos, top_k, 0.7f);
        expected.resize(static_cast<size_t>(top_k), -1);
        const std::vector<int32_t> got(selected.begin() + t * top_k, selected.begin() + (t + 1) * top_k);
        EXPECT_EQ(got, expected) << "start " << start_pos << " top_k " << top_k << " row " << t;
      }
    }
  }
}

TEST(IndexerTopk, TiesGoToTheLowerPosition) {
  auto backend = make_reference_backend();
  // Every key the same: all scores tie, so positions 0 .. top_k - 1 win.
  const int64_t T = 1, start_pos = 6, top_k = 3;
  Activation q(T, kIndexHeads * kIndexDim), w(T, kIndexHeads), keys(start_pos + 1, kIndexDim);
  for (int64_t c = 0; c < kIndexHeads * kIndexDim; ++c) q.at(0, c) = 0.25f;
  for (int64_t h = 0; h < kIndexHeads; ++h) w.at(0, h) = 1.0f;
  for (int64_t p = 0; p <= start_pos; ++p)
    for (int64_t d = 0; d < kIndexDim; ++d) keys.at(p, d) = 0.5f;
  std::vector<int32_t> selected(top_k);
  backend->indexer_topk({.selected = Tensor::contiguous(DType::kI32, T, top_k, selected.data()), .q = q.tensor,
                         .weights = w.tensor, .keys = LatentRows::contiguous(keys.tensor), .n_heads = kIndexHeads,
                         .head_dim = kIndexDim, .top_k = top_k, .start_pos = start_pos});
  EXPECT_EQ(selected, (std::vector<int32_t>{0, 1, 2}));
}

}  // namespace
}  // namespace dsinfer
