// Element types the engine stores weights and activations in, and the scalar
// conversions between them and float32 (the readable definitions every fast path is
// checked against).
#pragma once

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
};

// Bytes per element.
size_t dtype_size(DType dtype);
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
// Round to nearest even, saturating to +-448 (values beyond become the largest finite).
uint8_t f32_to_f8e4m3(float f);

// Converts `count` elements of `src` (of type `dtype`) to float32.
void convert_to_f32(DType dtype, const void* src, float* dst, size_t count);

}  // namespace dsinfer
