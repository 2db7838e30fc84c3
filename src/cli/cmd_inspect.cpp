// `dsinfer inspect`: what a model folder holds, read from config.json and the tensor headers.
#include <map>

#include "cli/commands.h"
#include "model/tensor_table.h"
#include "runtime/latent_cache.h"
#include "runtime/session.h"

namespace dsinfer::cli {
namespace {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

std::string billions(int64_t n) { return fmt::format("{:.3f}B", static_cast<double>(n) / 1e9); }

int run_inspect(const std::string& model_path) {
  auto source = open_weights(model_path);
  if (!source) return report_error(source.status());
  const WeightSource& weights = **source;
  const ModelConfig& c = weights.config();

  // Parameters as the tensor table counts them (scales excluded), and bytes per stored dtype.
  int64_t total = 0, active = 0, mtp = 0;
  for (const TensorSpec& spec : tensor_table(c)) {
    int64_t n = 1;
    for (int64_t d : spec.shape) n *= d;
    if (!weights.find(spec.name)) continue;
    total += n;
    switch (spec.role) {
      case TensorRole::kAlways: active += n; break;
      case TensorRole::kRoutedExpert: active += n * c.num_experts_per_tok / c.n_routed_experts; break;
      case TensorRole::kMtp: mtp += n; break;
    }
  }

  const int64_t dense_layers = std::min(c.first_k_dense_replace, c.num_hidden_layers);
  fmt::print("model_type        {}\n", c.model_type);
  fmt::print("layers            {} ({} dense, {} MoE){}\n", c.num_hidden_layers, dense_layers,
             c.num_hidden_layers - dense_layers,
             c.num_nextn_predict_layers ? fmt::format(" + {} MTP", c.num_nextn_predict_layers) : "");
  fmt::print("hidden / vocab    {} / {}\n", c.hidden_size, c.vocab_size);
  fmt::print("attention         MLA, {} heads, q_lora {}, kv_lora {}, rope {} nope {} v {}{}\n", c.num_attention_heads,
             c.q_lora_rank ? std::to_string(*c.q_lora_rank) : "none", c.kv_lora_rank, c.qk_rope_head_dim,
             c.qk_nope_head_dim, c.v_head_dim,
             c.yarn ? fmt::format(", YaRN x{}", c.yarn->factor) : "");
  if (c.indexer)
    fmt::print("sparse attention  lightning indexer, {} heads x {} dims, top {} positions\n", c.indexer->n_heads,
               c.indexer->head_dim, c.indexer->topk);
  if (c.n_routed_experts > 0) {
    static const char* kScoring[] = {"softmax", "sigmoid"};
    static const char* kMethod[] = {"greedy", "group_limited_greedy", "noaux_tc"};
    fmt::print("experts           {} routed + {} shared, top-{}, {} {}, groups {}/{}\n", c.n_routed_experts,
               c.n_shared_experts, c.num_experts_per_tok, kScoring[static_cast<int>(c.scoring_func)],
               kMethod[static_cast<int>(c.topk_method)], c.topk_group, c.n_group);
  }
  fmt::print("parameters        {} total ({}), {} active per token ({}){}\n", with_commas(total), billions(total),
             with_commas(active), billions(active), mtp ? fmt::format(", MTP {}", with_commas(mtp)) : "");
  for (const auto& [dtype, bytes] : weights.bytes_by_dtype()) fmt::print("bytes {:<11} {}\n", dtype, with_commas(bytes));
  fmt::print("latent KV / token {} bytes at 16 bits ({} at f32{}): {} layers x {} values{}\n",
             with_commas(LatentCache::bytes_per_token(c, DType::kF16)),
             with_commas(LatentCache::bytes_per_token(c, DType::kF32)),
             c.latent_dim() % 32 == 0
                 ? fmt::format(", {} at q8_0", with_commas(LatentCache::bytes_per_token(c, DType::kQ8_0)))
                 : std::string(),
             c.num_hidden_layers, c.latent_dim(),
             c.indexer ? fmt::format(" + {} f32 indexer key values", c.indexer->head_dim) : std::string());
  fmt::print("context           {} positions\n", c.max_position_embeddings);
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto model_dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect", "Summarise a model folder: architecture, parameters, bytes, KV size");
  cmd->add_option("--model", *model_dir, "Hugging Face model folder or .gguf file")->required();
  cmd->callback([model_dir, &exit_code] { exit_code = run_inspect(*model_dir); });
}

}  // namespace dsinfer::cli
