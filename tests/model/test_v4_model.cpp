// DeepSeek-V4's carried state: a sequence run in chunks of any sizes (the window ring,
// the compressors' partial blocks and the compressed rows carried between them) gives
// the rows that one prefill gives. Correctness against the numpy reference is the golden
// test's job (tests/integration/check_golden_v4.py); this covers the chunk shapes that
// `dsinfer logits` does not (several multi-token chunks after the first).
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

}  // namespace
}  // namespace dsinfer
