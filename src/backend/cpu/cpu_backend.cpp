#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include <sys/mman.h>

#include "backend/cpu/cpu_context.h"
#include "backend/cpu/moe_experts.h"
#include "backend/reference/reference_ops.h"

namespace dsinfer {
namespace {

// The KV cache and the activations. Their pages are first written during decode, where
// each fault of a fresh 4 KiB page cost about 3.5 us of a B layer's cache write (CPU
// backend, session 39): a buffer smaller than a huge page is touched here, a larger one
// is 2 MiB aligned and asked for as huge pages, so that a long context faults once per
// 2 MiB (about 1,800 float32 latent rows of a layer) rather than once per 4 KiB.
class AlignedBuffer final : public DeviceBuffer {
 public:
  explicit AlignedBuffer(size_t bytes) : bytes_(bytes) {
    constexpr size_t kHugePage = size_t{2} << 20;
    const size_t lines = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    const bool huge = lines >= kHugePage;
    const size_t size = huge ? (lines + kHugePage - 1) / kHugePage * kHugePage : lines;
    data_ = std::aligned_alloc(huge ? kHugePage : 64, size);
    if (!data_) throw std::bad_alloc();  // as the reference backend's vector does
    if (huge)
      ::madvise(data_, size, MADV_HUGEPAGE);  // a hint: without THP it is 4 KiB pages
    else
      std::memset(data_, 0, size);
  }
  ~AlignedBuffer() override { std::free(data_); }
  void* data() override { return data_; }
  size_t size() const override { return bytes_; }

 private:
  size_t bytes_;
  void* data_;
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(const cpu::Kernels& kernels, int threads, bool pack_at_load)
      : pool_(threads),
        ctx_{.kernels = kernels, .pool = pool_},
        name_("cpu-" + std::string(kernels.isa)),
        pack_at_load_(pack_at_load) {}

  std::string_view name() const override { return name_; }
  std::unique_ptr<DeviceBuffer> allocate(size_t bytes) override { return std::make_unique<AlignedBuffer>(bytes); }
  Result<std::unique_ptr<PreparedWeight>> prepare_weight(const WeightView& weight) override {
    auto prepared = std::make_unique<cpu::CpuWeight>(weight);
    if (pack_at_load_) ctx_.pack(*prepared);
    return std::unique_ptr<PreparedWeight>(std::move(prepared));
  }
  void synchronize() override {}
  void download(Tensor src, float* dst) override {
    for (int64_t r = 0; r < src.rows; ++r) std::copy_n(src.f32_row(r), src.cols, dst + r * src.cols);
  }

  // The fine ops are cheap next to the matmuls; they run the reference code (or, where
  // it was slow, a CPU version with its bits) over row ranges in parallel.
  void embedding(Tensor out, const PreparedWeight& table, std::span<const int32_t> ids) override {
    pool_.parallel_for(out.rows, [&](int, int64_t b, int64_t e) {
      reference::embedding(out.row_slice(b, e - b), table.view(), ids.subspan(b, e - b));
    });
  }
  void rms_norm(Tensor out, Tensor x, const PreparedWeight& weight, float eps) override {
    cpu::rms_norm(ctx_, out, x, weight, eps);
  }
  void layer_norm(Tensor out, Tensor x, const PreparedWeight& weight, const PreparedWeight& bias,
                  float eps) override {
    pool_.parallel_for(out.rows, [&](int, int64_t b, int64_t e) {
      reference::layer_norm(out.row_slice(b, e - b), x.row_slice(b, e - b), weight.view(), bias.view(), eps);
    });
  }
  void hadamard(Tensor x) override {
    pool_.parallel_for(x.rows, [&](int, int64_t b, int64_t e) { reference::hadamard(x.row_slice(b, e - b)); });
  }
  void fp8_round_trip(Tensor x, int64_t block, bool pow2_scales) override {
    pool_.parallel_for(x.rows, [&](int, int64_t b, int64_t e) {
      reference::fp8_round_trip(x.row_slice(b, e - b), block, pow2_scales);
    });
  }
  void fp4_round_trip(Tensor x, int64_t block) override {
    pool_.parallel_for(x.rows, [&](int, int64_t b, int64_t e) { cpu::fp4_round_trip(x.row_slice(b, e - b), block); });
  }
  void rope(const RopeArgs& args) override {
    pool_.parallel_for(args.x.rows, [&](int, int64_t b, int64_t e) {
      RopeArgs part = args;
      part.x = args.x.row_slice(b, e - b);
      part.positions = args.positions.subspan(b, e - b);
      reference::rope(part);
    });
  }
  void copy(Tensor dst, Tensor src) override { reference::copy(dst, src); }
  void add(Tensor out, Tensor a, Tensor b) override { reference::add(out, a, b); }
  // The experts' SwiGLU (the table's exponential), over the elements rather than the rows:
  // a dense layer's one decode row (2,816-10,944 values) took the reference's scalar
  // std::exp on one thread.
  void silu_and_mul(Tensor out, Tensor gate, Tensor up) override {
    if (out.rows > 0 && out.f32_row(0) != gate.f32_row(0)) reference::copy(out, gate);
    cpu::swiglu_rows(ctx_.kernels, pool_, out, up, /*limit=*/0.0f);
  }
  void matmul(Tensor out, Tensor x, const PreparedWeight& w) override { ctx_.matmul(out, x, w); }
  void matmuls(std::span<const MatmulTask> tasks) override { cpu::matmuls(ctx_, tasks); }
  void argmax(std::span<int32_t> out, Tensor x) override { reference::argmax(out, x); }
  void mla_attention(const MlaAttentionArgs& args) override { cpu::mla_attention(ctx_, args); }
  void mla_attentions(std::span<const MlaAttentionArgs> batch) override { cpu::mla_attentions(ctx_, batch); }
  void indexer_topk(const IndexerTopkArgs& args) override { cpu::indexer_topk(ctx_, args); }
  void moe_ffn(const MoeArgs& args) override { cpu::moe_ffn(ctx_, args); }
  void sink_attention(const SinkAttentionArgs& args) override { cpu::sink_attention(ctx_, args); }
  void hc_pre(const HcPreArgs& args) override { cpu::hc_pre(ctx_, args); }
  void hc_post(const HcPostArgs& args) override { cpu::hc_post(ctx_, args); }
  void compress_pool(const CompressPoolArgs& args) override {
    const std::span<const float> ape = cpu::float_values(*args.ape);  // widened once per weight
    // Work item i: row i / parts, columns part i % parts; decode's one row (a block just
    // completed) split by columns, where it was one thread's work: 128 x 512 exponentials
    // for a ratio-128 block.
    const int64_t parts = args.out.rows < pool_.size() ? pool_.size() : 1;
    pool_.parallel_for(args.out.rows * parts, [&](int, int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t row = i / parts, part = i % parts;
        CompressPoolArgs one = args;
        one.out = args.out.row_slice(row, 1);
        one.first_block = args.first_block + row;
        reference::compress_pool(one, ape, args.dim * part / parts, args.dim * (part + 1) / parts);
      }
    });
  }

 private:
  ThreadPool pool_;
  cpu::CpuContext ctx_;
  std::string name_;
  bool pack_at_load_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_cpu_backend(const CpuBackendOptions& options) {
  const cpu::Kernels* kernels = cpu::select_kernels(options.isa);
  if (!kernels) {
    std::string here;
    for (std::string_view isa : cpu::kKernelTableNames)
      if (cpu::select_kernels(isa)) here += (here.empty() ? "" : ", ") + std::string(isa);
    return error("instruction set '{}' is not available on this CPU (this one runs: {})", options.isa, here);
  }
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(*kernels, threads, options.pack_at_load));
}

}  // namespace dsinfer
