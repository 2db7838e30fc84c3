#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/reference/dequantize.h"
#include "core/quant_blocks.h"
#include "backend/reference/reference_ops.h"

namespace dsinfer::reference {

void embedding(Tensor out, const WeightView& table, std::span<const int32_t> ids) {
  for (size_t t = 0; t < ids.size(); ++t) dequantize_row(table, ids[t], out.f32_row(static_cast<int64_t>(t)));
}

void rms_norm(Tensor out, Tensor x, const WeightView& weight, float eps) {
  std::vector<float> w(static_cast<size_t>(x.cols));
  dequantize_row(weight, 0, w.data());
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* in = x.f32_row(r);
    float sum_sq = 0.0f;
    for (int64_t c = 0; c < x.cols; ++c) sum_sq += in[c] * in[c];
    const float inv_rms = 1.0f / std::sqrt(sum_sq / static_cast<float>(x.cols) + eps);
    float* o = out.f32_row(r);
    for (int64_t c = 0; c < x.cols; ++c) o[c] = in[c] * inv_rms * w[c];
  }
}

void layer_norm(Tensor out, Tensor x, const WeightView& weight, const WeightView& bias, float eps) {
  std::vector<float> w(static_cast<size_t>(x.cols)), b(static_cast<size_t>(x.cols));
  dequantize_row(weight, 0, w.data());
  dequantize_row(bias, 0, b.data());
  const float n = static_cast<float>(x.cols);
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* in = x.f32_row(r);
    float sum = 0.0f;
    for (int64_t c = 0; c < x.cols; ++c) sum += in[c];
    const float mean = sum / n;
    float sum_sq = 0.0f;
    for (int64_t c = 0; c < x.cols; ++c) sum_sq += (in[c] - mean) * (in[c] - mean);
    const float inv_std = 1.0f / std::sqrt(sum_sq / n + eps);
    float* o = out.f32_row(r);
    for (int64_t c = 0; c < x.cols; ++c) o[c] = (in[c] - mean) * inv_std * w[c] + b[c];
  }
}

void rope(const RopeArgs& args) {
  const int64_t n_heads = args.x.cols / args.head_dim;
  const bool interleaved = args.pairs == RopePairs::kInterleaved;
  for (int64_t t = 0; t < args.x.rows; ++t) {
    const float position = static_cast<float>(args.positions[t]);
    for (int64_t i = 0; i < args.rope_dim / 2; ++i) {
      const float angle = position * args.table->inv_freq[i];
      const float cos = std::cos(angle) * args.table->attention_factor;
      const float sin = std::sin(angle) * args.table->attention_factor;
      // Pair i is (2i, 2i + 1) or (i, i + rope_dim / 2).
      const int64_t first = interleaved ? 2 * i : i;
      const int64_t second = interleaved ? 2 * i + 1 : i + args.rope_dim / 2;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* head = args.x.f32_row(t) + h * args.head_dim + args.rope_offset;
        const float x0 = head[first];
        const float x1 = head[second];
        head[first] = x0 * cos - x1 * sin;
        head[second] = x0 * sin + x1 * cos;
      }
    }
  }
}

void copy(Tensor dst, Tensor src) {
  for (int64_t t = 0; t < src.rows; ++t) encode_values(dst.dtype, src.f32_row(t), dst.row_data(t), static_cast<size_t>(src.cols));
}

void add(Tensor out, Tensor a, Tensor b) {
  for (int64_t r = 0; r < out.rows; ++r)
    for (int64_t c = 0; c < out.cols; ++c) out.f32_row(r)[c] = a.f32_row(r)[c] + b.f32_row(r)[c];
}

void silu_and_mul(Tensor out, Tensor gate, Tensor up) {
  for (int64_t r = 0; r < out.rows; ++r) {
    for (int64_t c = 0; c < out.cols; ++c) {
      const float g = gate.f32_row(r)[c];
      out.f32_row(r)[c] = g / (1.0f + std::exp(-g)) * up.f32_row(r)[c];
    }
  }
}

void matmul(Tensor out, Tensor x, const WeightView& w) {
  std::vector<float> w_row(static_cast<size_t>(w.cols()));
  for (int64_t n = 0; n < w.rows(); ++n) {
    dequantize_row(w, n, w_row.data());
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* in = x.f32_row(t);
      float sum = 0.0f;
      for (int64_t k = 0; k < x.cols; ++k) sum += in[k] * w_row[k];
      out.f32_row(t)[n] = sum;
    }
  }
}

void argmax(std::span<int32_t> out, Tensor x) {
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* row = x.f32_row(r);
    int64_t best = 0;
    for (int64_t c = 1; c < x.cols; ++c)
      if (row[c] > row[best]) best = c;
    out[r] = static_cast<int32_t>(best);
  }
}

}  // namespace dsinfer::reference
