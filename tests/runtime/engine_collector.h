// Helpers of the engine tests: random prompts, and a collector of what the engine's
// callbacks report (each request's tokens and result, keyed by the test's own number).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/engine.h"

namespace dsinfer::test {

// `length` token ids in [2, vocab) from `seed` (0 and 1 are the test models' bos / eos).
inline std::vector<int32_t> random_prompt(int64_t vocab, int64_t length, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> id(2, static_cast<int32_t>(vocab) - 1);
  std::vector<int32_t> p(static_cast<size_t>(length));
  for (auto& t : p) t = id(rng);
  return p;
}

// Every finished request's tokens and result, collected from the engine thread.
class Collector {
 public:
  RequestCallbacks callbacks_for(int key, int stop_after = -1) {
    return {.on_token =
                [this, key, stop_after](const TokenOutput& t) {
                  std::lock_guard lock(mutex_);
                  tokens_[key].push_back(t.id);
                  return stop_after < 0 || static_cast<int>(tokens_[key].size()) < stop_after;
                },
            .on_finish =
                [this, key](const RequestResult& r) {
                  std::lock_guard lock(mutex_);
                  results_[key] = r;
                  done_.notify_all();
                }};
  }
  void wait_for(size_t n) {
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(done_.wait_for(lock, std::chrono::seconds(120), [&] { return results_.size() >= n; }))
        << results_.size() << " of " << n << " requests finished";
  }
  std::vector<int32_t> tokens(int key) {
    std::lock_guard lock(mutex_);
    return tokens_[key];
  }
  RequestResult result(int key) {
    std::lock_guard lock(mutex_);
    return results_.at(key);
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::map<int, std::vector<int32_t>> tokens_;
  std::map<int, RequestResult> results_;
};

}  // namespace dsinfer::test
