// `dsinfer chat`: an interactive conversation. Each user line is added to the history,
// the model's prompt format (its chat template, or the built-in V3.2 / V4 encoder; see
// tokenizer/chat_prompt_format.h) renders the whole conversation, and the reply streams
// out as it is generated. Commands: /reset clears the history, /exit (or end of input)
// quits.
#include <cstdio>
#include <iostream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/backend_options.h"
#include "cli/commands.h"
#include "cli/model_loader.h"
#include "cli/option_checks.h"
#include "cli/text_generation.h"
#include "runtime/session.h"
#include "tokenizer/chat_prompt_format.h"
#include "tokenizer/gguf_vocabulary.h"

namespace dsinfer::cli {
namespace {

struct ChatOptions {
  BackendOptions backend;
  std::string model_dir;
  std::string system_prompt;
  std::string kwargs = "{}";
  int64_t max_new_tokens = 512;
  SamplingParams sampling;
};

// The reply as the history keeps it: in thinking mode the text up to </think> is the
// reasoning, which goes to reasoning_content (as the server returns it) so that the
// format can drop it from later turns instead of reading it as the answer.
nlohmann::ordered_json assistant_message(const std::string& reply) {
  constexpr std::string_view kEndThink = "</think>";
  const size_t end = reply.find(kEndThink);
  if (end == std::string::npos) return {{"role", "assistant"}, {"content", reply}};
  return {{"role", "assistant"},
          {"reasoning_content", reply.substr(0, end)},
          {"content", reply.substr(end + kEndThink.size())}};
}

// The conversation over `model` (DeepSeekModel or DeepSeekV4Model).
template <typename Model>
Status converse(const ChatOptions& o, const Tokenizer& tokenizer, const ChatPromptFormat& format,
                const nlohmann::ordered_json& extra, Model& model) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!o.system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", o.system_prompt}});
  const bool interactive = isatty(fileno(stdin));
  for (std::string line;;) {
    if (interactive) std::printf("> "), std::fflush(stdout);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      messages.erase(messages.begin() + (o.system_prompt.empty() ? 0 : 1), messages.end());
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    DSINFER_ASSIGN_OR_RETURN(std::string prompt,
                             format.render({.messages = messages, .add_generation_prompt = true, .kwargs = extra}));
    // The format writes BOS itself.
    DSINFER_ASSIGN_OR_RETURN(std::vector<TokenId> ids, tokenizer.encode(prompt, {.add_special_tokens = false}));
    const std::vector<int32_t> prompt_ids(ids.begin(), ids.end());
    DSINFER_ASSIGN_OR_RETURN(auto reply, generate_text(model, tokenizer, prompt_ids, o.max_new_tokens, o.sampling,
                                                       [](const std::string& piece) {
                                                         std::fwrite(piece.data(), 1, piece.size(), stdout);
                                                         std::fflush(stdout);
                                                       }));
    std::printf("\n");
    messages.push_back(assistant_message(reply.text));
  }
  return Status::ok();
}

Status run_chat(const ChatOptions& o) {
  DSINFER_ASSIGN_OR_RETURN(Tokenizer tokenizer, load_model_tokenizer(o.model_dir));
  DSINFER_ASSIGN_OR_RETURN(ChatPromptFormat format, ChatPromptFormat::load(o.model_dir, tokenizer.config()));
  if (format.kind() == ChatPromptFormat::Kind::kNone)
    return error("{}: the model has no chat template (tokenizer_config.json's chat_template, or a GGUF file's "
                 "tokenizer.chat_template) and config.json's model_type has no built-in prompt format",
                 o.model_dir);
  auto extra = nlohmann::ordered_json::parse(o.kwargs, nullptr, false);
  if (extra.is_discarded() || !extra.is_object()) return error("--kwargs must be a JSON object, e.g. '{{\"thinking\":true}}'");
  DSINFER_ASSIGN_OR_RETURN(auto backend, make_backend(o.backend));
  DSINFER_ASSIGN_OR_RETURN(auto weights, open_weights(o.model_dir));
  return with_model(std::move(weights), *backend,
                    [&](auto& model) { return converse(o, tokenizer, format, extra, model); });
}

}  // namespace

void add_chat_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive chat in the model's prompt format, streamed");
  cmd->add_option("--model", o->model_dir, "Hugging Face model folder (with tokenizer files) or .gguf file")->required();
  cmd->add_option("--system", o->system_prompt, "System prompt");
  cmd->add_option("--kwargs", o->kwargs, "Chat-template kwargs as JSON, e.g. '{\"thinking\":true}'");
  cmd->add_option("-n,--max-new-tokens", o->max_new_tokens, "Most tokens per reply")->default_val(512);
  cmd->add_option("--temperature", o->sampling.temperature, "0 = greedy")->default_val(0.6f)->check(at_least(0));
  cmd->add_option("--top-p", o->sampling.top_p, "Nucleus sampling threshold")->default_val(0.95f)->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--seed", o->sampling.seed, "Sampling seed")->default_val(0);
  add_backend_options(*cmd, o->backend);
  cmd->callback([o, &exit_code] {
    Status status = run_chat(*o);
    if (!status) exit_code = report_error(status);
  });
}

}  // namespace dsinfer::cli
