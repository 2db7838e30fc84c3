// Writing a model as a llama.cpp `deepseek2` GGUF file, one tensor at a time: the plan
// (which GGUF tensor holds which Hugging Face tensors, in which type) comes from the
// tensor table, the values from a caller's row source (a checkpoint for `dsinfer
// quantize`, the random generator for `dsinfer make-test-model`). Peak memory is one
// chunk of rows, never a whole tensor or model.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "model/tensor_table.h"

namespace dsinfer {

// The types `--type` accepts: f16, bf16, q8_0, q4_0, q5_0, q5_1, iq4_nl, iq4_xs, q2_k,
// q3_k, q4_k, q5_k, q6_k, the grid formats iq3_s, iq3_xxs, iq2_s, iq2_xs, iq2_xxs, iq1_m,
// iq1_s (and f32).
std::vector<std::string> gguf_export_type_names();
Result<DType> gguf_export_type(const std::string& name);

// The stored type of one tensor: norms, router and bias stay F32 (as llama.cpp keeps
// them); everything else gets `requested`, unless its rows (`row_length` values, the
// innermost dimension) do not split into the requested blocks: then q4_k falls back to
// q5_0, q5_k to q5_1, q6_k to q8_0, and q2_k, q3_k, iq4_xs and the grid formats to
// iq4_nl, as in llama.cpp,
// and any block format to f16 when the rows are not a multiple of 32 either.
DType gguf_tensor_type(TensorKind kind, int64_t row_length, DType requested);

// One tensor of the file: its GGUF name, type, ne (innermost first) and the Hugging
// Face tensors whose rows fill it, outermost first (the experts of a stacked tensor).
struct GgufExportTensor {
  std::string gguf_name;
  DType dtype = DType::kF32;
  std::vector<int64_t> ne;
  std::vector<TensorSpec> parts;
};
// The tensors of `config` in file order (main layers only: MTP layers are not written).
std::vector<GgufExportTensor> gguf_export_plan(const ModelConfig& config, DType requested);

// Writes rows [begin, begin + count) of the Hugging Face tensor `spec` (a 1-D tensor
// has one row) as float32 to `out`.
using TensorRowSource = std::function<Status(const TensorSpec& spec, int64_t begin, int64_t count, float* out)>;

struct GgufExportOptions {
  DType type = DType::kQ8_0;  // for projections, embedding and head
  std::string model_name;     // general.name
  ThreadPool* pool = nullptr; // converts rows in parallel when given
  bool progress = true;       // one line per tensor on stderr
  // Adds more metadata (the tokenizer) before the file is opened.
  std::function<Status(GgufWriter&)> extra_metadata;
};

struct GgufExportSummary {
  int64_t tensors = 0;
  uint64_t bytes = 0;                  // tensor data
  std::vector<std::string> warnings;   // metadata caveats, per-tensor type fallbacks
};

Result<GgufExportSummary> write_gguf_model(const ModelConfig& config, const TensorRowSource& rows,
                                           const std::string& path, const GgufExportOptions& options);

}  // namespace dsinfer
