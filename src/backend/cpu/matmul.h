// out[T, N] = x[T, K] @ W[N, K]^T for every stored weight format, parallel over N.
#pragma once

#include <algorithm>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/packed_weight.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace dsinfer::cpu {

// The form in which a kernel reads activation rows: float32 as they are, int8 blocks
// (quantize_act_q8) for the integer formats, three-digit blocks (quantize_act_q8x3) for
// FP4 where the table multiplies it with integer dot products.
enum class ActivationForm { kFloat, kQ8, kQ8x3 };

// Activation rows quantised, one vector per form (only the one in use is filled).
struct QuantizedRows {
  std::vector<ActBlockQ8> q8;
  std::vector<ActBlockQ8x3> q8x3;
};

// Fills rows.q8 or rows.q8x3 with x's rows in `form` (nothing for kFloat), on the calling
// thread.
void quantize_rows(ActivationForm form, const Kernels& k, Tensor x, QuantizedRows& rows);
// Sizes rows.q8 or rows.q8x3 for x's rows in `form`.
void size_quantized_rows(ActivationForm form, Tensor x, QuantizedRows& rows);
// Columns [c0, c1) (multiples of 32) of x's rows into `rows`, sized by size_quantized_rows:
// every block's digits come from its own 32 values, so these are quantize_rows' blocks.
void quantize_columns(ActivationForm form, const Kernels& k, Tensor x, int64_t c0, int64_t c1, QuantizedRows& rows);
// The same over the pool's threads.
void quantize_activations(ActivationForm form, const Kernels& k, ThreadPool& pool, QuantizedRows& rows, Tensor x);

// Chunks of tiles per thread in a product's parallel loop: a thread slowed down by
// something outside the process leaves work to the others. Each chunk of a packed weight
// streams all the activations again (from L2), which stays cheap at this count; with 4
// the last chunk left the other thread waiting 3.5% of an A pp512 run.
inline constexpr int64_t kChunksPerThread = 16;

// Each chunk starts its streams afresh, its first lines at memory's latency. Where a
// product streams its weights for up to kMaxFarPairTokens tokens (decode), a small matrix
// gets fewer chunks, of about this many bytes or more: B's q_b (0.63 MB) took 19.9 us per
// one-token product in 16 chunks per thread, 16.9-17.3 us in 64 KiB chunks
// (docs/benchmarks.md, CPU backend, session 46), 13.8-16.2 us in 256 KiB ones against
// 17.5-18.8 in 64 KiB (`product_bench`, session 47). More tokens are held by arithmetic,
// where the many chunks balance the threads.
inline constexpr int64_t kMinChunkBytes = int64_t{256} << 10;

// Chunks per thread for a product of `tokens` tokens over `bytes` of weights.
inline int64_t chunks_per_thread(int64_t bytes, int threads, int64_t tokens) {
  if (tokens > kMaxFarPairTokens) return kChunksPerThread;
  return std::clamp<int64_t>(bytes / threads / kMinChunkBytes, 1, kChunksPerThread);
}

// Reusable per-backend scratch memory, so steady-state steps allocate nothing.
struct MatmulScratch {
  QuantizedRows activations;                        // x quantised for integer kernels
  std::vector<std::vector<float>> rows_per_thread;  // dequantised weight rows
};

void matmul(const Kernels& k, ThreadPool& pool, MatmulScratch& scratch, Tensor out, Tensor x, const WeightView& w);

// Weight rows handled together against every activation row by matmul's parallel loop:
// small enough to stay in L1/L2 while the activations stream past, and fewer for a
// matrix of few rows, which would otherwise split unevenly over the threads (V4's
// hyper-connection matrices have 24 rows of 8192 columns: two 16-row tiles gave one
// thread twice the other's share).
int64_t row_tile(int64_t n_features, int threads);
// Whether w is F32, BF16 or F16, the stored formats float_weight_rows takes.
bool is_float_weight(const WeightView& w);
// Outputs [n0, n1) of every token of out = x @ w^T for such a weight, on the calling
// thread: matmul's kernels, so its bits. Callers keep n1 - n0 to a tile (row_tile) so
// the rows stay in cache while the tokens pass.
void float_weight_rows(const Kernels& k, Tensor out, Tensor x, const WeightView& w, int64_t n0, int64_t n1);

// For one token of a BF16 or F32 weight, where the table has dot2_bf16 / dot2_f32:
// float_weight_rows of rows [n0, n1) beside rows [m0, m1) (row n0 + i with row m0 + i,
// two places of memory side by side; BF16 four where the table has dot_four_rows_bf16),
// the same bits.
bool reads_float_beside(const Kernels& k, const WeightView& w, int64_t n_tokens);
void float_rows_beside(const Kernels& k, Tensor out, Tensor x, const WeightView& w, int64_t n0, int64_t n1, int64_t m0,
                       int64_t m1);

// The form in which w's kernel in table k reads activations.
ActivationForm activation_form(const Kernels& k, const PackedWeight& w);

// out[t, 8g .. 8g+8) for row groups g in [g_begin, g_end) of a packed weight and every
// token t of out, from x or, unless activation_form(k, w) is kFloat, from xq (x's rows
// already quantised in that form); on the calling thread.
void matmul_packed_rows(const Kernels& k, const PackedWeight& w, Tensor x, const QuantizedRows& xq, Tensor out,
                        int64_t g_begin, int64_t g_end);

// Work items over `chunks` chunks of one matrix: where `beside`, item i < chunks / 2 is
// chunk i read beside chunk i + items() (far apart), and the middle chunk of an odd count
// goes alone; otherwise each chunk is an item of its own.
struct FarChunks {
  int64_t chunks;
  bool beside;
  int64_t items() const { return beside ? chunks - chunks / 2 : chunks; }
  // The chunk read beside item `item`'s own, or -1 for none.
  int64_t far_chunk(int64_t item) const { return beside && item < chunks / 2 ? item + items() : -1; }
};

// Whether matmul_packed_rows_beside reads its two ranges side by side for n_tokens
// tokens of w: the table has far-pair kernels for w's format and that many tokens.
bool reads_beside(const Kernels& k, const PackedWeight& w, int64_t n_tokens);

// matmul_packed_rows of w's groups [g_begin, g_end) into out and of far's groups
// [far_begin, far_end) into far_out (far in w's format and columns, against the same x):
// pair by pair side by side where reads_beside, one range after the other elsewhere, the
// bits the same either way. Two places far apart (another matrix, or the other half of
// this one) keep more of memory busy than one (docs/benchmarks.md, CPU backend, session 16);
// for one token, where the table has four-pair kernels, each range's halves go side by side
// too, four places (session 23).
void matmul_packed_rows_beside(const Kernels& k, const PackedWeight& w, int64_t g_begin, int64_t g_end, Tensor out,
                               const PackedWeight& far, int64_t far_begin, int64_t far_end, Tensor far_out, Tensor x,
                               const QuantizedRows& xq);

// n_tokens tokens' products with rows [8 g_begin, 8 g_end) of a packed weight whose
// activation_form is kQ8, from x quantised (a token's blocks w.act_blocks_per_row() apart):
// out[t * out_stride + 8 (g - g_begin) + r] for token t and row r of group g.
void packed_rows_q8(const Kernels& k, const PackedWeight& w, const ActBlockQ8* x, int64_t n_tokens, int64_t g_begin,
                    int64_t g_end, float* out, int64_t out_stride);

// The same product for a weight repacked into interleaved rows (packed_weight.h).
void matmul_packed(const Kernels& k, ThreadPool& pool, MatmulScratch& scratch, Tensor out, Tensor x,
                   const PackedWeight& w);

}  // namespace dsinfer::cpu
