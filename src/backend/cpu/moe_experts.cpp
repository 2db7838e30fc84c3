#include "backend/cpu/moe_experts.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>

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

// Groups of eight rows per unit of shared work: 288 KiB of Q4_0 over 2048 columns, about
// twenty microseconds of streaming per thread, so the threads finish within about that of
// each other. Each chunk starts its streams afresh: against sixteen groups, 32 took B's
// decode tokens 1.1-1.2% less time, A's 0.2-1.2% less, bench-v4's 0.2% more and 1.4% less
// in two runs (eight: B's 2% more; docs/benchmarks.md, CPU backend, session 47).
constexpr int64_t kGroupsPerChunk = 32;
// Routed experts' chunks twice that where the step still gives every thread
// kMinRoutedChunksPerThread of them: A's decode tokens took 0.7% less time (B's would get
// fewer than that, and keep 32; docs/benchmarks.md, CPU backend, session 54). The shared
// expert keeps the smaller chunks: the threads take its last ones after the routed
// experts' gate and up, where smaller chunks even out their ends.
constexpr int64_t kLongChunkGroups = 2 * kGroupsPerChunk;
constexpr int64_t kMinRoutedChunksPerThread = 8;

int64_t chunks_of(int64_t groups, int64_t per_chunk) { return (groups + per_chunk - 1) / per_chunk; }

// How many of an expert's gate and up chunks are still to be computed; its down items
// wait for `ready`, set once the last is done and the expert's SwiGLU applied.
struct alignas(kCacheLineBytes) ExpertProgress {
  std::atomic<int64_t> chunks_left{0};
  std::atomic<bool> ready{false};
};

// An expert whose rows the threads share in chunks of groups_per_chunk groups, with its
// buffers and inputs.
struct ChunkedExpert {
  PackedExpert weights;
  int64_t groups_per_chunk;
  ExpertScratch* scratch;
  ExpertIo io;
  ExpertProgress* progress = nullptr;
};

// Where the table reads far pairs for an expert's tokens, a gate chunk goes beside the same
// rows of up (another matrix), and that chunk's SwiGLU follows at once.
bool gate_beside_up(const Kernels& k, const PackedExpert& e) {
  return reads_beside(k, *e.gate, static_cast<int64_t>(e.tokens->size()));
}

// Gate and up chunks: one per chunk of rows where they go side by side, else two.
int64_t up_chunks(const Kernels& k, const PackedExpert& e, int64_t per_chunk) {
  return (gate_beside_up(k, e) ? 1 : 2) * chunks_of(e.gate->rows() / 8, per_chunk);
}

// Down's chunks, in FarChunks pairs where the table reads them.
FarChunks down_pairing(const Kernels& k, const PackedExpert& e, int64_t per_chunk) {
  return FarChunks{chunks_of(e.down->rows() / 8, per_chunk),
                   reads_beside(k, *e.down, static_cast<int64_t>(e.tokens->size()))};
}

ChunkedExpert chunked(const Kernels& k, const PackedExpert& e, int64_t per_chunk, ExpertScratch& s, Tensor x,
                      const QuantizedRows& xq, Tensor outputs, ExpertProgress& progress) {
  progress.chunks_left.store(up_chunks(k, e, per_chunk), std::memory_order_relaxed);
  ChunkedExpert c{e, per_chunk, &s, expert_io(k, s, x, xq, e, outputs), &progress};
  const int64_t n = c.io.rows.rows, inter = e.gate->rows();
  rows_of(s.gate, n, inter);
  rows_of(s.up, n, inter);
  size_quantized_rows(activation_form(k, *e.down), rows_of(s.gate, n, inter), s.down_input);
  return c;
}

// Gate and up chunk `local` of expert c, and its SwiGLU where gate went beside up. The
// thread that computes the expert's last chunk applies the SwiGLU left to do and marks
// its down items ready.
void gate_up_chunk(const Kernels& k, const ChunkedExpert& c, int64_t local, float limit) {
  const PackedExpert& e = c.weights;
  ExpertScratch& s = *c.scratch;
  const int64_t n = static_cast<int64_t>(e.tokens->size()), inter = e.gate->rows();
  const int64_t per_chunk = c.groups_per_chunk, chunks = chunks_of(inter / 8, per_chunk);
  const bool is_up = local >= chunks;
  const int64_t g0 = (is_up ? local - chunks : local) * per_chunk;
  const int64_t g1 = std::min(g0 + per_chunk, inter / 8);
  const bool beside = gate_beside_up(k, e);
  if (beside) {
    matmul_packed_rows_beside(k, *e.gate, g0, g1, rows_of(s.gate, n, inter), *e.up, g0, g1, rows_of(s.up, n, inter),
                              c.io.rows, *c.io.blocks);
    // A chunk's rows of gate are whole blocks of down's input.
    static_assert(8 * kGroupsPerChunk % 32 == 0 && kLongChunkGroups % kGroupsPerChunk == 0);
    activate_columns(k, s, e, n, limit, 8 * g0, 8 * g1);
  } else {
    matmul_packed_rows(k, is_up ? *e.up : *e.gate, c.io.rows, *c.io.blocks, rows_of(is_up ? s.up : s.gate, n, inter),
                       g0, g1);
  }
  if (c.progress->chunks_left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (!beside) activate(k, s, e, n, limit);
  c.progress->ready.store(true, std::memory_order_release);
}

// Down's work item `local` of expert c, once its gate and up chunks are all done.
void down_item(const Kernels& k, const ChunkedExpert& c, int64_t local) {
  for (int spins = 0; !c.progress->ready.load(std::memory_order_acquire); ++spins) spin_once(spins);
  const PackedExpert& e = c.weights;
  ExpertScratch& s = *c.scratch;
  const int64_t n = static_cast<int64_t>(e.tokens->size()), inter = e.gate->rows(), groups = e.down->rows() / 8;
  auto first_group = [&](int64_t chunk) { return chunk * c.groups_per_chunk; };
  auto end_group = [&](int64_t chunk) { return std::min(first_group(chunk) + c.groups_per_chunk, groups); };
  const Tensor x_rows = rows_of(s.gate, n, inter), out = c.io.down;
  if (const int64_t far = down_pairing(k, e, c.groups_per_chunk).far_chunk(local); far >= 0)
    return matmul_packed_rows_beside(k, *e.down, first_group(local), end_group(local), out, *e.down, first_group(far),
                                     end_group(far), out, x_rows, s.down_input);
  matmul_packed_rows(k, *e.down, x_rows, s.down_input, out, first_group(local), end_group(local));
}

// Experts with their chunks numbered one after the other: expert i's are [first[i],
// first[i + 1]).
struct ChunkList {
  std::vector<const ChunkedExpert*> experts;
  std::vector<int64_t> first{0};
  void add(const ChunkedExpert* e, int64_t chunks) {
    experts.push_back(e);
    first.push_back(first.back() + chunks);
  }
  // work(expert, chunk within it) for each chunk `queue` hands to `thread`.
  template <typename Work>
  void take(ChunkQueue& queue, int thread, Work&& work) const {
    for (int64_t c = queue.take(thread); c >= 0; c = queue.take(thread)) {
      const auto i = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), c) - first.begin() - 1);
      work(*experts[i], c - first[i]);
    }
  }
};

// What the calling thread lays out once the step's tokens are routed, for all threads.
struct RoutedPlan {
  std::vector<ChunkedExpert> routed;
  std::unique_ptr<ExpertProgress[]> progress;  // the routed experts', in order
  ChunkList gate_up;       // the routed experts' gate and up chunks
  ChunkList down;          // every expert's down items, the shared expert's in the middle
  bool packed = true;      // every routed expert was packed already (else none is computed)
};

// w's packed form, or null where it has none or has not been packed yet: packing a weight
// takes the pool, which the experts' loop holds.
const PackedWeight* packed_already(const PreparedWeight* w) {
  const auto& weight = static_cast<const CpuWeight&>(*w);
  return weight.packing_tried ? weight.packed.get() : nullptr;
}

// Groups per chunk of the step's routed experts: kLongChunkGroups where that still gives
// each of `threads` threads kMinRoutedChunksPerThread chunks over both stages.
int64_t routed_chunk_groups(const Kernels& k, std::span<const PackedExpert> active, int threads) {
  int64_t chunks = 0;
  for (const PackedExpert& e : active)
    chunks += up_chunks(k, e, kLongChunkGroups) + down_pairing(k, e, kLongChunkGroups).items();
  return chunks >= kMinRoutedChunksPerThread * threads ? kLongChunkGroups : kGroupsPerChunk;
}

// The step's routed experts laid out by the calling thread inside the experts' loop, x
// quantised in any form they read that the shared expert does not. None where one of
// them has no packed form yet.
void plan_routed(const Kernels& k, int threads, std::vector<ExpertScratch>& scratch, Tensor x, QuantizedRows& xq,
                 bool (&quantized)[3], std::span<const FfnWeights> experts,
                 const std::vector<std::vector<RoutedToken>>& tokens_of, const ChunkedExpert* shared, Tensor outputs,
                 RoutedPlan& plan) {
  std::vector<PackedExpert> active;
  for (size_t e = 0; e < experts.size(); ++e) {
    if (tokens_of[e].empty()) continue;
    const FfnWeights& w = experts[e];
    active.push_back({packed_already(w.gate), packed_already(w.up), packed_already(w.down), &tokens_of[e]});
    if (!active.back().gate || !active.back().up || !active.back().down) {
      plan.packed = false;
      active.clear();
      break;
    }
  }
  for (const PackedExpert& e : active)
    for (ActivationForm form : {activation_form(k, *e.gate), activation_form(k, *e.up)})
      if (!quantized[static_cast<int>(form)]) {
        quantize_rows(form, k, x, xq);
        quantized[static_cast<int>(form)] = true;
      }
  plan.routed.reserve(active.size());
  plan.progress = std::make_unique<ExpertProgress[]>(active.size());
  const int64_t per_chunk = routed_chunk_groups(k, active, threads);
  for (size_t i = 0; i < active.size(); ++i) {
    plan.routed.push_back(chunked(k, active[i], per_chunk, scratch[i], x, xq, outputs, plan.progress[i]));
    plan.gate_up.add(&plan.routed.back(), up_chunks(k, active[i], per_chunk));
  }
  // Down's items with the shared expert's in the middle, where the second thread's run
  // starts: each thread then streams about half of the step's down rows.
  const size_t middle = plan.routed.size() / 2;
  for (size_t i = 0; i <= plan.routed.size(); ++i) {
    if (i == middle && shared)
      plan.down.add(shared, down_pairing(k, shared->weights, shared->groups_per_chunk).items());
    if (i < plan.routed.size())
      plan.down.add(&plan.routed[i], down_pairing(k, plan.routed[i].weights, per_chunk).items());
  }
}

// The experts with every thread on every expert: first the gate and up rows of all of
// them in chunks, then the down rows in chunks. With one or two tokens per expert, whole
// experts per thread leave the first thread done idle for up to an expert's streaming
// time at every layer (six experts over two threads in decode). A thread done with the
// gate and up chunks goes on to down items without waiting for the others: an expert's
// items wait only for its own chunks (ExpertProgress), which its run of down items
// mostly finds done, as the threads' runs of both stages cover the same experts. At a
// barrier between the stages the two threads waited 8.9 and 6.0 us per B decode layer on
// average (docs/benchmarks.md, CPU backend, session 48).
//
// The routing runs inside the same loop, on the calling thread, while the other threads
// stream the shared expert's gate and up rows, which need no routing: at one token the
// router's product (a loop of its own) and the routing (the other thread idle) took 10.8
// and 4.6 us per B layer. Returns whether the routed experts were computed (see
// plan_routed).
bool run_experts_in_row_chunks(CpuContext& ctx, Tensor x, std::span<const FfnWeights> experts,
                               const std::vector<std::vector<RoutedToken>>& tokens_of, const PackedExpert* shared,
                               FunctionRef<void(bool alone)> route, float limit, Tensor outputs) {
  const Kernels& k = ctx.kernels;
  // A scratch per routed expert (at most one per expert), and the shared expert's last.
  if (ctx.moe_experts.size() < experts.size() + 1) ctx.moe_experts.resize(experts.size() + 1);
  QuantizedRows& xq = ctx.moe_rows;
  bool quantized[3] = {true, false, false};  // by ActivationForm: float32 needs none
  std::optional<ChunkedExpert> shared_expert;
  ExpertProgress shared_progress;
  if (shared) {
    for (ActivationForm form : {activation_form(k, *shared->gate), activation_form(k, *shared->up)})
      if (!quantized[static_cast<int>(form)]) {
        quantize_activations(form, k, ctx.pool, xq, x);
        quantized[static_cast<int>(form)] = true;
      }
    shared_expert = chunked(k, *shared, kGroupsPerChunk, ctx.moe_experts.back(), x, xq, outputs, shared_progress);
  }
  const int64_t shared_chunks = shared ? up_chunks(k, *shared, shared_expert->groups_per_chunk) : 0;
  std::atomic<int64_t> next_shared_chunk{0};
  auto take_shared_chunks = [&] {
    for (int64_t c = next_shared_chunk.fetch_add(1, std::memory_order_relaxed); c < shared_chunks;
         c = next_shared_chunk.fetch_add(1, std::memory_order_relaxed))
      gate_up_chunk(k, *shared_expert, c, limit);
  };
  const int threads = ctx.pool.size();
  RoutedPlan plan;
  std::optional<ChunkQueue> gate_up_queue, down_queue;
  std::atomic<bool> planned{false};
  ctx.pool.run_on_all([&](int thread) {
    if (thread == 0) {
      route(true);
      plan_routed(k, threads, ctx.moe_experts, x, xq, quantized, experts, tokens_of,
                  shared_expert ? &*shared_expert : nullptr, outputs, plan);
      gate_up_queue.emplace(plan.gate_up.first.back(), threads);
      down_queue.emplace(plan.down.first.back(), threads);
      planned.store(true, std::memory_order_release);
    } else {
      take_shared_chunks();
      for (int spins = 0; !planned.load(std::memory_order_acquire); ++spins) spin_once(spins);
    }
    plan.gate_up.take(*gate_up_queue, thread, [&](const ChunkedExpert& c, int64_t local) {
      gate_up_chunk(k, c, local, limit);
    });
    take_shared_chunks();
    plan.down.take(*down_queue, thread, [&](const ChunkedExpert& c, int64_t local) { down_item(k, c, local); });
  });
  for (const ChunkedExpert* c : plan.down.experts) scatter(c->io, c->weights, outputs);
  return plan.packed;
}

}  // namespace

PackedExperts run_packed_experts(CpuContext& ctx, Tensor x, std::span<const FfnWeights> experts,
                                 const std::vector<std::vector<RoutedToken>>& tokens_of, const FfnWeights* shared,
                                 const std::vector<RoutedToken>& shared_tokens, FunctionRef<void(bool alone)> route,
                                 float limit, Tensor outputs) {
  auto packed_expert = [&](const FfnWeights& w, const std::vector<RoutedToken>& tokens) {
    return PackedExpert{packed_form(ctx, w.gate), packed_form(ctx, w.up), packed_form(ctx, w.down), &tokens};
  };
  auto is_packed = [](const PackedExpert& p) { return p.gate && p.up && p.down; };
  // Few tokens per expert (decode, a server's batch): every thread on every expert, the
  // shared one too. Also with many tokens its chunks beside the routed experts' keep
  // memory busy while they compute (a server step's shared expert over sixteen tokens,
  // say, is a GEMM bound by its arithmetic; docs/benchmarks.md, Serving, session 17).
  auto in_row_chunks = [&](FunctionRef<void(bool alone)> route_in_loop, bool with_shared) {
    std::optional<PackedExpert> shared_packed;
    if (with_shared && shared && !shared_tokens.empty()) {
      shared_packed = packed_expert(*shared, shared_tokens);
      if (!is_packed(*shared_packed)) shared_packed.reset();
    }
    const bool routed = run_experts_in_row_chunks(ctx, x, experts, tokens_of, shared_packed ? &*shared_packed : nullptr,
                                                  route_in_loop, limit, outputs);
    return PackedExperts{.routed = routed, .shared = shared_packed.has_value()};
  };
  // Up to kMaxTokensForRowChunks tokens no expert can have more, and the routing goes
  // inside the experts' loop. The routed experts go there too once they are packed;
  // before, they are packed by the pool and run in a loop of their own.
  PackedExperts ran;
  if (x.rows <= static_cast<int64_t>(kMaxTokensForRowChunks)) {
    ran = in_row_chunks(route, true);
    if (ran.routed) return ran;
  } else {
    route(false);
  }
  std::vector<PackedExpert> active;
  size_t most_tokens = 0;
  for (size_t e = 0; e < experts.size(); ++e) {
    if (tokens_of[e].empty()) continue;
    active.push_back(packed_expert(experts[e], tokens_of[e]));
    if (!is_packed(active.back())) return ran;
    most_tokens = std::max(most_tokens, tokens_of[e].size());
  }
  if (most_tokens <= kMaxTokensForRowChunks) {
    const PackedExperts now = in_row_chunks([](bool) {}, !ran.shared);
    return {.routed = now.routed, .shared = ran.shared || now.shared};
  }
  // x in every form some expert's gate or up reads, once.
  bool needs_form[3] = {};
  for (const PackedExpert& e : active)
    for (ActivationForm form : {activation_form(ctx.kernels, *e.gate), activation_form(ctx.kernels, *e.up)})
      needs_form[static_cast<int>(form)] = true;
  QuantizedRows& xq = ctx.moe_rows;
  for (ActivationForm form : {ActivationForm::kQ8, ActivationForm::kQ8x3})
    if (needs_form[static_cast<int>(form)]) quantize_activations(form, ctx.kernels, ctx.pool, xq, x);
  // Threads take the next expert until none is left, the ones with most tokens first, so
  // the step ends about when the slowest thread's last expert does.
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
  return {.routed = true, .shared = false};
}

}  // namespace dsinfer::cpu
