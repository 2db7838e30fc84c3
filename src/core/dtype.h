// Element types the engine stores weights and activations in, and the scalar
// conversions between them and float32 (the readable definitions every fast path is
// checked against).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace dsinfer {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kF8E4M3,  // FP8 E4M3 "fn": bias 7, no infinities, 0x7F/0xFF are NaN, max 448
  kI32,
  kI64,
  kU8,
  kI8,
  kF8E8M0,  // UE8M0: one unsigned exponent byte, value 2^(e - 127) (V4 block scales)
  // FP4 E2M1 packed two per byte (element 2j in the low nibble, 2j+1 in the high one;
  // bit 3 of a nibble is the sign, magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6). Stored in
  // checkpoints as I8 [rows, cols / 2] with separate UE8M0 scales per 32 values (V4
  // routed experts); in memory a "block" of 2 values per byte, without its own scale.
  kFP4E2M1,
  // Block-quantised formats of GGUF files (llama.cpp's ggml types): a row is a sequence
  // of blocks, each holding its own scale(s) and `dtype_block_elements` packed values.
  kQ8_0,  // 32 values: f16 scale + 32 int8
  kQ4_0,  // 32 values: f16 scale + 16 bytes of 4-bit values (q - 8)
  kQ4_K,  // 256 values in 8 sub-blocks with 6-bit scales and mins
  kQ5_K,  // 256 values, 5 bits each
  kQ6_K,  // 256 values, 6 bits each
  kQ5_0,  // 32 values: f16 scale + 32 fifth bits + 16 bytes of 4-bit values (q - 16)
  kQ5_1,  // 32 values: f16 scale and f16 offset + 32 fifth bits + 16 bytes (d q + m)
  kQ2_K,    // 256 values in 16 sub-blocks with 4-bit scales and mins, 2 bits each
  kQ3_K,    // 256 values in 16 sub-blocks with 6-bit signed scales, 3 bits each
  kIQ4_NL,  // 32 values: f16 scale + 16 bytes of 4-bit indices into a fixed table
  kIQ4_XS,  // 256 values: IQ4_NL indices in 8 sub-blocks with 6-bit signed scales
  // ggml's grid formats (core/grid_blocks.h): 256 values as codebook points with signs.
  kIQ2_XXS,  // 2.06 bits per value
  kIQ2_XS,   // 2.31
  kIQ2_S,    // 2.56
  kIQ3_XXS,  // 3.06
  kIQ3_S,    // 3.44
  kIQ1_S,    // 1.56
  kIQ1_M,    // 1.75
};

// Values per block: 1 for scalar types.
int64_t dtype_block_elements(DType dtype);
// Bytes per block (per element for scalar types).
size_t dtype_block_bytes(DType dtype);
bool dtype_is_block_quantized(DType dtype);
// Bytes of `count` values; `count` must be a multiple of the block size.
size_t dtype_bytes(DType dtype, int64_t count);
// Bytes per element of a scalar type (equals dtype_block_bytes for those).
inline size_t dtype_size(DType dtype) { return dtype_block_bytes(dtype); }
// Lower-case name as users see it: "f32", "bf16", "f8_e4m3", ...
std::string_view dtype_name(DType dtype);
// The safetensors spelling ("F32", "BF16", "F8_E4M3", ...); nullopt when unsupported.
std::optional<DType> dtype_from_safetensors(std::string_view name);
std::string_view dtype_to_safetensors(DType dtype);

inline float bits_to_f32(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

inline float bf16_to_f32(uint16_t h) { return bits_to_f32(uint32_t{h} << 16); }
// Round to nearest even; NaN stays NaN.
uint16_t f32_to_bf16(float f);

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

float f8e4m3_to_f32(uint8_t v);
// One E2M1 nibble (low 4 bits of `v`) as float.
float fp4e2m1_to_f32(uint8_t v);
// A UE8M0 byte as float: 2^(v - 127); 0xFF is NaN.
// 2^(v - 127): the exponent field itself, or for v = 0 the subnormal 2^-127.
inline float ue8m0_to_f32(uint8_t v) {
  if (v == 0xFF) return std::nanf("");
  return std::bit_cast<float>(v == 0 ? 0x00400000u : static_cast<uint32_t>(v) << 23);
}
// Round to nearest even, saturating to +-448 (values beyond become the largest finite).
uint8_t f32_to_f8e4m3(float f);

// Converts `count` elements of `src` (of type `dtype`) to float32; for block formats
// `count` is a multiple of the block size and `src` points at a block boundary.
void convert_to_f32(DType dtype, const void* src, float* dst, size_t count);
// Converts `count` float32 values to `dtype` (rounding to nearest; block formats through
// their reference quantizer, `count` a multiple of the block size). Integer types are
// not targets: nothing is written for them.
void convert_from_f32(DType dtype, const float* src, void* dst, size_t count);

}  // namespace dsinfer
