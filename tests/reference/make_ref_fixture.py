#!/usr/bin/python3
"""Tiny random DeepSeek-shaped models written as Hugging Face folders, for self-checks
of the reference (and usable as engine fixtures).

    /usr/bin/python3 tests/reference/make_ref_fixture.py --out DIR --preset v3 [--seed 0] [--fp8] [--shards 2]
    /usr/bin/python3 tests/reference/make_ref_fixture.py --out DIR --preset v4 [--seed 0] [--block 32] [--mtp 1]

Presets: v2 (plain q_proj, softmax greedy, no normalisation), v2-group
(group_limited_greedy, norm_topk_prob), v3 (q_lora, sigmoid noaux_tc, YaRN),
kimi (model_type kimi_k2, one group, YaRN with mscale != mscale_all_dim),
v32 (model_type deepseek_v32: v3 plus the lightning indexer), v4 (model_type
deepseek_v4, released V4 layout, always FP8/FP4 with UE8M0 scales: see v4_fixture.py
and README.md for the exact layout).
Sizes are deliberately odd (vocab 97, v_head_dim != qk_nope_head_dim, partial fp8
blocks) so layout mistakes show.

Weights are stored BF16; with --fp8 the 2-D projection weights (attention projections,
MLPs, experts) are F8_E4M3 with F32 `_scale_inv` blocks, as in the V3 checkpoints, and
norms / router / embeddings / lm_head stay BF16. For v32 the indexer's wq_b / wk are
quantised too, weights_proj and k_norm stay BF16, and quantization_config gets
scale_fmt ue8m0 (power-of-two activation scales in the indexer). One stray MTP-style tensor is added
under layer index num_hidden_layers; readers must ignore it.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import E4M3_TABLE  # noqa: E402


# ---------------------------------------------------------------------------
# Writers / encoders
# ---------------------------------------------------------------------------

def write_safetensors(path: str, tensors: dict, metadata: dict | None = None):
    """tensors: name -> (dtype name, storage ndarray). Little-endian, header padded to 8."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    off = 0
    for name, (dtype, arr) in tensors.items():
        b = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def bf16_encode(x: np.ndarray):
    """Round float -> bf16 (nearest, ties to even). Returns (uint16 bits, exact float64 value)."""
    f = np.asarray(x, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    val = (rounded.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return rounded, val


_E4M3_FINITE = np.array([b for b in range(256) if np.isfinite(E4M3_TABLE[b])], dtype=np.uint8)
_E4M3_ORDER = np.argsort(E4M3_TABLE[_E4M3_FINITE], kind="stable")
_E4M3_SORTED_CODES = _E4M3_FINITE[_E4M3_ORDER]
_E4M3_SORTED_VALS = E4M3_TABLE[_E4M3_SORTED_CODES]


def fp8_encode_nearest(x: np.ndarray) -> np.ndarray:
    """Nearest finite F8_E4M3 code for each value (saturating at +-448)."""
    x = np.clip(np.asarray(x, dtype=np.float64), -448.0, 448.0)
    i = np.clip(np.searchsorted(_E4M3_SORTED_VALS, x), 1, len(_E4M3_SORTED_VALS) - 1)
    lo, hi = _E4M3_SORTED_VALS[i - 1], _E4M3_SORTED_VALS[i]
    pick = np.where(np.abs(x - lo) <= np.abs(hi - x), i - 1, i)
    return _E4M3_SORTED_CODES[pick]


def fp8_quantize_blockwise(w: np.ndarray, block):
    """Per-block scale = amax / 448. Returns (uint8 codes, float32 scale_inv, exact dequantized float64)."""
    br, bc = block
    R, C = w.shape
    nr, nc = -(-R // br), -(-C // bc)
    scale = np.ones((nr, nc), dtype=np.float32)
    codes = np.zeros((R, C), dtype=np.uint8)
    for i in range(nr):
        for j in range(nc):
            blk = w[i * br:(i + 1) * br, j * bc:(j + 1) * bc]
            amax = float(np.max(np.abs(blk)))
            s = np.float32(amax / 448.0) if amax > 0 else np.float32(1.0)
            scale[i, j] = s
            codes[i * br:(i + 1) * br, j * bc:(j + 1) * bc] = fp8_encode_nearest(blk / float(s))
    full = np.repeat(np.repeat(scale.astype(np.float64), br, 0), bc, 1)[:R, :C]
    return codes, scale, E4M3_TABLE[codes] * full


# ---------------------------------------------------------------------------
# Tiny configs and weights
# ---------------------------------------------------------------------------

_COMMON = dict(
    vocab_size=97, hidden_size=48, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
    intermediate_size=72, moe_intermediate_size=12, kv_lora_rank=20, qk_nope_head_dim=12,
    qk_rope_head_dim=8, v_head_dim=10, rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="silu",
    first_k_dense_replace=1, moe_layer_freq=1, n_routed_experts=8, num_experts_per_tok=3,
    max_position_embeddings=4096, tie_word_embeddings=False, attention_bias=False,
    bos_token_id=0, eos_token_id=1,
)

PRESETS = {
    "v2": dict(_COMMON, model_type="deepseek_v2", architectures=["DeepseekV2ForCausalLM"],
               q_lora_rank=None, n_shared_experts=2, topk_method="greedy", scoring_func="softmax",
               n_group=1, topk_group=1, norm_topk_prob=False, routed_scaling_factor=1.5, rope_scaling=None),
    "v2-group": dict(_COMMON, model_type="deepseek_v2", architectures=["DeepseekV2ForCausalLM"],
                     q_lora_rank=None, n_shared_experts=1, topk_method="group_limited_greedy",
                     scoring_func="softmax", n_group=4, topk_group=2, norm_topk_prob=True,
                     routed_scaling_factor=16.0,
                     rope_scaling=dict(type="yarn", factor=40, original_max_position_embeddings=4096,
                                       beta_fast=32, beta_slow=1, mscale=0.707, mscale_all_dim=0.707)),
    "v3": dict(_COMMON, model_type="deepseek_v3", architectures=["DeepseekV3ForCausalLM"],
               q_lora_rank=28, n_shared_experts=1, topk_method="noaux_tc", scoring_func="sigmoid",
               n_group=4, topk_group=2, norm_topk_prob=True, routed_scaling_factor=2.5,
               rope_scaling=dict(type="yarn", factor=40, original_max_position_embeddings=4096,
                                 beta_fast=32, beta_slow=1, mscale=1.0, mscale_all_dim=1.0)),
    "kimi": dict(_COMMON, model_type="kimi_k2", architectures=["DeepseekV3ForCausalLM"],
                 q_lora_rank=28, n_shared_experts=1, topk_method="noaux_tc", scoring_func="sigmoid",
                 n_group=1, topk_group=1, norm_topk_prob=True, routed_scaling_factor=2.827,
                 first_k_dense_replace=2, num_hidden_layers=3,
                 rope_scaling=dict(type="yarn", factor=32.0, original_max_position_embeddings=64,
                                   beta_fast=1.0, beta_slow=1.0, mscale=1.0, mscale_all_dim=0.5)),
    # V3 plus the lightning indexer; index_topk small so the selection matters on short prompts
    "v32": dict(_COMMON, model_type="deepseek_v32", architectures=["DeepseekV32ForCausalLM"],
                q_lora_rank=28, n_shared_experts=1, topk_method="noaux_tc", scoring_func="sigmoid",
                n_group=4, topk_group=2, norm_topk_prob=True, routed_scaling_factor=2.5,
                index_n_heads=8, index_head_dim=128, index_topk=8,
                rope_scaling=dict(type="yarn", factor=40, original_max_position_embeddings=4096,
                                  beta_fast=32, beta_slow=1, mscale=1.0, mscale_all_dim=1.0)),
}


def weight_shapes(c: dict):
    """name -> (shape, kind) for every tensor of the model; kind is one of
    'embed', 'norm', 'linear', 'gate', 'bias', 'head'."""
    H, nh = c["hidden_size"], c["num_attention_heads"]
    dq = nh * (c["qk_nope_head_dim"] + c["qk_rope_head_dim"])
    out = {"model.embed_tokens.weight": ((c["vocab_size"], H), "embed")}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        out[p + ".input_layernorm.weight"] = ((H,), "norm")
        out[p + ".post_attention_layernorm.weight"] = ((H,), "norm")
        a = p + ".self_attn"
        if c.get("q_lora_rank"):
            out[a + ".q_a_proj.weight"] = ((c["q_lora_rank"], H), "linear")
            out[a + ".q_a_layernorm.weight"] = ((c["q_lora_rank"],), "norm")
            out[a + ".q_b_proj.weight"] = ((dq, c["q_lora_rank"]), "linear")
        else:
            out[a + ".q_proj.weight"] = ((dq, H), "linear")
        out[a + ".kv_a_proj_with_mqa.weight"] = ((c["kv_lora_rank"] + c["qk_rope_head_dim"], H), "linear")
        out[a + ".kv_a_layernorm.weight"] = ((c["kv_lora_rank"],), "norm")
        out[a + ".kv_b_proj.weight"] = ((nh * (c["qk_nope_head_dim"] + c["v_head_dim"]), c["kv_lora_rank"]), "linear")
        out[a + ".o_proj.weight"] = ((H, nh * c["v_head_dim"]), "linear")
        if c.get("model_type") == "deepseek_v32":
            ih, inh = c["index_head_dim"], c["index_n_heads"]
            out[a + ".indexer.wq_b.weight"] = ((inh * ih, c["q_lora_rank"]), "linear")
            out[a + ".indexer.wk.weight"] = ((ih, H), "linear")
            out[a + ".indexer.k_norm.weight"] = ((ih,), "norm")
            out[a + ".indexer.k_norm.bias"] = ((ih,), "lnbias")
            out[a + ".indexer.weights_proj.weight"] = ((inh, H), "gate")
        m = p + ".mlp"
        moe = c.get("n_routed_experts") and i >= c["first_k_dense_replace"] and i % c.get("moe_layer_freq", 1) == 0
        if not moe:
            I = c["intermediate_size"]
            out[m + ".gate_proj.weight"] = ((I, H), "linear")
            out[m + ".up_proj.weight"] = ((I, H), "linear")
            out[m + ".down_proj.weight"] = ((H, I), "linear")
            continue
        E, I = c["n_routed_experts"], c["moe_intermediate_size"]
        out[m + ".gate.weight"] = ((E, H), "gate")
        if c["topk_method"] == "noaux_tc":
            out[m + ".gate.e_score_correction_bias"] = ((E,), "bias")
        for e in range(E):
            out[f"{m}.experts.{e}.gate_proj.weight"] = ((I, H), "linear")
            out[f"{m}.experts.{e}.up_proj.weight"] = ((I, H), "linear")
            out[f"{m}.experts.{e}.down_proj.weight"] = ((H, I), "linear")
        if c.get("n_shared_experts"):
            S = c["n_shared_experts"] * I
            out[m + ".shared_experts.gate_proj.weight"] = ((S, H), "linear")
            out[m + ".shared_experts.up_proj.weight"] = ((S, H), "linear")
            out[m + ".shared_experts.down_proj.weight"] = ((H, S), "linear")
    out["model.norm.weight"] = ((H,), "norm")
    if not c.get("tie_word_embeddings"):
        out["lm_head.weight"] = ((c["vocab_size"], H), "head")
    return out


def random_weights(c: dict, seed: int = 0) -> dict:
    """Unquantized float64 weights scaled so activations stay O(1)."""
    rng = np.random.default_rng(seed)
    w = {}
    for name, (shape, kind) in weight_shapes(c).items():
        if kind == "embed":
            w[name] = rng.standard_normal(shape)
        elif kind == "norm":
            w[name] = 1.0 + 0.2 * rng.standard_normal(shape)
        elif kind == "bias":
            # non-negative, so every biased sigmoid score is > 0 and the HF 0.0 fill of
            # dropped groups agrees with the official -inf fill
            w[name] = rng.uniform(0.0, 0.3, shape)
        elif kind == "lnbias":
            w[name] = 0.1 * rng.standard_normal(shape)
        elif kind == "gate":
            w[name] = 2.0 * rng.standard_normal(shape) / np.sqrt(shape[1])
        elif kind == "head":
            w[name] = 2.0 * rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            w[name] = rng.standard_normal(shape) / np.sqrt(shape[1])
    return w


def write_model(folder: str, c: dict, weights: dict, fp8_block=None, shards: int = 1,
                add_mtp_tensor: bool = True) -> dict:
    """Write config.json and safetensors. Returns the exact float64 values a correct
    reader must produce (after bf16 rounding / fp8 quantization)."""
    os.makedirs(folder, exist_ok=True)
    c = dict(c)
    if fp8_block is not None:
        c["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                    "weight_block_size": list(fp8_block)}
        if c.get("model_type") == "deepseek_v32":
            c["quantization_config"]["scale_fmt"] = "ue8m0"
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(c, f, indent=2)
    kinds = {n: k for n, (_, k) in weight_shapes(c).items()}
    stored, exact = {}, {}
    for name, val in weights.items():
        if fp8_block is not None and kinds.get(name) == "linear":
            codes, scale, deq = fp8_quantize_blockwise(val, fp8_block)
            stored[name] = ("F8_E4M3", codes)
            stored[name + "_scale_inv"] = ("F32", scale)
            exact[name] = deq
        elif kinds.get(name) == "bias":
            stored[name] = ("F32", val.astype(np.float32))
            exact[name] = val.astype(np.float32).astype(np.float64)
        else:
            bits, v = bf16_encode(val)
            stored[name] = ("BF16", bits)
            exact[name] = v
    if add_mtp_tensor:
        L, H = c["num_hidden_layers"], c["hidden_size"]
        bits, _ = bf16_encode(np.ones((H, 2 * H)))
        stored[f"model.layers.{L}.eh_proj.weight"] = ("BF16", bits)
    names = list(stored)
    if shards <= 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), stored, {"format": "pt"})
    else:
        weight_map = {}
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: stored[n] for k, n in enumerate(names) if k % shards == s}
            # keep a weight and its scale in different shards sometimes: fine, the index says where
            write_safetensors(os.path.join(folder, fname), part, {"format": "pt"})
            weight_map.update({n: fname for n in part})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    return exact


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="write a tiny random DeepSeek-shaped HF model folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS) + ["v4"], default="v3")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fp8", action="store_true", help="F8_E4M3 projections with 16x16 block scales (v4: always)")
    ap.add_argument("--block", type=int, default=None, help="fp8 block size (square; default 16, v4: 32)")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--mtp", type=int, default=1, help="v4: MTP layers to write (0 or 1; default 1)")
    args = ap.parse_args(argv)
    if args.preset == "v4":
        from v4_fixture import V4_PRESET, random_v4_weights, write_v4_model
        c = dict(V4_PRESET, num_nextn_predict_layers=args.mtp)
        b = args.block or 32
        write_v4_model(args.out, c, random_v4_weights(c, args.seed), block=(b, b), shards=args.shards)
        print(f"wrote v4 model to {args.out}", file=sys.stderr)
        return 0
    c = PRESETS[args.preset]
    b = args.block or 16
    write_model(args.out, c, random_weights(c, args.seed),
                fp8_block=(b, b) if args.fp8 else None, shards=args.shards)
    print(f"wrote {args.preset} model to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
