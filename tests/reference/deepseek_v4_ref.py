#!/usr/bin/python3
"""Independent float64 numpy reference for DeepSeek-V4 (model_type deepseek_v4).

    /usr/bin/python3 tests/reference/deepseek_v4_ref.py --model DIR --tokens 3,17,42 [--decode N] \
        --out FILE.npy [--mtp-out FILE.npy] [--incremental] [--act-quant] [--initial-release]

(deepseek_ref.py dispatches here for deepseek_v4 folders, with the same options.)
Writes float32 logits [len(tokens) + N, vocab_size], one row per position; --decode N adds N
greedy steps (argmax of the last row, ties to the lowest id). --mtp-out writes the MTP
layer's logits [len(tokens) + N - 1, vocab_size]: row i uses the final hidden streams at
position i and token i+1 (it predicts token i+2).

Written from the facts of the official DeepSeek-V4-Flash inference code (inference/model.py,
kernel.py, convert.py; revision 60d8d707 "current", see README.md for the "initial"
revision), never from the C++ engine. Two formulations of the same model:

  * forward(): every position at once, written from the definitions (which raw rows and
    which compressed rows a query sees). Default for the CLI.
  * V4Decoder: one token at a time with carried state (sliding-window rows, the
    compressors' partial-block state, compressed rows), the way an engine decodes.
    --incremental uses it for every row; test_reference_v4.py checks both agree.

Numerics: float64 everywhere except where the official code quantises on purpose
(simulated exactly): FP8 E4M3 on the non-RoPE dims of every attention key row and of every
main-compressor row (blocks of 64, power-of-two scales), and Hadamard + FP4 E2M1 (blocks of
32) on the indexer queries and indexer keys. --act-quant also simulates the FP8 activation
quantisation (blocks of 128) in front of every FP8/FP4 weight matrix, as the official GEMMs do.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deepseek_ref import (ConfigError, _req, _topk_desc, apply_rope_interleaved, rms_norm,  # noqa: E402
                          sigmoid, silu, softmax, yarn_correction_range)
from safetensors_np import Checkpoint, CheckpointError, dequant_blockwise, to_float64  # noqa: E402
import v4_formats  # noqa: E402
from v4_formats import decode_fp4_packed, fake_quant, hadamard  # noqa: E402

KV_FP8_BLOCK = 64       # act_quant(kv[..., :-rope], 64, ...): keys and main-compressor rows
FP4_ACT_BLOCK = 32      # fp4_act_quant(..., 32): indexer queries and indexer keys
GEMM_ACT_BLOCK = 128    # act_quant(x, 128) in front of FP8 / FP4 GEMMs (--act-quant only)
CSA_RATIO = 4           # the official code overlaps windows and runs the indexer iff ratio == 4


# ---------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------

@dataclass
class V4Config:
    vocab_size: int
    dim: int                      # hidden_size
    n_layers: int                 # num_hidden_layers
    n_hash_layers: int            # num_hash_layers
    n_mtp_layers: int             # num_nextn_predict_layers
    n_heads: int                  # num_attention_heads
    head_dim: int
    rope_dim: int                 # qk_rope_head_dim (last dims of each head)
    q_lora_rank: int
    o_groups: int
    o_lora_rank: int
    n_routed: int
    n_shared: int
    moe_inter: int                # moe_intermediate_size
    n_activated: int              # num_experts_per_tok
    scoring_func: str             # sqrtsoftplus | sigmoid | softmax
    route_scale: float            # routed_scaling_factor
    swiglu_limit: float
    eps: float                    # rms_norm_eps (every RMSNorm and the mHC input norm)
    window: int                   # sliding_window
    compress_ratios: list
    compress_rope_theta: float
    rope_theta: float
    yarn: Optional[dict]          # {factor, original, beta_fast, beta_slow} or None
    index_n_heads: int
    index_head_dim: int
    index_topk: int
    hc_mult: int
    hc_iters: int                 # hc_sinkhorn_iters
    hc_eps: float
    weight_block: tuple = (128, 128)
    pow2_scales: bool = True      # quantization_config.scale_fmt == "ue8m0" (official default)
    tie_word_embeddings: bool = False
    raw: dict = field(default_factory=dict)

    def ratio(self, layer: int) -> int:
        return int(self.compress_ratios[layer])


def parse_v4_config(d: dict) -> V4Config:
    if d.get("model_type") != "deepseek_v4":
        raise ConfigError(f"config.json: model_type {d.get('model_type')!r} is not deepseek_v4")
    act = d.get("hidden_act", "silu")
    if act != "silu":
        raise ConfigError(f"config.json: hidden_act {act!r} not supported (only silu)")
    rs = d.get("rope_scaling")
    yarn = None
    if rs is not None:
        kind = rs.get("type", rs.get("rope_type"))
        if kind != "yarn":
            raise ConfigError(f"config.json: rope_scaling type {kind!r} not supported (only yarn or null)")
        for k in ("factor", "original_max_position_embeddings"):
            if k not in rs:
                raise ConfigError(f"config.json: rope_scaling lacks {k!r}")
        yarn = dict(factor=float(rs["factor"]), original=int(rs["original_max_position_embeddings"]),
                    beta_fast=float(rs.get("beta_fast", 32)), beta_slow=float(rs.get("beta_slow", 1)))
    quant = d.get("quantization_config") or {}
    ratios = d.get("compress_ratios")
    if not isinstance(ratios, list) or not all(isinstance(r, int) and r >= 0 for r in ratios):
        raise ConfigError("config.json: compress_ratios must be a list of non-negative integers")
    cfg = V4Config(
        vocab_size=_req(d, "vocab_size"), dim=_req(d, "hidden_size"), n_layers=_req(d, "num_hidden_layers"),
        n_hash_layers=int(d.get("num_hash_layers", 0) or 0),
        n_mtp_layers=int(d.get("num_nextn_predict_layers", 0) or 0),
        n_heads=_req(d, "num_attention_heads"), head_dim=_req(d, "head_dim"),
        rope_dim=_req(d, "qk_rope_head_dim"), q_lora_rank=_req(d, "q_lora_rank"),
        o_groups=_req(d, "o_groups"), o_lora_rank=_req(d, "o_lora_rank"),
        n_routed=_req(d, "n_routed_experts"), n_shared=int(d.get("n_shared_experts", 1) or 0),
        moe_inter=_req(d, "moe_intermediate_size"), n_activated=_req(d, "num_experts_per_tok"),
        scoring_func=str(d.get("scoring_func", "sqrtsoftplus")),
        route_scale=float(d.get("routed_scaling_factor", 1.0)),
        swiglu_limit=float(d.get("swiglu_limit", 0.0) or 0.0),
        eps=float(d.get("rms_norm_eps", 1e-6)), window=_req(d, "sliding_window"),
        compress_ratios=list(ratios), compress_rope_theta=float(_req(d, "compress_rope_theta", float)),
        rope_theta=float(d.get("rope_theta", 10000.0)), yarn=yarn,
        index_n_heads=_req(d, "index_n_heads"), index_head_dim=_req(d, "index_head_dim"),
        index_topk=_req(d, "index_topk"), hc_mult=_req(d, "hc_mult"),
        hc_iters=_req(d, "hc_sinkhorn_iters"), hc_eps=_req(d, "hc_eps", float),
        weight_block=tuple(int(b) for b in (quant.get("weight_block_size") or (128, 128))),
        pow2_scales=quant.get("scale_fmt", "ue8m0") == "ue8m0",
        tie_word_embeddings=bool(d.get("tie_word_embeddings", False)), raw=d)

    def bad(msg):
        raise ConfigError("config.json: " + msg)
    if len(cfg.compress_ratios) < cfg.n_layers:
        bad(f"compress_ratios has {len(cfg.compress_ratios)} entries, num_hidden_layers is {cfg.n_layers}")
    if cfg.rope_dim % 2 or not 0 < cfg.rope_dim < cfg.head_dim:
        bad("qk_rope_head_dim must be even and smaller than head_dim")
    if (cfg.head_dim - cfg.rope_dim) % KV_FP8_BLOCK:
        bad(f"head_dim - qk_rope_head_dim must be a multiple of {KV_FP8_BLOCK} (FP8 key blocks)")
    if (cfg.n_heads * cfg.head_dim) % cfg.o_groups:
        bad("num_attention_heads * head_dim must be divisible by o_groups")
    if CSA_RATIO in cfg.compress_ratios:
        ih = cfg.index_head_dim
        if ih & (ih - 1) or ih % FP4_ACT_BLOCK or ih <= cfg.rope_dim:
            bad(f"index_head_dim must be a power of two, a multiple of {FP4_ACT_BLOCK} and > qk_rope_head_dim")
    if cfg.scoring_func not in ("sqrtsoftplus", "sigmoid", "softmax"):
        bad(f"scoring_func {cfg.scoring_func!r} not supported")
    if not 1 <= cfg.n_activated <= cfg.n_routed:
        bad("num_experts_per_tok must be in [1, n_routed_experts]")
    if cfg.window < 1 or cfg.hc_mult < 1 or cfg.index_topk < 1:
        bad("sliding_window, hc_mult and index_topk must be >= 1")
    if len(cfg.weight_block) != 2 or min(cfg.weight_block) <= 0:
        bad("quantization_config.weight_block_size must be two positive ints")
    return cfg


def load_v4_config(model_dir: str) -> V4Config:
    path = os.path.join(model_dir, "config.json")
    try:
        with open(path, "r", encoding="utf-8") as f:
            d = json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: invalid JSON: {e}") from e
    return parse_v4_config(d)


# ---------------------------------------------------------------------------
# Weights (released layout, no "model." prefix)
# ---------------------------------------------------------------------------

class V4Weights:
    """Read and dequantise V4 tensors to float64.

    `<p>.weight` F8_E4M3 + `<p>.scale` F8_E8M0 [ceil(out/b0), ceil(in/b1)]  (b = weight_block_size)
    `<p>.weight` I8 (packed FP4, [out, in/2]) + `<p>.scale` F8_E8M0 [out, in/B]  (B = in / cols, 32)
    anything else (BF16, F32): plain. src is a folder or a dict name -> array (tests; a dict
    entry counts as quantised when its name is in `quantized`)."""

    def __init__(self, src, block=(128, 128), quantized=()):
        self.block = tuple(block)
        self.dict = src if isinstance(src, dict) else None
        self.ck = None if self.dict is not None else Checkpoint(src, self.block)
        self.quantized_names = set(quantized)
        self._cache = {}

    def has(self, name):
        return name in self.dict if self.dict is not None else self.ck.has(name)

    def _raw(self, name):
        if self.dict is not None:
            if name not in self.dict:
                raise CheckpointError(f"missing tensor {name}")
            return "F64", np.asarray(self.dict[name], dtype=np.float64)
        return self.ck.raw(name)

    def tensor(self, name, shape=None):
        """A plain tensor as float64 (norms, hc parameters, ape, gate, sink, embeddings)."""
        if name not in self._cache:
            dtype, arr = self._raw(name)
            if dtype in ("F8_E4M3", "I8", "U8"):
                raise CheckpointError(f"{name}: expected a plain float tensor, found {dtype}")
            self._cache[name] = to_float64(dtype, arr)
        t = self._cache[name]
        if shape is not None and list(t.shape) != list(shape):
            raise CheckpointError(f"tensor {name}: expected shape {list(shape)}, found {list(t.shape)}")
        return t

    def int_table(self, name, shape):
        dtype, arr = self._raw(name)
        if list(arr.shape) != list(shape):
            raise CheckpointError(f"tensor {name}: expected shape {list(shape)}, found {list(arr.shape)}")
        if dtype not in ("I64", "I32", "F64"):
            raise CheckpointError(f"{name}: expected I64 or I32, found {dtype}")
        return np.asarray(arr).astype(np.int64)

    def matrix(self, prefix, out_dim, in_dim):
        """(W float64 [out, in], stored quantised?) for `<prefix>.weight`."""
        key = prefix + ".weight"
        if key in self._cache:
            return self._cache[key]
        dtype, arr = self._raw(key)
        sname = prefix + ".scale"
        if dtype == "F8_E4M3":
            sdt, sarr = self._raw(sname)
            scale = to_float64(sdt, sarr)
            w = dequant_blockwise(to_float64(dtype, arr), scale, self.block, key)
            quant = True
        elif dtype in ("I8", "U8"):
            if arr.ndim != 2 or arr.shape[0] != out_dim or 2 * arr.shape[1] != in_dim:
                raise CheckpointError(f"{key}: packed FP4 must be [{out_dim}, {in_dim // 2}], found {list(arr.shape)}")
            sdt, sarr = self._raw(sname)
            scale = to_float64(sdt, sarr)
            if scale.ndim != 2 or scale.shape[0] != out_dim or in_dim % scale.shape[1]:
                raise CheckpointError(f"{sname}: expected [{out_dim}, {in_dim}/block], found {list(scale.shape)}")
            w = decode_fp4_packed(arr) * np.repeat(scale, in_dim // scale.shape[1], axis=1)
            quant = True
        else:
            if self.has(sname):
                raise CheckpointError(f"{sname} present but {key} is {dtype}")
            w = to_float64(dtype, arr)
            quant = key in self.quantized_names
        if list(w.shape) != [out_dim, in_dim]:
            raise CheckpointError(f"tensor {key}: expected shape {[out_dim, in_dim]}, found {list(w.shape)}")
        if np.isnan(w).any():
            raise CheckpointError(f"{key}: NaN after dequantisation (bad code or scale)")
        self._cache[key] = (w, quant)
        return self._cache[key]


@dataclass
class Options:
    act_quant: bool = False         # simulate FP8 activations in front of FP8/FP4 GEMMs
    initial_release: bool = False   # numerics of the initial V4-Flash upload (see README.md)


class Model:
    """Config + weights + options; the weight accessors used by both formulations."""

    def __init__(self, cfg: V4Config, w: V4Weights, opts: Optional[Options] = None):
        self.cfg, self.w, self.opts = cfg, w, opts or Options()

    def lin(self, prefix, x, out_dim, act_quant=True):
        """x @ W^T. With --act-quant, x is FP8-quantised (blocks of 128 along K) when W is
        stored FP8/FP4, as the official fp8_gemm / fp4_gemm inputs are."""
        W, quant = self.w.matrix(prefix, out_dim, x.shape[-1])
        if quant and act_quant and self.opts.act_quant:
            x = fake_quant(x, GEMM_ACT_BLOCK, "e4m3", self.cfg.pow2_scales)
        return x @ W.T

    def t(self, name, shape=None):
        return self.w.tensor(name, shape)

    def norm(self, name, x):
        return rms_norm(x, self.t(name, (x.shape[-1],)), self.cfg.eps)

    def kv_quant(self, rows, label=None, positions=None):
        """FP8 simulation of the non-RoPE dims of key / compressed rows (in place on a copy)."""
        rd = self.cfg.rope_dim
        out = rows.copy()
        if not self.opts.initial_release:     # the initial kernel rounded to bf16 instead
            out[..., :-rd] = fake_quant(rows[..., :-rd], KV_FP8_BLOCK, "e4m3", self.cfg.pow2_scales, label, positions)
        return out


# ---------------------------------------------------------------------------
# RoPE
# ---------------------------------------------------------------------------

def inv_freq(cfg: V4Config, ratio: int) -> np.ndarray:
    """Per-pair frequencies of a layer: window-only layers use rope_theta without YaRN;
    compressed layers (and their indexer) use compress_rope_theta with YaRN when
    rope_scaling is set. No mscale: cos/sin and the softmax scale are not changed."""
    d = cfg.rope_dim
    base = cfg.compress_rope_theta if ratio else cfg.rope_theta
    f = 1.0 / (base ** (np.arange(0, d, 2, dtype=np.float64) / d))
    if ratio and cfg.yarn is not None:
        y = cfg.yarn
        low, high = yarn_correction_range(y["beta_fast"], y["beta_slow"], d, base, y["original"])
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(d // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
        f = f / y["factor"] * ramp + f * (1.0 - ramp)
    return f


def rope_tail(x, positions, freqs, inverse=False):
    """Rotate the last rope_dim dims (interleaved pairs) of x [T, ..., d] at positions [T]."""
    rd = 2 * freqs.shape[0]
    out = x.copy()
    pos = -np.asarray(positions) if inverse else np.asarray(positions)
    out[..., -rd:] = apply_rope_interleaved(x[..., -rd:], pos, freqs)
    return out


# ---------------------------------------------------------------------------
# mHC (manifold-constrained hyper-connections)
# ---------------------------------------------------------------------------

def sinkhorn(logits, iters, eps):
    """Row softmax + eps, then a column normalisation, then (iters - 1) x (row, column)
    normalisations, each dividing by (sum + eps). logits [..., hc, hc], [source j, target k]."""
    c = softmax(logits, axis=-1) + eps
    c = c / (c.sum(axis=-2, keepdims=True) + eps)
    for _ in range(iters - 1):
        c = c / (c.sum(axis=-1, keepdims=True) + eps)
        c = c / (c.sum(axis=-2, keepdims=True) + eps)
    return c


def _hc_mixes(cfg, h, fn):
    flat = h.reshape(h.shape[0], -1)                      # [T, hc * dim]
    r = 1.0 / np.sqrt(np.mean(flat * flat, axis=-1, keepdims=True) + cfg.eps)
    return (flat @ fn.T) * r


def hc_pre(m: Model, p, which, h):
    """Collapse the streams h [T, hc, dim] for a sub-block. Returns (x [T, dim], post, comb)."""
    cfg, hc = m.cfg, m.cfg.hc_mult
    mix = (2 + hc) * hc
    fn = m.t(f"{p}.hc_{which}_fn", (mix, hc * cfg.dim))
    scale = m.t(f"{p}.hc_{which}_scale", (3,))
    base = m.t(f"{p}.hc_{which}_base", (mix,))
    z = _hc_mixes(cfg, h, fn)
    pre = sigmoid(z[:, :hc] * scale[0] + base[:hc]) + cfg.hc_eps
    post = 2.0 * sigmoid(z[:, hc:2 * hc] * scale[1] + base[hc:2 * hc])
    comb = sinkhorn((z[:, 2 * hc:] * scale[2] + base[2 * hc:]).reshape(-1, hc, hc), cfg.hc_iters, cfg.hc_eps)
    return np.einsum("tj,tjd->td", pre, h), post, comb


def hc_post(f, residual, post, comb):
    """Expand a sub-block output f [T, dim]: out[k] = post[k] f + sum_j comb[j, k] residual[j]."""
    return post[:, :, None] * f[:, None, :] + np.einsum("tjk,tjd->tkd", comb, residual)


def hc_head_logits(m: Model, p, h):
    """Final collapse (sigmoid weights, no Sinkhorn), RMSNorm, LM head. p = '' or 'mtp.0.'."""
    cfg, hc = m.cfg, m.cfg.hc_mult
    fn = m.t(f"{p}hc_head_fn", (hc, hc * cfg.dim))
    scale = m.t(f"{p}hc_head_scale", (1,))
    base = m.t(f"{p}hc_head_base", (hc,))
    pre = sigmoid(_hc_mixes(cfg, h, fn) * scale[0] + base) + cfg.hc_eps
    x = m.norm(f"{p}norm.weight", np.einsum("tj,tjd->td", pre, h))
    head = m.t("embed.weight" if cfg.tie_word_embeddings else "head.weight", (cfg.vocab_size, cfg.dim))
    return x @ head.T


# ---------------------------------------------------------------------------
# MoE
# ---------------------------------------------------------------------------

def route(m: Model, p, layer, x, tokens):
    """Expert ids [T, k] and weights [T, k]. Hash layers (layer < num_hash_layers) take the
    ids from tid2eid[token]; the others take the top-k of score + bias (ties: lower id).
    Weights are always the unbiased scores, normalised to sum 1 unless scoring is softmax,
    times routed_scaling_factor."""
    cfg = m.cfg
    logits = x @ m.t(p + ".gate.weight", (cfg.n_routed, cfg.dim)).T
    if cfg.scoring_func == "softmax":
        scores = softmax(logits, axis=-1)
    elif cfg.scoring_func == "sigmoid":
        scores = sigmoid(logits)
    else:
        scores = np.sqrt(np.logaddexp(0.0, logits))           # sqrt(softplus)
    if layer < cfg.n_hash_layers:
        table = m.w.int_table(p + ".gate.tid2eid", (cfg.vocab_size, cfg.n_activated))
        ids = table[np.asarray(tokens)]
        if ids.min() < 0 or ids.max() >= cfg.n_routed:
            raise CheckpointError(f"{p}.gate.tid2eid: expert id outside [0, {cfg.n_routed})")
    else:
        choice = scores + m.t(p + ".gate.bias", (cfg.n_routed,))
        ids = np.stack([_topk_desc(c, cfg.n_activated) for c in choice])
    wts = np.take_along_axis(scores, ids, axis=1)
    if cfg.scoring_func != "softmax":
        wts = wts / wts.sum(axis=1, keepdims=True)
    return ids, wts * cfg.route_scale


def swiglu_expert(m: Model, p, x, width, clamp, weight=None):
    """w2((silu(min(w1 x, L)) * clip(w3 x, -L, L)) * weight); clamps only when L > 0."""
    g = m.lin(p + ".w1", x, width)
    u = m.lin(p + ".w3", x, width)
    L = m.cfg.swiglu_limit
    if clamp and L > 0:
        u = np.clip(u, -L, L)
        g = np.minimum(g, L)
    hmid = silu(g) * u
    if weight is not None:
        hmid = hmid * weight
    return m.lin(p + ".w2", hmid, x.shape[-1])


def moe(m: Model, p, layer, x, tokens):
    cfg = m.cfg
    ids, wts = route(m, p, layer, x, tokens)
    y = np.zeros_like(x)
    for e in np.unique(ids):
        rows, slot = np.nonzero(ids == e)
        y[rows] += swiglu_expert(m, f"{p}.experts.{int(e)}", x[rows], cfg.moe_inter, True, wts[rows, slot][:, None])
    if cfg.n_shared:
        # the initial release did not clamp the shared expert; the current one does
        y += swiglu_expert(m, p + ".shared_experts", x, cfg.n_shared * cfg.moe_inter, not m.opts.initial_release)
    return y


# ---------------------------------------------------------------------------
# Attention pieces shared by both formulations
# ---------------------------------------------------------------------------

def attn_inputs(m: Model, p, x, positions, freqs):
    """(qr, q [T, H, hd] normalised and rotated, kv [T, hd] normalised, rotated, FP8-simulated)."""
    cfg = m.cfg
    qr = m.norm(p + ".q_norm.weight", m.lin(p + ".wq_a", x, cfg.q_lora_rank))
    q = m.lin(p + ".wq_b", qr, cfg.n_heads * cfg.head_dim).reshape(-1, cfg.n_heads, cfg.head_dim)
    q = q / np.sqrt(np.mean(q * q, axis=-1, keepdims=True) + cfg.eps)      # per-head RMS, no weight
    q = rope_tail(q, positions, freqs)
    kv = m.norm(p + ".kv_norm.weight", m.lin(p + ".wkv", x, cfg.head_dim))
    kv = m.kv_quant(rope_tail(kv, positions, freqs), p + " key", positions)
    return qr, q, kv


def finish_compressed(m: Model, p, pooled, positions, freqs, rotate):
    """RMSNorm, RoPE at the block's first position, then FP8 (main compressor) or
    Hadamard + FP4 (indexer compressor)."""
    y = rope_tail(m.norm(p + ".norm.weight", pooled), positions, freqs)
    if rotate:
        return fake_quant(hadamard(y), FP4_ACT_BLOCK, "e2m1", label=p + " indexer key", positions=positions)
    return m.kv_quant(y, p + " compressed row", positions)


def compressor_proj(m: Model, p, x, ratio, d, positions):
    """Per-token (kv, score + ape[pos % ratio]) of a compressor, [T, coff * d] each
    (coff = 2 for the overlapping ratio-4 compressor). The official compressor runs these
    projections in float32 from BF16 weights, without activation quantisation."""
    coff = 2 if ratio == CSA_RATIO else 1
    ape = m.t(p + ".ape", (ratio, coff * d))
    kv = m.lin(p + ".wkv", x, coff * d, act_quant=False)
    sc = m.lin(p + ".wgate", x, coff * d, act_quant=False) + ape[np.asarray(positions) % ratio]
    return kv, sc


def index_query(m: Model, p, qr, x, positions, freqs):
    """Indexer queries [T, nh, ihd] (RoPE, Hadamard, FP4) and head weights [T, nh]."""
    cfg = m.cfg
    nh, ihd = cfg.index_n_heads, cfg.index_head_dim
    q = m.lin(p + ".wq_b", qr, nh * ihd).reshape(-1, nh, ihd)
    q = fake_quant(hadamard(rope_tail(q, positions, freqs)), FP4_ACT_BLOCK, "e2m1", label=p + " query",
                   positions=positions)
    hw = m.lin(p + ".weights_proj", x, nh, act_quant=False) * (ihd ** -0.5 * nh ** -0.5)
    return q, hw


def index_scores(q, hw, keys):
    """score[s, t] = sum_h relu(q[s, h] . keys[t]) * hw[s, h]."""
    return np.einsum("sht,sh->st", np.maximum(np.einsum("shd,td->sht", q, keys), 0.0), hw)


def sink_attention(q, rows, visible, sink, scale):
    """q [T, H, d], rows [N, d] (K = V), visible [T, N] bool, sink [H]:
    o = sum_n e^(l_n - m) row_n / (sum_n e^(l_n - m) + e^(sink - m))."""
    logits = np.einsum("thd,nd->thn", q, rows) * scale
    logits = np.where(visible[:, None, :], logits, -np.inf)
    mx = np.maximum(logits.max(axis=-1), sink[None, :])
    e = np.exp(logits - mx[..., None])
    den = e.sum(axis=-1) + np.exp(sink[None, :] - mx)
    return np.einsum("thn,nd->thd", e, rows) / den[..., None]


def attn_output(m: Model, p, o, positions, freqs):
    """Undo RoPE on the output's rope dims (at the query position), grouped low-rank wo_a
    per group of heads (BF16 in the official code: no activation quantisation), then wo_b."""
    cfg = m.cfg
    o = rope_tail(o, positions, freqs, inverse=True)
    T, G = o.shape[0], cfg.o_groups
    per = cfg.n_heads * cfg.head_dim // G
    wo_a, _ = m.w.matrix(p + ".wo_a", G * cfg.o_lora_rank, per)
    r = np.einsum("tgd,grd->tgr", o.reshape(T, G, per), wo_a.reshape(G, cfg.o_lora_rank, per))
    return m.lin(p + ".wo_b", r.reshape(T, G * cfg.o_lora_rank), cfg.dim)


# ---------------------------------------------------------------------------
# Formulation 1: all positions at once, from the definitions
# ---------------------------------------------------------------------------

def compress_all(m: Model, p, x, ratio, d, rotate, freqs):
    """Compressed rows [T // ratio, d]. Row b pools positions [b*ratio, (b+1)*ratio): a
    per-dimension softmax of score + ape over the block's tokens weights their kv. With
    ratio 4 (overlap) the pool also covers the previous block: its tokens contribute the
    first half of their 2d projections, the current block's tokens the second half
    (block 0 has no previous block)."""
    T = x.shape[0]
    nb = T // ratio
    if nb == 0:
        return np.zeros((0, d))
    kv, sc = compressor_proj(m, p, x, ratio, d, np.arange(T))
    kv = kv[:nb * ratio].reshape(nb, ratio, kv.shape[1])
    sc = sc[:nb * ratio].reshape(nb, ratio, sc.shape[1])
    if ratio == CSA_RATIO:
        prev_kv = np.zeros((nb, ratio, d))
        prev_sc = np.full((nb, ratio, d), -np.inf)
        prev_kv[1:], prev_sc[1:] = kv[:-1, :, :d], sc[:-1, :, :d]
        kv = np.concatenate([prev_kv, kv[:, :, d:]], axis=1)
        sc = np.concatenate([prev_sc, sc[:, :, d:]], axis=1)
    pooled = (kv * softmax(sc, axis=1)).sum(axis=1)
    return finish_compressed(m, p, pooled, np.arange(nb) * ratio, freqs, rotate)


def select_topk(scores, valid, k):
    """Boolean [T, N]: per row, the min(k, #valid) best valid entries (ties: lower index)."""
    sel = np.zeros_like(valid)
    for s in range(scores.shape[0]):
        idx = np.nonzero(valid[s])[0]
        if idx.size:
            sel[s, idx[_topk_desc(scores[s, idx], min(k, idx.size))]] = True
    return sel


def attention_all(m: Model, p, ratio, x, freqs):
    cfg = m.cfg
    T = x.shape[0]
    pos = np.arange(T)
    qr, q, kv = attn_inputs(m, p, x, pos, freqs)
    s, t = pos[:, None], pos[None, :]
    visible = (t <= s) & (t > s - cfg.window)                      # sliding window of raw rows
    rows = kv
    if ratio:
        comp = compress_all(m, p + ".compressor", x, ratio, cfg.head_dim, False, freqs)
        nb = comp.shape[0]
        ready = np.arange(nb)[None, :] < (pos[:, None] + 1) // ratio  # block complete at s
        if ratio == CSA_RATIO:
            iq, hw = index_query(m, p + ".indexer", qr, x, pos, freqs)
            keys = compress_all(m, p + ".indexer.compressor", x, ratio, cfg.index_head_dim, True, freqs)
            ready = select_topk(index_scores(iq, hw, keys), ready, cfg.index_topk)
        rows = np.concatenate([kv, comp], axis=0)
        visible = np.concatenate([visible, ready], axis=1)
    sink = m.t(p + ".attn_sink", (cfg.n_heads,))
    o = sink_attention(q, rows, visible, sink, cfg.head_dim ** -0.5)
    return attn_output(m, p, o, pos, freqs)


def block_all(m: Model, p, layer, h, tokens):
    cfg = m.cfg
    ratio = cfg.ratio(layer)
    freqs = inv_freq(cfg, ratio)
    x, post, comb = hc_pre(m, p, "attn", h)
    a = attention_all(m, p + ".attn", ratio, m.norm(p + ".attn_norm.weight", x), freqs)
    h = hc_post(a, h, post, comb)
    x, post, comb = hc_pre(m, p, "ffn", h)
    f = moe(m, p + ".ffn", layer, m.norm(p + ".ffn_norm.weight", x), tokens)
    return hc_post(f, h, post, comb)


def check_tokens(cfg, tokens):
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 1 or tokens.size == 0:
        raise ValueError("need a non-empty 1-D token list")
    bad = tokens[(tokens < 0) | (tokens >= cfg.vocab_size)]
    if bad.size:
        raise ValueError(f"token id {int(bad[0])} outside [0, {cfg.vocab_size})")
    return tokens


def forward(m: Model, tokens):
    """(logits [T, vocab], final streams [T, hc, dim]) for the whole sequence."""
    cfg = m.cfg
    tokens = check_tokens(cfg, tokens)
    h = m.t("embed.weight", (cfg.vocab_size, cfg.dim))[tokens]
    h = np.repeat(h[:, None, :], cfg.hc_mult, axis=1)
    for i in range(cfg.n_layers):
        h = block_all(m, f"layers.{i}", i, h, tokens)
    return hc_head_logits(m, "", h), h


def mtp_inputs(m: Model, h, next_tokens):
    """MTP block input streams: e_proj(enorm(embed(token i+1))) + h_proj(hnorm(h_i))."""
    cfg = m.cfg
    e = m.norm("mtp.0.enorm.weight", m.t("embed.weight", (cfg.vocab_size, cfg.dim))[next_tokens])
    return m.lin("mtp.0.e_proj", e, cfg.dim)[:, None, :] + m.lin("mtp.0.h_proj", m.norm("mtp.0.hnorm.weight", h), cfg.dim)


def mtp_forward(m: Model, tokens, h):
    """MTP logits [T - 1, vocab]: row i from streams h[i] and token i + 1. The MTP block is
    layer index num_hidden_layers (its compress ratio is compress_ratios[num_hidden_layers])
    and shares embed.weight / head.weight."""
    cfg = m.cfg
    if cfg.n_mtp_layers < 1:
        raise ConfigError("config.json: num_nextn_predict_layers is 0, the model has no MTP layer")
    if len(cfg.compress_ratios) <= cfg.n_layers:
        raise ConfigError("config.json: compress_ratios has no entry for the MTP layer")
    tokens = check_tokens(cfg, tokens)
    if tokens.size < 2:
        return np.zeros((0, cfg.vocab_size))
    nxt = tokens[1:]
    z = block_all(m, "mtp.0", cfg.n_layers, mtp_inputs(m, h[:-1], nxt), nxt)
    return hc_head_logits(m, "mtp.0.", z)


# ---------------------------------------------------------------------------
# Formulation 2: one token at a time with carried state
# ---------------------------------------------------------------------------

class CompressorState:
    """Partial-block state of one compressor. For ratio 4 the 2*ratio slots hold the
    previous block (first half of the dims used) and the current block (second half)."""

    def __init__(self, ratio, d):
        coff = 2 if ratio == CSA_RATIO else 1
        self.ratio, self.d = ratio, d
        self.kv = np.zeros((coff * ratio, coff * d))
        self.sc = np.full((coff * ratio, coff * d), -np.inf)
        self.rows = []                 # finished compressed rows, in block order

    def push(self, m: Model, p, x1, pos, rotate, freqs):
        """Add the token at `pos`; emits a row when its block completes."""
        r, d = self.ratio, self.d
        kv, sc = compressor_proj(m, p, x1, r, d, [pos])
        overlap = r == CSA_RATIO
        slot = (r if overlap else 0) + pos % r
        self.kv[slot], self.sc[slot] = kv[0], sc[0]
        if (pos + 1) % r:
            return
        if overlap:
            K = np.concatenate([self.kv[:r, :d], self.kv[r:, d:]], axis=0)
            S = np.concatenate([self.sc[:r, :d], self.sc[r:, d:]], axis=0)
            self.kv[:r], self.sc[:r] = self.kv[r:].copy(), self.sc[r:].copy()
        else:
            K, S = self.kv, self.sc
        pooled = (K * softmax(S, axis=0)).sum(axis=0)
        self.rows.append(finish_compressed(m, p, pooled[None], [pos + 1 - r], freqs, rotate)[0])


class V4Decoder:
    """Incremental decoding: step(token) -> logits [vocab] of the next position."""

    def __init__(self, m: Model):
        self.m, self.pos, self.tokens = m, 0, []
        cfg = m.cfg
        self.kv = [[] for _ in range(cfg.n_layers)]   # raw key rows per layer (window = last rows)
        self.comp, self.icomp = [], []
        for i in range(cfg.n_layers):
            r = cfg.ratio(i)
            self.comp.append(CompressorState(r, cfg.head_dim) if r else None)
            self.icomp.append(CompressorState(r, cfg.index_head_dim) if r == CSA_RATIO else None)

    def _attention(self, li, p, x1):
        m, cfg, pos = self.m, self.m.cfg, self.pos
        ratio = cfg.ratio(li)
        freqs = inv_freq(cfg, ratio)
        qr, q, kv = attn_inputs(m, p, x1, [pos], freqs)
        self.kv[li].append(kv[0])
        rows = np.array(self.kv[li][-cfg.window:])
        if ratio:
            self.comp[li].push(m, p + ".compressor", x1, pos, False, freqs)
            comp = self.comp[li].rows
            if ratio == CSA_RATIO:
                self.icomp[li].push(m, p + ".indexer.compressor", x1, pos, True, freqs)
                keys = self.icomp[li].rows
                if keys:
                    iq, hw = index_query(m, p + ".indexer", qr, x1, [pos], freqs)
                    sc = index_scores(iq, hw, np.array(keys))[0]
                    comp = [comp[j] for j in sorted(_topk_desc(sc, min(cfg.index_topk, len(keys))))]
            if comp:
                rows = np.concatenate([rows, np.array(comp)], axis=0)
        sink = m.t(p + ".attn_sink", (cfg.n_heads,))
        o = sink_attention(q, rows, np.ones((1, rows.shape[0]), bool), sink, cfg.head_dim ** -0.5)
        return attn_output(m, p, o, [pos], freqs)

    def _block(self, li, p, h, token):
        m = self.m
        x, post, comb = hc_pre(m, p, "attn", h)
        a = self._attention(li, p + ".attn", m.norm(p + ".attn_norm.weight", x))
        h = hc_post(a, h, post, comb)
        x, post, comb = hc_pre(m, p, "ffn", h)
        f = moe(m, p + ".ffn", li, m.norm(p + ".ffn_norm.weight", x), [token])
        return hc_post(f, h, post, comb)

    def step(self, token):
        m, cfg = self.m, self.m.cfg
        token = int(check_tokens(cfg, [token])[0])
        h = m.t("embed.weight", (cfg.vocab_size, cfg.dim))[[token]]
        h = np.repeat(h[:, None, :], cfg.hc_mult, axis=1)
        for i in range(cfg.n_layers):
            h = self._block(i, f"layers.{i}", h, token)
        self.last_streams = h
        self.tokens.append(token)
        self.pos += 1
        return hc_head_logits(m, "", h)[0]


def forward_incremental(m: Model, tokens):
    d = V4Decoder(m)
    return np.stack([d.step(t) for t in tokens])


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

def run(m: Model, tokens, n_decode=0, incremental=False, mtp=False):
    """Prompt + n_decode greedy steps. Returns (logits, all tokens, mtp logits or None)."""
    seq = [int(t) for t in tokens]
    if incremental:
        dec = V4Decoder(m)
        rows = [dec.step(t) for t in seq]
        for _ in range(n_decode):
            seq.append(int(np.argmax(rows[-1])))
            rows.append(dec.step(seq[-1]))
        logits = np.stack(rows)
        h = None
    else:
        for _ in range(n_decode):
            logits, _ = forward(m, seq)
            seq.append(int(np.argmax(logits[-1])))
        logits, h = forward(m, seq)
    mtp_logits = None
    if mtp:
        if h is None:
            _, h = forward(m, seq)
        mtp_logits = mtp_forward(m, seq, h)
    return logits, seq, mtp_logits


def add_arguments(ap):
    ap.add_argument("--mtp-out", help="V4: also write the MTP layer's logits [positions - 1, vocab] here")
    ap.add_argument("--incremental", action="store_true",
                    help="V4: compute every row by one-token steps with carried state")
    ap.add_argument("--act-quant", action="store_true",
                    help="V4: simulate FP8 activation quantisation in front of FP8/FP4 weights")
    ap.add_argument("--initial-release", action="store_true",
                    help="V4: numerics of the initial V4-Flash upload (no FP8 key rounding, unclamped shared expert)")
    ap.add_argument("--margins", type=int, default=0, metavar="N",
                    help="V4: print the N FP8/FP4 roundings closest to a tie (v4_formats.MARGINS), so that a "
                         "float32 engine's departure at one position can be told from a bug")
    ap.add_argument("--flip", action="append", default=[], metavar="LABEL@POSITION#ELEMENT",
                    help="V4: take that rounding (as --margins names it) to the code on the other side of its tie")


def run_cli(args, tokens) -> int:
    """Called by main() here and by deepseek_ref.main for deepseek_v4 folders."""
    margins = getattr(args, "margins", 0)
    if margins:
        v4_formats.MARGINS = []
    flips = set()
    for spec in getattr(args, "flip", []):
        label, _, rest = spec.rpartition("@")
        position, _, element = rest.partition("#")
        flips.add((label, int(position), int(element)))
    v4_formats.FLIPS = frozenset(flips)
    try:
        cfg = load_v4_config(args.model)
        w = V4Weights(args.model, cfg.weight_block)
        m = Model(cfg, w, Options(act_quant=args.act_quant, initial_release=args.initial_release))
        logits, seq, mtp_logits = run(m, tokens, args.decode, args.incremental, bool(args.mtp_out))
    except (ConfigError, CheckpointError, ValueError) as e:
        print(f"deepseek_v4_ref: error: {e}", file=sys.stderr)
        return 1
    np.save(args.out, logits.astype(np.float32))
    if args.mtp_out:
        np.save(args.mtp_out, mtp_logits.astype(np.float32))
    if margins:
        closest = {}  # the non-incremental run recomputes rows: one entry per rounding
        for margin, label, position, element in v4_formats.MARGINS:
            key = (label, position, element)
            closest[key] = min(margin, closest.get(key, np.inf))
        for (label, position, element), margin in sorted(closest.items(), key=lambda item: item[1])[:margins]:
            what = "scale" if element < 0 else f"{label}@{position}#{element}"
            print(f"deepseek_v4_ref: rounding margin {margin:.2e} at position {position}: {what}"
                  f"{' of ' + label if element < 0 else ''}", file=sys.stderr)
    print(f"deepseek_v4_ref: {len(seq)} positions, tokens {','.join(map(str, seq))} -> {args.out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    from deepseek_ref import parse_cli
    args, tokens, rc = parse_cli(argv, "deepseek_v4_ref")
    if rc is not None:
        return rc
    return run_cli(args, tokens)


if __name__ == "__main__":
    sys.exit(main())
