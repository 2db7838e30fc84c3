// Code-point helpers for the Jinja interpreter. Jinja operates on Python str
// (sequences of code points) while we keep UTF-8 bytes; these helpers give the
// operations that need code points (len, slicing, case mapping, whitespace)
// Python's answers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::jinja {

// Decodes UTF-8 leniently: an invalid byte b becomes the lone surrogate
// U+DC00+b (Python's "surrogateescape"), so encode(decode(s)) == s for any bytes.
std::u32string decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view cps);

// Number of code points (len() of the Python str).
size_t count_code_points(std::string_view text);

// str.isspace() / the \s class of Python's re module for str patterns.
bool is_py_space(char32_t cp);
// str.isprintable(), approximated from the Unicode general categories that make
// a character unprintable (controls, format characters, separators other than
// the ASCII space, surrogates, private use). Used by repr().
bool is_py_printable(char32_t cp);
// Letter and digit classes for isalpha/isdigit/title: exact for ASCII and
// Latin-1, and every other code point at or above U+00C0 that is not
// punctuation, space or a symbol block counts as a letter.
bool is_py_alpha(char32_t cp);
bool is_py_digit(char32_t cp);

// Simple (one-to-one) case mapping for ASCII, Latin-1, Latin Extended-A,
// Greek, Cyrillic and fullwidth Latin; other code points map to themselves.
// Python's full mapping also expands a few characters (e.g. 'ß'.upper() ==
// 'SS'); to_upper_str handles 'ß', the only such case in these ranges.
char32_t to_lower(char32_t cp);
char32_t to_upper(char32_t cp);
std::string str_lower(std::string_view text);
std::string str_upper(std::string_view text);
bool is_lower_cased(char32_t cp);  // has an upper-case mapping
bool is_upper_cased(char32_t cp);  // has a lower-case mapping

// str.splitlines(): splits on \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, U+2028, U+2029.
std::vector<std::string> split_lines(std::string_view text);

}  // namespace dsinfer::jinja
