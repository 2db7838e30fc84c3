// kv_b's Q4_0 K half regrouped by latent column, so that the query absorption of absorbed
// decode (q_latent = W_k^T q_nope, per head) runs on integer dot products
// (Kernels::absorb_columns_q4_0). As stored, row d of a head holds the latent columns in
// blocks of 32 with their own scale s(d, cb); weighing those rows by q_nope converts every
// code to float (Kernels::weighted_rows_q4_0), an A layer's eight heads 12.4-13.4 us a
// thread in L2. Regrouped, q_nope times a block's scales is one int8 activation row, and
// sixteen columns go through each VPDPBUSD (docs/benchmarks.md, CPU backend, session 55).
//
// A head's layout: for each block cb of 32 latent columns, the nope scales s(d, cb) as
// f16, then for g in {0, 1} and m in [0, nope / 8) a 64-byte line whose byte 4 j + e holds
// the code (0..15, the value + 8) of column 32 cb + 16 g + j at d = 8 m + e in its low
// nibble and at d = 8 m + 4 + e in its high one: 18 nope bytes per block, as stored.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/cpu/packed_weight.h"
#include "core/quant_blocks.h"
#include "core/thread_pool.h"

namespace dsinfer::cpu {

// The kernels quantise a block's nope weightings on the stack.
inline constexpr int64_t kMaxAbsorbColumnsNope = 256;

// Whether heads of `nope` rows by `rank` latent columns have the regrouped form: whole
// activation blocks along nope, whole Q4_0 blocks along the rank.
inline bool absorb_columns_fit(int64_t nope, int64_t rank) {
  return nope > 0 && nope % 32 == 0 && nope <= kMaxAbsorbColumnsNope && rank > 0 && rank % 32 == 0;
}

// Bytes of one regrouped head, the same as its stored rows.
inline size_t absorb_columns_head_bytes(int64_t nope, int64_t rank) {
  return static_cast<size_t>(rank / 32) * 18 * static_cast<size_t>(nope);
}

// A head's `nope` stored rows, `row_blocks` blocks apart, regrouped into `out`
// (absorb_columns_head_bytes of it).
void regroup_q4_0_columns(const BlockQ4_0* rows, int64_t row_blocks, int64_t nope, int64_t rank, uint8_t* out);

// The K rows of every head of a Q4_0 kv_b (rows [h * step, h * step + nope)) regrouped, one
// head after another, in `arena` (nullptr when it is out of memory), the threads splitting
// the heads; kv_b's file pages are dropped, as copy_row_runs_to_huge_pages drops them.
const uint8_t* regroup_q4_0_heads(ThreadPool& pool, PackArena& arena, const WeightView& kv_b, int64_t step,
                                  int64_t nope, int64_t heads);

}  // namespace dsinfer::cpu
