// The check of every fuzz target: a violated invariant traps, which libFuzzer and
// replay_main.cpp both report with the input that caused it.
#pragma once

namespace dsinfer::fuzz {

inline void require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace dsinfer::fuzz
