// The serving engine on tiny models with the CPU backend: batched results equal solo
// results bit for bit (the batched forward and whole requests, also under preemption and
// prefix-cache hits), cancellation frees blocks, and bad submissions are refused.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "engine_collector.h"
#include "model/test_model.h"
#include "runtime/engine.h"
#include "runtime/latent_cache.h"
#include "runtime/session.h"

namespace dsinfer {
namespace {

using test::Collector;

struct ModelCase {
  std::string preset;
  std::string file;  // "" for the Hugging Face folder, or a .gguf name
};

class EngineTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  static std::filesystem::path dir() {
    return std::filesystem::temp_directory_path() / ("dsinfer_engine_test_" + std::to_string(::getpid()));
  }
  static void SetUpTestSuite() { std::filesystem::create_directories(dir()); }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir()); }

  void SetUp() override {
    const ModelCase& c = GetParam();
    const std::string path = (dir() / (c.preset + c.file)).string();
    if (!std::filesystem::exists(path)) ASSERT_TRUE(make_test_model({.preset = c.preset, .seed = 5, .out = path}).is_ok());
    auto backend = make_cpu_backend({.threads = 2});
    ASSERT_TRUE(backend.is_ok()) << backend.status().message();
    backend_ = std::move(backend).value();
    auto model = load_model(path, *backend_);
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    model_ = std::move(model).value();
  }

  std::vector<int32_t> random_prompt(int64_t length, uint32_t seed) const {
    return test::random_prompt(model_->config().vocab_size, length, seed);
  }

  std::unique_ptr<Engine> start(EngineOptions options) {
    auto engine = Engine::start(*model_, options);
    EXPECT_TRUE(engine.is_ok()) << engine.status().message();
    return engine.is_ok() ? std::move(engine).value() : nullptr;
  }

  // Tokens of each request when it runs alone in a fresh engine.
  std::vector<std::vector<int32_t>> solo(const std::vector<GenerationRequest>& requests, EngineOptions options) {
    options.max_batch = 1;
    options.prefix_caching = false;
    std::vector<std::vector<int32_t>> out;
    for (const auto& r : requests) {
      auto engine = start(options);
      Collector c;
      EXPECT_TRUE(std::holds_alternative<Engine::RequestId>(engine->submit(r, c.callbacks_for(0))));
      c.wait_for(1);
      out.push_back(c.tokens(0));
    }
    return out;
  }

  // Runs `requests` together in one engine, checks that each ends (kLength) with its solo
  // tokens, and returns the engine's stats once it has drained.
  EngineStats expect_together_like_solo(const std::vector<GenerationRequest>& requests, const EngineOptions& options) {
    const auto expected = solo(requests, options);
    auto engine = start(options);
    Collector c;
    for (size_t i = 0; i < requests.size(); ++i)
      EXPECT_TRUE(std::holds_alternative<Engine::RequestId>(engine->submit(requests[i], c.callbacks_for(int(i)))));
    c.wait_for(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      EXPECT_EQ(c.tokens(int(i)), expected[i]) << "request " << i;
      EXPECT_EQ(c.result(int(i)).reason, FinishReason::kLength) << "request " << i;
      EXPECT_EQ(c.result(int(i)).completion_tokens, requests[i].max_tokens) << "request " << i;
    }
    engine->shutdown(true);
    return engine->stats();
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<DeepSeekModel> model_;
};

TEST_P(EngineTest, BatchedForwardEqualsEachSequenceAlone) {
  const ModelConfig& c = model_->config();
  struct Seq {
    std::vector<int32_t> tokens;
    int64_t start;
  };
  // Prefixes written first by a solo pass; then one batched step continues all three.
  const Seq seqs[] = {{random_prompt(9, 1), 5}, {random_prompt(1, 2), 0}, {random_prompt(6, 3), 3}};
  auto run = [&](bool batched) {
    std::vector<std::unique_ptr<LatentCache>> caches;
    std::vector<float> rows, logits;
    std::vector<SequenceChunk> chunks;
    for (const Seq& s : seqs) {
      caches.push_back(std::make_unique<LatentCache>(*backend_, c, 16));
      if (s.start > 0) {
        std::vector<float> ignored;
        EXPECT_TRUE(model_->forward(std::span(s.tokens).first(s.start), 0, caches.back()->view(), {}, ignored).is_ok());
      }
      chunks.push_back({.tokens = std::span(s.tokens).subspan(s.start), .start_pos = s.start,
                        .cache = caches.back()->view(), .options = {.logits = ForwardOptions::Logits::kAll}});
    }
    if (batched) {
      EXPECT_TRUE(model_->forward_batch(chunks, rows).is_ok());
      return rows;
    }
    for (const auto& chunk : chunks) {
      EXPECT_TRUE(model_->forward_batch({&chunk, 1}, logits).is_ok());
      rows.insert(rows.end(), logits.begin(), logits.end());
    }
    return rows;
  };
  const std::vector<float> alone = run(false), together = run(true);
  ASSERT_EQ(alone.size(), together.size());
  for (size_t i = 0; i < alone.size(); ++i) ASSERT_EQ(alone[i], together[i]) << "logit " << i;
}

TEST_P(EngineTest, ConcurrentRequestsMatchTheirSoloRuns) {
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 12; ++i)
    requests.push_back({.prompt = random_prompt(3 + 7 * i % 40, 100 + i), .max_tokens = 6 + i % 5});
  const EngineStats stats = expect_together_like_solo(
      requests, {.max_batch = 16, .context_size = 128, .block_size = 8, .prefill_chunk = 16, .step_tokens = 40});
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_GT(stats.last_batch_sequences, 0);
  // Every step is in the batch-size histogram, and some carried several sequences.
  int64_t steps = 0;
  for (int64_t n : stats.batch_sequences_steps) steps += n;
  EXPECT_EQ(steps, stats.steps);
  EXPECT_GT(stats.batch_sequences_sum, stats.steps);
}

TEST_P(EngineTest, PreemptionUnderCachePressureKeepsResultsExact) {
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 6; ++i) requests.push_back({.prompt = random_prompt(20 + i, 200 + i), .max_tokens = 12});
  // 8 blocks of 8 positions: one 64-position context, far less than six requests need.
  const EngineStats stats = expect_together_like_solo(requests, {.max_batch = 6, .context_size = 64, .kv_blocks = 8,
                                                                 .block_size = 8, .prefill_chunk = 16, .step_tokens = 64});
  EXPECT_GT(stats.preemptions, 0);
  EXPECT_EQ(stats.kv_blocks_used, 0);
}

TEST_P(EngineTest, SharedPrefixIsReusedWithIdenticalResults) {
  std::vector<int32_t> prefix = random_prompt(37, 300);
  GenerationRequest first{.prompt = prefix, .max_tokens = 4}, second{.prompt = prefix, .max_tokens = 5};
  first.prompt.push_back(11);
  second.prompt.insert(second.prompt.end(), {12, 13, 14});
  const EngineOptions options{.max_batch = 4, .context_size = 96, .block_size = 8};
  const auto expected = solo({first, second}, options);
  auto engine = start(options);
  Collector c;
  engine->submit(first, c.callbacks_for(0));
  c.wait_for(1);
  engine->submit(second, c.callbacks_for(1));
  c.wait_for(2);
  EXPECT_EQ(c.result(0).cached_prompt_tokens, 0);
  EXPECT_EQ(c.result(1).cached_prompt_tokens, 32);  // four full blocks of the shared 37 tokens
  EXPECT_EQ(c.tokens(0), expected[0]);
  EXPECT_EQ(c.tokens(1), expected[1]);
  engine->shutdown(true);
  EXPECT_GT(engine->stats().kv_blocks_cached, 0);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST_P(EngineTest, CancelAndEarlyStopFreeTheirBlocks) {
  auto engine = start({.max_batch = 4, .context_size = 512, .block_size = 8});
  Collector c;
  auto id = engine->submit({.prompt = random_prompt(10, 400), .max_tokens = 400}, c.callbacks_for(0));
  ASSERT_TRUE(std::holds_alternative<Engine::RequestId>(id));
  engine->submit({.prompt = random_prompt(10, 401), .max_tokens = 400}, c.callbacks_for(1, /*stop_after=*/3));
  while (c.tokens(0).empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  engine->cancel(std::get<Engine::RequestId>(id));
  c.wait_for(2);
  EXPECT_EQ(c.result(0).reason, FinishReason::kCancelled);
  EXPECT_LT(c.tokens(0).size(), 400u);
  EXPECT_EQ(c.result(1).reason, FinishReason::kStop);
  EXPECT_EQ(c.tokens(1).size(), 3u);
  engine->shutdown(true);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST_P(EngineTest, StopTokenEndsTheRequestWithoutBeingStreamed) {
  const GenerationRequest base{.prompt = random_prompt(8, 500), .max_tokens = 6};
  const auto plain = solo({base}, {.context_size = 64});
  ASSERT_EQ(plain[0].size(), 6u);
  GenerationRequest stopping = base;
  stopping.stop_tokens = {plain[0][2]};
  auto engine = start({.context_size = 64});
  Collector c;
  engine->submit(stopping, c.callbacks_for(0));
  c.wait_for(1);
  const auto first_stop = std::find(plain[0].begin(), plain[0].end(), plain[0][2]) - plain[0].begin();
  EXPECT_EQ(c.tokens(0), std::vector<int32_t>(plain[0].begin(), plain[0].begin() + first_stop));
  EXPECT_EQ(c.result(0).reason, FinishReason::kStop);
  EXPECT_EQ(c.result(0).completion_tokens, first_stop + 1);
}

TEST_P(EngineTest, RefusesRequestsThatCanNeverRunAndAFullQueue) {
  auto engine = start({.max_batch = 1, .context_size = 32, .block_size = 8, .max_queue = 1});
  auto refused = [&](GenerationRequest r, SubmitError::Kind kind, const std::string& words) {
    auto got = engine->submit(std::move(r), {});
    ASSERT_TRUE(std::holds_alternative<SubmitError>(got));
    EXPECT_EQ(std::get<SubmitError>(got).kind, kind);
    EXPECT_NE(std::get<SubmitError>(got).message.find(words), std::string::npos) << std::get<SubmitError>(got).message;
  };
  refused({.prompt = {}}, SubmitError::Kind::kInvalid, "empty");
  refused({.prompt = random_prompt(32, 1)}, SubmitError::Kind::kInvalid, "context is 32");
  refused({.prompt = {-1}}, SubmitError::Kind::kInvalid, "out of range");
  refused({.prompt = {2}, .max_tokens = 0}, SubmitError::Kind::kInvalid, "max_tokens");

  Collector c;
  // One request runs, one waits; the queue (1) is then full.
  engine->submit({.prompt = random_prompt(4, 2), .max_tokens = 20}, c.callbacks_for(0));
  engine->submit({.prompt = random_prompt(4, 3), .max_tokens = 20}, c.callbacks_for(1));
  auto third = engine->submit({.prompt = random_prompt(4, 4), .max_tokens = 20}, c.callbacks_for(2));
  if (std::holds_alternative<SubmitError>(third)) {
    EXPECT_EQ(std::get<SubmitError>(third).kind, SubmitError::Kind::kSaturated);
  } else {
    // The engine admitted the first before the third arrived; the fourth must be refused.
    refused({.prompt = random_prompt(4, 5), .max_tokens = 20}, SubmitError::Kind::kSaturated, "retry later");
  }
  engine->shutdown(false);
  refused({.prompt = {2}}, SubmitError::Kind::kShuttingDown, "shutting down");
}

// A compact cache changes the logits a little (printed: docs/benchmarks.md quotes them),
// and keeps results independent of batching.
TEST_P(EngineTest, CompactCacheCostsLittleAndStaysBatchInvariant) {
  const ModelConfig& c = model_->config();
  const std::vector<int32_t> prompt = random_prompt(24, 600);
  // Token by token, so every step reads rows written in the cache's format.
  auto logits_with = [&](DType dtype) {
    LatentCache cache(*backend_, c, 32, dtype);
    std::vector<float> all, row;
    for (size_t t = 0; t < prompt.size(); ++t) {
      EXPECT_TRUE(model_->forward(std::span(prompt).subspan(t, 1), static_cast<int64_t>(t), cache.view(), {}, row).is_ok());
      all.insert(all.end(), row.begin(), row.end());
    }
    return all;
  };
  const std::vector<float> exact = logits_with(DType::kF32);
  // Random-weight models amplify small perturbations (a rounded row can flip an expert
  // choice), so the bound only catches a broken cache; tests/backend checks the exact
  // effect of the formats on attention.
  const std::pair<DType, double> bounds[] = {{DType::kF16, 0.5}, {DType::kBF16, 0.5}, {DType::kQ8_0, 0.5}};
  const bool q8_rows = LatentBlockPool::check_dtype(c, DType::kQ8_0).is_ok();
  for (const auto& [dtype, bound] : bounds) {
    if (dtype == DType::kQ8_0 && !q8_rows) continue;
    const std::vector<float> got = logits_with(dtype);
    double diff = 0, norm = 0;
    for (size_t i = 0; i < exact.size(); ++i) {
      diff += (got[i] - exact[i]) * double(got[i] - exact[i]);
      norm += exact[i] * double(exact[i]);
    }
    const double rel = std::sqrt(diff / norm);
    std::printf("kv %s: logits relative error %.2e over %zu positions\n", std::string(dtype_name(dtype)).c_str(), rel,
                prompt.size());
    EXPECT_GT(rel, 0.0) << dtype_name(dtype) << " should round the cache";
    EXPECT_LT(rel, bound) << dtype_name(dtype);
  }

  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 5; ++i) requests.push_back({.prompt = random_prompt(5 + 9 * i, 700 + i), .max_tokens = 6});
  const DType compact = q8_rows ? DType::kQ8_0 : DType::kBF16;
  if (!q8_rows) {
    auto refused = Engine::start(*model_, {.kv_dtype = DType::kQ8_0});
    ASSERT_FALSE(refused.is_ok());
    EXPECT_NE(refused.status().message().find("multiple of 32"), std::string::npos);
  }
  const EngineOptions options{.max_batch = 8, .context_size = 64, .block_size = 8, .kv_dtype = compact};
  expect_together_like_solo(requests, options);
  auto engine = start(options);
  const int64_t index_key_bytes = c.indexer ? c.indexer->head_dim * 4 : 0;  // V3.2: f32 indexer keys
  EXPECT_EQ(engine->kv_bytes_per_token(),
            c.num_hidden_layers * ((q8_rows ? c.latent_dim() / 32 * 34 : c.latent_dim() * 2) + index_key_bytes));
}

TEST(EngineStart, RejectsACacheSmallerThanOneContext) {
  auto backend = make_cpu_backend({.threads = 1});
  ASSERT_TRUE(backend.is_ok());
  const auto path = (std::filesystem::temp_directory_path() / ("dsinfer_engine_start_" + std::to_string(::getpid()))).string();
  ASSERT_TRUE(make_test_model({.preset = "v2-lite-tiny", .out = path}).is_ok());
  auto model = load_model(path, **backend);
  ASSERT_TRUE(model.is_ok());
  auto engine = Engine::start(**model, {.context_size = 64, .kv_blocks = 3, .block_size = 16});
  ASSERT_FALSE(engine.is_ok());
  EXPECT_NE(engine.status().message().find("less than one full context"), std::string::npos);
  std::filesystem::remove_all(path);
}

INSTANTIATE_TEST_SUITE_P(Models, EngineTest,
                         ::testing::Values(ModelCase{"v3-tiny", ""}, ModelCase{"v3-q-tiny", ".q8_0.gguf"},
                                           ModelCase{"v32-tiny", ""}),
                         [](const auto& info) {
                           std::string name = info.param.preset + (info.param.file.empty() ? "_bf16" : "_q8_0");
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace dsinfer
