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

// The same product for a weight repacked into interleaved rows (packed_weight.h).
void matmul_packed(const Kernels& k, ThreadPool& pool, MatmulScratch& scratch, Tensor out, Tensor x,
                   const PackedWeight& w);

}  // namespace dsinfer::cpu
