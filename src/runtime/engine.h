// The serving engine: many requests share one model. A background thread runs one model
// step at a time over a batch that mixes prefill chunks of new requests with the decode
// token of every running one (continuous batching), over a paged latent cache with
// prefix sharing and preemption (DeepSeek-V4: one whole-sequence state per sequence, see
// engine_model.h). Callers submit requests and get their tokens through callbacks;
// everything public here is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "model/deepseek_model.h"
#include "runtime/sampler.h"

namespace dsinfer {

class DeepSeekV4Model;

struct GenerationRequest {
  std::vector<int32_t> prompt;          // at least one token
  int64_t max_tokens = 16;              // generated tokens at most (stop tokens included)
  SamplingParams sampling;
  std::vector<int32_t> stop_tokens;     // sampling one ends the request with kStop
  int32_t top_logprobs = -1;            // <0: no logprobs; n >= 0: chosen token's logprob + n best
};

struct TokenOutput {
  int32_t id = 0;
  float logprob = 0.0f;                                   // when top_logprobs >= 0
  std::vector<std::pair<int32_t, float>> top_logprobs;    // best first
};

enum class FinishReason {
  kStop,       // a stop token, or on_token returned false
  kLength,     // max_tokens reached, or the context is full
  kCancelled,  // cancel() or shutdown
  kError,      // the model step failed; `error` says why
};

struct RequestResult {
  FinishReason reason = FinishReason::kStop;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
  std::string error;
};

// Both run on the engine thread and must return quickly (hand the data to the caller's
// own thread). on_token is not called for a stop token.
struct RequestCallbacks {
  std::function<bool(const TokenOutput&)> on_token;       // false: end the request (kStop)
  std::function<void(const RequestResult&)> on_finish;    // exactly once per accepted request
};

struct SubmitError {
  enum class Kind {
    kInvalid,       // the request can never run (empty prompt, longer than the context, ...)
    kSaturated,     // the wait queue is full: retry later
    kShuttingDown,
  };
  Kind kind;
  std::string message;
};

struct EngineStats {
  // Sequences per step, as a histogram: steps[i] counts steps with at most
  // kBatchBounds[i] sequences (and more than the bound before); the last slot, more.
  static constexpr int64_t kBatchBounds[] = {1, 2, 4, 8, 16, 32, 64, 128};
  std::array<int64_t, std::size(kBatchBounds) + 1> batch_sequences_steps{};
  int64_t batch_sequences_sum = 0;

  int64_t queued = 0;           // accepted, not yet admitted to the batch
  int64_t running = 0;          // holding cache blocks
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;   // referenced by a live sequence
  int64_t kv_blocks_cached = 0; // unreferenced but kept for prefix reuse; evicted when needed
  int64_t steps = 0;
  int64_t last_batch_sequences = 0;
  int64_t last_batch_tokens = 0;
  int64_t preemptions = 0;
  int64_t prompt_tokens = 0;      // total processed, excluding prefix-cache hits
  int64_t cached_prompt_tokens = 0;
  int64_t generated_tokens = 0;
};

struct EngineOptions {
  int64_t max_batch = 16;              // sequences per step
  int64_t context_size = 4096;         // positions per sequence (prompt + generated)
  int64_t kv_blocks = 0;               // cache blocks; 0: enough for max_batch full contexts
  int64_t block_size = 16;             // positions per cache block
  DType kv_dtype = DType::kF32;        // cache storage: f32, f16, bf16 or q8_0
  int64_t prefill_chunk = 256;         // prompt tokens per sequence per step
  int64_t step_tokens = 512;           // tokens per step, decode tokens first
  int64_t max_queue = 256;             // waiting requests before submit reports kSaturated
  bool prefix_caching = true;
};

class Engine {
 public:
  using RequestId = uint64_t;

  // Starts the engine thread over `model`, which must outlive the engine.
  static Result<std::unique_ptr<Engine>> start(DeepSeekModel& model, const EngineOptions& options);
  // The same for DeepSeek-V4, whose caches are per-sequence states: kv_blocks counts
  // sequence slots (0: max_batch), block_size becomes the context, prefix caching is off
  // and the cache is float32. options() reports what was chosen.
  static Result<std::unique_ptr<Engine>> start(DeepSeekV4Model& model, const EngineOptions& options);
  virtual ~Engine() = default;  // cancels what is left and joins the thread

  virtual std::variant<RequestId, SubmitError> submit(GenerationRequest request, RequestCallbacks callbacks) = 0;
  // Ends the request at the next step (on_finish with kCancelled) and frees its blocks.
  // Unknown or finished ids are ignored.
  virtual void cancel(RequestId id) = 0;
  // Stops accepting requests; running and queued ones finish normally (drain) or are
  // cancelled. Returns once none is left.
  virtual void shutdown(bool drain) = 0;

  virtual EngineStats stats() const = 0;
  virtual const EngineOptions& options() const = 0;
  // Cache bytes per token, all layers (what `inspect` prints for MLA models; for V4 a
  // sequence state's bytes over its context).
  virtual int64_t kv_bytes_per_token() const = 0;
};

}  // namespace dsinfer
