// The serving engine's view of a DeepSeek-V4 model (engine_model.h). V4's caches (window
// ring, compressor state, compressed rows) are not paged rows but one V4State per
// sequence, so each cache "block" is a whole-sequence state, a slot, and a chunk's block
// table is that one slot. A step runs all its chunks in one batched forward: the weights
// are applied to every sequence's rows at once, attention runs per state, and each
// chunk's results are bit for bit those of the same chunk run alone (V4Session).
#include <vector>

#include "model/deepseek_v4_model.h"
#include "model/deepseek_v4_state.h"
#include "runtime/engine_model.h"

namespace dsinfer {
namespace {

class V4EngineModel final : public EngineModel {
 public:
  V4EngineModel(DeepSeekV4Model& model, int64_t slots, int64_t context_size)
      : model_(model), context_size_(context_size) {
    slots_.reserve(static_cast<size_t>(slots));
    for (int64_t i = 0; i < slots; ++i) slots_.emplace_back(model.config(), model.backend(), context_size);
  }

  const ModelConfig& config() const override { return model_.config(); }
  int64_t blocks() const override { return static_cast<int64_t>(slots_.size()); }
  int64_t block_size() const override { return context_size_; }
  int64_t kv_bytes_per_token() const override {
    return (V4State::bytes(model_.config(), context_size_) + context_size_ - 1) / context_size_;
  }

  Status run(std::span<const EngineChunk> chunks, std::vector<float>& logits) override {
    logits.clear();
    batch_.clear();
    for (const EngineChunk& c : chunks) {
      if (c.block_table.size() != 1 || c.block_table[0] < 0 || c.block_table[0] >= blocks())
        return error("a DeepSeek-V4 sequence holds exactly one state slot of {}, this chunk has a table of {} blocks",
                     blocks(), c.block_table.size());
      V4State& state = slots_[static_cast<size_t>(c.block_table[0])];
      if (c.start_pos != 0 && state.position() != c.start_pos)
        return error("state slot {} is at position {}, but the chunk starts at position {}", c.block_table[0],
                     state.position(), c.start_pos);
      batch_.push_back({.tokens = c.tokens, .state = &state, .logits = c.options.logits});
    }
    if (batch_.empty()) return Status::ok();
    // Only now, when every chunk is known to be valid, do new sequences start.
    for (size_t i = 0; i < chunks.size(); ++i)
      if (chunks[i].start_pos == 0) batch_[i].state->restart();
    return model_.forward(batch_, logits);
  }

 private:
  DeepSeekV4Model& model_;
  const int64_t context_size_;
  std::vector<V4State> slots_;
  std::vector<V4Chunk> batch_;  // the step's chunks
};

}  // namespace

std::unique_ptr<EngineModel> make_v4_engine_model(DeepSeekV4Model& model, int64_t slots, int64_t context_size) {
  return std::make_unique<V4EngineModel>(model, slots, context_size);
}

}  // namespace dsinfer
