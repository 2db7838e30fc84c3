#include "backend/cpu/packed_weight.h"

#include <cstdlib>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

namespace dsinfer::cpu {
namespace {

// Rows [8g, 8g + 8) of a stored matrix, interleaved per block column (layout: kernels.h).
void pack_q4_0_group(const BlockQ4_0* rows, int64_t blocks, BlockQ4_0x8* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) {
      const BlockQ4_0& src = rows[r * blocks + b];
      out[b].d[r] = src.d;
      for (int k = 0; k < 4; ++k) std::memcpy(out[b].qs + 32 * k + 4 * r, src.qs + 4 * k, 4);
    }
}

void pack_q8_0_group(const BlockQ8_0* rows, int64_t blocks, BlockQ8_0x8* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) {
      const BlockQ8_0& src = rows[r * blocks + b];
      out[b].d[r] = src.d;
      for (int k = 0; k < 8; ++k) std::memcpy(out[b].qs + 32 * k + 4 * r, src.qs + 4 * k, 4);
    }
}

// Drops this process's copies of the whole pages inside [data, data + bytes) of a
// read-only file mapping; reading them again faults them back in from the file.
void release_file_pages(const void* data, size_t bytes) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

void PackedWeight::Free::operator()(uint8_t* p) const { std::free(p); }

PackedWeight::PackedWeight(DType dtype, int64_t rows, int64_t blocks, size_t group_bytes)
    : dtype_(dtype), rows_(rows), blocks_(blocks), group_bytes_(group_bytes) {
  const size_t bytes = group_bytes * static_cast<size_t>(rows / 8);
  data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
}

std::unique_ptr<PackedWeight> PackedWeight::pack(const Kernels& kernels, ThreadPool& pool, const WeightView& w) {
  const bool q4 = w.dtype == DType::kQ4_0 && kernels.gemm_q4_0x8;
  const bool q8 = w.dtype == DType::kQ8_0 && kernels.gemm_q8_0x8;
  if ((!q4 && !q8) || w.shape.size() != 2 || w.rows() % 8 != 0 || w.rows() == 0) return nullptr;
  const int64_t blocks = w.cols() / 32;
  const size_t group_bytes = static_cast<size_t>(blocks) * (q4 ? sizeof(BlockQ4_0x8) : sizeof(BlockQ8_0x8));
  std::unique_ptr<PackedWeight> packed(new PackedWeight(w.dtype, w.rows(), blocks, group_bytes));
  if (!packed->data_) return nullptr;
  pool.parallel_for(w.rows() / 8, [&](int, int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      uint8_t* out = packed->data_.get() + static_cast<size_t>(g) * group_bytes;
      if (q4) {
        pack_q4_0_group(static_cast<const BlockQ4_0*>(w.data) + g * 8 * blocks, blocks,
                        reinterpret_cast<BlockQ4_0x8*>(out));
      } else {
        pack_q8_0_group(static_cast<const BlockQ8_0*>(w.data) + g * 8 * blocks, blocks,
                        reinterpret_cast<BlockQ8_0x8*>(out));
      }
    }
  });
  if (w.file_backed) release_file_pages(w.data, group_bytes * static_cast<size_t>(w.rows() / 8));
  return packed;
}

}  // namespace dsinfer::cpu
