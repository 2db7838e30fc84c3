#include "tokenizer/unicode_classes.h"

#include <algorithm>

namespace dsinfer {
namespace {

struct ClassRange {
  char32_t first;
  uint8_t bits;
};

constexpr ClassRange kRanges[] = {
#include "tokenizer/unicode_classes.inc"
};

}  // namespace

UnicodeClasses::UnicodeClasses() : bmp_(0x10000) {
  const size_t n = std::size(kRanges);
  for (size_t i = 0; i < n && kRanges[i].first < 0x10000; ++i) {
    const char32_t end = i + 1 < n ? std::min<char32_t>(kRanges[i + 1].first, 0x10000) : 0x10000;
    std::fill(bmp_.begin() + kRanges[i].first, bmp_.begin() + end, kRanges[i].bits);
  }
}

uint8_t UnicodeClasses::of_astral(char32_t cp) const {
  // The last range starting at or before cp.
  const ClassRange* it = std::upper_bound(std::begin(kRanges), std::end(kRanges), cp,
                                          [](char32_t value, const ClassRange& r) { return value < r.first; });
  return it == std::begin(kRanges) ? 0 : (it - 1)->bits;
}

}  // namespace dsinfer
