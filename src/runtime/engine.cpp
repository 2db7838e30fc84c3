// The engine thread's loop, over any architecture's EngineModel (engine_model.h). Each step:
//   1. take new requests and cancellations from the callers' threads;
//   2. plan the batch: first one token for every decoding sequence, then prompt chunks of
//      the sequences still prefilling and of newly admitted ones, up to step_tokens;
//      blocks are found for every planned row, preempting the youngest sequence (its
//      blocks freed, its tokens recomputed later) when the pool runs dry;
//   3. run the model once over the batch; 4. sample, stream, and retire finished requests.
// (A DeepSeek-V4 model's blocks are whole-sequence states: each sequence holds one, so
// its sequences wait for a free one rather than being preempted, and no prefix is cached.)
//
// Results do not depend on batching: every row is computed the same way whatever else
// is in the batch (the kernels are row-invariant), prompt rows always in the expanded
// attention form and generated rows always in the absorbed form, also when a preempted
// sequence recomputes them. Only full blocks of prompt rows enter the prefix cache, so a
// prefix hit reuses rows computed exactly as this request would have computed them.
#include "runtime/engine.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>

#include "model/deepseek_v4_model.h"
#include "runtime/block_allocator.h"
#include "runtime/engine_model.h"
#include "runtime/latent_cache.h"

namespace dsinfer {
namespace {

struct Sequence {
  Engine::RequestId id = 0;
  GenerationRequest request;
  RequestCallbacks callbacks;
  Sampler sampler;
  std::vector<int32_t> tokens;  // prompt, then generated
  int64_t prompt_length = 0;
  int64_t computed = 0;         // positions whose latent rows are in the cache
  std::vector<int32_t> blocks;  // block table
  int64_t published_blocks = 0; // leading prompt blocks already in the prefix cache
  int64_t cached_prompt_tokens = 0;
  int64_t generated = 0;
  BlockAllocator::Hash last_hash = 0;  // chain hash of the published blocks

  Sequence(Engine::RequestId id, GenerationRequest r, RequestCallbacks c)
      : id(id), request(std::move(r)), callbacks(std::move(c)), sampler(request.sampling),
        tokens(request.prompt), prompt_length(static_cast<int64_t>(request.prompt.size())) {}
};

class BatchingEngine final : public Engine {
 public:
  // `options` agree with `model`: kv_blocks and block_size are its cache's.
  BatchingEngine(std::unique_ptr<EngineModel> model, const EngineOptions& options)
      : model_(std::move(model)), options_(options), blocks_(options.kv_blocks) {
    stats_.kv_blocks_total = options.kv_blocks;
    thread_ = std::thread([this] { run(); });
  }

  ~BatchingEngine() override {
    shutdown(/*drain=*/false);
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  std::variant<RequestId, SubmitError> submit(GenerationRequest request, RequestCallbacks callbacks) override {
    const int64_t prompt = static_cast<int64_t>(request.prompt.size());
    if (prompt == 0) return SubmitError{SubmitError::Kind::kInvalid, "the prompt is empty"};
    if (prompt >= options_.context_size)
      return SubmitError{SubmitError::Kind::kInvalid,
                         fmt::format("the prompt is {} tokens, the context is {}: it leaves no room to generate",
                                     prompt, options_.context_size)};
    for (int32_t t : request.prompt)
      if (t < 0 || t >= model_->config().vocab_size)
        return SubmitError{SubmitError::Kind::kInvalid,
                           fmt::format("token id {} is out of range [0, {})", t, model_->config().vocab_size)};
    if (request.max_tokens < 1) return SubmitError{SubmitError::Kind::kInvalid, "max_tokens must be at least 1"};
    std::lock_guard lock(mutex_);
    if (!accepting_) return SubmitError{SubmitError::Kind::kShuttingDown, "the server is shutting down"};
    if (static_cast<int64_t>(inbox_.size()) + stats_.queued >= options_.max_queue)
      return SubmitError{SubmitError::Kind::kSaturated,
                         fmt::format("{} requests are already waiting; retry later", options_.max_queue)};
    const RequestId id = next_id_++;
    inbox_.push_back(std::make_unique<Sequence>(id, std::move(request), std::move(callbacks)));
    wake_.notify_all();
    return id;
  }

  void cancel(RequestId id) override {
    std::lock_guard lock(mutex_);
    cancelled_.insert(id);
    wake_.notify_all();
  }

  void shutdown(bool drain) override {
    std::unique_lock lock(mutex_);
    accepting_ = false;
    if (!drain) cancel_all_ = true;
    wake_.notify_all();
    idle_.wait(lock, [&] { return inbox_.empty() && live_ == 0; });
  }

  EngineStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }
  const EngineOptions& options() const override { return options_; }
  int64_t kv_bytes_per_token() const override { return model_->kv_bytes_per_token(); }

 private:
  using SequencePtr = std::unique_ptr<Sequence>;

  // What step() plans for one sequence.
  struct Planned {
    Sequence* sequence;
    int64_t count;
  };

  void run();
  bool is_running(const Sequence* s) const {
    return std::any_of(running_.begin(), running_.end(), [&](const SequencePtr& r) { return r.get() == s; });
  }
  void take_inbox(std::unique_lock<std::mutex>& lock);
  void retire_cancelled();
  std::vector<Planned> plan();
  bool reserve(Sequence& s, int64_t end, const Sequence* keep);
  void preempt(Sequence& s);
  void admit_prefix(Sequence& s);
  void execute(const std::vector<Planned>& batch);
  void after_chunk(Sequence& s, int64_t count, std::span<const float> logits);
  void finish(Sequence& s, FinishReason reason, std::string error = {});
  void free_blocks(Sequence& s);
  void remove_finished();

  const std::unique_ptr<EngineModel> model_;
  const EngineOptions options_;

  // Shared with callers, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<SequencePtr> inbox_;
  std::unordered_set<RequestId> cancelled_;
  bool accepting_ = true, cancel_all_ = false, stop_ = false;
  int64_t live_ = 0;  // accepted, not yet finished (engine-side sequences)
  RequestId next_id_ = 1;
  EngineStats stats_;

  // Engine thread only.
  BlockAllocator blocks_;
  std::deque<SequencePtr> waiting_;
  std::vector<SequencePtr> running_;  // in admission order: the last is preempted first
  std::vector<Sequence*> finished_;
  int64_t retired_ = 0;  // removed since the last stats update
  int64_t preemptions_ = 0;
  int64_t steps_ = 0;
  int64_t prompt_tokens_ = 0, cached_prompt_tokens_ = 0, generated_tokens_ = 0;
  std::vector<float> logits_;
  std::thread thread_;
};

void BatchingEngine::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] {
      return stop_ || !inbox_.empty() || !cancelled_.empty() || (cancel_all_ && live_ > 0) || !waiting_.empty() ||
             !running_.empty();
    });
    if (stop_) return;
    take_inbox(lock);
    lock.unlock();

    retire_cancelled();
    const std::vector<Planned> batch = plan();
    if (!batch.empty()) execute(batch);
    remove_finished();

    lock.lock();
    // Stats and the live count change together, so whoever sees a request finished
    // through shutdown() also sees its blocks freed.
    live_ -= std::exchange(retired_, 0);
    stats_.queued = static_cast<int64_t>(waiting_.size());
    stats_.running = static_cast<int64_t>(running_.size());
    stats_.kv_blocks_used = blocks_.referenced();
    stats_.kv_blocks_cached = blocks_.evictable();
    stats_.steps = steps_;
    stats_.preemptions = preemptions_;
    stats_.prompt_tokens = prompt_tokens_;
    stats_.cached_prompt_tokens = cached_prompt_tokens_;
    stats_.generated_tokens = generated_tokens_;
    if (!batch.empty()) {
      stats_.last_batch_sequences = static_cast<int64_t>(batch.size());
      const auto* bound = std::lower_bound(std::begin(EngineStats::kBatchBounds), std::end(EngineStats::kBatchBounds),
                                           stats_.last_batch_sequences);
      ++stats_.batch_sequences_steps[bound - std::begin(EngineStats::kBatchBounds)];
      stats_.batch_sequences_sum += stats_.last_batch_sequences;
      stats_.last_batch_tokens = 0;
      for (const Planned& p : batch) stats_.last_batch_tokens += p.count;
    }
    if (inbox_.empty() && live_ == 0) idle_.notify_all();
  }
}

void BatchingEngine::take_inbox(std::unique_lock<std::mutex>& lock) {
  while (!inbox_.empty()) {
    waiting_.push_back(std::move(inbox_.front()));
    inbox_.pop_front();
    ++live_;
  }
  // Cancellation flags are read by retire_cancelled; copy them out under the lock.
  if (cancel_all_) {
    for (const auto& s : waiting_) cancelled_.insert(s->id);
    for (const auto& s : running_) cancelled_.insert(s->id);
  }
}

void BatchingEngine::retire_cancelled() {
  std::unordered_set<RequestId> ids;
  {
    std::lock_guard lock(mutex_);
    ids.swap(cancelled_);
  }
  if (ids.empty()) return;
  for (auto& s : running_)
    if (ids.contains(s->id)) finish(*s, FinishReason::kCancelled);
  for (auto& s : waiting_)
    if (ids.contains(s->id)) finish(*s, FinishReason::kCancelled);
  remove_finished();
}

std::vector<BatchingEngine::Planned> BatchingEngine::plan() {
  std::vector<Planned> batch;
  int64_t budget = options_.step_tokens;
  // Oldest first, so that under memory pressure the oldest keep going and the youngest
  // are preempted (reserve() may preempt sequences planned earlier in this loop).
  std::vector<Sequence*> order;
  for (const auto& s : running_) order.push_back(s.get());
  for (Sequence* s : order) {
    if (!is_running(s)) continue;
    const int64_t pending = static_cast<int64_t>(s->tokens.size()) - s->computed;
    const bool decoding = s->computed >= s->prompt_length && pending == 1;
    int64_t count = decoding ? 1 : std::min({pending, options_.prefill_chunk, budget});
    // Prompt and generated rows never share a chunk: they use different attention forms.
    if (s->computed < s->prompt_length) count = std::min(count, s->prompt_length - s->computed);
    if (count <= 0) continue;
    // A lone sequence always fits: start() checks that the pool holds a whole context.
    if (!reserve(*s, s->computed + count, s)) continue;
    batch.push_back({s, count});
    if (!decoding) budget -= count;
  }
  std::erase_if(batch, [&](const Planned& p) { return !is_running(p.sequence); });

  // Admit waiting requests while there is room in the batch, the budget and the pool.
  while (!waiting_.empty() && budget > 0 && static_cast<int64_t>(running_.size()) < options_.max_batch) {
    Sequence& s = *waiting_.front();
    admit_prefix(s);
    const int64_t pending = static_cast<int64_t>(s.tokens.size()) - s.computed;
    int64_t count = std::min({pending, options_.prefill_chunk, budget});
    if (s.computed < s.prompt_length) count = std::min(count, s.prompt_length - s.computed);
    const int64_t needed_blocks = (s.computed + count + options_.block_size - 1) / options_.block_size -
                                  static_cast<int64_t>(s.blocks.size());
    if (needed_blocks > blocks_.available()) {
      free_blocks(s);  // give back the prefix hits; retry when blocks free up
      s.computed = 0;
      break;
    }
    reserve(s, s.computed + count, nullptr);
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    batch.push_back({&s, count});
    budget -= count;
  }
  return batch;
}

// Looks up the longest cached run of full prompt blocks for a sequence about to start.
// At least the last prompt token is always computed, to get its logits.
void BatchingEngine::admit_prefix(Sequence& s) {
  s.last_hash = 0;
  s.published_blocks = 0;
  if (!options_.prefix_caching) return;
  const int64_t B = options_.block_size;
  const int64_t reusable = (s.prompt_length - 1) / B;
  for (int64_t b = 0; b < reusable; ++b) {
    const auto hash = BlockAllocator::chain(s.last_hash, std::span(s.tokens).subspan(b * B, B));
    const auto block = blocks_.lookup(hash);
    if (!block) break;
    s.blocks.push_back(*block);
    s.last_hash = hash;
    ++s.published_blocks;
  }
  s.computed = static_cast<int64_t>(s.blocks.size()) * B;
  if (s.generated == 0) s.cached_prompt_tokens = s.computed;
}

// Blocks for positions [0, end) of `s`, preempting the youngest running sequences other
// than `keep` when the pool is empty. False when nothing is left to preempt.
bool BatchingEngine::reserve(Sequence& s, int64_t end, const Sequence* keep) {
  const int64_t needed = (end + options_.block_size - 1) / options_.block_size;
  while (static_cast<int64_t>(s.blocks.size()) < needed) {
    if (auto block = blocks_.allocate()) {
      s.blocks.push_back(*block);
      continue;
    }
    auto victim = std::find_if(running_.rbegin(), running_.rend(), [&](const SequencePtr& r) { return r.get() != keep; });
    if (victim == running_.rend()) return false;
    preempt(**victim);
  }
  return true;
}

// Frees all of a running sequence's blocks and puts it first in the waiting queue; it
// recomputes its rows when readmitted (sampling state and generated tokens are kept).
void BatchingEngine::preempt(Sequence& s) {
  ++preemptions_;
  free_blocks(s);
  s.computed = 0;
  auto it = std::find_if(running_.begin(), running_.end(), [&](const SequencePtr& r) { return r.get() == &s; });
  waiting_.push_front(std::move(*it));
  running_.erase(it);
}

void BatchingEngine::execute(const std::vector<Planned>& batch) {
  std::vector<EngineChunk> chunks;
  chunks.reserve(batch.size());
  for (const Planned& p : batch) {
    Sequence& s = *p.sequence;
    const bool completes = s.computed + p.count == static_cast<int64_t>(s.tokens.size());
    chunks.push_back({.tokens = std::span(s.tokens).subspan(s.computed, p.count),
                      .start_pos = s.computed,
                      .block_table = s.blocks,
                      .options = {.logits = completes ? ForwardOptions::Logits::kLast : ForwardOptions::Logits::kNone,
                                  .attention_form = s.computed < s.prompt_length ? MlaForm::kExpanded
                                                                                 : MlaForm::kAbsorbed}});
  }
  ++steps_;
  const Status status = model_->run(chunks, logits_);
  if (!status.is_ok()) {
    for (const Planned& p : batch) finish(*p.sequence, FinishReason::kError, status.message());
    return;
  }
  const int64_t vocab = model_->config().vocab_size;
  int64_t row = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    std::span<const float> logits;
    if (chunks[i].options.logits == ForwardOptions::Logits::kLast)
      logits = std::span<const float>(logits_).subspan(static_cast<size_t>(row++ * vocab), static_cast<size_t>(vocab));
    after_chunk(*batch[i].sequence, batch[i].count, logits);
  }
}

void BatchingEngine::after_chunk(Sequence& s, int64_t count, std::span<const float> logits) {
  const int64_t B = options_.block_size;
  if (s.computed < s.prompt_length) prompt_tokens_ += count;
  s.computed += count;
  // Publish the prompt blocks this chunk completed.
  if (options_.prefix_caching) {
    const int64_t full = std::min(s.computed, s.prompt_length) / B;
    for (; s.published_blocks < full; ++s.published_blocks) {
      s.last_hash = BlockAllocator::chain(s.last_hash, std::span(s.tokens).subspan(s.published_blocks * B, B));
      blocks_.publish(s.blocks[s.published_blocks], s.last_hash);
    }
  }
  if (logits.empty()) return;

  const int32_t token = s.sampler.sample(logits);
  s.tokens.push_back(token);
  ++s.generated;
  ++generated_tokens_;
  const auto& stops = s.request.stop_tokens;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) return finish(s, FinishReason::kStop);
  TokenOutput out{.id = token};
  if (s.request.top_logprobs >= 0) {
    TokenLogprobs lp = token_logprobs(logits, token, s.request.top_logprobs);
    out.logprob = lp.chosen;
    out.top_logprobs = std::move(lp.top);
  }
  if (!s.callbacks.on_token(out)) return finish(s, FinishReason::kStop);
  if (s.generated >= s.request.max_tokens || static_cast<int64_t>(s.tokens.size()) >= options_.context_size)
    finish(s, FinishReason::kLength);
}

void BatchingEngine::finish(Sequence& s, FinishReason reason, std::string error) {
  if (std::find(finished_.begin(), finished_.end(), &s) != finished_.end()) return;
  free_blocks(s);
  finished_.push_back(&s);
  RequestResult result{.reason = reason,
                       .prompt_tokens = s.prompt_length,
                       .completion_tokens = s.generated,
                       .cached_prompt_tokens = s.cached_prompt_tokens,
                       .error = std::move(error)};
  s.callbacks.on_finish(result);
}

void BatchingEngine::free_blocks(Sequence& s) {
  for (int32_t b : s.blocks) blocks_.release(b);
  s.blocks.clear();
  s.published_blocks = 0;
}

void BatchingEngine::remove_finished() {
  if (finished_.empty()) return;
  auto done = [&](const SequencePtr& s) {
    return std::find(finished_.begin(), finished_.end(), s.get()) != finished_.end();
  };
  retired_ += static_cast<int64_t>(std::erase_if(running_, done) + std::erase_if(waiting_, done));
  finished_.clear();
}

// Checks what every architecture needs of the options.
Status check_common_options(const EngineOptions& options, const ModelConfig& c) {
  if (options.context_size < 2) return error("the context size must be at least 2, got {}", options.context_size);
  if (options.context_size > c.max_position_embeddings)
    return error("a context of {} exceeds the model's max_position_embeddings={}", options.context_size,
                 c.max_position_embeddings);
  if (options.block_size < 1 || options.max_batch < 1 || options.prefill_chunk < 1 || options.step_tokens < 1)
    return error("block size, batch size, prefill chunk and step tokens must all be positive");
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::start(DeepSeekModel& model, const EngineOptions& given) {
  EngineOptions options = given;
  const ModelConfig& c = model.config();
  DSINFER_RETURN_IF_ERROR(check_common_options(options, c));
  DSINFER_RETURN_IF_ERROR(LatentBlockPool::check_dtype(c, options.kv_dtype));
  const int64_t context_blocks = (options.context_size + options.block_size - 1) / options.block_size;
  if (options.kv_blocks == 0) options.kv_blocks = context_blocks * options.max_batch;
  if (options.kv_blocks < context_blocks)
    return error("the KV cache holds {} blocks of {} positions ({} positions), less than one full context of {}: "
                 "give it more memory or a smaller context",
                 options.kv_blocks, options.block_size, options.kv_blocks * options.block_size, options.context_size);
  auto engine_model = make_mla_engine_model(model, options.kv_blocks, options.block_size, options.kv_dtype);
  return std::unique_ptr<Engine>(new BatchingEngine(std::move(engine_model), options));
}

Result<std::unique_ptr<Engine>> Engine::start(DeepSeekV4Model& model, const EngineOptions& given) {
  EngineOptions options = given;
  DSINFER_RETURN_IF_ERROR(check_common_options(options, model.config()));
  if (options.kv_dtype != DType::kF32)
    return error("DeepSeek-V4 caches are float32 only, not {}: use --kv-type f32", dtype_name(options.kv_dtype));
  // A block is one sequence's whole state; a prefix cannot be shared, as a state holds
  // every earlier position's effect (the window ring and the compressors' pools).
  options.block_size = options.context_size;
  options.prefix_caching = false;
  if (options.kv_blocks == 0) options.kv_blocks = options.max_batch;
  if (options.kv_blocks < 1)
    return error("the DeepSeek-V4 cache must hold at least one sequence state of {} positions, got {} slots",
                 options.context_size, options.kv_blocks);
  auto engine_model = make_v4_engine_model(model, options.kv_blocks, options.context_size);
  return std::unique_ptr<Engine>(new BatchingEngine(std::move(engine_model), options));
}

}  // namespace dsinfer
