// Kernels::decode_grid for AVX-512: IQ2_XXS and IQ1_S super-blocks (the types of the
// 1.58-2-bit R1 / V3 / Kimi K2 files' experts) decoded sixty-four codes per register; the
// other grid formats through the scalar decoder. The codes and steps are the scalar
// decoder's, bit for bit (checked by the conformance suite).
//
// The scalar decoder spends about 13 instructions on each 8-value group. Here the
// codebook words of eight groups come in one gather, and the signs become a mask
// register: each group's sign byte is spread over its eight bytes and tested against
// the byte's own bit.
#if defined(__x86_64__)

#include <immintrin.h>

#include "backend/cpu/kernels.h"
#include "core/grid_codebooks.h"

#define DSINFER_AVX512_GRID __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw")))

namespace dsinfer::cpu {
namespace {

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

// The codebook words of groups 8 c .. 8 c + 7 from 32-bit indices (16 per register).
DSINFER_AVX512_GRID __m512i gather_words(const uint64_t* words, __m512i indices16, int half) {
  const __m256i eight = half ? _mm512_extracti64x4_epi64(indices16, 1) : _mm512_castsi512_si256(indices16);
  return _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), 0xFF, eight, words, 8);
}

DSINFER_AVX512_GRID void decode_iq2_xxs(const BlockIQ2_XXS& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ2XXS).words;
  // Dword 2 ib: the points of sub-block ib's four groups (a byte each); 2 ib + 1: their
  // seven sign bits each (group l at bit 7 l), and the scale.
  const __m512i words = _mm512_loadu_si512(b.qs);
  const __m512i points = _mm512_permutexvar_epi32(
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15), words);
  const __m512i index[2] = {_mm512_cvtepu8_epi32(_mm512_castsi512_si128(points)),
                            _mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(points, 1))};
  const __m512i shifts = _mm512_setr_epi32(0, 7, 14, 21, 0, 7, 14, 21, 0, 7, 14, 21, 0, 7, 14, 21);
  __m512i signs[2];
  for (int h = 0; h < 2; ++h) {
    const __m512i word_of_group = _mm512_add_epi32(
        _mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7), _mm512_set1_epi32(8 * h));
    const __m512i seven = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(word_of_group, words), shifts),
                                           _mm512_set1_epi32(127));
    // The eighth sign: the parity of the seven, folded into bit 0.
    __m512i parity = _mm512_xor_si512(seven, _mm512_srli_epi32(seven, 4));
    parity = _mm512_xor_si512(parity, _mm512_srli_epi32(parity, 2));
    parity = _mm512_xor_si512(parity, _mm512_srli_epi32(parity, 1));
    signs[h] = _mm512_or_si512(seven, _mm512_slli_epi32(_mm512_and_si512(parity, _mm512_set1_epi32(1)), 7));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i magnitudes = gather_words(grid, index[c / 2], c % 2);
    const __m512i codes =
        _mm512_mask_sub_epi8(magnitudes, sign_mask(signs[c / 2], c % 2), _mm512_setzero_si512(), magnitudes);
    _mm512_storeu_si512(out.codes + 64 * c, codes);
  }
  decode_grid_steps(DType::kIQ2_XXS, &b, out.steps);
}

DSINFER_AVX512_GRID void decode_iq1_s(const BlockIQ1_S& b, GridCodes& out) {
  const uint64_t* grid = codebook_points(Codebook::kIQ1S).words;
  // Group 4 ib + l: low eight bits qs[4 ib + l], high three bits 3 l of qh[ib].
  const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  const __m512i qh = _mm512_zextsi256_si512(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qh))));
  const __m512i shifts = _mm512_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9);
  __m512i index[2];
  for (int h = 0; h < 2; ++h) {
    const __m512i word_of_group = _mm512_add_epi32(
        _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), _mm512_set1_epi32(4 * h));
    const __m512i high = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(word_of_group, qh), shifts),
                                          _mm512_set1_epi32(7));
    const __m512i low16 = _mm512_cvtepu8_epi32(h ? _mm256_extracti128_si256(low, 1) : _mm256_castsi256_si128(low));
    index[h] = _mm512_or_si512(low16, _mm512_slli_epi32(high, 8));
  }
  const __m512i minus_one = _mm512_set1_epi8(-1), one = _mm512_set1_epi8(1);
  for (int c = 0; c < 4; ++c) {
    const __m512i points = gather_words(grid, index[c / 2], c % 2);
    // 8 * point byte by byte: shifted as 16-bit lanes, the bits a byte pushes into its
    // neighbour masked off.
    const __m512i eight = _mm512_and_si512(_mm512_slli_epi16(points, 3), _mm512_set1_epi8(static_cast<char>(0xF8)));
    // Sub-blocks 2c and 2c + 1: their shift's sign (bit 15 of qh) for 32 bytes each.
    const uint64_t minus = (b.qh[2 * c] & 0x8000 ? 0x00000000FFFFFFFFull : 0) |
                           (b.qh[2 * c + 1] & 0x8000 ? 0xFFFFFFFF00000000ull : 0);
    const __m512i shift = _mm512_mask_blend_epi8(_cvtu64_mask64(minus), one, minus_one);
    _mm512_storeu_si512(out.codes + 64 * c, _mm512_add_epi8(eight, shift));
  }
  decode_grid_steps(DType::kIQ1_S, &b, out.steps);
}

}  // namespace

void decode_grid_avx512(DType dtype, const void* block, GridCodes& out) {
  switch (dtype) {
    case DType::kIQ2_XXS: return decode_iq2_xxs(*static_cast<const BlockIQ2_XXS*>(block), out);
    case DType::kIQ1_S: return decode_iq1_s(*static_cast<const BlockIQ1_S*>(block), out);
    default: return decode_grid_codes(dtype, block, out);
  }
}

}  // namespace dsinfer::cpu

#endif  // __x86_64__
