#include "model/gguf_export.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/grid_blocks.h"
#include "formats/gguf_weights.h"

namespace dsinfer {
namespace {

struct ExportType {
  const char* name;
  DType dtype;
  uint32_t llama_ftype;  // general.file_type: llama.cpp's LLAMA_FTYPE_* of the mix
};
constexpr std::array<ExportType, 21> kExportTypes{{
    {"f32", DType::kF32, 0},
    {"f16", DType::kF16, 1},
    {"bf16", DType::kBF16, 32},
    {"q8_0", DType::kQ8_0, 7},
    {"q4_0", DType::kQ4_0, 2},
    {"q5_0", DType::kQ5_0, 8},
    {"q5_1", DType::kQ5_1, 9},
    {"q4_k", DType::kQ4_K, 14},  // Q4_K_S: one type for every quantized tensor
    {"q5_k", DType::kQ5_K, 16},  // Q5_K_S
    {"q6_k", DType::kQ6_K, 18},
    {"q3_k", DType::kQ3_K, 11},  // Q3_K_S
    {"q2_k", DType::kQ2_K, 10},
    {"iq4_nl", DType::kIQ4_NL, 25},
    {"iq4_xs", DType::kIQ4_XS, 30},
    {"iq3_s", DType::kIQ3_S, 26},
    {"iq3_xxs", DType::kIQ3_XXS, 23},
    {"iq2_s", DType::kIQ2_S, 28},
    {"iq2_xs", DType::kIQ2_XS, 20},
    {"iq2_xxs", DType::kIQ2_XXS, 19},
    {"iq1_m", DType::kIQ1_M, 31},
    {"iq1_s", DType::kIQ1_S, 24},
}};

// Rows converted per chunk: about 64 MB of float32 at a time.
constexpr int64_t kChunkValues = int64_t{16} << 20;

}  // namespace

std::vector<std::string> gguf_export_type_names() {
  std::vector<std::string> names;
  for (const auto& t : kExportTypes) names.emplace_back(t.name);
  return names;
}

Result<DType> gguf_export_type(const std::string& name) {
  for (const auto& t : kExportTypes)
    if (name == t.name) return t.dtype;
  std::string all;
  for (const auto& t : kExportTypes) all += (all.empty() ? "" : ", ") + std::string(t.name);
  return error("unknown GGUF type '{}' (choose one of: {})", name, all);
}

DType gguf_tensor_type(TensorKind kind, int64_t row_length, DType requested) {
  switch (kind) {
    case TensorKind::kNorm:
    case TensorKind::kBias:
    case TensorKind::kRouter:
    case TensorKind::kParameter:
    case TensorKind::kIndexTable: return DType::kF32;
    case TensorKind::kEmbedding:
    case TensorKind::kProjection:
    case TensorKind::kHead: break;
  }
  if (row_length % dtype_block_elements(requested) == 0) return requested;
  // llama.cpp's fallbacks for rows that do not split into 256-value super-blocks, so that
  // a file written here holds the types a llama.cpp quantization of the model would.
  DType fallback = DType::kF16;
  switch (requested) {
    case DType::kQ4_K: fallback = DType::kQ5_0; break;
    case DType::kQ5_K: fallback = DType::kQ5_1; break;
    case DType::kQ6_K: fallback = DType::kQ8_0; break;
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kIQ4_XS: fallback = DType::kIQ4_NL; break;
    default:
      if (is_grid_format(requested)) fallback = DType::kIQ4_NL;
      break;
  }
  return row_length % dtype_block_elements(fallback) == 0 ? fallback : DType::kF16;
}

std::vector<GgufExportTensor> gguf_export_plan(const ModelConfig& config, DType requested) {
  const std::vector<TensorSpec> specs = tensor_table(config);
  std::map<std::string, const TensorSpec*> by_name;
  for (const auto& spec : specs) by_name.emplace(spec.name, &spec);
  std::vector<GgufExportTensor> plan;
  for (const TensorSpec& spec : specs) {
    if (spec.role == TensorRole::kMtp) continue;
    const auto location = deepseek2_tensor_name(spec.name);
    if (!location || location->expert > 0) continue;  // experts 1.. join expert 0's stacked tensor
    GgufExportTensor t;
    t.gguf_name = location->gguf_name;
    t.ne.assign(spec.shape.rbegin(), spec.shape.rend());
    t.dtype = gguf_tensor_type(spec.kind, t.ne[0], requested);
    if (location->expert < 0) {
      t.parts.push_back(spec);
    } else {
      // "model.layers.N.mlp.experts.0.gate_proj.weight" -> the same projection of every expert.
      const std::string prefix = tensor_names::layer_prefix(spec.layer) + "mlp.experts.";
      const std::string suffix = spec.name.substr((prefix + "0.").size());  // "gate_proj.weight"
      for (int64_t e = 0; e < config.n_routed_experts; ++e)
        t.parts.push_back(*by_name.at(prefix + std::to_string(e) + "." + suffix));
      t.ne.push_back(config.n_routed_experts);
    }
    plan.push_back(std::move(t));
  }
  return plan;
}

Result<GgufExportSummary> write_gguf_model(const ModelConfig& config, const TensorRowSource& rows,
                                           const std::string& path, const GgufExportOptions& options) {
  // llama.cpp's deepseek2 architecture has no tensors for the lightning indexer.
  if (config.indexer) return error("GGUF export of model_type {} is not supported", config.model_type);
  GgufExportSummary summary;
  GgufWriter writer;
  DSINFER_RETURN_IF_ERROR(write_deepseek2_metadata(config, options.model_name, writer, summary.warnings));
  for (const auto& t : kExportTypes)
    if (t.dtype == options.type) writer.set("general.file_type", GgufValue::u32(t.llama_ftype));
  if (dtype_is_block_quantized(options.type)) writer.set("general.quantization_version", GgufValue::u32(2));
  if (options.extra_metadata) DSINFER_RETURN_IF_ERROR(options.extra_metadata(writer));

  const std::vector<GgufExportTensor> plan = gguf_export_plan(config, options.type);
  std::map<std::string, int64_t> fallbacks;  // "q8_0 (rows of 1408 values)" -> count
  for (const GgufExportTensor& t : plan) {
    DSINFER_RETURN_IF_ERROR(writer.add_tensor(t.gguf_name, t.dtype, t.ne));
    if (t.dtype != options.type && t.dtype != DType::kF32)
      ++fallbacks[fmt::format("{} (rows of {} values do not split into {} blocks)", dtype_name(t.dtype), t.ne[0],
                              dtype_name(options.type))];
  }
  for (const auto& [what, count] : fallbacks)
    summary.warnings.push_back(fmt::format("{} tensor(s) stored as {}", count, what));
  uint64_t total_bytes = 0;
  for (const auto& info : writer.tensors()) total_bytes += info.size;

  DSINFER_RETURN_IF_ERROR(writer.open(path));
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> values;
  std::vector<uint8_t> packed;
  uint64_t written = 0;
  for (size_t index = 0; index < plan.size(); ++index) {
    const GgufExportTensor& t = plan[index];
    const int64_t cols = t.ne[0];
    const size_t row_bytes = dtype_bytes(t.dtype, cols);
    for (const TensorSpec& part : t.parts) {
      const int64_t part_rows = part.shape.size() == 1 ? 1 : part.shape[0];
      const int64_t chunk = std::clamp<int64_t>(kChunkValues / std::max<int64_t>(cols, 1), 1, part_rows);
      values.resize(static_cast<size_t>(chunk * cols));
      packed.resize(static_cast<size_t>(chunk) * row_bytes);
      for (int64_t begin = 0; begin < part_rows; begin += chunk) {
        const int64_t count = std::min(chunk, part_rows - begin);
        DSINFER_RETURN_IF_ERROR(rows(part, begin, count, values.data()).with_context("tensor " + part.name));
        for (int64_t i = 0; i < count * cols; ++i)
          if (!std::isfinite(values[i]))
            return error("tensor {}: row {} has a non-finite value ({})", part.name, begin + i / cols, values[i]);
        auto convert = [&](int, int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r)
            convert_from_f32(t.dtype, values.data() + r * cols, packed.data() + r * row_bytes, static_cast<size_t>(cols));
        };
        if (options.pool && dtype_is_block_quantized(t.dtype)) options.pool->parallel_for(count, convert);
        else convert(0, 0, count);
        DSINFER_RETURN_IF_ERROR(writer.write(packed.data(), static_cast<size_t>(count) * row_bytes));
      }
    }
    written += writer.tensors()[index].size;
    if (options.progress) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "[%4zu/%zu] %-32s %-5s %-22s %9.1f MB   %6.1f%%  %6.1f s\n", index + 1, plan.size(),
                   t.gguf_name.c_str(), std::string(dtype_name(t.dtype)).c_str(), shape_to_string(t.ne).c_str(),
                   static_cast<double>(writer.tensors()[index].size) / 1e6,
                   total_bytes ? 100.0 * static_cast<double>(written) / static_cast<double>(total_bytes) : 100.0,
                   seconds);
    }
  }
  DSINFER_RETURN_IF_ERROR(writer.close());
  summary.tensors = static_cast<int64_t>(plan.size());
  summary.bytes = total_bytes;
  return summary;
}

}  // namespace dsinfer
