// Conformance: every op of the CPU backend against the reference backend, on random
// inputs, for every kernel table this machine can run (generic always, plus the best
// SIMD one), every weight format, and odd sizes that leave partial vectors and blocks.
// Tolerances per format: float formats differ only in summation order; integer formats
// also quantise activations to int8 per 32 values. Batch invariance is checked bitwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "backend/cpu/absorb_columns.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/packed_weight.h"
#include "backend/reference/reference_backend.h"
#include "core/mapped_file.h"
#include "core/quant_blocks.h"

namespace dsinfer {
namespace {

struct Weight {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  WeightView view;
};

std::vector<float> random_floats(size_t n, uint32_t seed, float range = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A [rows, cols] weight of random values stored as `dtype` (FP8 with 128x128 scales).
Weight make_weight(DType dtype, int64_t rows, int64_t cols, uint32_t seed) {
  Weight w;
  const auto values = random_floats(static_cast<size_t>(rows * cols), seed);
  w.bytes.resize(dtype_bytes(dtype, rows * cols));
  if (dtype == DType::kFP4E2M1) {
    // Random codes, UE8M0 scales per 32 values; one block with code 0 (2^-127), which the
    // packed kernels read as 0.
    std::mt19937 rng(seed);
    for (auto& byte : w.bytes) byte = static_cast<uint8_t>(rng());
    w.scales.resize(static_cast<size_t>(rows * cols / 32));
    for (auto& s : w.scales) s = ue8m0_to_f32(static_cast<uint8_t>(118 + rng() % 10));
    w.scales[w.scales.size() / 2] = ue8m0_to_f32(0);
  } else if (dtype_is_block_quantized(dtype)) {
    quantize_blocks(dtype, values.data(), w.bytes.data(), values.size());
  } else if (dtype == DType::kF8E4M3) {
    const int64_t grid_cols = (cols + 127) / 128;
    w.scales.resize(static_cast<size_t>(((rows + 127) / 128) * grid_cols));
    std::mt19937 rng(seed + 1);
    for (auto& s : w.scales) s = std::uniform_real_distribution<float>(0.001f, 0.01f)(rng);
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float s = w.scales[(i / cols / 128) * grid_cols + (i % cols) / 128];
      w.bytes[i] = f32_to_f8e4m3(values[i] / s);
    }
  } else {
    for (int64_t i = 0; i < rows * cols; ++i) {
      if (dtype == DType::kF32) std::memcpy(&w.bytes[4 * i], &values[i], 4);
      const uint16_t h = dtype == DType::kBF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
      if (dtype != DType::kF32) std::memcpy(&w.bytes[2 * i], &h, 2);
    }
  }
  w.view.name = "w";
  w.view.dtype = dtype;
  w.view.shape = {rows, cols};
  w.view.data = w.bytes.data();
  if (!w.scales.empty()) w.view.scales = dtype == DType::kFP4E2M1 ? BlockScales{w.scales.data(), 1, 32, 0}
                                                                  : BlockScales{w.scales.data(), 128, 128, 0};
  return w;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

// Relative-error budget per format (measured errors are 10-100x below these).
double tolerance(DType dtype) {
  // The integer formats meet int8 activations: the packed K-quants (rows in groups of 8)
  // as well as Q8_0 and Q4_0.
  // FP4 keeps float32 activations.
  if (dtype == DType::kFP4E2M1) return 1e-5;
  return dtype_is_block_quantized(dtype) ? 2e-2 : 1e-5;
}

// Every kernel table this CPU can run.
std::vector<std::string> isas() {
  std::vector<std::string> out;
  for (std::string_view isa : cpu::kKernelTableNames)
    if (cpu::select_kernels(isa)) out.emplace_back(isa);
  return out;
}

// Every weight format, with K giving partial SIMD vectors / partial FP8 scale blocks where
// the format allows them.
constexpr DType kFormats[] = {DType::kF32,  DType::kBF16,   DType::kF16,    DType::kF8E4M3, DType::kQ8_0,
                              DType::kQ4_0, DType::kQ5_0,   DType::kQ5_1,   DType::kIQ4_NL, DType::kIQ4_XS,
                              DType::kQ2_K, DType::kQ3_K,   DType::kQ4_K,   DType::kQ5_K,   DType::kQ6_K,
                              DType::kIQ2_XXS, DType::kIQ2_XS, DType::kIQ2_S, DType::kIQ3_XXS, DType::kIQ3_S,
                              DType::kIQ1_S, DType::kIQ1_M, DType::kFP4E2M1};

int64_t odd_cols(DType dtype) {
  if (dtype == DType::kFP4E2M1) return 32 * 9;  // whole scale blocks, as released checkpoints have
  const int64_t block = dtype_block_elements(dtype);
  return block > 1 ? block * (block == 32 ? 9 : 2) : 301;
}

::testing::AssertionResult same_bits(const float* actual, const float* expected, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(&actual[i], &expected[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "first difference at " << i << ": " << actual[i] << " vs "
                                           << expected[i];
  return ::testing::AssertionSuccess();
}

struct Backends {
  std::unique_ptr<Backend> reference = make_reference_backend();
  std::unique_ptr<Backend> cpu;
  explicit Backends(const std::string& isa, int threads = 3) {
    auto made = make_cpu_backend({.threads = threads, .isa = isa});
    EXPECT_TRUE(made.is_ok()) << made.status().message();
    cpu = std::move(made).value();
  }
};

class CpuConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(CpuConformance, MatmulEveryFormatAndOddSizes) {
  Backends b(GetParam());
  for (DType dtype : kFormats) {
    const int64_t K = odd_cols(dtype);
    // 40 and 128 rows take the interleaved kernels for Q4_0 / Q8_0 (rows in groups of 8).
    for (int64_t N : {1, 37, 40, 130}) {
      for (int64_t T : {1, 5, 33}) {
        Weight w = make_weight(dtype, N, K, static_cast<uint32_t>(N * 131 + T));
        auto x = random_floats(static_cast<size_t>(T * K), static_cast<uint32_t>(T + 7));
        std::vector<float> expected(static_cast<size_t>(T * N)), actual(expected.size(), NAN);
        auto ref_w = b.reference->prepare_weight(w.view);
        auto cpu_w = b.cpu->prepare_weight(w.view);
        b.reference->matmul(Tensor::contiguous(DType::kF32, T, N, expected.data()),
                            Tensor::contiguous(DType::kF32, T, K, x.data()), **ref_w);
        b.cpu->matmul(Tensor::contiguous(DType::kF32, T, N, actual.data()),
                      Tensor::contiguous(DType::kF32, T, K, x.data()), **cpu_w);
        EXPECT_LE(rel_error(actual, expected), tolerance(dtype))
            << dtype_name(dtype) << " N=" << N << " K=" << K << " T=" << T;
      }
    }
  }
}

TEST_P(CpuConformance, FineOps) {
  Backends b(GetParam());
  const int64_t T = 7, H = 45;
  Weight norm = make_weight(DType::kBF16, 1, H, 3);
  norm.view.shape = {H};
  auto ref_norm = b.reference->prepare_weight(norm.view);
  auto cpu_norm = b.cpu->prepare_weight(norm.view);
  auto x = random_floats(static_cast<size_t>(T * H), 11);
  auto y = random_floats(static_cast<size_t>(T * H), 12);
  auto run = [&](Backend& be, const PreparedWeight& w) {
    std::vector<float> out(static_cast<size_t>(T * H)), gated(static_cast<size_t>(T * H));
    Tensor o = Tensor::contiguous(DType::kF32, T, H, out.data());
    Tensor g = Tensor::contiguous(DType::kF32, T, H, gated.data());
    Tensor xt = Tensor::contiguous(DType::kF32, T, H, x.data());
    Tensor yt = Tensor::contiguous(DType::kF32, T, H, y.data());
    be.rms_norm(o, xt, w, 1e-6f);
    be.silu_and_mul(o, o, yt);  // in place, as the model calls it
    be.silu_and_mul(g, o, yt);  // into another tensor
    be.add(o, g, xt);
    RopeTable table{{0.9f, 0.3f, 0.01f}, 1.1f};
    std::vector<int32_t> positions{0, 1, 2, 5, 9, 100, 1000};
    be.rope({.x = o, .head_dim = 15, .rope_offset = 9, .rope_dim = 6, .positions = positions, .table = &table});
    return out;
  };
  EXPECT_LE(rel_error(run(*b.cpu, **cpu_norm), run(*b.reference, **ref_norm)), 1e-6);
}

// T query rows of H heads attending over start + T float32 latent rows, on `be`.
struct MlaCase {
  const Weight& kv_b;
  std::vector<float>& q;
  std::vector<float>& latent;
  int64_t H, nope, rope, v, lora, start, T;
  float softmax_scale;
  MlaForm form;
};

std::vector<float> attend(Backend& be, const MlaCase& c) {
  auto w = be.prepare_weight(c.kv_b.view);
  std::vector<float> out(static_cast<size_t>(c.T * c.H * c.v));
  be.mla_attention({.out = Tensor::contiguous(DType::kF32, c.T, c.H * c.v, out.data()),
                    .q = Tensor::contiguous(DType::kF32, c.T, c.H * (c.nope + c.rope), c.q.data()),
                    .latent = LatentRows::contiguous(
                        Tensor::contiguous(DType::kF32, c.start + c.T, c.lora + c.rope, c.latent.data())),
                    .kv_b = w->get(), .n_heads = c.H, .nope_dim = c.nope, .rope_dim = c.rope, .v_head_dim = c.v,
                    .kv_lora_rank = c.lora, .start_pos = c.start, .softmax_scale = c.softmax_scale, .form = c.form});
  return out;
}

// v = 16 and 40 put every head's V rows on groups of eight, where the CPU backend runs W_v
// through the packed tiles for Q8_0 / Q4_0; v = 12 keeps them on the stored rows. The
// 70-token prefill after 37 positions spans several blocks of queries, chunks of keys and
// chunks of value columns of the expanded form. 20 heads make three blocks of eight for
// the absorbed form's score tile, the last part-filled (on AVX-512 two blocks to a
// sixteen-lane register, then one alone); a lone token after 1,100 positions takes the
// weighted sums through 35 passes of rows.
TEST_P(CpuConformance, MlaAttentionBothForms) {
  Backends b(GetParam());
  const int64_t nope = 16, rope = 8, r = 40;
  struct Shape {
    int64_t H, v, start, T;
  };
  for (const auto [H, v, start, T] : {Shape{3, 12, 5, 4}, Shape{3, 16, 5, 4}, Shape{3, 40, 37, 70},
                                     Shape{20, 16, 37, 1}, Shape{20, 40, 5, 4}, Shape{20, 40, 1100, 1}})
  for (DType dtype : {DType::kBF16, DType::kF8E4M3, DType::kQ8_0, DType::kQ4_0}) {
    const int64_t lora = dtype_is_block_quantized(dtype) ? 64 : r;
    Weight kv_b = make_weight(dtype, H * (nope + v), lora, 21);
    auto q = random_floats(static_cast<size_t>(T * H * (nope + rope)), 22);
    auto latent = random_floats(static_cast<size_t>((start + T) * (lora + rope)), 23);
    for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed}) {
      const MlaCase c{kv_b, q, latent, H, nope, rope, v, lora, start, T, 0.2f, form};
      const double tolerance = dtype_is_block_quantized(dtype) ? 2e-2 : 1e-5;
      EXPECT_LE(rel_error(attend(*b.cpu, c), attend(*b.reference, c)), tolerance)
          << dtype_name(dtype) << (form == MlaForm::kAbsorbed ? " absorbed" : " expanded") << " heads " << H << " v "
          << v;
    }
  }
}

// Absorbed decode with a Q4_0 kv_b whose K half the table regroups by latent column
// (nope a whole number of activation blocks): one token and a batch of three, 20 heads
// over three threads, against the reference within the block formats' tolerance.
TEST_P(CpuConformance, MlaAttentionAbsorbsQ4_0ByLatentColumns) {
  Backends b(GetParam());
  const int64_t H = 20, nope = 64, rope = 8, v = 16, start = 37;
  for (int64_t lora : {64, 96})
    for (int64_t T : {1, 3}) {
      Weight kv_b = make_weight(DType::kQ4_0, H * (nope + v), lora, 31);
      auto q = random_floats(static_cast<size_t>(T * H * (nope + rope)), 32);
      auto latent = random_floats(static_cast<size_t>((start + T) * (lora + rope)), 33);
      const MlaCase c{kv_b, q, latent, H, nope, rope, v, lora, start, T, 0.1f, MlaForm::kAbsorbed};
      EXPECT_LE(rel_error(attend(*b.cpu, c), attend(*b.reference, c)), 2e-2)
          << "lora " << lora << ", " << T << " tokens";
    }
}

// A compact cache (F16, BF16, Q8_0 pages) attended in place gives exactly what float32
// rows holding the same rounded values give: absorbed form widens rows where the score
// loop and the weighted sums read them (in passes of 32 rows, or the 16-bit formats summed
// as stored), the expansion all rows up front. 20 heads (a group of eight heads and a part
// one), 100 positions over pages of 16 rows (passes of 32 rows and a partial one, score
// groups across pages), one token and four, with and without a list of visible positions;
// and 2,100 positions (66 passes; with the list, 525 positions seen).
TEST_P(CpuConformance, MlaAttentionOverCompactPagesHasTheBitsOfTheirValues) {
  Backends b(GetParam());
  const int64_t H = 20, nope = 16, rope = 32, v = 16, lora = 64, width = lora + rope, page_rows = 16;
  Weight kv_b = make_weight(DType::kQ8_0, H * (nope + v), lora, 51);
  for (const int64_t length : {int64_t{100}, int64_t{2100}})
  for (const int64_t T : {int64_t{1}, int64_t{4}})
  for (DType dtype : {DType::kF16, DType::kBF16, DType::kQ8_0}) {
    const int64_t start = length - T, ctx = start + T;
    auto q = random_floats(static_cast<size_t>(T * H * (nope + rope)), 52);
    const auto values = random_floats(static_cast<size_t>(ctx * width), 53);
    const int64_t n_pages = (ctx + page_rows - 1) / page_rows;
    std::vector<uint8_t> storage(dtype_bytes(dtype, n_pages * page_rows * width));
    const Tensor pool = Tensor::contiguous(dtype, n_pages * page_rows, width, storage.data());
    // Pages in reverse order in the pool, as a block table may hand them out.
    std::vector<Tensor> pages;
    for (int64_t i = 0; i < n_pages; ++i) pages.push_back(pool.row_slice((n_pages - 1 - i) * page_rows, page_rows));
    std::vector<float> rounded(static_cast<size_t>(ctx * width));
    for (int64_t p = 0; p < ctx; ++p) {
      void* stored = pages[p / page_rows].row_data(p % page_rows);
      encode_values(dtype, values.data() + p * width, stored, static_cast<size_t>(width));
      decode_values(dtype, stored, rounded.data() + p * width, static_cast<size_t>(width));
    }
    // Every fourth position seen, and the last (a V3.2 selection).
    std::vector<int32_t> listed(static_cast<size_t>(T * ctx), -1);
    for (int64_t t = 0; t < T; ++t) {
      int64_t n = 0;
      for (int64_t p = 0; p <= start + t; ++p)
        if (p % 4 == 1 || p == start + t) listed[static_cast<size_t>(t * ctx + n++)] = static_cast<int32_t>(p);
    }
    auto w = std::move(b.cpu->prepare_weight(kv_b.view)).value();
    for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed})
    for (bool with_list : {false, true}) {
      auto run = [&](LatentRows latent) {
        std::vector<float> out(static_cast<size_t>(T * H * v));
        b.cpu->mla_attention({.out = Tensor::contiguous(DType::kF32, T, H * v, out.data()),
                              .q = Tensor::contiguous(DType::kF32, T, H * (nope + rope), q.data()),
                              .latent = latent, .kv_b = w.get(), .n_heads = H, .nope_dim = nope, .rope_dim = rope,
                              .v_head_dim = v, .kv_lora_rank = lora, .start_pos = start, .softmax_scale = 0.2f,
                              .form = form,
                              .visible = with_list ? std::optional(Tensor::contiguous(DType::kI32, T, ctx, listed.data()))
                                                   : std::nullopt});
        return out;
      };
      const auto compact = run({pages.data(), page_rows, ctx});
      const auto widened = run(LatentRows::contiguous(Tensor::contiguous(DType::kF32, ctx, width, rounded.data())));
      EXPECT_TRUE(same_bits(compact.data(), widened.data(), static_cast<int64_t>(widened.size())))
          << dtype_name(dtype) << (form == MlaForm::kAbsorbed ? " absorbed" : " expanded") << " T " << T
          << (with_list ? " listed" : "") << " length " << length;
    }
  }
}

// The V3.2 indexer's fine ops: LayerNorm, half-split RoPE, Hadamard, FP8 round trip.
TEST_P(CpuConformance, IndexerFineOps) {
  Backends b(GetParam());
  const int64_t T = 5, heads = 3, dim = 64;
  Weight norm = make_weight(DType::kBF16, 1, dim, 4), bias = make_weight(DType::kF32, 1, dim, 5);
  norm.view.shape = bias.view.shape = {dim};
  const auto x = random_floats(static_cast<size_t>(T * heads * dim), 13, 3.0f);
  for (bool pow2 : {false, true}) {
    auto run = [&](Backend& be) {
      auto w = be.prepare_weight(norm.view);
      auto bi = be.prepare_weight(bias.view);
      std::vector<float> v = x;
      const Tensor rows = Tensor::contiguous(DType::kF32, T, heads * dim, v.data());
      const Tensor vectors = Tensor::contiguous(DType::kF32, T * heads, dim, v.data());
      be.layer_norm(vectors, vectors, **w, **bi, 1e-6f);
      RopeTable table{{0.9f, 0.3f, 0.01f, 0.002f}, 1.1f};
      std::vector<int32_t> positions{0, 1, 7, 100, 1000};
      be.rope({.x = rows, .head_dim = dim, .rope_offset = 0, .rope_dim = 8, .positions = positions,
               .table = &table, .pairs = RopePairs::kHalfSplit});
      be.hadamard(vectors);
      be.fp8_round_trip(vectors, 32, pow2);
      return v;
    };
    // Exact: an FP8 rounding boundary would turn a last-bit difference into a 1/16 one, and
    // these ops are cheap enough that the CPU backend runs the reference code on row ranges.
    EXPECT_EQ(run(*b.cpu), run(*b.reference)) << (pow2 ? "pow2" : "linear");
  }
}

// The CPU backend's own FP4 round trip against the reference's grid search, bitwise: every
// midpoint between grid values and the floats either side of it, at several block scales
// and both signs, random values, and blocks with NaN, infinities, zeros and subnormals.
TEST_P(CpuConformance, Fp4RoundTripHasTheReferenceBits) {
  Backends b(GetParam());
  const float grid_points[] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 1.25f, 1.5f, 1.75f, 2.0f, 2.5f, 3.0f, 3.5f, 4.0f, 5.0f, 6.0f};
  std::vector<float> x;
  for (float scale : {1.0f, 0x1p-3f, 0x1p7f, 0x1p-120f})
    for (float sign : {1.0f, -1.0f}) {
      std::vector<float> block = {6.0f * scale * sign};  // amax: the block's scale is `scale`
      for (float p : grid_points)
        for (float v : {std::nextafter(p, 0.0f), p, std::nextafter(p, 7.0f)}) block.push_back(sign * v * scale);
      block.resize(64, 0.0f);
      x.insert(x.end(), block.begin(), block.end());
    }
  const auto random = random_floats(64 * 8, 21);
  for (int i = 0; i < 64 * 8; ++i) x.push_back(random[i] * std::ldexp(1.0f, i % 40 - 20));
  const float specials[] = {std::nanf(""), INFINITY, -INFINITY, -0.0f, 0x1p-140f, -0x1p-149f, 1e-30f, 3.0f};
  for (int b = 0; b < 4; ++b)
    for (int i = 0; i < 64; ++i) x.push_back(i % 8 <= b ? specials[i % 8] : 0.01f * static_cast<float>(i));
  const int64_t rows = static_cast<int64_t>(x.size()) / 64;
  std::vector<float> ref = x, cpu = x;
  b.reference->fp4_round_trip(Tensor::contiguous(DType::kF32, rows, 64, ref.data()), 32);
  b.cpu->fp4_round_trip(Tensor::contiguous(DType::kF32, rows, 64, cpu.data()), 32);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(cpu[i]), std::bit_cast<uint32_t>(ref[i])) << "value " << x[i] << " at " << i;
}

TEST_P(CpuConformance, IndexerTopkMatchesReference) {
  Backends b(GetParam());
  const int64_t heads = 4, dim = 64;
  for (int64_t start : {0, 5, 40}) {
    for (int64_t T : {1, 6}) {
      const int64_t length = start + T, top_k = 7;
      const auto q = random_floats(static_cast<size_t>(T * heads * dim), static_cast<uint32_t>(start + T));
      const auto w = random_floats(static_cast<size_t>(T * heads), 14);
      const auto keys = random_floats(static_cast<size_t>(length * dim), 15);
      auto run = [&](Backend& be) {
        std::vector<int32_t> selected(static_cast<size_t>(T * top_k), 99);
        const Tensor key_rows = Tensor::contiguous(DType::kF32, length, dim, const_cast<float*>(keys.data()));
        be.indexer_topk({.selected = Tensor::contiguous(DType::kI32, T, top_k, selected.data()),
                         .q = Tensor::contiguous(DType::kF32, T, heads * dim, const_cast<float*>(q.data())),
                         .weights = Tensor::contiguous(DType::kF32, T, heads, const_cast<float*>(w.data())),
                         .keys = LatentRows::contiguous(key_rows), .n_heads = heads, .head_dim = dim,
                         .top_k = top_k, .start_pos = start, .weight_scale = 0.0625f});
        return selected;
      };
      EXPECT_EQ(run(*b.cpu), run(*b.reference)) << "start " << start << " T " << T;
    }
  }
}

TEST_P(CpuConformance, MlaAttentionOverSelectedPositions) {
  Backends b(GetParam());
  const int64_t H = 3, nope = 16, rope = 8, v = 12, lora = 40, start = 9, T = 3, width = 4;
  Weight kv_b = make_weight(DType::kBF16, H * (nope + v), lora, 24);
  auto q = random_floats(static_cast<size_t>(T * H * (nope + rope)), 25);
  auto latent = random_floats(static_cast<size_t>((start + T) * (lora + rope)), 26);
  std::vector<int32_t> visible = {0, 3, 8, -1, /**/ 2, 5, 9, 10, /**/ 11, -1, -1, -1};
  for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed}) {
    auto run = [&](Backend& be) {
      auto w = be.prepare_weight(kv_b.view);
      std::vector<float> out(static_cast<size_t>(T * H * v));
      be.mla_attention({.out = Tensor::contiguous(DType::kF32, T, H * v, out.data()),
                        .q = Tensor::contiguous(DType::kF32, T, H * (nope + rope), q.data()),
                        .latent = LatentRows::contiguous(
                            Tensor::contiguous(DType::kF32, start + T, lora + rope, latent.data())),
                        .kv_b = w->get(), .n_heads = H, .nope_dim = nope, .rope_dim = rope, .v_head_dim = v,
                        .kv_lora_rank = lora, .start_pos = start, .softmax_scale = 0.2f, .form = form,
                        .visible = Tensor::contiguous(DType::kI32, T, width, visible.data())});
      return out;
    };
    EXPECT_LE(rel_error(run(*b.cpu), run(*b.reference)), 1e-5)
        << (form == MlaForm::kAbsorbed ? "absorbed" : "expanded");
  }
}

// A small MoE layer (8 routed experts, top 3 in groups, one shared expert) stored as
// `dtype`, the shared expert as `shared_dtype` (V4: FP4 routed experts, an FP8 shared one).
// kInter spans two of the CPU backend's row chunks for experts with few tokens (32 groups
// of eight rows each, the last one partial); `inter` sets another width.
struct MoeLayer {
  static constexpr int64_t kHidden = 64, kInter = 288, kExperts = 8;
  Weight router = make_weight(DType::kF32, kExperts, kHidden, 31);
  Weight bias = make_weight(DType::kF32, 1, kExperts, 99);
  std::vector<Weight> tensors;  // gate, up, down of each routed expert, then of the shared one

  explicit MoeLayer(DType dtype) : MoeLayer(dtype, dtype) {}
  MoeLayer(DType dtype, DType shared_dtype, int64_t routed_inter = kInter) {
    bias.view.shape = {kExperts};
    for (int i = 0; i < 3 * kExperts + 3; ++i) {
      const bool routed = i < 3 * kExperts;
      const int64_t inter = routed ? routed_inter : 2 * kInter;
      const DType type = routed ? dtype : shared_dtype;
      tensors.push_back(i % 3 == 2 ? make_weight(type, kHidden, inter, 40 + i)
                                   : make_weight(type, inter, kHidden, 40 + i));
    }
  }

  // The layer's weights prepared for one backend: packed on their first product there.
  struct Prepared {
    std::vector<std::unique_ptr<PreparedWeight>> owned;
    std::vector<FfnWeights> experts;
    FfnWeights shared;
    const PreparedWeight *router, *bias;
  };
  Prepared prepare(Backend& be) const {
    Prepared p;
    auto prep = [&](const Weight& w) {
      p.owned.push_back(std::move(be.prepare_weight(w.view)).value());
      return p.owned.back().get();
    };
    for (int e = 0; e < kExperts; ++e)
      p.experts.push_back({prep(tensors[3 * e]), prep(tensors[3 * e + 1]), prep(tensors[3 * e + 2])});
    const int64_t s = 3 * kExperts;
    p.shared = {prep(tensors[s]), prep(tensors[s + 1]), prep(tensors[s + 2])};
    p.router = prep(router);
    p.bias = prep(bias);
    return p;
  }

  // out [T, hidden] for x [T, hidden].
  std::vector<float> run(Backend& be, const Prepared& p, float* x, int64_t T) const {
    std::vector<float> out(static_cast<size_t>(T * kHidden));
    be.moe_ffn({.out = Tensor::contiguous(DType::kF32, T, kHidden, out.data()),
                .x = Tensor::contiguous(DType::kF32, T, kHidden, x), .router = p.router,
                .selection_bias = p.bias, .experts = p.experts, .shared = p.shared,
                .spec = {.scoring = RouterScoring::kSigmoid, .selection = RouterSelection::kGroupTop2SumTopK,
                         .top_k = 3, .n_group = 4, .topk_group = 2, .normalize = true, .weight_scale = 2.5f}});
    return out;
  }
  // The same with weights prepared for this call alone.
  std::vector<float> run(Backend& be, float* x, int64_t T) const { return run(be, prepare(be), x, T); }
};

TEST_P(CpuConformance, MoeFfnMatchesReference) {
  Backends b(GetParam());
  const int64_t T = 6;
  for (DType dtype : {DType::kBF16, DType::kQ4_0, DType::kFP4E2M1}) {
    const MoeLayer layer(dtype);
    auto x = random_floats(static_cast<size_t>(T * MoeLayer::kHidden), 32);
    EXPECT_LE(rel_error(layer.run(*b.cpu, x.data(), T), layer.run(*b.reference, x.data(), T)), tolerance(dtype))
        << dtype_name(dtype);
  }
}

// Routed experts of 150 groups of rows (chunks of 64, 64 and 22 groups where the threads
// take long chunks, of 32 elsewhere): one thread with one token and four takes the long
// chunks (two chunks a routed expert are enough for it), two threads with one token the
// short ones and with four the long ones (four experts or more).
TEST_P(CpuConformance, MoeFfnInLongAndShortChunksMatchesReference) {
  for (const int threads : {1, 2}) {
    Backends b(GetParam(), threads);
    for (const int64_t T : {1, 4})
      for (DType dtype : {DType::kQ8_0, DType::kQ4_0}) {
        const MoeLayer layer(dtype, dtype, 8 * 150);
        auto x = random_floats(static_cast<size_t>(T * MoeLayer::kHidden), 34);
        EXPECT_LE(rel_error(layer.run(*b.cpu, x.data(), T), layer.run(*b.reference, x.data(), T)), tolerance(dtype))
            << dtype_name(dtype) << ", " << threads << " threads, " << T << " tokens";
      }
  }
}

// Batch invariance: the server batches the decode steps of unrelated requests, and a
// request's greedy output must be the same alone or batched. So each op's output row for
// a token must equal, bitwise, the same op run on that token alone, whatever path (one
// token or groups of four, tokens grouped by expert) the batch takes.

TEST_P(CpuConformance, MatmulRowsDoNotDependOnBatch) {
  Backends b(GetParam());
  constexpr int64_t kMaxT = 9;
  for (DType dtype : kFormats) for (int64_t N : {37, 40}) {
    const int64_t K = odd_cols(dtype);
    Weight w = make_weight(dtype, N, K, 5);
    auto x = random_floats(static_cast<size_t>(kMaxT * K), 6);
    for (bool block_scaled : {true, false}) {
      if (!block_scaled && dtype != DType::kF8E4M3) continue;
      if (!block_scaled) w.view.scales = {};
      auto prepared = std::move(b.cpu->prepare_weight(w.view)).value();
      auto run = [&](float* rows, int64_t T) {
        std::vector<float> out(static_cast<size_t>(T * N));
        b.cpu->matmul(Tensor::contiguous(DType::kF32, T, N, out.data()),
                      Tensor::contiguous(DType::kF32, T, K, rows), *prepared);
        return out;
      };
      std::vector<std::vector<float>> alone;
      for (int64_t t = 0; t < kMaxT; ++t) alone.push_back(run(x.data() + t * K, 1));
      for (int64_t T = 1; T <= kMaxT; ++T) {
        const auto batched = run(x.data(), T);
        for (int64_t t = 0; t < T; ++t)
          EXPECT_TRUE(same_bits(batched.data() + t * N, alone[t].data(), N))
              << dtype_name(dtype) << (block_scaled ? "" : " unscaled") << " N=" << N << " T=" << T << " token "
              << t;
      }
    }
  }
}

// Weights packed while loading (servers) or on their first matmul give the same bits.
TEST_P(CpuConformance, PackingAtLoadMatchesPackingOnFirstUse) {
  auto at_load = std::move(make_cpu_backend({.threads = 2, .isa = GetParam(), .pack_at_load = true})).value();
  auto on_use = std::move(make_cpu_backend({.threads = 2, .isa = GetParam()})).value();
  constexpr int64_t N = 48, K = 96, T = 6;
  for (DType dtype : {DType::kQ8_0, DType::kQ4_0, DType::kBF16}) {
    const Weight w = make_weight(dtype, N, K, 61);
    auto x = random_floats(static_cast<size_t>(T * K), 62);
    std::vector<float> a(static_cast<size_t>(T * N)), b(a.size());
    auto wa = std::move(at_load->prepare_weight(w.view)).value();
    auto wb = std::move(on_use->prepare_weight(w.view)).value();
    at_load->matmul(Tensor::contiguous(DType::kF32, T, N, a.data()), Tensor::contiguous(DType::kF32, T, K, x.data()), *wa);
    on_use->matmul(Tensor::contiguous(DType::kF32, T, N, b.data()), Tensor::contiguous(DType::kF32, T, K, x.data()), *wb);
    EXPECT_TRUE(same_bits(a.data(), b.data(), T * N)) << dtype_name(dtype);
  }
}

// Weights read from a file mapping: float formats are copied into huge pages at their
// first matmul and integer ones repacked, the file pages dropped either way, from the
// page cache too for a model too large to stay cached beside its copy. Results are the
// bits of the same weight in ordinary memory, the first time and after, and the mapping
// still reads back the file's bytes.
TEST_P(CpuConformance, FileBackedWeightsMatchInMemoryOnes) {
  auto backend = std::move(make_cpu_backend({.threads = 2, .isa = GetParam()})).value();
  constexpr int64_t N = 40, K = 4096, T = 3;  // 320 KiB of FP8: whole pages to drop
  const auto path = std::filesystem::temp_directory_path() / ("dsinfer_file_backed_" + GetParam() + ".bin");
  const int64_t memory = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  for (const auto [dtype, model_bytes] : {std::pair{DType::kBF16, int64_t{0}}, {DType::kF8E4M3, int64_t{0}},
                                          {DType::kQ4_0, int64_t{0}}, {DType::kBF16, memory / 2 + 1},
                                          {DType::kF8E4M3, memory / 2 + 1}, {DType::kQ4_0, memory}}) {
    const Weight w = make_weight(dtype, N, K, 71);
    {
      std::ofstream file(path, std::ios::binary);
      file.write(reinterpret_cast<const char*>(w.bytes.data()), static_cast<std::streamsize>(w.bytes.size()));
    }
    auto mapped = MappedFile::open(path.string());
    ASSERT_TRUE(mapped.is_ok()) << mapped.status().message();
    WeightView view = w.view;
    view.data = mapped.value().data();
    view.file_backed = true;
    view.model_bytes = model_bytes;
    EXPECT_EQ(cpu::copy_outgrows_page_cache(view), model_bytes > memory / 2) << model_bytes << " of " << memory;
    auto x = random_floats(static_cast<size_t>(T * K), 72);
    auto run = [&](const WeightView& v, int times) {
      auto prepared = std::move(backend->prepare_weight(v)).value();
      std::vector<float> out(static_cast<size_t>(T * N));
      for (int i = 0; i < times; ++i)
        backend->matmul(Tensor::contiguous(DType::kF32, T, N, out.data()), Tensor::contiguous(DType::kF32, T, K, x.data()),
                        *prepared);
      return out;
    };
    const auto expected = run(w.view, 1);
    const std::string which = std::string(dtype_name(dtype)) + " of a " + std::to_string(model_bytes) + "-byte model";
    EXPECT_TRUE(same_bits(run(view, 1).data(), expected.data(), T * N)) << which << ", first matmul";
    EXPECT_TRUE(same_bits(run(view, 2).data(), expected.data(), T * N)) << which << ", second matmul";
    EXPECT_EQ(std::memcmp(mapped.value().data(), w.bytes.data(), w.bytes.size()), 0) << which;
  }
  std::filesystem::remove(path);
}

// R rows of a float format read side by side give each row the bits of its one-row
// kernel (BF16: dot_bf16, F32, a router's: dot_f32), over a length (301) with a tail after
// the 32-value steps and after the 8-value ones.
template <typename Value, int R, typename DotR, typename Dot1>
void expect_rows_match_one(DType dtype, DotR dot_rows, Dot1 dot1) {
  constexpr int64_t n = 301;
  const Weight w = make_weight(dtype, R, n, 55);
  const auto x = random_floats(static_cast<size_t>(n), 56);
  const auto* rows = reinterpret_cast<const Value*>(w.bytes.data());
  const Value* side_by_side[R];
  for (int r = 0; r < R; ++r) side_by_side[r] = rows + r * n;
  float results[R];
  dot_rows(side_by_side, x.data(), n, results);
  for (int r = 0; r < R; ++r) {
    const float one = dot1(side_by_side[r], x.data(), n);
    EXPECT_TRUE(same_bits(&results[r], &one, 1)) << dtype_name(dtype) << " row " << r << " of " << R;
  }
}

TEST_P(CpuConformance, FloatRowsSideBySideMatchOneRow) {
  const cpu::Kernels& k = *cpu::select_kernels(GetParam());
  if (!k.dot2_bf16 && !k.dot2_f32) GTEST_SKIP() << "table " << k.isa << " has no two-row float kernels";
  if (k.dot2_bf16) expect_rows_match_one<uint16_t, 2>(DType::kBF16, k.dot2_bf16, k.dot_bf16);
  if (k.dot_four_rows_bf16) expect_rows_match_one<uint16_t, 4>(DType::kBF16, k.dot_four_rows_bf16, k.dot_bf16);
  if (k.dot2_f32) expect_rows_match_one<float, 2>(DType::kF32, k.dot2_f32, k.dot_f32);
}

// The kernel contract beneath it: a four-token kernel's result for each token equals,
// bitwise, the single-row kernel's. Sizes leave partial vectors (301 BF16 values) and a
// block count (9) that no grouping of blocks divides.
TEST_P(CpuConformance, FourTokenKernelsMatchSingleRowKernels) {
  const cpu::Kernels& k = *cpu::select_kernels(GetParam());
  constexpr int64_t n = 301, blocks = 9;
  const Weight bf16 = make_weight(DType::kBF16, 1, n, 51);
  const Weight q8 = make_weight(DType::kQ8_0, 1, 32 * blocks, 52);
  const Weight q4 = make_weight(DType::kQ4_0, 1, 32 * blocks, 53);
  const auto x = random_floats(static_cast<size_t>(4 * n), 54);
  std::vector<cpu::ActBlockQ8> xq(static_cast<size_t>(4 * blocks));
  for (int t = 0; t < 4; ++t) k.quantize_act_q8(x.data() + t * n, xq.data() + t * blocks, 32 * blocks);
  const auto* wb = reinterpret_cast<const uint16_t*>(bf16.bytes.data());
  const auto* w8 = reinterpret_cast<const BlockQ8_0*>(q8.bytes.data());
  const auto* w4 = reinterpret_cast<const BlockQ4_0*>(q4.bytes.data());
  float four[4];
  k.dot4_bf16(wb, x.data(), n, n, four);
  for (int t = 0; t < 4; ++t) {
    const float one = k.dot_bf16(wb, x.data() + t * n, n);
    EXPECT_TRUE(same_bits(&four[t], &one, 1)) << "bf16 token " << t;
  }
  k.dot4_q8_0(w8, xq.data(), blocks, blocks, four);
  for (int t = 0; t < 4; ++t) {
    const float one = k.dot_q8_0(w8, xq.data() + t * blocks, blocks);
    EXPECT_TRUE(same_bits(&four[t], &one, 1)) << "q8_0 token " << t;
  }
  k.dot4_q4_0(w4, xq.data(), blocks, blocks, four);
  for (int t = 0; t < 4; ++t) {
    const float one = k.dot_q4_0(w4, xq.data() + t * blocks, blocks);
    EXPECT_TRUE(same_bits(&four[t], &one, 1)) << "q4_0 token " << t;
  }
  if (!k.dot4_f8e4m3) return;
  // FP8 with 128-value scale blocks, the last one 56 values (a 32-value group, a 16-value
  // group and a scalar tail), and without scales (one block of 312: 9 groups and 24).
  constexpr int64_t n8 = 312;
  const Weight f8 = make_weight(DType::kF8E4M3, 1, n8, 55);
  const auto x8 = random_floats(static_cast<size_t>(4 * n8), 56);
  for (const float* scales : {static_cast<const float*>(nullptr), f8.scales.data()}) {
    k.dot4_f8e4m3(f8.bytes.data(), x8.data(), n8, n8, scales, 128, four);
    for (int t = 0; t < 4; ++t) {
      const float one = k.dot_f8e4m3(f8.bytes.data(), x8.data() + t * n8, n8, scales, 128);
      EXPECT_TRUE(same_bits(&four[t], &one, 1)) << "f8e4m3 token " << t << (scales ? " with scales" : "");
    }
  }
}

// The attention tiles against their definition (kernels.h), written out with std::fma:
// bitwise, for every tile height (one to eight queries for the scores, to four for the
// value sums), with d and key counts that leave partial vectors and
// blocks, and full-mantissa values (so a different order or a separate rounding shows).
// Seven key blocks and 59 columns pass through every tile width of the 8- and 16-lane
// tables (four, two and one blocks; 32, 16 and 8 columns and single ones).
TEST_P(CpuConformance, AttentionTilesAreFmaChainsInOrder) {
  const cpu::Kernels& k = *cpu::select_kernels(GetParam());
  constexpr int64_t d = 37, n_keys = 21, n_blocks = 7, v_cols = 59, v_stride = 61;
  const auto q = random_floats(cpu::kMaxScoreQueries * d, 61);
  const auto keys_t = random_floats(n_blocks * d * 8, 62);
  const auto p = random_floats(4 * n_keys, 63);
  const auto v = random_floats(n_keys * v_stride, 64);
  for (int nq = 1; nq <= cpu::kMaxScoreQueries; ++nq) {
    const float* rows[cpu::kMaxScoreQueries];
    for (int j = 0; j < cpu::kMaxScoreQueries; ++j) rows[j] = q.data() + j * d;
    std::vector<float> scores(cpu::kMaxScoreQueries * 8 * n_blocks, -1.0f), sums(4 * v_cols, -1.0f);
    k.key_block_scores(rows, nq, keys_t.data(), d, n_blocks, 0.3f, scores.data(), 8 * n_blocks);
    if (nq <= 4) k.value_row_sums(p.data(), n_keys, nq, v.data(), v_stride, n_keys, v_cols, sums.data(), v_cols);
    for (int j = 0; j < nq; ++j) {
      for (int64_t key = 0; key < 8 * n_blocks; ++key) {
        float s = 0.0f;
        for (int64_t c = 0; c < d; ++c) s = std::fma(q[j * d + c], keys_t[((key / 8) * d + c) * 8 + key % 8], s);
        s *= 0.3f;
        EXPECT_TRUE(same_bits(&scores[j * 8 * n_blocks + key], &s, 1)) << "nq " << nq << " query " << j << " key " << key;
      }
      for (int64_t c = 0; c < (nq <= 4 ? v_cols : 0); ++c) {
        float s = 0.0f;
        for (int64_t i = 0; i < n_keys; ++i) s = std::fma(p[j * n_keys + i], v[i * v_stride + c], s);
        EXPECT_TRUE(same_bits(&sums[j * v_cols + c], &s, 1)) << "nq " << nq << " query " << j << " column " << c;
      }
    }
  }
}

// Several heads' weighted sums of the same rows against their definition: per head and
// column, a multiply then an add onto the sum so far, rows in order from zero (the
// product kept apart through a volatile, so no fused multiply-add stands in). Bitwise,
// for one to eleven heads (groups of eight and a rest), 70 rows (passes of 32 and a
// partial one), 51 columns (a 32-column block, a 16-column one and single ones), rows
// scattered in memory, and no rows at all.
TEST_P(CpuConformance, WeightedSumsOfHeadsAreEachHeadsChain) {
  const cpu::Kernels& k = *cpu::select_kernels(GetParam());
  if (!k.weighted_sums) GTEST_SKIP() << "table " << k.isa << " sums one head at a time";
  constexpr int64_t n_rows = 70, d = 51, row_stride = 67, p_stride = 73, o_stride = 59;
  const auto values = random_floats(n_rows * row_stride, 65);
  const auto p = random_floats(11 * p_stride, 66);
  std::vector<const float*> rows;
  for (int64_t i = 0; i < n_rows; ++i) rows.push_back(values.data() + (i * 29 % n_rows) * row_stride);
  for (int n_heads = 1; n_heads <= 11; ++n_heads)
    for (int64_t used_rows : {n_rows, int64_t{0}}) {
      std::vector<float> o(static_cast<size_t>(n_heads * o_stride), -1.0f);
      k.weighted_sums(o.data(), o_stride, p.data(), p_stride, n_heads, rows.data(), used_rows, d, false);
      for (int h = 0; h < n_heads; ++h)
        for (int64_t c = 0; c < d; ++c) {
          float sum = 0.0f;
          for (int64_t i = 0; i < used_rows; ++i) {
            volatile float product = p[h * p_stride + i] * rows[i][c];
            sum += product;
          }
          EXPECT_TRUE(same_bits(&o[h * o_stride + c], &sum, 1))
              << n_heads << " heads, " << used_rows << " rows: head " << h << " column " << c;
        }
    }
}

// The kernels whose sums keep a plain loop's order (V4's sink attention: its FP8
// roundings turn any other order into a different token now and then) against their
// definitions: per output a multiply, then an add onto the sum so far, in index order
// from zero (the product kept apart through a volatile). Bitwise: sequential_dots8 over 37
// columns (whole blocks of eight and of four, and a tail), sequential_dots_heads8 for one
// to kMaxHeadDotRows rows, weighted_sum over 70 columns (blocks of 64 or 32, whole
// vectors, single ones), rows scattered in memory.
TEST_P(CpuConformance, SequentialSumsAreChainsInOrder) {
  const cpu::Kernels& k = *cpu::select_kernels(GetParam());
  if (!k.sequential_dots8 || !k.sequential_dots_heads8 || !k.weighted_sum)
    GTEST_SKIP() << "table " << k.isa << " leaves these sums to its callers' loops";
  constexpr int64_t n = 37, n_rows = 13, d = 70, width = 96;
  const auto q = random_floats(8 * n, 71);  // a query of n values, or eight as columns
  const auto values = random_floats(n_rows * width, 72);
  const auto p = random_floats(n_rows, 73);
  std::vector<const float*> rows;
  for (int64_t i = 0; i < n_rows; ++i) rows.push_back(values.data() + (i * 5 % n_rows) * width);
  auto chain = [](int64_t count, auto term) {
    float sum = 0.0f;
    for (int64_t c = 0; c < count; ++c) {
      volatile float product = term(c);
      sum += product;
    }
    return sum;
  };
  float dots[8];
  k.sequential_dots8(q.data(), rows.data(), n, dots);
  for (int i = 0; i < 8; ++i) {
    const float expected = chain(n, [&](int64_t c) { return q[c] * rows[i][c]; });
    EXPECT_TRUE(same_bits(&dots[i], &expected, 1)) << "sequential_dots8 row " << i;
  }
  for (int n_dot_rows = 1; n_dot_rows <= cpu::kMaxHeadDotRows; ++n_dot_rows) {
    std::vector<float> out(static_cast<size_t>(8 * n_dot_rows) + 1, 99.0f);
    k.sequential_dots_heads8(q.data(), rows.data(), n_dot_rows, n, out.data());
    for (int r = 0; r < n_dot_rows; ++r)
      for (int j = 0; j < 8; ++j) {
        const float expected = chain(n, [&](int64_t c) { return q[8 * c + j] * rows[r][c]; });
        EXPECT_TRUE(same_bits(&out[8 * r + j], &expected, 1)) << n_dot_rows << " rows: row " << r << " head " << j;
      }
    EXPECT_EQ(out.back(), 99.0f) << n_dot_rows << " rows: wrote past the last";
  }
  std::vector<float> o(d + 1, 99.0f);
  k.weighted_sum(o.data(), p.data(), rows.data(), n_rows, d);
  for (int64_t c = 0; c < d; ++c) {
    const float expected = chain(n_rows, [&](int64_t i) { return p[i] * rows[i][c]; });
    EXPECT_TRUE(same_bits(&o[c], &expected, 1)) << "weighted_sum column " << c;
  }
  EXPECT_EQ(o.back(), 99.0f) << "weighted_sum wrote past column " << d - 1;
}

// weighted_sums carried on over a second call (`onward`) has the bits of one call over
// all the rows, and weighted_sums_stored over F16, BF16 or Q8_0 rows the bits of
// weighted_sums over their widened values: 1-11 heads, 70 rows split at 40 (inside a pass
// of 32), 80 columns summed of 96 stored (blocks of 32 and 16 columns, single ones).
TEST_P(CpuConformance, WeightedSumsGoOnAndReadStoredRows) {
  const cpu::Kernels& k = *cpu::select_kernels(GetParam());
  if (!k.weighted_sums) GTEST_SKIP() << "table " << k.isa << " sums one head at a time";
  constexpr int64_t n_rows = 70, width = 96, d = 83, split = 40, p_stride = 73, o_stride = 91;
  const auto values = random_floats(n_rows * width, 67);
  const auto p = random_floats(11 * p_stride, 68);
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    const size_t row_bytes = dtype_bytes(dtype, width);
    std::vector<uint8_t> stored(n_rows * row_bytes);
    std::vector<float> widened(static_cast<size_t>(n_rows * width));
    encode_values(dtype, values.data(), stored.data(), widened.size());
    decode_values(dtype, stored.data(), widened.data(), widened.size());
    std::vector<const float*> rows;
    std::vector<const void*> stored_rows;
    for (int64_t i = 0; i < n_rows; ++i) {
      rows.push_back(widened.data() + i * width);
      stored_rows.push_back(stored.data() + i * row_bytes);
    }
    for (int n_heads = 1; n_heads <= 11; ++n_heads) {
      std::vector<float> whole(static_cast<size_t>(n_heads * o_stride), -1.0f), parts = whole, as_stored = whole;
      k.weighted_sums(whole.data(), o_stride, p.data(), p_stride, n_heads, rows.data(), n_rows, d, false);
      k.weighted_sums(parts.data(), o_stride, p.data(), p_stride, n_heads, rows.data(), split, d, false);
      k.weighted_sums(parts.data(), o_stride, p.data() + split, p_stride, n_heads, rows.data() + split, n_rows - split,
                      d, true);
      EXPECT_EQ(parts, whole) << dtype_name(dtype) << ", " << n_heads << " heads in two calls";
      if (dtype == DType::kF32) continue;
      ASSERT_TRUE(k.weighted_sums_stored && k.weighted_sums_stored(dtype, as_stored.data(), o_stride, p.data(), p_stride,
                                                                   n_heads, stored_rows.data(), n_rows, d))
          << "table " << k.isa << " sums float32 rows but not " << dtype_name(dtype);
      EXPECT_EQ(as_stored, whole) << dtype_name(dtype) << ", " << n_heads << " heads";
    }
  }
}

// widen_stored widens every F16 and BF16 value but NaNs, and Q8_0 blocks of random
// values, as decode_values does; a count that leaves a partial vector for the 16-bit ones.
TEST_P(CpuConformance, WidenedStoredValuesAreExact) {
  const cpu::Kernels& k = *cpu::select_kernels(GetParam());
  if (!k.widen_stored) GTEST_SKIP() << "table " << k.isa << " widens with decode_values";
  std::vector<uint16_t> codes;
  for (uint32_t h = 0; h < 65536; ++h) codes.push_back(static_cast<uint16_t>(h));
  const auto values = random_floats(32 * 41, 69, 40.0f);
  std::vector<uint8_t> blocks(dtype_bytes(DType::kQ8_0, static_cast<int64_t>(values.size())));
  encode_values(DType::kQ8_0, values.data(), blocks.data(), values.size());
  for (DType dtype : {DType::kF16, DType::kBF16, DType::kQ8_0}) {
    const bool half = dtype != DType::kQ8_0;
    const void* stored = half ? static_cast<const void*>(codes.data()) : blocks.data();
    const int64_t n = half ? static_cast<int64_t>(codes.size()) - 3 : static_cast<int64_t>(values.size());
    std::vector<float> widened(static_cast<size_t>(n)), expected(static_cast<size_t>(n));
    if (!k.widen_stored(dtype, stored, widened.data(), n)) continue;  // this format takes decode_values
    decode_values(dtype, stored, expected.data(), static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(expected[i])) continue;
      ASSERT_TRUE(same_bits(&widened[i], &expected[i], 1)) << dtype_name(dtype) << " value " << i;
    }
  }
}

// The softmax exponentials against exp in double precision, over the range softmax
// meets (shifted scores <= 0, down past where float exp underflows) and a little above,
// with a count that leaves a partial vector.
TEST_P(CpuConformance, ExpAndSumIsCloseToExp) {
  const cpu::Kernels& k = *cpu::select_kernels(GetParam());
  constexpr int64_t n = 203;
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = -100.0f + 0.51f * static_cast<float>(i) + 0.013f * static_cast<float>(i % 7);
  const float shift = 1.5f;
  std::vector<float> got = v;
  const float sum = k.exp_and_sum(got.data(), n, shift);
  double expected_sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(v[i] - shift);
    const double expected = std::exp(x);
    expected_sum += expected;
    if (x < -87.3) {
      EXPECT_LE(got[i], 2e-38f) << "x = " << x;
    } else {
      EXPECT_NEAR(got[i], expected, 4e-7 * expected) << "x = " << x;
    }
  }
  EXPECT_NEAR(sum, expected_sum, 1e-6 * expected_sum);
}

// Backend::matmuls: each product with the bits of its own matmul, with outputs in column
// slices of one buffer, products sharing an x, packed weights beside float-format ones
// (BF16) and beside ones with neither form (37 rows of a block format), 1 and 5 tokens.
TEST_P(CpuConformance, MatmulsHaveTheBitsOfMatmul) {
  Backends b(GetParam());
  for (DType dtype : kFormats)
    for (int64_t T : {1, 5}) {
      const int64_t K = odd_cols(dtype);
      const Weight weights[] = {make_weight(dtype, 40, K, 61), make_weight(dtype, 24, K, 62),
                                make_weight(DType::kBF16, 37, K, 63), make_weight(dtype, 37, K, 64)};
      const int64_t rows[] = {40, 24, 37, 37}, total = 40 + 24 + 37 + 37;
      std::vector<std::unique_ptr<PreparedWeight>> prepared;
      for (const Weight& w : weights) prepared.push_back(std::move(b.cpu->prepare_weight(w.view)).value());
      auto x1 = random_floats(static_cast<size_t>(T * K), 65), x2 = random_floats(static_cast<size_t>(T * K), 66);
      const Tensor inputs[] = {Tensor::contiguous(DType::kF32, T, K, x1.data()),
                               Tensor::contiguous(DType::kF32, T, K, x2.data())};
      std::vector<float> together(static_cast<size_t>(T * total)), alone(together.size());
      auto out = [&](std::vector<float>& buffer, int i) {
        int64_t col = 0;
        for (int j = 0; j < i; ++j) col += rows[j];
        return Tensor::contiguous(DType::kF32, T, total, buffer.data()).col_slice(col, rows[i]);
      };
      std::vector<MatmulTask> tasks;
      for (int i = 0; i < 4; ++i) tasks.push_back({out(together, i), inputs[i == 2], prepared[i].get()});
      b.cpu->matmuls(tasks);
      for (int i = 0; i < 4; ++i) b.cpu->matmul(out(alone, i), inputs[i == 2], *prepared[i]);
      EXPECT_TRUE(same_bits(together.data(), alone.data(), T * total)) << dtype_name(dtype) << " T=" << T;
    }
}

void expect_moe_rows_do_not_depend_on_batch(Backends& b, int64_t T) {
  const int64_t hidden = MoeLayer::kHidden;
  const std::pair<DType, DType> kinds[] = {{DType::kBF16, DType::kBF16},   {DType::kQ8_0, DType::kQ8_0},
                                           {DType::kQ4_0, DType::kQ4_0},   {DType::kFP4E2M1, DType::kFP4E2M1},
                                           {DType::kF8E4M3, DType::kF8E4M3}, {DType::kFP4E2M1, DType::kF8E4M3}};
  for (const auto& [dtype, shared_dtype] : kinds) {
    const MoeLayer layer(dtype, shared_dtype);
    auto x = random_floats(static_cast<size_t>(T * hidden), 33);
    const MoeLayer::Prepared weights = layer.prepare(*b.cpu);
    const auto batched = layer.run(*b.cpu, weights, x.data(), T);
    for (int64_t t = 0; t < T; ++t) {
      const auto where = [&] {
        return std::to_string(T) + " tokens, " + std::string(dtype_name(dtype)) + " with a " +
               std::string(dtype_name(shared_dtype)) + " shared expert, token " + std::to_string(t);
      };
      // With weights the batch has packed, and with fresh ones (packed by this step).
      EXPECT_TRUE(same_bits(batched.data() + t * hidden, layer.run(*b.cpu, weights, x.data() + t * hidden, 1).data(),
                            hidden))
          << where();
      EXPECT_TRUE(same_bits(batched.data() + t * hidden, layer.run(*b.cpu, x.data() + t * hidden, 1).data(), hidden))
          << where() << ", fresh weights";
    }
  }
}

// 33 tokens give some expert more than eight, so the batch runs whole experts per thread
// and the shared expert on its own; 10 leave each routed expert eight or fewer, so the
// threads share every expert's rows, the shared expert's ten tokens among them; each
// token alone is routed inside that loop while the shared expert streams, its routed
// experts in the same loop where the batch packed them, in one after it where they are
// fresh.
TEST_P(CpuConformance, MoeFfnRowsDoNotDependOnBatch) {
  Backends b(GetParam());
  for (const int64_t T : {10, 33}) expect_moe_rows_do_not_depend_on_batch(b, T);
}

// Tokens of one sequence, attended as one chunk or one by one at their positions; 70
// tokens span several blocks of queries and chunks of keys and value columns.
TEST_P(CpuConformance, MlaAttentionRowsDoNotDependOnBatch) {
  Backends b(GetParam());
  const int64_t H = 3, nope = 16, rope = 8, start = 5, lora = 64;
  struct Shape {
    int64_t v, T;
  };
  for (const auto [v, T] : {Shape{12, 6}, Shape{40, 70}})
  for (DType dtype : {DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    Weight kv_b = make_weight(dtype, H * (nope + v), lora, 24);
    auto w = std::move(b.cpu->prepare_weight(kv_b.view)).value();
    auto q = random_floats(static_cast<size_t>(T * H * (nope + rope)), 25);
    auto latent = random_floats(static_cast<size_t>((start + T) * (lora + rope)), 26);
    for (MlaForm form : {MlaForm::kExpanded, MlaForm::kAbsorbed}) {
      // Output rows for queries [first, first + count).
      auto run = [&](int64_t first, int64_t count) {
        std::vector<float> out(static_cast<size_t>(count * H * v));
        const Tensor rows = Tensor::contiguous(DType::kF32, start + first + count, lora + rope, latent.data());
        b.cpu->mla_attention({.out = Tensor::contiguous(DType::kF32, count, H * v, out.data()),
                              .q = Tensor::contiguous(DType::kF32, count, H * (nope + rope),
                                                      q.data() + first * H * (nope + rope)),
                              .latent = LatentRows::contiguous(rows), .kv_b = w.get(), .n_heads = H,
                              .nope_dim = nope, .rope_dim = rope, .v_head_dim = v, .kv_lora_rank = lora,
                              .start_pos = start + first, .softmax_scale = 0.2f, .form = form});
        return out;
      };
      const auto batched = run(0, T);
      for (int64_t t = 0; t < T; ++t)
        EXPECT_TRUE(same_bits(batched.data() + t * H * v, run(t, 1).data(), H * v))
            << dtype_name(dtype) << (form == MlaForm::kAbsorbed ? " absorbed" : " expanded") << " token " << t;
    }
  }
}

// A server step's attention in one mla_attentions call: every sequence gets the bits it
// gets alone. Heads of sixteen V rows take the packed W_v path, whose products then run
// for all the batch's decode rows at once (seventeen: the AMX tiles' twelve and more);
// among them a prefill chunk in expanded form, a decode row of two tokens and a BF16
// cache, which the batch widens per sequence.
TEST_P(CpuConformance, MlaAttentionsGiveEachSequenceItsOwnBits) {
  Backends b(GetParam());
  const int64_t H = 4, nope = 16, rope = 8, v = 16, lora = 64, width = lora + rope;
  struct Sequence {
    int64_t start, T;
    MlaForm form;
    DType cache;
  };
  std::vector<Sequence> batch;
  for (int64_t i = 0; i < 15; ++i) batch.push_back({3 + 2 * i, 1, MlaForm::kAbsorbed, DType::kF32});
  batch.insert(batch.begin() + 5, {4, 3, MlaForm::kExpanded, DType::kF32});
  batch.push_back({7, 2, MlaForm::kAbsorbed, DType::kF32});
  batch[9].cache = DType::kBF16;
  // Long contexts beside the short ones: one token, and two with a BF16 cache.
  batch.insert(batch.begin() + 3, {700, 1, MlaForm::kAbsorbed, DType::kF32});
  batch.push_back({600, 2, MlaForm::kAbsorbed, DType::kBF16});
  for (DType dtype : {DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    SCOPED_TRACE(dtype_name(dtype));
    Weight kv_b = make_weight(dtype, H * (nope + v), lora, 31);
    auto w = std::move(b.cpu->prepare_weight(kv_b.view)).value();
    std::vector<std::vector<float>> queries, latents, outs, alone;
    std::vector<std::vector<uint8_t>> stored;
    std::vector<Tensor> rows;
    rows.reserve(batch.size());  // LatentRows point at these
    std::vector<MlaAttentionArgs> args;
    for (size_t i = 0; i < batch.size(); ++i) {
      const Sequence& s = batch[i];
      const int64_t length = s.start + s.T;
      queries.push_back(random_floats(static_cast<size_t>(s.T * H * (nope + rope)), 40 + static_cast<int>(i)));
      latents.push_back(random_floats(static_cast<size_t>(length * width), 70 + static_cast<int>(i)));
      stored.emplace_back(dtype_bytes(s.cache, length * width));
      encode_values(s.cache, latents.back().data(), stored.back().data(), static_cast<size_t>(length * width));
      rows.push_back(Tensor::contiguous(s.cache, length, width, stored.back().data()));
      outs.emplace_back(static_cast<size_t>(s.T * H * v));
      alone.emplace_back(static_cast<size_t>(s.T * H * v));
      args.push_back({.out = Tensor::contiguous(DType::kF32, s.T, H * v, outs.back().data()),
                      .q = Tensor::contiguous(DType::kF32, s.T, H * (nope + rope), queries.back().data()),
                      .latent = LatentRows::contiguous(rows.back()), .kv_b = w.get(), .n_heads = H,
                      .nope_dim = nope, .rope_dim = rope, .v_head_dim = v, .kv_lora_rank = lora,
                      .start_pos = s.start, .softmax_scale = 0.2f, .form = s.form});
    }
    b.cpu->mla_attentions(args);
    for (size_t i = 0; i < batch.size(); ++i) {
      MlaAttentionArgs one = args[i];
      one.out = Tensor::contiguous(DType::kF32, batch[i].T, H * v, alone[i].data());
      b.cpu->mla_attention(one);
      EXPECT_TRUE(same_bits(outs[i].data(), alone[i].data(), static_cast<int64_t>(alone[i].size()))) << "sequence " << i;
    }
  }
}

// Absorbed form over a long context: the threads share out the score groups and the head
// groups of the sums (fewer heads to a group with more threads), and every head's chains
// stay the same, so the bits do not depend on the number of threads.
TEST_P(CpuConformance, MlaAttentionDoesNotDependOnThreads) {
  const int64_t H = 16, nope = 16, rope = 32, v = 16, lora = 64, width = lora + rope, T = 2, start = 1300;
  Weight kv_b = make_weight(DType::kQ8_0, H * (nope + v), lora, 61);
  auto q = random_floats(static_cast<size_t>(T * H * (nope + rope)), 62);
  auto latent = random_floats(static_cast<size_t>((start + T) * width), 63, 2.0f);
  const Tensor rows = Tensor::contiguous(DType::kF32, start + T, width, latent.data());
  auto run = [&](int threads) {
    Backends b(GetParam(), threads);
    auto w = std::move(b.cpu->prepare_weight(kv_b.view)).value();
    std::vector<float> out(static_cast<size_t>(T * H * v));
    b.cpu->mla_attention({.out = Tensor::contiguous(DType::kF32, T, H * v, out.data()),
                          .q = Tensor::contiguous(DType::kF32, T, H * (nope + rope), q.data()),
                          .latent = LatentRows::contiguous(rows),
                          .kv_b = w.get(), .n_heads = H, .nope_dim = nope, .rope_dim = rope, .v_head_dim = v,
                          .kv_lora_rank = lora, .start_pos = start, .softmax_scale = 0.3f,
                          .form = MlaForm::kAbsorbed});
    return out;
  };
  const auto one = run(1);
  for (int threads : {2, 3, 5})
    EXPECT_TRUE(same_bits(one.data(), run(threads).data(), T * H * v)) << threads << " threads";
}

INSTANTIATE_TEST_SUITE_P(Isa, CpuConformance, ::testing::ValuesIn(isas()));

TEST(CpuKernels, SelectsSimdWhereAvailable) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    const bool vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
    const bool amx = cpu::select_kernels("avx512-amx") != nullptr;
    EXPECT_EQ(cpu::select_kernels()->isa, amx ? "avx512-amx" : vnni ? "avx512-vnni" : "avx2");
    if (vnni)  // AMD's cores get the table whose far tiles fetch nearer ahead
      EXPECT_EQ(cpu::select_kernels("avx512-vnni"),
                __builtin_cpu_is("amd") ? &cpu::avx512_vnni_amd_kernels() : &cpu::avx512_vnni_kernels());
    if (!__builtin_cpu_supports("amx-int8")) EXPECT_FALSE(amx) << "AMX offered on a CPU without it";
  }
#endif
#if defined(__aarch64__)
  EXPECT_EQ(cpu::select_kernels()->isa, cpu::select_kernels("neon-dotprod") ? "neon-dotprod" : "neon");
#endif
  EXPECT_EQ(cpu::select_kernels("generic")->isa, "generic");
  EXPECT_EQ(cpu::select_kernels("no-such-isa"), nullptr);
}

// The AVX-512 VNNI and AMX tables' integer tiles sum the same exact integers as the AVX2
// ones and scale them by the same float steps: a model gives the same bits on any table.
// 12 and 19 tokens reach the AMX tiles (sixteen-token calls of twelve or more), 40 and 64
// its tiles that reuse a block's unpacked weights (40: two of sixteen, eight on VNNI).
TEST(CpuKernels, Avx512MatmulsHaveTheBitsOfAvx2) {
  if (!cpu::select_kernels("avx512-vnni")) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  for (const char* isa : {"avx512-vnni", "avx512-amx"}) {
  if (!cpu::select_kernels(isa)) continue;
  SCOPED_TRACE(isa);
  Backends vnni(isa, 2), avx2("avx2", 2);
  for (DType dtype : {DType::kBF16, DType::kF8E4M3, DType::kQ8_0, DType::kQ4_0, DType::kQ5_0, DType::kQ5_1,
                      DType::kIQ4_NL, DType::kIQ4_XS, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K,
                      DType::kQ6_K, DType::kIQ2_XXS, DType::kIQ2_XS, DType::kIQ2_S, DType::kIQ3_XXS, DType::kIQ3_S,
                      DType::kIQ1_S, DType::kIQ1_M})
    for (int64_t N : {40, 1024}) {
    // FP8 at 1197 columns too: runs of four 128-column scale blocks, which the AVX-512
    // kernel sums side by side, then a whole block and a 45-column one.
    const int64_t K = dtype == DType::kF8E4M3 && N == 1024 ? 9 * 128 + 45 : odd_cols(dtype);
    Weight w = make_weight(dtype, N, K, 21);
    // Activations and weights with extreme codes: a block whose weights and activations
    // all sit at the ends of their ranges, where a wrong bias or a saturation would show.
    auto x = random_floats(static_cast<size_t>(64 * K), 22);
    for (int64_t i = 0; i < 32; ++i) x[i] = (i % 2 ? 1.0f : -1.0f);
    if (dtype == DType::kQ8_0) {
      auto* block = reinterpret_cast<BlockQ8_0*>(w.bytes.data());
      for (int i = 0; i < 32; ++i) block->qs[i] = static_cast<int8_t>(i % 2 ? -128 : 127);
    }
    if (dtype == DType::kF8E4M3) {
      // Zeros of both signs, subnormals, the smallest normal and +-448 in row 0; row 1 only
      // normal codes, which the AVX-512 kernel converts without its exact small-code step.
      const uint8_t edges[] = {0x00, 0x80, 0x01, 0x81, 0x07, 0x87, 0x08, 0x88, 0x7E, 0xFE, 0x40, 0xC5};
      for (size_t i = 0; i < std::size(edges); ++i) w.bytes[5 * i] = edges[i];
      for (int64_t i = K; i < 2 * K; ++i) w.bytes[i] = static_cast<uint8_t>((w.bytes[i] & 0x78) ? w.bytes[i] : w.bytes[i] | 0x08);
    }
    auto on_vnni = std::move(vnni.cpu->prepare_weight(w.view)).value();
    auto on_avx2 = std::move(avx2.cpu->prepare_weight(w.view)).value();
    for (int64_t T : {1, 2, 3, 4, 8, 12, 19, 40, 64}) {
      std::vector<float> a(static_cast<size_t>(T * N)), b(a.size());
      vnni.cpu->matmul(Tensor::contiguous(DType::kF32, T, N, a.data()), Tensor::contiguous(DType::kF32, T, K, x.data()),
                       *on_vnni);
      avx2.cpu->matmul(Tensor::contiguous(DType::kF32, T, N, b.data()), Tensor::contiguous(DType::kF32, T, K, x.data()),
                       *on_avx2);
      EXPECT_TRUE(same_bits(a.data(), b.data(), T * N)) << dtype_name(dtype) << " N=" << N << " T=" << T;
    }
  }
  }
}

// The sixteen-row kernels of one table against two calls of its eight-row ones, for every
// token count a sixteen-row call takes, over n_blocks blocks.
void expect_sixteen_rows_are_two_eights(const cpu::Kernels& table, int64_t n_blocks) {
  const cpu::Kernels* k = &table;
  std::mt19937 rng(23);
  std::vector<cpu::BlockQ4_0x8> q4(2 * n_blocks);
  std::vector<cpu::BlockQ8_0x8> q8(2 * n_blocks);
  for (auto& b : q4) {
    for (auto& d : b.d) d = f32_to_f16(std::uniform_real_distribution<float>(0.001f, 0.1f)(rng));
    for (auto& q : b.qs) q = static_cast<uint8_t>(rng());
  }
  for (auto& b : q8) {
    for (auto& d : b.d) d = f32_to_f16(std::uniform_real_distribution<float>(0.001f, 0.1f)(rng));
    for (auto& q : b.qs) q = static_cast<int8_t>(rng());
  }
  const auto floats = random_floats(static_cast<size_t>(cpu::kMaxSixteenRowTokens * n_blocks * 32), 24);
  std::vector<cpu::ActBlockQ8> x(static_cast<size_t>(cpu::kMaxSixteenRowTokens * n_blocks));
  k->quantize_act_q8(floats.data(), x.data(), static_cast<int64_t>(floats.size()));
  // FP4 with scale codes from 0 (read as 0) to 250, against three-digit activations.
  std::vector<cpu::BlockFp4x8> fp4(2 * n_blocks);
  for (auto& b : fp4) {
    for (auto& e : b.e) e = static_cast<uint8_t>(rng() % 8 == 0 ? 0 : 100 + rng() % 40);
    for (auto& q : b.qs) q = static_cast<uint8_t>(rng());
  }
  fp4[n_blocks + 1].e[7] = 250;
  std::vector<cpu::ActBlockQ8x3> x3(x.size());
  k->quantize_act_q8x3(floats.data(), x3.data(), static_cast<int64_t>(floats.size()));
  // The eight-row kernels take at most kMaxGemmTokens tokens a call.
  auto eight_rows = [&](auto kernel, const auto* w, const auto* xs, int n, float* out) {
    for (int t = 0; t < n; t += cpu::kMaxGemmTokens) {
      const int m = std::min(cpu::kMaxGemmTokens, n - t);
      kernel(w, n_blocks, xs + t * n_blocks, n_blocks, m, out + 16 * t, 16);
      kernel(w + n_blocks, n_blocks, xs + t * n_blocks, n_blocks, m, out + 16 * t + 8, 16);
    }
  };
  for (int n = 1; n <= cpu::kMaxSixteenRowTokens; ++n) {
    std::vector<float> sixteen(static_cast<size_t>(16 * n)), eights(sixteen.size());
    k->gemm_q4_0x16(q4.data(), n_blocks, x.data(), n_blocks, n, sixteen.data(), 16);
    eight_rows(k->gemm_q4_0x8, q4.data(), x.data(), n, eights.data());
    EXPECT_TRUE(same_bits(sixteen.data(), eights.data(), 16 * n)) << "q4_0 tokens " << n << " blocks " << n_blocks;
    k->gemm_q8_0x16(q8.data(), n_blocks, x.data(), n_blocks, n, sixteen.data(), 16);
    eight_rows(k->gemm_q8_0x8, q8.data(), x.data(), n, eights.data());
    EXPECT_TRUE(same_bits(sixteen.data(), eights.data(), 16 * n)) << "q8_0 tokens " << n << " blocks " << n_blocks;
    k->gemm_fp4x16_q8x3(fp4.data(), n_blocks, x3.data(), n_blocks, n, sixteen.data(), 16);
    eight_rows(k->gemm_fp4x8_q8x3, fp4.data(), x3.data(), n, eights.data());
    EXPECT_TRUE(same_bits(sixteen.data(), eights.data(), 16 * n)) << "fp4 tokens " << n << " blocks " << n_blocks;
  }
}

// On every table that has sixteen-row kernels.
// Every table's decoder gives the scalar decoder's codes and steps (random blocks with a
// random finite scale, subnormals included: every bit pattern of the rest is valid).
TEST(CpuKernels, GridDecodersAreTheScalarOne) {
  std::mt19937 rng(41);
  for (const std::string& isa : isas()) {
    const cpu::Kernels* k = cpu::select_kernels(isa);
    for (DType dtype : {DType::kIQ2_XXS, DType::kIQ2_XS, DType::kIQ2_S, DType::kIQ3_XXS, DType::kIQ3_S, DType::kIQ1_S,
                        DType::kIQ1_M}) {
      std::vector<uint8_t> block(dtype_block_bytes(dtype));
      for (int trial = 0; trial < 64; ++trial) {
        for (auto& byte : block) byte = static_cast<uint8_t>(rng());
        // The f16 scale (IQ1_M: its four nibbles, in the scale words' tops).
        const auto scale = static_cast<uint16_t>((rng() % 0x7C00) | (rng() % 2 ? 0x8000 : 0));
        if (dtype == DType::kIQ1_M)
          for (int j = 0; j < 4; ++j)
            block[48 + 2 * j + 1] = static_cast<uint8_t>((block[48 + 2 * j + 1] & 0x0F) | (((scale >> (4 * j)) & 15) << 4));
        else
          std::memcpy(block.data(), &scale, 2);
        GridCodes want, got;
        decode_grid_codes(dtype, block.data(), want);
        k->decode_grid(dtype, block.data(), got);
        ASSERT_EQ(std::memcmp(want.codes, got.codes, sizeof want.codes), 0) << isa << " " << dtype_name(dtype);
        ASSERT_EQ(std::memcmp(want.steps, got.steps, sizeof want.steps), 0) << isa << " " << dtype_name(dtype);
      }
    }
  }
}

TEST(CpuKernels, SixteenRowTilesAreTwoEightRowTiles) {
  if (!cpu::select_kernels("avx512-vnni")) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  for (const char* isa : {"avx512-vnni", "avx512-amx"})
    if (const cpu::Kernels* k = cpu::select_kernels(isa)) {
      SCOPED_TRACE(isa);
      // 131 blocks: more than the AMX tiles keep unpacked at once (128), so their later
      // tiles go on from sums stored after the first 128.
      for (int64_t blocks : {9, 131}) expect_sixteen_rows_are_two_eights(*k, blocks);
    }
}

// A two-pair kernel (gemm_q8_0x32, gemm_q4_0x32) against its sixteen-row kernel on each
// pair, for token counts across its four-token tiles and a call's limit, over an odd and
// an even number of blocks.
template <typename Block, typename TwoPairs, typename Sixteen, typename Code>
void expect_two_pairs_are_each_alone(const cpu::Kernels& k, TwoPairs two_pairs, Sixteen sixteen, Code code) {
  ASSERT_NE(two_pairs, nullptr);
  std::mt19937 rng(29);
  for (int64_t n_blocks : {9, 64}) {
    std::vector<Block> w(static_cast<size_t>(4 * n_blocks));
    for (auto& b : w) {
      for (auto& d : b.d) d = f32_to_f16(std::uniform_real_distribution<float>(0.001f, 0.1f)(rng));
      for (auto& q : b.qs) q = code(rng);
    }
    const auto floats = random_floats(static_cast<size_t>(cpu::kMaxSixteenRowTokens * n_blocks * 32), 30);
    std::vector<cpu::ActBlockQ8> x(static_cast<size_t>(cpu::kMaxSixteenRowTokens * n_blocks));
    k.quantize_act_q8(floats.data(), x.data(), static_cast<int64_t>(floats.size()));
    for (int n : {1, 2, 3, 4, 5, 7, 8, 16, 17, 63, cpu::kMaxSixteenRowTokens}) {
      std::vector<float> both(static_cast<size_t>(32 * n)), alone(both.size());
      two_pairs(w.data(), n_blocks, x.data(), n_blocks, n, both.data(), 32);
      sixteen(w.data(), n_blocks, x.data(), n_blocks, n, alone.data(), 32);
      sixteen(w.data() + 2 * n_blocks, n_blocks, x.data(), n_blocks, n, alone.data() + 16, 32);
      EXPECT_TRUE(same_bits(both.data(), alone.data(), 32 * n)) << "tokens " << n << " blocks " << n_blocks;
    }
  }
}

TEST(CpuKernels, TwoPairTilesAreEachPairAlone) {
  const cpu::Kernels* k = cpu::select_kernels("avx512-vnni");
  if (!k) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  SCOPED_TRACE("q8_0");
  expect_two_pairs_are_each_alone<cpu::BlockQ8_0x8>(*k, k->gemm_q8_0x32, k->gemm_q8_0x16,
                                                    [](std::mt19937& r) { return static_cast<int8_t>(r()); });
  SCOPED_TRACE("q4_0");
  expect_two_pairs_are_each_alone<cpu::BlockQ4_0x8>(*k, k->gemm_q4_0x32, k->gemm_q4_0x16,
                                                    [](std::mt19937& r) { return static_cast<uint8_t>(r()); });
}

// Interleaved (eight-row) blocks of random codes, scales in [0.001, 0.1) (FP4: scale
// exponents 100-139).
template <typename Block>
std::vector<Block> random_interleaved_blocks(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Block> blocks(static_cast<size_t>(count));
  for (auto& b : blocks) {
    if constexpr (std::is_same_v<Block, cpu::BlockFp4x8>)
      for (auto& e : b.e) e = static_cast<uint8_t>(100 + rng() % 40);
    else
      for (auto& d : b.d) d = f32_to_f16(std::uniform_real_distribution<float>(0.001f, 0.1f)(rng));
    for (auto& q : b.qs) q = static_cast<std::remove_reference_t<decltype(q)>>(rng());
  }
  return blocks;
}

// The far-pair kernels give each of their two pairs of groups the bits of the
// sixteen-row kernel on that pair alone, into that pair's own output. An even number of
// blocks reaches the tiles that take two blocks at a time (FP4: for one token), an odd
// one the sixteen-row tiles.
template <typename Block, typename Act>
void expect_far_pairs_with_blocks(auto far_kernel, auto sixteen_kernel, auto quantize, int64_t n_blocks) {
  constexpr int64_t kGap = 5;  // the far pair starts kGap pairs after the first
  const auto blocks = random_interleaved_blocks<Block>(2 * n_blocks * (kGap + 1), 29);
  const auto floats = random_floats(static_cast<size_t>(cpu::kMaxFarPairTokens * n_blocks * 32), 30);
  std::vector<Act> x(static_cast<size_t>(cpu::kMaxFarPairTokens * n_blocks));
  quantize(floats.data(), x.data(), static_cast<int64_t>(floats.size()));
  const Block* near_pair = blocks.data();
  const Block* far_pair = blocks.data() + 2 * n_blocks * kGap;
  for (int n = 1; n <= cpu::kMaxFarPairTokens; ++n) {
    std::vector<float> out(static_cast<size_t>(16 * n)), out_far(out.size()), alone(out.size()), alone_far(out.size());
    far_kernel(near_pair, far_pair, n_blocks, x.data(), n_blocks, n, out.data(), out_far.data(), 16);
    sixteen_kernel(near_pair, n_blocks, x.data(), n_blocks, n, alone.data(), 16);
    sixteen_kernel(far_pair, n_blocks, x.data(), n_blocks, n, alone_far.data(), 16);
    EXPECT_TRUE(same_bits(out.data(), alone.data(), 16 * n)) << "tokens " << n;
    EXPECT_TRUE(same_bits(out_far.data(), alone_far.data(), 16 * n)) << "tokens " << n;
    EXPECT_FALSE(same_bits(out.data(), alone_far.data(), 16 * n)) << "tokens " << n;
  }
}

template <typename Block, typename Act>
void expect_far_pairs_are_their_own(auto far_kernel, auto sixteen_kernel, auto quantize) {
  for (int64_t blocks : {6, 7}) {
    SCOPED_TRACE(blocks);
    expect_far_pairs_with_blocks<Block, Act>(far_kernel, sixteen_kernel, quantize, blocks);
  }
}

// The AVX-512 VNNI tables for Intel's cores and for AMD's, whose far tiles differ only in
// how far ahead they fetch, where this CPU runs them.
std::vector<const cpu::Kernels*> avx512_vnni_tables() {
#if defined(__x86_64__)
  if (cpu::select_kernels("avx512-vnni")) return {&cpu::avx512_vnni_kernels(), &cpu::avx512_vnni_amd_kernels()};
#endif
  return {};
}

TEST(CpuKernels, FarPairsAreTheirOwnSixteenRows) {
  const auto tables = avx512_vnni_tables();
  if (tables.empty()) GTEST_SKIP() << "no table here has far-pair kernels";
  for (const cpu::Kernels* k : tables) {
    SCOPED_TRACE(k == tables.back() ? "AMD's table" : "Intel's table");
    expect_far_pairs_are_their_own<cpu::BlockQ4_0x8, cpu::ActBlockQ8>(k->gemm_q4_0x16_far, k->gemm_q4_0x16,
                                                                        k->quantize_act_q8);
    expect_far_pairs_are_their_own<cpu::BlockQ8_0x8, cpu::ActBlockQ8>(k->gemm_q8_0x16_far, k->gemm_q8_0x16,
                                                                        k->quantize_act_q8);
    expect_far_pairs_are_their_own<cpu::BlockFp4x8, cpu::ActBlockQ8x3>(k->gemm_fp4x16_q8x3_far, k->gemm_fp4x16_q8x3,
                                                                         k->quantize_act_q8x3);
  }
}

// The four-pair kernels of one token give each of their four pairs (in four places) the
// bits of the sixteen-row kernel on that pair alone, into that pair's own output.
template <typename Block, typename Act = cpu::ActBlockQ8>
void expect_four_pairs_are_their_own(auto far4_kernel, auto sixteen_kernel, auto quantize) {
  constexpr int64_t kBlocks = 8, kGap = 3;  // pair i starts kGap pairs after pair i - 1
  const auto blocks = random_interleaved_blocks<Block>(2 * kBlocks * kGap * 4, 31);
  const auto floats = random_floats(static_cast<size_t>(kBlocks * 32), 32);
  std::vector<Act> x(static_cast<size_t>(kBlocks));
  quantize(floats.data(), x.data(), static_cast<int64_t>(floats.size()));
  const Block* pairs[4];
  std::vector<float> out(4 * 16), alone(4 * 16);
  float* outs[4];
  for (int i = 0; i < 4; ++i) {
    pairs[i] = blocks.data() + 2 * kBlocks * kGap * i;
    outs[i] = out.data() + 16 * i;
    sixteen_kernel(pairs[i], kBlocks, x.data(), kBlocks, 1, alone.data() + 16 * i, 16);
  }
  far4_kernel(pairs, kBlocks, x.data(), outs);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(same_bits(out.data() + 16 * i, alone.data() + 16 * i, 16)) << "pair " << i;
    EXPECT_FALSE(same_bits(out.data() + 16 * i, alone.data() + 16 * ((i + 1) % 4), 16)) << "pair " << i;
  }
}

TEST(CpuKernels, FourPairsAreTheirOwnSixteenRows) {
  const auto tables = avx512_vnni_tables();
  if (tables.empty()) GTEST_SKIP() << "no table here has four-pair kernels";
  for (const cpu::Kernels* k : tables) {
    SCOPED_TRACE(k == tables.back() ? "AMD's table" : "Intel's table");
    expect_four_pairs_are_their_own<cpu::BlockQ4_0x8>(k->gemm_q4_0x16_far4, k->gemm_q4_0x16, k->quantize_act_q8);
    expect_four_pairs_are_their_own<cpu::BlockQ8_0x8>(k->gemm_q8_0x16_far4, k->gemm_q8_0x16, k->quantize_act_q8);
    expect_four_pairs_are_their_own<cpu::BlockFp4x8, cpu::ActBlockQ8x3>(k->gemm_fp4x16_q8x3_far4, k->gemm_fp4x16_q8x3,
                                                                        k->quantize_act_q8x3);
  }
}

// Three base-254 digits rebuild every activation to within d / (2 * 254^2), and the sums
// the FP4 kernels subtract are the digits' own.
TEST(CpuKernels, ThreeDigitActivationsRebuildTheirRows) {
  constexpr int64_t kBlocks = 6;
  auto x = random_floats(32 * kBlocks, 25);
  for (int i = 0; i < 32; ++i) x[32 + i] = 0.0f;                            // all zero
  for (int i = 0; i < 32; ++i) x[64 + i] = i % 2 ? 3e38f : -3e38f;          // largest floats
  for (int i = 0; i < 32; ++i) x[96 + i] = (i % 3 - 1) * 1e-40f;            // subnormal
  for (int i = 0; i < 32; ++i) x[128 + i] = 1.0f + static_cast<float>(i) / 64;  // ties at step 1/2
  std::vector<cpu::ActBlockQ8x3> q(kBlocks);
  cpu::quantize_act_q8x3(x.data(), q.data(), 32 * kBlocks);
  const double base = cpu::kQ8x3Base;
  for (int64_t b = 0; b < kBlocks; ++b) {
    int64_t sums[3] = {0, 0, 0};
    for (int i = 0; i < 32; ++i) {
      double rebuilt = 0.0;
      for (int j = 2; j >= 0; --j) {
        EXPECT_LE(std::abs(q[b].q[j][i]), 127) << "block " << b;
        rebuilt = rebuilt / base + q[b].q[j][i];
        sums[j] += q[b].q[j][i];
      }
      rebuilt *= q[b].d;
      EXPECT_LE(std::abs(rebuilt - x[32 * b + i]), q[b].d / (2 * base * base) * 1.001 + 1e-45)
          << "block " << b << " value " << i;
    }
    EXPECT_EQ(q[b].sum01, base * sums[0] + sums[1]) << "block " << b;
    EXPECT_EQ(q[b].sum2, sums[2]) << "block " << b;
  }
}

// n Q4_0 / Q8_0 blocks of random codes with scales in [0.001, 0.1).
template <typename Block>
std::vector<Block> random_blocks(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Block> blocks(static_cast<size_t>(n));
  for (auto& b : blocks) {
    b.d = f32_to_f16(std::uniform_real_distribution<float>(0.001f, 0.1f)(rng));
    for (auto& q : b.qs) q = static_cast<std::remove_reference_t<decltype(q)>>(rng());
  }
  return blocks;
}

// Rows weighted as stored: every column the plain fma chain over rows in order, with each
// weight times its row's block scale rounded first; Q4_0 and Q8_0, block counts around
// the kernels' four-block steps, rows with a stride.
int code_of(const BlockQ4_0& b, int i) { return (i < 16 ? b.qs[i] & 0x0F : b.qs[i - 16] >> 4) - 8; }
int code_of(const BlockQ8_0& b, int i) { return b.qs[i]; }

template <typename Block>
void expect_weighted_rows(void (*kernel)(float*, const float*, const Block*, int64_t, int64_t, int64_t),
                          uint32_t seed) {
  constexpr int64_t kRows = 37, kStride = 17;
  std::vector<Block> rows = random_blocks<Block>(kRows * kStride, seed);
  rows[0].qs[0] = static_cast<std::remove_reference_t<decltype(rows[0].qs[0])>>(0x80);
  const auto p = random_floats(kRows, seed + 1);
  // Whole passes of eight blocks too (B's and A's latent widths, 8 and 16 blocks).
  for (int64_t n_blocks : {1, 3, 4, 7, 8, 16}) {
    std::vector<float> out(static_cast<size_t>(32 * n_blocks) + 1, 99.0f);
    kernel(out.data(), p.data(), rows.data(), kStride, kRows, n_blocks);
    for (int64_t c = 0; c < 32 * n_blocks; ++c) {
      float expected = 0.0f;
      for (int64_t i = 0; i < kRows; ++i) {
        const Block& b = rows[static_cast<size_t>(i * kStride + c / 32)];
        const float scale = p[static_cast<size_t>(i)] * f16_to_f32(b.d);
        expected = std::fma(static_cast<float>(code_of(b, static_cast<int>(c % 32))), scale, expected);
      }
      ASSERT_EQ(out[static_cast<size_t>(c)], expected) << n_blocks << " blocks, column " << c;
    }
    EXPECT_EQ(out.back(), 99.0f) << "wrote past column " << 32 * n_blocks - 1;
  }
}

// The several-token form: every weighting against the same chains, for each token count
// and block counts that end a pass early (passes of 8, 4 and 2 blocks for 1, 2 and 3-4
// tokens).
template <typename Block>
void expect_weighted_rows_tokens(void (*kernel)(float* const*, const float* const*, int, const Block*, int64_t,
                                                int64_t, int64_t),
                                 uint32_t seed) {
  constexpr int64_t kRows = 37, kStride = 9;
  const std::vector<Block> rows = random_blocks<Block>(kRows * kStride, seed);
  for (int n_tokens = 1; n_tokens <= cpu::kMaxWeightedRowsTokens; ++n_tokens)
    for (int64_t n_blocks : {1, 3, 5, 9}) {
      std::vector<std::vector<float>> p, out;
      std::vector<float*> outs;
      std::vector<const float*> ps;
      for (int t = 0; t < n_tokens; ++t) {
        p.push_back(random_floats(kRows, seed + 1 + static_cast<uint32_t>(t)));
        out.emplace_back(static_cast<size_t>(32 * n_blocks) + 1, 99.0f);
      }
      for (int t = 0; t < n_tokens; ++t) {
        outs.push_back(out[t].data());
        ps.push_back(p[t].data());
      }
      kernel(outs.data(), ps.data(), n_tokens, rows.data(), kStride, kRows, n_blocks);
      for (int t = 0; t < n_tokens; ++t) {
        for (int64_t c = 0; c < 32 * n_blocks; ++c) {
          float expected = 0.0f;
          for (int64_t i = 0; i < kRows; ++i) {
            const Block& b = rows[static_cast<size_t>(i * kStride + c / 32)];
            const float scale = p[t][static_cast<size_t>(i)] * f16_to_f32(b.d);
            expected = std::fma(static_cast<float>(code_of(b, static_cast<int>(c % 32))), scale, expected);
          }
          ASSERT_EQ(out[t][static_cast<size_t>(c)], expected)
              << n_tokens << " tokens, token " << t << ", " << n_blocks << " blocks, column " << c;
        }
        EXPECT_EQ(out[t].back(), 99.0f) << "token " << t << " wrote past column " << 32 * n_blocks - 1;
      }
    }
}

TEST_P(CpuConformance, WeightedStoredRowsForSeveralTokensAreTheirOwnChains) {
  const cpu::Kernels* k = cpu::select_kernels(GetParam());
  if (!k->weighted_rows_tokens_q4_0 || !k->weighted_rows_tokens_q8_0)
    GTEST_SKIP() << "table " << k->isa << " weighs stored rows for one token at a time";
  expect_weighted_rows_tokens<BlockQ4_0>(k->weighted_rows_tokens_q4_0, 45);
  expect_weighted_rows_tokens<BlockQ8_0>(k->weighted_rows_tokens_q8_0, 47);
}

TEST_P(CpuConformance, WeightedStoredRowsAreFmaChainsInOrder) {
  const cpu::Kernels* k = cpu::select_kernels(GetParam());
  if (!k->weighted_rows_q4_0 || !k->weighted_rows_q8_0) GTEST_SKIP() << "table " << k->isa << " reads no stored rows";
  expect_weighted_rows<BlockQ4_0>(k->weighted_rows_q4_0, 41);
  expect_weighted_rows<BlockQ8_0>(k->weighted_rows_q8_0, 43);
}

// The query absorption over K rows regrouped by latent column: for heads of 32 to 256
// nope rows (one to eight activation blocks) and one to five blocks of columns, every
// column is the table's own quantisation of q times the column block's scales, then per
// activation block the integer dot with the stored codes, offset by 8 per digit, chained
// in order; nothing past the rank written. The expected values read the stored rows, not
// the regrouped bytes, so a misplaced code or scale in either fails.
TEST_P(CpuConformance, AbsorbColumnsAreIntegerDotsWithTheStoredRows) {
  const cpu::Kernels* k = cpu::select_kernels(GetParam());
  if (!k->absorb_columns_q4_0) GTEST_SKIP() << "table " << k->isa << " weighs the stored rows";
  uint32_t seed = 61;
  for (int64_t nope : {32, 64, 128, 256})
    for (int64_t rank : {32, 96, 160}) {
      ASSERT_TRUE(cpu::absorb_columns_fit(nope, rank));
      const int64_t row_blocks = rank / 32 + 1;  // rows as in kv_b: other columns between them
      const std::vector<BlockQ4_0> rows = random_blocks<BlockQ4_0>(nope * row_blocks, seed++);
      const auto q = random_floats(static_cast<size_t>(nope), seed++);
      std::vector<uint8_t> head(cpu::absorb_columns_head_bytes(nope, rank));
      cpu::regroup_q4_0_columns(rows.data(), row_blocks, nope, rank, head.data());
      std::vector<float> out(static_cast<size_t>(rank) + 1, 99.0f);
      k->absorb_columns_q4_0(out.data(), q.data(), head.data(), nope, rank);
      std::vector<float> weighted(static_cast<size_t>(nope));
      std::vector<cpu::ActBlockQ8> x(static_cast<size_t>(nope / 32));
      for (int64_t c = 0; c < rank; ++c) {
        for (int64_t d = 0; d < nope; ++d) {
          const BlockQ4_0& b = rows[static_cast<size_t>(d * row_blocks + c / 32)];
          weighted[static_cast<size_t>(d)] = q[static_cast<size_t>(d)] * f16_to_f32(b.d);
        }
        k->quantize_act_q8(weighted.data(), x.data(), nope);
        float expected = 0.0f;
        for (int64_t a = 0; a < nope / 32; ++a) {
          int32_t dot = 0;
          for (int64_t i = 0; i < 32; ++i) {
            const BlockQ4_0& b = rows[static_cast<size_t>((32 * a + i) * row_blocks + c / 32)];
            dot += x[static_cast<size_t>(a)].qs[i] * (code_of(b, static_cast<int>(c % 32)) + 8);
          }
          expected = std::fma(static_cast<float>(dot - 8 * x[static_cast<size_t>(a)].sum), x[static_cast<size_t>(a)].d,
                              expected);
        }
        ASSERT_EQ(out[static_cast<size_t>(c)], expected) << "nope " << nope << ", rank " << rank << ", column " << c;
      }
      EXPECT_EQ(out.back(), 99.0f) << "wrote past column " << rank - 1;
    }
}

// FP8 codes survive recoding, and the recoded form flags exactly the codes with exponent 0.
TEST(CpuKernels, RecodedFp8CodesRoundTrip) {
  for (int code = 0; code < 256; ++code) {
    const auto c = static_cast<uint8_t>(code);
    EXPECT_EQ(cpu::f8e4m3_from_recoded(cpu::f8e4m3_recoded(c)), c) << code;
    EXPECT_EQ(cpu::f8e4m3_recoded_is_small(cpu::f8e4m3_recoded(c)), (c & 0x78) == 0) << code;
  }
}

// A table's recoded FP8 rows (PackedWeight, kRecodedOrder) against the same table's kernel
// over the stored rows, bitwise: with and without scales, whole and partial groups, small
// codes (zeros, subnormals) alone in one run, in a remainder group and in the tail, and
// token counts that take the four-token kernel, the one-token one and both.
TEST_P(CpuConformance, RecodedFp8RowsHaveTheBitsOfStoredOnes) {
  const cpu::Kernels* k = cpu::select_kernels(GetParam());
  if (!k->dot_f8e4m3_recoded) GTEST_SKIP() << "table " << k->isa << " has no recoded FP8 kernels";
  ThreadPool pool(2);
  cpu::PackArena arena;
  cpu::MatmulScratch scratch;
  for (int64_t K : {312, 1197})
    for (bool scaled : {true, false}) {
      Weight w = make_weight(DType::kF8E4M3, 16, K, 61);
      for (auto& code : w.bytes) code |= (code & 0x78) ? 0 : 0x08;  // no small codes but those below
      w.bytes[3 * K + 200] = 0x00;     // row 3, run 3 only
      w.bytes[5 * K + K - 1] = 0x81;   // row 5, the tail
      w.bytes[9 * K + 289] = 0x05;     // row 9, the last whole group of a 312-column row
      w.bytes[12 * K + 130] = 0x80;    // row 12, run 2
      w.bytes[12 * K + 131] = 0x87;
      w.bytes[13 * K + 7] = 0x01;      // row 13, run 0: one token reads rows 5 and 13 side by side
      if (!scaled) w.view.scales = {};
      auto packed = cpu::PackedWeight::pack(*k, pool, arena, w.view);
      ASSERT_NE(packed, nullptr);
      for (int64_t T : {1, 3, 4, 6}) {
        const auto x = random_floats(static_cast<size_t>(T * K), 62);
        std::vector<float> a(static_cast<size_t>(T * 16)), b(a.size());
        const Tensor xt = Tensor::contiguous(DType::kF32, T, K, const_cast<float*>(x.data()));
        cpu::matmul_packed(*k, pool, scratch, Tensor::contiguous(DType::kF32, T, 16, a.data()), xt, *packed);
        cpu::matmul(*k, pool, scratch, Tensor::contiguous(DType::kF32, T, 16, b.data()), xt, w.view);
        EXPECT_TRUE(same_bits(a.data(), b.data(), T * 16)) << "K=" << K << " T=" << T << (scaled ? " scaled" : "");
      }
    }
}

// A table's SwiGLU against silu(g) * u with std::exp, capped and clamped with a limit,
// over values wide enough to reach exp's clamp, with a tail.
TEST_P(CpuConformance, SwigluWithinAFewUlpOfStdExp) {
  const cpu::Kernels* k = cpu::select_kernels(GetParam());
  if (!k->swiglu) GTEST_SKIP() << "table " << k->isa << " has no SwiGLU kernel";
  const auto gate = random_floats(203, 31, 100.0f), up = random_floats(203, 32, 10.0f);
  for (float limit : {0.0f, 7.0f}) {
    std::vector<float> out = gate;
    out.push_back(99.0f);
    k->swiglu(out.data(), up.data(), 203, limit);
    for (size_t i = 0; i < gate.size(); ++i) {
      const double g = limit > 0 ? std::min<double>(gate[i], limit) : gate[i];
      const double u = limit > 0 ? std::clamp<double>(up[i], -limit, limit) : up[i];
      const double expected = g / (1.0 + std::exp(-g)) * u;
      EXPECT_NEAR(out[i], expected, 1e-6 * std::abs(expected) + 1e-30) << "gate " << gate[i] << " up " << up[i]
                                                                        << " limit " << limit;
    }
    EXPECT_EQ(out[203], 99.0f) << "wrote past the end";
  }
}

// A table's SIMD three-digit quantiser gives the plain version's digits, scale and sums.
TEST(CpuKernels, SimdThreeDigitActivationsAreThePlainOnes) {
  const cpu::Kernels* k = cpu::select_kernels();
  if (!k->quantize_act_q8x3) GTEST_SKIP() << "table " << k->isa << " has no three-digit quantiser";
  constexpr int64_t kBlocks = 40;
  auto x = random_floats(32 * kBlocks, 28);
  for (int i = 0; i < 32; ++i) x[i] = 0.0f;
  for (int i = 0; i < 32; ++i) x[32 + i] = (i % 3 - 1) * 1e-40f;
  for (int i = 0; i < 32; ++i) x[64 + i] = 1.0f + static_cast<float>(i) / 64;
  for (int i = 0; i < 32; ++i) x[96 + i] *= 1e30f;
  std::vector<cpu::ActBlockQ8x3> plain(kBlocks), simd(kBlocks);
  cpu::quantize_act_q8x3(x.data(), plain.data(), 32 * kBlocks);
  k->quantize_act_q8x3(x.data(), simd.data(), 32 * kBlocks);
  for (int64_t b = 0; b < kBlocks; ++b)
    EXPECT_EQ(std::memcmp(&plain[b], &simd[b], sizeof(cpu::ActBlockQ8x3)), 0) << "block " << b;
}

// The integer FP4 kernel against float64 sums of the same FP4 values times the original
// activations: as close as the float32 kernel (~1e-7), for every token count and the
// extremes (largest codes, the largest activation in every lane, scale code 0 read as 0).
TEST(CpuKernels, Fp4IntegerTileMatchesFloat64) {
  const cpu::Kernels* k = cpu::select_kernels();
  if (!k->gemm_fp4x8_q8x3) GTEST_SKIP() << "table " << k->isa << " multiplies FP4 in float32";
  constexpr int64_t kBlocks = 9;
  constexpr int kTokens = 5;
  std::mt19937 rng(26);
  std::vector<cpu::BlockFp4x8> w(kBlocks);
  for (auto& b : w) {
    for (auto& e : b.e) e = static_cast<uint8_t>(110 + rng() % 30);
    for (auto& q : b.qs) q = static_cast<uint8_t>(rng());
  }
  for (auto& q : w[0].qs) q = 0x7F;  // +6 and -6 in every row
  w[1].e[3] = 0;
  auto x = random_floats(static_cast<size_t>(kTokens * kBlocks * 32), 27);
  for (int i = 0; i < 32; ++i) x[i] = i % 2 ? 50.0f : -50.0f;
  std::vector<cpu::ActBlockQ8x3> xq(static_cast<size_t>(kTokens * kBlocks));
  cpu::quantize_act_q8x3(x.data(), xq.data(), static_cast<int64_t>(x.size()));
  std::vector<float> all(static_cast<size_t>(8 * kTokens));
  k->gemm_fp4x8_q8x3(w.data(), kBlocks, xq.data(), kBlocks, kTokens, all.data(), 8);
  for (int t = 0; t < kTokens; ++t) {
    double err = 0.0, norm = 0.0;
    for (int r = 0; r < 8; ++r) {
      double expected = 0.0;
      for (int64_t b = 0; b < kBlocks; ++b) {
        const double scale = w[b].e[r] == 0 ? 0.0 : std::ldexp(1.0, w[b].e[r] - 127);
        for (int c = 0; c < 32; ++c) {
          const uint8_t byte = w[b].qs[32 * (c % 16 / 4) + 4 * r + c % 4];
          const int code = c < 16 ? byte & 0x0F : byte >> 4;
          expected += scale * cpu::kE2M1Doubled[code] / 2.0 * x[(t * kBlocks + b) * 32 + c];
        }
      }
      err += (all[t * 8 + r] - expected) * (all[t * 8 + r] - expected);
      norm += expected * expected;
    }
    EXPECT_LE(std::sqrt(err / norm), 2e-6) << "token " << t;
    std::vector<float> alone(8);
    k->gemm_fp4x8_q8x3(w.data(), kBlocks, xq.data() + t * kBlocks, kBlocks, 1, alone.data(), 8);
    EXPECT_TRUE(same_bits(alone.data(), all.data() + t * 8, 8)) << "token " << t;
  }
}

// CI runs this suite on emulated CPUs with and without optional instructions and names
// the table each must pick (scripts/test-aarch64.sh).
TEST(CpuKernels, SelectsTheTableNamedByTheEnvironment) {
  const char* expected = std::getenv("DSINFER_EXPECT_ISA");
  if (!expected) GTEST_SKIP() << "DSINFER_EXPECT_ISA is not set";
  EXPECT_EQ(cpu::select_kernels()->isa, std::string_view(expected));
}

}  // namespace
}  // namespace dsinfer
