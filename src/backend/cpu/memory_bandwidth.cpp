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
// memory without needing SIMD, and a result the compiler cannot drop. Each cache line is
// also requested ahead, as the x86 kernels do: on a 2-core Xeon VM plain reads got 10-25%
// less than prefetched ones (docs/benchmarks.md, CPU backend session 10), and the kernels
// outran such a probe; two or four streams per thread read 15-35% more than one
// (session 14), and the sixteen-row kernels read two. The patterns: one stream 4 KiB or
// 8 KiB ahead (x86::kPrefetchBytes, kPrefetchPackedBlocks), two streams 16 KiB ahead
// (x86::kPairedPrefetchBytes), four streams 8 KiB ahead.
struct ReadPattern {
  size_t prefetch_words;
  int streams;
};
constexpr ReadPattern kPatterns[] = {
    {4096 / sizeof(uint64_t), 1}, {8192 / sizeof(uint64_t), 1}, {16384 / sizeof(uint64_t), 2}, {8192 / sizeof(uint64_t), 4}};

// p[0, n) as `streams` equal parts read side by side, a cache line of each in turn (the
// few words left over at the end alone).
template <int kStreams>
uint64_t read_streams(const uint64_t* p, size_t n, size_t prefetch_words) {
  const size_t part = n / kStreams / 8 * 8;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i < part; i += 8) {
    for (int s = 0; s < kStreams; ++s) __builtin_prefetch(p + s * part + i + prefetch_words);
    for (int s = 0; s < kStreams; ++s) {
      const uint64_t* q = p + s * part + i;
      a += q[0] + q[4];
      b += q[1] + q[5];
      c += q[2] + q[6];
      d += q[3] + q[7];
    }
  }
  for (size_t i = kStreams * part; i < n; ++i) a += p[i];
  return a ^ b ^ c ^ d;
}

uint64_t read_range(const uint64_t* p, size_t n, ReadPattern pattern) {
  switch (pattern.streams) {
    case 1: return read_streams<1>(p, n, pattern.prefetch_words);
    case 2: return read_streams<2>(p, n, pattern.prefetch_words);
    default: return read_streams<4>(p, n, pattern.prefetch_words);
  }
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
  // Passes take the read patterns in turn: the best of any.
  for (int pass = 0; pass < passes; ++pass) {
    const ReadPattern pattern = kPatterns[static_cast<size_t>(pass) % std::size(kPatterns)];
    const auto start = std::chrono::steady_clock::now();
    pool_.parallel_for(static_cast<int64_t>(words_), [&](int thread, int64_t begin, int64_t end) {
      const auto n = static_cast<size_t>(end - begin);
      sinks[thread] += read_range(buffer_.get() + begin, n, pattern);
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
