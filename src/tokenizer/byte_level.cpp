#include "tokenizer/byte_level.h"

#include <array>
#include <cstdint>

namespace dsinfer {
namespace {

struct Alphabet {
  std::array<char32_t, 256> byte_to_char{};
  // char_to_byte[c] for c < 0x144; -1 where c is not in the alphabet.
  std::array<int16_t, 0x144> char_to_byte{};
};

// The table from HF's bytes_char(): bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to
// themselves; the other 68 bytes, in increasing order, to U+0100, U+0101, ...
constexpr Alphabet make_alphabet() {
  Alphabet a{};
  for (auto& b : a.char_to_byte) b = -1;
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const char32_t c = printable ? char32_t(b) : next++;
    a.byte_to_char[b] = c;
    a.char_to_byte[c] = int16_t(b);
  }
  return a;
}

constexpr Alphabet kAlphabet = make_alphabet();

}  // namespace

void append_byte_level(std::string_view bytes, std::string& out) {
  for (unsigned char b : bytes) {
    const char32_t c = kAlphabet.byte_to_char[b];
    if (c < 0x80) {
      out.push_back(char(c));
    } else {  // all alphabet characters are below U+0800: two bytes
      out.push_back(char(0xC0 | (c >> 6)));
      out.push_back(char(0x80 | (c & 0x3F)));
    }
  }
}

bool append_bytes_from_byte_level(std::string_view text, std::string& out) {
  const size_t old_size = out.size();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    char32_t c;
    if (p[i] < 0x80) {
      c = p[i];
      i += 1;
    } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) {
      c = char32_t(p[i] & 0x1F) << 6 | (p[i + 1] & 0x3F);
      i += 2;
    } else {
      out.resize(old_size);  // three- or four-byte characters are never in the alphabet
      return false;
    }
    if (c >= kAlphabet.char_to_byte.size() || kAlphabet.char_to_byte[c] < 0) {
      out.resize(old_size);
      return false;
    }
    out.push_back(char(kAlphabet.char_to_byte[c]));
  }
  return true;
}

}  // namespace dsinfer
