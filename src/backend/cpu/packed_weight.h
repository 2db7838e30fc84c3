// Weights repacked for the CPU's interleaved-row kernels (kernels.h): Q4_0, Q8_0, Q5_0,
// Q5_1, IQ4_NL, IQ4_XS, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, the grid formats (IQ1_S ... IQ3_S)
// and FP4 E2M1 (UE8M0 scales per 32 values) matrices whose row count is a multiple of 8,
// eight rows per block column; and
// FP8 E4M3 matrices recoded row by row (kRecodedOrder) where the table has recoded FP8
// kernels, in groups of eight rows too. A weight is packed on its first matmul, so
// tensors only read another way (embedding tables) never are, and a model pays for
// packing only the experts it actually routes to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "backend/cpu/kernels.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace dsinfer::cpu {

// Memory for packed weights, in large chunks backed by transparent huge pages: packing
// a whole model touches gigabytes of fresh memory, and faulting it in 4 KiB pages costs
// more than the packing itself (in a VM, several times more). Packed weights live as
// long as the backend that owns the arena, which outlives every model loaded on it.
class PackArena {
 public:
  PackArena() = default;
  ~PackArena();
  PackArena(const PackArena&) = delete;
  PackArena& operator=(const PackArena&) = delete;

  // 64-byte aligned; nullptr when the system is out of memory.
  uint8_t* allocate(size_t bytes);

 private:
  struct Chunk {
    void* mapping;
    size_t mapping_bytes;
    uint8_t* begin;  // 2 MiB aligned
    size_t size, used;
  };
  std::vector<Chunk> chunks_;
};

// Whether the model's files and a copy of their weights cannot both stay in memory (the
// copy's bytes taken as the files'): then the files' pages are dropped from the page cache
// as each weight is copied. Left to the kernel, they are evicted under pressure while the
// copy grows, and the copy's faults find few free 2 MiB pages: A Q8_0 (16.7 GB) on the
// 24 GiB VM, run after itself, had 0.3-2.5 GB of its weights in 4 KiB pages, which cost
// TLB misses and the guest's memory monitor's time, and none with its pages dropped
// (docs/benchmarks.md, CPU backend, session 57). A model that fits twice keeps its cached
// pages for a warm next start.
bool copy_outgrows_page_cache(const WeightView& source);

// Drops this process's copies of the whole pages inside [data, data + bytes) of `source`'s
// read-only file mapping, and the page cache's too where copy_outgrows_page_cache(source);
// reading them again faults them back in from the file.
void release_file_pages(const WeightView& source, const void* data, size_t bytes);

// A file-backed BF16, F16 or FP8 matrix copied as it is into `arena` (its file pages are
// dropped afterwards), or nothing for any other weight. Rows read from the file mapping
// sit in 4 KiB pages, where the hardware prefetchers stop at every page boundary and each
// page costs a TLB miss; in huge pages the same rows stream closer to the memory's speed.
std::optional<WeightView> copy_to_huge_pages(ThreadPool& pool, PackArena& arena, const WeightView& w);

// Rows [i * step, i * step + run) of w for i in [0, runs), as stored, one run after
// another in `arena` (nullptr when it is out of memory), for a part of a matrix read in
// its stored format (kv_b's K half in MLA's absorbed form); w's file pages are dropped.
const uint8_t* copy_row_runs_to_huge_pages(PackArena& arena, const WeightView& w, int64_t step, int64_t run,
                                           int64_t runs);

class PackedWeight {
 public:
  // The packed form of `w`, or nullptr when the kernels have no packed form for it.
  // A file-backed source's pages are released afterwards (re-read from the file if
  // something reads the stored layout again), so packing does not double the memory.
  static std::unique_ptr<PackedWeight> pack(const Kernels& kernels, ThreadPool& pool, PackArena& arena,
                                            const WeightView& w);

  DType source_dtype() const { return dtype_; }
  int64_t rows() const { return rows_; }
  int64_t blocks_per_row() const { return blocks_; }  // of the source format
  int64_t act_blocks_per_row() const { return cols_ / 32; }  // 32-value activation blocks
  int64_t bytes() const { return (rows_ + 7) / 8 * static_cast<int64_t>(group_bytes_); }  // all groups
  // The packed blocks of rows [8g, 8g + 8).
  const BlockQ4_0x8* q4_0_group(int64_t g) const { return reinterpret_cast<const BlockQ4_0x8*>(group(g)); }
  const BlockQ8_0x8* q8_0_group(int64_t g) const { return reinterpret_cast<const BlockQ8_0x8*>(group(g)); }
  const BlockQ5_0x8* q5_0_group(int64_t g) const { return reinterpret_cast<const BlockQ5_0x8*>(group(g)); }
  const BlockQ5_1x8* q5_1_group(int64_t g) const { return reinterpret_cast<const BlockQ5_1x8*>(group(g)); }
  const BlockIQ4_NLx8* iq4_nl_group(int64_t g) const { return reinterpret_cast<const BlockIQ4_NLx8*>(group(g)); }
  const BlockIQ4_XSx8* iq4_xs_group(int64_t g) const { return reinterpret_cast<const BlockIQ4_XSx8*>(group(g)); }
  const BlockQ2_Kx8* q2_k_group(int64_t g) const { return reinterpret_cast<const BlockQ2_Kx8*>(group(g)); }
  const BlockQ3_Kx8* q3_k_group(int64_t g) const { return reinterpret_cast<const BlockQ3_Kx8*>(group(g)); }
  const BlockQ4_Kx8* q4_k_group(int64_t g) const { return reinterpret_cast<const BlockQ4_Kx8*>(group(g)); }
  const BlockQ5_Kx8* q5_k_group(int64_t g) const { return reinterpret_cast<const BlockQ5_Kx8*>(group(g)); }
  const BlockQ6_Kx8* q6_k_group(int64_t g) const { return reinterpret_cast<const BlockQ6_Kx8*>(group(g)); }
  const BlockFp4x8* fp4_group(int64_t g) const { return reinterpret_cast<const BlockFp4x8*>(group(g)); }
  // A grid format's group: block column b's eight stored blocks from byte 8 b block_bytes.
  const uint8_t* grid_group(int64_t g) const { return group(g); }
  // FP8: row n's recoded codes, its small-code run bits, its block scales (nullptr when
  // the weight has none) and their block width.
  const uint8_t* f8_codes(int64_t n) const { return group(n / 8) + (n % 8) * f8_row_bytes(); }
  const uint64_t* f8_small_runs(int64_t n) const {
    return reinterpret_cast<const uint64_t*>(group(n / 8) + 8 * f8_row_bytes()) + (n % 8) * f8e4m3_run_words(cols_);
  }
  const float* f8_scales(int64_t n) const { return f8_row_scales_.empty() ? nullptr : f8_row_scales_[n]; }
  int64_t f8_scale_block() const { return f8_scale_block_; }

 private:
  PackedWeight(DType dtype, int64_t rows, int64_t cols, int64_t blocks, size_t group_bytes, uint8_t* data)
      : dtype_(dtype), rows_(rows), cols_(cols), blocks_(blocks), group_bytes_(group_bytes), data_(data) {}
  const uint8_t* group(int64_t g) const { return data_ + static_cast<size_t>(g) * group_bytes_; }
  // An FP8 group: eight rows of codes padded to 64 bytes, then each row's run words.
  int64_t f8_row_bytes() const { return (cols_ + 63) / 64 * 64; }

  DType dtype_;
  int64_t rows_, cols_, blocks_;
  size_t group_bytes_;
  uint8_t* data_;  // in the backend's PackArena
  // FP8: each row's block scales (looked up once: two divisions per row cost as much as
  // streaming a 512-column row) and their width.
  std::vector<const float*> f8_row_scales_;
  int64_t f8_scale_block_ = 0;
};

}  // namespace dsinfer::cpu
