// Run-time choice of the kernel table: the CPU is asked what it supports, so one binary
// runs on every CPU of its architecture and uses the best instructions each one has.
#include "backend/cpu/kernels.h"

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace dsinfer::cpu {

const Kernels* select_kernels(std::string_view isa) {
#if defined(__x86_64__)
  const bool has_avx2 =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool has_avx512_vnni = has_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
  if (isa == "avx512-vnni") return has_avx512_vnni ? &avx512_vnni_kernels() : nullptr;
  if (isa.empty() && has_avx512_vnni) return &avx512_vnni_kernels();
  if (isa == "avx2") return has_avx2 ? &avx2_kernels() : nullptr;
  if (isa.empty() && has_avx2) return &avx2_kernels();
#endif
#if defined(__aarch64__)
  // Advanced SIMD is part of every AArch64 CPU; SDOT/UDOT (ARMv8.2 "dotprod") are
  // optional until ARMv8.4, so Linux reports them as a hardware capability.
  const bool has_dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  if (isa == "neon-dotprod") return has_dotprod ? &neon_dotprod_kernels() : nullptr;
  if (isa == "neon" || (isa.empty() && !has_dotprod)) return &neon_kernels();
  if (isa.empty()) return &neon_dotprod_kernels();
#endif
  if (isa.empty() || isa == "generic") return &generic_kernels();
  return nullptr;
}

}  // namespace dsinfer::cpu
