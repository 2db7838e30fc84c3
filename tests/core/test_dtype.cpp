// Scalar dtype conversions against hand values and against a brute-force oracle written
// here: decode every code of the format from its bit fields in double precision, and
// round a float to the nearest code by searching that table (ties to the even code).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/dtype.h"

namespace dsinfer {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

float from_bits(uint32_t bits) { return bits_to_f32(bits); }

// An IEEE-style binary format: sign, exp_bits exponent bits, man_bits mantissa bits.
struct Format {
  int exp_bits;
  int man_bits;
  int bias;
  uint32_t max_finite;   // largest finite positive code
  uint32_t overflow;     // code that values beyond max_finite round to (inf, or max_finite when saturating)
  bool saturating;
};
constexpr Format kBf16{8, 7, 127, 0x7F7F, 0x7F80, false};
constexpr Format kF16{5, 10, 15, 0x7BFF, 0x7C00, false};
constexpr Format kF8{4, 3, 7, 0x7E, 0x7E, true};

// Value of a non-negative finite code, from its fields.
double field_value(const Format& f, uint32_t code) {
  const uint32_t e = code >> f.man_bits;
  const uint32_t m = code & ((1u << f.man_bits) - 1);
  if (e == 0) return std::ldexp(double(m), 1 - f.bias - f.man_bits);
  return std::ldexp(1.0 + std::ldexp(double(m), -f.man_bits), int(e) - f.bias);
}

// Nearest code to x (round half to even), by search over the positive code table.
uint32_t nearest_code(const Format& f, double x) {
  const uint32_t sign = std::signbit(x) ? (1u << (f.exp_bits + f.man_bits)) : 0;
  const double a = std::fabs(x);
  // Codes 0..max_finite ascend in value; beyond it IEEE formats round as if the next code
  // (infinity) were the next binade's first value.
  const double max_value = field_value(f, f.max_finite);
  const double ulp_at_max = max_value - field_value(f, f.max_finite - 1);
  if (f.saturating) {
    if (a >= max_value) return sign | f.max_finite;
  } else if (a >= max_value + ulp_at_max / 2) {
    return sign | f.overflow;  // at the midpoint the even code (infinity) wins
  }
  uint32_t lo = 0, hi = f.max_finite;  // largest code with value <= a
  while (lo < hi) {
    const uint32_t mid = (lo + hi + 1) / 2;
    if (field_value(f, mid) <= a) lo = mid; else hi = mid - 1;
  }
  if (field_value(f, lo) == a || lo == f.max_finite) return sign | lo;
  const double below = a - field_value(f, lo), above = field_value(f, lo + 1) - a;
  if (below < above) return sign | lo;
  if (above < below) return sign | (lo + 1);
  return sign | ((lo & 1) == 0 ? lo : lo + 1);
}

// Floats spread over the format's range: every binade from below the smallest subnormal
// to beyond the largest finite value, random mantissas, both signs; plus every midpoint
// between adjacent codes and its float neighbours (the rounding boundaries).
std::vector<float> probe_values(const Format& f) {
  std::vector<float> values;
  std::mt19937 rng(1234);
  const int min_exp = 1 - f.bias - f.man_bits - 3;
  const int max_exp = (1 << f.exp_bits) - 1 - f.bias + 2;
  for (int i = 0; i < 200000; ++i) {
    const int e = min_exp + int(rng() % uint32_t(max_exp - min_exp + 1));
    const float mantissa = 1.0f + float(rng() & 0x7FFFFF) / float(1 << 23);
    const float v = std::ldexp(mantissa, e);
    values.push_back((rng() & 1) ? -v : v);
  }
  for (uint32_t c = 0; c < f.max_finite; ++c) {
    const float mid = float((field_value(f, c) + field_value(f, c + 1)) / 2);  // exact in float
    values.push_back(mid);
    values.push_back(std::nextafter(mid, 0.0f));
    values.push_back(std::nextafter(mid, kInf));
    values.push_back(-mid);
  }
  return values;
}

// ---------------------------------------------------------------- bf16

TEST(Bf16, HandValues) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(bf16_to_f32(0x7F7F), 3.3895313892515355e38f);
  EXPECT_EQ(bf16_to_f32(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
  EXPECT_EQ(bf16_to_f32(0x7F80), kInf);
  EXPECT_EQ(bf16_to_f32(0xFF80), -kInf);
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7FC0)));
  EXPECT_TRUE(std::signbit(bf16_to_f32(0x8000)));

  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(-1.5f), 0xBFC0);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie -> even (down)
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808001)), 0x3F81);            // just above the tie
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F807FFF)), 0x3F80);            // just below the tie
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to infinity
  EXPECT_EQ(f32_to_bf16(kInf), 0x7F80);
  EXPECT_EQ(f32_to_bf16(-kInf), 0xFF80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(std::ldexp(1.0f, -134)), 0x0000);      // subnormal tie -> 0
  EXPECT_EQ(f32_to_bf16(3 * std::ldexp(1.0f, -134)), 0x0002);  // subnormal tie -> even
  // NaNs stay NaN, including a signalling NaN whose payload lives in the dropped bits.
  EXPECT_EQ(f32_to_bf16(from_bits(0x7FC00000)), 0x7FC0);
  for (uint32_t bits : {0x7F800001u, 0xFF800001u, 0x7FFFFFFFu, 0x7F80FFFFu}) {
    const uint16_t h = f32_to_bf16(from_bits(bits));
    EXPECT_EQ(h & 0x7F80, 0x7F80) << std::hex << bits;
    EXPECT_NE(h & 0x007F, 0) << "NaN " << std::hex << bits << " became infinity";
    EXPECT_EQ(h >> 15, bits >> 31) << "sign of NaN " << std::hex << bits;
  }
}

TEST(Bf16, EveryCodeRoundTrips) {
  for (uint32_t c = 0; c <= 0xFFFF; ++c) {
    const float v = bf16_to_f32(static_cast<uint16_t>(c));
    EXPECT_EQ(f32_to_bits(v), c << 16) << std::hex << c;  // bf16 is the top half of f32
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(v)))) << std::hex << c;
    } else {
      ASSERT_EQ(f32_to_bf16(v), c) << std::hex << c;
    }
  }
}

TEST(Bf16, RoundsToNearestEven) {
  int64_t failures = 0;
  for (float x : probe_values(kBf16)) {
    const uint32_t expected = nearest_code(kBf16, x);
    if (f32_to_bf16(x) != expected && failures++ < 10)
      ADD_FAILURE() << x << " (bits " << std::hex << f32_to_bits(x) << ") -> " << f32_to_bf16(x) << ", expected " << expected;
  }
  // Random bit patterns over all of float32 (the brute force covers the whole range).
  std::mt19937 rng(99);
  for (int i = 0; i < 200000; ++i) {
    const float x = from_bits(rng());
    if (std::isnan(x)) continue;
    const uint32_t expected = nearest_code(kBf16, x);
    if (f32_to_bf16(x) != expected && failures++ < 10)
      ADD_FAILURE() << "bits " << std::hex << f32_to_bits(x) << " -> " << f32_to_bf16(x) << ", expected " << expected;
  }
  EXPECT_EQ(failures, 0);
}

// ---------------------------------------------------------------- f16

TEST(F16, HandValues) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(f16_to_f32(0x0001), 5.9604644775390625e-08f);  // 2^-24
  EXPECT_EQ(f16_to_f32(0x03FF), 1023 * std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_f32(0x7C00), kInf);
  EXPECT_EQ(f16_to_f32(0xFC00), -kInf);
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7C01)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0xFFFF)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  EXPECT_EQ(f16_to_f32(0x8000), 0.0f);

  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(0.1f), 0x2E66);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);  // below the midpoint to infinity
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // midpoint: ties to the even code, infinity
  EXPECT_EQ(f32_to_f16(1e6f), 0x7C00);
  EXPECT_EQ(f32_to_f16(-1e6f), 0xFC00);
  EXPECT_EQ(f32_to_f16(kInf), 0x7C00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);           // tie -> 0
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);       // tie -> even
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);  // subnormal -> normal
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_f16(2049.0f), 0x6800);  // tie between 2048 and 2050
  EXPECT_EQ(f32_to_f16(2051.0f), 0x6802);  // tie between 2050 and 2052
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
  const uint16_t nan = f32_to_f16(kNaN);
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
}

TEST(F16, EveryCodeRoundTrips) {
  for (uint32_t c = 0; c <= 0xFFFF; ++c) {
    const float v = f16_to_f32(static_cast<uint16_t>(c));
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(v)))) << std::hex << c;
      continue;
    }
    ASSERT_EQ(f32_to_f16(v), c) << std::hex << c;
    if ((c & 0x7FFF) <= kF16.max_finite) {
      ASSERT_EQ(std::fabs(double(v)), field_value(kF16, c & 0x7FFF)) << std::hex << c;
    }
  }
}

TEST(F16, RoundsToNearestEven) {
  int64_t failures = 0;
  for (float x : probe_values(kF16)) {
    const uint32_t expected = nearest_code(kF16, x);
    if (f32_to_f16(x) != expected && failures++ < 10)
      ADD_FAILURE() << x << " (bits " << std::hex << f32_to_bits(x) << ") -> " << f32_to_f16(x) << ", expected " << expected;
  }
  EXPECT_EQ(failures, 0);
}

// ---------------------------------------------------------------- f8 e4m3

TEST(F8E4M3, HandValues) {
  EXPECT_EQ(f8e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(f8e4m3_to_f32(0x3C), 1.5f);
  EXPECT_EQ(f8e4m3_to_f32(0x40), 2.0f);
  EXPECT_EQ(f8e4m3_to_f32(0x78), 256.0f);
  EXPECT_EQ(f8e4m3_to_f32(0x7D), 416.0f);
  EXPECT_EQ(f8e4m3_to_f32(0x7E), 448.0f);  // largest finite: no infinities in e4m3fn
  EXPECT_EQ(f8e4m3_to_f32(0xFE), -448.0f);
  EXPECT_EQ(f8e4m3_to_f32(0x08), 0.015625f);      // 2^-6, smallest normal
  EXPECT_EQ(f8e4m3_to_f32(0x01), 0.001953125f);   // 2^-9, smallest subnormal
  EXPECT_EQ(f8e4m3_to_f32(0x07), 7 * 0.001953125f);
  EXPECT_TRUE(std::isnan(f8e4m3_to_f32(0x7F)));  // would be 480 with an IEEE-style top binade
  EXPECT_TRUE(std::isnan(f8e4m3_to_f32(0xFF)));
  EXPECT_EQ(f8e4m3_to_f32(0x77), 240.0f);
  EXPECT_EQ(f8e4m3_to_f32(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(f8e4m3_to_f32(0x80)));

  EXPECT_EQ(f32_to_f8e4m3(1.0f), 0x38);
  EXPECT_EQ(f32_to_f8e4m3(-2.0f), 0xC0);
  EXPECT_EQ(f32_to_f8e4m3(0.1f), 0x1D);   // 1.6 * 2^-4 -> 1.625 * 2^-4
  EXPECT_EQ(f32_to_f8e4m3(1.0625f), 0x38);  // tie between 1 and 1.125 -> even
  EXPECT_EQ(f32_to_f8e4m3(1.1875f), 0x3A);  // tie between 1.125 and 1.25 -> even
  EXPECT_EQ(f32_to_f8e4m3(432.0f), 0x7E);   // tie between 416 (0x7D) and 448 (0x7E)
  EXPECT_EQ(f32_to_f8e4m3(420.0f), 0x7D);
  EXPECT_EQ(f32_to_f8e4m3(448.0f), 0x7E);
  // Saturation: beyond the largest finite value stays 448, never NaN.
  EXPECT_EQ(f32_to_f8e4m3(449.0f), 0x7E);
  EXPECT_EQ(f32_to_f8e4m3(464.0f), 0x7E);
  EXPECT_EQ(f32_to_f8e4m3(480.0f), 0x7E);
  EXPECT_EQ(f32_to_f8e4m3(1e9f), 0x7E);
  EXPECT_EQ(f32_to_f8e4m3(-1e9f), 0xFE);
  EXPECT_EQ(f32_to_f8e4m3(kInf), 0x7E);
  EXPECT_EQ(f32_to_f8e4m3(-kInf), 0xFE);
  // Subnormals: units of 2^-9.
  EXPECT_EQ(f32_to_f8e4m3(std::ldexp(1.0f, -10)), 0x00);      // tie -> 0
  EXPECT_EQ(f32_to_f8e4m3(3 * std::ldexp(1.0f, -10)), 0x02);  // tie -> even
  EXPECT_EQ(f32_to_f8e4m3(15 * std::ldexp(1.0f, -10)), 0x08); // tie between 7*2^-9 and 2^-6
  EXPECT_EQ(f32_to_f8e4m3(std::ldexp(1.0f, -6)), 0x08);
  EXPECT_EQ(f32_to_f8e4m3(std::ldexp(1.0f, -20)), 0x00);
  EXPECT_EQ(f32_to_f8e4m3(-0.0f), 0x80);
  EXPECT_EQ(f32_to_f8e4m3(kNaN), 0x7F);
  EXPECT_EQ(f32_to_f8e4m3(-kNaN), 0xFF);
}

TEST(F8E4M3, EveryCodeRoundTripsAndMatchesItsFields) {
  for (uint32_t c = 0; c <= 0xFF; ++c) {
    const float v = f8e4m3_to_f32(static_cast<uint8_t>(c));
    if ((c & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(v)) << std::hex << c;
      EXPECT_EQ(f32_to_f8e4m3(v), c) << std::hex << c;
      continue;
    }
    EXPECT_FALSE(std::isnan(v)) << std::hex << c;
    EXPECT_EQ(std::fabs(double(v)), field_value(kF8, c & 0x7F)) << std::hex << c;
    EXPECT_EQ(std::signbit(v), (c & 0x80) != 0) << std::hex << c;
    EXPECT_EQ(f32_to_f8e4m3(v), c) << std::hex << c;
  }
}

TEST(F8E4M3, RoundsToNearestEvenAndSaturates) {
  int64_t failures = 0;
  for (float x : probe_values(kF8)) {
    const uint32_t expected = nearest_code(kF8, x);
    if (f32_to_f8e4m3(x) != expected && failures++ < 10)
      ADD_FAILURE() << x << " -> " << std::hex << int(f32_to_f8e4m3(x)) << ", expected " << expected;
  }
  EXPECT_EQ(failures, 0);
}

// ---------------------------------------------------------------- names, sizes, bulk conversion

TEST(DType, NamesAndSizes) {
  struct Row { DType dtype; size_t size; const char* name; const char* st; };
  for (const Row& r : {Row{DType::kF32, 4, "f32", "F32"}, Row{DType::kF16, 2, "f16", "F16"},
                       Row{DType::kBF16, 2, "bf16", "BF16"}, Row{DType::kF8E4M3, 1, "f8_e4m3", "F8_E4M3"},
                       Row{DType::kI32, 4, "i32", "I32"}, Row{DType::kI64, 8, "i64", "I64"},
                       Row{DType::kU8, 1, "u8", "U8"}, Row{DType::kI8, 1, "i8", "I8"},
                       Row{DType::kF8E8M0, 1, "f8_e8m0", "F8_E8M0"}}) {
    EXPECT_EQ(dtype_size(r.dtype), r.size) << r.name;
    EXPECT_EQ(dtype_name(r.dtype), r.name);
    EXPECT_EQ(dtype_to_safetensors(r.dtype), r.st);
    ASSERT_TRUE(dtype_from_safetensors(r.st).has_value()) << r.st;
    EXPECT_EQ(*dtype_from_safetensors(r.st), r.dtype);
  }
  for (const char* unsupported : {"F64", "bf16", "F8_E5M2", "", "BOOL", "F4"})
    EXPECT_FALSE(dtype_from_safetensors(unsupported).has_value()) << unsupported;
}

// V4's formats: UE8M0 scale bytes are 2^(e - 127); packed FP4 E2M1 holds element 2j in
// the low nibble of byte j (sign bit 3, magnitudes 0 .5 1 1.5 2 3 4 6), two per byte.
TEST(DType, Ue8m0AndPackedFp4) {
  const uint8_t scales[4] = {127, 128, 120, 0};
  float out[8];
  convert_to_f32(DType::kF8E8M0, scales, out, 4);
  EXPECT_EQ(out[0], 1.0f); EXPECT_EQ(out[1], 2.0f); EXPECT_EQ(out[2], 1.0f / 128); EXPECT_EQ(out[3], std::ldexp(1.0f, -127));
  EXPECT_TRUE(std::isnan(ue8m0_to_f32(0xFF)));
  EXPECT_EQ(dtype_bytes(DType::kFP4E2M1, 64), 32u);
  EXPECT_EQ(dtype_name(DType::kFP4E2M1), "fp4_e2m1");
  const uint8_t packed[4] = {0x10, 0x32, 0x7C, 0x9F};
  convert_to_f32(DType::kFP4E2M1, packed, out, 8);
  const float expected[8] = {0.0f, 0.5f, 1.0f, 1.5f, -2.0f, 6.0f, -6.0f, -0.5f};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(DType, ConvertToF32) {
  float out[3];
  const uint16_t bf16[3] = {0x3F80, 0xC040, 0x0000};
  convert_to_f32(DType::kBF16, bf16, out, 3);
  EXPECT_EQ(out[0], 1.0f); EXPECT_EQ(out[1], -3.0f); EXPECT_EQ(out[2], 0.0f);
  const uint16_t f16[3] = {0x3C00, 0xC200, 0x7BFF};
  convert_to_f32(DType::kF16, f16, out, 3);
  EXPECT_EQ(out[0], 1.0f); EXPECT_EQ(out[1], -3.0f); EXPECT_EQ(out[2], 65504.0f);
  const uint8_t f8[3] = {0x38, 0xC4, 0x7E};
  convert_to_f32(DType::kF8E4M3, f8, out, 3);
  EXPECT_EQ(out[0], 1.0f); EXPECT_EQ(out[1], -3.0f); EXPECT_EQ(out[2], 448.0f);
  const float f32[3] = {0.5f, -7.25f, 1e30f};
  convert_to_f32(DType::kF32, f32, out, 3);
  EXPECT_EQ(out[0], 0.5f); EXPECT_EQ(out[1], -7.25f); EXPECT_EQ(out[2], 1e30f);
  const int32_t i32[3] = {-5, 0, 1 << 20};
  convert_to_f32(DType::kI32, i32, out, 3);
  EXPECT_EQ(out[0], -5.0f); EXPECT_EQ(out[1], 0.0f); EXPECT_EQ(out[2], 1048576.0f);
  const int64_t i64[3] = {-9, 3, int64_t{1} << 40};
  convert_to_f32(DType::kI64, i64, out, 3);
  EXPECT_EQ(out[0], -9.0f); EXPECT_EQ(out[1], 3.0f); EXPECT_EQ(out[2], std::ldexp(1.0f, 40));
  const uint8_t u8[3] = {0, 200, 255};
  convert_to_f32(DType::kU8, u8, out, 3);
  EXPECT_EQ(out[0], 0.0f); EXPECT_EQ(out[1], 200.0f); EXPECT_EQ(out[2], 255.0f);
}

}  // namespace
}  // namespace dsinfer
