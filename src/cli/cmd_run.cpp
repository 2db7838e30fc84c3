// `dsinfer run`: generate after a prompt and print the output as it comes: text for a
// text prompt (-p), token ids for an id prompt (--prompt-tokens).
#include <cstdio>

#include "cli/backend_options.h"
#include "cli/commands.h"
#include "cli/option_checks.h"
#include "cli/text_generation.h"
#include "cli/token_list.h"
#include "runtime/session.h"
#include "runtime/v4_session.h"
#include "tokenizer/gguf_vocabulary.h"

namespace dsinfer::cli {
namespace {

struct RunOptions {
  BackendOptions backend;
  std::string model_dir;
  std::string prompt_tokens;
  std::string prompt_text;
  int64_t max_new_tokens = 32;
  SamplingParams sampling;
};

template <typename Model>
Status run_text(const RunOptions& o, Model& model) {
  DSINFER_ASSIGN_OR_RETURN(Tokenizer tokenizer, load_model_tokenizer(o.model_dir));
  DSINFER_ASSIGN_OR_RETURN(std::vector<TokenId> ids, tokenizer.encode(o.prompt_text, {.add_special_tokens = true}));
  const std::vector<int32_t> prompt(ids.begin(), ids.end());
  auto print = [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  DSINFER_RETURN_IF_ERROR(generate_text(model, tokenizer, prompt, o.max_new_tokens, o.sampling, print).status());
  std::printf("\n");
  return Status::ok();
}

// Token ids after a prompt of ids, printed as they come, through `session` (Session or V4Session).
template <typename SessionType, typename Model>
Status generate_ids(const RunOptions& o, Model& model) {
  DSINFER_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, parse_token_list(o.prompt_tokens));
  const int64_t needed = static_cast<int64_t>(prompt.size()) + o.max_new_tokens;
  if (needed > model.config().max_position_embeddings)
    return error("prompt of {} tokens plus -n {} exceeds the model's context of {}", prompt.size(), o.max_new_tokens,
                 model.config().max_position_embeddings);
  SessionType session(model, needed);
  bool first = true;
  DSINFER_RETURN_IF_ERROR(session.generate(prompt, o.max_new_tokens, o.sampling, [&](int32_t token) {
    std::printf(first ? "%d" : ",%d", token);
    std::fflush(stdout);
    first = false;
    return true;
  }));
  std::printf("\n");
  return Status::ok();
}

Status run_generate(const RunOptions& o) {
  if (o.max_new_tokens < 0) return error("-n must not be negative");
  if (o.prompt_text.empty() == o.prompt_tokens.empty()) return error("give either -p TEXT or --prompt-tokens IDS");
  DSINFER_ASSIGN_OR_RETURN(auto backend, make_backend(o.backend));
  DSINFER_ASSIGN_OR_RETURN(auto weights, open_weights(o.model_dir));
  if (weights->config().v4) {
    DSINFER_ASSIGN_OR_RETURN(auto model, DeepSeekV4Model::load(std::move(weights), *backend));
    if (!o.prompt_text.empty()) return run_text(o, *model);
    return generate_ids<V4Session>(o, *model);
  }
  DSINFER_ASSIGN_OR_RETURN(auto model, DeepSeekModel::load(std::move(weights), *backend));
  if (!o.prompt_text.empty()) return run_text(o, *model);
  return generate_ids<Session>(o, *model);
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate tokens after a prompt");
  cmd->add_option("--model", o->model_dir, "Hugging Face model folder or .gguf file")->required();
  cmd->add_option("-p,--prompt", o->prompt_text, "Prompt text (needs tokenizer.json in the model folder, or a .gguf file with its vocabulary)");
  cmd->add_option("--prompt-tokens", o->prompt_tokens, "Comma-separated prompt token ids");
  cmd->add_option("-n,--max-new-tokens", o->max_new_tokens, "Tokens to generate")->default_val(32);
  cmd->add_option("--temperature", o->sampling.temperature, "0 = greedy")->default_val(0.0f)->check(at_least(0));
  cmd->add_option("--top-p", o->sampling.top_p, "Nucleus sampling threshold")->default_val(1.0f)->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--top-k", o->sampling.top_k, "Keep the k most likely tokens (0 = all)")->default_val(0)->check(at_least(0));
  cmd->add_option("--seed", o->sampling.seed, "Sampling seed")->default_val(0);
  add_backend_options(*cmd, o->backend);
  cmd->callback([o, &exit_code] {
    Status status = run_generate(*o);
    if (!status) exit_code = report_error(status);
  });
}

}  // namespace dsinfer::cli
