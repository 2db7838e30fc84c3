#include "backend/cpu/packed_weight.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include <sys/mman.h>
#include <unistd.h>

namespace dsinfer::cpu {
namespace {

// Rows [8g, 8g + 8) of a Q4_0 / Q8_0 / IQ4_NL matrix, interleaved per block column in 4-byte
// groups (layout: kernels.h).
template <typename Source, typename Packed>
void pack_group(const Source* rows, int64_t blocks, Packed* out) {
  constexpr int kGroups = sizeof(Source::qs) / 4;
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) {
      const Source& src = rows[r * blocks + b];
      out[b].d[r] = src.d;
      for (int k = 0; k < kGroups; ++k) std::memcpy(out[b].qs + 32 * k + 4 * r, src.qs + 4 * k, 4);
    }
}

// Rows [8g, 8g + 8) of a Q5_0 / Q5_1 matrix: scales (and offsets) per row, the nibbles
// as pack_group lays out Q4_0's, the fifth bits regrouped (layout: kernels.h).
template <typename Source, typename Packed>
void pack_q5_group(const Source* rows, int64_t blocks, Packed* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) {
      const Source& src = rows[r * blocks + b];
      out[b].d[r] = src.d;
      if constexpr (std::is_same_v<Source, BlockQ5_1>) out[b].m[r] = src.m;
      for (int k = 0; k < 4; ++k) std::memcpy(out[b].qs + 32 * k + 4 * r, src.qs + 4 * k, 4);
      for (int i = 0; i < 4; ++i) {
        uint8_t bits = 0;
        for (int k = 0; k < 4; ++k)
          bits |= static_cast<uint8_t>(((q5_code(src, 4 * k + i) >> 4) << k) | ((q5_code(src, 16 + 4 * k + i) >> 4) << (4 + k)));
        out[b].qh[4 * r + i] = bits;
      }
    }
}

// Rows [8g, 8g + 8) of a grid-format matrix: each block column's eight stored blocks one
// after another (kernels.h).
void pack_grid_group(const uint8_t* rows, size_t block_bytes, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r)
      std::memcpy(out + (8 * b + r) * block_bytes, rows + (r * blocks + b) * block_bytes, block_bytes);
}

// Maps the source's pages in one call instead of one fault per few pages (a hint:
// kernels before Linux 5.14 refuse it and the faults happen as before).
void populate_file_pages(const void* data, size_t bytes) {
#ifdef MADV_POPULATE_READ
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(data) / page * page;
  const auto end = reinterpret_cast<uintptr_t>(data) + bytes;
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ);
#endif
}

// Bit `bit` of each of a block's 32 plane bytes (one byte per value, value v's byte at
// plane[v]) regrouped for row r of an eight-row block: bit k of out[4r + i] holds value
// 4k + i's bit, under group k's byte 4r + i (the Q5_K and Q3_K layouts in kernels.h).
void regroup_bit_plane(const uint8_t plane[32], int bit, int r, uint8_t out[32]) {
  uint8_t* bits = out + 4 * r;
  std::fill_n(bits, 4, uint8_t{0});
  for (int v = 0; v < 32; ++v) bits[v % 4] |= static_cast<uint8_t>(((plane[v] >> bit) & 1) << (v / 4));
}

// A row's super-block into the Q4_K part of the packed block: super-block scales, the
// 6-bit scales and mins as bytes, the low four bits of the codes. Q5_K's fields of the
// same names mean the same.
template <typename Source>
void pack_k4_row(const Source& src, int r, BlockQ4_Kx8& out) {
  out.d[r] = src.d;
  out.dmin[r] = src.dmin;
  for (int j = 0; j < 8; ++j) {
    const ScaleMin6 sm = unpack_scale_min6(src.scales, j);
    out.scales[j][r] = sm.scale;
    out.mins[j][r] = sm.min;
  }
  for (int c = 0; c < 4; ++c)
    for (int k = 0; k < 8; ++k) std::memcpy(out.qs + 256 * c + 32 * k + 4 * r, src.qs + 32 * c + 4 * k, 4);
}

void pack_q4_k_group(const BlockQ4_K* rows, int64_t blocks, BlockQ4_Kx8* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) pack_k4_row(rows[r * blocks + b], r, out[b]);
}

void pack_q5_k_group(const BlockQ5_K* rows, int64_t blocks, BlockQ5_Kx8* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) {
      const BlockQ5_K& src = rows[r * blocks + b];
      pack_k4_row(src, r, out[b].low);
      // Value v of sub-block j keeps its fifth bit in bit j of qh[v] (core/quant_blocks.h).
      for (int j = 0; j < 8; ++j) regroup_bit_plane(src.qh, j, r, out[b].qh[j / 2][j % 2]);
    }
}

// Rows [8g, 8g + 8) of an IQ4_XS matrix: scales unpacked, each sub-block's indices
// interleaved as pack_group lays out an IQ4_NL block's.
void pack_iq4_xs_group(const BlockIQ4_XS* rows, int64_t blocks, BlockIQ4_XSx8* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) {
      const BlockIQ4_XS& src = rows[r * blocks + b];
      out[b].d[r] = src.d;
      for (int j = 0; j < 8; ++j) {
        out[b].scales[j][r] = static_cast<int8_t>(iq4_xs_scale(src, j) - 32);
        for (int k = 0; k < 4; ++k) std::memcpy(out[b].qs[j] + 32 * k + 4 * r, src.qs + 16 * j + 4 * k, 4);
      }
    }
}

// Q2_K's and Q3_K's codes: the byte of value 128h + 32j + 4k + i of row r at
// 256h + 32k + 4r + i, bits 2j and 2j+1 (kernels.h), from the stored byte order
// (core/quant_blocks.h), which puts the same value in bits 2j, 2j+1 of qs[32h + 4k + i].
// Both orders keep the four values of shift j together, so whole bytes move.
void pack_low_two_bits(const uint8_t qs[64], int r, uint8_t out[512]) {
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 8; ++k) std::memcpy(out + 256 * h + 32 * k + 4 * r, qs + 32 * h + 4 * k, 4);
}

void pack_q2_k_group(const BlockQ2_K* rows, int64_t blocks, BlockQ2_Kx8* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) {
      const BlockQ2_K& src = rows[r * blocks + b];
      out[b].d[r] = src.d;
      out[b].dmin[r] = src.dmin;
      for (int j = 0; j < 16; ++j) out[b].scales[j][r] = src.scales[j];
      pack_low_two_bits(src.qs, r, out[b].qs);
    }
}

void pack_q3_k_group(const BlockQ3_K* rows, int64_t blocks, BlockQ3_Kx8* out) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int r = 0; r < 8; ++r) {
      const BlockQ3_K& src = rows[r * blocks + b];
      out[b].d[r] = src.d;
      for (int j = 0; j < 16; ++j) out[b].scales[j][r] = static_cast<int8_t>(q3_k_scale(src.scales, j) - 32);
      pack_low_two_bits(src.qs, r, out[b].qs);
      // Value 32 block + l keeps its third bit in bit `block` of hmask[l].
      for (int block = 0; block < 8; ++block) regroup_bit_plane(src.hmask, block, r, out[b].hmask[block]);
    }
}

void pack_q6_k_group(const BlockQ6_K* rows, int64_t blocks, BlockQ6_Kx8* out) {
  for (int64_t b = 0; b < blocks; ++b) {
    std::memset(out[b].ql, 0, sizeof(out[b].ql));
    std::memset(out[b].qh, 0, sizeof(out[b].qh));
    for (int r = 0; r < 8; ++r) {
      const BlockQ6_K& src = rows[r * blocks + b];
      out[b].d[r] = src.d;
      for (int h = 0; h < 16; ++h) out[b].scales[h][r] = src.scales[h];
      // Value 128 h2 + 32 k + l takes its low 4 bits from ql and its high 2 from qh as
      // in dequantize_q6_k (core/quant_blocks.cpp).
      for (int h2 = 0; h2 < 2; ++h2)
        for (int l = 0; l < 32; ++l) {
          const uint8_t* ql = src.ql + 64 * h2;
          const uint8_t qh = src.qh[32 * h2 + l];
          const int q[4] = {(ql[l] & 0x0F) | ((qh & 3) << 4), (ql[l + 32] & 0x0F) | (((qh >> 2) & 3) << 4),
                            (ql[l] >> 4) | (((qh >> 4) & 3) << 4), (ql[l + 32] >> 4) | (((qh >> 6) & 3) << 4)};
          for (int k = 0; k < 4; ++k) {
            const int block = 4 * h2 + k;  // value 32 block + l of the super-block
            const int place = 32 * (l / 4) + 4 * r + l % 4;
            out[b].ql[256 * (block / 2) + place] |= static_cast<uint8_t>((q[k] & 0x0F) << (4 * (block % 2)));
            out[b].qh[256 * (block / 4) + place] |= static_cast<uint8_t>((q[k] >> 4) << (2 * (block % 4)));
          }
        }
    }
  }
}

// The UE8M0 exponent of a decoded FP4 block scale: the float's exponent bits for a
// normal power of two, 0 for 2^-127 (the only subnormal code; the kernels read it as 0,
// which changes a sum by less than 1e-37); -1 when `scale` is no UE8M0 value or above
// 2^73 (the AVX2 kernel carries values times 2^25; no trained weight comes near).
int ue8m0_exponent(float scale) {
  uint32_t bits;
  std::memcpy(&bits, &scale, sizeof(bits));
  if (bits == 0x00400000u) return 0;
  const uint32_t exponent = bits >> 23;
  return (bits & 0x807FFFFFu) == 0 && exponent >= 1 && exponent <= 127 + 73 ? static_cast<int>(exponent) : -1;
}

// Rows [8g, 8g + 8) of an FP4 matrix (element 2j in the low nibble of byte j, scales per
// 32 values of a row) in the BlockFp4x8 layout. False when a scale is no UE8M0 value.
bool pack_fp4_group(const WeightView& w, int64_t g, BlockFp4x8* out) {
  const int64_t cols = w.cols(), blocks = cols / 32;
  for (int r = 0; r < 8; ++r) {
    const int64_t row = 8 * g + r;
    const auto* codes = static_cast<const uint8_t*>(w.data) + row * cols / 2;
    auto code = [&](int64_t col) { return static_cast<uint8_t>((codes[col / 2] >> (4 * (col % 2))) & 0x0F); };
    for (int64_t b = 0; b < blocks; ++b) {
      const int e = ue8m0_exponent(w.scales.scale(row, b, cols));
      if (e < 0) return false;
      out[b].e[r] = static_cast<uint8_t>(e);
      for (int k = 0; k < 4; ++k)
        for (int i = 0; i < 4; ++i)
          out[b].qs[32 * k + 4 * r + i] =
              static_cast<uint8_t>(code(32 * b + 4 * k + i) | code(32 * b + 16 + 4 * k + i) << 4);
    }
  }
  return true;
}

// Row `row` of an FP8 matrix recoded for Kernels::dot_f8e4m3_recoded (kernels.h), with
// its small-code run bits.
void recode_f8e4m3_row(const WeightView& w, int64_t row, uint8_t* out, uint64_t* small_runs) {
  const int64_t cols = w.cols(), whole_64 = cols / 64 * 64, whole_16 = cols / 16 * 16;
  const auto* codes = static_cast<const uint8_t*>(w.data) + row * cols;
  for (int64_t g = 0; g < whole_64; g += 64)
    for (int c = 0; c < 64; ++c) out[g + recoded_64_position(c)] = f8e4m3_recoded(codes[g + c]);
  for (int64_t g = whole_64; g < whole_16; g += 16)
    for (int j = 0; j < 16; ++j) out[g + j] = f8e4m3_recoded(codes[g + kRecodedOrder[j]]);
  for (int64_t i = whole_16; i < cols; ++i) out[i] = f8e4m3_recoded(codes[i]);
  for (int64_t i = 0; i < cols; ++i)
    if (f8e4m3_recoded_is_small(out[i])) small_runs[i / 4096] |= uint64_t{1} << (i / 64 % 64);
}

}  // namespace

bool copy_outgrows_page_cache(const WeightView& source) {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 && 2 * source.model_bytes > static_cast<int64_t>(pages) * page;
}

void release_file_pages(const WeightView& source, const void* data, size_t bytes) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end <= begin) return;
  // A hint: kernels before Linux 5.4 refuse MADV_PAGEOUT and leave the pages cached.
  if (copy_outgrows_page_cache(source)) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kChunkBytes = size_t{256} << 20;

PackArena::~PackArena() {
  for (const Chunk& c : chunks_) ::munmap(c.mapping, c.mapping_bytes);
}

uint8_t* PackArena::allocate(size_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  if (chunks_.empty() || chunks_.back().size - chunks_.back().used < bytes) {
    // Untouched parts of a chunk cost address space only.
    const size_t size = std::max(kChunkBytes, (bytes + kHugePage - 1) / kHugePage * kHugePage);
    const size_t mapping_bytes = size + kHugePage;
    void* mapping = ::mmap(nullptr, mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return nullptr;
    auto* begin = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(mapping) + kHugePage - 1) / kHugePage * kHugePage);
    ::madvise(begin, size, MADV_HUGEPAGE);  // a hint: without THP it is 4 KiB pages
    chunks_.push_back({mapping, mapping_bytes, begin, size, 0});
  }
  Chunk& c = chunks_.back();
  uint8_t* p = c.begin + c.used;
  c.used += bytes;
  return p;
}

std::optional<WeightView> copy_to_huge_pages(ThreadPool& pool, PackArena& arena, const WeightView& w) {
  const bool float_format = w.dtype == DType::kBF16 || w.dtype == DType::kF16 || w.dtype == DType::kF8E4M3;
  if (!float_format || !w.file_backed || w.shape.size() != 2 || w.rows() == 0) return std::nullopt;
  const size_t row_bytes = dtype_bytes(w.dtype, w.cols()), bytes = row_bytes * static_cast<size_t>(w.rows());
  uint8_t* copy = arena.allocate(bytes);
  if (!copy) return std::nullopt;
  populate_file_pages(w.data, bytes);
  pool.parallel_for(w.rows(), [&](int, int64_t begin, int64_t end) {
    std::memcpy(copy + static_cast<size_t>(begin) * row_bytes,
                static_cast<const uint8_t*>(w.data) + static_cast<size_t>(begin) * row_bytes,
                static_cast<size_t>(end - begin) * row_bytes);
  });
  release_file_pages(w, w.data, bytes);
  WeightView resident = w;
  resident.data = copy;
  resident.file_backed = false;
  return resident;
}

const uint8_t* copy_row_runs_to_huge_pages(PackArena& arena, const WeightView& w, int64_t step, int64_t run,
                                           int64_t runs) {
  const size_t row_bytes = dtype_bytes(w.dtype, w.cols()), run_bytes = row_bytes * static_cast<size_t>(run);
  uint8_t* copy = arena.allocate(run_bytes * static_cast<size_t>(runs));
  if (!copy) return nullptr;
  for (int64_t i = 0; i < runs; ++i)
    std::memcpy(copy + static_cast<size_t>(i) * run_bytes,
                static_cast<const uint8_t*>(w.data) + static_cast<size_t>(i * step) * row_bytes, run_bytes);
  if (w.file_backed) release_file_pages(w, w.data, row_bytes * static_cast<size_t>(w.rows()));
  return copy;
}

std::unique_ptr<PackedWeight> PackedWeight::pack(const Kernels& kernels, ThreadPool& pool, PackArena& arena,
                                                 const WeightView& w) {
  size_t block_bytes = 0;  // of one packed 8-row block
  if (w.dtype == DType::kQ4_0 && kernels.gemm_q4_0x8) block_bytes = sizeof(BlockQ4_0x8);
  if (w.dtype == DType::kQ8_0 && kernels.gemm_q8_0x8) block_bytes = sizeof(BlockQ8_0x8);
  if (w.dtype == DType::kQ4_K && kernels.gemm_q4_kx8) block_bytes = sizeof(BlockQ4_Kx8);
  if (w.dtype == DType::kQ5_K && kernels.gemm_q5_kx8) block_bytes = sizeof(BlockQ5_Kx8);
  if (w.dtype == DType::kQ6_K && kernels.gemm_q6_kx8) block_bytes = sizeof(BlockQ6_Kx8);
  if (w.dtype == DType::kQ5_0 && kernels.gemm_q5_0x8) block_bytes = sizeof(BlockQ5_0x8);
  if (w.dtype == DType::kQ5_1 && kernels.gemm_q5_1x8) block_bytes = sizeof(BlockQ5_1x8);
  if (w.dtype == DType::kIQ4_NL && kernels.gemm_iq4_nlx8) block_bytes = sizeof(BlockIQ4_NLx8);
  if (w.dtype == DType::kIQ4_XS && kernels.gemm_iq4_xsx8) block_bytes = sizeof(BlockIQ4_XSx8);
  if (w.dtype == DType::kQ2_K && kernels.gemm_q2_kx8) block_bytes = sizeof(BlockQ2_Kx8);
  if (w.dtype == DType::kQ3_K && kernels.gemm_q3_kx8) block_bytes = sizeof(BlockQ3_Kx8);
  if (is_grid_format(w.dtype) && kernels.dot_grid_rows) block_bytes = 8 * dtype_block_bytes(w.dtype);
  const bool fp4 = w.dtype == DType::kFP4E2M1;
  if (fp4 && kernels.gemm_fp4x8 && w.scales.present() && w.scales.block_rows == 1 && w.scales.block_cols == 32 &&
      w.cols() % 32 == 0)
    block_bytes = sizeof(BlockFp4x8);
  // FP8 "blocks" are single codes; the recoded kernels need whole 64-code runs per scale block.
  const bool fp8 = w.dtype == DType::kF8E4M3 && kernels.dot_f8e4m3_recoded &&
                   (!w.scales.data || w.scales.block_cols % 64 == 0);
  if (fp8) block_bytes = 1;
  if (block_bytes == 0 || w.shape.size() != 2 || w.rows() % 8 != 0 || w.rows() == 0) return nullptr;
  const int64_t blocks = fp8 ? w.cols() : w.cols() / (fp4 ? 32 : dtype_block_elements(w.dtype));
  const size_t group_bytes =
      fp8 ? 8 * static_cast<size_t>((w.cols() + 63) / 64 * 64 + 8 * f8e4m3_run_words(w.cols()))
          : static_cast<size_t>(blocks) * block_bytes;
  uint8_t* data = arena.allocate(group_bytes * static_cast<size_t>(w.rows() / 8));
  if (!data) return nullptr;
  std::unique_ptr<PackedWeight> packed(new PackedWeight(w.dtype, w.rows(), w.cols(), blocks, group_bytes, data));
  if (fp8 && w.scales.data) {
    packed->f8_scale_block_ = w.scales.block_cols;
    packed->f8_row_scales_.resize(static_cast<size_t>(w.rows()));
    for (int64_t n = 0; n < w.rows(); ++n) packed->f8_row_scales_[static_cast<size_t>(n)] = w.scales.row_scales(n, w.cols());
  }
  const size_t source_bytes = dtype_bytes(w.dtype, w.rows() * w.cols());
  if (w.file_backed) populate_file_pages(w.data, source_bytes);
  std::atomic<bool> scales_ok = true;
  // Row groups from a shared counter: the threads' first touches of fresh arena pages
  // (the kernel zeroing huge pages) take very different times.
  pool.parallel_for_dynamic(w.rows() / 8, /*chunks_per_thread=*/8, [&](int, int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      uint8_t* out = data + static_cast<size_t>(g) * group_bytes;
      if (is_grid_format(w.dtype)) {
        pack_grid_group(static_cast<const uint8_t*>(w.data) + g * 8 * blocks * dtype_block_bytes(w.dtype),
                        dtype_block_bytes(w.dtype), blocks, out);
        continue;
      }
      switch (w.dtype) {
        case DType::kF8E4M3: {
          auto* runs = reinterpret_cast<uint64_t*>(out + 8 * packed->f8_row_bytes());
          std::fill_n(runs, 8 * f8e4m3_run_words(w.cols()), uint64_t{0});
          for (int r = 0; r < 8; ++r)
            recode_f8e4m3_row(w, 8 * g + r, out + r * packed->f8_row_bytes(), runs + r * f8e4m3_run_words(w.cols()));
          break;
        }
        case DType::kFP4E2M1:
          if (!pack_fp4_group(w, g, reinterpret_cast<BlockFp4x8*>(out))) scales_ok = false;
          break;
        case DType::kQ4_0:
          pack_group(static_cast<const BlockQ4_0*>(w.data) + g * 8 * blocks, blocks,
                          reinterpret_cast<BlockQ4_0x8*>(out));
          break;
        case DType::kQ8_0:
          pack_group(static_cast<const BlockQ8_0*>(w.data) + g * 8 * blocks, blocks,
                          reinterpret_cast<BlockQ8_0x8*>(out));
          break;
        case DType::kQ4_K:
          pack_q4_k_group(static_cast<const BlockQ4_K*>(w.data) + g * 8 * blocks, blocks,
                          reinterpret_cast<BlockQ4_Kx8*>(out));
          break;
        case DType::kQ5_0:
          pack_q5_group(static_cast<const BlockQ5_0*>(w.data) + g * 8 * blocks, blocks,
                        reinterpret_cast<BlockQ5_0x8*>(out));
          break;
        case DType::kQ5_1:
          pack_q5_group(static_cast<const BlockQ5_1*>(w.data) + g * 8 * blocks, blocks,
                        reinterpret_cast<BlockQ5_1x8*>(out));
          break;
        case DType::kIQ4_NL:
          pack_group(static_cast<const BlockIQ4_NL*>(w.data) + g * 8 * blocks, blocks,
                     reinterpret_cast<BlockIQ4_NLx8*>(out));
          break;
        case DType::kIQ4_XS:
          pack_iq4_xs_group(static_cast<const BlockIQ4_XS*>(w.data) + g * 8 * blocks, blocks,
                            reinterpret_cast<BlockIQ4_XSx8*>(out));
          break;
        case DType::kQ2_K:
          pack_q2_k_group(static_cast<const BlockQ2_K*>(w.data) + g * 8 * blocks, blocks,
                          reinterpret_cast<BlockQ2_Kx8*>(out));
          break;
        case DType::kQ3_K:
          pack_q3_k_group(static_cast<const BlockQ3_K*>(w.data) + g * 8 * blocks, blocks,
                          reinterpret_cast<BlockQ3_Kx8*>(out));
          break;
        case DType::kQ5_K:
          pack_q5_k_group(static_cast<const BlockQ5_K*>(w.data) + g * 8 * blocks, blocks,
                          reinterpret_cast<BlockQ5_Kx8*>(out));
          break;
        default:
          pack_q6_k_group(static_cast<const BlockQ6_K*>(w.data) + g * 8 * blocks, blocks,
                          reinterpret_cast<BlockQ6_Kx8*>(out));
      }
    }
  });
  // A weight that cannot be packed keeps its stored layout (the arena space is lost).
  if (!scales_ok) return nullptr;
  if (w.file_backed) release_file_pages(w, w.data, source_bytes);
  // Scales read in place (V4's FP4 experts) are in the packed blocks now too.
  if (w.file_backed && w.scales.ue8m0)
    release_file_pages(w, w.scales.row_codes(0, w.cols()),
                       static_cast<size_t>(w.scales.stored_bytes_for(w.rows(), w.cols())));
  return packed;
}

}  // namespace dsinfer::cpu
