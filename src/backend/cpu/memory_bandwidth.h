// Measures the machine's memory read bandwidth the way a decode step uses it: every
// thread of the pool streams its share of a buffer far larger than the caches.
#pragma once

#include <cstddef>

#include "core/thread_pool.h"

namespace dsinfer::cpu {

// Best of `passes` full reads of a `bytes`-sized buffer, in GB/s (1e9 bytes/s).
double measure_read_bandwidth(ThreadPool& pool, size_t bytes = size_t{1} << 30, int passes = 5);

}  // namespace dsinfer::cpu
