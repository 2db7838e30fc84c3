// MLA attention on the CPU over one sequence's latent rows.
// Absorbed form (decode): per head, q_latent = W_k^T q_nope; scores against the cached
// c_kv and k_pe; the attention-weighted latent goes through W_v. kv_b is read in its
// stored dtype once per step. Expanded form (prefill): kv_b expands the latent rows to
// per-head K/V once per chunk, then each (query, head) pair attends with one row of
// scores at a time; the full score matrix is never built.
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_context.h"
#include "backend/reference/dequantize.h"

namespace dsinfer::cpu {
namespace {

void softmax_in_place(float* v, int64_t n) {
  float max = v[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, v[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += (v[i] = std::exp(v[i] - max));
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) v[i] *= inv;
}

void absorbed(CpuContext& ctx, const MlaAttentionArgs& a) {
  const Kernels& k = ctx.kernels;
  const int64_t H = a.n_heads, r = a.kv_lora_rank, T = a.q.rows;
  const int64_t kv_head = a.nope_dim + a.v_head_dim;
  const int64_t q_head = a.nope_dim + a.rope_dim;
  const int64_t ctx_len = a.start_pos + T;
  const WeightView& kv_b = a.kv_b->view();

  // Per (token, head): q_latent [r], then scores [ctx_len], then o_latent [r].
  const int64_t per_pair = 2 * r + ctx_len;
  ctx.attention_buffer.resize(static_cast<size_t>(T * H * per_pair + ctx.pool.size() * r));
  float* base = ctx.attention_buffer.data();
  float* widened_rows = base + T * H * per_pair;

  ctx.pool.parallel_for(H, [&](int thread, int64_t h0, int64_t h1) {
    float* widened = widened_rows + thread * r;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t t = 0; t < T; ++t) {
        float* q_latent = base + (t * H + h) * per_pair;
        float* scores = q_latent + r;
        float* o_latent = scores + ctx_len;
        const float* q = a.q.f32_row(t) + h * q_head;
        // q_latent = sum_d q_nope[d] * W_k[d, :], W_k = kv_b rows of head h's K half.
        std::fill_n(q_latent, r, 0.0f);
        for (int64_t d = 0; d < a.nope_dim; ++d) {
          reference::dequantize_row(kv_b, h * kv_head + d, widened);
          const float qd = q[d];
          for (int64_t c = 0; c < r; ++c) q_latent[c] += qd * widened[c];
        }
        const int64_t visible = a.start_pos + t + 1;
        for (int64_t j = 0; j < visible; ++j) {
          const float* row = a.latent.f32_row(j);
          scores[j] = (k.dot_f32(q_latent, row, r) + k.dot_f32(q + a.nope_dim, row + r, a.rope_dim)) * a.softmax_scale;
        }
        softmax_in_place(scores, visible);
        std::fill_n(o_latent, r, 0.0f);
        for (int64_t j = 0; j < visible; ++j) {
          const float* c_kv = a.latent.f32_row(j);
          const float p = scores[j];
          for (int64_t c = 0; c < r; ++c) o_latent[c] += p * c_kv[c];
        }
        // out[h] = W_v o_latent, W_v = kv_b rows of head h's V half.
        float* o = a.out.f32_row(t) + h * a.v_head_dim;
        for (int64_t e = 0; e < a.v_head_dim; ++e) {
          reference::dequantize_row(kv_b, h * kv_head + a.nope_dim + e, widened);
          o[e] = k.dot_f32(widened, o_latent, r);
        }
      }
    }
  });
}

void expanded(CpuContext& ctx, const MlaAttentionArgs& a) {
  const Kernels& k = ctx.kernels;
  const int64_t H = a.n_heads, T = a.q.rows;
  const int64_t ctx_len = a.start_pos + T;
  const int64_t kv_head = a.nope_dim + a.v_head_dim;
  const int64_t q_head = a.nope_dim + a.rope_dim;

  const size_t kv_size = static_cast<size_t>(ctx_len * H * kv_head);
  ctx.attention_buffer.resize(kv_size + static_cast<size_t>(ctx.pool.size() * ctx_len));
  Tensor kv = Tensor::contiguous(DType::kF32, ctx_len, H * kv_head, ctx.attention_buffer.data());
  ctx.matmul(kv, a.latent.row_slice(0, ctx_len).col_slice(0, a.kv_lora_rank), a.kv_b->view());
  float* score_rows = ctx.attention_buffer.data() + kv_size;

  ctx.pool.parallel_for(T * H, [&](int thread, int64_t begin, int64_t end) {
    float* scores = score_rows + thread * ctx_len;
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t t = pair / H, h = pair % H;
      const float* q = a.q.f32_row(t) + h * q_head;
      const int64_t visible = a.start_pos + t + 1;
      for (int64_t j = 0; j < visible; ++j) {
        const float* k_nope = kv.f32_row(j) + h * kv_head;
        const float* k_pe = a.latent.f32_row(j) + a.kv_lora_rank;
        scores[j] = (k.dot_f32(q, k_nope, a.nope_dim) + k.dot_f32(q + a.nope_dim, k_pe, a.rope_dim)) * a.softmax_scale;
      }
      softmax_in_place(scores, visible);
      float* o = a.out.f32_row(t) + h * a.v_head_dim;
      std::fill_n(o, a.v_head_dim, 0.0f);
      for (int64_t j = 0; j < visible; ++j) {
        const float* v = kv.f32_row(j) + h * kv_head + a.nope_dim;
        const float p = scores[j];
        for (int64_t e = 0; e < a.v_head_dim; ++e) o[e] += p * v[e];
      }
    }
  });
}

}  // namespace

void mla_attention(CpuContext& ctx, const MlaAttentionArgs& args) {
  if (args.form == MlaForm::kAbsorbed) {
    absorbed(ctx, args);
  } else {
    expanded(ctx, args);
  }
}

}  // namespace dsinfer::cpu
