#include "model/weight_traffic.h"

#include "model/tensor_table.h"

namespace dsinfer {

int64_t weight_bytes_per_token(const WeightSource& weights) {
  const ModelConfig& c = weights.config();
  int64_t bytes = 0;
  for (const TensorSpec& spec : tensor_table(c)) {
    auto view = weights.find(spec.name);
    if (!view || spec.role == TensorRole::kMtp) continue;
    const int64_t stored = static_cast<int64_t>(dtype_bytes(view->dtype, view->numel()));
    if (spec.kind == TensorKind::kEmbedding) {
      bytes += stored / view->rows();  // one row per token
    } else if (spec.role == TensorRole::kRoutedExpert) {
      bytes += stored * c.num_experts_per_tok / c.n_routed_experts;
    } else {
      bytes += stored;
    }
  }
  return bytes;
}

}  // namespace dsinfer
