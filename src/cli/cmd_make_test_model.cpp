#include <string>

#include "cli/commands.h"
#include "model/test_model.h"

namespace dsinfer::cli {

void add_make_test_model_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<TestModelOptions>();
  CLI::App* cmd = app.add_subcommand("make-test-model", "Write a small random-weight checkpoint in the Hugging Face layout");
  cmd->add_option("--preset", options->preset, "Model shape")->required()->check(CLI::IsMember(test_model_presets()));
  cmd->add_option("--seed", options->seed, "Random seed")->default_val(0);
  cmd->add_option("--out", options->out_dir, "Output folder")->required();
  cmd->callback([options, &exit_code] {
    Status status = make_test_model(*options);
    if (!status) {
      exit_code = report_error(status);
      return;
    }
    std::printf("wrote %s model to %s\n", options->preset.c_str(), options->out_dir.c_str());
  });
}

}  // namespace dsinfer::cli
