#include "core/quant_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/grid_blocks.h"

namespace dsinfer {

ScaleMin6 unpack_scale_min6(const uint8_t packed[12], int j) {
  if (j < 4) return {static_cast<uint8_t>(packed[j] & 63), static_cast<uint8_t>(packed[j + 4] & 63)};
  return {static_cast<uint8_t>((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4)),
          static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))};
}

void pack_scale_min6(const ScaleMin6 pairs[8], uint8_t packed[12]) {
  for (int j = 0; j < 4; ++j) {
    const ScaleMin6 lo = pairs[j];
    const ScaleMin6 hi = pairs[j + 4];
    packed[j] = static_cast<uint8_t>((lo.scale & 63) | ((hi.scale >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>((lo.min & 63) | ((hi.min >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((hi.scale & 0x0F) | ((hi.min & 0x0F) << 4));
  }
}

int q3_k_scale(const uint8_t packed[12], int j) {
  const int low = j < 8 ? packed[j] & 0x0F : packed[j - 8] >> 4;
  return low | ((packed[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
}

void pack_q3_k_scales(const uint8_t scales[16], uint8_t packed[12]) {
  std::memset(packed, 0, 12);
  for (int j = 0; j < 16; ++j) {
    packed[j % 8] |= static_cast<uint8_t>((scales[j] & 0x0F) << (j < 8 ? 0 : 4));
    packed[8 + j % 4] |= static_cast<uint8_t>((scales[j] >> 4) << (2 * (j / 4)));
  }
}

int iq4_xs_scale(const BlockIQ4_XS& block, int j) {
  return ((block.scales_l[j / 2] >> (4 * (j % 2))) & 0x0F) | ((block.scales_h >> (2 * j)) & 3) << 4;
}

namespace {

// ---------------------------------------------------------------- decoders

void dequantize_q8_0(const BlockQ8_0* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int i = 0; i < 32; ++i) dst[b * 32 + i] = d * static_cast<float>(blocks[b].qs[i]);
  }
}

void dequantize_q4_0(const BlockQ4_0* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int j = 0; j < 16; ++j) {
      dst[b * 32 + j] = d * static_cast<float>((blocks[b].qs[j] & 0x0F) - 8);
      dst[b * 32 + j + 16] = d * static_cast<float>((blocks[b].qs[j] >> 4) - 8);
    }
  }
}

template <typename Block>
void dequantize_q5(const Block* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int i = 0; i < 32; ++i) {
      const int q = q5_code(blocks[b], i);
      if constexpr (std::is_same_v<Block, BlockQ5_0>)
        dst[b * 32 + i] = d * static_cast<float>(q - 16);
      else
        dst[b * 32 + i] = d * static_cast<float>(q) + f16_to_f32(blocks[b].m);
    }
  }
}

// 32 values of IQ4_NL indices (value l in the low nibble of qs[l], value 16 + l in its
// high one) times `step`: an IQ4_NL block, or an IQ4_XS sub-block.
void decode_iq4_nl_indices(const uint8_t qs[16], float step, float out[32]) {
  for (int l = 0; l < 16; ++l) {
    out[l] = step * static_cast<float>(kIQ4NLValues[qs[l] & 0x0F]);
    out[l + 16] = step * static_cast<float>(kIQ4NLValues[qs[l] >> 4]);
  }
}

void dequantize_iq4_nl(const BlockIQ4_NL* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) decode_iq4_nl_indices(blocks[b].qs, f16_to_f32(blocks[b].d), dst + b * 32);
}

void dequantize_iq4_xs(const BlockIQ4_XS* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int j = 0; j < 8; ++j)
      decode_iq4_nl_indices(blocks[b].qs + 16 * j, d * static_cast<float>(iq4_xs_scale(blocks[b], j) - 32),
                            dst + b * kQK_K + 32 * j);
  }
}

// Q2_K and Q3_K place the low two bits of their codes alike: value 128h + 32k + l in
// bits 2k, 2k+1 of qs[32h + l].
int low_two_bits(const uint8_t qs[64], int i) { return (qs[32 * (i / 128) + i % 32] >> (2 * (i % 128 / 32))) & 3; }

void dequantize_q2_k(const BlockQ2_K* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const BlockQ2_K& block = blocks[b];
    const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
    for (int i = 0; i < kQK_K; ++i) {
      const uint8_t scale_min = block.scales[i / 16];
      dst[b * kQK_K + i] = d * static_cast<float>(scale_min & 0x0F) * static_cast<float>(low_two_bits(block.qs, i)) -
                           dmin * static_cast<float>(scale_min >> 4);
    }
  }
}

void dequantize_q3_k(const BlockQ3_K* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const BlockQ3_K& block = blocks[b];
    const float d = f16_to_f32(block.d);
    for (int i = 0; i < kQK_K; ++i) {
      const int third = (block.hmask[i % 32] >> (i / 32)) & 1;
      const int q = low_two_bits(block.qs, i) | third << 2;
      dst[b * kQK_K + i] = d * static_cast<float>(q3_k_scale(block.scales, i / 16) - 32) * static_cast<float>(q - 4);
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const BlockQ4_K& block = blocks[b];
    const float d = f16_to_f32(block.d);
    const float dmin = f16_to_f32(block.dmin);
    float* out = dst + b * kQK_K;
    for (int c = 0; c < 4; ++c) {  // 64 values: sub-blocks 2c (low nibbles) and 2c+1 (high)
      const ScaleMin6 lo = unpack_scale_min6(block.scales, 2 * c);
      const ScaleMin6 hi = unpack_scale_min6(block.scales, 2 * c + 1);
      const uint8_t* q = block.qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        out[64 * c + l] = d * lo.scale * static_cast<float>(q[l] & 0x0F) - dmin * lo.min;
        out[64 * c + 32 + l] = d * hi.scale * static_cast<float>(q[l] >> 4) - dmin * hi.min;
      }
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const BlockQ5_K& block = blocks[b];
    const float d = f16_to_f32(block.d);
    const float dmin = f16_to_f32(block.dmin);
    float* out = dst + b * kQK_K;
    for (int c = 0; c < 4; ++c) {
      const ScaleMin6 lo = unpack_scale_min6(block.scales, 2 * c);
      const ScaleMin6 hi = unpack_scale_min6(block.scales, 2 * c + 1);
      const uint8_t* q = block.qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        const int q_lo = (q[l] & 0x0F) | (((block.qh[l] >> (2 * c)) & 1) << 4);
        const int q_hi = (q[l] >> 4) | (((block.qh[l] >> (2 * c + 1)) & 1) << 4);
        out[64 * c + l] = d * lo.scale * static_cast<float>(q_lo) - dmin * lo.min;
        out[64 * c + 32 + l] = d * hi.scale * static_cast<float>(q_hi) - dmin * hi.min;
      }
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* blocks, float* dst, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const BlockQ6_K& block = blocks[b];
    const float d = f16_to_f32(block.d);
    float* out = dst + b * kQK_K;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = block.ql + 64 * h;
      const uint8_t* qh = block.qh + 32 * h;
      for (int l = 0; l < 32; ++l) {
        const int q[4] = {
            (ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4),
            (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4),
            (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4),
            (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4),
        };
        for (int k = 0; k < 4; ++k) {
          const int index = 128 * h + 32 * k + l;
          out[index] = d * static_cast<float>(block.scales[index / 16]) * static_cast<float>(q[k] - 32);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- encoders

// Nearest integer (ties to even, as nearbyint in the default rounding mode) of x clamped
// to [lo, hi]; NaN gives lo. Adding and subtracting 1.5 * 2^23 rounds a float of
// magnitude below 2^22 to an integer without a libm call (the quantizers round every
// value once per candidate scale; the project never builds with -ffast-math, which
// could fold the two adds away).
inline int round_clamp(float x, int lo, int hi) {
  if (!(x >= static_cast<float>(lo))) x = static_cast<float>(lo);
  if (x > static_cast<float>(hi)) x = static_cast<float>(hi);
  constexpr float kMagic = 12582912.0f;
  return static_cast<int>((x + kMagic) - kMagic);
}

// round_clamp for the candidate searches: float in, float out, and branch-free (the clamp
// as (|x - lo| - |x - hi| + lo + hi) / 2, which compilers vectorize where they would not
// vectorize compares) so the 8-lane loops below run as vector code. It may differ from
// round_clamp by one code for values within ~1e-6 of a half: harmless for choosing a
// scale, and the stored codes always come from round_clamp.
inline float round_clampf(float x, float lo, float hi) {
  constexpr float kMagic = 12582912.0f;
  const float clamped = 0.5f * (std::fabs(x - lo) - std::fabs(x - hi) + (lo + hi));
  return (clamped + kMagic) - kMagic;
}

// Candidate scales tried around the one that maps the extreme value exactly onto the
// end of the integer range: that one and +-kSearchSteps steps of kSearchStep codes.
constexpr int kSearchSteps = 8;
constexpr float kSearchStep = 0.125f;
// The searches sum in kLanes independent partial sums (n is a multiple of it), which the
// compiler turns into vector adds without reassociating anything.
constexpr int kLanes = 8;

float lane_sum(const float (&lanes)[kLanes]) {
  float s = 0.0f;
  for (float v : lanes) s += v;
  return s;
}

// Symmetric fit x[i] ~ scale * L[i], L[i] in [lo, hi] (lo < 0 < hi, |lo| >= hi): the
// value of largest magnitude goes to the lo end (the longer side), then each candidate
// scale is refitted by least squares for its codes; the fit with the least squared
// error wins. For codes L the least-squares scale is sum(x L) / sum(L^2) and the squared
// error sum(x^2) - sum(x L)^2 / sum(L^2), so the winner maximises sum(x L)^2 / sum(L^2).
// Returns the scale (0 for an all-zero input).
template <int n>
float fit_symmetric(const float* x, int lo, int hi) {
  float extreme = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
  if (extreme == 0.0f) return 0.0f;
  const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
  float best_scale = 0.0f;
  float best_gain = -1.0f;
  for (int step = -kSearchSteps; step <= kSearchSteps; ++step) {
    const float inverse = (flo + kSearchStep * static_cast<float>(step)) / extreme;
    float xl[kLanes] = {}, ll[kLanes] = {};
    for (int i = 0; i < n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const float l = round_clampf(inverse * x[i + j], flo, fhi);
        xl[j] += x[i + j] * l;
        ll[j] += l * l;
      }
    const float sum_xl = lane_sum(xl), sum_ll = lane_sum(ll);
    if (sum_ll == 0.0f) continue;
    const float gain = sum_xl * sum_xl / sum_ll;
    if (gain > best_gain) {
      best_gain = gain;
      best_scale = sum_xl / sum_ll;
    }
  }
  return best_scale;
}

// Asymmetric fit x[i] ~ scale * L[i] - min, L[i] in [0, nmax], scale > 0, min >= 0 (the
// formats subtract a non-negative min): candidates spread the range [min(x, 0), max(x)]
// over nmax + small offsets codes, each refitted by least squares (with min clamped to
// >= 0); the least squared error wins.
template <int n>
void fit_asymmetric(const float* x, int nmax, float& scale_out, float& min_out) {
  float lo = 0.0f, hi = -std::numeric_limits<float>::infinity();
  double sum_x = 0.0, sum_xx = 0.0;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_x += x[i];
    sum_xx += static_cast<double>(x[i]) * x[i];
  }
  if (!(hi > lo)) {  // every value equals lo <= 0
    scale_out = 0.0f;
    min_out = -lo;
    return;
  }
  const float fmax = static_cast<float>(nmax);
  double best_error = std::numeric_limits<double>::infinity();
  scale_out = (hi - lo) / fmax;
  min_out = -lo;
  for (int step = -kSearchSteps; step <= kSearchSteps; ++step) {
    const float inverse = (fmax + kSearchStep * static_cast<float>(step)) / (hi - lo);
    float l1[kLanes] = {}, l2[kLanes] = {}, xl[kLanes] = {};
    for (int i = 0; i < n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const float l = round_clampf(inverse * (x[i + j] - lo), 0.0f, fmax);
        l1[j] += l;
        l2[j] += l * l;
        xl[j] += x[i + j] * l;
      }
    const double sum_l = lane_sum(l1), sum_ll = lane_sum(l2), sum_xl = lane_sum(xl);
    // Least squares for x ~ a * l + b.
    const double det = n * sum_ll - sum_l * sum_l;
    if (det <= 0.0) continue;
    double a = (n * sum_xl - sum_l * sum_x) / det;
    double b = (sum_ll * sum_x - sum_l * sum_xl) / det;
    if (b > 0.0) {  // the min must not be negative: refit the scale with b = 0
      b = 0.0;
      a = sum_xl / sum_ll;
    }
    if (!(a > 0.0)) continue;
    // sum (a l + b - x)^2, expanded into the sums (holds for the constrained fit too).
    const double err = a * a * sum_ll + 2 * a * b * sum_l + n * b * b - 2 * a * sum_xl - 2 * b * sum_x + sum_xx;
    if (err < best_error) {
      best_error = err;
      scale_out = static_cast<float>(a);
      min_out = static_cast<float>(-b);
    }
  }
}

void quantize_q8_0(const float* x, BlockQ8_0* blocks, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, x += 32) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    blocks[b].d = f32_to_f16(amax / 127.0f);
    const float d = f16_to_f32(blocks[b].d);  // codes for the scale as stored
    const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < 32; ++i) blocks[b].qs[i] = static_cast<int8_t>(round_clamp(x[i] * inverse, -128, 127));
  }
}

void quantize_q4_0(const float* x, BlockQ4_0* blocks, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, x += 32) {
    blocks[b].d = f32_to_f16(fit_symmetric<32>(x, -8, 7));
    const float d = f16_to_f32(blocks[b].d);
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; ++j) {
      const int lo = round_clamp(x[j] * inverse, -8, 7) + 8;
      const int hi = round_clamp(x[j + 16] * inverse, -8, 7) + 8;
      blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

// Codes q[0..31] in [0, 31] into a Q5_0 / Q5_1 block's nibbles and fifth bits.
template <typename Block>
void store_q5_codes(const int q[32], Block& block) {
  uint32_t high = 0;
  for (int i = 0; i < 32; ++i) high |= static_cast<uint32_t>(q[i] >> 4) << i;
  for (int j = 0; j < 4; ++j) block.qh[j] = static_cast<uint8_t>(high >> (8 * j));
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
}

void quantize_q5_0(const float* x, BlockQ5_0* blocks, size_t n_blocks) {
  int q[32];
  for (size_t b = 0; b < n_blocks; ++b, x += 32) {
    blocks[b].d = f32_to_f16(fit_symmetric<32>(x, -16, 15));
    const float d = f16_to_f32(blocks[b].d);
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < 32; ++i) q[i] = round_clamp(x[i] * inverse, -16, 15) + 16;
    store_q5_codes(q, blocks[b]);
  }
}

// Fitted as Q4_K's sub-blocks are (x ~ scale q - min with min >= 0), so the offset m is
// never positive: a valid block, a little less exact than a free offset for a block of
// all-positive values.
void quantize_q5_1(const float* x, BlockQ5_1* blocks, size_t n_blocks) {
  int q[32];
  for (size_t b = 0; b < n_blocks; ++b, x += 32) {
    float scale = 0.0f, min = 0.0f;
    fit_asymmetric<32>(x, 31, scale, min);
    blocks[b].d = f32_to_f16(scale);
    blocks[b].m = f32_to_f16(-min);
    const float d = f16_to_f32(blocks[b].d), m = f16_to_f32(blocks[b].m);
    for (int i = 0; i < 32; ++i) q[i] = d > 0.0f ? round_clamp((x[i] - m) / d, 0, 31) : 0;
    store_q5_codes(q, blocks[b]);
  }
}

// Nearest entry of kIQ4NLValues to v (the lower one on a tie).
int nearest_iq4_nl(float v) {
  int best = 0;
  for (int i = 1; i < 16; ++i)
    if (std::fabs(v - kIQ4NLValues[i]) < std::fabs(v - kIQ4NLValues[best])) best = i;
  return best;
}

// The grid value nearest v, as the lowest value plus each step whose midpoint v passes:
// compares and adds the compiler vectorizes, where a table lookup per value would not.
inline float nearest_iq4_nl_value(float v) {
  float value = kIQ4NLValues[0];
  for (int i = 1; i < 16; ++i) {
    const float step = static_cast<float>(kIQ4NLValues[i] - kIQ4NLValues[i - 1]);
    value += v > static_cast<float>(kIQ4NLValues[i - 1]) + 0.5f * step ? step : 0.0f;
  }
  return value;
}

// Fit of x ~ d * kIQ4NLValues[index]: candidates map the value of largest magnitude onto
// the grid's longer end (-127), +-10% in kSearchSteps steps, each refitted by least
// squares for its grid values; the one keeping most of x's energy (sum(x v)^2 / sum(v^2))
// wins. (A quarter of ggml's candidates would do as well on Gaussian weights; a search
// per value 10x slower made `quantize --type iq4_nl` take minutes on a 0.8B model.)
float fit_iq4_nl(const float* x) {
  float extreme = 0.0f;
  for (int i = 0; i < 32; ++i)
    if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
  if (extreme == 0.0f) return 0.0f;
  float best_scale = 0.0f, best_gain = -1.0f;
  for (int step = -kSearchSteps; step <= kSearchSteps; ++step) {
    const float inverse = static_cast<float>(kIQ4NLValues[0]) * (1.0f + 0.0125f * static_cast<float>(step)) / extreme;
    float xv[kLanes] = {}, vv[kLanes] = {};
    for (int i = 0; i < 32; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const float v = nearest_iq4_nl_value(inverse * x[i + j]);
        xv[j] += x[i + j] * v;
        vv[j] += v * v;
      }
    const float sum_xv = lane_sum(xv), sum_vv = lane_sum(vv);
    const float gain = sum_xv * sum_xv / sum_vv;
    if (gain > best_gain) {
      best_gain = gain;
      best_scale = sum_xv / sum_vv;
    }
  }
  return best_scale;
}

// The inverse of decode_iq4_nl_indices for the step as stored: each value's nearest index.
void encode_iq4_nl_indices(const float x[32], float step, uint8_t qs[16]) {
  const float inverse = step != 0.0f ? 1.0f / step : 0.0f;
  for (int l = 0; l < 16; ++l)
    qs[l] = static_cast<uint8_t>(nearest_iq4_nl(x[l] * inverse) | nearest_iq4_nl(x[l + 16] * inverse) << 4);
}

void quantize_iq4_nl(const float* x, BlockIQ4_NL* blocks, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, x += 32) {
    blocks[b].d = f32_to_f16(fit_iq4_nl(x));
    encode_iq4_nl_indices(x, f16_to_f32(blocks[b].d), blocks[b].qs);
  }
}

// The super-block scale of sixteen or eight sub-block scales stored as 6-bit integers in
// [-32, 31]: of its two signs, the one that gives the side with the larger scales the
// long end of the range (-32), the smaller |d| of the two.
float signed_six_bit_super_scale(const float* scales, int n) {
  float largest = 0.0f, most_negative = 0.0f;
  for (int j = 0; j < n; ++j) {
    largest = std::max(largest, scales[j]);
    most_negative = std::max(most_negative, -scales[j]);
  }
  const float positive_d = std::max(largest / 31.0f, most_negative / 32.0f);
  const float negative_d = std::max(largest / 32.0f, most_negative / 31.0f);
  return positive_d <= negative_d ? positive_d : -negative_d;
}

void quantize_iq4_xs(const float* x, BlockIQ4_XS* blocks, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockIQ4_XS& block = blocks[b];
    float scales[8];
    for (int j = 0; j < 8; ++j) scales[j] = fit_iq4_nl(x + 32 * j);
    block.d = f32_to_f16(signed_six_bit_super_scale(scales, 8));
    const float d = f16_to_f32(block.d);
    block.scales_h = 0;
    std::memset(block.scales_l, 0, sizeof block.scales_l);
    for (int j = 0; j < 8; ++j) {
      const int scale = d != 0.0f ? round_clamp(scales[j] / d, -32, 31) : 0;
      const int stored = scale + 32;
      block.scales_l[j / 2] |= static_cast<uint8_t>((stored & 0x0F) << (4 * (j % 2)));
      block.scales_h |= static_cast<uint16_t>((stored >> 4) << (2 * j));
      encode_iq4_nl_indices(x + 32 * j, d * static_cast<float>(scale), block.qs + 16 * j);
    }
  }
}

// Codes q[0..255] in [0, 3] (their low two bits for Q3_K) in the Q2_K / Q3_K byte order.
void store_low_two_bits(const int q[kQK_K], uint8_t qs[64]) {
  std::memset(qs, 0, 64);
  for (int i = 0; i < kQK_K; ++i) qs[32 * (i / 128) + i % 32] |= static_cast<uint8_t>((q[i] & 3) << (2 * (i % 128 / 32)));
}

void quantize_q2_k(const float* x, BlockQ2_K* blocks, size_t n_blocks) {
  int codes[kQK_K];
  for (size_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockQ2_K& block = blocks[b];
    float scales[16], mins[16];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      fit_asymmetric<16>(x + 16 * j, 3, scales[j], mins[j]);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    block.d = f32_to_f16(max_scale / 15.0f);
    block.dmin = f32_to_f16(max_min / 15.0f);
    const float d = f16_to_f32(block.d), dmin = f16_to_f32(block.dmin);
    for (int j = 0; j < 16; ++j) {
      const int scale = d > 0.0f ? round_clamp(scales[j] / d, 0, 15) : 0;
      const int min = dmin > 0.0f ? round_clamp(mins[j] / dmin, 0, 15) : 0;
      block.scales[j] = static_cast<uint8_t>(scale | min << 4);
      const float step = d * static_cast<float>(scale), offset = dmin * static_cast<float>(min);
      for (int i = 0; i < 16; ++i)
        codes[16 * j + i] = step > 0.0f ? round_clamp((x[16 * j + i] + offset) / step, 0, 3) : 0;
    }
    store_low_two_bits(codes, block.qs);
  }
}

void quantize_q3_k(const float* x, BlockQ3_K* blocks, size_t n_blocks) {
  int codes[kQK_K];
  for (size_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockQ3_K& block = blocks[b];
    float scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = fit_symmetric<16>(x + 16 * j, -4, 3);
    block.d = f32_to_f16(signed_six_bit_super_scale(scales, 16));
    const float d = f16_to_f32(block.d);
    uint8_t stored[16];
    for (int j = 0; j < 16; ++j) {
      const int scale = d != 0.0f ? round_clamp(scales[j] / d, -32, 31) : 0;
      stored[j] = static_cast<uint8_t>(scale + 32);
      const float step = d * static_cast<float>(scale);
      for (int i = 0; i < 16; ++i)
        codes[16 * j + i] = (step != 0.0f ? round_clamp(x[16 * j + i] / step, -4, 3) : 0) + 4;
    }
    pack_q3_k_scales(stored, block.scales);
    store_low_two_bits(codes, block.qs);
    std::memset(block.hmask, 0, sizeof block.hmask);
    for (int i = 0; i < kQK_K; ++i) block.hmask[i % 32] |= static_cast<uint8_t>((codes[i] >> 2) << (i / 32));
  }
}

// Q4_K and Q5_K share everything but the code width: fits each 32-value sub-block,
// quantizes the eight scales and mins to 6 bits against f16 super-scales, then codes
// the values with the scales as stored. Writes codes[256] in [0, nmax].
void quantize_k_scale_min(const float* x, int nmax, uint16_t& d_out, uint16_t& dmin_out, uint8_t scales_out[12],
                          int codes[kQK_K]) {
  float scales[8], mins[8];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    fit_asymmetric<32>(x + 32 * j, nmax, scales[j], mins[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  d_out = f32_to_f16(max_scale / 63.0f);
  dmin_out = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(d_out);
  const float dmin = f16_to_f32(dmin_out);
  ScaleMin6 pairs[8];
  for (int j = 0; j < 8; ++j) {
    pairs[j].scale = static_cast<uint8_t>(d > 0.0f ? round_clamp(scales[j] / d, 0, 63) : 0);
    pairs[j].min = static_cast<uint8_t>(dmin > 0.0f ? round_clamp(mins[j] / dmin, 0, 63) : 0);
  }
  pack_scale_min6(pairs, scales_out);
  for (int j = 0; j < 8; ++j) {
    const float step = d * pairs[j].scale;
    const float offset = dmin * pairs[j].min;
    for (int i = 0; i < 32; ++i)
      codes[32 * j + i] = step > 0.0f ? round_clamp((x[32 * j + i] + offset) / step, 0, nmax) : 0;
  }
}

void quantize_q4_k(const float* x, BlockQ4_K* blocks, size_t n_blocks) {
  int codes[kQK_K];
  for (size_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockQ4_K& block = blocks[b];
    quantize_k_scale_min(x, 15, block.d, block.dmin, block.scales, codes);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        block.qs[32 * c + l] = static_cast<uint8_t>(codes[64 * c + l] | (codes[64 * c + 32 + l] << 4));
  }
}

void quantize_q5_k(const float* x, BlockQ5_K* blocks, size_t n_blocks) {
  int codes[kQK_K];
  for (size_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockQ5_K& block = blocks[b];
    quantize_k_scale_min(x, 31, block.d, block.dmin, block.scales, codes);
    std::memset(block.qh, 0, sizeof block.qh);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        const int lo = codes[64 * c + l];
        const int hi = codes[64 * c + 32 + l];
        block.qs[32 * c + l] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
        block.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
  }
}

void quantize_q6_k(const float* x, BlockQ6_K* blocks, size_t n_blocks) {
  int codes[kQK_K];
  for (size_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockQ6_K& block = blocks[b];
    float scales[16];
    float max_abs = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_symmetric<16>(x + 16 * j, -32, 31);
      max_abs = std::max(max_abs, std::fabs(scales[j]));
    }
    block.d = f32_to_f16(max_abs / 127.0f);
    const float d = f16_to_f32(block.d);
    for (int j = 0; j < 16; ++j) {
      block.scales[j] = static_cast<int8_t>(d > 0.0f ? round_clamp(scales[j] / d, -127, 127) : 0);
      const float step = d * block.scales[j];
      for (int i = 0; i < 16; ++i)
        codes[16 * j + i] = (step != 0.0f ? round_clamp(x[16 * j + i] / step, -32, 31) : 0) + 32;
    }
    for (int h = 0; h < 2; ++h) {
      const int* q = codes + 128 * h;
      for (int l = 0; l < 32; ++l) {
        block.ql[64 * h + l] = static_cast<uint8_t>((q[l] & 0x0F) | ((q[l + 64] & 0x0F) << 4));
        block.ql[64 * h + 32 + l] = static_cast<uint8_t>((q[l + 32] & 0x0F) | ((q[l + 96] & 0x0F) << 4));
        block.qh[32 * h + l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                                    ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace

void dequantize_blocks(DType dtype, const void* src, float* dst, size_t count) {
  const size_t n_blocks = count / static_cast<size_t>(dtype_block_elements(dtype));
  switch (dtype) {
    case DType::kQ8_0: dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n_blocks); return;
    case DType::kQ4_0: dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n_blocks); return;
    case DType::kQ4_K: dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n_blocks); return;
    case DType::kQ5_K: dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, n_blocks); return;
    case DType::kQ6_K: dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n_blocks); return;
    case DType::kQ5_0: dequantize_q5(static_cast<const BlockQ5_0*>(src), dst, n_blocks); return;
    case DType::kQ5_1: dequantize_q5(static_cast<const BlockQ5_1*>(src), dst, n_blocks); return;
    case DType::kQ2_K: dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, n_blocks); return;
    case DType::kQ3_K: dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, n_blocks); return;
    case DType::kIQ4_NL: dequantize_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, n_blocks); return;
    case DType::kIQ4_XS: dequantize_iq4_xs(static_cast<const BlockIQ4_XS*>(src), dst, n_blocks); return;
    default:
      if (is_grid_format(dtype)) dequantize_grid_blocks(dtype, src, dst, n_blocks);
      return;  // otherwise not a block format: nothing to decode
  }
}

void quantize_blocks(DType dtype, const float* src, void* dst, size_t count) {
  const size_t n_blocks = count / static_cast<size_t>(dtype_block_elements(dtype));
  switch (dtype) {
    case DType::kQ8_0: quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n_blocks); return;
    case DType::kQ4_0: quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n_blocks); return;
    case DType::kQ4_K: quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), n_blocks); return;
    case DType::kQ5_K: quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), n_blocks); return;
    case DType::kQ6_K: quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), n_blocks); return;
    case DType::kQ5_0: quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), n_blocks); return;
    case DType::kQ5_1: quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), n_blocks); return;
    case DType::kQ2_K: quantize_q2_k(src, static_cast<BlockQ2_K*>(dst), n_blocks); return;
    case DType::kQ3_K: quantize_q3_k(src, static_cast<BlockQ3_K*>(dst), n_blocks); return;
    case DType::kIQ4_NL: quantize_iq4_nl(src, static_cast<BlockIQ4_NL*>(dst), n_blocks); return;
    case DType::kIQ4_XS: quantize_iq4_xs(src, static_cast<BlockIQ4_XS*>(dst), n_blocks); return;
    default:
      if (is_grid_format(dtype)) quantize_grid_blocks(dtype, src, dst, n_blocks);
      return;  // otherwise not a block format
  }
}

void encode_values(DType dtype, const float* src, void* dst, size_t count) {
  switch (dtype) {
    case DType::kF32: std::memcpy(dst, src, count * sizeof(float)); return;
    case DType::kF16:
      for (size_t i = 0; i < count; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_f16(src[i]);
      return;
    case DType::kBF16:
      for (size_t i = 0; i < count; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    default: quantize_blocks(dtype, src, dst, count);
  }
}

void decode_values(DType dtype, const void* src, float* dst, size_t count) {
  switch (dtype) {
    case DType::kF32: std::memcpy(dst, src, count * sizeof(float)); return;
    case DType::kF16:
      for (size_t i = 0; i < count; ++i) dst[i] = f16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case DType::kBF16:
      for (size_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    default: dequantize_blocks(dtype, src, dst, count);
  }
}

}  // namespace dsinfer
