#include "backend/cpu/moe_experts.h"

#include <algorithm>
#include <atomic>

namespace dsinfer::cpu {
namespace {

const PackedWeight* packed_form(CpuContext& ctx, const PreparedWeight* w) {
  const auto& weight = static_cast<const CpuWeight&>(*w);
  ctx.pack(weight);
  return weight.packed.get();
}

// Most tokens of an expert for which the threads share every expert's rows
// (run_experts_in_row_chunks) rather than take whole experts.
constexpr size_t kMaxTokensForRowChunks = kMaxGemmTokens;

struct PackedExpert {
  const PackedWeight *gate, *up, *down;
  const std::vector<RoutedToken>* tokens;
};

Tensor rows_of(LineAlignedFloats& buffer, int64_t rows, int64_t cols) {
  if (buffer.size() < static_cast<size_t>(rows * cols)) buffer.resize(static_cast<size_t>(rows * cols));
  return Tensor::contiguous(DType::kF32, rows, cols, buffer.data());
}

// What an expert's gate and up read, and where its down rows go.
struct ExpertIo {
  Tensor rows;                  // its tokens' float32 rows
  const QuantizedRows* blocks;  // the same rows quantised in the forms its gate and up read
  Tensor down;                  // its down rows, token by token
};

// An expert's inputs and outputs. Where it has the step's tokens in order (decode's one
// token), gate and up read x and xq themselves (x's rows already quantised in every form
// the experts read) rather than copies; otherwise its tokens are gathered, float32 rows
// into s.rows and quantised blocks into s.activations. Where its tokens' output slots are
// consecutive, down writes into `outputs` itself; otherwise into s.down, for scatter.
// Both copies ran on the calling thread alone, between the parallel loops.
ExpertIo expert_io(const Kernels& k, ExpertScratch& s, Tensor x, const QuantizedRows& xq, const PackedExpert& e,
                   Tensor outputs) {
  const auto& tokens = *e.tokens;
  const int64_t n = static_cast<int64_t>(tokens.size()), blocks = x.cols / 32;
  auto in_order = [&](auto index, int64_t first) {
    for (int64_t i = 0; i < n; ++i)
      if (index(tokens[i]) != first + i) return false;
    return true;
  };
  ExpertIo io{x, &xq, rows_of(s.down, n, outputs.cols)};
  if (n > 0 && in_order([](const RoutedToken& t) { return t.slot; }, tokens[0].slot))
    io.down = outputs.row_slice(tokens[0].slot, n);
  // The float kernels load 64-byte lines of their activations (line_aligned.h).
  const bool x_on_lines = reinterpret_cast<uintptr_t>(x.data) % kCacheLineBytes == 0 &&
                          x.row_stride * static_cast<int64_t>(sizeof(float)) % kCacheLineBytes == 0;
  if (n == x.rows && x_on_lines && in_order([](const RoutedToken& t) { return t.token; }, 0)) return io;
  io.rows = rows_of(s.rows, n, x.cols);
  io.blocks = &s.activations;
  auto copy_blocks = [&](const auto& from, auto& to) {
    to.resize(static_cast<size_t>(n * blocks));
    for (int64_t i = 0; i < n; ++i) std::copy_n(from.data() + tokens[i].token * blocks, blocks, to.data() + i * blocks);
  };
  // Each form once: gate and up of an expert mostly read the same one.
  const ActivationForm gate_form = activation_form(k, *e.gate), up_form = activation_form(k, *e.up);
  auto reads = [&](ActivationForm form) { return gate_form == form || up_form == form; };
  if (reads(ActivationForm::kFloat))
    for (int64_t i = 0; i < n; ++i) std::copy_n(x.f32_row(tokens[i].token), x.cols, io.rows.f32_row(i));
  if (reads(ActivationForm::kQ8)) copy_blocks(xq.q8, s.activations.q8);
  if (reads(ActivationForm::kQ8x3)) copy_blocks(xq.q8x3, s.activations.q8x3);
  return io;
}

// SwiGLU of columns [c0, c1) of the expert's gate and up rows into gate, then quantised
// for down (into s.down_input, sized for all the columns); c0 and c1 multiples of 32.
void activate_columns(const Kernels& k, ExpertScratch& s, const PackedExpert& e, int64_t n, float limit, int64_t c0,
                      int64_t c1) {
  const int64_t inter = e.gate->rows();
  for (int64_t i = 0; i < n; ++i)
    swiglu_row(k, s.gate.data() + i * inter + c0, s.up.data() + i * inter + c0, c1 - c0, limit);
  quantize_columns(activation_form(k, *e.down), k, rows_of(s.gate, n, inter), c0, c1, s.down_input);
}

// The same over all the columns, s.down_input sized here.
void activate(const Kernels& k, ExpertScratch& s, const PackedExpert& e, int64_t n, float limit) {
  const int64_t inter = e.gate->rows();
  size_quantized_rows(activation_form(k, *e.down), rows_of(s.gate, n, inter), s.down_input);
  activate_columns(k, s, e, n, limit, 0, inter);
}

// The expert's down rows to their tokens' slots of `outputs`, unless down wrote them there.
void scatter(const ExpertIo& io, const PackedExpert& e, Tensor outputs) {
  const auto& tokens = *e.tokens;
  if (tokens.empty() || io.down.data == outputs.f32_row(tokens[0].slot)) return;
  for (size_t i = 0; i < tokens.size(); ++i)
    std::copy_n(io.down.f32_row(static_cast<int64_t>(i)), outputs.cols, outputs.f32_row(tokens[i].slot));
}

// One expert over its n tokens, on the calling thread only.
void run_expert(const Kernels& k, ExpertScratch& s, Tensor x, const QuantizedRows& xq, const PackedExpert& e, float limit,
                Tensor outputs) {
  const ExpertIo io = expert_io(k, s, x, xq, e, outputs);
  const int64_t n = io.rows.rows, hidden = x.cols, inter = e.gate->rows();
  matmul_packed_rows(k, *e.gate, io.rows, *io.blocks, rows_of(s.gate, n, inter), 0, inter / 8);
  matmul_packed_rows(k, *e.up, io.rows, *io.blocks, rows_of(s.up, n, inter), 0, inter / 8);
  activate(k, s, e, n, limit);
  matmul_packed_rows(k, *e.down, rows_of(s.gate, n, inter), s.down_input, io.down, 0, hidden / 8);
  scatter(io, e, outputs);
}

// Groups of eight rows per unit of shared work: 144 KiB of Q4_0 over 2048 columns, about
// a dozen microseconds of streaming per thread, so the threads finish within about that
// of each other (with eight groups the shared counter's cache-line traffic cost more: its
// share of A Q4_0 decode samples went from 1.9% to 1.1% at sixteen).
constexpr int64_t kGroupsPerChunk = 16;

int64_t chunks_of(int64_t groups) { return (groups + kGroupsPerChunk - 1) / kGroupsPerChunk; }

// The experts with every thread on every expert: first the gate and up rows of all of
// them in chunks, then their SwiGLUs, then the down rows in chunks, every thread through
// each stage before the next starts. With one or two tokens per expert, whole experts per
// thread leave the first thread done idle for up to an expert's streaming time at every
// layer (six experts over two threads in decode). Where every expert's gate chunk goes
// beside the same rows of up, the thread that computed them applies their SwiGLU at once,
// so one wait between the stages instead of two and the SwiGLUs shared out evenly.
void run_experts_in_row_chunks(CpuContext& ctx, Tensor x, const QuantizedRows& xq, const std::vector<PackedExpert>& active,
                               float limit, Tensor outputs) {
  const Kernels& k = ctx.kernels;
  const int64_t hidden = x.cols;
  if (ctx.moe_experts.size() < active.size()) ctx.moe_experts.resize(active.size());
  // Where the table reads far pairs for an expert's tokens, a gate chunk goes beside the
  // same rows of up (another matrix), and down's chunks go in FarChunks pairs.
  auto beside = [&](const PackedExpert& e) {
    return reads_beside(k, *e.gate, static_cast<int64_t>(e.tokens->size()));
  };
  auto down_pairing = [&](const PackedExpert& e) {
    return FarChunks{chunks_of(hidden / 8), reads_beside(k, *e.down, static_cast<int64_t>(e.tokens->size()))};
  };
  std::vector<int64_t> first_chunk(active.size() + 1, 0), first_down_chunk(active.size() + 1, 0);
  std::vector<ExpertIo> io;
  for (size_t i = 0; i < active.size(); ++i) {
    const PackedExpert& e = active[i];
    ExpertScratch& s = ctx.moe_experts[i];
    io.push_back(expert_io(k, s, x, xq, e, outputs));
    const int64_t n = io[i].rows.rows, inter = e.gate->rows();
    rows_of(s.gate, n, inter);
    rows_of(s.up, n, inter);
    size_quantized_rows(activation_form(k, *e.down), rows_of(s.gate, n, inter), s.down_input);
    first_chunk[i + 1] = first_chunk[i] + (beside(e) ? 1 : 2) * chunks_of(inter / 8);
    first_down_chunk[i + 1] = first_down_chunk[i] + down_pairing(e).items();
  }
  // work(expert, chunk within it) for every chunk numbered below first.back(), as `queue`
  // hands them to `thread`.
  auto take_chunks = [](ChunkQueue& queue, int thread, const std::vector<int64_t>& first, auto&& work) {
    for (int64_t c = queue.take(thread); c >= 0; c = queue.take(thread)) {
      const auto i = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), c) - first.begin() - 1);
      work(i, c - first[i]);
    }
  };
  // A chunk's rows of gate are whole blocks of down's input.
  static_assert(8 * kGroupsPerChunk % 32 == 0);
  const bool swiglu_in_chunks = std::all_of(active.begin(), active.end(), beside);
  const int threads = ctx.pool.size();
  ChunkQueue up_chunks(first_chunk.back(), threads), down_chunks(first_down_chunk.back(), threads);
  std::atomic<int> arrived{0};
  // Every thread waits here until all of them have arrived `round` times.
  auto all_through = [&](int round) {
    arrived.fetch_add(1, std::memory_order_acq_rel);
    for (int spins = 0; arrived.load(std::memory_order_acquire) < round * threads; ++spins) spin_once(spins);
  };
  ctx.pool.run_on_all([&](int thread) {
    take_chunks(up_chunks, thread, first_chunk, [&](size_t i, int64_t local) {
      const PackedExpert& e = active[i];
      ExpertScratch& s = ctx.moe_experts[i];
      const int64_t n = static_cast<int64_t>(e.tokens->size()), inter = e.gate->rows();
      const int64_t chunks = chunks_of(inter / 8);
      const bool is_up = local >= chunks;
      const int64_t g0 = (is_up ? local - chunks : local) * kGroupsPerChunk;
      const int64_t g1 = std::min(g0 + kGroupsPerChunk, inter / 8);
      if (beside(e)) {
        matmul_packed_rows_beside(k, *e.gate, g0, g1, rows_of(s.gate, n, inter), *e.up, g0, g1,
                                  rows_of(s.up, n, inter), io[i].rows, *io[i].blocks);
        if (swiglu_in_chunks) activate_columns(k, s, e, n, limit, 8 * g0, 8 * g1);
        return;
      }
      matmul_packed_rows(k, is_up ? *e.up : *e.gate, io[i].rows, *io[i].blocks,
                         rows_of(is_up ? s.up : s.gate, n, inter), g0, g1);
    });
    // The SwiGLUs once every gate and up row is done, each thread a share of the experts
    // (a counter per expert, taken by whoever finished its last chunk, cost more: every
    // decrement moved a cache line between the cores).
    all_through(1);
    if (!swiglu_in_chunks) {
      for (size_t i = static_cast<size_t>(thread); i < active.size(); i += static_cast<size_t>(threads))
        activate(k, ctx.moe_experts[i], active[i], static_cast<int64_t>(active[i].tokens->size()), limit);
      all_through(2);
    }
    take_chunks(down_chunks, thread, first_down_chunk, [&](size_t i, int64_t local) {
      const PackedExpert& e = active[i];
      ExpertScratch& s = ctx.moe_experts[i];
      const int64_t n = static_cast<int64_t>(e.tokens->size()), inter = e.gate->rows();
      auto first_group = [&](int64_t chunk) { return chunk * kGroupsPerChunk; };
      auto end_group = [&](int64_t chunk) { return std::min(first_group(chunk) + kGroupsPerChunk, hidden / 8); };
      const Tensor x_rows = rows_of(s.gate, n, inter), out = io[i].down;
      if (const int64_t far = down_pairing(e).far_chunk(local); far >= 0)
        return matmul_packed_rows_beside(k, *e.down, first_group(local), end_group(local), out, *e.down,
                                         first_group(far), end_group(far), out, x_rows, s.down_input);
      matmul_packed_rows(k, *e.down, x_rows, s.down_input, out, first_group(local), end_group(local));
    });
  });
  for (size_t i = 0; i < active.size(); ++i) scatter(io[i], active[i], outputs);
}

}  // namespace

PackedExperts run_packed_experts(CpuContext& ctx, Tensor x, std::span<const FfnWeights> experts,
                                 const std::vector<std::vector<RoutedToken>>& tokens_of, const FfnWeights* shared,
                                 const std::vector<RoutedToken>& shared_tokens, float limit, Tensor outputs) {
  auto packed_expert = [&](const FfnWeights& w, const std::vector<RoutedToken>& tokens) {
    return PackedExpert{packed_form(ctx, w.gate), packed_form(ctx, w.up), packed_form(ctx, w.down), &tokens};
  };
  auto is_packed = [](const PackedExpert& p) { return p.gate && p.up && p.down; };
  std::vector<PackedExpert> active;
  for (size_t e = 0; e < experts.size(); ++e) {
    if (tokens_of[e].empty()) continue;
    active.push_back(packed_expert(experts[e], tokens_of[e]));
    if (!is_packed(active.back())) return PackedExperts::kNone;
  }
  size_t most_tokens = 0;
  for (const PackedExpert& e : active) most_tokens = std::max(most_tokens, e.tokens->size());
  const bool row_chunks = most_tokens <= kMaxTokensForRowChunks;
  bool with_shared = false;
  // Also with many tokens: a server step's shared expert (sixteen tokens, say) is a GEMM
  // bound by its arithmetic, and its chunks beside the routed experts' keep memory busy
  // while they compute, in one loop instead of four (16-stream decode no slower;
  // docs/benchmarks.md, Serving, session 17).
  if (shared && row_chunks && !shared_tokens.empty()) {
    const PackedExpert p = packed_expert(*shared, shared_tokens);
    if (is_packed(p)) {
      // In the middle, where the second thread's run of chunks starts: each thread then
      // computes half of it while the other streams routed rows.
      active.insert(active.begin() + static_cast<std::ptrdiff_t>(active.size() / 2), p);
      with_shared = true;
    }
  }
  const PackedExperts ran = with_shared ? PackedExperts::kRoutedAndShared : PackedExperts::kRouted;
  // x in every form some expert's gate or up reads, once.
  bool needs_form[3] = {};
  for (const PackedExpert& e : active)
    for (ActivationForm form : {activation_form(ctx.kernels, *e.gate), activation_form(ctx.kernels, *e.up)})
      needs_form[static_cast<int>(form)] = true;
  QuantizedRows& xq = ctx.moe_rows;
  for (ActivationForm form : {ActivationForm::kQ8, ActivationForm::kQ8x3})
    if (needs_form[static_cast<int>(form)]) quantize_activations(form, ctx.kernels, ctx.pool, xq, x);
  // Few tokens per expert (decode): every thread on every expert. Otherwise threads take
  // the next expert until none is left, the ones with most tokens first, so the step
  // ends about when the slowest thread's last expert does.
  if (row_chunks) {
    run_experts_in_row_chunks(ctx, x, xq, active, limit, outputs);
    return ran;
  }
  std::stable_sort(active.begin(), active.end(),
                   [](const PackedExpert& a, const PackedExpert& b) { return a.tokens->size() > b.tokens->size(); });
  const int threads = ctx.pool.size();
  if (ctx.moe_threads.size() < static_cast<size_t>(threads)) ctx.moe_threads.resize(static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  ctx.pool.run_on_all([&](int thread) {
    for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < active.size();
         i = next.fetch_add(1, std::memory_order_relaxed))
      run_expert(ctx.kernels, ctx.moe_threads[thread], x, xq, active[i], limit, outputs);
  });
  return ran;
}

}  // namespace dsinfer::cpu
