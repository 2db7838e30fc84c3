// Reference MLA attention over a latent cache, in both forms. They are the same
// function of the inputs (tests check it); the expanded form is cheaper when many
// queries share the expansion (prefill), the absorbed form when one query meets a long
// cache (decode). Both attend to the positions visible_positions() lists.
#include <cmath>
#include <vector>

#include "backend/reference/dequantize.h"
#include "backend/reference/reference_ops.h"

namespace dsinfer::reference {
namespace {

// In-place softmax over values[0, n).
void softmax(float* values, int64_t n) {
  float max = values[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, values[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += (values[i] = std::exp(values[i] - max));
  for (int64_t i = 0; i < n; ++i) values[i] /= sum;
}

// The cached positions query row t attends to, ascending.
std::vector<int64_t> visible_positions(const MlaAttentionArgs& a, int64_t t) {
  std::vector<int64_t> positions;
  if (!a.visible) {
    for (int64_t p = 0; p <= a.start_pos + t; ++p) positions.push_back(p);
    return positions;
  }
  const auto* listed = static_cast<const int32_t*>(a.visible->row_data(t));
  for (int64_t i = 0; i < a.visible->cols && listed[i] >= 0; ++i) positions.push_back(listed[i]);
  return positions;
}

float dot(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void expanded(const MlaAttentionArgs& a) {
  const int64_t ctx = a.start_pos + a.q.rows;
  const int64_t kv_head = a.nope_dim + a.v_head_dim;
  // kv[j] = kv_b @ c_kv[j]: per head [k_nope | v] for every cached position.
  std::vector<float> kv(static_cast<size_t>(ctx * a.n_heads * kv_head));
  Tensor kv_tensor = Tensor::contiguous(DType::kF32, ctx, a.n_heads * kv_head, kv.data());
  for (int64_t begin = 0; begin < ctx;) {
    const Tensor run = a.latent.page_run(begin, ctx - begin);
    matmul(kv_tensor.row_slice(begin, run.rows), run.col_slice(0, a.kv_lora_rank), a.kv_b->view());
    begin += run.rows;
  }

  const int64_t q_head = a.nope_dim + a.rope_dim;
  std::vector<float> scores(static_cast<size_t>(ctx));
  for (int64_t t = 0; t < a.q.rows; ++t) {
    const std::vector<int64_t> seen = visible_positions(a, t);
    const int64_t n = static_cast<int64_t>(seen.size());
    for (int64_t h = 0; h < a.n_heads; ++h) {
      const float* q = a.q.f32_row(t) + h * q_head;
      for (int64_t i = 0; i < n; ++i) {
        const float* k_nope = kv_tensor.f32_row(seen[i]) + h * kv_head;
        const float* k_pe = a.latent.row(seen[i]) + a.kv_lora_rank;
        scores[i] = (dot(q, k_nope, a.nope_dim) + dot(q + a.nope_dim, k_pe, a.rope_dim)) * a.softmax_scale;
      }
      softmax(scores.data(), n);
      float* o = a.out.f32_row(t) + h * a.v_head_dim;
      for (int64_t e = 0; e < a.v_head_dim; ++e) o[e] = 0.0f;
      for (int64_t i = 0; i < n; ++i) {
        const float* v = kv_tensor.f32_row(seen[i]) + h * kv_head + a.nope_dim;
        for (int64_t e = 0; e < a.v_head_dim; ++e) o[e] += scores[i] * v[e];
      }
    }
  }
}

void absorbed(const MlaAttentionArgs& a) {
  const std::vector<float> kv_b = dequantize(a.kv_b->view());  // [n_heads * (nope + v), kv_lora]
  const int64_t kv_head = a.nope_dim + a.v_head_dim;
  const int64_t q_head = a.nope_dim + a.rope_dim;
  const int64_t r = a.kv_lora_rank;
  std::vector<float> q_latent(static_cast<size_t>(r));
  std::vector<float> o_latent(static_cast<size_t>(r));
  std::vector<float> scores(static_cast<size_t>(a.start_pos + a.q.rows));
  for (int64_t t = 0; t < a.q.rows; ++t) {
    const std::vector<int64_t> seen = visible_positions(a, t);
    const int64_t n = static_cast<int64_t>(seen.size());
    for (int64_t h = 0; h < a.n_heads; ++h) {
      const float* q = a.q.f32_row(t) + h * q_head;
      const float* w_k = kv_b.data() + h * kv_head * r;             // [nope, kv_lora]
      const float* w_v = kv_b.data() + (h * kv_head + a.nope_dim) * r;  // [v, kv_lora]
      // q_latent = W_k^T q_nope: the query moved into latent space.
      for (int64_t c = 0; c < r; ++c) q_latent[c] = 0.0f;
      for (int64_t d = 0; d < a.nope_dim; ++d)
        for (int64_t c = 0; c < r; ++c) q_latent[c] += q[d] * w_k[d * r + c];
      for (int64_t i = 0; i < n; ++i) {
        const float* row = a.latent.row(seen[i]);
        scores[i] = (dot(q_latent.data(), row, r) + dot(q + a.nope_dim, row + r, a.rope_dim)) * a.softmax_scale;
      }
      softmax(scores.data(), n);
      for (int64_t c = 0; c < r; ++c) o_latent[c] = 0.0f;
      for (int64_t i = 0; i < n; ++i) {
        const float* c_kv = a.latent.row(seen[i]);
        for (int64_t c = 0; c < r; ++c) o_latent[c] += scores[i] * c_kv[c];
      }
      float* o = a.out.f32_row(t) + h * a.v_head_dim;
      for (int64_t e = 0; e < a.v_head_dim; ++e) o[e] = dot(w_v + e * r, o_latent.data(), r);
    }
  }
}

}  // namespace

void mla_attention(const MlaAttentionArgs& args) {
  if (args.latent.dtype() != DType::kF32) {
    // A compact cache: decode this sequence's rows, then attend as usual.
    std::vector<float> scratch;
    const Tensor rows = widen_latent(args.latent, scratch);
    MlaAttentionArgs widened = args;
    widened.latent = LatentRows::contiguous(rows);
    return mla_attention(widened);
  }
  if (args.form == MlaForm::kAbsorbed) {
    absorbed(args);
  } else {
    expanded(args);
  }
}

}  // namespace dsinfer::reference
