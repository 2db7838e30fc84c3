// The block-quantised weight formats of GGUF files (ggml's Q8_0, Q4_0, Q5_0, Q5_1,
// IQ4_NL, IQ4_XS, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K): their byte layout and their exact
// meaning as float32. These scalar decoders are the definition every SIMD kernel is
// tested against. The layouts are ggml's bit for bit,
// so a block written here decodes the same in llama.cpp and a block from a published GGUF
// decodes the same here.
//
// The encoders are reference quantizers for writing files: round to nearest with a small
// per-block scale search (least-squares refit of each candidate), deterministic, scalar.
// They are not llama.cpp's (which also weighs values by importance) and need not match
// its bytes; any block they write is a valid block of the format.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace dsinfer {

// Q8_0: value[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: value[i] = d * ((nibble i) - 8); byte j holds value j (low nibble) and value
// j + 16 (high nibble).
struct BlockQ4_0 {
  uint16_t d;  // f16 scale
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q5_0: value[i] = d * (q[i] - 16), q in [0, 31]: the low four bits of q as in Q4_0
// (byte j holds values j and j + 16), the fifth bit of value i bit i of qh read as a
// little-endian 32-bit word. llama.cpp writes it where Q4_K does not fit: rows whose
// length is no multiple of 256 (V2-Lite's 1408-value expert down rows, V3's 128-value
// k_b rows) in Q4_K_M files.
struct BlockQ5_0 {
  uint16_t d;  // f16 scale
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1: value[i] = d * q[i] + m, q as in Q5_0 (Q5_K_M's fallback where Q5_K does not fit).
struct BlockQ5_1 {
  uint16_t d;  // f16 scale
  uint16_t m;  // f16 offset
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_1) == 24);

// IQ4_NL: value[i] = d * kIQ4NLValues[nibble i], the nibbles placed as Q4_0's. llama.cpp
// writes it where Q2_K or Q3_K does not fit (rows of 1408 or 128 values in Q2_K / Q3_K_M
// files), and as the whole of an IQ4_NL file.
struct BlockIQ4_NL {
  uint16_t d;  // f16 scale
  uint8_t qs[16];
};
static_assert(sizeof(BlockIQ4_NL) == 18);
// ggml's non-linear 4-bit grid (kvalues_iq4nl): denser near zero, where most weights are.
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Code i (0..31) of a Q5_0 / Q5_1 block: its low nibble and its fifth bit.
template <typename Block>
int q5_code(const Block& block, int i) {
  const uint32_t high = block.qh[0] | uint32_t{block.qh[1]} << 8 | uint32_t{block.qh[2]} << 16 |
                        uint32_t{block.qh[3]} << 24;
  const int low = i < 16 ? block.qs[i] & 0x0F : block.qs[i - 16] >> 4;
  return low | static_cast<int>((high >> i) & 1) << 4;
}

// The K formats split 256 values into sub-blocks, each with its own small integer scale
// (and, for Q4_K/Q5_K, min) that multiplies one f16 super-block scale.
constexpr int kQK_K = 256;

// Q4_K and Q5_K store eight (scale, min) pairs of 6 bits each in 12 bytes:
//   bytes 0-3:  sub-block j < 4: scale j in bits 0-5; bits 6-7 are bits 4-5 of scale j+4
//   bytes 4-7:  sub-block j < 4: min j in bits 0-5;   bits 6-7 are bits 4-5 of min j+4
//   bytes 8-11: sub-block j+4: low 4 bits of scale j+4 (bits 0-3), of min j+4 (bits 4-7)
struct ScaleMin6 {
  uint8_t scale;  // 0..63
  uint8_t min;    // 0..63
};
ScaleMin6 unpack_scale_min6(const uint8_t packed[12], int sub_block);
void pack_scale_min6(const ScaleMin6 pairs[8], uint8_t packed[12]);

// Q4_K: 8 sub-blocks of 32 values; value = d * scale_j * q - dmin * min_j, q in [0, 15].
// Values 64c .. 64c+31 (sub-block 2c) are the low nibbles of qs[32c .. 32c+31], values
// 64c+32 .. 64c+63 (sub-block 2c+1) their high nibbles.
struct BlockQ4_K {
  uint16_t d;     // f16 super-block scale of the sub-block scales
  uint16_t dmin;  // f16 super-block scale of the sub-block mins
  uint8_t scales[12];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: as Q4_K with q in [0, 31]; the 5th bit of value 64c + l (l < 32) is bit 2c of
// qh[l], of value 64c + 32 + l bit 2c + 1.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 sub-blocks of 16 values; value = d * scales[i / 16] * (q - 32), q in [0, 63].
// Each half h (values 128h .. 128h+127) uses ql[64h ..] and qh[32h ..]; for l < 32 the
// four values 128h + l + 32k (k = 0..3) have low nibbles in ql[64h + l] (k = 0 low,
// k = 2 high) and ql[64h + 32 + l] (k = 1 low, k = 3 high), and their top two bits in
// bits 2k, 2k+1 of qh[32h + l].
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;  // f16 super-block scale
};
static_assert(sizeof(BlockQ6_K) == 210);

// IQ4_XS: eight 32-value sub-blocks of IQ4_NL indices, sub-block j's 16 bytes at qs[16j]
// placed as an IQ4_NL block's; value = d * (scale_j - 32) * kIQ4NLValues[index], the
// 6-bit scale_j's low four bits in nibble j % 2 of scales_l[j / 2] and its top two in bits
// 2j, 2j+1 of scales_h (iq4_xs_scale).
struct BlockIQ4_XS {
  uint16_t d;  // f16 super-block scale
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
static_assert(sizeof(BlockIQ4_XS) == 136);
int iq4_xs_scale(const BlockIQ4_XS& block, int j);  // 0..63, stored with +32

// Q2_K: 16 sub-blocks of 16 values; value = d * (scales[j] & 15) * q - dmin * (scales[j]
// >> 4) for sub-block j = index / 16, q in [0, 3]. Value 128h + 32k + l (l < 32) is bits
// 2k, 2k+1 of qs[32h + l]. The low-bit files of V3 / R1 (Q2_K, Unsloth's Q2_K_XL) are
// mostly this and Q3_K.
struct BlockQ2_K {
  uint8_t scales[16];  // scale in the low nibble, min in the high one
  uint8_t qs[64];
  uint16_t d;     // f16 super-block scale of the sub-block scales
  uint16_t dmin;  // f16 super-block scale of the sub-block mins
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 16 sub-blocks of 16 values; value = d * (scale_j - 32) * (q - 4), q in [0, 7]: its
// low two bits placed as Q2_K's, its third bit for value 128h + 32k + l bit 4h + k of
// hmask[l]. The sixteen 6-bit scales are packed in 12 bytes (q3_k_scale).
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;  // f16 super-block scale
};
static_assert(sizeof(BlockQ3_K) == 110);

// Scale j (0..63, stored with +32) of a Q3_K block: bytes 0-7 hold the low four bits of
// scales 0-7 (low nibbles) and 8-15 (high nibbles, byte j - 8); bits 2m, 2m+1 of byte
// 8 + (j % 4) hold the top two bits of scale j, m = j / 4.
int q3_k_scale(const uint8_t packed[12], int j);
void pack_q3_k_scales(const uint8_t scales[16], uint8_t packed[12]);

// Decodes `count` values (a multiple of the format's block size) of a block format.
void dequantize_blocks(DType dtype, const void* src, float* dst, size_t count);

// Encodes `count` finite values (a multiple of the format's block size) into blocks of
// `dtype` (one of the block formats) at `dst`, which holds dtype_bytes(dtype, count).
void quantize_blocks(DType dtype, const float* src, void* dst, size_t count);

// Either of the above for any storable type: F32, F16, BF16 or a block format (count a
// multiple of its block size). Used where activations are stored compactly (the KV cache).
void encode_values(DType dtype, const float* src, void* dst, size_t count);
void decode_values(DType dtype, const void* src, float* dst, size_t count);

}  // namespace dsinfer
