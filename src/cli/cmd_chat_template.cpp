// `dsinfer chat-template`: renders a model's chat template for a conversation read
// from stdin and prints the prompt exactly as transformers' apply_chat_template
// (tokenize=False) would. Reads only DIR/tokenizer_config.json.
//
// stdin: a JSON array of messages, or {"messages": [...], "tools": [...]}.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tokenizer/chat_template.h"
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
Status read_request(const std::string& text, ChatTemplateInputs& inputs) {
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
  auto config = load_tokenizer_config(options.model_dir);
  if (!config.is_ok()) return report_error(config.status());
  if (!config->chat_template) {
    return report_error(error("{}/tokenizer_config.json has no chat_template", options.model_dir));
  }
  auto tmpl = ChatTemplate::parse(*config->chat_template);
  if (!tmpl.is_ok()) return report_error(tmpl.status());

  ChatTemplateInputs inputs;
  inputs.add_generation_prompt = options.add_generation_prompt;
  inputs.bos_token = config->bos_token;
  inputs.eos_token = config->eos_token;
  if (!options.kwargs_json.empty()) {
    inputs.extra = ordered_json::parse(options.kwargs_json, nullptr, /*allow_exceptions=*/false);
    if (inputs.extra.is_discarded() || !inputs.extra.is_object())
      return report_error(error("--kwargs must be a JSON object, e.g. '{{\"thinking\": true}}'"));
  }
  const std::string request(std::istreambuf_iterator<char>(std::cin), {});
  if (Status s = read_request(request, inputs); !s.is_ok()) return report_error(s);

  auto prompt = render_chat_template(*tmpl, inputs);
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
      "apply_chat_template would (reads only tokenizer_config.json)");
  cmd->add_option("--model", options->model_dir, "Folder with tokenizer_config.json")->required();
  cmd->add_flag("--add-generation-prompt", options->add_generation_prompt,
                "End the prompt with the assistant turn's opening, as for generation");
  cmd->add_option("--kwargs", options->kwargs_json,
                  "Extra template variables as a JSON object, e.g. '{\"thinking\": true}'");
  cmd->callback([options, &exit_code] { exit_code = run_chat_template(*options); });
}

}  // namespace dsinfer::cli
