// DeepSeek-V4's carried state: a sequence run in chunks of any sizes (the window ring,
// the compressors' partial blocks and the compressed rows carried between them) gives
// the rows that one prefill gives. Correctness against the numpy reference is the golden
// test's job (tests/integration/check_golden_v4.py); this covers the chunk shapes that
// `dsinfer logits` does not (several multi-token chunks after the first), and sequences
// batched into one pass. Also how a checkpoint holds the released layout's block scales.
#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "../formats/temp_dir.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/reference/reference_backend.h"
#include "formats/checkpoint.h"
#include "model/deepseek_v4_model.h"
#include "model/deepseek_v4_state.h"
#include "model/test_model.h"

namespace dsinfer {
namespace {

using V4Chunks = test::TempDirTest;

std::vector<float> run_chunks(DeepSeekV4Model& model, const std::vector<int32_t>& tokens,
                              const std::vector<int64_t>& chunk_sizes) {
  V4State state(model.config(), model.backend(), static_cast<int64_t>(tokens.size()));
  std::vector<float> all, logits;
  int64_t done = 0;
  for (int64_t n : chunk_sizes) {
    const Status s = model.forward(std::span(tokens).subspan(static_cast<size_t>(done), static_cast<size_t>(n)), state,
                                   ForwardOptions::Logits::kAll, logits);
    EXPECT_TRUE(s.is_ok()) << s.message();
    all.insert(all.end(), logits.begin(), logits.end());
    done += n;
  }
  return all;
}

TEST_F(V4Chunks, AnyChunkingGivesTheRowsOfOnePrefill) {
  ASSERT_TRUE(make_test_model({.preset = "v4-tiny", .seed = 5, .out = path("v4")}).is_ok());
  std::vector<int32_t> tokens(300);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 37 + 11) % 512);
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(make_reference_backend());
  auto cpu = make_cpu_backend({.threads = 2, .isa = "generic"});
  ASSERT_TRUE(cpu.is_ok());
  backends.push_back(std::move(cpu).value());
  for (const auto& backend : backends) {
    auto weights = Checkpoint::open(path("v4"));
    ASSERT_TRUE(weights.is_ok()) << weights.status().message();
    auto model = DeepSeekV4Model::load(std::move(weights).value(), *backend);
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    const std::vector<float> whole = run_chunks(**model, tokens, {300});
    // Chunk ends inside and on CSA blocks, across the HCA boundaries at 127 and 255, one
    // shorter and one longer than the window.
    for (const auto& sizes : std::vector<std::vector<int64_t>>{{97, 64, 1, 138}, {3, 5, 120, 2, 170}, {128, 128, 44}}) {
      const std::vector<float> chunked = run_chunks(**model, tokens, sizes);
      ASSERT_EQ(chunked.size(), whole.size());
      float max_diff = 0.0f;
      for (size_t i = 0; i < whole.size(); ++i) max_diff = std::max(max_diff, std::fabs(chunked[i] - whole[i]));
      EXPECT_LE(max_diff, 1e-5f) << backend->name() << " chunks " << sizes.size();
    }
  }
}

// Sequences run together, one chunk of each per pass, give each sequence's own rows bit
// for bit: the passes mix prefill chunks with single tokens, cross the HCA boundary at
// 128 in one sequence while others do not, and ask for all rows, the last row or none.
TEST_F(V4Chunks, BatchedSequencesGiveTheRowsTheyGiveAlone) {
  ASSERT_TRUE(make_test_model({.preset = "v4-tiny", .seed = 6, .out = path("v4")}).is_ok());
  using Logits = ForwardOptions::Logits;
  const std::vector<std::vector<int64_t>> chunk_sizes = {{97, 1, 52}, {5, 120, 15}, {1, 129, 1}};
  const std::vector<std::vector<Logits>> wanted = {{Logits::kAll, Logits::kLast, Logits::kAll},
                                                   {Logits::kAll, Logits::kNone, Logits::kLast},
                                                   {Logits::kLast, Logits::kAll, Logits::kAll}};
  std::vector<std::vector<int32_t>> tokens(3);
  for (size_t s = 0; s < tokens.size(); ++s)
    for (int64_t i = 0; i < 150; ++i) tokens[s].push_back(static_cast<int32_t>((i * (31 + 6 * s) + 7 * s) % 512));
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(make_reference_backend());
  auto cpu = make_cpu_backend({.threads = 2});
  ASSERT_TRUE(cpu.is_ok());
  backends.push_back(std::move(cpu).value());
  for (const auto& backend : backends) {
    auto weights = Checkpoint::open(path("v4"));
    ASSERT_TRUE(weights.is_ok()) << weights.status().message();
    auto loaded = DeepSeekV4Model::load(std::move(weights).value(), *backend);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
    DeepSeekV4Model& model = **loaded;
    // Alone: logits[sequence][pass].
    std::vector<std::vector<std::vector<float>>> alone(3);
    for (size_t s = 0; s < 3; ++s) {
      V4State state(model.config(), model.backend(), 160);
      int64_t done = 0;
      for (size_t pass = 0; pass < 3; ++pass) {
        std::vector<float> logits;
        const int64_t n = chunk_sizes[s][pass];
        ASSERT_TRUE(model.forward(std::span(tokens[s]).subspan(done, n), state, wanted[s][pass], logits).is_ok());
        alone[s].push_back(logits);
        done += n;
      }
    }
    std::vector<std::unique_ptr<V4State>> states;
    for (int s = 0; s < 3; ++s) states.push_back(std::make_unique<V4State>(model.config(), model.backend(), 160));
    std::vector<int64_t> done(3, 0);
    for (size_t pass = 0; pass < 3; ++pass) {
      std::vector<V4Chunk> chunks;
      for (size_t s = 0; s < 3; ++s) {
        chunks.push_back({.tokens = std::span(tokens[s]).subspan(done[s], chunk_sizes[s][pass]),
                          .state = states[s].get(), .logits = wanted[s][pass]});
        done[s] += chunk_sizes[s][pass];
      }
      std::vector<float> together;
      const Status status = model.forward(chunks, together);
      ASSERT_TRUE(status.is_ok()) << status.message();
      std::vector<float> expected;
      for (size_t s = 0; s < 3; ++s) expected.insert(expected.end(), alone[s][pass].begin(), alone[s][pass].end());
      EXPECT_EQ(together, expected) << backend->name() << " pass " << pass;
    }
    for (size_t s = 0; s < 3; ++s) EXPECT_EQ(states[s]->position(), done[s]);
  }
}

TEST_F(V4Chunks, OnePassRefusesTwoChunksOfOneSequence) {
  ASSERT_TRUE(make_test_model({.preset = "v4-tiny", .seed = 6, .out = path("v4")}).is_ok());
  auto backend = make_reference_backend();
  auto weights = Checkpoint::open(path("v4"));
  ASSERT_TRUE(weights.is_ok());
  auto model = DeepSeekV4Model::load(std::move(weights).value(), *backend);
  ASSERT_TRUE(model.is_ok());
  V4State state((*model)->config(), *backend, 16);
  const std::vector<int32_t> tokens = {1, 2, 3};
  const std::vector<V4Chunk> chunks = {{.tokens = tokens, .state = &state}, {.tokens = tokens, .state = &state}};
  std::vector<float> logits;
  const Status status = (*model)->forward(chunks, logits);
  EXPECT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("share a sequence state"), std::string::npos) << status.message();
  EXPECT_EQ(state.position(), 0);
}

// The released layout's scales: an FP8 matrix's (one per 128 x 128 block) widened to
// float32, the FP4 experts' (one per 32 values) read as stored, which as float32 would
// add a quarter to the experts' memory. Either way each block's scale is its UE8M0 code's
// power of two, as the file holds it.
using V4Checkpoint = test::TempDirTest;

TEST_F(V4Checkpoint, Fp4ExpertScalesAreReadAsStored) {
  ASSERT_TRUE(make_test_model({.preset = "v4-tiny", .seed = 5, .out = path("v4")}).is_ok());
  auto opened = Checkpoint::open(path("v4"));
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  const Checkpoint& ckpt = **opened;
  for (const char* name : {"layers.0.ffn.experts.3.w1", "layers.0.attn.wq_a"}) {
    const std::optional<WeightView> found = ckpt.find(std::string(name) + ".weight");
    const std::optional<WeightView> codes = ckpt.find(std::string(name) + ".scale");
    ASSERT_TRUE(found && codes) << name;
    auto w = ckpt.get(found->name, found->shape, {found->dtype});
    ASSERT_TRUE(w.is_ok()) << w.status().message();
    const bool fp4 = w->dtype == DType::kFP4E2M1;
    EXPECT_EQ(fp4, std::string(name).find("experts") != std::string::npos) << name;
    EXPECT_EQ(w->scales.ue8m0 != nullptr, fp4) << name;
    EXPECT_EQ(w->scales.data != nullptr, !fp4) << name;
    const int64_t rows = w->rows(), cols = w->cols(), blocks = (cols + w->scales.block_cols - 1) / w->scales.block_cols;
    const auto* stored = static_cast<const uint8_t*>(codes->data);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < blocks; ++b)
        ASSERT_EQ(w->scales.scale(r, b, cols), std::ldexp(1.0f, stored[r / w->scales.block_rows * blocks + b] - 127))
            << name << " row " << r << " block " << b;
  }
}

}  // namespace
}  // namespace dsinfer
