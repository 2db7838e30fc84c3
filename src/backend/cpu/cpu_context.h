// What every CPU op needs: the kernel table, the thread pool and reusable scratch.
#pragma once

#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/ops.h"
#include "core/thread_pool.h"

namespace dsinfer::cpu {

struct CpuContext {
  const Kernels& kernels;
  ThreadPool& pool;
  MatmulScratch matmul_scratch;
  std::vector<float> moe_buffer;        // router logits, gathered rows, expert outputs
  std::vector<float> attention_buffer;  // expanded K/V, latent queries, scores

  void matmul(Tensor out, Tensor x, const WeightView& w) { cpu::matmul(kernels, pool, matmul_scratch, out, x, w); }
};

void moe_ffn(CpuContext& ctx, const MoeArgs& args);
void mla_attention(CpuContext& ctx, const MlaAttentionArgs& args);

}  // namespace dsinfer::cpu
