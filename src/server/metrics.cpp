#include "server/metrics.h"

#include <fmt/format.h>

namespace dsinfer::server {
namespace {

// Latencies from 1 ms to 1 minute.
const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
                                            0.75,  1.0,    2.5,   5.0,  10.0,  20.0, 40.0,  60.0};

void gauge(std::string& out, const char* name, const char* help, int64_t value, const char* type = "gauge") {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
}

Metrics::Metrics() : ttft_(kLatencyBounds), itl_(kLatencyBounds) {}

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

void Metrics::observe_time_to_first_token(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.observe(seconds);
}

void Metrics::observe_inter_token_latency(double seconds) {
  std::lock_guard lock(mutex_);
  itl_.observe(seconds);
}

std::string Metrics::render(const EngineStats& s) const {
  std::string out;
  {
    std::lock_guard lock(mutex_);
    out += "# HELP dsinfer_http_requests_total HTTP requests answered, by endpoint and status.\n"
           "# TYPE dsinfer_http_requests_total counter\n";
    for (const auto& [key, count] : requests_) {
      out += fmt::format("dsinfer_http_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, count);
    }
    ttft_.render(out, "dsinfer_time_to_first_token_seconds", "From receiving a request to its first generated token.");
    itl_.render(out, "dsinfer_inter_token_latency_seconds", "Between consecutive tokens of one request.");
  }
  gauge(out, "dsinfer_prompt_tokens_total", "Prompt tokens processed (prefix-cache hits excluded).", s.prompt_tokens,
        "counter");
  gauge(out, "dsinfer_prompt_tokens_cached_total", "Prompt tokens served from the prefix cache.",
        s.cached_prompt_tokens, "counter");
  gauge(out, "dsinfer_generation_tokens_total", "Tokens generated.", s.generated_tokens, "counter");
  gauge(out, "dsinfer_requests_queued", "Requests accepted and waiting for a batch slot.", s.queued);
  gauge(out, "dsinfer_requests_running", "Requests in the batch (holding cache blocks).", s.running);
  gauge(out, "dsinfer_batch_sequences", "Sequences in the last engine step.", s.last_batch_sequences);
  out += "# HELP dsinfer_batch_sequences_per_step Sequences in each engine step.\n"
         "# TYPE dsinfer_batch_sequences_per_step histogram\n";
  int64_t steps = 0;
  for (size_t i = 0; i < std::size(EngineStats::kBatchBounds); ++i) {
    steps += s.batch_sequences_steps[i];
    out += fmt::format("dsinfer_batch_sequences_per_step_bucket{{le=\"{}\"}} {}\n", EngineStats::kBatchBounds[i], steps);
  }
  steps += s.batch_sequences_steps.back();
  out += fmt::format("dsinfer_batch_sequences_per_step_bucket{{le=\"+Inf\"}} {}\n", steps);
  out += fmt::format("dsinfer_batch_sequences_per_step_sum {}\ndsinfer_batch_sequences_per_step_count {}\n",
                     s.batch_sequences_sum, steps);
  gauge(out, "dsinfer_batch_tokens", "Tokens in the last engine step.", s.last_batch_tokens);
  gauge(out, "dsinfer_engine_steps_total", "Engine steps run.", s.steps, "counter");
  gauge(out, "dsinfer_kv_blocks_total", "KV cache blocks (latent row blocks; for DeepSeek-V4, sequence states).",
        s.kv_blocks_total);
  gauge(out, "dsinfer_kv_blocks_used", "Cache blocks in use (by sequences or kept for prefix reuse).", s.kv_blocks_used);
  gauge(out, "dsinfer_kv_blocks_free", "Cache blocks free.", s.kv_blocks_total - s.kv_blocks_used);
  gauge(out, "dsinfer_kv_blocks_cached", "Used blocks kept only for prefix reuse (evictable).", s.kv_blocks_cached);
  gauge(out, "dsinfer_preemptions_total", "Requests preempted to free cache blocks.", s.preemptions, "counter");
  return out;
}

}  // namespace dsinfer::server
