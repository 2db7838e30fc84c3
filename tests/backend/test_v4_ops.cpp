// DeepSeek-V4's ops: the reference backend against naive double-precision loops written
// here from the definitions in ops.h, and the CPU backend against the reference backend
// (same tolerance as the other fused ops: float32 sums in a different order).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kernels.h"
#include "backend/reference/reference_backend.h"
#include "test_weights.h"

namespace dsinfer {
namespace {

using test::Activation;
using test::OwnedWeight;
using test::Rng;

std::unique_ptr<Backend> cpu_backend() {
  auto made = make_cpu_backend({.threads = 3, .isa = "generic"});
  EXPECT_TRUE(made.is_ok()) << made.status().message();
  return std::move(made).value();
}

// A float32 parameter vector/matrix with random values in [-range, range].
OwnedWeight random_f32(const std::string& name, std::vector<int64_t> shape, Rng& rng, float range) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) v = rng.uniform(range);
  return test::weight_from(name, DType::kF32, std::move(shape), values);
}

double max_abs_diff(const Activation& a, const Activation& b) {
  double m = 0;
  for (int64_t r = 0; r < a.tensor.rows; ++r)
    for (int64_t c = 0; c < a.tensor.cols; ++c) m = std::max(m, std::fabs(double{a.at(r, c)} - b.at(r, c)));
  return m;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST(V4Formats, Fp4WeightsDecodeNibblesLowFirstWithUe8m0Scales) {
  // Row 0: bytes 0x21 -> (0.5, 1.0), 0xF7 -> (6, -6); row 1: 0x9A -> (-1, -0.5), 0x00.
  // UE8M0 scale bytes 128 (2.0) and 126 (0.5): one scale per 32 values, so a row of 64.
  std::vector<uint8_t> packed(2 * 32, 0);
  packed[0] = 0x21;
  packed[1] = 0xF7;
  packed[32] = 0x9A;
  const std::vector<float> scales = {ue8m0_to_f32(128), ue8m0_to_f32(126), ue8m0_to_f32(127), ue8m0_to_f32(129)};
  EXPECT_EQ(scales[0], 2.0f);
  EXPECT_EQ(scales[1], 0.5f);
  WeightView w{.name = "w", .dtype = DType::kFP4E2M1, .shape = {2, 64}, .data = packed.data(),
               .scales = BlockScales{scales.data(), 1, 32}};
  std::vector<float> x(64, 0.0f);
  x[0] = 1.0f, x[1] = 10.0f, x[2] = 100.0f, x[3] = 1000.0f;
  auto ref = make_reference_backend();
  auto cpu = cpu_backend();
  for (Backend* b : {ref.get(), cpu.get()}) {
    auto prepared = b->prepare_weight(w);
    ASSERT_TRUE(prepared.is_ok());
    float out[2] = {NAN, NAN};
    b->matmul(Tensor::contiguous(DType::kF32, 1, 2, out), Tensor::contiguous(DType::kF32, 1, 64, x.data()),
              *prepared.value());
    EXPECT_FLOAT_EQ(out[0], 2.0f * (0.5f * 1 + 1.0f * 10 + 6.0f * 100 - 6.0f * 1000)) << b->name();
    EXPECT_FLOAT_EQ(out[1], 1.0f * (-1.0f * 1 - 0.5f * 10)) << b->name();
  }
}

TEST(V4Formats, Fp4RoundTripUsesPowerOfTwoScalesAndTiesToEven) {
  // amax 3 -> scale 2^ceil(log2(3 / 6)) = 0.5; x / s: 6 -> 6, 1.25 -> tie between 1 and
  // 1.5 -> 1 (even code), 5 -> tie between 4 and 6 -> 4 (even code), 0.3 -> 0.5.
  std::vector<float> row = {3.0f, 0.625f, 2.5f, 0.15f};
  row.resize(32, 0.0f);
  auto ref = make_reference_backend();
  auto cpu = cpu_backend();
  for (Backend* b : {ref.get(), cpu.get()}) {
    std::vector<float> v = row;
    b->fp4_round_trip(Tensor::contiguous(DType::kF32, 1, 32, v.data()), 32);
    EXPECT_EQ(v[0], 3.0f) << b->name();
    EXPECT_EQ(v[1], 0.5f) << b->name();
    EXPECT_EQ(v[2], 2.0f) << b->name();
    EXPECT_EQ(v[3], 0.25f) << b->name();
  }
}

TEST(V4Ops, SinkAttentionMatchesNaiveLoopOnEveryBackend) {
  Rng rng(5);
  const int64_t T = 5, H = 3, d = 16, Nr = 7, Nc = 4, k = 6;
  Activation q(T, H * d), raw(Nr, d), comp(Nc, d);
  q.fill_random(rng), raw.fill_random(rng), comp.fill_random(rng);
  OwnedWeight sinks = random_f32("sinks", {H}, rng, 2.0f);
  std::vector<int32_t> visible(static_cast<size_t>(T * k), -1);
  for (int64_t t = 0; t < T; ++t)  // a different subset per row, padded with -1
    for (int64_t j = 0; j <= t && j < k; ++j) visible[t * k + j] = static_cast<int32_t>((t + 3 * j) % (Nr + Nc));
  const float scale = 0.3f;
  auto run = [&](Backend& b, Activation& out) {
    auto s = b.prepare_weight(sinks.view);
    b.sink_attention({.out = out.tensor, .q = q.tensor, .raw = raw.tensor, .compressed = comp.tensor,
                      .visible = Tensor::contiguous(DType::kI32, T, k, visible.data()), .sinks = s.value().get(),
                      .n_heads = H, .head_dim = d, .softmax_scale = scale});
  };
  Activation ref_out(T, H * d, 3), cpu_out(T, H * d, 3);
  run(*make_reference_backend(), ref_out);
  run(*cpu_backend(), cpu_out);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      std::vector<double> o(static_cast<size_t>(d), 0.0);
      double den = std::exp(sinks.real[h]);
      for (int64_t j = 0; j < k; ++j) {
        const int32_t i = visible[t * k + j];
        if (i < 0) continue;
        auto row = [&](int64_t c) { return i < Nr ? double{raw.at(i, c)} : double{comp.at(i - Nr, c)}; };
        double dot = 0;
        for (int64_t c = 0; c < d; ++c) dot += q.at(t, h * d + c) * row(c);
        const double p = std::exp(dot * scale);
        den += p;
        for (int64_t c = 0; c < d; ++c) o[c] += p * row(c);
      }
      for (int64_t c = 0; c < d; ++c) EXPECT_NEAR(ref_out.at(t, h * d + c), o[c] / den, 1e-5) << t << " " << h;
    }
  EXPECT_LE(max_abs_diff(cpu_out, ref_out), 1e-6);
  EXPECT_EQ(ref_out.clobbered_padding(), 0);
  EXPECT_EQ(cpu_out.clobbered_padding(), 0);
}

// The CPU backend's sink attention is the reference arithmetic, bit for bit, on every
// kernel table: V4 rounds keys to FP8 inside the model, so one ulp of difference can
// change a token. Sizes cover whole groups of eight visible rows and tails, head sizes
// with and without a whole number of 8-value columns, and decode (one query row).
TEST(V4Ops, CpuSinkAttentionIsBitwiseTheReference) {
  Rng rng(11);
  for (std::string_view isa : cpu::kKernelTableNames) {
    if (!cpu::select_kernels(isa)) continue;
    auto cpu = std::move(make_cpu_backend({.threads = 2, .isa = std::string(isa)})).value();
    // 4 heads take sequential_dots8; 16 and 11, eight at a time through
    // sequential_dots_heads8 (11: three left over).
    for (int64_t H : {4, 16, 11})
    for (int64_t d : {16, 20, 64})
      for (int64_t T : {1, 3}) {
        const int64_t Nr = 29, Nc = 11, k = 37;
        Activation q(T, H * d), raw(Nr, d), comp(Nc, d);
        // Values with full float32 mantissas (Rng's own are on a 1/1024 grid, whose
        // products and short sums are exact in any order): differences in rounding show.
        for (Activation* a : {&q, &raw, &comp})
          for (int64_t r = 0; r < a->tensor.rows; ++r)
            for (int64_t c = 0; c < a->tensor.cols; ++c) a->at(r, c) = rng.uniform(1.0f) / 3.0f + rng.uniform(1e-3f) / 7.0f;
        OwnedWeight sinks = random_f32("sinks", {H}, rng, 2.0f);
        std::vector<int32_t> visible(static_cast<size_t>(T * k), -1);
        for (int64_t t = 0; t < T; ++t)  // 17, 27 and 37 visible rows, some -1 in between
          for (int64_t j = 0; j < 17 + 10 * t; ++j)
            visible[static_cast<size_t>(t * k + j)] = j % 9 == 4 ? -1 : static_cast<int32_t>((5 * j + t) % (Nr + Nc));
        auto run = [&](Backend& b, Activation& out) {
          auto s = b.prepare_weight(sinks.view);
          b.sink_attention({.out = out.tensor, .q = q.tensor, .raw = raw.tensor, .compressed = comp.tensor,
                            .visible = Tensor::contiguous(DType::kI32, T, k, visible.data()), .sinks = s.value().get(),
                            .n_heads = H, .head_dim = d, .softmax_scale = 0.125f});
        };
        Activation ref_out(T, H * d), cpu_out(T, H * d);
        run(*make_reference_backend(), ref_out);
        run(*cpu, cpu_out);
        int64_t differing = 0;
        for (int64_t t = 0; t < T; ++t)
          for (int64_t c = 0; c < H * d; ++c) differing += ref_out.at(t, c) != cpu_out.at(t, c);
        EXPECT_EQ(differing, 0) << isa << " H=" << H << " d=" << d << " T=" << T;
      }
  }
}

TEST(V4Ops, HyperConnectionsMatchNaiveLoopOnEveryBackend) {
  Rng rng(9);
  const int64_t T = 4, hc = 4, D = 8, mix = (2 + hc) * hc, iters = 20;
  const float hc_eps = 1e-6f, norm_eps = 1e-6f;
  Activation streams(T, hc * D), mixes(T, mix), f(T, D);
  streams.fill_random(rng), mixes.fill_random(rng, 3.0f), f.fill_random(rng);
  OwnedWeight scale = random_f32("scale", {3}, rng, 1.0f), base = random_f32("base", {mix}, rng, 1.0f);
  struct Out {
    Activation x{T, D, 2}, post{T, hc, 1}, comb{T, hc * hc, 1}, next{T, hc * D, 2};
  };
  auto run = [&](Backend& b, Out& o) {
    auto s = b.prepare_weight(scale.view);
    auto bs = b.prepare_weight(base.view);
    b.hc_pre({.x = o.x.tensor, .post = o.post.tensor, .comb = o.comb.tensor, .streams = streams.tensor,
              .mixes = mixes.tensor, .scale = s.value().get(), .base = bs.value().get(), .hc = hc,
              .sinkhorn_iters = iters, .hc_eps = hc_eps, .norm_eps = norm_eps});
    b.hc_post({.out = o.next.tensor, .f = f.tensor, .residual = streams.tensor, .post = o.post.tensor,
               .comb = o.comb.tensor, .hc = hc});
  };
  Out ref, cpu;
  run(*make_reference_backend(), ref);
  run(*cpu_backend(), cpu);
  for (int64_t t = 0; t < T; ++t) {
    double sq = 0;
    for (int64_t i = 0; i < hc * D; ++i) sq += double{streams.at(t, i)} * streams.at(t, i);
    const double r = 1.0 / std::sqrt(sq / (hc * D) + norm_eps);
    auto z = [&](int64_t i, int which) { return mixes.at(t, i) * r * scale.real[which] + base.real[i]; };
    std::vector<double> c(static_cast<size_t>(hc * hc));
    for (int64_t j = 0; j < hc; ++j) {
      double mx = -1e30, sum = 0;
      for (int64_t k = 0; k < hc; ++k) mx = std::max(mx, z(2 * hc + j * hc + k, 2));
      for (int64_t k = 0; k < hc; ++k) sum += (c[j * hc + k] = std::exp(z(2 * hc + j * hc + k, 2) - mx));
      for (int64_t k = 0; k < hc; ++k) c[j * hc + k] = c[j * hc + k] / sum + hc_eps;
    }
    auto columns = [&] {
      for (int64_t k = 0; k < hc; ++k) {
        double s = 0;
        for (int64_t j = 0; j < hc; ++j) s += c[j * hc + k];
        for (int64_t j = 0; j < hc; ++j) c[j * hc + k] /= s + hc_eps;
      }
    };
    columns();
    for (int64_t it = 1; it < iters; ++it) {
      for (int64_t j = 0; j < hc; ++j) {
        double s = 0;
        for (int64_t k = 0; k < hc; ++k) s += c[j * hc + k];
        for (int64_t k = 0; k < hc; ++k) c[j * hc + k] /= s + hc_eps;
      }
      columns();
    }
    for (int64_t i = 0; i < hc * hc; ++i) EXPECT_NEAR(ref.comb.at(t, i), c[i], 1e-5);
    for (int64_t k = 0; k < hc; ++k) {
      const double post = 2.0 * sigmoid(z(hc + k, 1));
      EXPECT_NEAR(ref.post.at(t, k), post, 1e-5);
      for (int64_t e = 0; e < D; ++e) {
        double v = post * f.at(t, e);
        for (int64_t j = 0; j < hc; ++j) v += c[j * hc + k] * streams.at(t, j * D + e);
        EXPECT_NEAR(ref.next.at(t, k * D + e), v, 1e-4);
      }
    }
    for (int64_t e = 0; e < D; ++e) {
      double x = 0;
      for (int64_t j = 0; j < hc; ++j) x += (sigmoid(z(j, 0)) + hc_eps) * streams.at(t, j * D + e);
      EXPECT_NEAR(ref.x.at(t, e), x, 1e-5);
    }
  }
  EXPECT_LE(max_abs_diff(cpu.x, ref.x), 1e-6);
  EXPECT_LE(max_abs_diff(cpu.comb, ref.comb), 1e-6);
  EXPECT_LE(max_abs_diff(cpu.next, ref.next), 1e-6);
  for (const Activation* a : {&ref.x, &ref.post, &ref.comb, &ref.next, &cpu.x, &cpu.post, &cpu.comb, &cpu.next})
    EXPECT_EQ(a->clobbered_padding(), 0);
}

// Pools of blocks split between the carried ring (earlier positions) and the chunk, with
// and without the CSA overlap.
TEST(V4Ops, CompressPoolMatchesNaiveLoopOnEveryBackend) {
  for (const bool overlap : {false, true}) {
    Rng rng(overlap ? 3 : 4);
    const int64_t r = overlap ? 4 : 8, d = 6, w = overlap ? 2 * d : d;
    const int64_t ring_rows = overlap ? 2 * r : r;
    const int64_t chunk_start = 13, T = 21;  // blocks completing in [13, 34)
    const int64_t first = chunk_start / r, count = (chunk_start + T) / r - first;
    Activation chunk(T, 2 * w), ring(ring_rows, 2 * w);
    chunk.fill_random(rng, 2.0f), ring.fill_random(rng, 2.0f);
    OwnedWeight ape = random_f32("ape", {r, w}, rng, 1.0f);
    auto projection = [&](int64_t p, int64_t col) {
      return p >= chunk_start ? double{chunk.at(p - chunk_start, col)} : double{ring.at(p % ring_rows, col)};
    };
    auto run = [&](Backend& b, Activation& out) {
      auto a = b.prepare_weight(ape.view);
      b.compress_pool({.out = out.tensor, .chunk = chunk.tensor, .state = ring.tensor, .ape = a.value().get(),
                       .chunk_start = chunk_start, .first_block = first, .ratio = r, .dim = d, .overlap = overlap});
    };
    Activation ref_out(count, d, 2), cpu_out(count, d, 2);
    run(*make_reference_backend(), ref_out);
    run(*cpu_backend(), cpu_out);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t b = first + i;
      for (int64_t c = 0; c < d; ++c) {
        std::vector<std::pair<double, double>> entries;  // (score, kv)
        if (overlap && b > 0)
          for (int64_t p = (b - 1) * r; p < b * r; ++p)
            entries.push_back({projection(p, w + c) + ape.at(p % r, c), projection(p, c)});
        const int64_t off = overlap ? d : 0;
        for (int64_t p = b * r; p < (b + 1) * r; ++p)
          entries.push_back({projection(p, w + off + c) + ape.at(p % r, off + c), projection(p, off + c)});
        double mx = -1e30, sum = 0, pooled = 0;
        for (auto [s, v] : entries) mx = std::max(mx, s);
        for (auto [s, v] : entries) sum += std::exp(s - mx), pooled += std::exp(s - mx) * v;
        EXPECT_NEAR(ref_out.at(i, c), pooled / sum, 1e-5) << "overlap " << overlap << " block " << b;
      }
    }
    EXPECT_LE(max_abs_diff(cpu_out, ref_out), 1e-6);
    EXPECT_EQ(ref_out.clobbered_padding(), 0);
  }
}

// V4 routing through moe_ffn: sqrt(softplus) scores, bias for selection only, fixed
// (hash) experts, clamped SwiGLU; checked against a naive loop, CPU against reference.
TEST(V4Ops, MoeWithSqrtSoftplusHashRoutingAndClampedSwiglu) {
  Rng rng(11);
  const int64_t T = 6, D = 16, I = 8, E = 5, k = 2;
  const float limit = 0.5f;
  Activation x(T, D);
  x.fill_random(rng);
  OwnedWeight router = test::random_weight("router", DType::kBF16, {E, D}, rng);
  OwnedWeight bias = random_f32("bias", {E}, rng, 0.5f);
  std::vector<OwnedWeight> tensors;
  for (int64_t e = 0; e < E + 1; ++e) {
    const int64_t width = e == E ? 2 * I : I;  // the last one is the shared expert
    tensors.push_back(test::random_weight("w1", DType::kBF16, {width, D}, rng));
    tensors.push_back(test::random_weight("w3", DType::kBF16, {width, D}, rng));
    tensors.push_back(test::random_weight("w2", DType::kBF16, {D, width}, rng));
  }
  const std::vector<int32_t> hash = {4, 1, 0, 2, 3, 3, 1, 4, 2, 0, 0, 1};  // [T, k]
  const RouterSpec spec{.scoring = RouterScoring::kSqrtSoftplus, .top_k = k, .normalize = true, .weight_scale = 1.5f};

  auto naive_expert = [&](int64_t e, int64_t t) {
    const OwnedWeight &g = tensors[3 * e], &u = tensors[3 * e + 1], &dn = tensors[3 * e + 2];
    std::vector<double> y(static_cast<size_t>(D), 0.0);
    for (int64_t i = 0; i < g.rows(); ++i) {
      double gv = 0, uv = 0;
      for (int64_t c = 0; c < D; ++c) gv += g.at(i, c) * x.at(t, c), uv += u.at(i, c) * x.at(t, c);
      gv = std::min<double>(gv, limit);
      uv = std::clamp<double>(uv, -limit, limit);
      const double h = gv / (1 + std::exp(-gv)) * uv;
      for (int64_t o = 0; o < D; ++o) y[o] += dn.at(o, i) * h;
    }
    return y;
  };
  for (const bool hashed : {false, true}) {
    auto run = [&](Backend& b, Activation& out) {
      std::vector<std::unique_ptr<PreparedWeight>> owned;
      auto prep = [&](const OwnedWeight& w) {
        owned.push_back(std::move(b.prepare_weight(w.view)).value());
        return owned.back().get();
      };
      std::vector<FfnWeights> experts;
      for (int64_t e = 0; e < E; ++e) experts.push_back({prep(tensors[3 * e]), prep(tensors[3 * e + 1]), prep(tensors[3 * e + 2])});
      const FfnWeights shared{prep(tensors[3 * E]), prep(tensors[3 * E + 1]), prep(tensors[3 * E + 2])};
      b.moe_ffn({.out = out.tensor, .x = x.tensor, .router = prep(router), .selection_bias = prep(bias),
                 .experts = experts, .shared = shared, .spec = spec,
                 .fixed_experts = hashed ? std::span<const int32_t>(hash) : std::span<const int32_t>{},
                 .swiglu_limit = limit});
    };
    Activation ref_out(T, D, 2), cpu_out(T, D, 2);
    run(*make_reference_backend(), ref_out);
    run(*cpu_backend(), cpu_out);
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> score(static_cast<size_t>(E)), choice(static_cast<size_t>(E));
      for (int64_t e = 0; e < E; ++e) {
        double logit = 0;
        for (int64_t c = 0; c < D; ++c) logit += router.at(e, c) * x.at(t, c);
        score[e] = std::sqrt(std::log1p(std::exp(logit)));
        choice[e] = score[e] + bias.real[e];
      }
      std::vector<int> chosen;
      if (hashed) {
        chosen = {hash[t * k], hash[t * k + 1]};
      } else {
        std::vector<int> order(static_cast<size_t>(E));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return choice[a] > choice[b]; });
        chosen = {order[0], order[1]};
      }
      const double sum = score[chosen[0]] + score[chosen[1]];
      std::vector<double> y = naive_expert(E, t);
      for (int e : chosen) {
        const std::vector<double> ye = naive_expert(e, t);
        for (int64_t o = 0; o < D; ++o) y[o] += 1.5 * score[e] / sum * ye[o];
      }
      for (int64_t o = 0; o < D; ++o) EXPECT_NEAR(ref_out.at(t, o), y[o], 1e-4) << "hashed " << hashed << " t " << t;
    }
    EXPECT_LE(max_abs_diff(cpu_out, ref_out), 1e-5);
  }
}

}  // namespace
}  // namespace dsinfer
