// `dsinfer inspect`: what a model folder holds, read from config.json and the tensor
// headers, and the tokenizer the text commands would use.
#include <map>

#include "cli/commands.h"
#include "model/tensor_table.h"
#include "runtime/latent_cache.h"
#include "runtime/session.h"
#include "tokenizer/gguf_vocabulary.h"

namespace dsinfer::cli {
namespace {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

std::string billions(int64_t n) { return fmt::format("{:.3f}B", static_cast<double>(n) / 1e9); }

// The tokenizer `run -p`, `chat` and `serve` load: its size, BOS, the ids that end a reply
// (with their text) and whether it has a chat template; or why there is none (a model
// without one still runs from token ids).
void print_tokenizer_summary(const std::string& model_path) {
  auto tokenizer = load_model_tokenizer(model_path);
  if (!tokenizer.is_ok()) {
    fmt::print("tokenizer         none: {}\n", tokenizer.status().message());
    return;
  }
  const auto named = [&](TokenId id) {
    const std::optional<std::string> text = tokenizer->id_to_token(id);
    return text ? fmt::format("{} {}", id, *text) : fmt::format("{} (no token)", id);
  };
  std::string ends;
  for (TokenId id : tokenizer->end_of_generation()) ends += (ends.empty() ? "" : ", ") + named(id);
  fmt::print("tokenizer         {} ids, BOS {}, replies end at {}, chat template {}\n",
             with_commas(static_cast<int64_t>(tokenizer->vocab_size())),
             tokenizer->bos_id() ? named(*tokenizer->bos_id()) : "none", ends.empty() ? "none" : ends,
             tokenizer->config().chat_template ? "yes" : "no");
}

// deepseek_v4: attention parts per layer, mHC, routing, and what its caches hold.
void print_v4_summary(const ModelConfig& c) {
  const V4Config& v = *c.v4;
  int64_t window_only = 0, csa = 0, hca = 0;
  double bytes_per_token = 0;  // compressed rows (and CSA indexer keys), float32
  int64_t fixed_bytes = 0;     // window rings and compressor state, per sequence
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int64_t r = v.ratio(l);
    fixed_bytes += v.sliding_window * v.head_dim * 4;
    if (r == 0) {
      ++window_only;
      continue;
    }
    const bool is_csa = r == V4Config::kCsaRatio;
    (is_csa ? csa : hca) += 1;
    bytes_per_token += 4.0 * v.head_dim / static_cast<double>(r);
    fixed_bytes += (is_csa ? 2 : 1) * r * 2 * (is_csa ? 2 : 1) * v.head_dim * 4;
    if (is_csa) {
      bytes_per_token += 4.0 * v.index_head_dim / static_cast<double>(r);
      fixed_bytes += 2 * r * 4 * v.index_head_dim * 4;
    }
  }
  fmt::print("layers            {} ({} hash-routed){}\n", c.num_hidden_layers, v.num_hash_layers,
             c.num_nextn_predict_layers ? fmt::format(" + {} MTP", c.num_nextn_predict_layers) : "");
  fmt::print("hidden / vocab    {} / {}\n", c.hidden_size, c.vocab_size);
  fmt::print("attention         {} heads x {} (rope {}), one K=V head, q_lora {}, output {} groups x {}, sinks\n",
             c.num_attention_heads, v.head_dim, c.qk_rope_head_dim, *c.q_lora_rank, v.o_groups, v.o_lora_rank);
  fmt::print("                  window {} raw rows; layers: {} window-only, {} CSA (ratio 4, indexer {} heads x {}, "
             "top {}), {} HCA\n",
             v.sliding_window, window_only, csa, v.index_n_heads, v.index_head_dim, v.index_topk, hca);
  fmt::print("rope              theta {} (window-only layers), {} with YaRN{} (compressed layers)\n", c.rope_theta,
             v.compress_rope_theta, c.yarn ? fmt::format(" x{}", c.yarn->factor) : " off");
  fmt::print("residual          mHC, {} streams, {} Sinkhorn iterations\n", v.hc_mult, v.hc_sinkhorn_iters);
  static const char* kScoring[] = {"softmax", "sigmoid", "sqrtsoftplus"};
  fmt::print("experts           {} routed + {} shared, top-{}, {} with bias, scale {}, SwiGLU limit {}\n",
             c.n_routed_experts, c.n_shared_experts, c.num_experts_per_tok, kScoring[static_cast<int>(c.scoring_func)],
             c.routed_scaling_factor, v.swiglu_limit);
  fmt::print("cache / sequence  {} bytes per token (compressed rows, f32) + {} fixed (window rings, compressor state)\n",
             fmt::format("{:.1f}", bytes_per_token), with_commas(fixed_bytes));
  for (int64_t n : {int64_t{4096}, int64_t{65536}})
    fmt::print("                  at {} tokens: {} bytes\n", n,
               with_commas(fixed_bytes + static_cast<int64_t>(bytes_per_token * static_cast<double>(n))));
}

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

  fmt::print("model_type        {}\n", c.model_type);
  if (c.v4) {
    print_v4_summary(c);
    fmt::print("parameters        {} total ({}), {} active per token ({}){}\n", with_commas(total), billions(total),
               with_commas(active), billions(active), mtp ? fmt::format(", MTP {}", with_commas(mtp)) : "");
    for (const auto& [dtype, bytes] : weights.bytes_by_dtype())
      fmt::print("bytes {:<11} {}\n", dtype, with_commas(bytes));
    fmt::print("context           {} positions\n", c.max_position_embeddings);
    print_tokenizer_summary(model_path);
    return 0;
  }
  const int64_t dense_layers = std::min(c.first_k_dense_replace, c.num_hidden_layers);
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
  print_tokenizer_summary(model_path);
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto model_dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect", "Summarise a model folder: architecture, parameters, bytes, KV size, tokenizer");
  cmd->add_option("--model", *model_dir, "Hugging Face model folder or .gguf file")->required();
  cmd->callback([model_dir, &exit_code] { exit_code = run_inspect(*model_dir); });
}

}  // namespace dsinfer::cli
