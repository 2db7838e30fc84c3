#include "formats/weight_source.h"

#include <algorithm>

namespace dsinfer {
namespace {

std::string dtype_list(const std::vector<DType>& dtypes) {
  std::string s;
  for (size_t i = 0; i < dtypes.size(); ++i) {
    if (i) s += "|";
    s += dtype_name(dtypes[i]);
  }
  return s;
}

}  // namespace

Result<WeightView> WeightSource::get(const std::string& name, const std::vector<int64_t>& shape,
                                     const std::vector<DType>& allowed) const {
  auto view = find(name);
  if (!view) return error("tensor '{}' is missing from {}", name, path());
  const bool dtype_ok = std::find(allowed.begin(), allowed.end(), view->dtype) != allowed.end();
  if (view->shape != shape || !dtype_ok)
    return error("tensor '{}': expected {} {}, found {} {} in {}", name, shape_to_string(shape), dtype_list(allowed),
                 shape_to_string(view->shape), dtype_name(view->dtype), file_of(name));
  if (dtype_is_block_quantized(view->dtype) && shape.back() % dtype_block_elements(view->dtype) != 0)
    return error("tensor '{}': {} rows of {} values do not split into {}-value blocks", name,
                 dtype_name(view->dtype), shape.back(), dtype_block_elements(view->dtype));
  DSINFER_RETURN_IF_ERROR(attach_scales(*view));
  return *view;
}

}  // namespace dsinfer
