// Helpers shared by the x86-64 kernel files (kernels_avx2.cpp, kernels_avx512.cpp,
// kernels_amx.cpp): each is compiled for AVX2 (the pair helpers for AVX-512), which every table
// that uses it has, so they inline into the wider ISAs' functions too.
#pragma once
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "backend/cpu/kernels.h"
#include "core/dtype.h"

#define DSINFER_AVX2 __attribute__((target("avx2,fma,f16c")))
#define DSINFER_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq")))

namespace dsinfer::cpu::x86 {

DSINFER_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Eight BF16 values widened to float32.
DSINFER_AVX2 inline __m256 load_bf16x8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// Every BF16 row kernel of the x86 tables sums a row in this order: four accumulators
// over 32 values per step, then 8 at a time into the first, then these helpers, so a
// token's result is the same alone, in a group of four or in a row pair, on AVX2 or
// AVX-512. The last values take one fused multiply-add each, written out: left to the
// compiler's contraction, the same loop came out fused in one function and as separate
// multiplies and adds in another.
DSINFER_AVX2 inline float sum_of(const __m256 acc[4]) {
  return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

DSINFER_AVX2 inline float add_bf16_tail(float sum, const uint16_t* w, const float* x, int64_t i, int64_t n) {
  for (; i < n; ++i) sum = std::fma(bf16_to_f32(w[i]), x[i], sum);
  return sum;
}

// The rest of one row from value i (after the 32-value steps) onto acc, and its sum.
DSINFER_AVX2 inline float finish_bf16_dot(__m256 acc[4], const uint16_t* w, const float* x, int64_t i, int64_t n) {
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load_bf16x8(w + i), _mm256_loadu_ps(x + i), acc[0]);
  return add_bf16_tail(sum_of(acc), w, x, i, n);
}

// Splits n_tokens (1..kMaxSixteenRowTokens) into tiles of at most Max tokens and calls
// tile(nt, first) for each, nt an integral constant: the tile width is known at compile
// time, so each token's sums and accumulators live in registers.
template <int Max, typename Tile>
void for_token_tiles(int n_tokens, Tile&& tile) {
  for (int first = 0; first < n_tokens; first += Max) {
    const int n = std::min(Max, n_tokens - first);
    [&]<int... I>(std::integer_sequence<int, I...>) {
      ((n == I + 1 ? tile(std::integral_constant<int, I + 1>{}, first) : void()), ...);
    }(std::make_integer_sequence<int, Max>{});
  }
}

// Four activation bytes (one 4-value group) in every 32-bit lane.
DSINFER_AVX2 inline __m256i broadcast_group(const int8_t* qs) {
  int32_t group;
  __builtin_memcpy(&group, qs, sizeof(group));
  return _mm256_set1_epi32(group);
}

// How far ahead streaming kernels ask for weight bytes. The hardware prefetchers stop at
// every 4 KiB page and, on some machines, keep too few lines in flight: on a 2-core Xeon
// VM two threads read 15-16 GB/s prefetching 1 KiB ahead, 19 at 2 KiB, 20.5 at 4 KiB
// (docs/benchmarks.md, CPU backend session 10).
constexpr int64_t kPrefetchBytes = 4096;

// Interleaved blocks are 136 to 272 bytes: fetch the lines of a block
// kPrefetchPackedBlocks ahead, 4.1 to 8.2 KiB (measured at the 136- and 144-byte ones).
template <typename Block>
DSINFER_AVX2 inline void prefetch_block(const Block* w) {
  const char* p = reinterpret_cast<const char*>(w);
  for (size_t offset = 0; offset < sizeof(Block); offset += 64) _mm_prefetch(p + offset, _MM_HINT_T0);
}
constexpr int64_t kPrefetchPackedBlocks = 30;

// The sixteen-row kernels read two groups side by side: two streams a group's bytes
// apart, each fetched 16 KiB ahead. On a 2-core Xeon VM two threads of the FP4 tile read
// 19.9-20.4 GB/s this way at one token against 14.9-16.0 one group at a time 4 KiB ahead,
// Q4_0 21.7 against 18.7 (docs/benchmarks.md, CPU backend session 14).
constexpr int64_t kPairedPrefetchBytes = 16384;
template <typename Block>
DSINFER_AVX2 inline void prefetch_pair(const Block* w, const Block* w1) {
  constexpr int64_t ahead = kPairedPrefetchBytes / sizeof(Block);
  prefetch_block(w + ahead);
  prefetch_block(w1 + ahead);
}

// The far tiles for a few tokens read each range as one stream (a group at a time, front
// to back), kAhead bytes ahead, so that fewer bytes are fetched past a range's end for
// nothing. On a 2-core AMD EPYC (Zen 5) VM two threads of the Q8_0 tile read 53.5 GB/s that
// way against 41.0 with two adjacent groups per range 16 KiB ahead (the probe 62.3)
// (docs/benchmarks.md, CPU backend session 20). How far ahead depends on the cores'
// own prefetchers: on Intel Xeon VMs 4 KiB read the most (1 KiB lost a quarter, session
// 10); on the Zen 5 VM 1 KiB took 4-7% off A and B decode tokens against 4 KiB, 2 KiB
// 3-4%, 512 bytes added 6% (session 28).
constexpr int64_t kStreamPrefetchBytes = 4096;
constexpr int64_t kAmdStreamPrefetchBytes = 1024;
// AMD's one-token Q8_0 far tiles fetch nothing ahead (0): the cores' own prefetchers serve
// their streams better. On the Zen 5 VM the experts' loop of an A Q8_0 token took 0.974 of
// its time with the 1 KiB fetch (median of 26 runs, 22 shorter), token times 0.9842 (median
// of 75; B 0.9916 of 24), probes 38.6-78.3 GB/s; 2 KiB ahead was slower (a per-token switch in
// one process, docs/benchmarks.md, CPU backend, sessions 56-57).
constexpr int64_t kAmdQ8StreamPrefetchBytes = 0;
// The one-token FP4 far tiles and the FP8 and BF16 rows read side by side (V4 decode's
// weights) fetch kPrefetchBytes ahead, but half that on AMD's cores: on the Zen 5 VM,
// bench-v4 token times 0.946-0.981 of 4 KiB's at 2 KiB, 0.984-0.992 at 3 KiB, 0.970-0.996 at
// 1 KiB, the FP4 tiles alone 0.96-0.99 (a per-token switch in one process, docs/benchmarks.md,
// DeepSeek-V4, session 40).
constexpr int64_t kAmdRowsPrefetchBytes = 2048;
template <int64_t kBytes, int64_t kAhead = kStreamPrefetchBytes>
DSINFER_AVX2 inline void prefetch_stream(const void* at) {
  const char* p = static_cast<const char*>(at) + kAhead;
  for (int64_t offset = 0; offset < kBytes; offset += 64) _mm_prefetch(p + offset, _MM_HINT_T0);
}

// A Q4_0x8 block's codes, eight rows: the low nibbles (values 4k..4k+3) and the high
// ones (values 16+4k..) of each 4-value group k.
DSINFER_AVX2 inline void q4_0_codes(const BlockQ4_0x8& w, __m256i lo[4], __m256i hi[4]) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  for (int k = 0; k < 4; ++k) {
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * k));
    lo[k] = _mm256_and_si256(packed, low_nibbles);
    hi[k] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
  }
}

// Two 32-byte rows as the halves of one 512-bit register: the same four-code group of
// two interleaved eight-row groups, for the sixteen-row tiles (AVX-512 and AMX tables).
DSINFER_AVX512 inline __m512i load_pair(const uint8_t* first, const uint8_t* second) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(first))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(second)), 1);
}

// 64 bytes of weights streamed from memory, as two 256-bit loads: on the Zen 5 VM one
// 512-bit load per line read a BF16 matrix at 37-41 GB/s where two 256-bit loads read
// 51-53 and the probe 63 (docs/benchmarks.md, DeepSeek-V4, session 21).
DSINFER_AVX512 inline __m512i load_streamed_line(const void* p) {
  const auto* bytes = static_cast<const uint8_t*>(p);
  return load_pair(bytes, bytes + 32);
}

// The two groups' eight f16 row scales as sixteen floats, in load_pair's order.
DSINFER_AVX512 inline __m512 scales_pair(const uint16_t* first, const uint16_t* second) {
  const __m256i halves = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(second)),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(first)));
  return _mm512_cvtph_ps(halves);
}

// Q5_Kx8 is Q4_Kx8 plus fifth bits: the Q4_K parts of either.
inline const BlockQ4_Kx8& low_bits(const BlockQ4_Kx8& w) { return w; }
inline const BlockQ4_Kx8& low_bits(const BlockQ5_Kx8& w) { return w.low; }

// Bit k of every byte of `bits`, moved to bit 4 (the fifth bit of a code).
DSINFER_AVX2 inline __m256i fifth_bit(__m256i bits, int k) {
  const __m256i moved = k <= 4 ? _mm256_slli_epi16(bits, 4 - k) : _mm256_srli_epi16(bits, k - 4);
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

// A Q5_0x8 / Q5_1x8 block's codes, eight rows, as q4_0_codes gives Q4_0's: each nibble
// with its fifth bit from qh (bit k of a qh byte for group k's low nibble, bit 4 + k for
// its high one; layout in kernels.h).
template <typename Block>
DSINFER_AVX2 inline void q5_codes(const Block& w, __m256i lo[4], __m256i hi[4]) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i high_bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh));
  for (int k = 0; k < 4; ++k) {
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * k));
    lo[k] = _mm256_or_si256(_mm256_and_si256(packed, low_nibbles), fifth_bit(high_bits, k));
    hi[k] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles), fifth_bit(high_bits, 4 + k));
  }
}

// One Q5_0 / Q5_1 block of a token onto acc, from dot = sum(code * x.qs) over the block
// (exact): Q5_0 takes the codes' offset of 16 off in integers, Q5_1 adds its rows'
// offsets m times the block's sum. The same float steps on every table.
template <typename Block>
DSINFER_AVX2 inline __m256 add_q5_block(__m256 acc, __m256i dot, const Block& w, const ActBlockQ8& xb) {
  const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.d)));
  if constexpr (std::is_same_v<Block, BlockQ5_0x8>) {
    dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(16 * xb.sum));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d, _mm256_set1_ps(xb.d)), acc);
  } else {
    const __m256 m = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.m)));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d, _mm256_set1_ps(xb.d)), acc);
    return _mm256_fmadd_ps(m, _mm256_set1_ps(xb.d * static_cast<float>(xb.sum)), acc);
  }
}

// Group k of 64-value chunk c of a Q4_K / Q5_K super-block, eight rows: the codes of
// sub-block 2c (lo) and 2c + 1 (hi), with the fifth bits for Q5_K.
template <typename Block>
DSINFER_AVX2 inline void kquant_codes(const Block& w, int c, int k, __m256i& lo, __m256i& hi) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(low_bits(w).qs + 256 * c + 32 * k));
  lo = _mm256_and_si256(packed, low_nibbles);
  hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
  if constexpr (std::is_same_v<Block, BlockQ5_Kx8>) {
    lo = _mm256_or_si256(lo, fifth_bit(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh[c][0])), k));
    hi = _mm256_or_si256(hi, fifth_bit(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh[c][1])), k));
  }
}

// Group k (values 4k..4k+3) of 32-value block `block` of a Q6_Kx8 super-block, eight
// rows: the codes q in [0, 63], ql's low nibbles for even blocks and high ones for odd,
// with qh's bits 2j and 2j+1 (j = block % 4) moved to bits 4 and 5.
DSINFER_AVX2 inline __m256i q6_k_codes(const BlockQ6_Kx8& w, int block, int k) {
  const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.ql + 256 * (block / 2) + 32 * k));
  const __m256i pairs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh + 256 * (block / 4) + 32 * k));
  const __m256i nibbles = _mm256_and_si256(block % 2 ? _mm256_srli_epi16(packed, 4) : packed, _mm256_set1_epi8(0x0F));
  const int j = block % 4;
  const __m256i moved = j < 2 ? _mm256_slli_epi16(pairs, 4 - 2 * j) : _mm256_srli_epi16(pairs, 2 * j - 4);
  return _mm256_or_si256(nibbles, _mm256_and_si256(moved, _mm256_set1_epi8(0x30)));
}

// Bit k of every byte of `bits`, moved to bit 2 (the third bit of a Q3_K code).
DSINFER_AVX2 inline __m256i third_bit(__m256i bits, int k) {
  const __m256i moved = k <= 2 ? _mm256_slli_epi16(bits, 2 - k) : _mm256_srli_epi16(bits, k - 2);
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x04));
}

// Eight rows' 16-bit values a (low half) and b (high half) in each 32-bit lane, from
// 32-bit lanes: madd_epi16 of the result against (p, q) in every lane gives a p + b q
// per row, and against a row's 16-bit pair sums (p0, p1) gives a (p0 + p1) when b = a.
DSINFER_AVX2 inline __m256i sixteen_bit_pairs(__m256i a, __m256i b) {
  return _mm256_or_si256(_mm256_and_si256(a, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(b, 16));
}

// The sum of the first sixteen activations of a block (the rest is xb.sum minus it).
DSINFER_AVX2 inline int first_half_sum(const ActBlockQ8& xb) {
  const __m128i biased = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb.qs)), _mm_set1_epi8(-128));
  const __m128i sums = _mm_sad_epu8(biased, _mm_setzero_si128());
  return _mm_cvtsi128_si32(sums) + _mm_extract_epi16(sums, 4) - 16 * 128;
}

// A sub-block's eight 6-bit scales (or mins) times the rows' super-block factors.
DSINFER_AVX2 inline __m256 subblock_factors(__m256 super, const uint8_t bytes[8]) {
  return _mm256_mul_ps(super,
                       _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)))));
}

// One Q4_K / Q5_K sub-block of a token: acc + dot * scale * x.d - min * x.d * x.sum.
DSINFER_AVX2 inline __m256 add_subblock(__m256 acc, __m256i dot, __m256 scale, __m256 min, const ActBlockQ8& xb) {
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(scale, _mm256_set1_ps(xb.d)), acc);
  return _mm256_fnmadd_ps(min, _mm256_set1_ps(xb.d * static_cast<float>(xb.sum)), acc);
}

}  // namespace dsinfer::cpu::x86

#endif  // __x86_64__
