// Parsing of token-id lists given on the command line ("3,17,42").
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace dsinfer::cli {

Result<std::vector<int32_t>> parse_token_list(const std::string& text);

}  // namespace dsinfer::cli
