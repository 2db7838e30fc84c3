// GET /metrics in the Prometheus text format. The server counts what it sees (requests by
// endpoint and status, time to first token and inter-token latency from the engine's
// callback timestamps); the engine's own counters and gauges are read at scrape time.
// Batch sizes: the engine's last step (a gauge) and its per-step histogram.
// Thread-safe: handlers and the engine thread record, any thread renders.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "runtime/engine.h"

namespace dsinfer::server {

// Cumulative buckets as Prometheus wants them (each counts observations <= its bound).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), plus +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  void count_request(const std::string& endpoint, int status);
  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);

  std::string render(const EngineStats& stats) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram ttft_;
  Histogram itl_;
};

}  // namespace dsinfer::server
