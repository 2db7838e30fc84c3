// The fast CPU backend: the op contract on a persistent thread pool, with SIMD kernels
// chosen at run time for the CPU it runs on (kernels.h). Weights are used as stored;
// integer formats meet int8-quantised activations, float formats are widened in
// registers. Every op is checked against the reference backend (tests/backend).
#pragma once

#include <memory>
#include <string>

#include "backend/ops.h"

namespace dsinfer {

struct CpuBackendOptions {
  int threads = 0;       // 0: one per online core
  std::string isa;       // "" = best available; "generic", "avx2", "avx512-vnni", "neon", "neon-dotprod" to force one
  // Repack weights for the interleaved kernels when they are prepared rather than on
  // their first matmul: a longer start, then no step pays for a first use (servers).
  bool pack_at_load = false;
};

Result<std::unique_ptr<Backend>> make_cpu_backend(const CpuBackendOptions& options);

}  // namespace dsinfer
