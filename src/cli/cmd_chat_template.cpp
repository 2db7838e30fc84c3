// `dsinfer chat-template`: renders a model's chat template for a conversation read
// from stdin and prints the prompt exactly as transformers' apply_chat_template
// (tokenize=False) would. Reads only DIR/tokenizer_config.json, and DIR/config.json when
// there is no template (V3.2 / V4: the built-in encoder; tokenizer/chat_prompt_format.h).
//
// stdin: a JSON array of messages, or {"messages": [...], "tools": [...]}.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tokenizer/chat_prompt_format.h"
#include "tokenizer/gguf_vocabulary.h"
#include "tokenizer/tokenizer_config.h"

namespace dsinfer::cli {
namespace {

using nlohmann::ordered_json;

struct ChatTemplateOptions {
  std::string model_dir;
  bool add_generation_prompt = false;
  std::string kwargs_json;  // extra template variables, e.g. {"thinking": true}
};

// The request: key order kept, since templates print tools with |tojson.
Status read_request(const std::string& text, ChatPromptInputs& inputs) {
  ordered_json request = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return error("stdin is not valid JSON");
  if (request.is_array()) {
    inputs.messages = std::move(request);
    return Status::ok();
  }
  if (!request.is_object()) return error("stdin must hold a JSON array of messages or an object with \"messages\"");
  auto messages = request.find("messages");
  if (messages == request.end() || !messages->is_array()) return error("stdin object needs a \"messages\" array");
  inputs.messages = std::move(*messages);
  auto tools = request.find("tools");
  if (tools != request.end() && !tools->is_null()) {
    if (!tools->is_array()) return error("\"tools\" must be an array");
    inputs.tools = std::move(*tools);
  }
  return Status::ok();
}

int run_chat_template(const ChatTemplateOptions& options) {
  auto config = load_model_tokenizer_config(options.model_dir);
  if (!config.is_ok()) return report_error(config.status());
  auto format = ChatPromptFormat::load(options.model_dir, *config);
  if (!format.is_ok()) return report_error(format.status());
  if (format->kind() == ChatPromptFormat::Kind::kNone) {
    return report_error(error("{}: the model has no chat template (tokenizer_config.json's chat_template, or a "
                              "GGUF file's tokenizer.chat_template) and config.json's model_type has no built-in "
                              "prompt format",
                              options.model_dir));
  }

  ChatPromptInputs inputs;
  inputs.add_generation_prompt = options.add_generation_prompt;
  if (!options.kwargs_json.empty()) {
    inputs.kwargs = ordered_json::parse(options.kwargs_json, nullptr, /*allow_exceptions=*/false);
    if (inputs.kwargs.is_discarded() || !inputs.kwargs.is_object())
      return report_error(error("--kwargs must be a JSON object, e.g. '{{\"thinking\": true}}'"));
  }
  const std::string request(std::istreambuf_iterator<char>(std::cin), {});
  if (Status s = read_request(request, inputs); !s.is_ok()) return report_error(s);

  auto prompt = format->render(inputs);
  if (!prompt.is_ok()) return report_error(prompt.status());
  std::fwrite(prompt->data(), 1, prompt->size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

void add_chat_template_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ChatTemplateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "chat-template",
      "Render the model's chat template for messages read from stdin (a JSON array of messages, or "
      "{\"messages\": [...], \"tools\": [...]}) and print the prompt exactly as transformers' "
      "apply_chat_template would (reads only tokenizer_config.json, and config.json for the built-in "
      "DeepSeek-V3.2 / V4 encoders)");
  cmd->add_option("--model", options->model_dir, "Folder with tokenizer_config.json, or a .gguf file")->required();
  cmd->add_flag("--add-generation-prompt", options->add_generation_prompt,
                "End the prompt with the assistant turn's opening, as for generation");
  cmd->add_option("--kwargs", options->kwargs_json,
                  "Extra template variables as a JSON object, e.g. '{\"thinking\": true}'");
  cmd->callback([options, &exit_code] { exit_code = run_chat_template(*options); });
}

}  // namespace dsinfer::cli
