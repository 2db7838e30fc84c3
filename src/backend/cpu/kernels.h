// The hot inner loops of the CPU backend, one table per instruction set. Each entry is
// a dot product of one stored weight row with one activation row; matmul, MoE and
// attention are built from them (cpu_backend.cpp). Every table is checked against the
// scalar reference in tests/backend/test_cpu_conformance.cpp.
//
// Batch invariance: a dot4 entry gives, for each of its four rows, bitwise the result of
// the matching single-row entry (same accumulators, same summation order). matmul picks
// dot4 or dot by how many tokens share a step, and a request's output must not depend on
// which other requests the server batched it with.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/quant_blocks.h"

namespace dsinfer::cpu {

// Activations quantised for integer dot products with Q8_0 / Q4_0 weights:
// x[i] ~= d * qs[i], with sum = sum(qs) kept for Q4_0's -8 offset.
struct ActBlockQ8 {
  float d;
  int32_t sum;
  int8_t qs[32];
};

struct Kernels {
  std::string_view isa;  // "generic", "avx2", "neon", "neon-dotprod"
  float (*dot_f32)(const float* w, const float* x, int64_t n);
  float (*dot_bf16)(const uint16_t* w, const float* x, int64_t n);
  float (*dot_f16)(const uint16_t* w, const float* x, int64_t n);
  // Raw E4M3 values times x, no block scale (the caller applies it per block).
  float (*dot_f8e4m3)(const uint8_t* w, const float* x, int64_t n);
  float (*dot_q8_0)(const BlockQ8_0* w, const ActBlockQ8* x, int64_t n_blocks);
  float (*dot_q4_0)(const BlockQ4_0* w, const ActBlockQ8* x, int64_t n_blocks);
  // n is a multiple of 32.
  void (*quantize_act_q8)(const float* x, ActBlockQ8* out, int64_t n);

  // One weight row against four activation rows (`x_stride` apart, in elements or
  // blocks): the prefill form, which unpacks each weight block once for four tokens.
  void (*dot4_bf16)(const uint16_t* w, const float* x, int64_t x_stride, int64_t n, float out[4]);
  void (*dot4_q8_0)(const BlockQ8_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks, float out[4]);
  void (*dot4_q4_0)(const BlockQ4_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks, float out[4]);
};

const Kernels& generic_kernels();
#if defined(__x86_64__)
const Kernels& avx2_kernels();
#endif
#if defined(__aarch64__)
const Kernels& neon_kernels();
const Kernels& neon_dotprod_kernels();  // needs the ARMv8.2 int8 dot-product instructions
#endif

// The best table this CPU supports, or the one named by `isa` ("generic", "avx2",
// "neon", "neon-dotprod"); nullptr when the named one cannot run here.
const Kernels* select_kernels(std::string_view isa = "");

}  // namespace dsinfer::cpu
