// DeepSeek-V4's forward pass over chunks of one or more sequences (deepseek_v4_model.h):
// everything but attention and the caches runs on all their rows at once.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/deepseek_v4_model.h"
#include "model/deepseek_v4_state.h"
#include "model/deepseek_v4_workspace.h"

namespace dsinfer {
namespace {

constexpr int64_t kKeyFp8Block = 64;    // FP8 round trip of key / compressed rows (non-RoPE dims)
constexpr int64_t kIndexFp4Block = 32;  // FP4 round trip of indexer queries and keys

// (Re)carves `ws` for chunks of up to `tokens` tokens.
void carve(V4Workspace& ws, Backend& backend, const ModelConfig& c, int64_t tokens) {
  if (ws.capacity >= tokens) return;
  const V4Config& v = *c.v4;
  const int64_t D = c.hidden_size;
  const int64_t hc = v.hc_mult;
  struct Slot {
    Tensor* t;
    int64_t rows, cols;
  };
  const Slot slots[] = {
      {&ws.streams, tokens, hc * D},
      {&ws.next_streams, tokens, hc * D},
      {&ws.mixes, tokens, v.hc_mix()},
      {&ws.post, tokens, hc},
      {&ws.comb, tokens, hc * hc},
      {&ws.x, tokens, D},
      {&ws.normed, tokens, D},
      {&ws.out, tokens, D},
      {&ws.qr, tokens, *c.q_lora_rank},
      {&ws.q, tokens, c.num_attention_heads * v.head_dim},
      {&ws.kv, tokens, v.head_dim},
      {&ws.attn, tokens, c.num_attention_heads * v.head_dim},
      {&ws.low_rank, tokens, v.o_groups * v.o_lora_rank},
      {&ws.proj, tokens, 4 * v.head_dim},         // [kv | score], each up to 2 * head_dim (CSA)
      {&ws.iproj, tokens, 4 * v.index_head_dim},  // the same for the indexer's compressor
      {&ws.iq, tokens, v.index_n_heads * v.index_head_dim},
      {&ws.iw, tokens, v.index_n_heads},
      {&ws.logits, tokens, c.vocab_size},
  };
  // Every slot starts on a 64-byte line, as the buffer does: backends' float-activation
  // kernels load whole lines of activations, and on the CPU a load split across two lines
  // cost the FP8 kernel 7-12% (docs/benchmarks.md, DeepSeek-V4 session 15).
  constexpr int64_t kLineFloats = 16;
  auto slot_floats = [&](const Slot& s) { return (s.rows * s.cols + kLineFloats - 1) / kLineFloats * kLineFloats; };
  int64_t total = 0;
  for (const Slot& s : slots) total += slot_floats(s);
  ws.buffer = backend.allocate(static_cast<size_t>(total) * sizeof(float));
  float* next = static_cast<float*>(ws.buffer->data());
  for (const Slot& s : slots) {
    *s.t = Tensor::contiguous(DType::kF32, s.rows, s.cols, next);
    next += slot_floats(s);
  }
  ws.capacity = tokens;
}

void set_positions(V4Workspace& ws) {
  ws.positions.resize(static_cast<size_t>(ws.tokens));
  ws.inverse_positions.resize(ws.positions.size());
  for (const V4Workspace::Chunk& chunk : ws.chunks)
    for (int64_t t = 0; t < chunk.count; ++t) {
      ws.positions[chunk.row + t] = static_cast<int32_t>(chunk.start + t);
      ws.inverse_positions[chunk.row + t] = -static_cast<int32_t>(chunk.start + t);  // RoPE by -p undoes RoPE by p
    }
}

// A compressor's [kv | score] projections of every position of the pass ([T, 2 * width],
// width twice the row width for the overlapping CSA pools) and the products that fill them.
struct CompressorProjections {
  Tensor all;
  MatmulTask kv, score;
};

CompressorProjections compressor_projections(const V4Config& v, const V4CompressorWeights& w, int64_t layer,
                                             bool indexer, V4Workspace& ws) {
  const int64_t d = indexer ? v.index_head_dim : v.head_dim;
  const int64_t width = (v.ratio(layer) == V4Config::kCsaRatio ? 2 : 1) * d;
  const Tensor all = ws.use(indexer ? ws.iproj : ws.proj).col_slice(0, 2 * width);
  return {all, {all.col_slice(0, width), ws.use(ws.normed), w.wkv.get()},
          {all.col_slice(width, width), ws.use(ws.normed), w.wgate.get()}};
}

}  // namespace

Status DeepSeekV4Model::forward(std::span<const int32_t> tokens, V4State& state, ForwardOptions::Logits which,
                                std::vector<float>& logits) {
  const V4Chunk chunk{.tokens = tokens, .state = &state, .logits = which};
  return forward(std::span(&chunk, 1), logits);
}

Status DeepSeekV4Model::forward(std::span<const V4Chunk> chunks, std::vector<float>& logits) {
  const ModelConfig& c = config();
  if (chunks.empty()) return error("forward needs at least one chunk");
  if (!ws_) ws_ = std::make_unique<V4Workspace>();
  V4Workspace& ws = *ws_;
  ws.chunks.clear();
  all_tokens_.clear();
  for (const V4Chunk& chunk : chunks) {
    const int64_t T = static_cast<int64_t>(chunk.tokens.size());
    if (T == 0) return error("forward needs at least one token per chunk");
    for (int32_t t : chunk.tokens)
      if (t < 0 || t >= c.vocab_size) return error("token id {} is outside the vocabulary [0, {})", t, c.vocab_size);
    if (!chunk.state) return error("a chunk has no sequence state");
    if (chunk.state->position() + T > chunk.state->capacity())
      return error("{} positions exceed the sequence capacity of {}", chunk.state->position() + T,
                   chunk.state->capacity());
    for (const V4Workspace::Chunk& earlier : ws.chunks)
      if (earlier.state == chunk.state) return error("two chunks of one pass share a sequence state");
    ws.chunks.push_back({.row = static_cast<int64_t>(all_tokens_.size()), .count = T,
                         .start = chunk.state->position(), .state = chunk.state, .logits = chunk.logits});
    all_tokens_.insert(all_tokens_.end(), chunk.tokens.begin(), chunk.tokens.end());
  }
  const int64_t T = static_cast<int64_t>(all_tokens_.size());
  carve(ws, backend_, c, T);
  ws.tokens = T;

  // Embedding, repeated into every residual stream.
  backend_.embedding(ws.use(ws.x), *embed_, all_tokens_);
  for (int64_t j = 0; j < v4().hc_mult; ++j)
    backend_.copy(ws.use(ws.streams).col_slice(j * c.hidden_size, c.hidden_size), ws.use(ws.x));
  run_blocks(all_tokens_, ws);
  head_logits(hc_head_, *norm_, ws, logits);
  for (const V4Workspace::Chunk& chunk : ws.chunks) chunk.state->advance(chunk.count);
  return Status::ok();
}

void DeepSeekV4Model::run_blocks(std::span<const int32_t> tokens, V4Workspace& ws) {
  set_positions(ws);
  for (int64_t l = 0; l < config().num_hidden_layers; ++l) block(blocks_[l], l, tokens, ws);
}

Status DeepSeekV4Model::mtp_logits(std::span<const int32_t> tokens, std::vector<float>& logits) {
  const ModelConfig& c = config();
  const V4Config& v = v4();
  if (!mtp_)
    return error("the model has no MTP layer (num_nextn_predict_layers is 0, or compress_ratios has no entry for it)");
  const int64_t T = static_cast<int64_t>(tokens.size());
  logits.clear();
  if (T < 2) return Status::ok();
  V4State state(c, backend_, T);  // also holds the MTP block's caches (layer num_hidden_layers)
  DSINFER_RETURN_IF_ERROR(forward(tokens, state, ForwardOptions::Logits::kNone, logits));
  // ws.streams now holds the final streams of every position.
  V4Workspace& ws = *ws_;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int64_t n = T - 1;
  const int64_t D = c.hidden_size;
  const int64_t hc = v.hc_mult;
  ws.tokens = n;
  ws.chunks = {{.row = 0, .count = n, .start = 0, .state = &state, .logits = ForwardOptions::Logits::kAll}};
  // Input streams: h_proj(hnorm(stream j of position i)) + e_proj(enorm(embed(token i + 1))).
  const Tensor per_stream = Tensor::contiguous(DType::kF32, n * hc, D, ws.streams.data);
  const Tensor normed_streams = Tensor::contiguous(DType::kF32, n * hc, D, ws.next_streams.data);
  backend_.rms_norm(normed_streams, per_stream, *mtp_->hnorm, eps);
  backend_.matmul(per_stream, normed_streams, *mtp_->h_proj);
  const std::span<const int32_t> next = tokens.subspan(1);
  backend_.embedding(ws.use(ws.x), *embed_, next);
  backend_.rms_norm(ws.use(ws.normed), ws.use(ws.x), *mtp_->enorm, eps);
  backend_.matmul(ws.use(ws.out), ws.use(ws.normed), *mtp_->e_proj);
  for (int64_t j = 0; j < hc; ++j) {
    const Tensor stream = ws.use(ws.streams).col_slice(j * D, D);
    backend_.add(stream, stream, ws.use(ws.out));
  }
  set_positions(ws);
  block(mtp_->block, c.num_hidden_layers, next, ws);
  head_logits(mtp_->hc_head, *mtp_->norm, ws, logits);
  return Status::ok();
}

void DeepSeekV4Model::block(const V4BlockWeights& w, int64_t layer, std::span<const int32_t> tokens, V4Workspace& ws) {
  const ModelConfig& c = config();
  const V4Config& v = v4();
  const float eps = static_cast<float>(c.rms_norm_eps);
  // mHC pre: streams -> x (collapsed), post, comb; then the sub-block's RMSNorm.
  auto pre = [&](const V4HcWeights& hc, const PreparedWeight& norm) {
    backend_.matmul(ws.use(ws.mixes), ws.use(ws.streams), *hc.fn);
    backend_.hc_pre({.x = ws.use(ws.x), .post = ws.use(ws.post), .comb = ws.use(ws.comb), .streams = ws.use(ws.streams),
                     .mixes = ws.use(ws.mixes), .scale = hc.scale.get(), .base = hc.base.get(), .hc = v.hc_mult,
                     .sinkhorn_iters = v.hc_sinkhorn_iters, .hc_eps = static_cast<float>(v.hc_eps), .norm_eps = eps});
    backend_.rms_norm(ws.use(ws.normed), ws.use(ws.x), norm, eps);
  };
  // mHC post: streams <- post * out + comb^T streams.
  auto post = [&] {
    backend_.hc_post({.out = ws.use(ws.next_streams), .f = ws.use(ws.out), .residual = ws.use(ws.streams),
                      .post = ws.use(ws.post), .comb = ws.use(ws.comb), .hc = v.hc_mult});
    std::swap(ws.streams, ws.next_streams);
  };

  pre(w.hc_attn, *w.attn_norm);
  attention(w, layer, ws);
  post();

  pre(w.hc_ffn, *w.ffn_norm);
  std::vector<int32_t> fixed;
  if (!w.tid2eid.empty()) {
    const int64_t k = c.num_experts_per_tok;
    for (int32_t token : tokens)
      fixed.insert(fixed.end(), w.tid2eid.begin() + token * k, w.tid2eid.begin() + (token + 1) * k);
  }
  backend_.moe_ffn({.out = ws.use(ws.out), .x = ws.use(ws.normed), .router = w.moe.router.get(),
                    .selection_bias = w.moe.selection_bias.get(), .experts = w.moe.experts, .shared = w.moe.shared,
                    .spec = router_spec_, .fixed_experts = fixed, .swiglu_limit = static_cast<float>(v.swiglu_limit)});
  post();
}

void DeepSeekV4Model::compress(const V4CompressorWeights& w, int64_t layer, bool indexer, V4Workspace& ws) {
  const ModelConfig& c = config();
  const V4Config& v = v4();
  const int64_t r = v.ratio(layer);
  const int64_t d = indexer ? v.index_head_dim : v.head_dim;
  const int64_t rd = c.qk_rope_head_dim;
  const bool overlap = r == V4Config::kCsaRatio;
  // Every position's [kv | score] projections, computed by attention's products of x.
  const Tensor all = compressor_projections(v, w, layer, indexer, ws).all;

  for (const V4Workspace::Chunk& chunk : ws.chunks) {
    V4LayerCache& cache = chunk.state->layer(layer);
    const int64_t T = chunk.count;
    const int64_t start = chunk.start;
    const Tensor proj = all.row_slice(chunk.row, T);
    // Blocks completed inside this chunk become rows of the cache.
    const Tensor ring = indexer ? cache.index_state : cache.comp_state;
    const int64_t first = start / r;
    const int64_t count = (start + T) / r - first;
    if (count > 0) {
      const Tensor rows = (indexer ? cache.index_keys : cache.comp_rows).row_slice(first, count);
      backend_.compress_pool({.out = rows, .chunk = proj, .state = ring, .ape = w.ape.get(), .chunk_start = start,
                              .first_block = first, .ratio = r, .dim = d, .overlap = overlap});
      backend_.rms_norm(rows, rows, *w.norm, static_cast<float>(c.rms_norm_eps));
      ws.block_positions.resize(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) ws.block_positions[i] = static_cast<int32_t>((first + i) * r);
      backend_.rope({.x = rows, .head_dim = d, .rope_offset = d - rd, .rope_dim = rd, .positions = ws.block_positions,
                     .table = &compressed_rope_});
      if (indexer) {
        backend_.hadamard(rows);
        backend_.fp4_round_trip(rows, kIndexFp4Block);
      } else {
        backend_.fp8_round_trip(rows.col_slice(0, d - rd), kKeyFp8Block, c.fp8->ue8m0_scales);
      }
    }
    // The positions a later chunk's pools may still need stay in the ring.
    for (int64_t p = std::max(start, start + T - ring.rows); p < start + T; ++p)
      backend_.copy(ring.row_slice(p % ring.rows, 1), proj.row_slice(p - start, 1));
  }
}

void DeepSeekV4Model::attention(const V4BlockWeights& w, int64_t layer, V4Workspace& ws) {
  const ModelConfig& c = config();
  const V4Config& v = v4();
  const V4AttentionWeights& a = w.attention;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int64_t T = ws.tokens;
  const int64_t H = c.num_attention_heads;
  const int64_t hd = v.head_dim;
  const int64_t rd = c.qk_rope_head_dim;
  const int64_t r = w.ratio;
  const RopeTable* table = r > 0 ? &compressed_rope_ : &window_rope_;
  const Tensor x = ws.use(ws.normed);

  // The products of x (the low-rank query, the K = V row, the compressors' projections,
  // the indexer's head weights), then those of the normed low-rank query (the query's and
  // the indexer's), each set in one call.
  const Tensor qr = ws.use(ws.qr), kv = ws.use(ws.kv);
  std::vector<MatmulTask> from_x = {{qr, x, a.wq_a.get()}, {kv, x, a.wkv.get()}};
  auto add_compressor = [&](const V4CompressorWeights& cw, bool indexer) {
    const CompressorProjections p = compressor_projections(v, cw, layer, indexer, ws);
    from_x.insert(from_x.end(), {p.kv, p.score});
  };
  if (r > 0) add_compressor(*a.compressor, /*indexer=*/false);
  if (a.indexer) {
    add_compressor(a.indexer->compressor, /*indexer=*/true);
    from_x.push_back({ws.use(ws.iw), x, a.indexer->weights_proj.get()});
  }
  backend_.matmuls(from_x);
  backend_.rms_norm(qr, qr, *a.q_norm, eps);
  const Tensor q = ws.use(ws.q), iq = ws.use(ws.iq);
  const MatmulTask from_qr[] = {{q, qr, a.wq_b.get()}, {iq, qr, a.indexer ? a.indexer->wq_b.get() : nullptr}};
  backend_.matmuls(std::span(from_qr, a.indexer ? 2 : 1));

  // q: per head divided by its RMS; RoPE on the last rd dims.
  const Tensor q_heads = Tensor::contiguous(DType::kF32, T * H, hd, q.data);
  backend_.rms_norm(q_heads, q_heads, *head_ones_, eps);
  backend_.rope({.x = q, .head_dim = hd, .rope_offset = hd - rd, .rope_dim = rd, .positions = ws.positions, .table = table});
  // The one K = V row per token: normed, RoPE, FP8 round trip of the non-RoPE dims.
  backend_.rms_norm(kv, kv, *a.kv_norm, eps);
  backend_.rope({.x = kv, .head_dim = hd, .rope_offset = hd - rd, .rope_dim = rd, .positions = ws.positions, .table = table});
  backend_.fp8_round_trip(kv.col_slice(0, hd - rd), kKeyFp8Block, c.fp8->ue8m0_scales);

  // Compressed rows and, for CSA, the indexer's queries and head weights.
  if (r > 0) compress(*a.compressor, layer, /*indexer=*/false, ws);
  if (a.indexer) {
    const V4IndexerWeights& ix = *a.indexer;
    const int64_t nh = v.index_n_heads;
    const int64_t ihd = v.index_head_dim;
    compress(ix.compressor, layer, /*indexer=*/true, ws);
    backend_.rope({.x = iq, .head_dim = ihd, .rope_offset = ihd - rd, .rope_dim = rd, .positions = ws.positions,
                   .table = &compressed_rope_});
    const Tensor iq_heads = Tensor::contiguous(DType::kF32, T * nh, ihd, iq.data);
    backend_.hadamard(iq_heads);
    backend_.fp4_round_trip(iq_heads, kIndexFp4Block);
  }

  for (size_t i = 0; i < ws.chunks.size(); ++i) attend(a, layer, r, i, ws);

  // The output's RoPE dims turned back to position 0, then the grouped low-rank projection.
  const Tensor attn = ws.use(ws.attn);
  backend_.rope({.x = attn, .head_dim = hd, .rope_offset = hd - rd, .rope_dim = rd, .positions = ws.inverse_positions,
                 .table = table});
  const int64_t per_group = H * hd / v.o_groups;
  const Tensor low_rank = ws.use(ws.low_rank);
  std::vector<MatmulTask> groups;
  for (int64_t g = 0; g < v.o_groups; ++g)
    groups.push_back({low_rank.col_slice(g * v.o_lora_rank, v.o_lora_rank), attn.col_slice(g * per_group, per_group),
                      a.wo_a[g].get()});
  backend_.matmuls(groups);
  backend_.matmul(ws.use(ws.out), low_rank, *a.wo_b);
}

void DeepSeekV4Model::attend(const V4AttentionWeights& a, int64_t layer, int64_t r, size_t chunk_index,
                             V4Workspace& ws) {
  const ModelConfig& c = config();
  const V4Config& v = v4();
  const V4Workspace::Chunk& chunk = ws.chunks[chunk_index];
  V4LayerCache& cache = chunk.state->layer(layer);
  const int64_t T = chunk.count;
  const int64_t start = chunk.start;
  const int64_t hd = v.head_dim;
  const int64_t W = v.sliding_window;
  const Tensor kv = ws.kv.row_slice(chunk.row, T);

  // Raw rows. When the ring can take this chunk's rows without losing one that a query
  // of the chunk still sees (decode), they go there first and the ring is the raw rows
  // (position p at row p % ring); otherwise the window's earlier rows are copied out of
  // the ring, then this chunk's after them (position p at row p - first_raw). The same
  // rows in the same order either way, so the same bits.
  const int64_t ring = cache.window.rows;
  const int64_t first_raw = std::max<int64_t>(0, start - (W - 1));
  const bool in_ring = start + T - ring <= first_raw;
  Tensor raw = cache.window;
  if (in_ring) {
    for (int64_t p = start; p < start + T; ++p)
      backend_.copy(cache.window.row_slice(p % ring, 1), kv.row_slice(p - start, 1));
  } else {
    const int64_t n_earlier = start - first_raw;
    if (ws.raw.rows < n_earlier + T) {
      ws.raw_buffer = backend_.allocate(static_cast<size_t>((n_earlier + T) * hd) * sizeof(float));
      ws.raw = Tensor::contiguous(DType::kF32, n_earlier + T, hd, ws.raw_buffer->data());
    }
    raw = ws.raw.row_slice(0, n_earlier + T);
    for (int64_t p = first_raw; p < start; ++p)
      backend_.copy(raw.row_slice(p - first_raw, 1), cache.window.row_slice(p % ring, 1));
    backend_.copy(raw.row_slice(n_earlier, T), kv);
  }
  auto raw_row = [&](int64_t p) { return static_cast<int32_t>(in_ring ? p % ring : p - first_raw); };

  const int64_t n_compressed = r > 0 ? (start + T) / r : 0;
  // The indexer keeps at most this many rows per query (fewer while fewer are ready).
  const int64_t topk = std::min(v.index_topk, n_compressed);
  if (a.indexer) {
    const int64_t nh = v.index_n_heads;
    const int64_t ihd = v.index_head_dim;
    ws.selected.assign(static_cast<size_t>(T * topk), -1);
    for (int64_t t = 0; t < T; ++t) {
      // Query t sees the rows of blocks complete at its position.
      const int64_t ready = (start + t + 1) / r;
      if (ready == 0) continue;
      const Tensor keys = cache.index_keys.row_slice(0, ready);
      backend_.indexer_topk({.selected = Tensor::contiguous(DType::kI32, 1, topk, ws.selected.data() + t * topk),
                             .q = ws.iq.row_slice(chunk.row + t, 1), .weights = ws.iw.row_slice(chunk.row + t, 1),
                             .keys = LatentRows::contiguous(keys), .n_heads = nh, .head_dim = ihd, .top_k = topk,
                             .start_pos = ready - 1,
                             .weight_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(ihd * nh)))});
    }
  }

  // Which rows each query sees: its window, then compressed rows (all ready ones for HCA,
  // the indexer's choice for CSA), -1 padded.
  const int64_t n_raw = raw.rows;
  // No query of the chunk sees more raw rows than there are positions up to its end.
  const int64_t width = std::min(W, start + T) + (a.indexer ? topk : n_compressed);
  ws.visible.assign(static_cast<size_t>(T * width), -1);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t s = start + t;
    int32_t* row = ws.visible.data() + t * width;
    for (int64_t p = std::max<int64_t>(0, s - W + 1); p <= s; ++p) *row++ = raw_row(p);
    if (a.indexer) {
      for (int64_t k = 0; k < topk; ++k)
        if (const int32_t b = ws.selected[t * topk + k]; b >= 0) *row++ = static_cast<int32_t>(n_raw + b);
    } else if (r > 0) {
      for (int64_t b = 0; b < (s + 1) / r; ++b) *row++ = static_cast<int32_t>(n_raw + b);
    }
  }
  const Tensor compressed = r > 0 ? cache.comp_rows.row_slice(0, n_compressed) : Tensor{DType::kF32, 0, hd, hd, nullptr};
  backend_.sink_attention({.out = ws.attn.row_slice(chunk.row, T), .q = ws.q.row_slice(chunk.row, T), .raw = raw,
                           .compressed = compressed, .visible = Tensor::contiguous(DType::kI32, T, width, ws.visible.data()),
                           .sinks = a.sinks.get(), .n_heads = c.num_attention_heads, .head_dim = hd,
                           .softmax_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))});

  // This chunk's raw rows that later queries' windows still reach.
  if (!in_ring)
    for (int64_t p = std::max(start, start + T - ring); p < start + T; ++p)
      backend_.copy(cache.window.row_slice(p % ring, 1), kv.row_slice(p - start, 1));
}

void DeepSeekV4Model::head_logits(const V4HcWeights& hc, const PreparedWeight& norm, V4Workspace& ws,
                                  std::vector<float>& logits) {
  const ModelConfig& c = config();
  const V4Config& v = v4();
  if (std::all_of(ws.chunks.begin(), ws.chunks.end(),
                  [](const V4Workspace::Chunk& chunk) { return chunk.logits == ForwardOptions::Logits::kNone; })) {
    logits.clear();
    return;
  }
  const Tensor mixes = ws.use(ws.mixes).col_slice(0, v.hc_mult);
  backend_.matmul(mixes, ws.use(ws.streams), *hc.fn);
  backend_.hc_pre({.x = ws.use(ws.x), .streams = ws.use(ws.streams), .mixes = mixes, .scale = hc.scale.get(),
                   .base = hc.base.get(), .hc = v.hc_mult, .hc_eps = static_cast<float>(v.hc_eps),
                   .norm_eps = static_cast<float>(c.rms_norm_eps), .head = true});
  // The rows the chunks ask for, normed into consecutive rows, then one pass of the head.
  int64_t n = 0;
  for (const V4Workspace::Chunk& chunk : ws.chunks) {
    const int64_t rows = chunk.logits == ForwardOptions::Logits::kAll    ? chunk.count
                         : chunk.logits == ForwardOptions::Logits::kLast ? 1
                                                                         : 0;
    if (rows == 0) continue;
    backend_.rms_norm(ws.normed.row_slice(n, rows), ws.x.row_slice(chunk.row + chunk.count - rows, rows), norm,
                      static_cast<float>(c.rms_norm_eps));
    n += rows;
  }
  const Tensor out = ws.logits.row_slice(0, n);
  backend_.matmul(out, ws.normed.row_slice(0, n), *head_);
  logits.resize(static_cast<size_t>(n * c.vocab_size));  // not cleared first: no zeroing when the size holds
  backend_.download(out, logits.data());
}

}  // namespace dsinfer
