#include "core/dtype.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/quant_blocks.h"

namespace dsinfer {

int64_t dtype_block_elements(DType dtype) {
  switch (dtype) {
    case DType::kFP4E2M1: return 2;
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kIQ4_NL: return 32;
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kIQ4_XS:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kIQ2_XXS:
    case DType::kIQ2_XS:
    case DType::kIQ2_S:
    case DType::kIQ3_XXS:
    case DType::kIQ3_S:
    case DType::kIQ1_S:
    case DType::kIQ1_M: return 256;
    default: return 1;
  }
}

size_t dtype_block_bytes(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kF8E4M3: return 1;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
    case DType::kI8: return 1;
    case DType::kF8E8M0: return 1;
    case DType::kFP4E2M1: return 1;
    case DType::kQ8_0: return 2 + 32;
    case DType::kQ4_0: return 2 + 16;
    case DType::kQ4_K: return 2 + 2 + 12 + 128;
    case DType::kQ5_K: return 2 + 2 + 12 + 32 + 128;
    case DType::kQ6_K: return 128 + 64 + 16 + 2;
    case DType::kQ5_0: return 2 + 4 + 16;
    case DType::kQ5_1: return 2 + 2 + 4 + 16;
    case DType::kQ2_K: return 16 + 64 + 2 + 2;
    case DType::kQ3_K: return 32 + 64 + 12 + 2;
    case DType::kIQ4_NL: return 2 + 16;
    case DType::kIQ4_XS: return 2 + 2 + 4 + 128;
    case DType::kIQ2_XXS: return 2 + 64;
    case DType::kIQ2_XS: return 2 + 64 + 8;
    case DType::kIQ2_S: return 2 + 64 + 8 + 8;
    case DType::kIQ3_XXS: return 2 + 96;
    case DType::kIQ3_S: return 2 + 64 + 8 + 32 + 4;
    case DType::kIQ1_S: return 2 + 32 + 16;
    case DType::kIQ1_M: return 32 + 16 + 8;
  }
  return 0;
}

bool dtype_is_block_quantized(DType dtype) { return dtype_block_elements(dtype) > 1; }

size_t dtype_bytes(DType dtype, int64_t count) {
  return static_cast<size_t>(count / dtype_block_elements(dtype)) * dtype_block_bytes(dtype);
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kF8E4M3: return "f8_e4m3";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kU8: return "u8";
    case DType::kI8: return "i8";
    case DType::kF8E8M0: return "f8_e8m0";
    case DType::kFP4E2M1: return "fp4_e2m1";
    case DType::kQ8_0: return "q8_0";
    case DType::kQ4_0: return "q4_0";
    case DType::kQ4_K: return "q4_k";
    case DType::kQ5_K: return "q5_k";
    case DType::kQ6_K: return "q6_k";
    case DType::kQ5_0: return "q5_0";
    case DType::kQ5_1: return "q5_1";
    case DType::kQ2_K: return "q2_k";
    case DType::kQ3_K: return "q3_k";
    case DType::kIQ4_NL: return "iq4_nl";
    case DType::kIQ4_XS: return "iq4_xs";
    case DType::kIQ2_XXS: return "iq2_xxs";
    case DType::kIQ2_XS: return "iq2_xs";
    case DType::kIQ2_S: return "iq2_s";
    case DType::kIQ3_XXS: return "iq3_xxs";
    case DType::kIQ3_S: return "iq3_s";
    case DType::kIQ1_S: return "iq1_s";
    case DType::kIQ1_M: return "iq1_m";
  }
  return "?";
}

namespace {
struct DTypeSpelling {
  DType dtype;
  std::string_view safetensors;
};
constexpr std::array<DTypeSpelling, 9> kSpellings{{
    {DType::kF32, "F32"},
    {DType::kF16, "F16"},
    {DType::kBF16, "BF16"},
    {DType::kF8E4M3, "F8_E4M3"},
    {DType::kI32, "I32"},
    {DType::kI64, "I64"},
    {DType::kU8, "U8"},
    {DType::kI8, "I8"},
    {DType::kF8E8M0, "F8_E8M0"},
}};
}  // namespace

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  for (const auto& s : kSpellings)
    if (s.safetensors == name) return s.dtype;
  return std::nullopt;
}

std::string_view dtype_to_safetensors(DType dtype) {
  for (const auto& s : kSpellings)
    if (s.dtype == dtype) return s.safetensors;
  return "?";
}

uint16_t f32_to_bf16(float f) {
  uint32_t bits = f32_to_bits(f);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16_to_f32(uint16_t h) {
  // Rebias the exponent (15 -> 127) and widen the mantissa (10 -> 23 bits); subnormal
  // halves become normal floats, computed exactly as mantissa * 2^-24.
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1F;
  const uint32_t mantissa = h & 0x3FF;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;  // 2^-24
    return bits_to_f32(sign | f32_to_bits(magnitude));
  }
  if (exponent == 31) return bits_to_f32(sign | 0x7F800000u | (mantissa << 13));
  return bits_to_f32(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t f32_to_f16(float f) {
  const uint32_t bits = f32_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const float a = std::fabs(f);
  if (std::isnan(f)) return sign | 0x7E00;
  if (a >= 65520.0f) return sign | 0x7C00;  // rounds to infinity
  if (a < std::ldexp(1.0f, -14)) {
    // Subnormal: units of 2^-24, nearbyint rounds half to even in the default mode.
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));
  }
  int exponent;
  float fraction = std::frexp(a, &exponent);  // a = fraction * 2^exponent, fraction in [0.5,1)
  // 11 significant bits: mantissa in [1024, 2048).
  float scaled = std::nearbyint(std::ldexp(fraction, 11));
  if (scaled >= 2048.0f) {
    scaled /= 2;
    exponent += 1;
  }
  const uint16_t biased = static_cast<uint16_t>(exponent - 1 + 15);
  return sign | static_cast<uint16_t>(biased << 10) | static_cast<uint16_t>(static_cast<uint32_t>(scaled) & 0x3FF);
}

// Built from bits: the key and indexer round trips of DeepSeek-V3.2/V4 run these per value
// at every step, where ldexp/frexp cost more than the rest of the step's small ops.
float f8e4m3_to_f32(uint8_t v) {
  const uint32_t sign = static_cast<uint32_t>(v & 0x80) << 24;
  const uint32_t exponent = (v >> 3) & 0xF, mantissa = v & 0x7;
  if (exponent == 0xF && mantissa == 0x7) return bits_to_f32(sign | 0x7FC00000u);
  if (exponent == 0) return bits_to_f32(sign | f32_to_bits(static_cast<float>(mantissa) * 0x1p-9f));  // m/8 * 2^-6
  return bits_to_f32(sign | ((exponent + 120) << 23) | (mantissa << 20));
}

float fp4e2m1_to_f32(uint8_t v) {
  static constexpr float kMagnitudes[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float m = kMagnitudes[v & 0x7];
  return (v & 0x8) ? -m : m;
}

uint8_t f32_to_f8e4m3(float f) {
  const uint32_t bits = f32_to_bits(f);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return sign | 0x7F;   // NaN
  if (magnitude >= 0x43E00000u) return sign | 0x7E;  // 448 and above saturate
  if (magnitude < 0x3C800000u) {
    // Below 2^-6, subnormal: units of 2^-9. Adding and removing 1.5 * 2^23 rounds a
    // value under 2^22 to an integer, ties to even.
    const float units = bits_to_f32(magnitude) * 512.0f;
    return sign | static_cast<uint8_t>((units + 0x1.8p23f) - 0x1.8p23f);
  }
  // The 23 mantissa bits rounded to 3, ties to even; a carry moves into the exponent,
  // and a result past 448 (the NaN code) saturates.
  const uint32_t rounded = (magnitude + 0x7FFFFu + ((magnitude >> 20) & 1)) >> 20;
  const uint32_t code = rounded - (120u << 3);
  return sign | static_cast<uint8_t>(std::min<uint32_t>(code, 0x7E));
}

namespace {

// Element i of an array that may sit at any byte offset (safetensors packs tensors of
// different widths back to back, so a 2-byte tensor can start at an odd address).
template <typename T>
T element(const void* src, size_t i) {
  T value;
  std::memcpy(&value, static_cast<const uint8_t*>(src) + i * sizeof(T), sizeof(T));
  return value;
}

}  // namespace

void convert_to_f32(DType dtype, const void* src, float* dst, size_t count) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, count * sizeof(float));
      return;
    case DType::kBF16:
      for (size_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(element<uint16_t>(src, i));
      return;
    case DType::kF16:
      for (size_t i = 0; i < count; ++i) dst[i] = f16_to_f32(element<uint16_t>(src, i));
      return;
    case DType::kF8E4M3: {
      auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < count; ++i) dst[i] = f8e4m3_to_f32(s[i]);
      return;
    }
    case DType::kI32:
      for (size_t i = 0; i < count; ++i) dst[i] = static_cast<float>(element<int32_t>(src, i));
      return;
    case DType::kI64:
      for (size_t i = 0; i < count; ++i) dst[i] = static_cast<float>(element<int64_t>(src, i));
      return;
    case DType::kU8: {
      auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < count; ++i) dst[i] = static_cast<float>(s[i]);
      return;
    }
    case DType::kI8: {
      auto* s = static_cast<const int8_t*>(src);
      for (size_t i = 0; i < count; ++i) dst[i] = static_cast<float>(s[i]);
      return;
    }
    case DType::kF8E8M0: {
      auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < count; ++i) dst[i] = ue8m0_to_f32(s[i]);
      return;
    }
    case DType::kFP4E2M1: {
      auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < count; ++i) dst[i] = fp4e2m1_to_f32(static_cast<uint8_t>(s[i / 2] >> (4 * (i % 2))));
      return;
    }
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kIQ4_NL:
    case DType::kIQ4_XS:
    case DType::kIQ2_XXS:
    case DType::kIQ2_XS:
    case DType::kIQ2_S:
    case DType::kIQ3_XXS:
    case DType::kIQ3_S:
    case DType::kIQ1_S:
    case DType::kIQ1_M:
      dequantize_blocks(dtype, src, dst, count);
      return;
  }
}

void convert_from_f32(DType dtype, const float* src, void* dst, size_t count) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, count * sizeof(float));
      return;
    case DType::kBF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < count; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::kF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < count; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    case DType::kF8E4M3: {
      auto* d = static_cast<uint8_t*>(dst);
      for (size_t i = 0; i < count; ++i) d[i] = f32_to_f8e4m3(src[i]);
      return;
    }
    case DType::kI32:
    case DType::kI64:
    case DType::kU8:
    case DType::kI8:
    case DType::kF8E8M0:
    case DType::kFP4E2M1:
      return;
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kIQ4_NL:
    case DType::kIQ4_XS:
    case DType::kIQ2_XXS:
    case DType::kIQ2_XS:
    case DType::kIQ2_S:
    case DType::kIQ3_XXS:
    case DType::kIQ3_S:
    case DType::kIQ1_S:
    case DType::kIQ1_M:
      quantize_blocks(dtype, src, dst, count);
      return;
  }
}

}  // namespace dsinfer
