// Scratch of DeepSeekV4Model for one pass over T tokens of one or more sequences (private
// to the model's files).
#pragma once

#include <memory>
#include <vector>

#include "model/deepseek_v4_model.h"
#include "model/deepseek_v4_state.h"

namespace dsinfer {

struct V4Workspace {
  // One sequence's chunk in a pass: rows [row, row + count) of the tensors below hold its
  // tokens at positions [start, start + count) of `state`.
  struct Chunk {
    int64_t row = 0, count = 0, start = 0;
    V4State* state = nullptr;
    ForwardOptions::Logits logits = ForwardOptions::Logits::kLast;
  };

  std::unique_ptr<DeviceBuffer> buffer;
  int64_t capacity = 0;  // tokens the buffer was carved for
  int64_t tokens = 0;    // tokens of the current pass, every chunk's
  std::vector<Chunk> chunks;
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
