// out[T, N] = x[T, K] @ W[N, K]^T for every stored weight format, parallel over N.
#pragma once

#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/packed_weight.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace dsinfer::cpu {

// Reusable per-backend scratch memory, so steady-state steps allocate nothing.
struct MatmulScratch {
  std::vector<ActBlockQ8> activations;               // x quantised for integer formats
  std::vector<std::vector<float>> rows_per_thread;   // dequantised weight rows
};

void matmul(const Kernels& k, ThreadPool& pool, MatmulScratch& scratch, Tensor out, Tensor x, const WeightView& w);

// Whether w's kernel takes x quantised (quantize_act_q8 per row) rather than as float32.
inline bool takes_quantized_rows(const PackedWeight& w) { return w.source_dtype() != DType::kFP4E2M1; }

// out[t, 8g .. 8g+8) for row groups g in [g_begin, g_end) of a packed weight and every
// token t of out, from x or, where takes_quantized_rows(w), from xq (x's rows already
// quantised); on the calling thread.
void matmul_packed_rows(const Kernels& k, const PackedWeight& w, Tensor x, const ActBlockQ8* xq, Tensor out,
                        int64_t g_begin, int64_t g_end);

// The same product for a weight repacked into interleaved rows (packed_weight.h).
void matmul_packed(const Kernels& k, ThreadPool& pool, MatmulScratch& scratch, Tensor out, Tensor x,
                   const PackedWeight& w);

}  // namespace dsinfer::cpu
