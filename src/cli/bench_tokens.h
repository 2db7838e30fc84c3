// Token ids for benchmarks: deterministic and spread out, so routing touches many experts
// as real text does. Different seeds give different sequences (one per benchmark stream).
#pragma once

#include <cstdint>
#include <vector>

namespace dsinfer::cli {

inline std::vector<int32_t> bench_tokens(int64_t count, int64_t vocab, uint64_t seed = 0) {
  std::vector<int32_t> ids(static_cast<size_t>(count));
  uint64_t state = 0x9E3779B97F4A7C15ull + seed * 0xD1B54A32D192ED03ull;
  for (auto& id : ids) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    id = static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(vocab));
  }
  return ids;
}

}  // namespace dsinfer::cli
