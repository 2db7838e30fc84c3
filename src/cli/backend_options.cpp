#include "cli/backend_options.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/reference/reference_backend.h"
#include "cli/option_checks.h"

namespace dsinfer::cli {

void add_backend_options(CLI::App& cmd, BackendOptions& options) {
  cmd.add_option("--backend", options.backend, "Compute backend")
      ->check(CLI::IsMember({"cpu", "reference"}))
      ->default_val("cpu")
      ->envname("DSINFER_BACKEND");
  cmd.add_option("-t,--threads", options.threads, "CPU threads (0 = one per core)")->default_val(0)->check(at_least(0));
  cmd.add_option("--isa", options.isa,
                 "CPU kernels to use instead of the best available: generic; avx2, avx512-vnni, avx512-amx on x86-64; neon, "
                 "neon-dotprod on "
                 "aarch64")
      ->envname("DSINFER_ISA");
  cmd.add_flag("--pack-at-load,!--pack-on-first-use", options.pack_at_load,
               "cpu backend: repack Q4_0/Q8_0 weights for the interleaved kernels while loading (longer start, "
               "even steps after) instead of on their first use");
}

Result<std::unique_ptr<Backend>> make_backend(const BackendOptions& options) {
  if (options.backend == "reference") return make_reference_backend();
  return make_cpu_backend({.threads = options.threads, .isa = options.isa, .pack_at_load = options.pack_at_load});
}

}  // namespace dsinfer::cli
