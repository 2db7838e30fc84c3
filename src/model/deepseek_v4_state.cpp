#include "model/deepseek_v4_state.h"

#include <algorithm>

namespace dsinfer {
namespace {

struct Shape {
  int64_t rows, cols;
};

// The tensors of each layer's cache, in the order they are carved from one buffer.
std::vector<std::vector<Shape>> layer_shapes(const ModelConfig& c, int64_t capacity) {
  const V4Config& v = *c.v4;
  const int64_t layers = v.blocks(c.num_hidden_layers, c.num_nextn_predict_layers);
  std::vector<std::vector<Shape>> shapes(static_cast<size_t>(layers));
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t r = v.ratio(l);
    const bool csa = r == V4Config::kCsaRatio;
    auto& s = shapes[static_cast<size_t>(l)];
    s.push_back({std::min(v.sliding_window, capacity), v.head_dim});  // never more rows than positions
    if (r > 0) {
      const int64_t width = (csa ? 2 : 1) * v.head_dim;
      s.push_back({(csa ? 2 : 1) * r, 2 * width});
      s.push_back({capacity / r, v.head_dim});
    }
    if (csa) {
      s.push_back({2 * r, 2 * 2 * v.index_head_dim});
      s.push_back({capacity / r, v.index_head_dim});
    }
  }
  return shapes;
}

int64_t total_values(const std::vector<std::vector<Shape>>& shapes) {
  int64_t total = 0;
  for (const auto& layer : shapes)
    for (const Shape& shape : layer) total += shape.rows * shape.cols;
  return total;
}

}  // namespace

int64_t V4State::bytes(const ModelConfig& config, int64_t capacity) {
  return total_values(layer_shapes(config, capacity)) * static_cast<int64_t>(sizeof(float));
}

V4State::V4State(const ModelConfig& c, Backend& backend, int64_t capacity) : capacity_(capacity) {
  const auto shapes = layer_shapes(c, capacity);
  buffer_ = backend.allocate(static_cast<size_t>(total_values(shapes)) * sizeof(float));
  float* next = static_cast<float*>(buffer_->data());
  layers_.resize(shapes.size());
  for (size_t l = 0; l < shapes.size(); ++l) {
    V4LayerCache& cache = layers_[l];
    Tensor* slots[] = {&cache.window, &cache.comp_state, &cache.comp_rows, &cache.index_state, &cache.index_keys};
    const auto& s = shapes[l];
    for (size_t i = 0; i < s.size(); ++i) {
      *slots[i] = Tensor::contiguous(DType::kF32, s[i].rows, s[i].cols, next);
      next += s[i].rows * s[i].cols;
    }
  }
}

}  // namespace dsinfer
