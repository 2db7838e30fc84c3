#include "model/rope_table.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace dsinfer {
namespace {

// YaRN's attention temperature correction for a context extended by `factor`.
double yarn_mscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

// The rotary dimension whose wavelength completes `rotations` turns over the original
// context; dims below it keep their original frequency, dims above it are interpolated.
double correction_dim(double rotations, int64_t dim, double base, int64_t original_context) {
  return dim * std::log(original_context / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
}

}  // namespace

RopeTable make_rope_table(const ModelConfig& c) {
  const int64_t dim = c.qk_rope_head_dim;
  const double base = c.rope_theta;
  RopeTable table;
  table.inv_freq.resize(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double extrapolated = 1.0 / std::pow(base, static_cast<double>(2 * i) / static_cast<double>(dim));
    if (!c.yarn) {
      table.inv_freq[i] = static_cast<float>(extrapolated);
      continue;
    }
    const YarnScaling& y = *c.yarn;
    const double interpolated = extrapolated / y.factor;
    double low = std::floor(correction_dim(y.beta_fast, dim, base, y.original_max_position_embeddings));
    double high = std::ceil(correction_dim(y.beta_slow, dim, base, y.original_max_position_embeddings));
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high) high += 0.001;  // avoid a zero-width ramp
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    const double keep_original = 1.0 - ramp;  // 1 for high-frequency dims, 0 for low ones
    table.inv_freq[i] = static_cast<float>(interpolated * (1.0 - keep_original) + extrapolated * keep_original);
  }
  if (c.yarn)
    table.attention_factor =
        static_cast<float>(yarn_mscale(c.yarn->factor, c.yarn->mscale) / yarn_mscale(c.yarn->factor, c.yarn->mscale_all_dim));
  return table;
}

}  // namespace dsinfer
