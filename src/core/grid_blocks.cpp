#include "core/grid_blocks.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/grid_codebooks.h"

namespace dsinfer {
namespace {

// The eight sign bits of a group stored as seven: the eighth makes the count even.
constexpr uint8_t even_signs(uint32_t seven) {
  return static_cast<uint8_t>((seven & 127) | (std::popcount(seven & 127) & 1) << 7);
}

uint32_t word_at(const uint8_t* bytes) {
  uint32_t w;
  std::memcpy(&w, bytes, 4);
  return w;
}

// Byte j of each mask is 0xFF where bit j of its index is set.
constexpr std::array<uint64_t, 256> kSignMasks = [] {
  std::array<uint64_t, 256> masks{};
  for (int s = 0; s < 256; ++s)
    for (int j = 0; j < 8; ++j)
      if (s >> j & 1) masks[static_cast<size_t>(s)] |= uint64_t{0xFF} << (8 * j);
  return masks;
}();

// The masks of seven stored sign bits and the eighth they imply (a table: the baseline
// x86-64 target has no popcount instruction, and the decoders' time is in these lookups).
constexpr std::array<uint64_t, 128> kEvenSignMasks = [] {
  std::array<uint64_t, 128> masks{};
  for (uint32_t s = 0; s < 128; ++s) masks[s] = kSignMasks[even_signs(s)];
  return masks;
}();

constexpr uint64_t kByteOnes = 0x0101010101010101;

// Eight magnitudes (bytes of 1..62: every coordinate of the signed books) with the bytes
// under 0xFF bytes of `mask` negated: -v = ~v + 1 byte by byte, which never carries into
// the next byte for these magnitudes.
uint64_t signed_word(uint64_t magnitudes, uint64_t mask) { return (magnitudes ^ mask) + (mask & kByteOnes); }

void store_codes(uint64_t word, int8_t* codes) { std::memcpy(codes, &word, 8); }

// IQ1's codes: 8 * point + the shift's sign (+-1), byte by byte. Each byte of the word is
// -1, 0 or 1; shifted left by three and masked, -8, 0 or 8.
uint64_t shifted_word(uint64_t point, bool minus) {
  const uint64_t eight = (point << 3) & 0xF8F8F8F8F8F8F8F8;
  const uint64_t shift = minus ? ~uint64_t{0} : kByteOnes;
  // Bytewise addition: the low seven bits add without reaching the next byte, the top
  // bits by exclusive or.
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7F;
  return ((eight & kLow7) + (shift & kLow7)) ^ ((eight ^ shift) & ~kLow7);
}

// Codes of the point `index` with the signs as above (the encoders' side).
void signed_point(Codebook book, int index, uint32_t signs, int first_bit, int8_t* codes) {
  const CodebookPoints& points = codebook_points(book);
  const int8_t* p = points.point(index);
  for (int j = 0; j < points.dims; ++j)
    codes[j] = static_cast<int8_t>((signs >> (first_bit + j)) & 1 ? -p[j] : p[j]);
}

void shifted_point(int index, bool minus, int8_t* codes) {
  store_codes(shifted_word(codebook_points(Codebook::kIQ1S).words[index], minus), codes);
}

// ---------------------------------------------------------------- decoders

// Each format's sixteen 16-value steps (GridCodes::steps).
void iq2_xxs_steps(const BlockIQ2_XXS& b, float* steps) {
  const float d = f16_to_f32(b.d);
  const auto* qs = reinterpret_cast<const uint8_t*>(b.qs);
  for (int ib = 0; ib < 8; ++ib)
    steps[2 * ib] = steps[2 * ib + 1] = d * (0.5f + static_cast<float>(word_at(qs + 8 * ib + 4) >> 28)) * 0.25f;
}

// IQ2_XS and IQ2_S: a 4-bit scale per 16 values, low nibble first.
void iq2_half_steps(uint16_t d16, const uint8_t scales[8], float* steps) {
  const float d = f16_to_f32(d16);
  for (int ib = 0; ib < 8; ++ib) {
    steps[2 * ib] = d * (0.5f + static_cast<float>(scales[ib] & 15)) * 0.25f;
    steps[2 * ib + 1] = d * (0.5f + static_cast<float>(scales[ib] >> 4)) * 0.25f;
  }
}

void iq3_xxs_steps(const BlockIQ3_XXS& b, float* steps) {
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib)
    steps[2 * ib] = steps[2 * ib + 1] = d * (0.5f + static_cast<float>(word_at(b.qs + 64 + 4 * ib) >> 28)) * 0.5f;
}

void iq3_s_steps(const BlockIQ3_S& b, float* steps) {
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib)
    steps[2 * ib] = steps[2 * ib + 1] = d * static_cast<float>(1 + 2 * ((b.scales[ib / 2] >> (4 * (ib % 2))) & 15));
}

void iq1_s_steps(const BlockIQ1_S& b, float* steps) {
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib)
    steps[2 * ib] = steps[2 * ib + 1] = d * static_cast<float>(2 * ((b.qh[ib] >> 12) & 7) + 1) * 0.125f;
}

uint16_t iq1_m_super_scale(const BlockIQ1_M& b) {
  return static_cast<uint16_t>((b.scales[0] >> 12) | ((b.scales[1] >> 8) & 0x00F0) | ((b.scales[2] >> 4) & 0x0F00) |
                               (b.scales[3] & 0xF000));
}

void iq1_m_steps(const BlockIQ1_M& b, float* steps) {
  const float d = f16_to_f32(iq1_m_super_scale(b));
  for (int h = 0; h < 16; ++h)  // half h: bits 3 (h % 4) of word h / 4
    steps[h] = d * static_cast<float>(2 * ((b.scales[h / 4] >> (3 * (h % 4))) & 7) + 1) * 0.125f;
}

void decode_iq2_xxs(const BlockIQ2_XXS& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ2XXS).words;
  const auto* qs = reinterpret_cast<const uint8_t*>(b.qs);
  iq2_xxs_steps(b, out.steps);
  for (int ib = 0; ib < 8; ++ib) {
    const uint32_t points = word_at(qs + 8 * ib), signs = word_at(qs + 8 * ib + 4);
    for (int l = 0; l < 4; ++l)
      store_codes(signed_word(grid[(points >> (8 * l)) & 255], kEvenSignMasks[(signs >> (7 * l)) & 127]),
                  out.codes + 32 * ib + 8 * l);
  }
}

void decode_iq2_xs(const BlockIQ2_XS& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ2XS).words;
  iq2_half_steps(b.d, b.scales, out.steps);
  for (int ib = 0; ib < 8; ++ib)
    for (int l = 0; l < 4; ++l) {
      const uint16_t q = b.qs[4 * ib + l];
      store_codes(signed_word(grid[q & 511], kEvenSignMasks[q >> 9]), out.codes + 32 * ib + 8 * l);
    }
}

void decode_iq2_s(const BlockIQ2_S& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ2S).words;
  iq2_half_steps(b.d, b.scales, out.steps);
  for (int ib = 0; ib < 8; ++ib)
    for (int l = 0; l < 4; ++l) {
      const int index = b.qs[4 * ib + l] | ((b.qh[ib] >> (2 * l)) & 3) << 8;
      store_codes(signed_word(grid[index], kSignMasks[b.qs[32 + 4 * ib + l]]), out.codes + 32 * ib + 8 * l);
    }
}

void decode_iq3_xxs(const BlockIQ3_XXS& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ3XXS).words;
  iq3_xxs_steps(b, out.steps);
  for (int ib = 0; ib < 8; ++ib) {
    const uint32_t scale_signs = word_at(b.qs + 64 + 4 * ib);
    for (int l = 0; l < 4; ++l) {
      const uint64_t magnitudes = grid[b.qs[8 * ib + 2 * l]] | grid[b.qs[8 * ib + 2 * l + 1]] << 32;
      store_codes(signed_word(magnitudes, kEvenSignMasks[(scale_signs >> (7 * l)) & 127]), out.codes + 32 * ib + 8 * l);
    }
  }
}

void decode_iq3_s(const BlockIQ3_S& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ3S).words;
  iq3_s_steps(b, out.steps);
  for (int ib = 0; ib < 8; ++ib)
    for (int l = 0; l < 4; ++l) {
      const int first = b.qs[8 * ib + 2 * l] | ((b.qh[ib] >> (2 * l)) & 1) << 8;
      const int second = b.qs[8 * ib + 2 * l + 1] | ((b.qh[ib] >> (2 * l + 1)) & 1) << 8;
      store_codes(signed_word(grid[first] | grid[second] << 32, kSignMasks[b.signs[4 * ib + l]]),
                  out.codes + 32 * ib + 8 * l);
    }
}

void decode_iq1_s(const BlockIQ1_S& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ1S).words;
  iq1_s_steps(b, out.steps);
  for (int ib = 0; ib < 8; ++ib) {
    const uint16_t qh = b.qh[ib];
    for (int l = 0; l < 4; ++l)
      store_codes(shifted_word(grid[b.qs[4 * ib + l] | ((qh >> (3 * l)) & 7) << 8], qh & 0x8000),
                  out.codes + 32 * ib + 8 * l);
  }
}

void decode_iq1_m(const BlockIQ1_M& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ1S).words;
  iq1_m_steps(b, out.steps);
  for (int ib = 0; ib < 8; ++ib)
    for (int l = 0; l < 4; ++l) {
      const int nibble = (b.qh[2 * ib + l / 2] >> (4 * (l % 2))) & 15;
      store_codes(shifted_word(grid[b.qs[4 * ib + l] | (nibble & 7) << 8], nibble & 8), out.codes + 32 * ib + 8 * l);
    }
}

// ---------------------------------------------------------------- encoders
//
// Each format's values share a step per unit (32 or 16 values) of a super-block; the
// step is d times a small integer's multiplier. The encoders find each unit's best step
// by a search over candidates (the codes re-chosen at each, then the least-squares step
// for those codes), pick d to cover the largest, round each unit's step to its nearest
// multiplier, and choose the codes again at the stored steps.

// A 16- or 32-value unit's codes, value = step * code.
struct UnitCodes {
  int8_t codes[32];
};

float squared_error(const float* x, const int8_t* codes, int n, float step) {
  float e = 0;
  for (int i = 0; i < n; ++i) e += (x[i] - step * codes[i]) * (x[i] - step * codes[i]);
  return e;
}

// The unit's best step: candidates around amax / top_code, each refitted.
template <typename Encode>
float search_step(const float* x, int n, float top_code, Encode encode) {
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0) return 0;
  float best_step = amax / top_code, best_error = INFINITY;
  for (float f = 0.55f; f < 1.2f; f += 0.05f) {
    UnitCodes c;
    encode(x, amax / top_code * f, c.codes);
    float xc = 0, cc = 0;
    for (int i = 0; i < n; ++i) xc += x[i] * c.codes[i], cc += static_cast<float>(c.codes[i] * c.codes[i]);
    if (cc == 0 || xc <= 0) continue;
    const float step = xc / cc;
    if (const float e = squared_error(x, c.codes, n, step); e < best_error) best_error = e, best_step = step;
  }
  return best_step;
}

// d (an f16 value) and per-unit integers s in [0, s_max] with d * multiplier(s) near each
// wanted step.
template <typename Multiplier>
uint16_t fit_super_scale(const float* wanted, int units, int s_max, Multiplier multiplier, int* s) {
  const float top = *std::max_element(wanted, wanted + units);
  const uint16_t d16 = f32_to_f16(top / multiplier(s_max));
  const float d = f16_to_f32(d16);
  for (int u = 0; u < units; ++u) {
    s[u] = 0;
    for (int k = 1; k <= s_max; ++k)
      if (std::fabs(d * multiplier(k) - wanted[u]) < std::fabs(d * multiplier(s[u]) - wanted[u])) s[u] = k;
  }
  return d16;
}

// A group of 8 values as signed book points (two for the four-coordinate books) at
// `step`: the points and the sign byte. With `even`, the value of least magnitude takes
// the sign that makes the count of minus signs even, and the smallest level.
struct SignedGroup {
  int points[2];
  uint8_t signs;
};

SignedGroup encode_signed_group(Codebook book, const float* x, float step, bool even) {
  SignedGroup g{{0, 0}, 0};
  float target[8];
  int smallest = 0;
  for (int j = 0; j < 8; ++j) {
    if (x[j] < 0) g.signs |= static_cast<uint8_t>(1 << j);
    target[j] = step > 0 ? std::fabs(x[j]) / step : 0;
    if (std::fabs(x[j]) < std::fabs(x[smallest])) smallest = j;
  }
  if (even && std::popcount(g.signs) % 2) {
    g.signs ^= static_cast<uint8_t>(1 << smallest);
    target[smallest] = 0;
  }
  const int dims = codebook_points(book).dims;
  for (int k = 0; k < 8 / dims; ++k) g.points[k] = nearest_codebook_point(book, target + dims * k);
  return g;
}

void signed_group_codes(Codebook book, const SignedGroup& g, int8_t* codes) {
  const int dims = codebook_points(book).dims;
  for (int k = 0; k < 8 / dims; ++k) signed_point(book, g.points[k], g.signs, dims * k, codes + dims * k);
}

// Unit encoders for the signed books: n values (16 or 32) group by group.
auto signed_unit(Codebook book, int n, bool even) {
  return [book, n, even](const float* x, float step, int8_t* codes) {
    for (int l = 0; l < n / 8; ++l) signed_group_codes(book, encode_signed_group(book, x + 8 * l, step, even), codes + 8 * l);
  };
}

// The largest code a book's point can give, the scale search's starting point.
float top_level(Codebook book) { return codebook_points(book).levels.back(); }

void quantize_iq2_xxs(const float* x, BlockIQ2_XXS& b) {
  float wanted[8];
  for (int ib = 0; ib < 8; ++ib)
    wanted[ib] = search_step(x + 32 * ib, 32, top_level(Codebook::kIQ2XXS), signed_unit(Codebook::kIQ2XXS, 32, true));
  int s[8];
  b.d = fit_super_scale(wanted, 8, 15, [](int k) { return (0.5f + k) * 0.25f; }, s);
  const float d = f16_to_f32(b.d);
  auto* qs = reinterpret_cast<uint8_t*>(b.qs);
  for (int ib = 0; ib < 8; ++ib) {
    const float step = d * (0.5f + static_cast<float>(s[ib])) * 0.25f;
    uint32_t points = 0, signs = static_cast<uint32_t>(s[ib]) << 28;
    for (int l = 0; l < 4; ++l) {
      const SignedGroup g = encode_signed_group(Codebook::kIQ2XXS, x + 32 * ib + 8 * l, step, true);
      points |= static_cast<uint32_t>(g.points[0]) << (8 * l);
      signs |= static_cast<uint32_t>(g.signs & 127) << (7 * l);
    }
    std::memcpy(qs + 8 * ib, &points, 4);
    std::memcpy(qs + 8 * ib + 4, &signs, 4);
  }
}

// IQ2_XS and IQ2_S: a step per 16 values.
template <typename Block>
void quantize_iq2_halves(const float* x, Codebook book, bool even, Block& b, int s[16]) {
  float wanted[16];
  for (int h = 0; h < 16; ++h) wanted[h] = search_step(x + 16 * h, 16, top_level(book), signed_unit(book, 16, even));
  b.d = fit_super_scale(wanted, 16, 15, [](int k) { return (0.5f + k) * 0.25f; }, s);
  for (int ib = 0; ib < 8; ++ib) b.scales[ib] = static_cast<uint8_t>(s[2 * ib] | s[2 * ib + 1] << 4);
}

void quantize_iq2_xs(const float* x, BlockIQ2_XS& b) {
  int s[16];
  quantize_iq2_halves(x, Codebook::kIQ2XS, true, b, s);
  const float d = f16_to_f32(b.d);
  for (int group = 0; group < 32; ++group) {
    const float step = d * (0.5f + static_cast<float>(s[group / 2])) * 0.25f;
    const SignedGroup g = encode_signed_group(Codebook::kIQ2XS, x + 8 * group, step, true);
    b.qs[group] = static_cast<uint16_t>(g.points[0] | (g.signs & 127) << 9);
  }
}

void quantize_iq2_s(const float* x, BlockIQ2_S& b) {
  int s[16];
  quantize_iq2_halves(x, Codebook::kIQ2S, false, b, s);
  const float d = f16_to_f32(b.d);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int group = 0; group < 32; ++group) {
    const float step = d * (0.5f + static_cast<float>(s[group / 2])) * 0.25f;
    const SignedGroup g = encode_signed_group(Codebook::kIQ2S, x + 8 * group, step, false);
    b.qs[group] = static_cast<uint8_t>(g.points[0] & 255);
    b.qh[group / 4] |= static_cast<uint8_t>((g.points[0] >> 8) << (2 * (group % 4)));
    b.qs[32 + group] = g.signs;
  }
}

void quantize_iq3_xxs(const float* x, BlockIQ3_XXS& b) {
  float wanted[8];
  for (int ib = 0; ib < 8; ++ib)
    wanted[ib] = search_step(x + 32 * ib, 32, top_level(Codebook::kIQ3XXS), signed_unit(Codebook::kIQ3XXS, 32, true));
  int s[8];
  b.d = fit_super_scale(wanted, 8, 15, [](int k) { return (0.5f + k) * 0.5f; }, s);
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const float step = d * (0.5f + static_cast<float>(s[ib])) * 0.5f;
    uint32_t scale_signs = static_cast<uint32_t>(s[ib]) << 28;
    for (int l = 0; l < 4; ++l) {
      const SignedGroup g = encode_signed_group(Codebook::kIQ3XXS, x + 32 * ib + 8 * l, step, true);
      b.qs[8 * ib + 2 * l] = static_cast<uint8_t>(g.points[0]);
      b.qs[8 * ib + 2 * l + 1] = static_cast<uint8_t>(g.points[1]);
      scale_signs |= static_cast<uint32_t>(g.signs & 127) << (7 * l);
    }
    std::memcpy(b.qs + 64 + 4 * ib, &scale_signs, 4);
  }
}

void quantize_iq3_s(const float* x, BlockIQ3_S& b) {
  float wanted[8];
  for (int ib = 0; ib < 8; ++ib)
    wanted[ib] = search_step(x + 32 * ib, 32, top_level(Codebook::kIQ3S), signed_unit(Codebook::kIQ3S, 32, false));
  int s[8];
  b.d = fit_super_scale(wanted, 8, 15, [](int k) { return static_cast<float>(1 + 2 * k); }, s);
  const float d = f16_to_f32(b.d);
  std::memset(b.qh, 0, sizeof b.qh);
  std::memset(b.scales, 0, sizeof b.scales);
  for (int ib = 0; ib < 8; ++ib) {
    b.scales[ib / 2] |= static_cast<uint8_t>(s[ib] << (4 * (ib % 2)));
    const float step = d * static_cast<float>(1 + 2 * s[ib]);
    for (int l = 0; l < 4; ++l) {
      const SignedGroup g = encode_signed_group(Codebook::kIQ3S, x + 32 * ib + 8 * l, step, false);
      for (int k = 0; k < 2; ++k) {
        b.qs[8 * ib + 2 * l + k] = static_cast<uint8_t>(g.points[k] & 255);
        b.qh[ib] |= static_cast<uint8_t>((g.points[k] >> 8) << (2 * l + k));
      }
      b.signs[4 * ib + l] = g.signs;
    }
  }
}

// An IQ1 group at `step` (a code unit: an eighth of the scale) with the given shift sign:
// the nearest book point to x / (8 step) - shift, and its codes.
int encode_iq1_group(const float* x, float step, bool minus, int8_t* codes) {
  float target[8];
  const float shift = minus ? -0.125f : 0.125f;
  for (int j = 0; j < 8; ++j) target[j] = step > 0 ? x[j] / (8 * step) - shift : 0;
  const int index = nearest_codebook_point(Codebook::kIQ1S, target);
  shifted_point(index, minus, codes);
  return index;
}

// IQ1's unit encoder: n values in groups of 8, each group's shift the better of the two
// (IQ1_M) or one shift for the unit (IQ1_S, the better for the whole unit).
auto iq1_unit(int n, bool shift_per_group) {
  return [n, shift_per_group](const float* x, float step, int8_t* codes) {
    if (shift_per_group) {
      for (int l = 0; l < n / 8; ++l) {
        int8_t plus[8], minus[8];
        encode_iq1_group(x + 8 * l, step, false, plus);
        encode_iq1_group(x + 8 * l, step, true, minus);
        std::memcpy(codes + 8 * l, squared_error(x + 8 * l, plus, 8, step) <= squared_error(x + 8 * l, minus, 8, step) ? plus : minus, 8);
      }
      return;
    }
    int8_t plus[32], minus[32];
    for (int l = 0; l < n / 8; ++l) {
      encode_iq1_group(x + 8 * l, step, false, plus + 8 * l);
      encode_iq1_group(x + 8 * l, step, true, minus + 8 * l);
    }
    std::memcpy(codes, squared_error(x, plus, n, step) <= squared_error(x, minus, n, step) ? plus : minus, n);
  };
}

void quantize_iq1_s(const float* x, BlockIQ1_S& b) {
  float wanted[8];
  for (int ib = 0; ib < 8; ++ib) wanted[ib] = search_step(x + 32 * ib, 32, 9.0f, iq1_unit(32, false));
  int s[8];
  // wanted steps are code units (an eighth of d * (2s + 1)).
  b.d = fit_super_scale(wanted, 8, 7, [](int k) { return static_cast<float>(2 * k + 1) * 0.125f; }, s);
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const float step = d * static_cast<float>(2 * s[ib] + 1) * 0.125f;
    int index[2][4];
    int8_t codes[2][32];
    for (int m = 0; m < 2; ++m)
      for (int l = 0; l < 4; ++l) index[m][l] = encode_iq1_group(x + 32 * ib + 8 * l, step, m == 1, codes[m] + 8 * l);
    const int m = squared_error(x + 32 * ib, codes[0], 32, step) <= squared_error(x + 32 * ib, codes[1], 32, step) ? 0 : 1;
    uint16_t qh = static_cast<uint16_t>(s[ib] << 12 | m << 15);
    for (int l = 0; l < 4; ++l) {
      b.qs[4 * ib + l] = static_cast<uint8_t>(index[m][l] & 255);
      qh |= static_cast<uint16_t>((index[m][l] >> 8) << (3 * l));
    }
    b.qh[ib] = qh;
  }
}

void quantize_iq1_m(const float* x, BlockIQ1_M& b) {
  float wanted[16];
  for (int h = 0; h < 16; ++h) wanted[h] = search_step(x + 16 * h, 16, 9.0f, iq1_unit(16, true));
  int s[16];
  const uint16_t d16 = fit_super_scale(wanted, 16, 7, [](int k) { return static_cast<float>(2 * k + 1) * 0.125f; }, s);
  const float d = f16_to_f32(d16);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int k = 0; k < 4; ++k) b.scales[k] = static_cast<uint16_t>(((d16 >> (4 * k)) & 15) << 12);
  for (int h = 0; h < 16; ++h) b.scales[h / 4] |= static_cast<uint16_t>(s[h] << (3 * (h % 4)));
  for (int group = 0; group < 32; ++group) {
    const float step = d * static_cast<float>(2 * s[group / 2] + 1) * 0.125f;
    int8_t plus[8], minus[8];
    const int ip = encode_iq1_group(x + 8 * group, step, false, plus);
    const int im = encode_iq1_group(x + 8 * group, step, true, minus);
    const bool use_minus = squared_error(x + 8 * group, minus, 8, step) < squared_error(x + 8 * group, plus, 8, step);
    const int index = use_minus ? im : ip;
    b.qs[group] = static_cast<uint8_t>(index & 255);
    b.qh[group / 2] |= static_cast<uint8_t>(((index >> 8) | (use_minus ? 8 : 0)) << (4 * (group % 2)));
  }
}

}  // namespace

bool is_grid_format(DType dtype) {
  switch (dtype) {
    case DType::kIQ2_XXS:
    case DType::kIQ2_XS:
    case DType::kIQ2_S:
    case DType::kIQ3_XXS:
    case DType::kIQ3_S:
    case DType::kIQ1_S:
    case DType::kIQ1_M: return true;
    default: return false;
  }
}

void decode_grid_codes(DType dtype, const void* block, GridCodes& out) {
  switch (dtype) {
    case DType::kIQ2_XXS: return decode_iq2_xxs(*static_cast<const BlockIQ2_XXS*>(block), out);
    case DType::kIQ2_XS: return decode_iq2_xs(*static_cast<const BlockIQ2_XS*>(block), out);
    case DType::kIQ2_S: return decode_iq2_s(*static_cast<const BlockIQ2_S*>(block), out);
    case DType::kIQ3_XXS: return decode_iq3_xxs(*static_cast<const BlockIQ3_XXS*>(block), out);
    case DType::kIQ3_S: return decode_iq3_s(*static_cast<const BlockIQ3_S*>(block), out);
    case DType::kIQ1_S: return decode_iq1_s(*static_cast<const BlockIQ1_S*>(block), out);
    case DType::kIQ1_M: return decode_iq1_m(*static_cast<const BlockIQ1_M*>(block), out);
    default: return;
  }
}

void decode_grid_steps(DType dtype, const void* block, float steps[16]) {
  switch (dtype) {
    case DType::kIQ2_XXS: return iq2_xxs_steps(*static_cast<const BlockIQ2_XXS*>(block), steps);
    case DType::kIQ2_XS: {
      const auto& b = *static_cast<const BlockIQ2_XS*>(block);
      return iq2_half_steps(b.d, b.scales, steps);
    }
    case DType::kIQ2_S: {
      const auto& b = *static_cast<const BlockIQ2_S*>(block);
      return iq2_half_steps(b.d, b.scales, steps);
    }
    case DType::kIQ3_XXS: return iq3_xxs_steps(*static_cast<const BlockIQ3_XXS*>(block), steps);
    case DType::kIQ3_S: return iq3_s_steps(*static_cast<const BlockIQ3_S*>(block), steps);
    case DType::kIQ1_S: return iq1_s_steps(*static_cast<const BlockIQ1_S*>(block), steps);
    case DType::kIQ1_M: return iq1_m_steps(*static_cast<const BlockIQ1_M*>(block), steps);
    default: return;
  }
}

void dequantize_grid_blocks(DType dtype, const void* src, float* dst, size_t n_blocks) {
  const size_t bytes = dtype_block_bytes(dtype);
  GridCodes g;
  for (size_t i = 0; i < n_blocks; ++i) {
    decode_grid_codes(dtype, static_cast<const uint8_t*>(src) + i * bytes, g);
    for (int v = 0; v < 256; ++v) dst[256 * i + v] = g.steps[v / 16] * static_cast<float>(g.codes[v]);
  }
}

void quantize_grid_blocks(DType dtype, const float* src, void* dst, size_t n_blocks) {
  const size_t bytes = dtype_block_bytes(dtype);
  for (size_t i = 0; i < n_blocks; ++i) {
    void* block = static_cast<uint8_t*>(dst) + i * bytes;
    const float* x = src + 256 * i;
    switch (dtype) {
      case DType::kIQ2_XXS: quantize_iq2_xxs(x, *static_cast<BlockIQ2_XXS*>(block)); break;
      case DType::kIQ2_XS: quantize_iq2_xs(x, *static_cast<BlockIQ2_XS*>(block)); break;
      case DType::kIQ2_S: quantize_iq2_s(x, *static_cast<BlockIQ2_S*>(block)); break;
      case DType::kIQ3_XXS: quantize_iq3_xxs(x, *static_cast<BlockIQ3_XXS*>(block)); break;
      case DType::kIQ3_S: quantize_iq3_s(x, *static_cast<BlockIQ3_S*>(block)); break;
      case DType::kIQ1_S: quantize_iq1_s(x, *static_cast<BlockIQ1_S*>(block)); break;
      case DType::kIQ1_M: quantize_iq1_m(x, *static_cast<BlockIQ1_M*>(block)); break;
      default: return;
    }
  }
}

}  // namespace dsinfer
