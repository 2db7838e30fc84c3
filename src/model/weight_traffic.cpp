#include "model/weight_traffic.h"

#include "model/tensor_table.h"

namespace dsinfer {

int64_t weight_bytes_per_token(const WeightSource& weights) {
  const ModelConfig& c = weights.config();
  int64_t bytes = 0;
  for (const TensorSpec& spec : tensor_table(c)) {
    const auto found = weights.find(spec.name);
    if (!found || spec.role == TensorRole::kMtp) continue;
    // get() attaches the block scales stored beside the weight.
    const auto scaled = weights.get(spec.name, found->shape, {found->dtype});
    const WeightView* view = scaled.is_ok() ? &scaled.value() : &*found;
    // Block scales are read with their blocks: V4's FP4 experts carry one UE8M0 byte per
    // 32 values, 1/16 more than their codes.
    const int64_t stored = static_cast<int64_t>(dtype_bytes(view->dtype, view->numel())) +
                           (view->scales.present() ? view->scales.stored_bytes_for(view->rows(), view->cols()) : 0);
    if (spec.kind == TensorKind::kEmbedding || spec.kind == TensorKind::kIndexTable) {
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
