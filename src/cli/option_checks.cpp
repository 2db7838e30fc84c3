#include "cli/option_checks.h"

#include <charconv>

#include <fmt/format.h>

namespace dsinfer::cli {

CLI::Validator at_least(double lowest) {
  return CLI::Validator(
      [lowest](std::string& text) -> std::string {
        double value = 0.0;
        const char* end = text.data() + text.size();
        const auto [stop, failure] = std::from_chars(text.data(), end, value);
        if (failure != std::errc() || stop != end) return fmt::format("'{}' is not a number", text);
        if (value < lowest) return fmt::format("must be at least {}, got {}", lowest, text);
        return {};
      },
      fmt::format("at least {}", lowest));
}

}  // namespace dsinfer::cli
