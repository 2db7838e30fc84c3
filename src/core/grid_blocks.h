// ggml's grid formats, the 1.5-3.4-bit types of the small DeepSeek-V3 / R1 and Kimi K2
// files people run on CPUs (Unsloth's dynamic IQ1_S / IQ1_M / IQ2_XXS files, llama.cpp's
// IQ2_* and IQ3_* mixes): 256-value super-blocks in which each group of 8 (IQ3: 4)
// values is one point of a codebook (grid_codebooks.h) with signs, under small integer
// scales. Layouts are ggml's bit for bit (little-endian words).
//
// Every value of these formats is an int8 code times a float step shared by 16 values
// (GridCodes), exactly: that form is both the scalar definition the reference backend
// decodes with and what the CPU kernels multiply with int8 activations.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace dsinfer {

// IQ2_XXS, 2.06 bits: per 32-value sub-block ib, qs[4ib .. 4ib+3] read as two 32-bit
// words a, b: byte l of a is the IQ2XXS point of values 8l .. 8l+7, bits 7l .. 7l+6 of b
// their sign bits (the eighth sign makes the count of minus signs even), bits 28-31 of b
// the scale s: value = d * (0.5 + s) / 4 * point * sign.
struct BlockIQ2_XXS {
  uint16_t d;  // f16
  uint16_t qs[32];
};
static_assert(sizeof(BlockIQ2_XXS) == 66);

// IQ2_XS, 2.31 bits: qs[4ib + l] holds group l's IQ2XS point (bits 0-8) and its seven
// sign bits as IQ2_XXS's (bits 9-15); scales[ib] has a 4-bit s per 16 values (low nibble
// first): value = d * (0.5 + s) / 4 * point * sign.
struct BlockIQ2_XS {
  uint16_t d;
  uint16_t qs[32];
  uint8_t scales[8];
};
static_assert(sizeof(BlockIQ2_XS) == 74);

// IQ2_S, 2.56 bits: group l of sub-block ib has the low eight bits of its IQ2S point at
// qs[4ib + l], the top two at bits 2l, 2l+1 of qh[ib], and all eight signs (bit j for
// value j) at qs[32 + 4ib + l]; scales as IQ2_XS's.
struct BlockIQ2_S {
  uint16_t d;
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t scales[8];
};
static_assert(sizeof(BlockIQ2_S) == 82);

// IQ3_XXS, 3.06 bits: values 8l .. 8l+3 and 8l+4 .. 8l+7 of sub-block ib are the IQ3XXS
// points qs[8ib + 2l] and qs[8ib + 2l + 1]; the 32-bit word at qs[64 + 4ib] holds the
// seven sign bits of group l at 7l (eighth by parity) and s in bits 28-31:
// value = d * (0.5 + s) / 2 * point * sign.
struct BlockIQ3_XXS {
  uint16_t d;
  uint8_t qs[96];
};
static_assert(sizeof(BlockIQ3_XXS) == 98);

// IQ3_S, 3.44 bits: point k of sub-block ib (four values each, eight per sub-block) has
// its low eight bits at qs[8ib + k] and its ninth at bit k of qh[ib]; signs[4ib + l] bit j
// is the sign of value 8l + j; a 4-bit s per sub-block (scales[ib / 2], low nibble for
// even ib): value = d * (1 + 2s) * point * sign.
struct BlockIQ3_S {
  uint16_t d;
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t signs[32];
  uint8_t scales[4];
};
static_assert(sizeof(BlockIQ3_S) == 110);

// IQ1_S, 1.56 bits: group l of sub-block ib is the IQ1S point with low bits qs[4ib + l]
// and high three bits at bit 3l of qh[ib]; bits 12-14 of qh[ib] are s and bit 15 the sign
// of the sub-block's shift: value = d * (2s + 1) * (point + shift), shift = +-1/8.
struct BlockIQ1_S {
  uint16_t d;
  uint8_t qs[32];
  uint16_t qh[8];
};
static_assert(sizeof(BlockIQ1_S) == 50);

// IQ1_M, 1.75 bits: points as IQ1_S's with their high three bits in the nibbles of
// qh[2ib + l / 2] (group l's at bit 4 (l % 2)) and each group's own shift sign in the bit
// above them; a 3-bit s per 16 values (bits 6 (ib % 2) and 6 (ib % 2) + 3 of the 16-bit
// word scales[ib / 2]); the f16 super-block scale in the top nibbles of the four words
// (word k's holds bits 4k .. 4k+3).
struct BlockIQ1_M {
  uint8_t qs[32];
  uint8_t qh[16];
  uint16_t scales[4];
};
static_assert(sizeof(BlockIQ1_M) == 56);

bool is_grid_format(DType dtype);

// A super-block as value[i] = steps[i / 16] * codes[i], bit for bit ggml's float decode.
// IQ1's codes are eight times its point plus its shift (the shift is +-1/8), steps an
// eighth of its scale.
struct GridCodes {
  int8_t codes[256];
  float steps[16];
};
void decode_grid_codes(DType dtype, const void* block, GridCodes& out);
// Only the steps of decode_grid_codes, for decoders that find the codes another way.
void decode_grid_steps(DType dtype, const void* block, float steps[16]);

// Decodes / encodes n_blocks super-blocks of a grid format. The encoders are reference
// quantizers (codebook point nearest each group's rounded magnitudes, a per-sub-block
// scale search): not llama.cpp's importance-weighted search, and not its bytes.
void dequantize_grid_blocks(DType dtype, const void* src, float* dst, size_t n_blocks);
void quantize_grid_blocks(DType dtype, const float* src, void* dst, size_t n_blocks);

}  // namespace dsinfer
