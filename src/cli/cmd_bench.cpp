// `dsinfer bench`: prompt processing (pp) and token generation (tg) throughput, set
// against the machine's memory bandwidth: tg cannot beat bandwidth / bytes per token.
// The bandwidth is probed before the first timed run of a test and after each one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <thread>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "backend/cpu/memory_bandwidth.h"
#include "cli/backend_options.h"
#include "cli/bench_tokens.h"
#include "cli/commands.h"
#include "cli/model_loader.h"
#include "model/weight_traffic.h"
#include "runtime/session.h"
#include "runtime/v4_session.h"

namespace dsinfer::cli {
namespace {

struct BenchOptions {
  std::string model_path;
  int64_t prompt_tokens = 512;
  int64_t gen_tokens = 128;
  int64_t depth = 0;  // tokens already in the context when a timed test starts
  int repeats = 5;
  std::string kv_type = "f32";
  bool json = false;
  BackendOptions backend;
};

struct Measurement {
  std::string test;
  double tokens_per_s = 0;  // median of the timed runs: a run held up by the machine moves it little
  double stddev = 0;        // spread of the runs about their mean
  double bandwidth_gbs = 0;  // median of the probes taken around the timed runs
  double pct_of_bound = 0;   // median over the runs, each against the probes beside it
  std::vector<double> rates;       // tokens/s of each timed run
  std::vector<double> bandwidths;  // GB/s probed before the first run and after each
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// rates[r] ran between the probes bandwidths[r] and bandwidths[r + 1]; the bound of a
// run is the bandwidth beside it (their mean) over the bytes a token reads.
Measurement summarize(const std::string& test, const std::vector<double>& rates, const std::vector<double>& bandwidths,
                      int64_t bytes_per_token) {
  const double mean = std::accumulate(rates.begin(), rates.end(), 0.0) / static_cast<double>(rates.size());
  double var = 0;
  for (double r : rates) var += (r - mean) * (r - mean);
  std::vector<double> pcts;
  for (size_t r = 0; r < rates.size(); ++r) {
    const double bound = 0.5 * (bandwidths[r] + bandwidths[r + 1]) * 1e9 / static_cast<double>(bytes_per_token);
    pcts.push_back(100.0 * rates[r] / bound);
  }
  return {test, median(rates), rates.size() > 1 ? std::sqrt(var / static_cast<double>(rates.size() - 1)) : 0.0,
          median(bandwidths), median(pcts), rates, bandwidths};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The session type that runs a model: the MLA latent cache, or V4's own caches.
template <typename Model>
struct SessionOf;
template <>
struct SessionOf<DeepSeekModel> {
  using type = Session;
};
template <>
struct SessionOf<DeepSeekV4Model> {
  using type = V4Session;
};

// A session holding `depth` tokens (filled untimed), with room for `more`, its latent
// cache stored as `kv_dtype` (V4's caches are float32 only).
template <typename Model>
Result<typename SessionOf<Model>::type> session_at_depth(Model& model, DType kv_dtype, const std::vector<int32_t>& depth,
                                                         int64_t more) {
  const int64_t capacity = static_cast<int64_t>(depth.size()) + more;
  typename SessionOf<Model>::type session = [&] {
    if constexpr (std::is_same_v<Model, DeepSeekModel>) return Session(model, capacity, kv_dtype);
    else return V4Session(model, capacity);
  }();
  std::vector<float> logits;
  if (!depth.empty()) DSINFER_RETURN_IF_ERROR(session.append(depth, {}, logits));
  return session;
}

template <typename Model>
Result<double> time_prompt(Model& model, DType kv_dtype, const std::vector<int32_t>& depth,
                            const std::vector<int32_t>& tokens) {
  DSINFER_ASSIGN_OR_RETURN(auto session,
                           session_at_depth(model, kv_dtype, depth, static_cast<int64_t>(tokens.size())));
  std::vector<float> logits;
  const auto start = std::chrono::steady_clock::now();
  DSINFER_RETURN_IF_ERROR(session.append(tokens, {}, logits));
  return static_cast<double>(tokens.size()) / seconds_since(start);
}

template <typename Model>
Result<double> time_generation(Model& model, DType kv_dtype, const std::vector<int32_t>& depth,
                               const std::vector<int32_t>& tokens) {
  DSINFER_ASSIGN_OR_RETURN(auto session,
                           session_at_depth(model, kv_dtype, depth, static_cast<int64_t>(tokens.size())));
  std::vector<float> logits;
  const auto start = std::chrono::steady_clock::now();
  for (int32_t token : tokens) DSINFER_RETURN_IF_ERROR(session.append(std::span(&token, 1), {}, logits));
  return static_cast<double>(tokens.size()) / seconds_since(start);
}

// Times pp and tg on a loaded model and prints the table (or JSON).
template <typename Model>
Status bench_model(const BenchOptions& o, DType kv_dtype, Backend* backend, Model* model, int64_t bytes_per_token,
                   int64_t total_bytes) {
  const ModelConfig& c = model->config();
  if (o.depth + std::max(o.prompt_tokens, o.gen_tokens) > c.max_position_embeddings)
    return error("-d plus -p/-n exceed the model's context of {}", c.max_position_embeddings);
  if constexpr (std::is_same_v<Model, DeepSeekModel>) {
    DSINFER_RETURN_IF_ERROR(LatentBlockPool::check_dtype(c, kv_dtype));
  } else if (kv_dtype != DType::kF32) {
    return error("--kv-type: deepseek_v4 caches are float32 only");
  }

  const int threads = o.backend.threads > 0 ? o.backend.threads : static_cast<int>(std::thread::hardware_concurrency());
  ThreadPool probe_pool(threads);
  cpu::ReadBandwidthProbe probe(probe_pool);

  std::vector<Measurement> results;
  // The depth tokens come from another seed than the timed ones.
  const std::vector<int32_t> depth = o.depth > 0 ? bench_tokens(o.depth, c.vocab_size, 1) : std::vector<int32_t>{};
  const std::string at_depth = o.depth > 0 ? fmt::format(" @ d{}", o.depth) : "";
  auto measure = [&](const std::string& test, int64_t count, auto timer) -> Status {
    if (count == 0) return Status::ok();
    const auto tokens = bench_tokens(count, c.vocab_size);
    DSINFER_RETURN_IF_ERROR(timer(*model, kv_dtype, depth, tokens).status());  // warm-up
    // The probe's pool and the model's take turns on the same cores; each turn starts
    // once the other pool's workers have stopped spinning.
    auto after_other_pool = [](auto run) {
      std::this_thread::sleep_for(2 * ThreadPool::kSpinBeforeSleep);
      return run();
    };
    std::vector<double> rates, bandwidths{after_other_pool([&] { return probe.measure(); })};
    for (int r = 0; r < o.repeats; ++r) {
      DSINFER_ASSIGN_OR_RETURN(double rate, after_other_pool([&] { return timer(*model, kv_dtype, depth, tokens); }));
      rates.push_back(rate);
      bandwidths.push_back(after_other_pool([&] { return probe.measure(); }));
    }
    results.push_back(summarize(test, rates, bandwidths, bytes_per_token));
    return Status::ok();
  };
  DSINFER_RETURN_IF_ERROR(measure(fmt::format("pp{}{}", o.prompt_tokens, at_depth), o.prompt_tokens, time_prompt<Model>));
  DSINFER_RETURN_IF_ERROR(measure(fmt::format("tg{}{}", o.gen_tokens, at_depth), o.gen_tokens, time_generation<Model>));

  auto bound_of = [&](const Measurement& m) { return m.bandwidth_gbs * 1e9 / static_cast<double>(bytes_per_token); };
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : results) {
      const bool tg = m.test.starts_with("tg");
      out.push_back({{"test", m.test},
                     {"depth", o.depth},
                     {"kv_type", o.kv_type},
                     {"threads", threads},
                     {"backend", std::string(backend->name())},
                     {"tokens_per_s", m.tokens_per_s},
                     {"stddev", m.stddev},
                     {"bytes_per_token", bytes_per_token},
                     {"bandwidth_gbs", m.bandwidth_gbs},
                     {"pct_of_bound", tg ? nlohmann::json(m.pct_of_bound) : nlohmann::json(nullptr)},
                     {"samples_tokens_per_s", m.rates},
                     {"samples_bandwidth_gbs", m.bandwidths}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return Status::ok();
  }
  fmt::print("| model | size | backend | threads | kv | test | t/s | bytes/token | read GB/s | tg bound t/s | % of bound |\n");
  fmt::print("|---|---:|---|---:|---|---|---:|---:|---:|---:|---:|\n");
  for (const auto& m : results) {
    const bool tg = m.test.starts_with("tg");
    fmt::print("| {} | {:.2f} GiB | {} | {} | {} | {} | {:.2f} ± {:.2f} | {} | {:.1f} | {:.1f} | {} |\n", c.model_type,
               static_cast<double>(total_bytes) / (1 << 30), backend->name(), threads, o.kv_type, m.test, m.tokens_per_s, m.stddev,
               bytes_per_token, m.bandwidth_gbs, bound_of(m), tg ? fmt::format("{:.1f}%", m.pct_of_bound) : "");
  }
  return Status::ok();
}

Status run_bench(const BenchOptions& o) {
  if (o.repeats < 1) return error("-r must be at least 1");
  if (o.prompt_tokens < 0 || o.gen_tokens < 0 || o.depth < 0) return error("-p, -n and -d must not be negative");
  DSINFER_ASSIGN_OR_RETURN(const DType kv_dtype, parse_kv_dtype(o.kv_type));
  DSINFER_ASSIGN_OR_RETURN(auto backend, make_backend(o.backend));
  DSINFER_ASSIGN_OR_RETURN(auto weights, open_weights(o.model_path));
  const int64_t bytes_per_token = weight_bytes_per_token(*weights);
  int64_t total_bytes = 0;
  for (const auto& [dtype, bytes] : weights->bytes_by_dtype()) total_bytes += bytes;
  return with_model(std::move(weights), *backend,
                    [&](auto& model) { return bench_model(o, kv_dtype, backend.get(), &model, bytes_per_token, total_bytes); });
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt and generation throughput against the bandwidth bound");
  cmd->add_option("-m,--model", o->model_path, "Hugging Face model folder or .gguf file")->required();
  cmd->add_option("-p,--prompt", o->prompt_tokens, "Prompt tokens for the pp test (0 = skip)")->default_val(512);
  cmd->add_option("-n,--gen", o->gen_tokens, "Generated tokens for the tg test (0 = skip)")->default_val(128);
  cmd->add_option("-d,--depth", o->depth,
                  "Tokens already in the context when each test starts (filled untimed; the bound counts weights only)")
      ->default_val(0);
  cmd->add_option("-r,--repeats", o->repeats, "Timed runs per test (t/s is their median, ± their standard deviation)")
      ->default_val(5);
  cmd->add_option("--kv-type", o->kv_type,
                  "Latent cache storage: f32, f16, bf16 or q8_0 (the bound counts weights only; V4: f32 only)")
      ->default_val("f32");
  cmd->add_flag("--json", o->json, "Print a JSON array instead of a table");
  add_backend_options(*cmd, o->backend);
  cmd->callback([o, &exit_code] {
    Status status = run_bench(*o);
    if (!status) exit_code = report_error(status);
  });
}

}  // namespace dsinfer::cli
