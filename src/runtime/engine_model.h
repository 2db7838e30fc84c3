// What the serving engine (engine.cpp) needs from a model and the cache storage it runs
// over, so that one scheduler serves every architecture. The cache is `blocks()` blocks
// of `block_size()` positions; the engine hands them out and gives each chunk the block
// table of its sequence. Two implementations:
//   - MLA models (DeepSeekModel): a paged latent cache (LatentBlockPool), one batched
//     forward per step;
//   - DeepSeek-V4 (DeepSeekV4Model): its caches are one V4State per sequence, so a block
//     is a whole-sequence state (block_size = the context) and a sequence holds one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "model/deepseek_model.h"

namespace dsinfer {

class DeepSeekV4Model;

// One sequence's share of a step: `tokens` at positions [start_pos, start_pos + T).
struct EngineChunk {
  std::span<const int32_t> tokens;
  int64_t start_pos = 0;
  std::span<const int32_t> block_table;  // the sequence's blocks; enough for start_pos + T positions
  ForwardOptions options;                // logits kLast or kNone; the attention form (MLA only)
};

class EngineModel {
 public:
  virtual ~EngineModel() = default;

  virtual const ModelConfig& config() const = 0;
  virtual int64_t blocks() const = 0;
  virtual int64_t block_size() const = 0;
  // Cache bytes per token, all layers (for V4: a sequence state's bytes over its context).
  virtual int64_t kv_bytes_per_token() const = 0;

  // Runs one step. A chunk at start_pos 0 starts its sequence (whatever its blocks held
  // before is not read); any other continues from the rows its blocks hold. `logits` gets
  // the row of each kLast chunk, in chunk order.
  virtual Status run(std::span<const EngineChunk> chunks, std::vector<float>& logits) = 0;
};

// `model` over a latent cache of `blocks` blocks of `block_size` positions stored as
// `kv_dtype` (LatentBlockPool::check_dtype must accept it).
std::unique_ptr<EngineModel> make_mla_engine_model(DeepSeekModel& model, int64_t blocks, int64_t block_size,
                                                   DType kv_dtype);
// `model` over `slots` sequence states of `context_size` positions each.
std::unique_ptr<EngineModel> make_v4_engine_model(DeepSeekV4Model& model, int64_t slots, int64_t context_size);

}  // namespace dsinfer
