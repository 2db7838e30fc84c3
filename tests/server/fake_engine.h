// An Engine without a model, for testing the server: every request "generates" a fixed
// script of token ids, one per tick, on the fake's own thread (like the real engine's
// callbacks), honouring max_tokens, on_token's false, cancel() and shutdown().
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/engine.h"

namespace dsinfer::server::testing {

class FakeEngine : public Engine {
 public:
  FakeEngine(std::vector<int32_t> script, EngineOptions options, std::chrono::milliseconds tick = std::chrono::milliseconds(1))
      : script_(std::move(script)), options_(options), tick_(tick), thread_([this] { loop(); }) {}

  ~FakeEngine() override {
    shutdown(false);
    thread_.join();
  }

  std::variant<RequestId, SubmitError> submit(GenerationRequest request, RequestCallbacks callbacks) override {
    std::lock_guard lock(mutex_);
    if (stopping_) return SubmitError{SubmitError::Kind::kShuttingDown, "shutting down"};
    if (saturated) return SubmitError{SubmitError::Kind::kSaturated, "queue full"};
    const RequestId id = next_id_++;
    submitted.push_back(request);
    active_.push_back({id, std::move(request), std::move(callbacks)});
    wake_.notify_all();
    return id;
  }

  void cancel(RequestId id) override {
    std::lock_guard lock(mutex_);
    cancelled_ids_.push_back(id);
    ++cancels;
  }

  void shutdown(bool drain) override {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    if (!drain) cancel_all_ = true;
    wake_.notify_all();
    idle_.wait(lock, [&] { return active_.empty(); });
  }

  EngineStats stats() const override {
    std::lock_guard lock(mutex_);
    return {.running = static_cast<int64_t>(active_.size()), .kv_blocks_total = 64, .kv_blocks_used = 3};
  }
  const EngineOptions& options() const override { return options_; }
  int64_t kv_bytes_per_token() const override { return 1024; }

  // Read by tests after requests end (under no lock: the fake's thread has finished them).
  std::vector<GenerationRequest> submitted;
  std::atomic<bool> saturated = false;
  std::atomic<int> cancels = 0;
  std::atomic<int> finished_with_stop = 0;

 private:
  struct Active {
    RequestId id;
    GenerationRequest request;
    RequestCallbacks callbacks;
    size_t produced = 0;
    bool cancelled = false;  // set at the start of each step
  };

  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait_for(lock, tick_, [&] { return stopping_ || !active_.empty(); });
      if (active_.empty()) {
        idle_.notify_all();
        if (stopping_) return;
        continue;
      }
      // One step: every active request gets a token or finishes.
      std::vector<Active> step;
      step.swap(active_);
      lock.unlock();
      std::vector<Active> keep;
      for (Active& a : step) {
        {
          std::lock_guard guard(mutex_);
          a.cancelled = cancel_all_ || std::find(cancelled_ids_.begin(), cancelled_ids_.end(), a.id) != cancelled_ids_.end();
        }
        RequestResult result{.prompt_tokens = static_cast<int64_t>(a.request.prompt.size()),
                             .completion_tokens = static_cast<int64_t>(a.produced)};
        bool done = false;
        if (a.cancelled) {
          result.reason = FinishReason::kCancelled;
          done = true;
        } else if (a.produced >= script_.size()) {
          result.reason = FinishReason::kStop;
          done = true;
        } else if (static_cast<int64_t>(a.produced) >= a.request.max_tokens) {
          result.reason = FinishReason::kLength;
          done = true;
        } else {
          TokenOutput t{.id = script_[a.produced], .logprob = -0.5f};
          if (a.request.top_logprobs > 0) t.top_logprobs = {{script_[a.produced], -0.5f}, {0, -2.0f}};
          ++a.produced;
          if (!a.callbacks.on_token(t)) {
            result.reason = FinishReason::kStop;
            result.completion_tokens = static_cast<int64_t>(a.produced);
            ++finished_with_stop;
            done = true;
          }
        }
        if (done) {
          a.callbacks.on_finish(result);
        } else {
          keep.push_back(std::move(a));
        }
      }
      lock.lock();
      for (Active& a : active_) keep.push_back(std::move(a));  // submitted meanwhile
      active_.swap(keep);
      if (active_.empty()) idle_.notify_all();
      if (!active_.empty()) {
        lock.unlock();
        std::this_thread::sleep_for(tick_);
        lock.lock();
      }
    }
  }

  std::vector<int32_t> script_;
  EngineOptions options_;
  std::chrono::milliseconds tick_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::vector<Active> active_;
  RequestId next_id_ = 1;
  bool stopping_ = false;
  bool cancel_all_ = false;
  std::vector<RequestId> cancelled_ids_;
  std::thread thread_;
};

}  // namespace dsinfer::server::testing
