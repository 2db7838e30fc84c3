// MLA attention on the CPU over one sequence's latent rows, or in absorbed form over a
// batch of sequences at once.
// Absorbed form (decode): per head, q_latent = W_k^T q_nope (kv_b's K half regrouped by
// latent column for integer dot products where the table can for Q4_0, else its rows
// weighted by q_nope as stored for Q4_0 / Q8_0, copied to huge pages on first use, else
// from a float32 transposed copy made then); scores against the cached c_kv and k_pe; the
// attention-weighted latent goes through W_v (kv_b's V rows packed on their own on first
// use where they have a packed form, else the stored rows). Expanded form (prefill): kv_b
// expands the latent rows to per-head K/V once per chunk, then blocks of a head's queries
// attend through the score and value tiles (kernels.h), with one block's rows of scores
// per thread; the full score matrix is never built. With a selection (V3.2) each query
// attends to its listed positions only, in the listed (ascending) order. A compact cache
// (F16, BF16, Q8_0 rows) is widened to float32 with decode_values' bits: in absorbed form
// where its rows are read, a few at a time; for the expansion all of a sequence's rows up
// front, the threads splitting them.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/absorb_columns.h"
#include "backend/cpu/cpu_context.h"
#include "backend/reference/dequantize.h"
#include "core/dtype.h"

namespace dsinfer::cpu {
namespace {

void softmax_in_place(const Kernels& k, float* v, int64_t n) {
  // Four running maxima (vector lanes): over a long context a single chain of compares
  // waits on each one.
  float lanes[4] = {v[0], v[0], v[0], v[0]};
  int64_t i = 1;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; ++l) lanes[l] = std::max(lanes[l], v[i + l]);
  for (; i < n; ++i) lanes[0] = std::max(lanes[0], v[i]);
  const float max = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
  const float inv = 1.0f / k.exp_and_sum(v, n, max);
  for (int64_t i = 0; i < n; ++i) v[i] *= inv;
}

// The positions query row t attends to: its list from `visible`, or [0, start_pos + t].
struct Visible {
  const int32_t* listed = nullptr;  // null: all causal positions
  int64_t count = 0;
  int64_t operator[](int64_t i) const { return listed ? listed[i] : i; }
};

Visible visible_positions(const MlaAttentionArgs& a, int64_t t) {
  if (!a.visible) return {nullptr, a.start_pos + t + 1};
  const auto* listed = static_cast<const int32_t*>(a.visible->row_data(t));
  int64_t count = 0;
  while (count < a.visible->cols && listed[count] >= 0) ++count;
  return {listed, count};
}

// latent's rows [0, length) as float32 rows in `buffer`, the threads splitting them.
Tensor widen_latent(CpuContext& ctx, const LatentRows& latent, std::vector<float>& buffer) {
  const int64_t width = latent.pages[0].cols;
  if (buffer.size() < static_cast<size_t>(latent.length * width)) buffer.resize(static_cast<size_t>(latent.length * width));
  ctx.pool.parallel_for(latent.length, [&](int, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      widen_values(ctx.kernels, latent.dtype(), latent.row_data(p), buffer.data() + p * width, width);
  });
  return Tensor::contiguous(DType::kF32, latent.length, width, buffer.data());
}

// Whether the table reads kv_b's K half as stored for the query absorption.
bool has_weighted_rows(const Kernels& k, const WeightView& kv_b) {
  return (kv_b.dtype == DType::kQ4_0 && k.weighted_rows_q4_0) || (kv_b.dtype == DType::kQ8_0 && k.weighted_rows_q8_0);
}

// kv_b's V half packed on its own, where its rows have an interleaved-row layout that
// reads int8 activation blocks and every head's V rows start and end on a group of
// eight: W_v then runs through the streaming tiles (one call per eight rows), over one
// run of rows per thread rather than runs with the heads' K rows between them.
std::unique_ptr<PackedWeight> pack_value_rows(CpuContext& ctx, const MlaAttentionArgs& a) {
  const WeightView& kv_b = a.kv_b->view();
  if (a.nope_dim % 8 != 0 || a.v_head_dim % 8 != 0 || kv_b.scales.present()) return nullptr;
  const size_t row_bytes = dtype_bytes(kv_b.dtype, kv_b.cols());
  const size_t head_bytes = row_bytes * static_cast<size_t>(a.v_head_dim);
  std::vector<uint8_t> rows(head_bytes * static_cast<size_t>(a.n_heads));
  for (int64_t h = 0; h < a.n_heads; ++h) {
    const int64_t first_row = h * (a.nope_dim + a.v_head_dim) + a.nope_dim;
    std::memcpy(rows.data() + static_cast<size_t>(h) * head_bytes,
                static_cast<const uint8_t*>(kv_b.data) + static_cast<size_t>(first_row) * row_bytes, head_bytes);
  }
  WeightView values = kv_b;
  values.shape = {a.n_heads * a.v_head_dim, kv_b.cols()};
  values.data = rows.data();
  values.file_backed = false;
  auto packed = PackedWeight::pack(ctx.kernels, ctx.pool, ctx.pack_arena, values);
  if (packed && activation_form(ctx.kernels, *packed) != ActivationForm::kQ8) packed.reset();
  return packed;
}

// The K rows are copied because, read from the file's 4 KiB pages, where the hardware
// prefetchers stop at every page, they took B's attention 13% longer per decode token
// (502.6 against 445.4 us; docs/benchmarks.md, CPU backend, session 48).
const AbsorbedWeights& absorbed_weights(CpuContext& ctx, const MlaAttentionArgs& a, bool weighted) {
  // Weights reaching this backend's ops were prepared by it.
  auto& slot = static_cast<const CpuWeight*>(a.kv_b)->absorbed;
  if (slot) return *slot;
  slot = std::make_unique<AbsorbedWeights>();
  slot->v_rows = pack_value_rows(ctx, a);
  const int64_t r = a.kv_lora_rank, nope = a.nope_dim, kv_head = a.nope_dim + a.v_head_dim;
  const WeightView& kv_b = a.kv_b->view();
  if (weighted && kv_b.dtype == DType::kQ4_0 && ctx.kernels.absorb_columns_q4_0 && absorb_columns_fit(nope, r)) {
    slot->k_columns = regroup_q4_0_heads(ctx.pool, ctx.pack_arena, kv_b, kv_head, nope, a.n_heads);
    if (slot->k_columns) return *slot;
  }
  if (weighted) {
    slot->k_rows = copy_row_runs_to_huge_pages(ctx.pack_arena, kv_b, kv_head, nope, a.n_heads);
    slot->head_rows = slot->k_rows ? nope : kv_head;
    if (!slot->k_rows) slot->k_rows = static_cast<const uint8_t*>(kv_b.data);
    return *slot;
  }
  slot->k_transposed.resize(static_cast<size_t>(a.n_heads * r * nope));
  std::vector<float> row(static_cast<size_t>(r));
  for (int64_t h = 0; h < a.n_heads; ++h)
    for (int64_t d = 0; d < nope; ++d) {
      reference::dequantize_row(kv_b, h * kv_head + d, row.data());
      for (int64_t c = 0; c < r; ++c) slot->k_transposed[(h * r + c) * nope + d] = row[c];
    }
  return *slot;
}

// One row of a stored weight times a float vector, with the format's kernel.
float dot_stored_row(const Kernels& k, const WeightView& w, int64_t row, const float* x, const ActBlockQ8* xq,
                     float* widened) {
  const int64_t K = w.cols();
  const auto* p = static_cast<const uint8_t*>(w.data) + row * static_cast<int64_t>(dtype_bytes(w.dtype, K));
  switch (w.dtype) {
    case DType::kF32: return k.dot_f32(reinterpret_cast<const float*>(p), x, K);
    case DType::kBF16: return k.dot_bf16(reinterpret_cast<const uint16_t*>(p), x, K);
    case DType::kF16: return k.dot_f16(reinterpret_cast<const uint16_t*>(p), x, K);
    case DType::kQ8_0: return k.dot_q8_0(reinterpret_cast<const BlockQ8_0*>(p), xq, K / 32);
    case DType::kQ4_0: return k.dot_q4_0(reinterpret_cast<const BlockQ4_0*>(p), xq, K / 32);
    default:
      reference::dequantize_row(w, row, widened);
      return k.dot_f32(widened, x, K);
  }
}

// One sequence of an absorbed-form batch and its areas in the attention buffer: per
// (token, head) q_latent [r], then scores [ctx_len], then o_latent [r]; per token the
// heads' queries transposed in blocks of eight [head_blocks][d][8], then the scores
// [key][heads_padded].
struct AbsorbedSequence {
  const MlaAttentionArgs* args;
  int64_t first_token;  // its first token among the batch's
  int64_t ctx_len;
  int64_t per_pair, per_token;
  float* pairs;
  float* tokens;

  float* q_latent(int64_t t, int64_t h, int64_t H) const { return pairs + (t * H + h) * per_pair; }
  float* queries(int64_t t) const { return tokens + t * per_token; }
  float* key_scores(int64_t t, int64_t query_floats) const { return tokens + t * per_token + query_floats; }
};

// Compact latent rows widened at a time for the weighted sums: one pass of their kernels,
// and at least a score group (kMaxScoreQueries).
constexpr int64_t kWidenedRows = 32;
static_assert(kWidenedRows >= kMaxScoreQueries);

// A query row's share of the score loop: keys in groups of kMaxScoreQueries, numbered across the batch.
struct ScoreRow {
  int64_t sequence, t, first_group;
  Visible seen;
};

// Decode over a batch of sequences that share kv_b and the shapes (a server step's decode
// rows): every stage runs once for all of them, one parallel loop each, so a step pays
// its fork-joins once per layer instead of once per sequence, and W_v's rows stream once
// for every token instead of once per sequence.
void absorbed(CpuContext& ctx, std::span<const MlaAttentionArgs> batch) {
  const Kernels& k = ctx.kernels;
  const MlaAttentionArgs& shape = batch.front();
  const int64_t H = shape.n_heads, r = shape.kv_lora_rank, S = static_cast<int64_t>(batch.size());
  const int64_t kv_head = shape.nope_dim + shape.v_head_dim;
  const int64_t q_head = shape.nope_dim + shape.rope_dim;
  const WeightView& kv_b = shape.kv_b->view();
  const bool int8_rows = kv_b.dtype == DType::kQ8_0 || kv_b.dtype == DType::kQ4_0;
  const bool weighted = has_weighted_rows(k, kv_b);
  const AbsorbedWeights& halves = absorbed_weights(ctx, shape, weighted);
  const PackedWeight* packed_v = halves.v_rows.get();

  // A latent row [c_kv | k_pe] is one key for every head, and a head's query is
  // [q_latent | q_pe]: with the heads' queries transposed in blocks of eight, the score
  // tile takes up to eight latent rows (kMaxScoreQueries) against all heads at once, each
  // row read once.
  const int64_t d = r + shape.rope_dim, head_blocks = (H + 7) / 8, heads_padded = 8 * head_blocks;
  const int64_t query_floats = heads_padded * d;
  std::vector<AbsorbedSequence> seqs;
  int64_t floats = 0, n_tokens = 0;
  for (const MlaAttentionArgs& a : batch) {
    const int64_t T = a.q.rows, ctx_len = a.start_pos + T;
    AbsorbedSequence s{.args = &a, .first_token = n_tokens, .ctx_len = ctx_len, .per_pair = 2 * r + ctx_len,
                       .per_token = query_floats + ctx_len * heads_padded, .pairs = nullptr, .tokens = nullptr};
    floats += T * H * s.per_pair + T * s.per_token;
    n_tokens += T;
    seqs.push_back(s);
  }
  // Per thread: a widened weight row [r], o_latent quantised to int8 blocks and, for a
  // compact cache, a tile of kWidenedRows latent rows. With a packed W_v, every (head,
  // token)'s o_latent quantised, head by head, and the products.
  constexpr int64_t kBlockFloats = static_cast<int64_t>(sizeof(ActBlockQ8) / sizeof(float));
  const int64_t o_blocks = r / 32;
  const bool any_compact = std::any_of(batch.begin(), batch.end(),
                                       [](const MlaAttentionArgs& a) { return a.latent.dtype() != DType::kF32; });
  const int64_t tile_offset = r + (o_blocks + 1) * kBlockFloats;
  const int64_t per_thread = tile_offset + (any_compact ? kWidenedRows * d : 0);
  const int64_t v_area = packed_v ? H * n_tokens * o_blocks * kBlockFloats + n_tokens * H * shape.v_head_dim : 0;
  ctx.attention_buffer.resize(static_cast<size_t>(floats + ctx.pool.size() * per_thread + v_area));
  float* next = ctx.attention_buffer.data();
  for (AbsorbedSequence& s : seqs) {
    const int64_t T = s.args->q.rows;
    s.pairs = next;
    s.tokens = next + T * H * s.per_pair;
    next = s.tokens + T * s.per_token;
    // Lanes past the last head score as zeros (and are never read).
    if (heads_padded != H)
      for (int64_t t = 0; t < T; ++t) std::fill_n(s.queries(t), query_floats, 0.0f);
  }
  float* thread_area = next;
  auto* o_quantized_v = reinterpret_cast<ActBlockQ8*>(thread_area + ctx.pool.size() * per_thread);
  float* v_products = reinterpret_cast<float*>(o_quantized_v + H * n_tokens * o_blocks);
  // A compact cache's rows are widened where they are read, into the reading thread's
  // tile: the score loop's group of rows, then the weighted sums' passes of kWidenedRows
  // rows, each pass's chains carried on by the next (weighted_sums' `onward`). A step
  // reads the compact bytes and writes no float32 copy of the context. Row `position` of
  // `latent` as float32: in place, or widened into row `slot` of the thread's tile.
  auto latent_row = [&](int thread, const LatentRows& latent, int64_t position, int64_t slot) -> const float* {
    if (latent.dtype() == DType::kF32) return latent.row(position);
    float* row = thread_area + thread * per_thread + tile_offset + slot * d;
    widen_values(k, latent.dtype(), latent.row_data(position), row, d);
    return row;
  };
  // A compact row's lines fetched ahead of its widening: the widened rows are read
  // between stretches of arithmetic, which the hardware prefetchers do not run ahead of.
  auto fetch_ahead = [&](const LatentRows& latent, int64_t position) {
    if (latent.dtype() == DType::kF32) return;
    const auto* bytes = static_cast<const char*>(latent.row_data(position));
    for (size_t b = 0; b < dtype_bytes(latent.dtype(), d); b += kCacheLineBytes) __builtin_prefetch(bytes + b);
  };

  // q_latent = W_k^T q_nope: integer dot products over the K half regrouped by latent
  // column, else its rows weighted by q_nope as stored (Q4_0, Q8_0), else per latent dim
  // a dot product with the float32 transposed copy. Head by head, so
  // that a head's K rows stay in L1 across the tokens, several tokens per call where the
  // table weighs rows for several at once (each block's codes then widened once).
  const size_t row_bytes = dtype_bytes(kv_b.dtype, r);
  const auto several_q4_0 = kv_b.dtype == DType::kQ4_0 ? k.weighted_rows_tokens_q4_0 : nullptr;
  const auto several_q8_0 = kv_b.dtype == DType::kQ8_0 ? k.weighted_rows_tokens_q8_0 : nullptr;
  const int64_t per_call = weighted && (several_q4_0 || several_q8_0) ? kMaxWeightedRowsTokens : 1;
  std::vector<std::pair<const AbsorbedSequence*, int64_t>> batch_tokens;  // (sequence, row) in batch order
  for (const AbsorbedSequence& s : seqs)
    for (int64_t t = 0; t < s.args->q.rows; ++t) batch_tokens.emplace_back(&s, t);
  const int64_t runs = (n_tokens + per_call - 1) / per_call;
  ctx.pool.parallel_for(H * runs, [&](int, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t h = i / runs, first = (i % runs) * per_call, count = std::min(per_call, n_tokens - first);
      float* q_latents[kMaxWeightedRowsTokens];
      const float* q_nopes[kMaxWeightedRowsTokens];
      for (int64_t j = 0; j < count; ++j) {
        const auto& [s, t] = batch_tokens[static_cast<size_t>(first + j)];
        q_latents[j] = s->q_latent(t, h, H);
        q_nopes[j] = s->args->q.f32_row(t) + h * q_head;
      }
      const auto* k_rows = halves.k_rows + static_cast<size_t>(h * halves.head_rows) * row_bytes;
      const auto* q4_0_rows = reinterpret_cast<const BlockQ4_0*>(k_rows);
      const auto* q8_0_rows = reinterpret_cast<const BlockQ8_0*>(k_rows);
      if (halves.k_columns) {
        const uint8_t* head = halves.k_columns + static_cast<size_t>(h) * absorb_columns_head_bytes(shape.nope_dim, r);
        for (int64_t j = 0; j < count; ++j) k.absorb_columns_q4_0(q_latents[j], q_nopes[j], head, shape.nope_dim, r);
      } else if (several_q4_0 && per_call > 1) {
        several_q4_0(q_latents, q_nopes, static_cast<int>(count), q4_0_rows, r / 32, shape.nope_dim, r / 32);
      } else if (several_q8_0 && per_call > 1) {
        several_q8_0(q_latents, q_nopes, static_cast<int>(count), q8_0_rows, r / 32, shape.nope_dim, r / 32);
      } else {
        for (int64_t j = 0; j < count; ++j) {
          if (weighted && kv_b.dtype == DType::kQ4_0) {
            k.weighted_rows_q4_0(q_latents[j], q_nopes[j], q4_0_rows, r / 32, shape.nope_dim, r / 32);
          } else if (weighted) {
            k.weighted_rows_q8_0(q_latents[j], q_nopes[j], q8_0_rows, r / 32, shape.nope_dim, r / 32);
          } else {
            const float* w_kt = halves.k_transposed.data() + h * r * shape.nope_dim;
            for (int64_t c = 0; c < r; ++c) q_latents[j][c] = k.dot_f32(w_kt + c * shape.nope_dim, q_nopes[j], shape.nope_dim);
          }
        }
      }
    }
    // The thread's queries go into their transposed blocks once all its heads are done,
    // a block's row at a time: written head by head, each store landed 32 bytes past the
    // last, every head crossing all of the block's lines, and an A layer's eight heads
    // took a thread 5.3 us against 2.9-3.5 (docs/benchmarks.md, CPU backend, session 54).
    // Item i is head i / runs for the tokens of run i % runs, so a token's heads here
    // are one range.
    for (int64_t token = 0; token < n_tokens; ++token) {
      const int64_t run = token / per_call;
      const int64_t h0 = i0 <= run ? 0 : (i0 - run + runs - 1) / runs;
      const int64_t h1 = i1 - 1 < run ? 0 : std::min(H, (i1 - 1 - run) / runs + 1);
      const auto& [s, t] = batch_tokens[static_cast<size_t>(token)];
      for (int64_t b0 = h0; b0 < h1; b0 = (b0 / 8 + 1) * 8) {
        const int64_t b1 = std::min(h1, (b0 / 8 + 1) * 8), heads = b1 - b0;
        float* block = s->queries(t) + (b0 / 8) * d * 8 + b0 % 8;
        const float* latents[8];
        const float* q_pe[8];
        for (int64_t j = 0; j < heads; ++j) {
          latents[j] = s->q_latent(t, b0 + j, H);
          q_pe[j] = s->args->q.f32_row(t) + (b0 + j) * q_head + shape.nope_dim;
        }
        for (int64_t c = 0; c < r; ++c)
          for (int64_t j = 0; j < heads; ++j) block[8 * c + j] = latents[j][c];
        for (int64_t c = 0; c < shape.rope_dim; ++c)
          for (int64_t j = 0; j < heads; ++j) block[8 * (r + c) + j] = q_pe[j][c];
      }
    }
  });

  std::vector<ScoreRow> score_rows;
  int64_t groups = 0;
  for (size_t i = 0; i < seqs.size(); ++i)
    for (int64_t t = 0; t < seqs[i].args->q.rows; ++t) {
      const Visible seen = visible_positions(*seqs[i].args, t);
      score_rows.push_back({static_cast<int64_t>(i), t, groups, seen});
      groups += (seen.count + kMaxScoreQueries - 1) / kMaxScoreQueries;
    }
  ctx.pool.parallel_for_dynamic(groups, /*chunks_per_thread=*/8, [&](int thread, int64_t g0, int64_t g1) {
    auto row = std::upper_bound(score_rows.begin(), score_rows.end(), g0,
                                [](int64_t g, const ScoreRow& sr) { return g < sr.first_group; }) - 1;
    for (int64_t g = g0; g < g1; ++g) {
      while (row + 1 != score_rows.end() && (row + 1)->first_group <= g) ++row;
      const AbsorbedSequence& s = seqs[static_cast<size_t>(row->sequence)];
      const int64_t local = g - row->first_group;
      const int64_t first = kMaxScoreQueries * local;
      const int nq = static_cast<int>(std::min<int64_t>(kMaxScoreQueries, row->seen.count - first));
      const float* rows[kMaxScoreQueries];
      for (int j = 0; j < nq; ++j) {
        if (first + kMaxScoreQueries + j < row->seen.count)
          fetch_ahead(s.args->latent, row->seen[first + kMaxScoreQueries + j]);
        rows[j] = latent_row(thread, s.args->latent, row->seen[first + j], j);
      }
      k.key_block_scores(rows, nq, s.queries(row->t), d, head_blocks, shape.softmax_scale,
                         s.key_scores(row->t, query_floats) + first * heads_padded, heads_padded);
    }
  });

  // A work item is a group of a sequence's heads, whose weighted sums go over its latent
  // rows together (weighted_sums), so that each row is read once per group rather than
  // once per head: at 4,096 positions one head's pass streams 9 MiB per layer from memory.
  // Up to eight heads to a group, fewer where the threads would otherwise go short of items.
  const int64_t group_heads = std::clamp<int64_t>(S * H / ctx.pool.size(), 1, 8);
  // With one token in the batch, W_v's rows for a group's heads go right after their
  // weighted sums, on the same thread: the loop of their own below streams each head's
  // rows once for all of a batch's tokens, which one token has nothing to gain from, and
  // it cost a decode layer a fork-join (with the two matmuls merged in deepseek_model.cpp,
  // 3% off a B Q8_0 token; docs/benchmarks.md, CPU backend, session 39).
  const int64_t v_groups = shape.v_head_dim / 8;
  const bool values_here = packed_v && n_tokens == 1;
  const int64_t groups_per_sequence = (H + group_heads - 1) / group_heads;
  ctx.pool.parallel_for_dynamic(S * groups_per_sequence, /*chunks_per_thread=*/8, [&](int thread, int64_t i0,
                                                                                      int64_t i1) {
    float* widened = thread_area + thread * per_thread;
    auto* o_quantized = reinterpret_cast<ActBlockQ8*>(widened + r);
    std::vector<const float*> latent_rows;
    std::vector<const void*> stored_rows;
    for (int64_t i = i0; i < i1; ++i) {
      const AbsorbedSequence& s = seqs[static_cast<size_t>(i / groups_per_sequence)];
      const MlaAttentionArgs& a = *s.args;
      const int64_t h0 = i % groups_per_sequence * group_heads, h1 = std::min(h0 + group_heads, H);
      for (int64_t t = 0; t < a.q.rows; ++t) {
        const Visible seen = visible_positions(a, t);
        for (int64_t h = h0; h < h1; ++h) {
          float* scores = s.q_latent(t, h, H) + r;
          for (int64_t j = 0; j < seen.count; ++j) scores[j] = s.key_scores(t, query_floats)[j * heads_padded + h];
          softmax_in_place(k, scores, seen.count);
        }
        float* first_scores = s.q_latent(t, h0, H) + r;
        // Compact rows as stored where the table sums their format so.
        const DType stored = a.latent.dtype();
        bool summed = false;
        if (stored != DType::kF32 && k.weighted_sums_stored) {
          stored_rows.resize(static_cast<size_t>(seen.count));
          for (int64_t j = 0; j < seen.count; ++j) stored_rows[static_cast<size_t>(j)] = a.latent.row_data(seen[j]);
          summed = k.weighted_sums_stored(stored, first_scores + s.ctx_len, s.per_pair, first_scores, s.per_pair,
                                          static_cast<int>(h1 - h0), stored_rows.data(), seen.count, r);
        }
        // Otherwise float32 rows in one pass, compact ones kWidenedRows at a time (none: zeros).
        const int64_t pass = stored == DType::kF32 ? seen.count : kWidenedRows;
        for (int64_t j0 = 0; !summed; j0 += pass) {
          const int64_t j1 = std::min(j0 + pass, seen.count);
          latent_rows.resize(static_cast<size_t>(j1 - j0));
          for (int64_t j = j0; j < j1; ++j) {
            if (j1 + j - j0 < seen.count) fetch_ahead(a.latent, seen[j1 + j - j0]);
            latent_rows[static_cast<size_t>(j - j0)] = latent_row(thread, a.latent, seen[j], j - j0);
          }
          weighted_sums(k, first_scores + s.ctx_len, s.per_pair, first_scores + j0, s.per_pair,
                        static_cast<int>(h1 - h0), latent_rows.data(), j1 - j0, r, /*onward=*/j0 > 0);
          summed = j1 == seen.count;
        }
        for (int64_t h = h0; h < h1; ++h) {
          const float* o_latent = s.q_latent(t, h, H) + r + s.ctx_len;
          if (packed_v) {
            ActBlockQ8* quantized = o_quantized_v + (h * n_tokens + s.first_token + t) * o_blocks;
            k.quantize_act_q8(o_latent, quantized, r);
            if (values_here) {
              const int64_t first_group = h * v_groups;
              packed_rows_q8(k, *packed_v, quantized, 1, first_group, first_group + v_groups,
                             a.out.f32_row(t) + h * a.v_head_dim, a.v_head_dim);
            }
            continue;
          }
          // out[h] = W_v o_latent, W_v = kv_b rows of head h's V half in their stored format.
          if (int8_rows) k.quantize_act_q8(o_latent, o_quantized, r);
          float* o = a.out.f32_row(t) + h * a.v_head_dim;
          const int64_t first_v_row = h * kv_head + a.nope_dim;
          for (int64_t e = 0; e < a.v_head_dim; ++e)
            o[e] = dot_stored_row(k, kv_b, first_v_row + e, o_latent, o_quantized, widened);
        }
      }
    }
  });
  if (!packed_v || values_here) return;

  // out[h] = W_v o_latent for every token at once: head h's V rows in pairs of groups
  // (as a matmul takes them), each pair streamed once against all the batch's tokens.
  const int64_t pairs = (v_groups + 1) / 2, width = H * shape.v_head_dim;
  ctx.pool.parallel_for_dynamic(H * pairs, /*chunks_per_thread=*/8, [&](int, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t h = i / pairs, first_group = h * v_groups;
      const int64_t g0 = first_group + 2 * (i % pairs), g1 = std::min(g0 + 2, first_group + v_groups);
      packed_rows_q8(k, *packed_v, o_quantized_v + h * n_tokens * o_blocks, n_tokens, g0, g1, v_products + 8 * g0,
                     width);
      const int64_t column = h * shape.v_head_dim + 8 * (g0 - first_group);
      for (const AbsorbedSequence& s : seqs)
        for (int64_t t = 0; t < s.args->q.rows; ++t)
          std::copy_n(v_products + (s.first_token + t) * width + 8 * g0, 8 * (g1 - g0), s.args->out.f32_row(t) + column);
    }
  });
}

// Prefill holds the scores of kBlockQueries queries of a head at once, so that each chunk of
// kChunkKeyBlocks blocks of keys and of kValueColumns value columns is read into cache once
// for all of them rather than from memory for every few queries (pp2048 on A Q4_0 1.3-1.45x,
// docs/benchmarks.md, CPU backend, session 30).
constexpr int64_t kBlockQueries = 32;
constexpr int64_t kChunkKeyBlocks = 8;
constexpr int64_t kValueColumns = 32;

// Attention of every query with the tile kernels. Causal: per head, the keys ([nope | rope]
// values) are transposed once into blocks of eight, its values gathered into column chunks;
// queries go a block at a time through the score and value tiles. Scores a query computes
// past its own position (up to the block's last) are dropped and its
// probabilities there are zero, which leaves every sum it owns unchanged, bit for bit: a
// query's output does not depend on the batch around it. With lists (V3.2), each query's
// keys and values are gathered and go through the same tiles alone, so a list of every
// causal position gives the same bits as no list.
void attend(CpuContext& ctx, const MlaAttentionArgs& a, Tensor kv, float* thread_area, int64_t per_thread) {
  const Kernels& k = ctx.kernels;
  const int64_t H = a.n_heads, T = a.q.rows, ctx_len = a.start_pos + T;
  const int64_t kv_head = a.nope_dim + a.v_head_dim, q_head = a.nope_dim + a.rope_dim;
  const int64_t n_blocks = (ctx_len + 7) / 8, padded = 8 * n_blocks;
  // Key i of head h (position seen[i]) into column i of keys_t, zeros from n_keys to the
  // end of its block.
  auto transpose_keys = [&](float* keys_t, int64_t h, const Visible& seen) {
    for (int64_t i = 0; i < (seen.count + 7) / 8 * 8; ++i) {
      float* column = keys_t + (i / 8) * q_head * 8 + i % 8;
      const float* nope = i < seen.count ? kv.f32_row(seen[i]) + h * kv_head : nullptr;
      const float* pe = i < seen.count ? a.latent.row(seen[i]) + a.kv_lora_rank : nullptr;
      for (int64_t c = 0; c < a.nope_dim; ++c) column[8 * c] = nope ? nope[c] : 0.0f;
      for (int64_t c = 0; c < a.rope_dim; ++c) column[8 * (a.nope_dim + c)] = pe ? pe[c] : 0.0f;
    }
  };
  if (a.visible) {
    // Each query its own keys: gathered, then one query per tile.
    ctx.pool.parallel_for_dynamic(T * H, /*chunks_per_thread=*/8, [&](int thread, int64_t begin, int64_t end) {
      float* keys_t = thread_area + thread * per_thread;
      float* probs = keys_t + padded * q_head;
      float* values = probs + kBlockQueries * padded;
      for (int64_t pair = begin; pair < end; ++pair) {
        const int64_t t = pair / H, h = pair % H;
        const Visible seen = visible_positions(a, t);
        transpose_keys(keys_t, h, seen);
        for (int64_t i = 0; i < seen.count; ++i)
          std::copy_n(kv.f32_row(seen[i]) + h * kv_head + a.nope_dim, a.v_head_dim, values + i * a.v_head_dim);
        const float* q = a.q.f32_row(t) + h * q_head;
        k.key_block_scores(&q, 1, keys_t, q_head, (seen.count + 7) / 8, a.softmax_scale, probs, padded);
        softmax_in_place(k, probs, seen.count);
        k.value_row_sums(probs, padded, 1, values, a.v_head_dim, seen.count, a.v_head_dim,
                         a.out.f32_row(t) + h * a.v_head_dim, a.out.row_stride);
      }
    });
    return;
  }
  ctx.pool.parallel_for_dynamic(H, /*chunks_per_thread=*/8, [&](int thread, int64_t h0, int64_t h1) {
    float* keys_t = thread_area + thread * per_thread;
    float* probs = keys_t + padded * q_head;
    float* values = probs + kBlockQueries * padded;
    for (int64_t h = h0; h < h1; ++h) {
      transpose_keys(keys_t, h, Visible{nullptr, ctx_len});
      // The head's values in column chunks, each chunk's rows consecutive: a chunk stays in
      // cache for every query of a block, where the rows in kv lie a row of all heads apart.
      const float* v_rows = kv.f32_row(0) + h * kv_head + a.nope_dim;
      for (int64_t c = 0; c < a.v_head_dim; c += kValueColumns) {
        const int64_t width = std::min(kValueColumns, a.v_head_dim - c);
        float* chunk = values + c * padded;
        for (int64_t i = 0; i < ctx_len; ++i) std::copy_n(v_rows + i * kv.row_stride + c, width, chunk + i * width);
      }
      for (int64_t t0 = 0; t0 < T; t0 += kBlockQueries) {
        const int64_t nq = std::min(kBlockQueries, T - t0);
        const float* q[kBlockQueries];
        for (int64_t j = 0; j < nq; ++j) q[j] = a.q.f32_row(t0 + j) + h * q_head;
        const int64_t keys = a.start_pos + t0 + nq;  // those the block's last query sees
        const int64_t key_blocks = (keys + 7) / 8;
        for (int64_t b = 0; b < key_blocks; b += kChunkKeyBlocks)
          for (int64_t j = 0; j < nq; j += kMaxScoreQueries)
            k.key_block_scores(q + j, static_cast<int>(std::min<int64_t>(kMaxScoreQueries, nq - j)),
                               keys_t + b * q_head * 8, q_head, std::min(kChunkKeyBlocks, key_blocks - b),
                               a.softmax_scale, probs + j * padded + 8 * b, padded);
        for (int64_t j = 0; j < nq; ++j) {
          float* row = probs + j * padded;
          const int64_t seen = a.start_pos + t0 + j + 1;
          softmax_in_place(k, row, seen);
          std::fill(row + seen, row + keys, 0.0f);
        }
        for (int64_t c = 0; c < a.v_head_dim; c += kValueColumns) {
          const int64_t width = std::min(kValueColumns, a.v_head_dim - c);
          for (int64_t j = 0; j < nq; j += 4)  // value_row_sums takes up to four rows
            k.value_row_sums(probs + j * padded, padded, static_cast<int>(std::min<int64_t>(4, nq - j)),
                             values + c * padded, width, keys, width,
                             a.out.f32_row(t0 + j) + h * a.v_head_dim + c, a.out.row_stride);
        }
      }
    }
  });
}

void expanded(CpuContext& ctx, const MlaAttentionArgs& a) {
  const int64_t H = a.n_heads, T = a.q.rows;
  const int64_t ctx_len = a.start_pos + T;
  const int64_t kv_head = a.nope_dim + a.v_head_dim;
  const int64_t q_head = a.nope_dim + a.rope_dim;

  // Per thread: transposed keys, kBlockQueries rows of scores and gathered value rows.
  const int64_t padded = (ctx_len + 7) / 8 * 8;
  const int64_t per_thread = padded * (q_head + kBlockQueries + a.v_head_dim);
  const size_t kv_size = static_cast<size_t>(ctx_len * H * kv_head);
  ctx.attention_buffer.resize(kv_size + static_cast<size_t>(ctx.pool.size() * per_thread));
  Tensor kv = Tensor::contiguous(DType::kF32, ctx_len, H * kv_head, ctx.attention_buffer.data());
  for (int64_t begin = 0; begin < ctx_len;) {
    const Tensor run = a.latent.page_run(begin, ctx_len - begin);
    ctx.matmul(kv.row_slice(begin, run.rows), run.col_slice(0, a.kv_lora_rank), *a.kv_b);
    begin += run.rows;
  }
  attend(ctx, a, kv, ctx.attention_buffer.data() + kv_size, per_thread);
}

}  // namespace

void mla_attention(CpuContext& ctx, const MlaAttentionArgs& args) {
  if (args.latent.dtype() != DType::kF32 && args.form == MlaForm::kExpanded) {
    // A compact cache for kv_b's expansion: decode its rows once, then attend as usual.
    const Tensor rows = widen_latent(ctx, args.latent, ctx.latent_buffer);
    MlaAttentionArgs widened = args;
    widened.latent = LatentRows::contiguous(rows);
    return mla_attention(ctx, widened);
  }
  if (args.form == MlaForm::kAbsorbed) {
    absorbed(ctx, std::span(&args, 1));
  } else {
    expanded(ctx, args);
  }
}

void mla_attentions(CpuContext& ctx, std::span<const MlaAttentionArgs> batch) {
  // The absorbed-form sequences with the first one's weights and shapes go through
  // absorbed together, any other one on its own.
  const MlaAttentionArgs* first = nullptr;
  auto joins_first = [&](const MlaAttentionArgs& a) {
    return a.form == MlaForm::kAbsorbed && a.kv_b == first->kv_b && a.n_heads == first->n_heads &&
           a.nope_dim == first->nope_dim && a.rope_dim == first->rope_dim && a.v_head_dim == first->v_head_dim &&
           a.kv_lora_rank == first->kv_lora_rank && a.softmax_scale == first->softmax_scale;
  };
  std::vector<MlaAttentionArgs> together;
  for (const MlaAttentionArgs& a : batch) {
    if (!first && a.form == MlaForm::kAbsorbed) first = &a;
    if (!first || !joins_first(a)) {
      mla_attention(ctx, a);
      continue;
    }
    together.push_back(a);
  }
  if (!together.empty()) absorbed(ctx, together);
}

}  // namespace dsinfer::cpu
