// One sequence's DeepSeek-V4 caches, per layer (main blocks, then the MTP block):
//   window     ring of the last sliding_window raw K=V rows (row p % its rows; no more rows
//              than the sequence's capacity)
//   comp_state ring of the main compressor's per-position [kv | score] projections
//              (2 * ratio rows for CSA, whose pools overlap the previous block; else ratio)
//   comp_rows  the compressed rows made so far (row b pools block b)
//   index_state / index_keys  the same for the CSA indexer's compressor
// A window-only layer has only `window`. Float32, allocated once for `capacity` positions.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/ops.h"
#include "formats/model_config.h"

namespace dsinfer {

struct V4LayerCache {
  Tensor window;       // [min(sliding_window, capacity), head_dim]
  Tensor comp_state;   // [ring, 2 * width], width = 2 * head_dim (CSA) or head_dim
  Tensor comp_rows;    // [capacity / ratio, head_dim]
  Tensor index_state;  // CSA: [2 * 4, 2 * 2 * index_head_dim]
  Tensor index_keys;   // CSA: [capacity / 4, index_head_dim]
};

class V4State {
 public:
  V4State(const ModelConfig& config, Backend& backend, int64_t capacity);
  // Bytes of the buffer a state of `capacity` positions allocates.
  static int64_t bytes(const ModelConfig& config, int64_t capacity);

  int64_t position() const { return position_; }
  int64_t capacity() const { return capacity_; }
  V4LayerCache& layer(int64_t l) { return layers_[static_cast<size_t>(l)]; }
  void advance(int64_t tokens) { position_ += tokens; }
  // Starts a new sequence in these buffers. Nothing needs clearing: a chunk at position p
  // reads only rows that this sequence wrote at positions below p (window rows from
  // p - sliding_window + 1, compressor ring rows of the blocks it completes, compressed
  // rows and indexer keys of complete blocks; block 0 pools no previous block).
  void restart() { position_ = 0; }

 private:
  std::unique_ptr<DeviceBuffer> buffer_;
  std::vector<V4LayerCache> layers_;
  int64_t capacity_ = 0;
  int64_t position_ = 0;
};

}  // namespace dsinfer
