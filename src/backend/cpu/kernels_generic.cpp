// Portable scalar kernels: the fallback on CPUs without a tuned table, and the simplest
// statement of what each kernel computes.
#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels.h"
#include "core/dtype.h"

namespace dsinfer::cpu {
namespace {

float dot_f32(const float* w, const float* x, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += w[i] * x[i];
  return sum;
}

float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += bf16_to_f32(w[i]) * x[i];
  return sum;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += f16_to_f32(w[i]) * x[i];
  return sum;
}

float dot_f8e4m3(const uint8_t* w, const float* x, int64_t n, const float* scales, int64_t block) {
  auto raw = [](const uint8_t* wb, const float* xb, int64_t count) {
    float sum = 0.0f;
    for (int64_t i = 0; i < count; ++i) sum += f8e4m3_to_f32(wb[i]) * xb[i];
    return sum;
  };
  return dot_f8e4m3_by_block(raw, w, x, n, scales, block);
}

float dot_q8_0(const BlockQ8_0* w, const ActBlockQ8* x, int64_t n_blocks) {
  float sum = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    int32_t acc = 0;
    for (int i = 0; i < 32; ++i) acc += w[b].qs[i] * x[b].qs[i];
    sum += f16_to_f32(w[b].d) * x[b].d * static_cast<float>(acc);
  }
  return sum;
}

float dot_q4_0(const BlockQ4_0* w, const ActBlockQ8* x, int64_t n_blocks) {
  float sum = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    int32_t acc = 0;
    for (int j = 0; j < 16; ++j) {
      acc += (w[b].qs[j] & 0x0F) * x[b].qs[j];
      acc += (w[b].qs[j] >> 4) * x[b].qs[j + 16];
    }
    sum += f16_to_f32(w[b].d) * x[b].d * static_cast<float>(acc - 8 * x[b].sum);
  }
  return sum;
}

void quantize_act_q8(const float* x, ActBlockQ8* out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const float d = amax / 127.0f;
    const float inv = d > 0 ? 1.0f / d : 0.0f;
    int32_t sum = 0;
    for (int i = 0; i < 32; ++i) {
      const int8_t q = static_cast<int8_t>(std::nearbyint(x[b * 32 + i] * inv));
      out[b].qs[i] = q;
      sum += q;
    }
    out[b].d = d;
    out[b].sum = sum;
  }
}

// The four-row forms run the single-row kernels, so they agree with them bitwise.
void dot4_bf16(const uint16_t* w, const float* x, int64_t x_stride, int64_t n, float out[4]) {
  for (int i = 0; i < 4; ++i) out[i] = dot_bf16(w, x + i * x_stride, n);
}

void dot4_q8_0(const BlockQ8_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks, float out[4]) {
  for (int i = 0; i < 4; ++i) out[i] = dot_q8_0(w, x + i * x_stride, n_blocks);
}

void dot4_q4_0(const BlockQ4_0* w, const ActBlockQ8* x, int64_t x_stride, int64_t n_blocks, float out[4]) {
  for (int i = 0; i < 4; ++i) out[i] = dot_q4_0(w, x + i * x_stride, n_blocks);
}

// Value j (0..31) of row r in an interleaved block (layout in kernels.h).
// The loop every interleaved-row spec shares: for each token t and row r, the blocks'
// contributions in order; add_block(block, r, x, sum) returns sum plus block's terms,
// where x is the token's first activation block under that weight block.
template <typename Block, typename AddBlock>
void gemm_x8(const Block* w, int64_t n_blocks, int64_t x_blocks_per_block, const ActBlockQ8* x, int64_t x_stride,
             int n_tokens, float* out, int64_t out_stride, AddBlock add_block) {
  for (int t = 0; t < n_tokens; ++t)
    for (int r = 0; r < 8; ++r) {
      float sum = 0.0f;
      for (int64_t b = 0; b < n_blocks; ++b) sum = add_block(w[b], r, x + t * x_stride + b * x_blocks_per_block, sum);
      out[t * out_stride + r] = sum;
    }
}

// Byte i of the 4-value group k of row r (layouts in kernels.h).
int interleaved(int k, int r, int i) { return 32 * k + 4 * r + i; }

void gemm_q4_0x8(const BlockQ4_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 1, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ4_0x8& wb, int r, const ActBlockQ8* xb, float sum) {
            int32_t acc = 0;
            for (int j = 0; j < 32; ++j) {
              const uint8_t byte = wb.qs[interleaved((j % 16) / 4, r, j % 4)];
              acc += (j < 16 ? byte & 0x0F : byte >> 4) * xb->qs[j];
            }
            return sum + f16_to_f32(wb.d[r]) * xb->d * static_cast<float>(acc - 8 * xb->sum);
          });
}

void gemm_q8_0x8(const BlockQ8_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 1, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ8_0x8& wb, int r, const ActBlockQ8* xb, float sum) {
            int32_t acc = 0;
            for (int j = 0; j < 32; ++j) acc += wb.qs[interleaved(j / 4, r, j % 4)] * xb->qs[j];
            return sum + f16_to_f32(wb.d[r]) * xb->d * static_cast<float>(acc);
          });
}

// Code j (0..31) of row r in a Q5_0x8 / Q5_1x8 block: its nibble and its fifth bit.
template <typename Block>
int q5_code(const Block& wb, int r, int j) {
  const int k = (j % 16) / 4, i = j % 4;
  const uint8_t byte = wb.qs[interleaved(k, r, i)];
  const int low = j < 16 ? byte & 0x0F : byte >> 4;
  return low | ((wb.qh[4 * r + i] >> (j < 16 ? k : 4 + k)) & 1) << 4;
}

void gemm_q5_0x8(const BlockQ5_0x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 1, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ5_0x8& wb, int r, const ActBlockQ8* xb, float sum) {
            int32_t acc = 0;
            for (int j = 0; j < 32; ++j) acc += q5_code(wb, r, j) * xb->qs[j];
            return sum + f16_to_f32(wb.d[r]) * xb->d * static_cast<float>(acc - 16 * xb->sum);
          });
}

void gemm_q5_1x8(const BlockQ5_1x8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 1, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ5_1x8& wb, int r, const ActBlockQ8* xb, float sum) {
            int32_t acc = 0;
            for (int j = 0; j < 32; ++j) acc += q5_code(wb, r, j) * xb->qs[j];
            return sum + f16_to_f32(wb.d[r]) * xb->d * static_cast<float>(acc) +
                   f16_to_f32(wb.m[r]) * xb->d * static_cast<float>(xb->sum);
          });
}

// Row r of an IQ4_NLx8 block's indices (128 bytes at qs) against one activation block.
int32_t iq4_nl_dot(const uint8_t qs[128], int r, const ActBlockQ8& xb) {
  int32_t acc = 0;
  for (int j = 0; j < 32; ++j) {
    const uint8_t byte = qs[interleaved((j % 16) / 4, r, j % 4)];
    acc += kIQ4NLValues[j < 16 ? byte & 0x0F : byte >> 4] * xb.qs[j];
  }
  return acc;
}

void gemm_iq4_nlx8(const BlockIQ4_NLx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                   float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 1, x, x_stride, n_tokens, out, out_stride,
          [](const BlockIQ4_NLx8& wb, int r, const ActBlockQ8* xb, float sum) {
            return sum + f16_to_f32(wb.d[r]) * xb->d * static_cast<float>(iq4_nl_dot(wb.qs, r, *xb));
          });
}

// Per sub-block: its IQ4_NL dot product times its integer scale, then one float step.
void gemm_iq4_xsx8(const BlockIQ4_XSx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                   float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 8, x, x_stride, n_tokens, out, out_stride,
          [](const BlockIQ4_XSx8& wb, int r, const ActBlockQ8* xb, float sum) {
            for (int j = 0; j < 8; ++j) {
              const int32_t scaled = wb.scales[j][r] * iq4_nl_dot(wb.qs[j], r, xb[j]);
              sum += f16_to_f32(wb.d[r]) * xb[j].d * static_cast<float>(scaled);
            }
            return sum;
          });
}

// The two low bits of value v (0..255) of row r in a Q2_Kx8 / Q3_Kx8 block.
int low_two_bits(const uint8_t qs[512], int r, int v) {
  return (qs[256 * (v / 128) + interleaved(v % 32 / 4, r, v % 4)] >> (2 * (v % 128 / 32))) & 3;
}

// Per 32-value block b: sub-blocks 2b and 2b+1 scaled and summed in integers, then one
// float step for the scales and one for the mins.
void gemm_q2_kx8(const BlockQ2_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 8, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ2_Kx8& wb, int r, const ActBlockQ8* xb, float sum) {
            for (int b = 0; b < 8; ++b) {
              int32_t scaled = 0, mins = 0;
              for (int half = 0; half < 2; ++half) {
                const uint8_t scale_min = wb.scales[2 * b + half][r];
                int32_t dot = 0, x_sum = 0;
                for (int v = 16 * half; v < 16 * half + 16; ++v) {
                  dot += low_two_bits(wb.qs, r, 32 * b + v) * xb[b].qs[v];
                  x_sum += xb[b].qs[v];
                }
                scaled += (scale_min & 0x0F) * dot;
                mins += (scale_min >> 4) * x_sum;
              }
              sum += f16_to_f32(wb.d[r]) * xb[b].d * static_cast<float>(scaled);
              sum -= f16_to_f32(wb.dmin[r]) * xb[b].d * static_cast<float>(mins);
            }
            return sum;
          });
}

void gemm_q3_kx8(const BlockQ3_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 8, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ3_Kx8& wb, int r, const ActBlockQ8* xb, float sum) {
            for (int b = 0; b < 8; ++b) {
              int32_t scaled = 0;
              for (int half = 0; half < 2; ++half) {
                int32_t dot = 0;
                for (int v = 16 * half; v < 16 * half + 16; ++v) {
                  const int third = (wb.hmask[b][4 * r + v % 4] >> (v / 4)) & 1;
                  dot += ((low_two_bits(wb.qs, r, 32 * b + v) | third << 2) - 4) * xb[b].qs[v];
                }
                scaled += wb.scales[2 * b + half][r] * dot;
              }
              sum += f16_to_f32(wb.d[r]) * xb[b].d * static_cast<float>(scaled);
            }
            return sum;
          });
}

void gemm_q4_kx8(const BlockQ4_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 8, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ4_Kx8& wb, int r, const ActBlockQ8* xb, float sum) {
            for (int j = 0; j < 8; ++j) {  // 32-value sub-blocks
              int32_t acc = 0;
              for (int v = 0; v < 32; ++v) {
                const uint8_t byte = wb.qs[256 * (j / 2) + interleaved(v / 4, r, v % 4)];
                acc += (j % 2 == 0 ? byte & 0x0F : byte >> 4) * xb[j].qs[v];
              }
              sum += f16_to_f32(wb.d[r]) * static_cast<float>(wb.scales[j][r]) * xb[j].d * static_cast<float>(acc);
              sum -= f16_to_f32(wb.dmin[r]) * static_cast<float>(wb.mins[j][r]) * xb[j].d * static_cast<float>(xb[j].sum);
            }
            return sum;
          });
}

void gemm_q5_kx8(const BlockQ5_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 8, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ5_Kx8& wb, int r, const ActBlockQ8* xb, float sum) {
            const BlockQ4_Kx8& low = wb.low;
            for (int j = 0; j < 8; ++j) {  // 32-value sub-blocks
              int32_t acc = 0;
              for (int v = 0; v < 32; ++v) {
                const uint8_t byte = low.qs[256 * (j / 2) + interleaved(v / 4, r, v % 4)];
                const int fifth = (wb.qh[j / 2][j % 2][4 * r + v % 4] >> (v / 4)) & 1;
                acc += ((j % 2 == 0 ? byte & 0x0F : byte >> 4) | fifth << 4) * xb[j].qs[v];
              }
              sum += f16_to_f32(low.d[r]) * static_cast<float>(low.scales[j][r]) * xb[j].d * static_cast<float>(acc);
              sum -= f16_to_f32(low.dmin[r]) * static_cast<float>(low.mins[j][r]) * xb[j].d * static_cast<float>(xb[j].sum);
            }
            return sum;
          });
}

void gemm_q6_kx8(const BlockQ6_Kx8* w, int64_t n_blocks, const ActBlockQ8* x, int64_t x_stride, int n_tokens,
                 float* out, int64_t out_stride) {
  gemm_x8(w, n_blocks, 8, x, x_stride, n_tokens, out, out_stride,
          [](const BlockQ6_Kx8& wb, int r, const ActBlockQ8* xb, float sum) {
            for (int h = 0; h < 16; ++h) {  // 16-value sub-blocks
              int32_t acc = 0;
              for (int v = 16 * (h % 2); v < 16 * (h % 2) + 16; ++v)
                acc += (q6_kx8_code(wb, r, 32 * (h / 2) + v) - 32) * xb[h / 2].qs[v];
              sum += f16_to_f32(wb.d[r]) * static_cast<float>(wb.scales[h][r]) * xb[h / 2].d * static_cast<float>(acc);
            }
            return sum;
          });
}

void gemm_fp4x8(const BlockFp4x8* w, int64_t n_blocks, const float* x, int64_t x_stride, int n_tokens, float* out,
                int64_t out_stride) {
  for (int t = 0; t < n_tokens; ++t)
    for (int r = 0; r < 8; ++r) {
      float sum = 0.0f;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const float* xb = x + t * x_stride + 32 * b;
        float block = 0.0f;
        for (int j = 0; j < 32; ++j) {
          const uint8_t byte = w[b].qs[interleaved((j % 16) / 4, r, j % 4)];
          block += static_cast<float>(kE2M1Doubled[j < 16 ? byte & 0x0F : byte >> 4]) * xb[j];
        }
        // Halves the doubled codes.
        sum += (w[b].e[r] == 0 ? 0.0f : std::ldexp(1.0f, w[b].e[r] - 128)) * block;
      }
      out[t * out_stride + r] = sum;
    }
}

void key_block_scores(const float* const* q, int nq, const float* keys_t, int64_t d, int64_t n_blocks, float scale,
                      float* scores, int64_t stride) {
  for (int j = 0; j < nq; ++j)
    for (int64_t b = 0; b < n_blocks; ++b)
      for (int l = 0; l < 8; ++l) {
        float sum = 0.0f;
        for (int64_t c = 0; c < d; ++c) sum = std::fma(q[j][c], keys_t[(b * d + c) * 8 + l], sum);
        scores[j * stride + 8 * b + l] = sum * scale;
      }
}

void value_row_sums(const float* p, int64_t p_stride, int nq, const float* v, int64_t v_stride, int64_t n_keys,
                    int64_t d, float* out, int64_t out_stride) {
  for (int j = 0; j < nq; ++j)
    for (int64_t c = 0; c < d; ++c) {
      float sum = 0.0f;
      for (int64_t i = 0; i < n_keys; ++i) sum = std::fma(p[j * p_stride + i], v[i * v_stride + c], sum);
      out[j * out_stride + c] = sum;
    }
}

float exp_and_sum(float* v, int64_t n, float shift) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += (v[i] = std::exp(v[i] - shift));
  return sum;
}

}  // namespace

void quantize_act_q8x3(const float* x, ActBlockQ8x3* out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    ActBlockQ8x3& o = out[b];
    o.d = amax / 127.0f;
    int32_t sums[3] = {0, 0, 0};
    for (int i = 0; i < 32; ++i) {
      // |v| <= 127 (to rounding); each remainder lies in [-1/2, 1/2], so the next digit,
      // the remainder times 254 rounded, lies in [-127, 127] too. Doubles keep every step
      // exact enough for the last digit to mean something.
      double v = o.d > 0.0f ? static_cast<double>(x[b * 32 + i]) / o.d : 0.0;
      for (int j = 0; j < 3; ++j) {
        const double digit = std::clamp(std::nearbyint(v), -127.0, 127.0);
        o.q[j][i] = static_cast<int8_t>(digit);
        sums[j] += o.q[j][i];
        v = (v - digit) * kQ8x3Base;
      }
    }
    o.sum01 = kQ8x3Base * sums[0] + sums[1];
    o.sum2 = sums[2];
  }
}

// Kernels::dot_grid_rows as its contract reads, lane by lane.
void dot_grid_rows(const GridCodes codes[8], const ActBlockQ8* x, int64_t x_stride, int n_tokens, float* acc) {
  for (int t = 0; t < n_tokens; ++t)
    for (int r = 0; r < 8; ++r) {
      float sums[16];
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 16; ++k) {
          const int j = 16 * i + k;
          const ActBlockQ8& xb = x[t * x_stride + j / 8];
          int32_t dot = 0;
          for (int m = 0; m < 4; ++m) dot += codes[r].codes[4 * j + m] * xb.qs[(4 * j + m) % 32];
          const float product = static_cast<float>(dot), factor = codes[r].steps[j / 4] * xb.d;
          sums[k] = i == 0 ? product * factor : std::fma(product, factor, sums[k]);
        }
      for (int k = 0; k < 16; ++k) acc[16 * (8 * t + r) + k] += sums[k];
    }
}

const Kernels& generic_kernels() {
  static const Kernels table = [] {
    Kernels k{"generic", dot_f32,  dot_bf16,  dot_f16,  dot_f8e4m3, dot_q8_0,
              dot_q4_0,  quantize_act_q8, dot4_bf16, dot4_q8_0, dot4_q4_0,
              gemm_q4_0x8, gemm_q8_0x8, gemm_q4_kx8, gemm_q5_kx8, gemm_q6_kx8,
              gemm_fp4x8, nullptr, nullptr, key_block_scores, value_row_sums,
              exp_and_sum};
    k.gemm_q5_0x8 = gemm_q5_0x8;
    k.gemm_q5_1x8 = gemm_q5_1x8;
    k.gemm_iq4_nlx8 = gemm_iq4_nlx8;
    k.gemm_q2_kx8 = gemm_q2_kx8;
    k.gemm_q3_kx8 = gemm_q3_kx8;
    k.gemm_iq4_xsx8 = gemm_iq4_xsx8;
    k.dot_grid_rows = dot_grid_rows;
    k.decode_grid = decode_grid_codes;
    return k;
  }();
  return table;
}

}  // namespace dsinfer::cpu
