// UTF-8 checks and the lossy decoding Hugging Face applies to decoded bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace dsinfer {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlongs,
// surrogates and code points above U+10FFFF are ill-formed), or nullopt if `text` is valid.
std::optional<size_t> find_invalid_utf8(std::string_view text);

inline bool is_valid_utf8(std::string_view text) { return !find_invalid_utf8(text).has_value(); }

// Length of the UTF-8 sequence that lead byte `b` announces (1 for ASCII and, so that
// callers always advance, for bytes that cannot lead a sequence).
inline size_t utf8_sequence_length(unsigned char b) {
  if (b < 0xC0) return 1;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  return 4;
}

// Appends to `out` the text of `bytes` with each maximal ill-formed subsequence replaced
// by U+FFFD, exactly as Rust's String::from_utf8_lossy (which HF's ByteLevel decoder
// uses) does. With `final_chunk` false, a trailing sequence that is incomplete but could
// still become valid is not consumed, so a stream can wait for its remaining bytes.
// Returns how many bytes of `bytes` were consumed.
size_t append_utf8_lossy(std::string_view bytes, bool final_chunk, std::string& out);

}  // namespace dsinfer
