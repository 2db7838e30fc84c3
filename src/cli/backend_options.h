// The --backend / --threads / --isa options shared by every command that runs a model.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "backend/ops.h"

namespace dsinfer::cli {

struct BackendOptions {
  std::string backend = "cpu";  // cpu | reference
  int threads = 0;              // 0: all cores
  std::string isa;              // cpu backend: force "generic", "avx2", "avx512-vnni" (x86-64), "neon" or "neon-dotprod" (aarch64)
  bool pack_at_load = false;    // cpu backend: repack weights at load, not on first use
};

void add_backend_options(CLI::App& cmd, BackendOptions& options);
Result<std::unique_ptr<Backend>> make_backend(const BackendOptions& options);

}  // namespace dsinfer::cli
