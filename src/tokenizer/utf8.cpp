#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstring>

namespace dsinfer {
namespace {

// Result of examining the bytes at one position.
struct SequenceCheck {
  enum Kind { kValid, kInvalid, kIncomplete } kind;
  size_t length;  // kValid: sequence length; kInvalid: length of the maximal ill-formed
                  // subpart (always >= 1); kIncomplete: bytes available
};

// Well-formed UTF-8 per the Unicode standard (table 3-7): the allowed range of the second
// byte depends on the lead byte, which excludes overlongs, surrogates and > U+10FFFF.
SequenceCheck check_sequence(const unsigned char* p, size_t available) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return {SequenceCheck::kValid, 1};
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {SequenceCheck::kInvalid, 1};
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= available) return {SequenceCheck::kIncomplete, available};
    const unsigned char b = p[i];
    const unsigned char min = i == 1 ? lo : 0x80;
    const unsigned char max = i == 1 ? hi : 0xBF;
    if (b < min || b > max) return {SequenceCheck::kInvalid, i};
  }
  return {SequenceCheck::kValid, need};
}

}  // namespace

std::optional<size_t> find_invalid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    // Two-byte characters are most of the non-ASCII text in byte-level vocabularies.
    if (p[i] >= 0xC2 && p[i] <= 0xDF && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) {
      i += 2;
      continue;
    }
    SequenceCheck check = check_sequence(p + i, n - i);
    if (check.kind != SequenceCheck::kValid) return i;
    i += check.length;
  }
  return std::nullopt;
}

size_t append_utf8_lossy(std::string_view bytes, bool final_chunk, std::string& out) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  size_t run_start = 0;  // start of valid bytes not yet appended
  while (i < n) {
    SequenceCheck check = check_sequence(p + i, n - i);
    if (check.kind == SequenceCheck::kValid) {
      i += check.length;
      continue;
    }
    out.append(bytes.data() + run_start, i - run_start);
    if (check.kind == SequenceCheck::kIncomplete && !final_chunk) return i;
    // An invalid subpart, or an incomplete one at the very end: one U+FFFD each.
    out.append(kReplacement, 3);
    i += check.length;
    run_start = i;
  }
  out.append(bytes.data() + run_start, n - run_start);
  return n;
}

}  // namespace dsinfer
