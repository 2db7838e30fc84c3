// Products with a packed grid-format weight (IQ1_S ... IQ3_S; layout in kernels.h).
#pragma once

#include <cstdint>

#include "backend/cpu/kernels.h"
#include "backend/cpu/packed_weight.h"

namespace dsinfer::cpu {

// n_tokens tokens' products with rows [8 g_begin, 8 g_end) of w, from x quantised (a
// token's blocks w.act_blocks_per_row() apart): out[t * out_stride + 8 (g - g_begin) + r]
// for token t and row r of group g. Each super-block is decoded once per sixteen tokens;
// a token's sum runs over the super-blocks in order whatever the number of tokens.
void grid_rows_q8(const Kernels& k, const PackedWeight& w, const ActBlockQ8* x, int64_t n_tokens, int64_t g_begin,
                  int64_t g_end, float* out, int64_t out_stride);

}  // namespace dsinfer::cpu
