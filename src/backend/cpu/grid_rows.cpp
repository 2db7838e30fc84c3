#include "backend/cpu/grid_rows.h"

#include <algorithm>

#include "core/grid_blocks.h"

namespace dsinfer::cpu {
namespace {

// The sixteen lane sums of a token's row, added as the x86 tables' 256-bit sums would be:
// the two halves, then halves again down to one.
float sum_lanes(const float* v) {
  float s8[8], s4[4];
  for (int k = 0; k < 8; ++k) s8[k] = v[k] + v[8 + k];
  for (int k = 0; k < 4; ++k) s4[k] = s8[k] + s8[4 + k];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

}  // namespace

void grid_rows_q8(const Kernels& k, const PackedWeight& w, const ActBlockQ8* x, int64_t n_tokens, int64_t g_begin,
                  int64_t g_end, float* out, int64_t out_stride) {
  constexpr int kTokens = 16;
  const DType dtype = w.source_dtype();
  const size_t block_bytes = dtype_block_bytes(dtype);
  const int64_t blocks = w.blocks_per_row(), x_stride = w.act_blocks_per_row();
  GridCodes codes[8];
  alignas(64) float acc[kTokens * 8 * 16];
  bool one_token = n_tokens == 1 && k.grid_rows_one_token;
  for (int64_t g = g_begin; g < g_end; ++g) {
    const uint8_t* group = w.grid_group(g);
    if (one_token) {
      std::fill_n(acc, 8 * 16, 0.0f);
      if (k.grid_rows_one_token(dtype, group, blocks, x, acc)) {
        for (int r = 0; r < 8; ++r) out[8 * (g - g_begin) + r] = sum_lanes(acc + 16 * r);
        continue;
      }
      one_token = false;  // no such path for this format
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokens) {
      const int tokens = static_cast<int>(std::min<int64_t>(kTokens, n_tokens - t0));
      std::fill_n(acc, tokens * 8 * 16, 0.0f);
      for (int64_t b = 0; b < blocks; ++b) {
        for (int r = 0; r < 8; ++r) k.decode_grid(dtype, group + static_cast<size_t>(8 * b + r) * block_bytes, codes[r]);
        k.dot_grid_rows(codes, x + t0 * x_stride + 8 * b, x_stride, tokens, acc);
      }
      for (int t = 0; t < tokens; ++t)
        for (int r = 0; r < 8; ++r) out[(t0 + t) * out_stride + 8 * (g - g_begin) + r] = sum_lanes(acc + 16 * (8 * t + r));
    }
  }
}

}  // namespace dsinfer::cpu
