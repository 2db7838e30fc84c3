#include "backend/cpu/matmul.h"

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "backend/cpu/grid_rows.h"
#include "backend/reference/dequantize.h"

namespace dsinfer::cpu {
namespace {

// Outputs [n0, n1) of every token: row_dot(thread, n, t) per (output feature n, token t).
template <typename RowDot>
void output_tile(Tensor out, int64_t n0, int64_t n1, int thread, RowDot&& row_dot) {
  for (int64_t t = 0; t < out.rows; ++t) {
    float* o = out.f32_row(t);
    for (int64_t n = n0; n < n1; ++n) o[n] = row_dot(thread, n, t);
  }
}

// The same with groups of four tokens to dot4(n, t, out[4]) and the remaining tokens one
// by one to row_dot. Which of the two a token meets depends on the batch size; the
// kernels give both the same bits per token (kernels.h).
template <typename Dot4, typename RowDot>
void output_tile_x4(Tensor out, int64_t n0, int64_t n1, int thread, Dot4&& dot4, RowDot&& row_dot) {
  float four[4];
  int64_t t = 0;
  for (; t + 4 <= out.rows; t += 4)
    for (int64_t n = n0; n < n1; ++n) {
      dot4(n, t, four);
      for (int r = 0; r < 4; ++r) out.f32_row(t + r)[n] = four[r];
    }
  for (; t < out.rows; ++t)
    for (int64_t n = n0; n < n1; ++n) out.f32_row(t)[n] = row_dot(thread, n, t);
}

// One token's outputs [n0, n1), the first half's rows paired with the second half's for
// dot2(n, n + half, out[2]), an odd last row to row_dot.
template <typename Dot2, typename RowDot>
void output_tile_pairs(Tensor out, int64_t n0, int64_t n1, int thread, Dot2&& dot2, RowDot&& row_dot) {
  float* o = out.f32_row(0);
  const int64_t half = (n1 - n0) / 2;
  float two[2];
  for (int64_t n = n0; n < n0 + half; ++n) {
    dot2(n, n + half, two);
    o[n] = two[0];
    o[n + half] = two[1];
  }
  if ((n1 - n0) % 2) o[n1 - 1] = row_dot(thread, n1 - 1, 0);
}

// tile(thread, n0, n1) for every tile of row_tile rows, parallel over the tiles.
template <typename Tile>
void for_each_tile(ThreadPool& pool, int64_t n_features, Tile&& tile) {
  const int64_t tile_rows = row_tile(n_features, pool.size());
  const int64_t tiles = (n_features + tile_rows - 1) / tile_rows;
  pool.parallel_for_dynamic(tiles, kChunksPerThread, [&](int thread, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) tile(thread, i * tile_rows, std::min((i + 1) * tile_rows, n_features));
  });
}

// Runs row_dot(n, t) for every (output feature n, token t), parallel over n in tiles.
template <typename RowDot>
void for_each_output(ThreadPool& pool, Tensor out, int64_t n_features, RowDot&& row_dot) {
  for_each_tile(pool, n_features, [&](int thread, int64_t n0, int64_t n1) { output_tile(out, n0, n1, thread, row_dot); });
}

// Like for_each_output, with output_tile_x4's groups of four tokens.
template <typename Dot4, typename RowDot>
void for_each_output_x4(ThreadPool& pool, Tensor out, int64_t n_features, Dot4&& dot4, RowDot&& row_dot) {
  for_each_tile(pool, n_features,
                [&](int thread, int64_t n0, int64_t n1) { output_tile_x4(out, n0, n1, thread, dot4, row_dot); });
}

// Row n of a stored weight's bytes.
class StoredRows {
 public:
  explicit StoredRows(const WeightView& w)
      : base_(static_cast<const uint8_t*>(w.data)), row_bytes_(dtype_bytes(w.dtype, w.cols())) {}
  const uint8_t* operator()(int64_t n) const { return base_ + static_cast<size_t>(n) * row_bytes_; }

 private:
  const uint8_t* base_;
  size_t row_bytes_;
};

// x's rows [begin, end), columns [c0, c1), into `rows`, already sized.
void quantize_block(ActivationForm form, const Kernels& k, Tensor x, QuantizedRows& rows, int64_t begin, int64_t end,
                    int64_t c0, int64_t c1) {
  const int64_t blocks = x.cols / 32;
  for (int64_t t = begin; t < end; ++t) {
    const float* from = x.f32_row(t) + c0;
    if (form == ActivationForm::kQ8) k.quantize_act_q8(from, rows.q8.data() + t * blocks + c0 / 32, c1 - c0);
    if (form == ActivationForm::kQ8x3) k.quantize_act_q8x3(from, rows.q8x3.data() + t * blocks + c0 / 32, c1 - c0);
  }
}

void quantize_row_range(ActivationForm form, const Kernels& k, Tensor x, QuantizedRows& rows, int64_t begin,
                        int64_t end) {
  quantize_block(form, k, x, rows, begin, end, 0, x.cols);
}

}  // namespace

void size_quantized_rows(ActivationForm form, Tensor x, QuantizedRows& rows) {
  const auto n = static_cast<size_t>(x.rows * (x.cols / 32));
  if (form == ActivationForm::kQ8) rows.q8.resize(n);
  if (form == ActivationForm::kQ8x3) rows.q8x3.resize(n);
}

void quantize_columns(ActivationForm form, const Kernels& k, Tensor x, int64_t c0, int64_t c1, QuantizedRows& rows) {
  quantize_block(form, k, x, rows, 0, x.rows, c0, c1);
}

int64_t row_tile(int64_t n_features, int threads) {
  return std::clamp<int64_t>(n_features / (8 * static_cast<int64_t>(threads)), 1, 16);
}

bool is_float_weight(const WeightView& w) {
  return w.dtype == DType::kF32 || w.dtype == DType::kBF16 || w.dtype == DType::kF16;
}

void float_weight_rows(const Kernels& k, Tensor out, Tensor x, const WeightView& w, int64_t n0, int64_t n1) {
  const int64_t K = w.cols();
  const StoredRows row(w);
  switch (w.dtype) {
    case DType::kF32: {
      auto f32_row = [&](int64_t n) { return reinterpret_cast<const float*>(row(n)); };
      auto one = [&](int, int64_t n, int64_t t) { return k.dot_f32(f32_row(n), x.f32_row(t), K); };
      if (out.rows == 1 && k.dot2_f32)
        return output_tile_pairs(
            out, n0, n1, 0,
            [&](int64_t a, int64_t b, float* two) {
              const float* const rows[2] = {f32_row(a), f32_row(b)};
              k.dot2_f32(rows, x.f32_row(0), K, two);
            },
            one);
      return output_tile(out, n0, n1, 0, one);
    }
    case DType::kBF16: {
      auto bf16_row = [&](int64_t n) { return reinterpret_cast<const uint16_t*>(row(n)); };
      auto one = [&](int, int64_t n, int64_t t) { return k.dot_bf16(bf16_row(n), x.f32_row(t), K); };
      if (out.rows == 1 && k.dot2_bf16)
        return output_tile_pairs(
            out, n0, n1, 0,
            [&](int64_t a, int64_t b, float* two) {
              const uint16_t* const rows[2] = {bf16_row(a), bf16_row(b)};
              k.dot2_bf16(rows, x.f32_row(0), K, two);
            },
            one);
      return output_tile_x4(
          out, n0, n1, 0,
          [&](int64_t n, int64_t t, float* four) { k.dot4_bf16(bf16_row(n), x.f32_row(t), x.row_stride, K, four); },
          one);
    }
    default:  // F16
      return output_tile(out, n0, n1, 0, [&](int, int64_t n, int64_t t) {
        return k.dot_f16(reinterpret_cast<const uint16_t*>(row(n)), x.f32_row(t), K);
      });
  }
}

bool reads_float_beside(const Kernels& k, const WeightView& w, int64_t n_tokens) {
  return n_tokens == 1 && ((w.dtype == DType::kBF16 && k.dot2_bf16) || (w.dtype == DType::kF32 && k.dot2_f32));
}

namespace {

void f32_rows_beside(const Kernels& k, Tensor out, Tensor x, const WeightView& w, int64_t n0, int64_t m0,
                     int64_t pairs) {
  const StoredRows row(w);
  float* o = out.f32_row(0);
  for (int64_t i = 0; i < pairs; ++i) {
    const float* const rows[2] = {reinterpret_cast<const float*>(row(n0 + i)),
                                  reinterpret_cast<const float*>(row(m0 + i))};
    float two[2];
    k.dot2_f32(rows, x.f32_row(0), w.cols(), two);
    o[n0 + i] = two[0];
    o[m0 + i] = two[1];
  }
}

void bf16_rows_beside(const Kernels& k, Tensor out, Tensor x, const WeightView& w, int64_t n0, int64_t m0,
                      int64_t pairs) {
  const StoredRows row(w);
  auto bf16_row = [&](int64_t n) { return reinterpret_cast<const uint16_t*>(row(n)); };
  float* o = out.f32_row(0);
  int64_t i = 0;
  if (k.dot_four_rows_bf16) {
    // Row i of each range's first half beside row i of its second half: four places.
    const int64_t half = pairs / 2;
    for (; i < half; ++i) {
      const uint16_t* const rows[4] = {bf16_row(n0 + i), bf16_row(n0 + half + i), bf16_row(m0 + i),
                                       bf16_row(m0 + half + i)};
      float four[4];
      k.dot_four_rows_bf16(rows, x.f32_row(0), w.cols(), four);
      o[n0 + i] = four[0];
      o[n0 + half + i] = four[1];
      o[m0 + i] = four[2];
      o[m0 + half + i] = four[3];
    }
    i = 2 * half;
  }
  for (; i < pairs; ++i) {
    const uint16_t* const rows[2] = {bf16_row(n0 + i), bf16_row(m0 + i)};
    float two[2];
    k.dot2_bf16(rows, x.f32_row(0), w.cols(), two);
    o[n0 + i] = two[0];
    o[m0 + i] = two[1];
  }
}

}  // namespace

void float_rows_beside(const Kernels& k, Tensor out, Tensor x, const WeightView& w, int64_t n0, int64_t n1, int64_t m0,
                       int64_t m1) {
  const int64_t pairs = std::min(n1 - n0, m1 - m0);
  if (w.dtype == DType::kF32)
    f32_rows_beside(k, out, x, w, n0, m0, pairs);
  else
    bf16_rows_beside(k, out, x, w, n0, m0, pairs);
  float_weight_rows(k, out, x, w, n0 + pairs, n1);
  float_weight_rows(k, out, x, w, m0 + pairs, m1);
}

void matmul(const Kernels& k, ThreadPool& pool, MatmulScratch& scratch, Tensor out, Tensor x, const WeightView& w) {
  const int64_t N = w.rows();
  const int64_t K = w.cols();
  const StoredRows row(w);

  switch (w.dtype) {
    case DType::kF32:
    case DType::kBF16:
    case DType::kF16: {
      if (reads_float_beside(k, w, out.rows)) {
        // One token of a BF16 or F32 matrix (V4's head, its mHC maps): tiles far apart
        // read side by side (FarChunks), as matmuls reads them; 2-4% off bench-v4 token
        // times against neighbouring rows for the head (docs/benchmarks.md, DeepSeek-V4,
        // session 21), 1.5-2.6% for the F32 maps (session 24).
        const int64_t tile_rows = row_tile(N, pool.size());
        const FarChunks pairing{(N + tile_rows - 1) / tile_rows, true};
        auto first_row = [&](int64_t tile) { return tile * tile_rows; };
        auto end_row = [&](int64_t tile) { return std::min((tile + 1) * tile_rows, N); };
        pool.parallel_for_dynamic(pairing.items(), kChunksPerThread, [&](int, int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            if (const int64_t far = pairing.far_chunk(i); far >= 0)
              float_rows_beside(k, out, x, w, first_row(i), end_row(i), first_row(far), end_row(far));
            else
              float_weight_rows(k, out, x, w, first_row(i), end_row(i));
          }
        });
        return;
      }
      for_each_tile(pool, N, [&](int, int64_t n0, int64_t n1) { float_weight_rows(k, out, x, w, n0, n1); });
      return;
    }
    case DType::kF8E4M3: {
      auto scales = [&](int64_t n) { return w.scales.data ? w.scales.row_scales(n, K) : nullptr; };
      auto one = [&](int, int64_t n, int64_t t) {
        return k.dot_f8e4m3(row(n), x.f32_row(t), K, scales(n), w.scales.block_cols);
      };
      if (k.dot4_f8e4m3)
        for_each_output_x4(
            pool, out, N,
            [&](int64_t n, int64_t t, float* four) {
              k.dot4_f8e4m3(row(n), x.f32_row(t), x.row_stride, K, scales(n), w.scales.block_cols, four);
            },
            one);
      else
        for_each_output(pool, out, N, one);
      return;
    }
    case DType::kQ8_0:
    case DType::kQ4_0: {
      quantize_activations(ActivationForm::kQ8, k, pool, scratch.activations, x);
      const int64_t blocks = K / 32;
      const ActBlockQ8* xq = scratch.activations.q8.data();
      if (w.dtype == DType::kQ8_0) {
        auto q8 = [&](int64_t n) { return reinterpret_cast<const BlockQ8_0*>(row(n)); };
        for_each_output_x4(
            pool, out, N, [&](int64_t n, int64_t t, float* four) { k.dot4_q8_0(q8(n), xq + t * blocks, blocks, blocks, four); },
            [&](int, int64_t n, int64_t t) { return k.dot_q8_0(q8(n), xq + t * blocks, blocks); });
      } else {
        auto q4 = [&](int64_t n) { return reinterpret_cast<const BlockQ4_0*>(row(n)); };
        for_each_output_x4(
            pool, out, N, [&](int64_t n, int64_t t, float* four) { k.dot4_q4_0(q4(n), xq + t * blocks, blocks, blocks, four); },
            [&](int, int64_t n, int64_t t) { return k.dot_q4_0(q4(n), xq + t * blocks, blocks); });
      }
      return;
    }
    default: {
      // Formats without a dedicated kernel yet: widen each weight row once, then dot it
      // with every activation row.
      scratch.rows_per_thread.resize(static_cast<size_t>(pool.size()));
      for (auto& buffer : scratch.rows_per_thread) buffer.resize(static_cast<size_t>(K));
      const int64_t tiles = N;
      pool.parallel_for(tiles, [&](int thread, int64_t begin, int64_t end) {
        float* widened = scratch.rows_per_thread[thread].data();
        for (int64_t n = begin; n < end; ++n) {
          reference::dequantize_row(w, n, widened);
          for (int64_t t = 0; t < out.rows; ++t) out.f32_row(t)[n] = k.dot_f32(widened, x.f32_row(t), K);
        }
      });
      return;
    }
  }
}

namespace {

// One packed format's kernels in a table: eight rows per call, sixteen (two groups) where
// the table has them, and two pairs of groups far apart where it has that, over
// activations of type Act.
template <typename Block, typename Act>
struct GroupKernels {
  using Gemm = void (*)(const Block* w, int64_t n_blocks, const Act* x, int64_t x_stride, int n_tokens, float* out,
                        int64_t out_stride);
  using FarGemm = FarPairGemm<Block, Act>;
  Gemm eight = nullptr, sixteen = nullptr;
  FarGemm far = nullptr;
  Gemm two_pairs = nullptr;  // the sixteen-row kernel over two adjacent pairs
};

// fn(kernels, group 0, x, x_stride) for w's format in table k, x being q8 or q8x3 in w's
// activation form or x_rows for float activations: the format chosen once per call, not
// once per group (that cost 1.5% of A Q4_0 decode samples).
template <typename Fn>
void with_group_kernels(const Kernels& k, const PackedWeight& w, Tensor x_rows, const ActBlockQ8* q8,
                        const ActBlockQ8x3* q8x3, Fn&& fn) {
  const int64_t x_stride = w.act_blocks_per_row();
  switch (w.source_dtype()) {
    case DType::kQ4_0:
      return fn(GroupKernels<BlockQ4_0x8, ActBlockQ8>{k.gemm_q4_0x8, k.gemm_q4_0x16, k.gemm_q4_0x16_far, k.gemm_q4_0x32},
                w.q4_0_group(0), q8, x_stride);
    case DType::kQ8_0:
      return fn(GroupKernels<BlockQ8_0x8, ActBlockQ8>{k.gemm_q8_0x8, k.gemm_q8_0x16, k.gemm_q8_0x16_far, k.gemm_q8_0x32},
                w.q8_0_group(0), q8, x_stride);
    case DType::kQ5_0:
      return fn(GroupKernels<BlockQ5_0x8, ActBlockQ8>{k.gemm_q5_0x8}, w.q5_0_group(0), q8, x_stride);
    case DType::kQ5_1:
      return fn(GroupKernels<BlockQ5_1x8, ActBlockQ8>{k.gemm_q5_1x8}, w.q5_1_group(0), q8, x_stride);
    case DType::kIQ4_NL:
      return fn(GroupKernels<BlockIQ4_NLx8, ActBlockQ8>{k.gemm_iq4_nlx8, k.gemm_iq4_nlx16, k.gemm_iq4_nlx16_far},
                w.iq4_nl_group(0), q8, x_stride);
    case DType::kIQ4_XS:
      return fn(GroupKernels<BlockIQ4_XSx8, ActBlockQ8>{k.gemm_iq4_xsx8, k.gemm_iq4_xsx16, k.gemm_iq4_xsx16_far},
                w.iq4_xs_group(0), q8, x_stride);
    case DType::kQ2_K:
      return fn(GroupKernels<BlockQ2_Kx8, ActBlockQ8>{k.gemm_q2_kx8, k.gemm_q2_kx16, k.gemm_q2_kx16_far}, w.q2_k_group(0),
                q8, x_stride);
    case DType::kQ3_K:
      return fn(GroupKernels<BlockQ3_Kx8, ActBlockQ8>{k.gemm_q3_kx8, k.gemm_q3_kx16, k.gemm_q3_kx16_far}, w.q3_k_group(0),
                q8, x_stride);
    case DType::kQ4_K:
      return fn(GroupKernels<BlockQ4_Kx8, ActBlockQ8>{k.gemm_q4_kx8, k.gemm_q4_kx16, k.gemm_q4_kx16_far}, w.q4_k_group(0),
                q8, x_stride);
    case DType::kQ5_K:
      return fn(GroupKernels<BlockQ5_Kx8, ActBlockQ8>{k.gemm_q5_kx8, k.gemm_q5_kx16, k.gemm_q5_kx16_far}, w.q5_k_group(0),
                q8, x_stride);
    case DType::kQ6_K:
      return fn(GroupKernels<BlockQ6_Kx8, ActBlockQ8>{k.gemm_q6_kx8, k.gemm_q6_kx16, k.gemm_q6_kx16_far}, w.q6_k_group(0),
                q8, x_stride);
    default:  // FP4
      if (activation_form(k, w) == ActivationForm::kQ8x3)
        return fn(GroupKernels<BlockFp4x8, ActBlockQ8x3>{k.gemm_fp4x8_q8x3, k.gemm_fp4x16_q8x3, k.gemm_fp4x16_q8x3_far},
                  w.fp4_group(0), q8x3, x_stride);
      return fn(GroupKernels<BlockFp4x8, float>{k.gemm_fp4x8, nullptr}, w.fp4_group(0), x_rows.f32_row(0),
                x_rows.row_stride);
  }
}

// Groups [g_begin, g_end) of a packed weight (`groups`, `blocks` blocks each) against
// n_tokens tokens of x: out[t * out_stride + 8 (g - g_begin) + r]. Two groups per call
// where the table has sixteen-row kernels: for one token (decode) two streams, each
// fetched 16 KiB ahead, read memory faster than one group at a time
// (x86::kPairedPrefetchBytes). For a few tokens, where the table has far-pair kernels,
// the range's first half of pairs goes side by side with its second half.
template <typename Kernels_, typename Block, typename Act>
void group_products(const Kernels_& kernels, const Block* groups, int64_t blocks, const Act* x, int64_t x_stride,
                    int64_t n_tokens, int64_t g_begin, int64_t g_end, float* out, int64_t out_stride) {
  if (kernels.far && n_tokens <= kMaxFarPairTokens) {
    const int64_t half = (g_end - g_begin) / 4 * 2;  // groups in each half, whole pairs
    for (int64_t g = g_begin; g < g_begin + half; g += 2)
      kernels.far(groups + g * blocks, groups + (g + half) * blocks, blocks, x, x_stride, static_cast<int>(n_tokens),
                  out + 8 * (g - g_begin), out + 8 * (g + half - g_begin), out_stride);
    g_begin += 2 * half;
    out += 8 * 2 * half;
  }
  for (int64_t g = g_begin; g < g_end; ++g) {
    if (g + 3 < g_end && kernels.two_pairs) {
      for (int64_t t = 0; t < n_tokens; t += kMaxSixteenRowTokens)
        kernels.two_pairs(groups + g * blocks, blocks, x + t * x_stride, x_stride,
                          static_cast<int>(std::min<int64_t>(kMaxSixteenRowTokens, n_tokens - t)),
                          out + t * out_stride + 8 * (g - g_begin), out_stride);
      g += 3;
      continue;
    }
    const bool pair = g + 1 < g_end && kernels.sixteen;
    const int64_t step = pair ? kMaxSixteenRowTokens : kMaxGemmTokens;
    for (int64_t t = 0; t < n_tokens; t += step)
      (pair ? kernels.sixteen : kernels.eight)(groups + g * blocks, blocks, x + t * x_stride, x_stride,
                                               static_cast<int>(std::min(step, n_tokens - t)),
                                               out + t * out_stride + 8 * (g - g_begin), out_stride);
    if (pair) ++g;
  }
}

// For one token, the rows of n_groups groups of a recoded FP8 weight from a_begin beside
// those of far from b_begin, two rows per call (Kernels::dot2_f8e4m3_recoded).
// The run words of the group holding row n sit after its eight rows of codes, where the
// prefetchers streaming the codes arrive last; the kernel reads them first. Fetched a
// group ahead, they no longer stall each group's start on memory (in V4 decode the FP8
// kernel's most sampled instruction waited on them).
void prefetch_small_runs(const PackedWeight& w, int64_t n) { __builtin_prefetch(w.f8_small_runs(n)); }

void recoded_f8e4m3_rows_beside(const Kernels& k, const PackedWeight& w, int64_t a_begin, Tensor out,
                                const PackedWeight& far, int64_t b_begin, Tensor far_out, int64_t n_groups, Tensor x) {
  const int64_t K = w.blocks_per_row(), block = w.f8_scale_block();
  float* o = out.f32_row(0) + 8 * a_begin;
  float* far_o = far_out.f32_row(0) + 8 * b_begin;
  for (int64_t i = 0; i < 8 * n_groups; ++i) {
    const int64_t n = 8 * a_begin + i, m = 8 * b_begin + i;
    if (i % 8 == 0 && i + 8 < 8 * n_groups) {
      prefetch_small_runs(w, n + 8);
      prefetch_small_runs(far, m + 8);
    }
    const uint8_t* const rows[2] = {w.f8_codes(n), far.f8_codes(m)};
    const uint64_t* const runs[2] = {w.f8_small_runs(n), far.f8_small_runs(m)};
    const float* const scales[2] = {w.f8_scales(n), far.f8_scales(m)};
    float two[2];
    k.dot2_f8e4m3_recoded(rows, runs, x.f32_row(0), K, scales, block, two);
    o[i] = two[0];
    far_o[i] = two[1];
  }
}

// matmul_packed_rows for a recoded FP8 weight: per group, its eight rows (in L1) against
// every token, four tokens per call where there are four, with the bits of one at a time.
// One token reads the range's first half of rows beside its second half.
void recoded_f8e4m3_rows(const Kernels& k, const PackedWeight& w, Tensor x, Tensor out, int64_t g_begin,
                         int64_t g_end) {
  const int64_t K = w.blocks_per_row(), block = w.f8_scale_block();
  if (out.rows == 1 && k.dot2_f8e4m3_recoded) {
    const int64_t half = (g_end - g_begin) / 2;
    recoded_f8e4m3_rows_beside(k, w, g_begin, out, w, g_begin + half, out, half, x);
    g_begin += 2 * half;
  }
  for (int64_t g = g_begin; g < g_end; ++g) {
    if (g + 1 < g_end) prefetch_small_runs(w, 8 * (g + 1));
    int64_t t = 0;
    for (float four[4]; t + 4 <= out.rows; t += 4)
      for (int64_t n = 8 * g; n < 8 * g + 8; ++n) {
        k.dot4_f8e4m3_recoded(w.f8_codes(n), w.f8_small_runs(n), x.f32_row(t), x.row_stride, K, w.f8_scales(n), block,
                              four);
        for (int j = 0; j < 4; ++j) out.f32_row(t + j)[n] = four[j];
      }
    for (; t < out.rows; ++t)
      for (int64_t n = 8 * g; n < 8 * g + 8; ++n)
        out.f32_row(t)[n] = k.dot_f8e4m3_recoded(w.f8_codes(n), w.f8_small_runs(n), x.f32_row(t), K, w.f8_scales(n), block);
  }
}

}  // namespace

void packed_rows_q8(const Kernels& k, const PackedWeight& w, const ActBlockQ8* x, int64_t n_tokens, int64_t g_begin,
                    int64_t g_end, float* out, int64_t out_stride) {
  if (is_grid_format(w.source_dtype())) return grid_rows_q8(k, w, x, n_tokens, g_begin, g_end, out, out_stride);
  with_group_kernels(k, w, Tensor{}, x, nullptr, [&](auto kernels, const auto* groups, const auto* xs, int64_t x_stride) {
    group_products(kernels, groups, w.blocks_per_row(), xs, x_stride, n_tokens, g_begin, g_end, out, out_stride);
  });
}

ActivationForm activation_form(const Kernels& k, const PackedWeight& w) {
  if (w.source_dtype() == DType::kF8E4M3) return ActivationForm::kFloat;
  if (w.source_dtype() != DType::kFP4E2M1) return ActivationForm::kQ8;
  return k.gemm_fp4x8_q8x3 ? ActivationForm::kQ8x3 : ActivationForm::kFloat;
}

void quantize_rows(ActivationForm form, const Kernels& k, Tensor x, QuantizedRows& rows) {
  size_quantized_rows(form, x, rows);
  quantize_row_range(form, k, x, rows, 0, x.rows);
}

void quantize_activations(ActivationForm form, const Kernels& k, ThreadPool& pool, QuantizedRows& rows, Tensor x) {
  if (form == ActivationForm::kFloat) return;
  size_quantized_rows(form, x, rows);
  pool.parallel_for(x.rows, [&](int, int64_t begin, int64_t end) { quantize_row_range(form, k, x, rows, begin, end); });
}

void matmul_packed_rows(const Kernels& k, const PackedWeight& w, Tensor x_rows, const QuantizedRows& xq, Tensor out,
                        int64_t g_begin, int64_t g_end) {
  if (w.source_dtype() == DType::kF8E4M3) return recoded_f8e4m3_rows(k, w, x_rows, out, g_begin, g_end);
  if (is_grid_format(w.source_dtype()))
    return grid_rows_q8(k, w, xq.q8.data(), out.rows, g_begin, g_end, out.f32_row(0) + 8 * g_begin, out.row_stride);
  with_group_kernels(k, w, x_rows, xq.q8.data(), xq.q8x3.data(), [&](auto kernels, const auto* groups, const auto* x, int64_t x_stride) {
    // Tokens go in chunks whose activations stay in L2 while the weights stream past,
    // kMaxGemmTokens per kernel call (kMaxSixteenRowTokens for the sixteen-row kernels).
    constexpr int64_t kTokenChunk = 64;
    for (int64_t t0 = 0; t0 < out.rows; t0 += kTokenChunk)
      group_products(kernels, groups, w.blocks_per_row(), x + t0 * x_stride, x_stride,
                     std::min(kTokenChunk, out.rows - t0), g_begin, g_end, out.f32_row(t0) + 8 * g_begin,
                     out.row_stride);
  });
}

namespace {

// Pairs [0, pairs) of two ranges of groups side by side through a far-pair kernel. For one
// token where the table has four-pair kernels (far4), pair p of each range's first half
// goes beside pair p of its second half too: four places at a time.
template <typename Block, typename Act, typename FarGemm, typename FarGemm4>
void far_pairs(FarGemm far_gemm, FarGemm4 far4, const Block* near_groups, const Block* far_groups, int64_t blocks,
               const Act* x, int64_t x_stride, int64_t pairs, Tensor out, float* near_out, float* far_out) {
  int64_t p = 0;
  if constexpr (!std::is_same_v<FarGemm4, std::nullptr_t>) {
    if (far4 && out.rows == 1 && blocks % 2 == 0) {
      const int64_t half = pairs / 2;
      for (; p < half; ++p) {
        const Block* const w[4] = {near_groups + 2 * p * blocks, near_groups + 2 * (p + half) * blocks,
                                   far_groups + 2 * p * blocks, far_groups + 2 * (p + half) * blocks};
        float* const o[4] = {near_out + 16 * p, near_out + 16 * (p + half), far_out + 16 * p,
                             far_out + 16 * (p + half)};
        far4(w, blocks, x, o);
      }
      p = 2 * half;
    }
  }
  for (; p < pairs; ++p)
    far_gemm(near_groups + 2 * p * blocks, far_groups + 2 * p * blocks, blocks, x, x_stride,
             static_cast<int>(out.rows), near_out + 16 * p, far_out + 16 * p, out.row_stride);
}

}  // namespace

bool reads_beside(const Kernels& k, const PackedWeight& w, int64_t n_tokens) {
  if (w.source_dtype() == DType::kF8E4M3) return k.dot2_f8e4m3_recoded && n_tokens == 1;
  const bool has_far = (w.source_dtype() == DType::kQ4_0 && k.gemm_q4_0x16_far) ||
                       (w.source_dtype() == DType::kQ8_0 && k.gemm_q8_0x16_far) ||
                       (w.source_dtype() == DType::kQ2_K && k.gemm_q2_kx16_far) ||
                       (w.source_dtype() == DType::kQ3_K && k.gemm_q3_kx16_far) ||
                       (w.source_dtype() == DType::kQ4_K && k.gemm_q4_kx16_far) ||
                       (w.source_dtype() == DType::kQ5_K && k.gemm_q5_kx16_far) ||
                       (w.source_dtype() == DType::kQ6_K && k.gemm_q6_kx16_far) ||
                       (w.source_dtype() == DType::kIQ4_NL && k.gemm_iq4_nlx16_far) ||
                       (w.source_dtype() == DType::kIQ4_XS && k.gemm_iq4_xsx16_far) ||
                       (w.source_dtype() == DType::kFP4E2M1 && k.gemm_fp4x16_q8x3_far &&
                        activation_form(k, w) == ActivationForm::kQ8x3);
  return has_far && n_tokens >= 1 && n_tokens <= kMaxFarPairTokens;
}

void matmul_packed_rows_beside(const Kernels& k, const PackedWeight& w, int64_t g_begin, int64_t g_end, Tensor out,
                               const PackedWeight& far, int64_t far_begin, int64_t far_end, Tensor far_out, Tensor x,
                               const QuantizedRows& xq) {
  int64_t pairs = 0;
  const bool side_by_side = reads_beside(k, w, out.rows) && far.source_dtype() == w.source_dtype() &&
                            far.blocks_per_row() == w.blocks_per_row() &&
                            far.act_blocks_per_row() == w.act_blocks_per_row() && far_out.rows == out.rows &&
                            far_out.row_stride == out.row_stride;
  if (side_by_side && w.source_dtype() == DType::kF8E4M3) {
    const int64_t groups = std::min(g_end - g_begin, far_end - far_begin);
    recoded_f8e4m3_rows_beside(k, w, g_begin, out, far, far_begin, far_out, groups, x);
    g_begin += groups;
    far_begin += groups;
  } else if (side_by_side) {
    pairs = std::min(g_end - g_begin, far_end - far_begin) / 2;
    float* near_out = out.f32_row(0) + 8 * g_begin;
    float* far_rows_out = far_out.f32_row(0) + 8 * far_begin;
    const int64_t blocks = w.blocks_per_row(), x_stride = w.act_blocks_per_row();
    auto beside = [&](auto far_gemm, auto far4, const auto* near_groups, const auto* far_groups, const auto* act) {
      far_pairs(far_gemm, far4, near_groups, far_groups, blocks, act, x_stride, pairs, out, near_out, far_rows_out);
    };
    const ActBlockQ8* q8 = xq.q8.data();
    switch (w.source_dtype()) {
      case DType::kQ4_0:
        beside(k.gemm_q4_0x16_far, k.gemm_q4_0x16_far4, w.q4_0_group(g_begin), far.q4_0_group(far_begin), q8);
        break;
      case DType::kQ8_0:
        beside(k.gemm_q8_0x16_far, k.gemm_q8_0x16_far4, w.q8_0_group(g_begin), far.q8_0_group(far_begin), q8);
        break;
      case DType::kQ2_K: beside(k.gemm_q2_kx16_far, nullptr, w.q2_k_group(g_begin), far.q2_k_group(far_begin), q8); break;
      case DType::kQ3_K: beside(k.gemm_q3_kx16_far, nullptr, w.q3_k_group(g_begin), far.q3_k_group(far_begin), q8); break;
      case DType::kQ4_K: beside(k.gemm_q4_kx16_far, nullptr, w.q4_k_group(g_begin), far.q4_k_group(far_begin), q8); break;
      case DType::kQ5_K: beside(k.gemm_q5_kx16_far, nullptr, w.q5_k_group(g_begin), far.q5_k_group(far_begin), q8); break;
      case DType::kQ6_K: beside(k.gemm_q6_kx16_far, nullptr, w.q6_k_group(g_begin), far.q6_k_group(far_begin), q8); break;
      case DType::kIQ4_NL:
        beside(k.gemm_iq4_nlx16_far, nullptr, w.iq4_nl_group(g_begin), far.iq4_nl_group(far_begin), q8);
        break;
      case DType::kIQ4_XS:
        beside(k.gemm_iq4_xsx16_far, nullptr, w.iq4_xs_group(g_begin), far.iq4_xs_group(far_begin), q8);
        break;
      default:  // FP4 (reads_beside: only with three-digit activations)
        beside(k.gemm_fp4x16_q8x3_far, k.gemm_fp4x16_q8x3_far4, w.fp4_group(g_begin), far.fp4_group(far_begin),
               xq.q8x3.data());
    }
  }
  matmul_packed_rows(k, w, x, xq, out, g_begin + 2 * pairs, g_end);
  matmul_packed_rows(k, far, x, xq, far_out, far_begin + 2 * pairs, far_end);
}

void matmul_packed(const Kernels& k, ThreadPool& pool, MatmulScratch& scratch, Tensor out, Tensor x,
                   const PackedWeight& w) {
  quantize_activations(activation_form(k, w), k, pool, scratch.activations, x);
  // Chunks of whole pairs of groups, which the sixteen-row kernels take in one call; where
  // the table reads far pairs, FarChunks over the pairs (a range of paired items has a
  // range of far pairs).
  const int64_t groups = w.rows() / 8;
  const FarChunks pairing{(groups + 1) / 2, reads_beside(k, w, out.rows)};
  const int64_t paired = pairing.chunks - pairing.items();  // the items with a far pair
  const int64_t chunks = chunks_per_thread(w.bytes(), pool.size(), out.rows);
  pool.parallel_for_dynamic(pairing.items(), chunks, [&](int, int64_t begin, int64_t end) {
    const int64_t paired_end = std::min(end, paired);
    if (begin < paired_end)
      matmul_packed_rows_beside(k, w, 2 * begin, 2 * paired_end, out, w, 2 * pairing.far_chunk(begin),
                                std::min(2 * pairing.far_chunk(paired_end - 1) + 2, groups), out, x,
                                scratch.activations);
    const int64_t alone = std::max(begin, paired);
    if (alone < end) matmul_packed_rows(k, w, x, scratch.activations, out, 2 * alone, std::min(2 * end, groups));
  });
}

}  // namespace dsinfer::cpu
