// Reference definitions of the fine-grained ops (see backend/ops.h for the contract).
#pragma once

#include "backend/ops.h"

namespace dsinfer::reference {

void embedding(Tensor out, const WeightView& table, std::span<const int32_t> ids);
void rms_norm(Tensor out, Tensor x, const WeightView& weight, float eps);
void rope(const RopeArgs& args);
void copy(Tensor dst, Tensor src);
void add(Tensor out, Tensor a, Tensor b);
void silu_and_mul(Tensor out, Tensor gate, Tensor up);
void matmul(Tensor out, Tensor x, const WeightView& w);
void argmax(std::span<int32_t> out, Tensor x);

// Fused ops, each in its own file.
void mla_attention(const MlaAttentionArgs& args);
void moe_ffn(const MoeArgs& args);

}  // namespace dsinfer::reference
