// MLA attention: the expanded and absorbed forms against a naive attention written here
// (materialise each head's K = [W_k c_kv | k_pe] and V = W_v c_kv for every cached
// position, causal softmax, weighted sum of V) and against each other.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/reference/reference_backend.h"
#include "core/quant_blocks.h"
#include "test_weights.h"

namespace dsinfer {
namespace {

using test::Activation;
using test::OwnedWeight;
using test::Rng;

struct MlaCase {
  DType kv_b_dtype;
  int64_t start_pos;
  int64_t tokens;
};

// Sizes chosen so that with 128x128 FP8 blocks kv_b [5 * (16 + 12), 136] = [140, 136] has
// a partial edge block in both directions, and block row 1 starts inside head 4.
constexpr int64_t kHeads = 5, kNope = 16, kRope = 4, kV = 12, kLora = 136;
constexpr float kScale = 0.2f;

// out[t, h*kV + e] in double. Query row t sees the positions visible[t], or all of
// 0 .. start_pos + t when `visible` is empty.
std::vector<double> naive_mla(const Activation& q, const Tensor& latent, const OwnedWeight& kv_b, int64_t start_pos,
                              const std::vector<std::vector<int32_t>>& visible = {}) {
  const int64_t T = q.tensor.rows;
  const int64_t ctx = start_pos + T;
  const int64_t kv_head = kNope + kV;
  auto lat = [&](int64_t j, int64_t c) { return double(latent.f32_row(j)[c]); };
  std::vector<double> out(static_cast<size_t>(T * kHeads * kV), 0.0);
  for (int64_t h = 0; h < kHeads; ++h) {
    // Per-head keys and values for every cached position.
    std::vector<std::vector<double>> k(ctx, std::vector<double>(kNope + kRope)), v(ctx, std::vector<double>(kV));
    for (int64_t j = 0; j < ctx; ++j) {
      for (int64_t d = 0; d < kNope; ++d) {
        double s = 0;
        for (int64_t c = 0; c < kLora; ++c) s += kv_b.at(h * kv_head + d, c) * lat(j, c);
        k[j][d] = s;
      }
      for (int64_t r = 0; r < kRope; ++r) k[j][kNope + r] = lat(j, kLora + r);  // shared by all heads
      for (int64_t e = 0; e < kV; ++e) {
        double s = 0;
        for (int64_t c = 0; c < kLora; ++c) s += kv_b.at(h * kv_head + kNope + e, c) * lat(j, c);
        v[j][e] = s;
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      std::vector<int32_t> seen;  // causal: positions 0 .. start_pos + t, unless a list is given
      for (int32_t j = 0; j <= start_pos + t; ++j) seen.push_back(j);
      if (!visible.empty()) seen = visible[t];
      std::vector<double> p(seen.size());
      double max = -std::numeric_limits<double>::infinity();
      for (size_t i = 0; i < seen.size(); ++i) {
        double s = 0;
        for (int64_t d = 0; d < kNope + kRope; ++d) s += double(q.at(t, h * (kNope + kRope) + d)) * k[seen[i]][d];
        p[i] = s * kScale;
        max = std::max(max, p[i]);
      }
      double sum = 0;
      for (double& x : p) sum += (x = std::exp(x - max));
      for (int64_t e = 0; e < kV; ++e) {
        double o = 0;
        for (size_t i = 0; i < seen.size(); ++i) o += p[i] / sum * v[seen[i]][e];
        out[static_cast<size_t>(t * kHeads * kV + h * kV + e)] = o;
      }
    }
  }
  return out;
}

class MlaAttentionTest : public ::testing::TestWithParam<MlaCase> {};

TEST_P(MlaAttentionTest, BothFormsMatchNaiveAttention) {
  const MlaCase& p = GetParam();
  const int64_t T = p.tokens;
  const int64_t ctx = p.start_pos + T;
  auto backend = make_reference_backend();
  Rng rng(static_cast<uint32_t>(100 + p.start_pos * 7 + T));

  const OwnedWeight kv_b = test::random_weight("kv_b_proj", p.kv_b_dtype, {kHeads * (kNope + kV), kLora}, rng);
  auto prepared = backend->prepare_weight(kv_b.view);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();

  Activation q(T, kHeads * (kNope + kRope));
  q.fill_random(rng, 0.5f);
  // The cache holds more rows than the attention may see; the extra ones are NaN so that
  // reading past the causal window (or past the view) poisons the result.
  Activation cache(ctx + 3, kLora + kRope);
  cache.fill_random(rng);
  for (int64_t j = ctx; j < ctx + 3; ++j)
    for (int64_t c = 0; c < kLora + kRope; ++c) cache.at(j, c) = std::numeric_limits<float>::quiet_NaN();
  const Tensor latent = cache.tensor.row_slice(0, ctx);

  const std::vector<double> expected = naive_mla(q, latent, kv_b, p.start_pos);

  std::vector<std::vector<float>> results;
  for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed}) {
    Activation out(T, kHeads * kV, /*pad=*/2);
    backend->mla_attention({.out = out.tensor, .q = q.tensor, .latent = LatentRows::contiguous(latent), .kv_b = prepared->get(),
                            .n_heads = kHeads, .nope_dim = kNope, .rope_dim = kRope, .v_head_dim = kV,
                            .kv_lora_rank = kLora, .start_pos = p.start_pos, .softmax_scale = kScale, .form = form});
    backend->synchronize();
    const char* name = form == MlaForm::kExpanded ? "expanded" : "absorbed";
    EXPECT_EQ(out.clobbered_padding(), 0) << name;
    std::vector<float> got(static_cast<size_t>(T * kHeads * kV));
    backend->download(out.tensor, got.data());
    int64_t failures = 0;
    double max_err = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double err = std::fabs(got[i] - expected[i]);
      max_err = std::max(max_err, std::isnan(got[i]) ? INFINITY : err);
      if (!(err <= 1e-4 * (1 + std::fabs(expected[i]))) && failures++ < 5)
        ADD_FAILURE() << name << " out[" << i / (kHeads * kV) << ", " << i % (kHeads * kV) << "] = " << got[i]
                      << ", naive " << expected[i];
    }
    EXPECT_EQ(failures, 0) << name << " max error " << max_err;
    results.push_back(std::move(got));
  }
  for (size_t i = 0; i < results[0].size(); ++i)
    ASSERT_NEAR(results[0][i], results[1][i], 1e-4 * (1 + std::fabs(results[0][i]))) << "forms disagree at " << i;
}

INSTANTIATE_TEST_SUITE_P(Cases, MlaAttentionTest,
                         ::testing::Values(MlaCase{DType::kBF16, 0, 5}, MlaCase{DType::kBF16, 4, 3},
                                           MlaCase{DType::kBF16, 9, 1}, MlaCase{DType::kF8E4M3, 0, 4},
                                           MlaCase{DType::kF8E4M3, 6, 2}, MlaCase{DType::kF32, 2, 2}),
                         [](const auto& info) {
                           return std::string(dtype_name(info.param.kv_b_dtype)) + "_start" +
                                  std::to_string(info.param.start_pos) + "_T" + std::to_string(info.param.tokens);
                         });

// The reference backend and the CPU backend (2 threads).
std::vector<std::unique_ptr<Backend>> both_backends() {
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(make_reference_backend());
  auto cpu = make_cpu_backend({.threads = 2});
  EXPECT_TRUE(cpu.is_ok()) << cpu.status().message();
  if (cpu.is_ok()) backends.push_back(std::move(cpu).value());
  return backends;
}

// The paged cache: the same rows spread over pages of 3 rows placed out of order in a
// pool give bit-identical results to one contiguous run of rows, on every backend.
TEST(MlaAttention, PagedRowsEqualContiguousRows) {
  constexpr int64_t kPageRows = 3, kStart = 7, kT = 4, kCtx = kStart + kT, kPages = (kCtx + kPageRows - 1) / kPageRows;
  Rng rng(77);
  const OwnedWeight kv_b = test::random_weight("kv_b_proj", DType::kBF16, {kHeads * (kNope + kV), kLora}, rng);
  Activation q(kT, kHeads * (kNope + kRope));
  q.fill_random(rng, 0.5f);
  Activation rows(kCtx, kLora + kRope);
  rows.fill_random(rng);
  // Page i of the sequence lives in pool slot placement[i]; unused slots hold NaN.
  const int64_t placement[kPages] = {2, 0, 4, 1};
  Activation pool(6 * kPageRows, kLora + kRope);
  for (int64_t j = 0; j < pool.tensor.rows; ++j)
    for (int64_t c = 0; c < kLora + kRope; ++c) pool.at(j, c) = std::numeric_limits<float>::quiet_NaN();
  std::vector<Tensor> pages;
  for (int64_t i = 0; i < kPages; ++i) {
    pages.push_back(pool.tensor.row_slice(placement[i] * kPageRows, kPageRows));
    for (int64_t j = i * kPageRows; j < std::min(kCtx, (i + 1) * kPageRows); ++j)
      for (int64_t c = 0; c < kLora + kRope; ++c) pool.at(placement[i] * kPageRows + j % kPageRows, c) = rows.at(j, c);
  }
  const LatentRows paged{pages.data(), kPageRows, kCtx};

  for (auto& backend : both_backends()) {
    auto prepared = backend->prepare_weight(kv_b.view);
    ASSERT_TRUE(prepared.is_ok());
    for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed}) {
      std::vector<float> results[2];
      for (int layout = 0; layout < 2; ++layout) {
        Activation out(kT, kHeads * kV);
        backend->mla_attention({.out = out.tensor, .q = q.tensor,
                                .latent = layout == 0 ? LatentRows::contiguous(rows.tensor) : paged,
                                .kv_b = prepared->get(), .n_heads = kHeads, .nope_dim = kNope, .rope_dim = kRope,
                                .v_head_dim = kV, .kv_lora_rank = kLora, .start_pos = kStart,
                                .softmax_scale = kScale, .form = form});
        results[layout].resize(static_cast<size_t>(kT * kHeads * kV));
        backend->download(out.tensor, results[layout].data());
      }
      for (size_t i = 0; i < results[0].size(); ++i) {
        ASSERT_FALSE(std::isnan(results[1][i])) << backend->name() << " read an unused page slot";
        ASSERT_EQ(results[0][i], results[1][i]) << backend->name() << " element " << i;
      }
    }
  }
}

// A compact cache (F16, BF16, Q8_0 pages written through the copy op) gives exactly the
// result of float32 rows holding the same rounded values, on every backend.
TEST(MlaAttention, CompactPagesEqualTheirRoundedValues) {
  constexpr int64_t lora = 60, rope = 4, heads = 2, nope = 8, v = 8, page_rows = 4, start = 5, T = 2, ctx = start + T;
  Rng rng(91);
  const OwnedWeight kv_b = test::random_weight("kv_b_proj", DType::kBF16, {heads * (nope + v), lora}, rng);
  Activation q(T, heads * (nope + rope));
  q.fill_random(rng, 0.5f);
  Activation rows(ctx, lora + rope);
  rows.fill_random(rng);
  for (auto& backend : both_backends()) {
    auto prepared = backend->prepare_weight(kv_b.view);
    ASSERT_TRUE(prepared.is_ok());
    for (DType dtype : {DType::kF16, DType::kBF16, DType::kQ8_0}) {
      // Two pages in the compact format, written by the backend's copy op.
      const int64_t n_pages = (ctx + page_rows - 1) / page_rows;
      std::vector<uint8_t> storage(dtype_bytes(dtype, n_pages * page_rows * (lora + rope)));
      const Tensor pool = Tensor::contiguous(dtype, n_pages * page_rows, lora + rope, storage.data());
      std::vector<Tensor> pages;
      for (int64_t i = 0; i < n_pages; ++i) pages.push_back(pool.row_slice(i * page_rows, page_rows));
      for (int64_t p = 0; p < ctx; ++p)
        backend->copy(pages[p / page_rows].row_slice(p % page_rows, 1), rows.tensor.row_slice(p, 1));
      // The same values rounded through the format, as float32 rows.
      Activation rounded(ctx, lora + rope);
      std::vector<uint8_t> one_row(dtype_bytes(dtype, lora + rope));
      for (int64_t p = 0; p < ctx; ++p) {
        encode_values(dtype, rows.tensor.f32_row(p), one_row.data(), lora + rope);
        decode_values(dtype, one_row.data(), rounded.tensor.f32_row(p), lora + rope);
      }
      for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed}) {
        std::vector<float> results[2];
        for (int layout = 0; layout < 2; ++layout) {
          Activation out(T, heads * v);
          backend->mla_attention({.out = out.tensor, .q = q.tensor,
                                  .latent = layout == 0 ? LatentRows::contiguous(rounded.tensor)
                                                        : LatentRows{pages.data(), page_rows, ctx},
                                  .kv_b = prepared->get(), .n_heads = heads, .nope_dim = nope, .rope_dim = rope,
                                  .v_head_dim = v, .kv_lora_rank = lora, .start_pos = start, .softmax_scale = kScale,
                                  .form = form});
          results[layout].resize(static_cast<size_t>(T * heads * v));
          backend->download(out.tensor, results[layout].data());
        }
        EXPECT_EQ(results[0], results[1]) << backend->name() << " " << dtype_name(dtype);
      }
    }
  }
}

// DeepSeek Sparse Attention: each query sees only its listed positions. Listing every
// causal position is the dense path bit for bit; a sparse list matches naive attention
// restricted to it. Both forms, both backends.
TEST(MlaAttention, VisibleListsRestrictAttention) {
  constexpr int64_t kStart = 6, kT = 3, kCtx = kStart + kT, kWidth = 5;
  Rng rng(123);
  const OwnedWeight kv_b = test::random_weight("kv_b_proj", DType::kBF16, {kHeads * (kNope + kV), kLora}, rng);
  Activation q(kT, kHeads * (kNope + kRope));
  q.fill_random(rng, 0.5f);
  Activation rows(kCtx, kLora + kRope);
  rows.fill_random(rng);
  const LatentRows latent = LatentRows::contiguous(rows.tensor);

  // Every causal position (rows padded with -1 past their count), and a sparse choice.
  std::vector<int32_t> all(kT * kCtx, -1);
  for (int64_t t = 0; t < kT; ++t)
    for (int64_t j = 0; j <= kStart + t; ++j) all[t * kCtx + j] = static_cast<int32_t>(j);
  const std::vector<std::vector<int32_t>> sparse_lists = {{0, 2, 5}, {1, 7}, {0, 3, 4, 6, 8}};
  std::vector<int32_t> sparse(kT * kWidth, -1);
  for (int64_t t = 0; t < kT; ++t) std::copy(sparse_lists[t].begin(), sparse_lists[t].end(), &sparse[t * kWidth]);
  const std::vector<double> expected = naive_mla(q, rows.tensor, kv_b, kStart, sparse_lists);

  for (auto& backend : both_backends()) {
    auto prepared = backend->prepare_weight(kv_b.view);
    ASSERT_TRUE(prepared.is_ok());
    for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed}) {
      auto run = [&](std::optional<Tensor> visible) {
        Activation out(kT, kHeads * kV);
        backend->mla_attention({.out = out.tensor, .q = q.tensor, .latent = latent, .kv_b = prepared->get(),
                                .n_heads = kHeads, .nope_dim = kNope, .rope_dim = kRope, .v_head_dim = kV,
                                .kv_lora_rank = kLora, .start_pos = kStart, .softmax_scale = kScale, .form = form,
                                .visible = visible});
        std::vector<float> got(static_cast<size_t>(kT * kHeads * kV));
        backend->download(out.tensor, got.data());
        return got;
      };
      const char* name = form == MlaForm::kExpanded ? "expanded" : "absorbed";
      EXPECT_EQ(run(Tensor::contiguous(DType::kI32, kT, kCtx, all.data())), run(std::nullopt))
          << backend->name() << " " << name;
      const std::vector<float> got = run(Tensor::contiguous(DType::kI32, kT, kWidth, sparse.data()));
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::fabs(expected[i]))) << backend->name() << " " << name << " " << i;
    }
  }
}

// A single visible position: softmax weight 1, so the output is exactly W_v c_kv[0] per
// head whatever q is (hand-checkable with a tiny kv_b).
TEST(MlaAttention, OnePositionReturnsItsValue) {
  auto backend = make_reference_backend();
  // 2 heads, nope 1, rope 2, v 2, kv_lora 2. kv_b rows per head: [k_nope | v0 | v1].
  const OwnedWeight kv_b = test::weight_from("kv_b", DType::kBF16, {6, 2},
                                             {1, 0,  /* h0 k */ 1, 2, /* h0 v0 */ 0, 1, /* h0 v1 */
                                              0, 1,  /* h1 k */ 3, 0, /* h1 v0 */ -1, 1 /* h1 v1 */});
  auto prepared = backend->prepare_weight(kv_b.view);
  ASSERT_TRUE(prepared.is_ok());
  Activation q(1, 2 * 3), latent(1, 4), out(1, 4);
  for (int c = 0; c < 6; ++c) q.at(0, c) = static_cast<float>(c) - 2.5f;
  const float row[4] = {0.5f, -2, 7, 9};  // c_kv = [0.5, -2], k_pe = [7, 9]
  for (int c = 0; c < 4; ++c) latent.at(0, c) = row[c];
  for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed}) {
    backend->mla_attention({.out = out.tensor, .q = q.tensor, .latent = LatentRows::contiguous(latent.tensor), .kv_b = prepared->get(),
                            .n_heads = 2, .nope_dim = 1, .rope_dim = 2, .v_head_dim = 2, .kv_lora_rank = 2,
                            .start_pos = 0, .softmax_scale = 1.0f, .form = form});
    // h0: v0 = 1*0.5 + 2*-2 = -3.5, v1 = -2; h1: v0 = 1.5, v1 = -0.5 - 2 = -2.5.
    EXPECT_NEAR(out.at(0, 0), -3.5, 1e-6);
    EXPECT_NEAR(out.at(0, 1), -2.0, 1e-6);
    EXPECT_NEAR(out.at(0, 2), 1.5, 1e-6);
    EXPECT_NEAR(out.at(0, 3), -2.5, 1e-6);
  }
}

}  // namespace
}  // namespace dsinfer
