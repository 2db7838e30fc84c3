#include "backend/cpu/absorb_columns.h"

#include <cstring>

namespace dsinfer::cpu {

void regroup_q4_0_columns(const BlockQ4_0* rows, int64_t row_blocks, int64_t nope, int64_t rank, uint8_t* out) {
  auto code = [&](int64_t d, int64_t c) {
    const BlockQ4_0& b = rows[d * row_blocks + c / 32];
    const int64_t i = c % 32;
    return i < 16 ? b.qs[i] & 0x0F : b.qs[i - 16] >> 4;
  };
  const int64_t lines = nope / 8;
  for (int64_t cb = 0; cb < rank / 32; ++cb) {
    uint8_t* scales = out + cb * 18 * nope;
    for (int64_t d = 0; d < nope; ++d) std::memcpy(scales + 2 * d, &rows[d * row_blocks + cb].d, 2);
    uint8_t* codes = scales + 2 * nope;
    for (int64_t g = 0; g < 2; ++g)
      for (int64_t m = 0; m < lines; ++m)
        for (int64_t j = 0; j < 16; ++j)
          for (int64_t e = 0; e < 4; ++e) {
            const int64_t c = 32 * cb + 16 * g + j;
            const int low = code(8 * m + e, c), high = code(8 * m + 4 + e, c);
            codes[(g * lines + m) * 64 + 4 * j + e] = static_cast<uint8_t>(low | high << 4);
          }
  }
}

const uint8_t* regroup_q4_0_heads(ThreadPool& pool, PackArena& arena, const WeightView& kv_b, int64_t step,
                                  int64_t nope, int64_t heads) {
  const int64_t rank = kv_b.cols(), row_blocks = rank / 32;
  const size_t head_bytes = absorb_columns_head_bytes(nope, rank);
  uint8_t* columns = arena.allocate(head_bytes * static_cast<size_t>(heads));
  if (!columns) return nullptr;
  const auto* rows = static_cast<const BlockQ4_0*>(kv_b.data);
  pool.parallel_for(heads, [&](int, int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h)
      regroup_q4_0_columns(rows + h * step * row_blocks, row_blocks, nope, rank,
                           columns + static_cast<size_t>(h) * head_bytes);
  });
  if (kv_b.file_backed)
    release_file_pages(kv_b, kv_b.data, dtype_bytes(kv_b.dtype, rank) * static_cast<size_t>(kv_b.rows()));
  return columns;
}

}  // namespace dsinfer::cpu
