#include <cstdio>
#include <new>

#include "cli/commands.h"

namespace dsinfer::cli {

int report_error(const Status& status) {
  std::fprintf(stderr, "dsinfer: error: %s\n", status.message().c_str());
  return 1;
}

}  // namespace dsinfer::cli

int main(int argc, char** argv) {
  using namespace dsinfer::cli;
  CLI::App app{"dsinfer: inference engine for DeepSeek-architecture MoE models"};
  app.require_subcommand(1);
  int exit_code = 0;
  add_inspect_command(app, exit_code);
  add_logits_command(app, exit_code);
  add_run_command(app, exit_code);
  add_bench_command(app, exit_code);
  add_bench_serve_command(app, exit_code);
  add_chat_command(app, exit_code);
  add_serve_command(app, exit_code);
  add_make_test_model_command(app, exit_code);
  add_quantize_command(app, exit_code);
  add_tokenize_command(app, exit_code);
  add_detokenize_command(app, exit_code);
  add_chat_template_command(app, exit_code);
  // The commands report their errors as values; memory that cannot be had is the one
  // failure that arrives as an exception (a buffer sized by the model and the request).
  try {
    CLI11_PARSE(app, argc, argv);
  } catch (const std::bad_alloc&) {
    return report_error(dsinfer::error("out of memory: the model, the context size (-c) or the batch asks for more "
                                       "memory than this machine can give"));
  }
  return exit_code;
}
