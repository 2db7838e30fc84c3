// AVX-512 for the grid formats: Kernels::decode_grid with every grid type's super-blocks
// (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M: the types of the 1.58-3-bit
// R1 / V3 / Kimi K2 files' experts) decoded sixty-four codes per register; and
// Kernels::grid_rows_one_token, which multiplies those registers for one token without
// storing them (IQ1_S and IQ1_M: their points plus one, with the shift taken out of the
// codes, ShiftedProducts; one token 20.1 -> 17.4 ns per IQ1_S super-block and 24.1 -> 17.2
// for IQ1_M, docs/benchmarks.md, CPU backend, session 40). The codes and steps are the
// scalar decoder's, bit for bit (checked by the conformance suite).
//
// The codebook words of eight groups are loaded one by one and assembled: on the Zen 5
// this was measured on, the IQ2_XXS decoder took 22.3 ns per super-block with four 8-word
// gathers and 14.2 ns without. Signs become mask registers: each group's sign byte is
// spread over its eight bytes and tested against the byte's own bit.
#if defined(__x86_64__)

#include <immintrin.h>

#include "backend/cpu/kernels.h"
#include "core/grid_codebooks.h"

#define DSINFER_AVX512_GRID __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")))

namespace dsinfer::cpu {
namespace {

// A super-block in registers: 64 values per register as magnitudes (bytes 0 .. 62) and
// the mask of the negative ones, and the sixteen steps.
struct Decoded {
  __m512i magnitudes[4];
  __mmask64 minus[4];
  __m512 steps;
};

// The codebook words of indices k[0] .. k[7], low to high.
DSINFER_AVX512_GRID __m512i words8(const uint64_t* words, const int (&k)[8]) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_set_epi64x(static_cast<int64_t>(words[k[3]]), static_cast<int64_t>(words[k[2]]),
                                               static_cast<int64_t>(words[k[1]]), static_cast<int64_t>(words[k[0]]))),
      _mm256_set_epi64x(static_cast<int64_t>(words[k[7]]), static_cast<int64_t>(words[k[6]]),
                        static_cast<int64_t>(words[k[5]]), static_cast<int64_t>(words[k[4]])),
      1);
}

// The same for the IQ3 books' four-coordinate words: sixteen points, two per quadword.
template <typename Index>
DSINFER_AVX512_GRID __m512i words16(const uint64_t* words, const Index* k) {
  int64_t pairs[8];
  for (int i = 0; i < 8; ++i) pairs[i] = static_cast<int64_t>(words[k[2 * i]] | words[k[2 * i + 1]] << 32);
  return _mm512_loadu_si512(pairs);
}

// Each dword lane j of `bytes16` (j in [8 half, 8 half + 8)) holds a group's sign byte in
// its low byte: the mask whose bit 8 (j - 8 half) + i is bit i of that byte.
DSINFER_AVX512_GRID __mmask64 sign_mask(__m512i bytes16, int half) {
  const __m512i spread = _mm512_permutexvar_epi32(
      _mm512_add_epi32(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), _mm512_set1_epi32(8 * half)),
      bytes16);
  // Byte 0 of each quadword over all eight of its bytes (per 128-bit lane: bytes 0 and 8).
  const __m512i broadcast = _mm512_shuffle_epi8(
      spread, _mm512_set4_epi32(0x08080808, 0x08080808, 0x00000000, 0x00000000));
  return _mm512_test_epi8_mask(broadcast, _mm512_set1_epi64(static_cast<int64_t>(0x8040201008040201)));
}

// Seven stored sign bits per dword lane (bits 0-6) with the eighth they imply, the
// parity of the seven, at bit 7.
DSINFER_AVX512_GRID __m512i even_signs(__m512i seven) {
  __m512i parity = _mm512_xor_si512(seven, _mm512_srli_epi32(seven, 4));
  parity = _mm512_xor_si512(parity, _mm512_srli_epi32(parity, 2));
  parity = _mm512_xor_si512(parity, _mm512_srli_epi32(parity, 1));
  return _mm512_or_si512(seven, _mm512_slli_epi32(_mm512_and_si512(parity, _mm512_set1_epi32(1)), 7));
}

// Sixteen lanes of 7-bit fields: lane j is bits 7 (j % 4) .. of dword first + j / 4 of
// `words` (the IQ2_XXS / IQ3_XXS sign words), with their eighth signs.
DSINFER_AVX512_GRID __m512i signs_of_words(__m512i words, __m512i dword_of_lane) {
  const __m512i shifts = _mm512_setr_epi32(0, 7, 14, 21, 0, 7, 14, 21, 0, 7, 14, 21, 0, 7, 14, 21);
  return even_signs(_mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(dword_of_lane, words), shifts),
                                     _mm512_set1_epi32(127)));
}

// IQ1's codes: 8 * point byte by byte (shifted as 16-bit lanes, the bits a byte pushes
// into its neighbour masked off), plus one, or minus one under `minus`; kept as their
// magnitudes and signs.
DSINFER_AVX512_GRID void set_shifted(__m512i points, __mmask64 minus, Decoded& out, int c) {
  const __m512i eight = _mm512_and_si512(_mm512_slli_epi16(points, 3), _mm512_set1_epi8(static_cast<char>(0xF8)));
  const __m512i shift = _mm512_mask_blend_epi8(minus, _mm512_set1_epi8(1), _mm512_set1_epi8(-1));
  const __m512i codes = _mm512_add_epi8(eight, shift);
  out.magnitudes[c] = _mm512_abs_epi8(codes);
  out.minus[c] = _mm512_movepi8_mask(codes);
}

// The steps (GridCodes::steps) of the scalar decoder in its order of operations, from
// sixteen integer multipliers m: (d * (0.5 + m)) * unit, or (d * (2 m + 1)) * unit.
DSINFER_AVX512_GRID __m512 half_steps(uint16_t d16, __m512i m, float unit) {
  const __m512 plus_half = _mm512_add_ps(_mm512_set1_ps(0.5f), _mm512_cvtepi32_ps(m));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(d16)), plus_half), _mm512_set1_ps(unit));
}
DSINFER_AVX512_GRID __m512 odd_steps(uint16_t d16, __m512i m, float unit) {
  const __m512 odd = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_add_epi32(m, m), _mm512_set1_epi32(1)));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(d16)), odd), _mm512_set1_ps(unit));
}

// Lane h of sixteen: dword h / 2 (a multiplier per 32 values repeated for both halves).
DSINFER_AVX512_GRID __m512i per_pair(__m512i v) {
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), v);
}

// Groups 16 h .. 16 h + 15 of eight values (IQ2_XS, IQ2_S) into registers 2 h and 2 h + 1:
// the codebook words of points index(g), and the signs of lane g - 16 h of `signs`
// (sign_mask).
template <class Index>
DSINFER_AVX512_GRID void set_sixteen_groups(const uint64_t* grid, __m512i signs, int h, Index index, Decoded& out) {
  for (int half = 0; half < 2; ++half) {
    const int first = 16 * h + 8 * half;
    int k[8];
    for (int g = 0; g < 8; ++g) k[g] = index(first + g);
    out.magnitudes[2 * h + half] = words8(grid, k);
    out.minus[2 * h + half] = sign_mask(signs, half);
  }
}

// IQ2_XS's and IQ2_S's steps: half h from nibble h % 2 of scales[h / 2].
DSINFER_AVX512_GRID __m512 iq2_half_steps(uint16_t d16, const uint8_t* scale_bytes) {
  const __m512i scales = per_pair(_mm512_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scale_bytes))));
  const __m512i nibbles = _mm512_and_si512(
      _mm512_srlv_epi32(scales, _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4)),
      _mm512_set1_epi32(15));
  return half_steps(d16, nibbles, 0.25f);
}

DSINFER_AVX512_GRID Decoded decode_iq2_xxs(const BlockIQ2_XXS& b) {
  Decoded out;
  const uint64_t* grid = codebook_points(Codebook::kIQ2XXS).words;
  // Dword 2 ib: the points of sub-block ib's four groups (a byte each); 2 ib + 1: their
  // seven sign bits each (group l at bit 7 l), and the scale in bits 28-31.
  const __m512i words = _mm512_loadu_si512(b.qs);
  const auto* q = reinterpret_cast<const uint8_t*>(b.qs);
  for (int h = 0; h < 2; ++h) {
    const __m512i signs = signs_of_words(
        words, _mm512_add_epi32(_mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7),
                                _mm512_set1_epi32(8 * h)));
    for (int half = 0; half < 2; ++half) {
      const uint8_t* p = q + 32 * h + 16 * half;
      const __m512i magnitudes = words8(grid, {p[0], p[1], p[2], p[3], p[8], p[9], p[10], p[11]});
      out.magnitudes[2 * h + half] = magnitudes;
      out.minus[2 * h + half] = sign_mask(signs, half);
    }
  }
  const __m512i scales = _mm512_srli_epi32(
      _mm512_permutexvar_epi32(_mm512_setr_epi32(1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11, 13, 13, 15, 15), words), 28);
  out.steps = half_steps(b.d, scales, 0.25f);
  return out;
}

DSINFER_AVX512_GRID Decoded decode_iq2_xs(const BlockIQ2_XS& b) {
  Decoded out;
  const uint64_t* grid = codebook_points(Codebook::kIQ2XS).words;
  // Group g: its point in bits 0-8 of qs[g], its seven signs in bits 9-15.
  for (int h = 0; h < 2; ++h) {
    const __m512i qs = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 16 * h)));
    set_sixteen_groups(grid, even_signs(_mm512_srli_epi32(qs, 9)), h, [&](int g) { return b.qs[g] & 511; }, out);
  }
  out.steps = iq2_half_steps(b.d, b.scales);
  return out;
}

DSINFER_AVX512_GRID Decoded decode_iq2_s(const BlockIQ2_S& b) {
  Decoded out;
  const uint64_t* grid = codebook_points(Codebook::kIQ2S).words;
  // Group g: the low eight bits of its point at qs[g], the top two at bits 2 (g % 4) of
  // qh[g / 4]; its eight signs, one per value, at qs[32 + g].
  for (int h = 0; h < 2; ++h) {
    const __m512i signs = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 32 + 16 * h)));
    set_sixteen_groups(grid, signs, h, [&](int g) { return b.qs[g] | ((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8; }, out);
  }
  out.steps = iq2_half_steps(b.d, b.scales);
  return out;
}

DSINFER_AVX512_GRID Decoded decode_iq3_xxs(const BlockIQ3_XXS& b) {
  Decoded out;
  const uint64_t* grid = codebook_points(Codebook::kIQ3XXS).words;
  // qs[0 .. 63]: a point of four values per byte; dword ib after them: sub-block ib's
  // seven sign bits per group of eight (group l at bit 7 l) and its scale in bits 28-31.
  const __m512i words = _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 64)));
  for (int h = 0; h < 2; ++h) {
    const __m512i signs = signs_of_words(
        words, _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                _mm512_set1_epi32(4 * h)));
    for (int half = 0; half < 2; ++half) {
      const int c = 2 * h + half;
      out.magnitudes[c] = words16(grid, b.qs + 16 * c);
      out.minus[c] = sign_mask(signs, half);
    }
  }
  out.steps = half_steps(b.d, _mm512_srli_epi32(per_pair(words), 28), 0.5f);
  return out;
}

DSINFER_AVX512_GRID Decoded decode_iq3_s(const BlockIQ3_S& b) {
  Decoded out;
  const uint64_t* grid = codebook_points(Codebook::kIQ3S).words;
  // Point k (four values): its low eight bits at qs[k], its ninth at bit k % 8 of
  // qh[k / 8]; group g's eight signs, one per value, at signs[g].
  // The points' indices worked out in vector registers and read back one by one.
  const __m512i qh = _mm512_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qh)));
  alignas(64) int index[64];
  for (int c = 0; c < 4; ++c) {
    const __m512i low = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16 * c)));
    const __m512i ninth = _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_permutexvar_epi32(_mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                                                    _mm512_set1_epi32(2 * c)),
                                                   qh),
                          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7)),
        _mm512_set1_epi32(1));
    _mm512_store_si512(index + 16 * c, _mm512_or_si512(low, _mm512_slli_epi32(ninth, 8)));
  }
  for (int h = 0; h < 2; ++h) {
    const __m512i signs = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.signs + 16 * h)));
    for (int half = 0; half < 2; ++half) {
      const int c = 2 * h + half;
      out.magnitudes[c] = words16(grid, index + 16 * c);
      out.minus[c] = sign_mask(signs, half);
    }
  }
  // Half h: sub-block h / 2's multiplier, nibble (h / 2) % 2 of scales[h / 4]; the scalar
  // steps d * (1 + 2 s), which times one keeps.
  uint32_t scale_word;
  __builtin_memcpy(&scale_word, b.scales, sizeof(scale_word));
  const __m512i bytes = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                                 _mm512_zextsi128_si512(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(static_cast<int>(scale_word)))));
  const __m512i m = _mm512_and_si512(
      _mm512_srlv_epi32(bytes, _mm512_setr_epi32(0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4)), _mm512_set1_epi32(15));
  out.steps = odd_steps(b.d, m, 1.0f);
  return out;
}

// IQ1_S's steps: sub-block ib's multiplier in bits 12-14 of qh[ib].
DSINFER_AVX512_GRID __m512 iq1_steps(const BlockIQ1_S& b) {
  const __m512i qh16 = _mm512_zextsi256_si512(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qh))));
  return odd_steps(b.d, _mm512_and_si512(_mm512_srli_epi32(per_pair(qh16), 12), _mm512_set1_epi32(7)), 0.125f);
}

// IQ1_M's steps: the f16 scale in the top nibbles of the four scale words; half h's
// multiplier in bits 3 (h % 4) of word h / 4.
DSINFER_AVX512_GRID __m512 iq1_steps(const BlockIQ1_M& b) {
  const uint16_t d16 = static_cast<uint16_t>((b.scales[0] >> 12) | ((b.scales[1] >> 8) & 0x00F0) |
                                             ((b.scales[2] >> 4) & 0x0F00) | (b.scales[3] & 0xF000));
  const __m512i words = _mm512_permutexvar_epi32(
      _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
      _mm512_zextsi128_si512(_mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.scales)))));
  const __m512i m = _mm512_and_si512(
      _mm512_srlv_epi32(words, _mm512_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9)), _mm512_set1_epi32(7));
  return odd_steps(d16, m, 0.125f);
}

// The 32 points' indices (group g's at index[g]), worked out in vector registers to be
// read back one by one, and per register c the lanes whose shift is -1.
// IQ1_S: group 4 ib + l's high bits at 3 l of qh[ib], the shift sign bit 15 of qh[ib].
[[gnu::always_inline]] DSINFER_AVX512_GRID inline void iq1_points(const BlockIQ1_S& b, int (&index)[32], __mmask16 (&minus)[4]) {
  const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  const __m512i qh16 = _mm512_zextsi256_si512(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qh))));
  for (int h = 0; h < 2; ++h) {
    const __m512i word_of_group = _mm512_add_epi32(
        _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), _mm512_set1_epi32(4 * h));
    const __m512i high = _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_permutexvar_epi32(word_of_group, qh16),
                          _mm512_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9)),
        _mm512_set1_epi32(7));
    const __m512i low16 = _mm512_cvtepu8_epi32(h ? _mm256_extracti128_si256(low, 1) : _mm256_castsi256_si128(low));
    _mm512_storeu_si512(index + 16 * h, _mm512_or_si512(low16, _mm512_slli_epi32(high, 8)));
  }
  for (int c = 0; c < 4; ++c)
    minus[c] = static_cast<__mmask16>((b.qh[2 * c] & 0x8000 ? 0x00FF : 0) | (b.qh[2 * c + 1] & 0x8000 ? 0xFF00 : 0));
}
// IQ1_M: group g's high bits and shift sign in nibble g % 2 of qh[g / 2] (bits 0-2, 3);
// two lanes per group.
[[gnu::always_inline]] DSINFER_AVX512_GRID inline void iq1_points(const BlockIQ1_M& b, int (&index)[32], __mmask16 (&minus)[4]) {
  const __m512i nibble_shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
  for (int h = 0; h < 2; ++h) {
    const __m512i qh = per_pair(_mm512_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qh + 8 * h))));
    const __m512i nibbles = _mm512_srlv_epi32(qh, nibble_shift);
    const __m512i low16 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16 * h)));
    _mm512_storeu_si512(index + 16 * h,
                        _mm512_or_si512(low16, _mm512_slli_epi32(_mm512_and_si512(nibbles, _mm512_set1_epi32(7)), 8)));
  }
  for (int c = 0; c < 4; ++c) {
    uint32_t word;
    __builtin_memcpy(&word, b.qh + 4 * c, sizeof(word));
    // Lane 2 j + i: group 8 c + j's sign, bit 4 j + 3 of the word.
    const __m512i shifted = _mm512_srlv_epi32(
        _mm512_set1_epi32(static_cast<int>(word)),
        _mm512_setr_epi32(3, 3, 7, 7, 11, 11, 15, 15, 19, 19, 23, 23, 27, 27, 31, 31));
    minus[c] = _mm512_test_epi32_mask(shifted, _mm512_set1_epi32(1));
  }
}

// IQ1_S and IQ1_M: group g's point index[g], its codes 8 p + 1, or 8 p - 1 in the lanes
// under minus (iq1_points).
template <class Block>
DSINFER_AVX512_GRID Decoded decode_iq1(const Block& b) {
  Decoded out;
  const uint64_t* grid = codebook_points(Codebook::kIQ1S).words;
  alignas(64) int index[32];
  __mmask16 minus[4];
  iq1_points(b, index, minus);
  for (int c = 0; c < 4; ++c) {
    const int* k = index + 8 * c;
    set_shifted(words8(grid, {k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]}),
                _mm512_movepi8_mask(_mm512_movm_epi32(minus[c])), out, c);
  }
  out.steps = iq1_steps(b);
  return out;
}

// Calls f with the format's decoder (a Decoded from a block's bytes); false where this
// file has none for dtype.
template <class F>
DSINFER_AVX512_GRID bool with_decoder(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kIQ2_XXS: f([](const uint8_t* p) DSINFER_AVX512_GRID { return decode_iq2_xxs(*reinterpret_cast<const BlockIQ2_XXS*>(p)); }); return true;
    case DType::kIQ2_XS: f([](const uint8_t* p) DSINFER_AVX512_GRID { return decode_iq2_xs(*reinterpret_cast<const BlockIQ2_XS*>(p)); }); return true;
    case DType::kIQ2_S: f([](const uint8_t* p) DSINFER_AVX512_GRID { return decode_iq2_s(*reinterpret_cast<const BlockIQ2_S*>(p)); }); return true;
    case DType::kIQ3_XXS: f([](const uint8_t* p) DSINFER_AVX512_GRID { return decode_iq3_xxs(*reinterpret_cast<const BlockIQ3_XXS*>(p)); }); return true;
    case DType::kIQ3_S: f([](const uint8_t* p) DSINFER_AVX512_GRID { return decode_iq3_s(*reinterpret_cast<const BlockIQ3_S*>(p)); }); return true;
    case DType::kIQ1_S: f([](const uint8_t* p) DSINFER_AVX512_GRID { return decode_iq1(*reinterpret_cast<const BlockIQ1_S*>(p)); }); return true;
    case DType::kIQ1_M: f([](const uint8_t* p) DSINFER_AVX512_GRID { return decode_iq1(*reinterpret_cast<const BlockIQ1_M*>(p)); }); return true;
    default: return false;
  }
}

// A row's super-block against one token's activation block: the integer dots of
// Kernels::dot_grid_rows (register c, lane j: the values 64 c + 4 j .. 64 c + 4 j + 3) and
// the sixteen steps.
struct RowDots {
  __m512i dots[4];
  __m512 steps;
};

// A decoder's registers multiplied as they are: the magnitudes (VPDPBUSD's unsigned side)
// against the activations negated under the signs. Needs nothing per token block.
template <class Decode>
struct SignedProducts {
  Decode decode;
  struct Token {};
  DSINFER_AVX512_GRID Token prepare(const __m512i (&)[4]) const { return {}; }
  DSINFER_AVX512_GRID RowDots operator()(const uint8_t* block, const __m512i (&q)[4], Token) const {
    const Decoded d = decode(block);
    RowDots out;
    for (int c = 0; c < 4; ++c)
      out.dots[c] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), d.magnitudes[c],
                                        _mm512_mask_sub_epi8(q[c], d.minus[c], _mm512_setzero_si512(), q[c]));
    out.steps = d.steps;
    return out;
  }
};

// IQ1's codes are 8 p + s, p a point's coordinate in {-1, 0, 1} and s = +-1 the group's
// shift, so a lane's dot is 8 (p + 1) . x + (s - 8) sum(x): the same integer, with the
// points plus one, times eight, as VPDPBUSD's unsigned side, no signs to apply, and the
// shift's term as the sum's starting value. Per token block, each lane's activation sum
// times -7 (s = 1) and -9 (s = -1).
struct ShiftTerms {
  __m512i plus[4], minus[4];
};

DSINFER_AVX512_GRID ShiftTerms shift_terms(const __m512i (&q)[4]) {
  ShiftTerms t;
  for (int c = 0; c < 4; ++c) {
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), q[c]);
    const __m512i eight = _mm512_slli_epi32(sum, 3);
    t.plus[c] = _mm512_sub_epi32(sum, eight);
    t.minus[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_add_epi32(eight, sum));
  }
  return t;
}

template <class Block>
struct ShiftedProducts {
  using Token = ShiftTerms;
  DSINFER_AVX512_GRID Token prepare(const __m512i (&q)[4]) const { return shift_terms(q); }
  DSINFER_AVX512_GRID RowDots operator()(const uint8_t* block, const __m512i (&q)[4], const ShiftTerms& t) const {
    const Block& b = *reinterpret_cast<const Block*>(block);
    const uint64_t* grid = codebook_points(Codebook::kIQ1S).words;
    alignas(64) int index[32];
    __mmask16 minus[4];
    iq1_points(b, index, minus);
    RowDots out;
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const int* k = index + 8 * c;
      // p + 1 in {0, 1, 2} per byte, then times eight within its byte.
      const __m512i points = _mm512_slli_epi16(
          _mm512_add_epi8(words8(grid, {k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]}), _mm512_set1_epi8(1)), 3);
      out.dots[c] = _mm512_dpbusd_epi32(_mm512_mask_blend_epi32(minus[c], t.plus[c], t.minus[c]), points, q[c]);
    }
    out.steps = iq1_steps(b);
    return out;
  }
};

// One token against a group's eight rows, each super-block multiplied in registers
// (Products: RowDots per row, from what it prepared once per token block). The integer
// dots are those of Kernels::dot_grid_rows, and so are the float operations and their
// order.
template <class Products>
DSINFER_AVX512_GRID void one_token_rows(const Products& products, const uint8_t* group, size_t block_bytes,
                                        int64_t blocks, const ActBlockQ8* x, float* acc) {
  const __m512i quarter = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  __m512 totals[8];
  for (int r = 0; r < 8; ++r) totals[r] = _mm512_loadu_ps(acc + 16 * r);
  for (int64_t b = 0; b < blocks; ++b) {
    const ActBlockQ8* xb = x + 8 * b;
    __m512i q[4];
    __m512 scales[4];
    for (int i = 0; i < 4; ++i) {
      q[i] = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[2 * i].qs))),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[2 * i + 1].qs)), 1);
      scales[i] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(xb[2 * i].d)),
                                                      _mm256_castps_pd(_mm256_set1_ps(xb[2 * i + 1].d)), 1));
    }
    const auto token = products.prepare(q);
    for (int r = 0; r < 8; ++r) {
      const RowDots d = products(group + static_cast<size_t>(8 * b + r) * block_bytes, q, token);
      __m512 sums;
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const __m512 factors =
            _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_add_epi32(quarter, _mm512_set1_epi32(4 * i)), d.steps), scales[i]);
        const __m512 products_i = _mm512_cvtepi32_ps(d.dots[i]);
        sums = i == 0 ? _mm512_mul_ps(products_i, factors) : _mm512_fmadd_ps(products_i, factors, sums);
      }
      totals[r] = _mm512_add_ps(totals[r], sums);
    }
  }
  for (int r = 0; r < 8; ++r) _mm512_storeu_ps(acc + 16 * r, totals[r]);
}

}  // namespace

DSINFER_AVX512_GRID void decode_grid_avx512(DType dtype, const void* block, GridCodes& out) {
  const bool decoded = with_decoder(dtype, [&](auto decode) DSINFER_AVX512_GRID {
    const Decoded d = decode(static_cast<const uint8_t*>(block));
    for (int c = 0; c < 4; ++c)
      _mm512_storeu_si512(out.codes + 64 * c,
                          _mm512_mask_sub_epi8(d.magnitudes[c], d.minus[c], _mm512_setzero_si512(), d.magnitudes[c]));
    _mm512_storeu_ps(out.steps, d.steps);
  });
  if (!decoded) decode_grid_codes(dtype, block, out);
}

DSINFER_AVX512_GRID bool grid_rows_one_token_avx512(DType dtype, const uint8_t* group, int64_t blocks, const ActBlockQ8* x,
                                                    float* acc) {
  const size_t block_bytes = dtype_block_bytes(dtype);
  if (dtype == DType::kIQ1_S) return one_token_rows(ShiftedProducts<BlockIQ1_S>{}, group, block_bytes, blocks, x, acc), true;
  if (dtype == DType::kIQ1_M) return one_token_rows(ShiftedProducts<BlockIQ1_M>{}, group, block_bytes, blocks, x, acc), true;
  return with_decoder(dtype, [&](auto decode) DSINFER_AVX512_GRID {
    one_token_rows(SignedProducts<decltype(decode)>{decode}, group, block_bytes, blocks, x, acc);
  });
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
