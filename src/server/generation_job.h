// One /v1/chat/completions or /v1/completions request on the HTTP handler thread: its
// choices are submitted to the engine, their events (generation_stream.h) are turned into
// OpenAI fields, and the result is either one JSON response or a stream of SSE chunks.
// The destructor cancels whatever still runs, so a handler that returns early (client
// gone, error) never leaves work in the engine.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/chat_format.h"
#include "server/generation_stream.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace dsinfer::server {

struct JobSpec {
  ResponseMeta meta;                              // meta.chat picks the endpoint
  std::vector<std::vector<int32_t>> prompts;      // one per choice (prompt p, copy i: p * n + i)
  std::vector<int64_t> max_tokens;                // one per choice, already fitted to the context
  GenerationParams params;
  ChatFormat format;                              // chat: how the reply is parsed
  bool parse_tools = false;
  bool opens_reasoning = false;                   // the prompt ends inside <think>
  std::string forced_output;                      // chat: the reply's start the prompt wrote
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
};

class GenerationJob {
 public:
  // `engine`, `tokenizer` and `metrics` (may be null) must outlive the engine's callbacks.
  GenerationJob(Engine& engine, const Tokenizer& tokenizer, Metrics* metrics, JobSpec spec);
  ~GenerationJob();
  GenerationJob(const GenerationJob&) = delete;
  GenerationJob& operator=(const GenerationJob&) = delete;

  // Submits every choice; on a refusal cancels those already submitted.
  std::optional<SubmitError> submit();

  // Waits for every choice and returns the response body, or the error that ended one.
  // Asks client_gone() every kClientCheck while it waits; once it says yes, stops the
  // generation and returns an error (nobody will read the body).
  ApiResult<nlohmann::json> collect(const std::function<bool()>& client_gone);
  static constexpr std::chrono::milliseconds kClientCheck{100};

  // Streaming: appends the next SSE bytes to `out`, waiting at most `poll` for them (so
  // the caller can check its connection in between; `out` may stay empty). False when the
  // stream is over: the call before appended data: [DONE].
  bool next_sse(std::string& out, std::chrono::milliseconds poll);

  // Stops every choice still running (the client went away).
  void cancel();

 private:
  struct Choice {
    std::optional<ChatOutputParser> parser;
    std::optional<Engine::RequestId> id;
    bool finished = false;
    RequestResult result;
    ChoiceResult out;
    std::vector<std::string> call_ids;
    size_t text_bytes = 0;  // completions: reply bytes so far, for text_offset
  };

  void handle(const GenerationEvent& event, std::string* sse);
  LogprobEntry logprob_entry(const TokenOutput& token, size_t text_offset) const;
  std::string finish_reason(const Choice& c, bool stop_string) const;
  Usage usage() const;
  bool all_finished() const;

  Engine& engine_;
  const Tokenizer& tokenizer_;
  Metrics* metrics_;
  JobSpec spec_;
  std::shared_ptr<GenerationChannel> channel_ = std::make_shared<GenerationChannel>();
  std::vector<Choice> choices_;
  bool started_stream_ = false;
  bool done_ = false;
};

}  // namespace dsinfer::server
