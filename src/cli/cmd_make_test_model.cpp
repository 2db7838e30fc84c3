#include <string>

#include "cli/commands.h"
#include "core/thread_pool.h"
#include "model/gguf_export.h"
#include "model/test_model.h"

namespace dsinfer::cli {
namespace {

struct MakeTestModelArgs {
  TestModelOptions options;
  std::string type = "q8_0";
  int threads = 0;
};

Status run_make_test_model(MakeTestModelArgs& args) {
  TestModelOptions& o = args.options;
  std::unique_ptr<ThreadPool> pool;
  if (o.out.ends_with(".gguf")) {
    DSINFER_ASSIGN_OR_RETURN(o.gguf_type, gguf_export_type(args.type));
    const int threads = args.threads > 0 ? args.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    pool = std::make_unique<ThreadPool>(threads);
    o.pool = pool.get();
    o.progress = true;
  }
  return make_test_model(o);
}

}  // namespace

void add_make_test_model_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<MakeTestModelArgs>();
  CLI::App* cmd = app.add_subcommand(
      "make-test-model",
      "Write a random-weight model: a Hugging Face folder, or (--out FILE.gguf) a llama.cpp deepseek2 GGUF written "
      "tensor by tensor");
  cmd->add_option("--preset", args->options.preset, "Model shape (bench-a: V2-Lite shape, bench-b: small V3; GGUF only)")
      ->required()
      ->check(CLI::IsMember(test_model_presets()));
  cmd->add_option("--seed", args->options.seed, "Random seed")->default_val(0);
  cmd->add_option("--out", args->options.out, "Output folder, or FILE.gguf")->required();
  cmd->add_option("--type", args->type, "GGUF only: type of projections, embedding and head")
      ->check(CLI::IsMember(gguf_export_type_names()))
      ->default_val("q8_0");
  cmd->add_option("--threads", args->threads, "GGUF only: quantizing threads (default: all cores)");
  cmd->callback([args, &exit_code] {
    Status status = run_make_test_model(*args);
    if (!status) {
      exit_code = report_error(status);
      return;
    }
    std::printf("wrote %s model to %s\n", args->options.preset.c_str(), args->options.out.c_str());
  });
}

}  // namespace dsinfer::cli
