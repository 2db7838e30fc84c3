// Reference definitions of the fine-grained ops (see backend/ops.h for the contract).
#pragma once

#include "backend/ops.h"

namespace dsinfer::reference {

void embedding(Tensor out, const WeightView& table, std::span<const int32_t> ids);
void rms_norm(Tensor out, Tensor x, const WeightView& weight, float eps);
void layer_norm(Tensor out, Tensor x, const WeightView& weight, const WeightView& bias, float eps);
void rope(const RopeArgs& args);
void copy(Tensor dst, Tensor src);
void add(Tensor out, Tensor a, Tensor b);
void silu_and_mul(Tensor out, Tensor gate, Tensor up);
void matmul(Tensor out, Tensor x, const WeightView& w);
void argmax(std::span<int32_t> out, Tensor x);
// activation_transforms.cpp
void hadamard(Tensor x);
void fp8_round_trip(Tensor x, int64_t block, bool pow2_scales);
void fp4_round_trip(Tensor x, int64_t block);
// The power-of-two scale fp4_round_trip gives a block whose largest magnitude is amax.
float fp4_block_scale(float amax);

// Fused ops, each in its own file.
void mla_attention(const MlaAttentionArgs& args);
void indexer_topk(const IndexerTopkArgs& args);
void moe_ffn(const MoeArgs& args);
void sink_attention(const SinkAttentionArgs& args);
// Query rows [t_begin, t_end) and heads [h_begin, h_end) of sink_attention, computed the
// same way (backends split the work by rows or, for a single decode row, by heads).
void sink_attention_part(const SinkAttentionArgs& args, int64_t t_begin, int64_t t_end, int64_t h_begin,
                         int64_t h_end);
// hyper_connections.cpp
void hc_pre(const HcPreArgs& args);
void hc_post(const HcPostArgs& args);
// The parts of those that a backend may schedule its own way: hc_pre of row t after the
// norm, given r = 1 / rms(streams of row t) (`scale` and `base` dequantised); and hc_post
// of row t's stream k.
void hc_pre_after_norm(const HcPreArgs& args, int64_t t, float r, const float* scale, const float* base);
void hc_post_stream(const HcPostArgs& args, int64_t t, int64_t k);
void compress_pool(const CompressPoolArgs& args);
// compress_pool with args.ape's values already widened to float32 (a backend that keeps
// them between calls: the reference widens ratio x width values on every call), for
// output columns [c0, c1) only (a backend's threads can split a decode step's one row).
void compress_pool(const CompressPoolArgs& args, std::span<const float> ape, int64_t c0, int64_t c1);

}  // namespace dsinfer::reference
