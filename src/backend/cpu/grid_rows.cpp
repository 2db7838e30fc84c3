#include "backend/cpu/grid_rows.h"

#include <algorithm>

#include "core/grid_blocks.h"

namespace dsinfer::cpu {

void grid_rows_q8(const Kernels& k, const PackedWeight& w, const ActBlockQ8* x, int64_t n_tokens, int64_t g_begin,
                  int64_t g_end, float* out, int64_t out_stride) {
  constexpr int64_t kTokens = 16;
  const DType dtype = w.source_dtype();
  const size_t block_bytes = dtype_block_bytes(dtype);
  const int64_t blocks = w.blocks_per_row(), x_stride = w.act_blocks_per_row();
  // The eight rows' codes of a block column are all decoded before the first product: the
  // decoder writes eight bytes at a time and the products load 32 or 64, which cannot
  // take their bytes from stores still in flight (one token waited ~60 cycles per row).
  GridCodes codes[8];
  for (int64_t g = g_begin; g < g_end; ++g) {
    const uint8_t* group = w.grid_group(g);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokens) {
      const int64_t tokens = std::min(kTokens, n_tokens - t0);
      float sums[kTokens][8] = {};
      for (int64_t b = 0; b < blocks; ++b) {
        for (int r = 0; r < 8; ++r) k.decode_grid(dtype, group + static_cast<size_t>(8 * b + r) * block_bytes, codes[r]);
        for (int64_t t = 0; t < tokens; ++t)
          for (int r = 0; r < 8; ++r) sums[t][r] += k.dot_grid_codes(codes[r], x + (t0 + t) * x_stride + 8 * b);
      }
      for (int64_t t = 0; t < tokens; ++t)
        std::copy_n(sums[t], 8, out + (t0 + t) * out_stride + 8 * (g - g_begin));
    }
  }
}

}  // namespace dsinfer::cpu
