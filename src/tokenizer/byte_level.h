// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one printable
// Unicode character (printable Latin-1 bytes as themselves, the rest as U+0100..U+0143,
// so a space is 'Ġ' and a newline 'Ċ'). Vocabulary strings of byte-level BPE models are
// written in this alphabet; dsinfer converts them to raw bytes once at load and runs BPE
// on the bytes of the text itself.
#pragma once

#include <string>
#include <string_view>

namespace dsinfer {

// Appends the byte-level spelling of `bytes` (two UTF-8 bytes at most per input byte).
void append_byte_level(std::string_view bytes, std::string& out);

// Appends the raw bytes a byte-level string stands for. Returns false, leaving `out` as it
// was, when `text` holds a character outside the alphabet (added tokens such as
// "<｜User｜>" are not written in it).
bool append_bytes_from_byte_level(std::string_view text, std::string& out);

}  // namespace dsinfer
