// `dsinfer bench-serve`: what continuous batching buys. For each concurrency level, that
// many streams start together through the serving engine (in process, no HTTP), each
// with its own prompt, and generate a fixed number of tokens greedily. Reported: the
// aggregate generated tokens/s, time to first token and inter-token latency percentiles.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/backend_options.h"
#include "cli/bench_tokens.h"
#include "cli/commands.h"
#include "cli/model_loader.h"
#include "runtime/engine.h"
#include "runtime/latent_cache.h"
#include "runtime/session.h"

namespace dsinfer::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchServeOptions {
  std::string model_path;
  std::vector<int64_t> concurrency = {1, 4, 16};
  int64_t prompt_tokens = 64;
  int64_t gen_tokens = 32;
  int64_t repeats = 1;  // rounds through every level
  std::string kv_type = "f32";  // the latent cache's storage (parse_kv_dtype)
  bool json = false;
  BackendOptions backend{.pack_at_load = true};  // a server should not slow down on first uses
};

struct LevelResult {
  int64_t streams = 0;
  double tokens_per_s = 0;  // all generated tokens / wall time from submission to the last token
  double decode_tokens_per_s = 0;  // tokens after each stream's first / time from the last first token to the end
  double ttft_p50_ms = 0, ttft_p99_ms = 0, itl_p50_ms = 0, itl_p99_ms = 0;
  int64_t steps = 0;
  // Against the first level of the same round (medians over rounds when aggregated).
  double x_first = 1, decode_x_first = 1;
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

// Model: DeepSeekModel or DeepSeekV4Model (each has its Engine::start).
template <typename Model>
Result<LevelResult> run_level(Model& model, const BenchServeOptions& o, DType kv_dtype, int64_t streams) {
  const int64_t context = o.prompt_tokens + o.gen_tokens;
  DSINFER_ASSIGN_OR_RETURN(auto engine, Engine::start(model, {.max_batch = streams,
                                                              .context_size = context,
                                                              .kv_dtype = kv_dtype,
                                                              .prefill_chunk = std::max<int64_t>(o.prompt_tokens, 1),
                                                              .step_tokens = std::max<int64_t>(o.prompt_tokens, 1) * streams,
                                                              .max_queue = streams,
                                                              .prefix_caching = false}));
  std::mutex mutex;
  std::condition_variable done;
  std::vector<std::vector<Clock::time_point>> token_times(static_cast<size_t>(streams));
  int64_t finished = 0;
  std::string failure;
  const Clock::time_point start = Clock::now();
  for (int64_t s = 0; s < streams; ++s) {
    GenerationRequest request{.prompt = bench_tokens(o.prompt_tokens, model.config().vocab_size, static_cast<uint64_t>(s)),
                              .max_tokens = o.gen_tokens};
    RequestCallbacks callbacks{.on_token =
                                   [&, s](const TokenOutput&) {
                                     std::lock_guard lock(mutex);
                                     token_times[s].push_back(Clock::now());
                                     return true;
                                   },
                               .on_finish =
                                   [&](const RequestResult& r) {
                                     std::lock_guard lock(mutex);
                                     if (r.reason == FinishReason::kError) failure = r.error;
                                     ++finished;
                                     done.notify_all();
                                   }};
    auto submitted = engine->submit(std::move(request), std::move(callbacks));
    if (auto* e = std::get_if<SubmitError>(&submitted)) return error("stream {}: {}", s, e->message);
  }
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return finished == streams; });
  if (!failure.empty()) return error("{}", failure);

  LevelResult r{.streams = streams};
  std::vector<double> ttft, itl;
  Clock::time_point last = start, last_first = start;
  int64_t generated = 0;
  for (const auto& times : token_times) {
    if (times.empty()) continue;
    ttft.push_back(ms_between(start, times.front()));
    last_first = std::max(last_first, times.front());
    for (size_t i = 1; i < times.size(); ++i) itl.push_back(ms_between(times[i - 1], times[i]));
    last = std::max(last, times.back());
    generated += static_cast<int64_t>(times.size());
  }
  r.tokens_per_s = static_cast<double>(generated) / (ms_between(start, last) / 1000.0);
  // Steady state: once every stream has its first token, all of them are decoding.
  int64_t after_first = 0;
  for (const auto& times : token_times)
    for (const auto& t : times) after_first += t > last_first ? 1 : 0;
  if (last > last_first) r.decode_tokens_per_s = static_cast<double>(after_first) / (ms_between(last_first, last) / 1000.0);
  r.ttft_p50_ms = percentile(ttft, 50);
  r.ttft_p99_ms = percentile(ttft, 99);
  r.itl_p50_ms = percentile(itl, 50);
  r.itl_p99_ms = percentile(itl, 99);
  // The engine publishes its step count after the step's callbacks have run; shutting
  // down waits for that.
  lock.unlock();
  engine->shutdown(/*drain=*/true);
  r.steps = engine->stats().steps;
  return r;
}

// Each field of a level's result the median over the rounds: levels of one round run
// minutes apart, and a machine's bandwidth drifts over minutes, so a ratio is taken
// within each round and its median reported.
LevelResult median_over_rounds(const std::vector<LevelResult>& rounds) {
  auto median = [&](double LevelResult::*field) {
    std::vector<double> values;
    for (const LevelResult& r : rounds) values.push_back(r.*field);
    return percentile(values, 50);
  };
  LevelResult m = rounds.front();
  for (double LevelResult::*field : {&LevelResult::tokens_per_s, &LevelResult::decode_tokens_per_s,
                                     &LevelResult::ttft_p50_ms, &LevelResult::ttft_p99_ms, &LevelResult::itl_p50_ms,
                                     &LevelResult::itl_p99_ms, &LevelResult::x_first, &LevelResult::decode_x_first})
    m.*field = median(field);
  return m;
}

// A warm-up (pages the weights in, builds derived forms), then every concurrency level,
// round after round.
template <typename Model>
Result<std::vector<LevelResult>> run_levels(Model& model, const BenchServeOptions& o, DType kv_dtype) {
  DSINFER_RETURN_IF_ERROR(run_level(model, {.prompt_tokens = o.prompt_tokens, .gen_tokens = 2}, kv_dtype, 1).status());
  std::vector<std::vector<LevelResult>> rounds_of(o.concurrency.size());
  for (int64_t round = 0; round < o.repeats; ++round)
    for (size_t i = 0; i < o.concurrency.size(); ++i) {
      DSINFER_ASSIGN_OR_RETURN(LevelResult r, run_level(model, o, kv_dtype, o.concurrency[i]));
      const LevelResult& first = i == 0 ? r : rounds_of[0].back();
      r.x_first = r.tokens_per_s / first.tokens_per_s;
      r.decode_x_first = r.decode_tokens_per_s / first.decode_tokens_per_s;
      rounds_of[i].push_back(r);
    }
  std::vector<LevelResult> results;
  for (const auto& rounds : rounds_of) results.push_back(median_over_rounds(rounds));
  return results;
}

Status run_bench_serve(const BenchServeOptions& o) {
  if (o.prompt_tokens < 1 || o.gen_tokens < 1) return error("-p and -n must be at least 1");
  if (o.repeats < 1) return error("-r must be at least 1, got {}", o.repeats);
  for (int64_t c : o.concurrency)
    if (c < 1) return error("concurrency levels must be at least 1, got {}", c);
  DSINFER_ASSIGN_OR_RETURN(const DType kv_dtype, parse_kv_dtype(o.kv_type));  // before the model loads
  DSINFER_ASSIGN_OR_RETURN(auto backend, make_backend(o.backend));
  DSINFER_ASSIGN_OR_RETURN(auto weights, open_weights(o.model_path));
  DSINFER_ASSIGN_OR_RETURN(std::vector<LevelResult> results,
                           with_model(std::move(weights), *backend, [&](auto& model) { return run_levels(model, o, kv_dtype); }));
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : results)
      out.push_back({{"streams", r.streams}, {"prompt_tokens", o.prompt_tokens}, {"gen_tokens", o.gen_tokens},
                     {"repeats", o.repeats}, {"kv_type", o.kv_type}, {"tokens_per_s", r.tokens_per_s}, {"x_first", r.x_first},
                     {"decode_tokens_per_s", r.decode_tokens_per_s}, {"decode_x_first", r.decode_x_first},
                     {"ttft_p50_ms", r.ttft_p50_ms}, {"ttft_p99_ms", r.ttft_p99_ms}, {"itl_p50_ms", r.itl_p50_ms},
                     {"itl_p99_ms", r.itl_p99_ms}, {"steps", r.steps}});
    fmt::print("{}\n", out.dump(2));
    return Status::ok();
  }
  if (o.repeats > 1)
    fmt::print("medians of {} rounds through the levels; x first: each round's ratio to its first level\n", o.repeats);
  fmt::print("| streams | kv | gen t/s | x first | decode t/s | x first | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | steps |\n");
  fmt::print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : results)
    fmt::print("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.0f} | {:.0f} | {:.1f} | {:.1f} | {} |\n", r.streams,
               o.kv_type, r.tokens_per_s, r.x_first, r.decode_tokens_per_s, r.decode_x_first,
               r.ttft_p50_ms, r.ttft_p99_ms, r.itl_p50_ms, r.itl_p99_ms, r.steps);
  return Status::ok();
}

}  // namespace

void add_bench_serve_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BenchServeOptions>();
  CLI::App* cmd = app.add_subcommand("bench-serve", "Measure batched serving: throughput and latency at several concurrencies");
  cmd->add_option("-m,--model", o->model_path, "Hugging Face model folder or .gguf file")->required();
  cmd->add_option("-c,--concurrency", o->concurrency, "Concurrent streams per level")->delimiter(',')->default_str("1,4,16");
  cmd->add_option("-p,--prompt", o->prompt_tokens, "Prompt tokens per stream")->default_val(64);
  cmd->add_option("-n,--gen", o->gen_tokens, "Generated tokens per stream")->default_val(32);
  cmd->add_option("-r,--repeats", o->repeats, "Rounds through every level; medians reported")->default_val(1);
  cmd->add_option("--kv-type", o->kv_type, "Latent cache storage: f32, f16, bf16 or q8_0 (V4: f32 only)")
      ->default_val("f32");
  cmd->add_flag("--json", o->json, "Print a JSON array instead of a table");
  add_backend_options(*cmd, o->backend);
  cmd->callback([o, &exit_code] {
    const Status status = run_bench_serve(*o);
    if (!status.is_ok()) exit_code = report_error(status);
  });
}

}  // namespace dsinfer::cli
