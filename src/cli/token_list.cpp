#include "cli/token_list.h"

#include <charconv>

namespace dsinfer::cli {

Result<std::vector<int32_t>> parse_token_list(const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    int32_t id = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || id < 0)
      return error("'{}' in the token list is not a token id (expected comma-separated integers >= 0)", item);
    ids.push_back(id);
    start = end + 1;
  }
  return ids;
}

}  // namespace dsinfer::cli
