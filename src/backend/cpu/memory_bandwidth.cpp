#include "backend/cpu/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <vector>

namespace dsinfer::cpu {
namespace {

// Sums 64-bit words with four independent chains: enough loads in flight to saturate
// memory without needing SIMD, and a result the compiler cannot drop. With a prefetch
// distance, each cache line is also requested that far ahead, as the x86 kernels do: on
// a 2-core Xeon VM plain reads got 10-25% less than prefetched ones (docs/benchmarks.md,
// CPU backend session 10), and the kernels outran such a probe. The distances are the
// kernels' own: 4 KiB (x86::kPrefetchBytes) and about 8 KiB (thirty 272-byte Q8_0x8
// blocks, the farthest of kPrefetchPackedBlocks).
constexpr size_t kPrefetchWords[] = {0, 4096 / sizeof(uint64_t), 8192 / sizeof(uint64_t)};

uint64_t read_range(const uint64_t* p, size_t n, size_t prefetch_words) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (prefetch_words) __builtin_prefetch(p + i + prefetch_words);
    a += p[i] + p[i + 4];
    b += p[i + 1] + p[i + 5];
    c += p[i + 2] + p[i + 6];
    d += p[i + 3] + p[i + 7];
  }
  for (; i < n; ++i) a += p[i];
  return a ^ b ^ c ^ d;
}

}  // namespace

ReadBandwidthProbe::ReadBandwidthProbe(ThreadPool& pool, size_t bytes)
    : pool_(pool), words_(bytes / sizeof(uint64_t)), buffer_(new uint64_t[words_]) {
  // Touch every page from the threads that will read it, so pages are really mapped.
  pool_.parallel_for(static_cast<int64_t>(words_), [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) buffer_[i] = static_cast<uint64_t>(i);
  });
}

double ReadBandwidthProbe::measure(int passes) {
  std::vector<uint64_t> sinks(static_cast<size_t>(pool_.size()));
  double best = 0.0;
  // Passes take the prefetch distances in turn: the best of any.
  for (int pass = 0; pass < passes; ++pass) {
    const size_t prefetch_words = kPrefetchWords[static_cast<size_t>(pass) % std::size(kPrefetchWords)];
    const auto start = std::chrono::steady_clock::now();
    pool_.parallel_for(static_cast<int64_t>(words_), [&](int thread, int64_t begin, int64_t end) {
      sinks[thread] += read_range(buffer_.get() + begin, static_cast<size_t>(end - begin), prefetch_words);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(words_ * sizeof(uint64_t)) / seconds / 1e9);
  }
  // Keep the sums observable.
  volatile uint64_t sink = 0;
  for (uint64_t s : sinks) sink = sink + s;
  return best;
}

}  // namespace dsinfer::cpu
