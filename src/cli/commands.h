// Every `dsinfer` subcommand lives in its own cmd_*.cpp and is added here.
// add_X_command declares the subcommand's options on `app` and, when the user picks it,
// runs it and stores its process exit code in `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

#include "core/status.h"

namespace dsinfer::cli {

void add_inspect_command(CLI::App& app, int& exit_code);
void add_logits_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_bench_serve_command(CLI::App& app, int& exit_code);
void add_chat_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);
void add_make_test_model_command(CLI::App& app, int& exit_code);
void add_quantize_command(CLI::App& app, int& exit_code);
void add_tokenize_command(CLI::App& app, int& exit_code);
void add_detokenize_command(CLI::App& app, int& exit_code);
void add_chat_template_command(CLI::App& app, int& exit_code);

// Prints "dsinfer: error: <message>" on stderr and returns the exit code for failures.
int report_error(const Status& status);

}  // namespace dsinfer::cli
