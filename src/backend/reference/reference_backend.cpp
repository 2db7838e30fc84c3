#include "backend/reference/reference_backend.h"

#include <algorithm>
#include <vector>

#include "backend/reference/reference_ops.h"

namespace dsinfer {
namespace {

class HostBuffer final : public DeviceBuffer {
 public:
  explicit HostBuffer(size_t bytes) : storage_((bytes + sizeof(float) - 1) / sizeof(float)), bytes_(bytes) {}
  void* data() override { return storage_.data(); }
  size_t size() const override { return bytes_; }

 private:
  std::vector<float> storage_;  // float-aligned
  size_t bytes_;
};

// The reference backend computes on weights exactly as stored.
class StoredWeight final : public PreparedWeight {
 public:
  explicit StoredWeight(WeightView view) : view_(std::move(view)) {}
  const WeightView& view() const override { return view_; }

 private:
  WeightView view_;
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  std::unique_ptr<DeviceBuffer> allocate(size_t bytes) override { return std::make_unique<HostBuffer>(bytes); }
  Result<std::unique_ptr<PreparedWeight>> prepare_weight(const WeightView& weight) override {
    return std::unique_ptr<PreparedWeight>(std::make_unique<StoredWeight>(weight));
  }
  void synchronize() override {}
  void download(Tensor src, float* dst) override {
    for (int64_t r = 0; r < src.rows; ++r) std::copy_n(src.f32_row(r), src.cols, dst + r * src.cols);
  }

  void embedding(Tensor out, const PreparedWeight& table, std::span<const int32_t> ids) override {
    reference::embedding(out, table.view(), ids);
  }
  void rms_norm(Tensor out, Tensor x, const PreparedWeight& weight, float eps) override {
    reference::rms_norm(out, x, weight.view(), eps);
  }
  void layer_norm(Tensor out, Tensor x, const PreparedWeight& weight, const PreparedWeight& bias,
                  float eps) override {
    reference::layer_norm(out, x, weight.view(), bias.view(), eps);
  }
  void hadamard(Tensor x) override { reference::hadamard(x); }
  void fp8_round_trip(Tensor x, int64_t block, bool pow2_scales) override {
    reference::fp8_round_trip(x, block, pow2_scales);
  }
  void fp4_round_trip(Tensor x, int64_t block) override { reference::fp4_round_trip(x, block); }
  void rope(const RopeArgs& args) override { reference::rope(args); }
  void copy(Tensor dst, Tensor src) override { reference::copy(dst, src); }
  void add(Tensor out, Tensor a, Tensor b) override { reference::add(out, a, b); }
  void silu_and_mul(Tensor out, Tensor gate, Tensor up) override { reference::silu_and_mul(out, gate, up); }
  void matmul(Tensor out, Tensor x, const PreparedWeight& w) override { reference::matmul(out, x, w.view()); }
  void argmax(std::span<int32_t> out, Tensor x) override { reference::argmax(out, x); }
  void mla_attention(const MlaAttentionArgs& args) override { reference::mla_attention(args); }
  void indexer_topk(const IndexerTopkArgs& args) override { reference::indexer_topk(args); }
  void moe_ffn(const MoeArgs& args) override { reference::moe_ffn(args); }
  void sink_attention(const SinkAttentionArgs& args) override { reference::sink_attention(args); }
  void hc_pre(const HcPreArgs& args) override { reference::hc_pre(args); }
  void hc_post(const HcPostArgs& args) override { reference::hc_post(args); }
  void compress_pool(const CompressPoolArgs& args) override { reference::compress_pool(args); }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace dsinfer
