// Small pieces for parsing model output that arrives in arbitrary fragments.
#pragma once

#include <cstddef>
#include <string_view>

namespace dsinfer::server {

// Length of the longest tail of `text` that is a proper prefix of `marker`: the bytes a
// streaming parser must hold back because the next fragment may complete the marker.
size_t partial_marker_suffix(std::string_view text, std::string_view marker);

bool is_json_space(char c);

// Finds where one JSON object, array or string ends, fed in fragments; tracks strings and
// escapes, so delimiters or brackets inside string values do not end it early. Values of
// other kinds (numbers, literals) are reported invalid: their end needs a look-ahead.
class JsonValueScanner {
 public:
  // Consumes bytes of `text` up to and including the value's last byte; returns how many.
  // The first byte fed must start the value (callers skip leading whitespace).
  size_t feed(std::string_view text);
  bool done() const { return done_; }
  bool invalid() const { return invalid_; }

 private:
  int depth_ = 0;
  bool started_ = false;
  bool in_string_ = false;
  bool escape_ = false;
  bool done_ = false;
  bool invalid_ = false;
};

}  // namespace dsinfer::server
