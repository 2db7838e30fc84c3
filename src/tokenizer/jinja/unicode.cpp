#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const unsigned char b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int extra = 0;
    char32_t cp = 0;
    char32_t min_cp = 0;
    if ((b0 & 0xE0) == 0xC0) {
      extra = 1, cp = b0 & 0x1F, min_cp = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      extra = 2, cp = b0 & 0x0F, min_cp = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      extra = 3, cp = b0 & 0x07, min_cp = 0x10000;
    } else {
      out.push_back(0xDC00 + b0);
      ++i;
      continue;
    }
    bool ok = i + static_cast<size_t>(extra) < n;
    for (int k = 1; ok && k <= extra; ++k) {
      const unsigned char b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (b & 0x3F);
    }
    if (!ok || cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      out.push_back(0xDC00 + b0);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += 1 + extra;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp >= 0xDC80 && cp <= 0xDCFF) {  // an escaped invalid byte: give it back
    out.push_back(static_cast<char>(cp - 0xDC00));
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

size_t count_code_points(std::string_view text) {
  bool ascii = true;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.size() : decode_utf8(text).size();
}

bool is_py_space(char32_t cp) {
  switch (cp) {
    case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool is_py_printable(char32_t cp) {
  if (cp == ' ') return true;
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  if (cp <= 0xA0 || cp == 0xAD) return false;  // C1 controls, NBSP, soft hyphen
  if (is_py_space(cp)) return false;
  if (cp >= 0x200B && cp <= 0x200F) return false;
  if (cp >= 0x202A && cp <= 0x202E) return false;
  if (cp >= 0x2060 && cp <= 0x206F) return false;
  if (cp >= 0xD800 && cp <= 0xF8FF) return false;  // surrogates, private use
  if (cp == 0xFEFF || (cp >= 0xFFF0 && cp <= 0xFFFB) || cp == 0xFFFE || cp == 0xFFFF) return false;
  if (cp >= 0xF0000) return false;  // planes 15-16: private use
  if (cp == 0x061C || cp == 0x180E) return false;  // format characters
  if (cp >= 0xE0000 && cp <= 0xE007F) return false;  // tags
  return true;
}

bool is_py_digit(char32_t cp) {
  if (cp >= '0' && cp <= '9') return true;
  if (cp == 0xB2 || cp == 0xB3 || cp == 0xB9) return true;  // superscripts count as digits
  if (cp >= 0x0660 && cp <= 0x0669) return true;             // Arabic-Indic
  if (cp >= 0x06F0 && cp <= 0x06F9) return true;
  if (cp >= 0x0966 && cp <= 0x096F) return true;             // Devanagari
  if (cp >= 0xFF10 && cp <= 0xFF19) return true;             // fullwidth
  return false;
}

bool is_py_alpha(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
  if (cp == 0xD7 || cp == 0xF7) return false;
  if (is_py_space(cp) || !is_py_printable(cp) || is_py_digit(cp)) return false;
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, symbols, arrows, math
  if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
  if (cp >= 0xFF00 && cp <= 0xFF20) return false;  // fullwidth punctuation
  if (cp >= 0xFF3B && cp <= 0xFF40) return false;
  if (cp >= 0xFF5B && cp <= 0xFF65) return false;
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return false;  // emoji and pictographs
  if (cp >= 0xFE00 && cp <= 0xFE0F) return false;    // variation selectors
  if (cp >= 0x0300 && cp <= 0x036F) return false;    // combining marks
  return true;
}

namespace {

// Returns the lower-case partner of an upper-case code point, or 0.
char32_t lower_of(char32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp < 0xC0) return 0;
  if (cp <= 0xDE) return cp == 0xD7 ? 0 : cp + 32;
  if (cp == 0x130) return 'i';  // dotted capital I (Python gives i + U+0307)
  if (cp >= 0x100 && cp <= 0x137) return (cp % 2 == 0) ? cp + 1 : 0;
  if (cp >= 0x139 && cp <= 0x148) return (cp % 2 == 1) ? cp + 1 : 0;
  if (cp >= 0x14A && cp <= 0x177) return (cp % 2 == 0) ? cp + 1 : 0;
  if (cp == 0x178) return 0xFF;
  if (cp == 0x179 || cp == 0x17B || cp == 0x17D) return cp + 1;
  if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;
  if (cp == 0x386) return 0x3AC;
  if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
  if (cp == 0x38C) return 0x3CC;
  if (cp == 0x38E || cp == 0x38F) return cp + 63;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
  if (cp >= 0xFF21 && cp <= 0xFF3A) return cp + 32;
  return 0;
}

// Returns the upper-case partner of a lower-case code point, or 0.
char32_t upper_of(char32_t cp) {
  if (cp >= 'a' && cp <= 'z') return cp - 32;
  if (cp == 0xB5) return 0x39C;
  if (cp < 0xDF) return 0;
  if (cp >= 0xE0 && cp <= 0xFE) return cp == 0xF7 ? 0 : cp - 32;
  if (cp == 0xFF) return 0x178;
  if (cp == 0x131) return 'I';  // dotless i
  if (cp >= 0x101 && cp <= 0x137) return (cp % 2 == 1) ? cp - 1 : 0;
  if (cp >= 0x13A && cp <= 0x149) return (cp % 2 == 0 && cp != 0x149) ? cp - 1 : 0;
  if (cp >= 0x14B && cp <= 0x178) return (cp % 2 == 1) ? cp - 1 : 0;
  if (cp == 0x17A || cp == 0x17C || cp == 0x17E) return cp - 1;
  if (cp == 0x17F) return 'S';
  if (cp >= 0x3B1 && cp <= 0x3CB) return cp == 0x3C2 ? 0x3A3 : cp - 32;
  if (cp == 0x3AC) return 0x386;
  if (cp >= 0x3AD && cp <= 0x3AF) return cp - 37;
  if (cp == 0x3CC) return 0x38C;
  if (cp == 0x3CD || cp == 0x3CE) return cp - 63;
  if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
  if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
  if (cp >= 0xFF41 && cp <= 0xFF5A) return cp - 32;
  return 0;
}

}  // namespace

char32_t to_lower(char32_t cp) {
  char32_t l = lower_of(cp);
  return l ? l : cp;
}

char32_t to_upper(char32_t cp) {
  char32_t u = upper_of(cp);
  return u ? u : cp;
}

bool is_lower_cased(char32_t cp) { return upper_of(cp) != 0 || cp == 0xDF; }
bool is_upper_cased(char32_t cp) { return lower_of(cp) != 0; }

std::string str_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : decode_utf8(text)) append_utf8(out, to_lower(cp));
  return out;
}

std::string str_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : decode_utf8(text)) {
    if (cp == 0xDF) {
      out += "SS";
    } else {
      append_utf8(out, to_upper(cp));
    }
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::u32string cps = decode_utf8(text);
  std::u32string current;
  size_t i = 0;
  bool pending = false;
  while (i < cps.size()) {
    char32_t cp = cps[i];
    bool is_break = cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0x1C || cp == 0x1D ||
                    cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (is_break) {
      lines.push_back(encode_utf8(current));
      current.clear();
      pending = false;
      if (cp == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    } else {
      current.push_back(cp);
      pending = true;
    }
    ++i;
  }
  if (pending) lines.push_back(encode_utf8(current));
  return lines;
}

}  // namespace dsinfer::jinja
