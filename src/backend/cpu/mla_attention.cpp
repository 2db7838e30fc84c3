// MLA attention on the CPU over one sequence's latent rows.
// Absorbed form (decode): per head, q_latent = W_k^T q_nope (kv_b's K half rows weighted
// by q_nope as stored for Q4_0 / Q8_0, else from a float32 transposed copy made on first
// use); scores against the cached c_kv and k_pe; the attention-weighted latent goes
// through W_v (the packed tiles where kv_b is packed, else the stored rows). Expanded form
// (prefill): kv_b expands the latent rows to per-head K/V once per chunk, then up to four
// queries of a head at a time attend through the score and value tiles (kernels.h), with
// at most four rows of scores per thread; the full score matrix is never built. With a
// selection (V3.2) each query attends to its listed positions only, in the listed
// (ascending) order.
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_context.h"
#include "backend/reference/dequantize.h"
#include "core/dtype.h"

namespace dsinfer::cpu {
namespace {

void softmax_in_place(const Kernels& k, float* v, int64_t n) {
  float max = v[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, v[i]);
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

// Whether the table reads kv_b's K half as stored for the query absorption.
bool has_weighted_rows(const Kernels& k, const WeightView& kv_b) {
  return (kv_b.dtype == DType::kQ4_0 && k.weighted_rows_q4_0) || (kv_b.dtype == DType::kQ8_0 && k.weighted_rows_q8_0);
}

const AbsorbedKeyWeights& absorbed_keys(const MlaAttentionArgs& a) {
  // Weights reaching this backend's ops were prepared by it.
  auto& slot = static_cast<const CpuWeight*>(a.kv_b)->absorbed_keys;
  if (slot) return *slot;
  slot = std::make_unique<AbsorbedKeyWeights>();
  const int64_t r = a.kv_lora_rank, nope = a.nope_dim, kv_head = a.nope_dim + a.v_head_dim;
  slot->k_transposed.resize(static_cast<size_t>(a.n_heads * r * nope));
  std::vector<float> row(static_cast<size_t>(r));
  for (int64_t h = 0; h < a.n_heads; ++h)
    for (int64_t d = 0; d < nope; ++d) {
      reference::dequantize_row(a.kv_b->view(), h * kv_head + d, row.data());
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

// kv_b in the interleaved-row layout when it has one that reads int8 activation blocks
// and every head's V rows start and end on a group of eight: W_v then runs through the
// streaming tiles (one call per eight rows) instead of a dot product per row.
const PackedWeight* packed_value_rows(CpuContext& ctx, const MlaAttentionArgs& a) {
  const auto& kv_b = static_cast<const CpuWeight&>(*a.kv_b);
  if (a.nope_dim % 8 != 0 || a.v_head_dim % 8 != 0) return nullptr;
  ctx.pack(kv_b);
  if (!kv_b.packed || activation_form(ctx.kernels, *kv_b.packed) != ActivationForm::kQ8) return nullptr;
  return kv_b.packed.get();
}

void absorbed(CpuContext& ctx, const MlaAttentionArgs& a) {
  const Kernels& k = ctx.kernels;
  const int64_t H = a.n_heads, r = a.kv_lora_rank, T = a.q.rows;
  const int64_t kv_head = a.nope_dim + a.v_head_dim;
  const int64_t q_head = a.nope_dim + a.rope_dim;
  const int64_t ctx_len = a.start_pos + T;
  const WeightView& kv_b = a.kv_b->view();
  const bool int8_rows = kv_b.dtype == DType::kQ8_0 || kv_b.dtype == DType::kQ4_0;
  const PackedWeight* packed_v = packed_value_rows(ctx, a);

  // A latent row [c_kv | k_pe] is one key for every head, and a head's query is
  // [q_latent | q_pe]: with the heads' queries transposed in blocks of eight, the score
  // tile takes four latent rows against all heads at once, each row read once.
  const int64_t d = r + a.rope_dim, head_blocks = (H + 7) / 8, heads_padded = 8 * head_blocks;
  // Per (token, head): q_latent [r], then scores [ctx_len], then o_latent [r]. Per token:
  // the transposed queries [head_blocks][d][8] and the scores [key][heads_padded]. Per
  // thread: a widened weight row [r] and o_latent quantised to int8 blocks.
  const int64_t per_pair = 2 * r + ctx_len;
  const int64_t per_token = heads_padded * d + ctx_len * heads_padded;
  const int64_t per_thread = r + (r / 32 + 1) * static_cast<int64_t>(sizeof(ActBlockQ8) / sizeof(float));
  ctx.attention_buffer.resize(static_cast<size_t>(T * H * per_pair + T * per_token + ctx.pool.size() * per_thread));
  float* base = ctx.attention_buffer.data();
  float* token_area = base + T * H * per_pair;
  float* thread_area = token_area + T * per_token;
  auto queries_t = [&](int64_t t) { return token_area + t * per_token; };
  auto key_scores = [&](int64_t t) { return token_area + t * per_token + heads_padded * d; };
  // Lanes past the last head score as zeros (and are never read).
  if (heads_padded != H)
    for (int64_t t = 0; t < T; ++t) std::fill_n(queries_t(t), heads_padded * d, 0.0f);

  // q_latent = W_k^T q_nope: the K half's rows weighted by q_nope as stored (Q4_0, Q8_0),
  // else per latent dim a dot product with the float32 transposed copy.
  const bool weighted = has_weighted_rows(k, kv_b);
  const AbsorbedKeyWeights* keys = weighted ? nullptr : &absorbed_keys(a);
  const size_t row_bytes = dtype_bytes(kv_b.dtype, r);
  ctx.pool.parallel_for(H, [&](int, int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t t = 0; t < T; ++t) {
        float* q_latent = base + (t * H + h) * per_pair;
        const float* q = a.q.f32_row(t) + h * q_head;
        if (weighted) {
          const auto* k_rows = static_cast<const uint8_t*>(kv_b.data) + static_cast<size_t>(h * kv_head) * row_bytes;
          if (kv_b.dtype == DType::kQ4_0)
            k.weighted_rows_q4_0(q_latent, q, reinterpret_cast<const BlockQ4_0*>(k_rows), r / 32, a.nope_dim, r / 32);
          else
            k.weighted_rows_q8_0(q_latent, q, reinterpret_cast<const BlockQ8_0*>(k_rows), r / 32, a.nope_dim, r / 32);
        } else {
          const float* w_kt = keys->k_transposed.data() + h * r * a.nope_dim;
          for (int64_t c = 0; c < r; ++c) q_latent[c] = k.dot_f32(w_kt + c * a.nope_dim, q, a.nope_dim);
        }
        float* column = queries_t(t) + (h / 8) * d * 8 + h % 8;
        for (int64_t c = 0; c < r; ++c) column[8 * c] = q_latent[c];
        for (int64_t c = 0; c < a.rope_dim; ++c) column[8 * (r + c)] = q[a.nope_dim + c];
      }
    }
  });
  for (int64_t t = 0; t < T; ++t) {
    const Visible seen = visible_positions(a, t);
    ctx.pool.parallel_for_dynamic((seen.count + 3) / 4, /*chunks_per_thread=*/8, [&](int, int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) {
        const int nq = static_cast<int>(std::min<int64_t>(4, seen.count - 4 * g));
        const float* rows[4];
        for (int j = 0; j < nq; ++j) rows[j] = a.latent.row(seen[4 * g + j]);
        k.key_block_scores(rows, nq, queries_t(t), d, head_blocks, a.softmax_scale,
                           key_scores(t) + 4 * g * heads_padded, heads_padded);
      }
    });
  }

  ctx.pool.parallel_for(H, [&](int thread, int64_t h0, int64_t h1) {
    float* widened = thread_area + thread * per_thread;
    auto* o_quantized = reinterpret_cast<ActBlockQ8*>(widened + r);
    std::vector<const float*> latent_rows;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t t = 0; t < T; ++t) {
        float* q_latent = base + (t * H + h) * per_pair;
        float* scores = q_latent + r;
        float* o_latent = scores + ctx_len;
        const Visible seen = visible_positions(a, t);
        for (int64_t i = 0; i < seen.count; ++i) scores[i] = key_scores(t)[i * heads_padded + h];
        softmax_in_place(k, scores, seen.count);
        latent_rows.resize(static_cast<size_t>(seen.count));
        for (int64_t i = 0; i < seen.count; ++i) latent_rows[static_cast<size_t>(i)] = a.latent.row(seen[i]);
        weighted_sum(k, o_latent, scores, latent_rows.data(), seen.count, r);
        if (int8_rows || packed_v) k.quantize_act_q8(o_latent, o_quantized, r);
        // out[h] = W_v o_latent, W_v = kv_b rows of head h's V half: packed where kv_b is,
        // else in their stored format.
        float* o = a.out.f32_row(t) + h * a.v_head_dim;
        const int64_t first_v_row = h * kv_head + a.nope_dim;
        if (packed_v) {
          packed_rows_one_token(k, *packed_v, o_quantized, first_v_row / 8, (first_v_row + a.v_head_dim) / 8, o);
          continue;
        }
        for (int64_t e = 0; e < a.v_head_dim; ++e)
          o[e] = dot_stored_row(k, kv_b, first_v_row + e, o_latent, o_quantized, widened);
      }
    }
  });
}

// Attention of every query with the tile kernels. Causal: per head, the keys ([nope | rope]
// values) are transposed once into blocks of eight; queries go four at a time through the
// score and value tiles. Scores a query computes past its own position are dropped and its
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
      float* values = probs + 4 * padded;
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
    for (int64_t h = h0; h < h1; ++h) {
      transpose_keys(keys_t, h, Visible{nullptr, ctx_len});
      for (int64_t t0 = 0; t0 < T; t0 += 4) {
        const int nq = static_cast<int>(std::min<int64_t>(4, T - t0));
        const float* q[4];
        for (int j = 0; j < nq; ++j) q[j] = a.q.f32_row(t0 + j) + h * q_head;
        const int64_t keys = a.start_pos + t0 + nq;  // those the last query sees
        k.key_block_scores(q, nq, keys_t, q_head, (keys + 7) / 8, a.softmax_scale, probs, padded);
        for (int j = 0; j < nq; ++j) {
          float* row = probs + j * padded;
          const int64_t seen = a.start_pos + t0 + j + 1;
          softmax_in_place(k, row, seen);
          std::fill(row + seen, row + keys, 0.0f);
        }
        k.value_row_sums(probs, padded, nq, kv.f32_row(0) + h * kv_head + a.nope_dim, kv.row_stride, keys,
                         a.v_head_dim, a.out.f32_row(t0) + h * a.v_head_dim, a.out.row_stride);
      }
    }
  });
}

void expanded(CpuContext& ctx, const MlaAttentionArgs& a) {
  const int64_t H = a.n_heads, T = a.q.rows;
  const int64_t ctx_len = a.start_pos + T;
  const int64_t kv_head = a.nope_dim + a.v_head_dim;
  const int64_t q_head = a.nope_dim + a.rope_dim;

  // Per thread: transposed keys, four rows of scores and gathered value rows.
  const int64_t padded = (ctx_len + 7) / 8 * 8;
  const int64_t per_thread = padded * (q_head + 4 + a.v_head_dim);
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
  if (args.latent.dtype() != DType::kF32) {
    // A compact cache: decode this sequence's rows once, then attend as usual.
    const Tensor rows = reference::widen_latent(args.latent, ctx.latent_buffer);
    MlaAttentionArgs widened = args;
    widened.latent = LatentRows::contiguous(rows);
    return mla_attention(ctx, widened);
  }
  if (args.form == MlaForm::kAbsorbed) {
    absorbed(ctx, args);
  } else {
    expanded(ctx, args);
  }
}

}  // namespace dsinfer::cpu
