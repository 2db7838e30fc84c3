// `dsinfer logits`: one row of logits per position, the interface correctness is judged by.
// The first --prefill tokens run as one chunk, the remaining given tokens one at a time
// through the decode path (teacher forcing), then --decode greedy steps follow.
#include <algorithm>

#include "cli/backend_options.h"
#include "cli/commands.h"
#include "cli/token_list.h"
#include "formats/npy.h"
#include "model/deepseek_v4_model.h"
#include "model/deepseek_v4_state.h"
#include "runtime/session.h"

namespace dsinfer::cli {
namespace {

struct LogitsOptions {
  BackendOptions backend;
  std::string model_dir;
  std::string tokens;
  int64_t prefill = -1;  // -1: all given tokens
  int64_t decode = 0;
  std::string out_path;
  std::string mtp_out_path;  // deepseek_v4: the MTP layer's logits
  std::string kv_type = "f32";
};

// Index of the largest logit of the last row in `logits`.
int32_t last_row_argmax(const std::vector<float>& logits, int64_t vocab_size) {
  auto row = logits.end() - vocab_size;
  return static_cast<int32_t>(std::max_element(row, logits.end()) - row);
}

// The same rows for a deepseek_v4 model, whose caches live in a V4State.
Status run_v4_logits(const LogitsOptions& o, std::unique_ptr<WeightSource> weights, std::span<const int32_t> tokens,
                     int64_t prefill) {
  if (o.kv_type != "f32") return error("--kv-type: deepseek_v4 caches are float32 only");
  DSINFER_ASSIGN_OR_RETURN(auto backend, make_backend(o.backend));
  DSINFER_ASSIGN_OR_RETURN(auto model, DeepSeekV4Model::load(std::move(weights), *backend));
  const ModelConfig& c = model->config();
  const int64_t given = static_cast<int64_t>(tokens.size());
  const int64_t rows = given + o.decode;
  if (rows > c.max_position_embeddings)
    return error("{} positions ({} tokens + {} decode steps) exceed the model's context of max_position_embeddings={}",
                 rows, given, o.decode, c.max_position_embeddings);
  if (!o.mtp_out_path.empty() && !model->has_mtp())
    return error("--mtp-out: the model has no MTP layer (num_nextn_predict_layers is 0, or compress_ratios has no "
                 "entry for it)");

  V4State state(c, *backend, rows);
  std::vector<int32_t> sequence(tokens.begin(), tokens.end());
  std::vector<float> all(static_cast<size_t>(rows * c.vocab_size));
  std::vector<float> logits;
  DSINFER_RETURN_IF_ERROR(model->forward(std::span(sequence).first(static_cast<size_t>(prefill)), state,
                                         ForwardOptions::Logits::kAll, logits));
  std::copy(logits.begin(), logits.end(), all.begin());
  for (int64_t i = prefill; i < rows; ++i) {
    if (i >= given) sequence.push_back(last_row_argmax(logits, c.vocab_size));
    DSINFER_RETURN_IF_ERROR(model->forward(std::span(sequence).subspan(static_cast<size_t>(i), 1), state,
                                           ForwardOptions::Logits::kLast, logits));
    std::copy(logits.begin(), logits.end(), all.begin() + i * c.vocab_size);
  }
  DSINFER_RETURN_IF_ERROR(write_npy_f32(o.out_path, {rows, c.vocab_size}, all.data()));
  if (o.mtp_out_path.empty()) return Status::ok();
  std::vector<float> mtp;
  DSINFER_RETURN_IF_ERROR(model->mtp_logits(sequence, mtp));
  return write_npy_f32(o.mtp_out_path, {rows - 1, c.vocab_size}, mtp.data());
}

Status run_logits(const LogitsOptions& o) {
  DSINFER_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, parse_token_list(o.tokens));
  const int64_t given = static_cast<int64_t>(tokens.size());
  const int64_t prefill = o.prefill < 0 ? given : o.prefill;
  if (prefill < 1 || prefill > given)
    return error("--prefill {} must lie in [1, {}] (the number of given tokens)", prefill, given);
  if (o.decode < 0) return error("--decode must not be negative");

  DSINFER_ASSIGN_OR_RETURN(const DType kv_dtype, parse_kv_dtype(o.kv_type));
  DSINFER_ASSIGN_OR_RETURN(auto weights, open_weights(o.model_dir));
  if (weights->config().v4) return run_v4_logits(o, std::move(weights), tokens, prefill);
  if (!o.mtp_out_path.empty()) return error("--mtp-out is available for deepseek_v4 models only");
  DSINFER_ASSIGN_OR_RETURN(auto backend, make_backend(o.backend));
  DSINFER_ASSIGN_OR_RETURN(auto model, DeepSeekModel::load(std::move(weights), *backend));
  const ModelConfig& c = model->config();
  DSINFER_RETURN_IF_ERROR(LatentBlockPool::check_dtype(c, kv_dtype));
  const int64_t rows = given + o.decode;
  if (rows > c.max_position_embeddings)
    return error("{} positions ({} tokens + {} decode steps) exceed the model's context of max_position_embeddings={}",
                 rows, given, o.decode, c.max_position_embeddings);

  Session session(*model, rows, kv_dtype);
  std::vector<float> all(static_cast<size_t>(rows * c.vocab_size));
  std::vector<float> logits;
  DSINFER_RETURN_IF_ERROR(session.append(std::span(tokens).first(static_cast<size_t>(prefill)),
                                         {.logits = ForwardOptions::Logits::kAll}, logits));
  std::copy(logits.begin(), logits.end(), all.begin());
  for (int64_t i = prefill; i < rows; ++i) {
    const int32_t token = i < given ? tokens[i] : last_row_argmax(logits, c.vocab_size);
    DSINFER_RETURN_IF_ERROR(session.append(std::span(&token, 1), {}, logits));
    std::copy(logits.begin(), logits.end(), all.begin() + i * c.vocab_size);
  }
  return write_npy_f32(o.out_path, {rows, c.vocab_size}, all.data());
}

}  // namespace

void add_logits_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand("logits", "Write one row of logits per position to a .npy file");
  cmd->add_option("--model", o->model_dir, "Hugging Face model folder or .gguf file")->required();
  cmd->add_option("--tokens", o->tokens, "Comma-separated token ids")->required();
  cmd->add_option("--prefill", o->prefill, "Tokens processed as one prefill chunk (default: all)");
  cmd->add_option("--decode", o->decode, "Greedy steps after the given tokens")->default_val(0);
  cmd->add_option("--out", o->out_path, "Output .npy file, float32 [tokens + decode, vocab_size]")->required();
  cmd->add_option("--mtp-out", o->mtp_out_path,
                  "deepseek_v4: also write the MTP layer's logits [positions - 1, vocab_size] here");
  cmd->add_option("--kv-type", o->kv_type, "Latent cache storage: f32, f16, bf16 or q8_0 (to measure its cost)")
      ->default_val("f32");
  add_backend_options(*cmd, o->backend);
  cmd->callback([o, &exit_code] {
    Status status = run_logits(*o);
    if (!status) exit_code = report_error(status);
  });
}

}  // namespace dsinfer::cli
