"""Tiny random DeepSeek-V4 models in the released checkpoint layout (used by
make_ref_fixture.py --preset v4 and test_reference_v4.py). README.md documents the layout.

Tensor names have no "model." prefix. Dtypes: embed / head / norms / compressor
projections / router weight / indexer weights_proj BF16; mHC parameters, attn_sink,
compressor ape, router bias F32; tid2eid I64; every other 2-D projection F8_E4M3 with an
F8_E8M0 `<name>.scale` per weight_block_size block; routed experts packed FP4 E2M1 (I8,
two values per byte, low nibble first) with one F8_E8M0 scale per 32 values along K.
"""

from __future__ import annotations

import json
import os

import numpy as np

from make_ref_fixture import bf16_encode, write_safetensors
from safetensors_np import E4M3_TABLE
from v4_formats import E2M1_GRID, E4M3_GRID, encode_fp4_packed, round_to_grid

FP4_BLOCK = 32

# ratios 0 / 4 / 128 with window 8: a ~300-token prompt crosses two HCA and ~75 CSA
# boundaries; index_topk 6 < the ~75 compressed rows, so the indexer's choice matters.
V4_PRESET = dict(
    architectures=["DeepseekV4ForCausalLM"], model_type="deepseek_v4",
    vocab_size=97, hidden_size=64, num_hidden_layers=4, num_hash_layers=2, num_nextn_predict_layers=1,
    num_attention_heads=4, num_key_value_heads=1, head_dim=96, qk_rope_head_dim=32, q_lora_rank=48,
    o_groups=2, o_lora_rank=24, n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2,
    moe_intermediate_size=64, scoring_func="sqrtsoftplus", topk_method="noaux_tc", norm_topk_prob=True,
    routed_scaling_factor=1.5, swiglu_limit=1.0, hidden_act="silu", rms_norm_eps=1e-6,
    sliding_window=8, compress_ratios=[0, 4, 128, 4, 0], compress_rope_theta=160000.0, rope_theta=10000.0,
    rope_scaling=dict(type="yarn", factor=16, original_max_position_embeddings=256, beta_fast=32, beta_slow=1),
    index_n_heads=8, index_head_dim=64, index_topk=6,
    hc_mult=4, hc_sinkhorn_iters=20, hc_eps=1e-6,
    max_position_embeddings=4096, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1,
    expert_dtype="fp4", torch_dtype="bfloat16",
)


def v4_tensor_specs(c: dict):
    """name -> (shape, kind). kinds: embed, head, norm, bf16 (compressor / weights_proj),
    gate, bias, sink, ape, hc_fn, hc_base, hc_scale, fp8, fp4, tid2eid."""
    D, hc = c["hidden_size"], c["hc_mult"]
    H, hd, qlr = c["num_attention_heads"], c["head_dim"], c["q_lora_rank"]
    G, olr = c["o_groups"], c["o_lora_rank"]
    E, I, k = c["n_routed_experts"], c["moe_intermediate_size"], c["num_experts_per_tok"]
    mix = (2 + hc) * hc
    out = {"embed.weight": ((c["vocab_size"], D), "embed")}

    def block(p, layer):
        r = c["compress_ratios"][layer]
        out[p + ".attn_norm.weight"] = ((D,), "norm")
        out[p + ".ffn_norm.weight"] = ((D,), "norm")
        for which in ("attn", "ffn"):
            out[f"{p}.hc_{which}_fn"] = ((mix, hc * D), "hc_fn")
            out[f"{p}.hc_{which}_base"] = ((mix,), "hc_base")
            out[f"{p}.hc_{which}_scale"] = ((3,), "hc_scale")
        a = p + ".attn"
        out[a + ".attn_sink"] = ((H,), "sink")
        out[a + ".wq_a.weight"] = ((qlr, D), "fp8")
        out[a + ".q_norm.weight"] = ((qlr,), "norm")
        out[a + ".wq_b.weight"] = ((H * hd, qlr), "fp8")
        out[a + ".wkv.weight"] = ((hd, D), "fp8")
        out[a + ".kv_norm.weight"] = ((hd,), "norm")
        out[a + ".wo_a.weight"] = ((G * olr, H * hd // G), "fp8")
        out[a + ".wo_b.weight"] = ((D, G * olr), "fp8")
        if r:
            coff = 2 if r == 4 else 1
            out[a + ".compressor.ape"] = ((r, coff * hd), "ape")
            out[a + ".compressor.wkv.weight"] = ((coff * hd, D), "bf16")
            out[a + ".compressor.wgate.weight"] = ((coff * hd, D), "bf16")
            out[a + ".compressor.norm.weight"] = ((hd,), "norm")
        if r == 4:
            ih, inh = c["index_head_dim"], c["index_n_heads"]
            out[a + ".indexer.wq_b.weight"] = ((inh * ih, qlr), "fp8")
            out[a + ".indexer.weights_proj.weight"] = ((inh, D), "bf16")
            out[a + ".indexer.compressor.ape"] = ((4, 2 * ih), "ape")
            out[a + ".indexer.compressor.wkv.weight"] = ((2 * ih, D), "bf16")
            out[a + ".indexer.compressor.wgate.weight"] = ((2 * ih, D), "bf16")
            out[a + ".indexer.compressor.norm.weight"] = ((ih,), "norm")
        f = p + ".ffn"
        out[f + ".gate.weight"] = ((E, D), "gate")
        if layer < c["num_hash_layers"]:
            out[f + ".gate.tid2eid"] = ((c["vocab_size"], k), "tid2eid")
        else:
            out[f + ".gate.bias"] = ((E,), "bias")
        for e in range(E):
            out[f"{f}.experts.{e}.w1.weight"] = ((I, D), "fp4")
            out[f"{f}.experts.{e}.w3.weight"] = ((I, D), "fp4")
            out[f"{f}.experts.{e}.w2.weight"] = ((D, I), "fp4")
        S = c["n_shared_experts"] * I
        if S:
            out[f + ".shared_experts.w1.weight"] = ((S, D), "fp8")
            out[f + ".shared_experts.w3.weight"] = ((S, D), "fp8")
            out[f + ".shared_experts.w2.weight"] = ((D, S), "fp8")

    L = c["num_hidden_layers"]
    for i in range(L):
        block(f"layers.{i}", i)
    out["norm.weight"] = ((D,), "norm")
    out["head.weight"] = ((c["vocab_size"], D), "head")
    out["hc_head_fn"] = ((hc, hc * D), "hc_fn")
    out["hc_head_base"] = ((hc,), "hc_base")
    out["hc_head_scale"] = ((1,), "hc_scale")
    if c.get("num_nextn_predict_layers", 0):
        block("mtp.0", L)
        out["mtp.0.e_proj.weight"] = ((D, D), "fp8")
        out["mtp.0.h_proj.weight"] = ((D, D), "fp8")
        for n in ("enorm", "hnorm", "norm"):
            out[f"mtp.0.{n}.weight"] = ((D,), "norm")
        out["mtp.0.hc_head_fn"] = ((hc, hc * D), "hc_fn")
        out["mtp.0.hc_head_base"] = ((hc,), "hc_base")
        out["mtp.0.hc_head_scale"] = ((1,), "hc_scale")
    return out


def random_v4_weights(c: dict, seed: int = 0) -> dict:
    """Unquantised float64 weights scaled so activations stay O(1)."""
    rng = np.random.default_rng(seed)
    w = {}
    for name, (shape, kind) in v4_tensor_specs(c).items():
        if kind == "embed":
            w[name] = rng.standard_normal(shape)
        elif kind == "norm":
            w[name] = 1.0 + 0.2 * rng.standard_normal(shape)
        elif kind in ("gate", "head"):
            w[name] = 2.0 * rng.standard_normal(shape) / np.sqrt(shape[1])
        elif kind == "bias":
            w[name] = rng.uniform(0.0, 0.3, shape)
        elif kind == "sink":
            w[name] = rng.standard_normal(shape)
        elif kind == "ape":
            w[name] = 0.5 * rng.standard_normal(shape)
        elif kind == "hc_fn":
            w[name] = rng.standard_normal(shape) / np.sqrt(shape[1])
        elif kind == "hc_base":
            w[name] = 0.5 * rng.standard_normal(shape)
        elif kind == "hc_scale":
            w[name] = rng.uniform(0.5, 1.5, shape)
        elif kind == "tid2eid":
            E = c["n_routed_experts"]
            w[name] = np.stack([rng.permutation(E)[:shape[1]] for _ in range(shape[0])]).astype(np.int64)
        else:                                   # fp8, fp4, bf16 projections
            w[name] = rng.standard_normal(shape) / np.sqrt(shape[1])
    return w


def ue8m0_exponent(amax, max_value):
    """Biased exponent byte of the power-of-two scale 2^ceil(log2(amax / max_value))."""
    e = np.ceil(np.log2(np.maximum(amax, 1e-30) / max_value))
    return np.clip(e + 127, 1, 254).astype(np.uint8)


def fp8_ue8m0_blockwise(w, block):
    """-> (F8_E4M3 codes, F8_E8M0 scale bytes [ceil(R/b0), ceil(C/b1)], exact float64)."""
    br, bc = block
    R, C = w.shape
    nr, nc = -(-R // br), -(-C // bc)
    sbytes = np.zeros((nr, nc), np.uint8)
    codes = np.zeros((R, C), np.uint8)
    for i in range(nr):
        for j in range(nc):
            blk = w[i * br:(i + 1) * br, j * bc:(j + 1) * bc]
            e = ue8m0_exponent(np.max(np.abs(blk)), 448.0)
            sbytes[i, j] = e
            a = np.abs(blk) / 2.0 ** (int(e) - 127)
            _, code = round_to_grid(np.minimum(a, 448.0), E4M3_GRID)
            codes[i * br:(i + 1) * br, j * bc:(j + 1) * bc] = code.astype(np.uint8) | np.where(blk < 0, 0x80, 0)
    full = np.repeat(np.repeat(np.exp2(sbytes.astype(np.float64) - 127), br, 0), bc, 1)[:R, :C]
    return codes, sbytes, E4M3_TABLE[codes] * full


def fp4_ue8m0_rows(w, block=FP4_BLOCK):
    """-> (packed I8 [R, C/2], F8_E8M0 scale bytes [R, C/block], exact float64)."""
    R, C = w.shape
    wb = w.reshape(R, C // block, block)
    e = ue8m0_exponent(np.max(np.abs(wb), axis=-1), 6.0)
    s = np.exp2(e.astype(np.float64) - 127)[..., None]
    v, code = round_to_grid(np.minimum(np.abs(wb) / s, 6.0), E2M1_GRID)
    code = code | np.where(wb < 0, 8, 0)
    exact = (np.copysign(v, np.where(wb < 0, -1.0, 1.0)) * s).reshape(R, C)
    return encode_fp4_packed(code.reshape(R, C)), e, exact


def write_v4_model(folder: str, c: dict, weights: dict, block=(32, 32), shards: int = 1) -> dict:
    """Write config.json and safetensors; returns the exact float64 values a correct reader
    produces (integer tables as int64)."""
    os.makedirs(folder, exist_ok=True)
    c = dict(c)
    c["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                "scale_fmt": "ue8m0", "weight_block_size": list(block)}
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(c, f, indent=2)
    specs = v4_tensor_specs(c)
    stored, exact = {}, {}
    for name, (shape, kind) in specs.items():
        val = weights[name]
        if kind == "fp8":
            codes, sb, deq = fp8_ue8m0_blockwise(val, block)
            stored[name] = ("F8_E4M3", codes)
            stored[name[:-len("weight")] + "scale"] = ("F8_E8M0", sb)
            exact[name] = deq
        elif kind == "fp4":
            packed, sb, deq = fp4_ue8m0_rows(val)
            stored[name] = ("I8", packed)
            stored[name[:-len("weight")] + "scale"] = ("F8_E8M0", sb)
            exact[name] = deq
        elif kind == "tid2eid":
            stored[name] = ("I64", val.astype("<i8"))
            exact[name] = val.astype(np.int64)
        elif kind in ("bias", "sink", "ape", "hc_fn", "hc_base", "hc_scale"):
            stored[name] = ("F32", val.astype(np.float32))
            exact[name] = val.astype(np.float32).astype(np.float64)
        else:
            bits, v = bf16_encode(val)
            stored[name] = ("BF16", bits)
            exact[name] = v
    names = list(stored)
    if shards <= 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), stored, {"format": "pt"})
    else:
        weight_map = {}
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: stored[n] for k, n in enumerate(names) if k % shards == s}
            write_safetensors(os.path.join(folder, fname), part, {"format": "pt"})
            weight_map.update({n: fname for n in part})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    return exact
