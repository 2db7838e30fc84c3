// Measures the machine's memory read bandwidth the way a decode step uses it: every
// thread of the pool streams its share of a buffer far larger than the caches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/thread_pool.h"

namespace dsinfer::cpu {

// Holds the buffer, so that a benchmark can measure again between its runs without
// paying for fresh pages each time: on a shared machine the bandwidth drifts by tens of
// percent within seconds, and a bound is only fair against a figure taken beside the run.
class ReadBandwidthProbe {
 public:
  ReadBandwidthProbe(ThreadPool& pool, size_t bytes = size_t{1} << 30);

  // Best of `passes` full reads of the buffer, in GB/s (1e9 bytes/s).
  double measure(int passes = 8);

 private:
  ThreadPool& pool_;
  size_t words_;
  std::unique_ptr<uint64_t[]> buffer_;
};

inline double measure_read_bandwidth(ThreadPool& pool, size_t bytes = size_t{1} << 30, int passes = 8) {
  return ReadBandwidthProbe(pool, bytes).measure(passes);
}

}  // namespace dsinfer::cpu
