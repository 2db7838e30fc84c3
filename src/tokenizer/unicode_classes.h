// Which of the classes a pre-tokenizer regex asks about (L, M, N, P, S and Oniguruma's
// \s) each code point belongs to, exactly as Hugging Face tokenizers' regex engine sees
// it (Unicode 16.0; table generated from it by gen_unicode_tables.js).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace dsinfer {

enum UnicodeClass : uint8_t {
  kClassL = 1,
  kClassM = 2,
  kClassN = 4,
  kClassP = 8,
  kClassS = 16,
  kClassSpace = 32,  // Oniguruma \s: U+0009..U+000D, U+0085, Z*
};

class UnicodeClasses {
 public:
  UnicodeClasses();

  uint8_t of(char32_t cp) const {
    if (cp < bmp_.size()) return bmp_[cp];
    return of_astral(cp);
  }

 private:
  uint8_t of_astral(char32_t cp) const;
  std::vector<uint8_t> bmp_;  // U+0000..U+FFFF, direct
};

// Decodes the code point at `pos` of valid UTF-8; sets `length` to its byte count.
inline char32_t decode_utf8(std::string_view text, size_t pos, size_t& length) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  if (p[0] < 0x80) {
    length = 1;
    return p[0];
  }
  if (p[0] < 0xE0) {
    length = 2;
    return char32_t(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
  }
  if (p[0] < 0xF0) {
    length = 3;
    return char32_t(p[0] & 0x0F) << 12 | char32_t(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
  }
  length = 4;
  return char32_t(p[0] & 0x07) << 18 | char32_t(p[1] & 0x3F) << 12 | char32_t(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
}

}  // namespace dsinfer
