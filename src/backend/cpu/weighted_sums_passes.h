// What the SIMD forms of Kernels::weighted_sums share (weighted_sums_x86.cpp,
// weighted_sums_neon.cpp): how a row's value c is stored and widened one at a time, the
// columns left over after the vectors, and the passes over the rows that keep each
// head's chain in order. Each ISA adds its vector loads to the value types and its
// column blocks to the passes. Included only by files compiled with -ffp-contract=off.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/quant_blocks.h"

namespace dsinfer::cpu::weighted_sums_passes {

// Rows per pass: a pass keeps its rows (32 latent rows of 576 floats, 72 KiB) in cache
// while each group of heads goes over them, column block by column block, so a long
// context is read from memory once per step instead of once per head.
constexpr int64_t kRowsPerPass = 32;

// How rows hold their values (float32 rows, or a compact row's bytes): `at`, where value
// c is stored; `one`, value c as float32.
struct F32Row {
  using Row = const float*;
  static const void* at(Row row, int64_t c) { return row + c; }
  static float one(Row row, int64_t c) { return row[c]; }
};

struct F16Row {
  using Row = const void*;
  static const uint16_t* of(Row row) { return static_cast<const uint16_t*>(row); }
  static const void* at(Row row, int64_t c) { return of(row) + c; }
  static float one(Row row, int64_t c) { return f16_to_f32(of(row)[c]); }
};

// BF16 is the high half of a float32.
struct BF16Row {
  using Row = const void*;
  static const uint16_t* of(Row row) { return static_cast<const uint16_t*>(row); }
  static const void* at(Row row, int64_t c) { return of(row) + c; }
  static float one(Row row, int64_t c) { return bf16_to_f32(of(row)[c]); }
};

// Q8_0: value c is its block's scale times its code, one rounding, as dequantize_q8_0.
struct Q8_0Row {
  using Row = const void*;
  static const BlockQ8_0& block(Row row, int64_t c) { return static_cast<const BlockQ8_0*>(row)[c / 32]; }
  static const void* at(Row row, int64_t c) { return block(row, c).qs + c % 32; }
  static float one(Row row, int64_t c) {
    return f16_to_f32(block(row, c).d) * static_cast<float>(block(row, c).qs[c % 32]);
  }
};

// Columns [c0, d) that fill no vector, the same chains one value at a time.
template <class V>
void sum_columns_one_by_one(float* o, int64_t o_stride, const float* p, int64_t p_stride, int n_heads,
                            const typename V::Row* rows, int64_t i0, int64_t i1, bool from_zero, int64_t c0,
                            int64_t d) {
  for (int64_t c = c0; c < d; ++c)
    for (int h = 0; h < n_heads; ++h) {
      float sum = from_zero ? 0.0f : o[h * o_stride + c];
      for (int64_t i = i0; i < i1; ++i) sum += p[h * p_stride + i] * V::one(rows[i], c);
      o[h * o_stride + c] = sum;
    }
}

// One pass's sums for a group of heads over rows [i0, i1) of n_rows, every column: from
// zero, or onward from what o holds (a float stored and loaded back is the same float,
// so the chains keep their bits).
template <class V>
using PassFn = void (*)(float* o, int64_t o_stride, const float* p, int64_t p_stride,
                        const typename V::Row* rows, int64_t i0, int64_t i1, int64_t n_rows, bool from_zero,
                        int64_t d);

// weighted_sums pass by pass, heads in groups of up to N: passes[n - 1] sums n heads.
template <class V, size_t N>
void sum_in_passes(const PassFn<V> (&passes)[N], float* o, int64_t o_stride, const float* p, int64_t p_stride,
                   int n_heads, const typename V::Row* rows, int64_t n_rows, int64_t d, bool onward) {
  if (n_rows == 0) {
    if (!onward)
      for (int h = 0; h < n_heads; ++h) std::fill_n(o + h * o_stride, d, 0.0f);
    return;
  }
  const int group = static_cast<int>(N);
  for (int64_t i0 = 0; i0 < n_rows; i0 += kRowsPerPass)
    for (int h = 0; h < n_heads; h += group)
      passes[std::min(group, n_heads - h) - 1](o + h * o_stride, o_stride, p + h * p_stride, p_stride, rows, i0,
                                               std::min(i0 + kRowsPerPass, n_rows), n_rows, i0 == 0 && !onward, d);
}

// work(V{}) for the value type of a compact format, given as F16, BF16, Q8_0; false for
// any other format.
template <class F16, class BF16, class Q8_0, class Work>
bool for_stored_format(DType dtype, Work&& work) {
  switch (dtype) {
    case DType::kF16: work(F16{}); return true;
    case DType::kBF16: work(BF16{}); return true;
    case DType::kQ8_0: work(Q8_0{}); return true;
    default: return false;
  }
}

}  // namespace dsinfer::cpu::weighted_sums_passes
