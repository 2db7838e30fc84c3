#include "server/text_scan.h"

#include <algorithm>

namespace dsinfer::server {

size_t partial_marker_suffix(std::string_view text, std::string_view marker) {
  if (marker.empty()) return 0;
  for (size_t len = std::min(marker.size() - 1, text.size()); len > 0; --len) {
    if (text.substr(text.size() - len) == marker.substr(0, len)) return len;
  }
  return 0;
}

bool is_json_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

size_t JsonValueScanner::feed(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && !done_ && !invalid_) {
    const char c = text[i++];
    if (!started_) {
      started_ = true;
      if (c == '"') {
        in_string_ = true;
      } else if (c == '{' || c == '[') {
        depth_ = 1;
      } else {
        invalid_ = true;
        return 0;
      }
      continue;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (depth_ == 0) done_ = true;  // a top-level string
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) done_ = true;
    }
  }
  return i;
}

}  // namespace dsinfer::server
