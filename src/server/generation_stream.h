// The bridge between the engine thread and an HTTP handler thread. The engine calls each
// choice's callbacks on its own thread; they detokenize (UTF-8 safe), apply the stop
// strings (so a stop string ends the request at once, freeing its cache blocks) and queue
// the result. The handler thread waits on the queue and does everything slower (output
// parsing, JSON, writing to the socket).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/metrics.h"
#include "server/stop_matcher.h"
#include "tokenizer/stream_decoder.h"

namespace dsinfer::server {

struct GenerationEvent {
  size_t choice = 0;
  std::string text;                      // text released by this event (stop strings applied)
  std::optional<TokenOutput> token;      // the token this event is about; absent on finish
  std::optional<RequestResult> finish;   // the request ended
  bool stop_string = false;              // with finish: a stop string ended it
};

// A queue of events from every choice of one HTTP request.
class GenerationChannel {
 public:
  void push(GenerationEvent event);
  // Moves every queued event to `out`, waiting up to `timeout` for the first one.
  void wait(std::vector<GenerationEvent>& out, std::chrono::milliseconds timeout);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<GenerationEvent> events_;
};

// The engine-thread side of one choice.
class ChoiceDecoder {
 public:
  // `tokenizer` and `metrics` (may be null) must outlive the engine's last callback.
  ChoiceDecoder(size_t choice, const Tokenizer& tokenizer, std::vector<std::string> stops,
                std::shared_ptr<GenerationChannel> channel, Metrics* metrics,
                std::chrono::steady_clock::time_point received);

  bool on_token(const TokenOutput& token);  // false: a stop string completed
  void on_finish(const RequestResult& result);

 private:
  size_t choice_;
  StreamDecoder decoder_;
  StopMatcher stops_;
  std::shared_ptr<GenerationChannel> channel_;
  Metrics* metrics_;
  std::chrono::steady_clock::time_point last_;  // request received, then the last token
  bool first_token_ = true;
};

// Engine callbacks that own `decoder` (so it lives as long as the engine needs it).
RequestCallbacks make_callbacks(std::shared_ptr<ChoiceDecoder> decoder);

}  // namespace dsinfer::server
