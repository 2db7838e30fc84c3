// Weights repacked for the CPU's interleaved-row kernels (kernels.h): Q4_0 and Q8_0
// matrices whose row count is a multiple of 8, eight rows per block column. A weight is
// packed on its first matmul, so tensors only read another way (embedding tables) never
// are, and a model pays for packing only the experts it actually routes to.
#pragma once

#include <cstdint>
#include <memory>

#include "backend/cpu/kernels.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace dsinfer::cpu {

class PackedWeight {
 public:
  // The packed form of `w`, or nullptr when the kernels have no packed form for it.
  // A file-backed source's pages are released afterwards (re-read from the file if
  // something reads the stored layout again), so packing does not double the memory.
  static std::unique_ptr<PackedWeight> pack(const Kernels& kernels, ThreadPool& pool, const WeightView& w);

  DType source_dtype() const { return dtype_; }
  int64_t rows() const { return rows_; }
  int64_t blocks_per_row() const { return blocks_; }
  // The packed blocks of rows [8g, 8g + 8).
  const BlockQ4_0x8* q4_0_group(int64_t g) const { return reinterpret_cast<const BlockQ4_0x8*>(group(g)); }
  const BlockQ8_0x8* q8_0_group(int64_t g) const { return reinterpret_cast<const BlockQ8_0x8*>(group(g)); }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  PackedWeight(DType dtype, int64_t rows, int64_t blocks, size_t group_bytes);
  const uint8_t* group(int64_t g) const { return data_.get() + static_cast<size_t>(g) * group_bytes_; }

  DType dtype_;
  int64_t rows_, blocks_;
  size_t group_bytes_;
  std::unique_ptr<uint8_t, Free> data_;
};

}  // namespace dsinfer::cpu
