// The serving engine over DeepSeek-V4 (a v4-tiny model, CPU backend): every request of a
// crowd larger than the engine's state slots gives exactly the tokens V4Session gives it
// alone (so reused slots carry nothing over from earlier sequences, also after a
// cancellation), a cancelled request frees its slot, and what can never run is refused.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "engine_collector.h"
#include "model/deepseek_v4_model.h"
#include "model/deepseek_v4_state.h"
#include "model/test_model.h"
#include "runtime/engine.h"
#include "runtime/engine_model.h"
#include "runtime/session.h"
#include "runtime/v4_session.h"

namespace dsinfer {
namespace {

using test::Collector;

class V4EngineTest : public ::testing::Test {
 protected:
  static std::filesystem::path dir() {
    return std::filesystem::temp_directory_path() / ("dsinfer_engine_v4_test_" + std::to_string(::getpid()));
  }
  static void SetUpTestSuite() {
    ASSERT_TRUE(make_test_model({.preset = "v4-tiny", .seed = 7, .out = dir().string()}).is_ok());
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir()); }

  void SetUp() override {
    auto backend = make_cpu_backend({.threads = 2});
    ASSERT_TRUE(backend.is_ok()) << backend.status().message();
    backend_ = std::move(backend).value();
    auto weights = open_weights(dir().string());
    ASSERT_TRUE(weights.is_ok()) << weights.status().message();
    auto model = DeepSeekV4Model::load(std::move(weights).value(), *backend_);
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    model_ = std::move(model).value();
  }

  std::vector<int32_t> random_prompt(int64_t length, uint32_t seed) const {
    return test::random_prompt(model_->config().vocab_size, length, seed);
  }

  std::unique_ptr<Engine> start(const EngineOptions& options) {
    auto engine = Engine::start(*model_, options);
    EXPECT_TRUE(engine.is_ok()) << engine.status().message();
    return engine.is_ok() ? std::move(engine).value() : nullptr;
  }

  // The oracle: greedy tokens of a fresh V4Session (its own state, the prompt in one chunk).
  std::vector<int32_t> alone(const std::vector<int32_t>& prompt, int64_t tokens, int64_t context) {
    V4Session session(*model_, context);
    std::vector<int32_t> out;
    const Status s = session.generate(prompt, tokens, {.temperature = 0.0f}, [&](int32_t t) {
      out.push_back(t);
      return true;
    });
    EXPECT_TRUE(s.is_ok()) << s.message();
    return out;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<DeepSeekV4Model> model_;
};

TEST_F(V4EngineTest, MoreRequestsThanSlotsEachGiveTheirSoloTokens) {
  // Prompts cross the window (8), CSA blocks (4) and, in the first, an HCA block (128);
  // the first also runs into the end of its context. It goes first, so a later, shorter
  // sequence reuses the slot it filled. Prompts fit one prefill chunk, as V4Session's do.
  constexpr int64_t kContext = 160;
  std::vector<GenerationRequest> requests;
  requests.push_back({.prompt = random_prompt(140, 1), .max_tokens = 100});
  for (int i = 1; i < 6; ++i) requests.push_back({.prompt = random_prompt(3 + 11 * i, 1 + i), .max_tokens = 5 + i});
  auto engine = start({.max_batch = 4, .context_size = kContext, .kv_blocks = 2, .step_tokens = 1024});
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->options().kv_blocks, 2);
  EXPECT_EQ(engine->options().block_size, kContext);
  EXPECT_FALSE(engine->options().prefix_caching);
  Collector c;
  for (size_t i = 0; i < requests.size(); ++i)
    ASSERT_TRUE(std::holds_alternative<Engine::RequestId>(engine->submit(requests[i], c.callbacks_for(int(i)))));
  c.wait_for(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    // The context ends the first request: its last token fills position kContext - 1.
    const int64_t expected_count = std::min<int64_t>(r.max_tokens, kContext - static_cast<int64_t>(r.prompt.size()));
    EXPECT_EQ(c.tokens(int(i)), alone(r.prompt, expected_count, kContext)) << "request " << i;
    EXPECT_EQ(c.result(int(i)).reason, FinishReason::kLength) << "request " << i;
    EXPECT_EQ(c.result(int(i)).completion_tokens, expected_count) << "request " << i;
    EXPECT_EQ(c.result(int(i)).cached_prompt_tokens, 0) << "request " << i;
  }
  engine->shutdown(true);
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.kv_blocks_total, 2);
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_EQ(stats.kv_blocks_cached, 0);
  EXPECT_EQ(stats.preemptions, 0);
  // Two slots: no step ran more than two sequences, and some ran two.
  for (size_t i = 2; i < stats.batch_sequences_steps.size(); ++i) EXPECT_EQ(stats.batch_sequences_steps[i], 0) << i;
  EXPECT_GT(stats.batch_sequences_sum, stats.steps);
}

TEST_F(V4EngineTest, CancellationFreesTheSlotForTheNextRequest) {
  auto engine = start({.max_batch = 2, .context_size = 512, .kv_blocks = 1});
  ASSERT_NE(engine, nullptr);
  Collector c;
  auto first = engine->submit({.prompt = random_prompt(20, 10), .max_tokens = 400}, c.callbacks_for(0));
  ASSERT_TRUE(std::holds_alternative<Engine::RequestId>(first));
  const GenerationRequest waiting{.prompt = random_prompt(9, 11), .max_tokens = 7};
  ASSERT_TRUE(std::holds_alternative<Engine::RequestId>(engine->submit(waiting, c.callbacks_for(1))));
  while (c.tokens(0).size() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The one slot is taken: the second request has not started.
  EXPECT_TRUE(c.tokens(1).empty());
  engine->cancel(std::get<Engine::RequestId>(first));
  c.wait_for(2);
  EXPECT_EQ(c.result(0).reason, FinishReason::kCancelled);
  EXPECT_LT(c.tokens(0).size(), 400u);
  EXPECT_EQ(c.result(1).reason, FinishReason::kLength);
  EXPECT_EQ(c.tokens(1), alone(waiting.prompt, waiting.max_tokens, 512));
  engine->shutdown(true);
  EXPECT_EQ(engine->stats().kv_blocks_used, 0);
  EXPECT_EQ(engine->stats().running, 0);
}

TEST_F(V4EngineTest, RefusesWhatCanNeverRun) {
  auto engine = start({.max_batch = 1, .context_size = 32});
  ASSERT_NE(engine, nullptr);
  for (int64_t length : {32, 33}) {
    auto got = engine->submit({.prompt = random_prompt(length, 20)}, {});
    ASSERT_TRUE(std::holds_alternative<SubmitError>(got));
    EXPECT_EQ(std::get<SubmitError>(got).kind, SubmitError::Kind::kInvalid);
    EXPECT_NE(std::get<SubmitError>(got).message.find("context is 32"), std::string::npos);
  }
  auto out_of_vocab = engine->submit({.prompt = {static_cast<int32_t>(model_->config().vocab_size)}}, {});
  ASSERT_TRUE(std::holds_alternative<SubmitError>(out_of_vocab));
  EXPECT_EQ(std::get<SubmitError>(out_of_vocab).kind, SubmitError::Kind::kInvalid);
  // One slot per batch entry by default; the state's bytes spread over its context.
  EXPECT_EQ(engine->options().kv_blocks, 1);
  EXPECT_EQ(engine->kv_bytes_per_token(), (V4State::bytes(model_->config(), 32) + 31) / 32);
}

TEST_F(V4EngineTest, StartRejectsOptionsV4CannotServe) {
  auto refused = [&](const EngineOptions& options, const std::string& words) {
    auto engine = Engine::start(*model_, options);
    ASSERT_FALSE(engine.is_ok());
    EXPECT_NE(engine.status().message().find(words), std::string::npos) << engine.status().message();
  };
  refused({.context_size = model_->config().max_position_embeddings + 1}, "max_position_embeddings");
  refused({.context_size = 64, .kv_dtype = DType::kBF16}, "float32 only");
  refused({.context_size = 64, .kv_blocks = -1}, "at least one sequence state");
}

// The adapter itself: a chunk must continue its slot's sequence where it stopped.
TEST_F(V4EngineTest, ChunkThatSkipsPositionsIsAnError) {
  auto engine_model = make_v4_engine_model(*model_, 1, 16);
  const std::vector<int32_t> tokens = random_prompt(4, 30);
  const int32_t slot[] = {0};
  std::vector<float> logits;
  const EngineChunk late{.tokens = tokens, .start_pos = 2, .block_table = slot};
  const Status status = engine_model->run({&late, 1}, logits);
  ASSERT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("at position 0"), std::string::npos) << status.message();
  const EngineChunk first{.tokens = tokens, .start_pos = 0, .block_table = slot};
  ASSERT_TRUE(engine_model->run({&first, 1}, logits).is_ok());
  EXPECT_EQ(logits.size(), static_cast<size_t>(model_->config().vocab_size));
}

}  // namespace
}  // namespace dsinfer
