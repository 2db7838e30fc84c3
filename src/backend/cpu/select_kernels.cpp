// Run-time choice of the kernel table: the CPU is asked what it supports, so one binary
// runs on every CPU of its architecture and uses the best instructions each one has.
#include "backend/cpu/kernels.h"

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif
#if defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace dsinfer::cpu {
#if defined(__x86_64__)
namespace {

// AMX's tile registers are 8 KiB of thread state that Linux (5.16 and later) saves only
// for processes that ask first; a process that has not asked faults on its first tile
// instruction. Asking again is harmless.
bool amx_permitted() {
  constexpr int kArchRequestXcompPermission = 0x1023;
  constexpr int kXfeatureTileData = 18;
  return syscall(SYS_arch_prctl, kArchRequestXcompPermission, kXfeatureTileData) == 0;
}

}  // namespace
#endif

const Kernels* select_kernels(std::string_view isa) {
#if defined(__x86_64__)
  const bool has_avx2 =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool has_avx512_vnni = has_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
  const bool has_amx = has_avx512_vnni && __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8") &&
                       (isa.empty() || isa == "avx512-amx") && amx_permitted();
  if (isa == "avx512-amx") return has_amx ? &avx512_amx_kernels() : nullptr;
  if (isa.empty() && has_amx) return &avx512_amx_kernels();
  // Same instructions, fetched ahead as far as the vendor's cores read best from memory
  // (x86::prefetch_stream).
  const Kernels& vnni = __builtin_cpu_is("amd") ? avx512_vnni_amd_kernels() : avx512_vnni_kernels();
  if (isa == "avx512-vnni") return has_avx512_vnni ? &vnni : nullptr;
  if (isa.empty() && has_avx512_vnni) return &vnni;
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
