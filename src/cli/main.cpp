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
  // The commands report their errors as values. Two failures arrive as exceptions:
  // options CLI11 cannot parse or check, reported as the commands' errors are (with
  // exit code 1), and memory that cannot be had (a buffer sized by the model and the
  // request).
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return report_error(dsinfer::error("{} (--help lists the options)", e.what()));
  } catch (const std::bad_alloc&) {
    return report_error(dsinfer::error("out of memory: the model, the context size (-c) or the batch asks for more "
                                       "memory than this machine can give"));
  }
  return exit_code;
}
