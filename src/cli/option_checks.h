// Checks on numeric options whose failures tell the user what is wanted. CLI11's own
// PositiveNumber and NonNegativeNumber print a range up to the largest double, and
// PositiveNumber turns 0 away as "not in range 0 to ...".
#pragma once

#include <CLI/CLI.hpp>

namespace dsinfer::cli {

// A number no smaller than `lowest`: "must be at least 1, got 0".
CLI::Validator at_least(double lowest);

}  // namespace dsinfer::cli
