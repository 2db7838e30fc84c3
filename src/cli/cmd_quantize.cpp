// `dsinfer quantize`: a Hugging Face folder (BF16, F16, F32 or FP8 with block scales) to
// a llama.cpp `deepseek2` GGUF file, streamed tensor by tensor with a progress line per
// tensor on stderr. Norms, router and bias stay F32; the tokenizer is converted when the
// folder has one.
#include <chrono>
#include <filesystem>
#include <thread>

#include "backend/reference/dequantize.h"
#include "cli/commands.h"
#include "core/thread_pool.h"
#include "formats/checkpoint.h"
#include "formats/gguf_tokenizer.h"
#include "model/gguf_export.h"

namespace dsinfer::cli {
namespace {

struct QuantizeOptions {
  std::string model_dir;
  std::string type;
  std::string out_path;
  std::string name;
  int threads = 0;
};

Status run_quantize(const QuantizeOptions& o) {
  if (o.model_dir.ends_with(".gguf")) return error("--model {}: quantize reads a Hugging Face folder, not a GGUF file", o.model_dir);
  if (!o.out_path.ends_with(".gguf")) return error("--out {}: the output must be a .gguf file", o.out_path);
  DSINFER_ASSIGN_OR_RETURN(DType type, gguf_export_type(o.type));
  DSINFER_ASSIGN_OR_RETURN(auto checkpoint, Checkpoint::open(o.model_dir));
  const ModelConfig& config = checkpoint->config();
  const std::vector<DType> stored = {DType::kBF16, DType::kF16, DType::kF32, DType::kF8E4M3};

  std::vector<std::string> tokenizer_warnings;
  bool has_tokenizer = false;
  auto add_tokenizer = [&](GgufWriter& w) -> Status {
    DSINFER_ASSIGN_OR_RETURN(has_tokenizer, add_hf_tokenizer_metadata(o.model_dir, config.vocab_size, w, tokenizer_warnings));
    // llama.cpp needs tokenizer.ggml.model; "no_vocab" loads with placeholder tokens.
    if (!has_tokenizer) w.set("tokenizer.ggml.model", GgufValue::string("no_vocab"));
    return Status::ok();
  };
  auto rows = [&](const TensorSpec& spec, int64_t begin, int64_t count, float* out) -> Status {
    DSINFER_ASSIGN_OR_RETURN(WeightView view, checkpoint->get(spec.name, spec.shape, stored));
    const int64_t cols = view.cols();
    for (int64_t r = 0; r < count; ++r) reference::dequantize_row(view, begin + r, out + r * cols);
    return Status::ok();
  };

  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(threads);
  const GgufExportOptions options{.type = type,
                                  .model_name = o.name.empty() ? std::filesystem::path(o.model_dir).filename().string() : o.name,
                                  .pool = &pool,
                                  .progress = true,
                                  .extra_metadata = add_tokenizer};
  const auto start = std::chrono::steady_clock::now();
  DSINFER_ASSIGN_OR_RETURN(GgufExportSummary summary, write_gguf_model(config, rows, o.out_path, options));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!has_tokenizer)
    std::fprintf(stderr, "warning: %s has no tokenizer.json: the file has no vocabulary (tokenizer.ggml.model "
                         "\"no_vocab\"); llama.cpp runs it on token ids only\n",
                 o.model_dir.c_str());
  for (const auto& w : tokenizer_warnings) std::fprintf(stderr, "warning: tokenizer: %s\n", w.c_str());
  for (const auto& w : summary.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::printf("wrote %s: %lld tensors, %.1f MB of %s weights in %.1f s\n", o.out_path.c_str(),
              static_cast<long long>(summary.tensors), static_cast<double>(summary.bytes) / 1e6, o.type.c_str(), seconds);
  return Status::ok();
}

}  // namespace

void add_quantize_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* cmd = app.add_subcommand("quantize", "Convert a Hugging Face folder to a llama.cpp deepseek2 GGUF file");
  cmd->add_option("--model", o->model_dir, "Hugging Face model folder")->required();
  cmd->add_option("--type", o->type, "Type of projections, embedding and head (norms, router, bias stay f32)")
      ->required()
      ->check(CLI::IsMember(gguf_export_type_names()));
  cmd->add_option("--out", o->out_path, "Output FILE.gguf")->required();
  cmd->add_option("--name", o->name, "general.name (default: the folder's name)");
  cmd->add_option("--threads", o->threads, "Quantizing threads (default: all cores)");
  cmd->callback([o, &exit_code] {
    Status status = run_quantize(*o);
    if (!status) exit_code = report_error(status);
  });
}

}  // namespace dsinfer::cli
