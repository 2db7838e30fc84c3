// The serving engine's view of an MLA model (engine_model.h): its paged latent cache and
// one batched forward per step, every projection and expert run once over all chunks.
#include "runtime/engine_model.h"
#include "runtime/latent_cache.h"

namespace dsinfer {
namespace {

class MlaEngineModel final : public EngineModel {
 public:
  MlaEngineModel(DeepSeekModel& model, int64_t blocks, int64_t block_size, DType kv_dtype)
      : model_(model), kv_dtype_(kv_dtype), pool_(model.backend(), model.config(), blocks, block_size, kv_dtype) {}

  const ModelConfig& config() const override { return model_.config(); }
  int64_t blocks() const override { return pool_.blocks(); }
  int64_t block_size() const override { return pool_.block_rows(); }
  int64_t kv_bytes_per_token() const override { return LatentCache::bytes_per_token(model_.config(), kv_dtype_); }

  // Rows below start_pos are in the pool already (or, at 0, there are none), so the
  // chunks need nothing but their views of it.
  Status run(std::span<const EngineChunk> chunks, std::vector<float>& logits) override {
    sequence_chunks_.clear();
    for (const EngineChunk& c : chunks)
      sequence_chunks_.push_back(
          {.tokens = c.tokens, .start_pos = c.start_pos, .cache = pool_.view(c.block_table), .options = c.options});
    return model_.forward_batch(sequence_chunks_, logits);
  }

 private:
  DeepSeekModel& model_;
  const DType kv_dtype_;
  LatentBlockPool pool_;
  std::vector<SequenceChunk> sequence_chunks_;  // reused across steps
};

}  // namespace

std::unique_ptr<EngineModel> make_mla_engine_model(DeepSeekModel& model, int64_t blocks, int64_t block_size,
                                                   DType kv_dtype) {
  return std::make_unique<MlaEngineModel>(model, blocks, block_size, kv_dtype);
}

}  // namespace dsinfer
