// Scratch of DeepSeekV4Model for one chunk of T tokens (private to the model's files).
#pragma once

#include <memory>
#include <vector>

#include "model/deepseek_v4_model.h"

namespace dsinfer {

struct V4Workspace {
  std::unique_ptr<DeviceBuffer> buffer;
  int64_t capacity = 0;  // tokens the buffer was carved for
  int64_t tokens = 0;    // tokens of the current chunk
  int64_t start = 0;     // position of its first token
  // float32 [T, width] each, first `tokens` rows in use
  Tensor streams, next_streams, mixes, post, comb, x, normed, out;
  Tensor qr, q, kv, attn, low_rank, proj, iproj, iq, iw, logits;
  // The raw rows a chunk's queries see (earlier window rows, then the chunk's), grown on demand.
  std::unique_ptr<DeviceBuffer> raw_buffer;
  Tensor raw;
  // int32 host lists
  std::vector<int32_t> positions, inverse_positions, block_positions, visible, selected;

  Tensor use(const Tensor& t) const { return t.row_slice(0, tokens); }
};

}  // namespace dsinfer
