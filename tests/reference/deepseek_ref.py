#!/usr/bin/python3
"""Independent float64 numpy reference for DeepSeek-architecture models (the dsinfer oracle).

    /usr/bin/python3 tests/reference/deepseek_ref.py --model DIR --tokens 3,17,42 [--decode N] --out FILE.npy

Reads a Hugging Face model folder (config.json + safetensors), runs the full causal
forward pass over the tokens in float64 and writes float32 logits of shape
[len(tokens) + N, vocab_size], one row per position. With --decode N, N greedy steps
follow: each appends the argmax of the previous last row (and re-runs the whole
forward pass; the models this is meant for are tiny).

Written from the model facts (shared/MODEL-NOTES.md, the HF modeling_deepseek.py of
DeepSeek-V2/V3 and the official DeepSeek-V3 inference/model.py), never from the C++
engine. Deliberately slow and obvious: naive (non-absorbed) MLA, per-token MoE.

Model types: deepseek_v2, deepseek_v3, kimi_k2 (= deepseek_v3), deepseek_v32 (V3 plus the
lightning indexer, deepseek_v32_ref.py); deepseek_v4 folders are handed to deepseek_v4_ref.py.
Points where the sources disagree, and what is done here (README.md has the list):
  * q_a_layernorm and kv_a_layernorm use eps 1e-6, not rms_norm_eps: the HF code
    builds them with the RMSNorm default (the official code uses 1e-6 everywhere).
    Every published config has rms_norm_eps = 1e-6, so they only differ on fixtures.
  * noaux_tc masks the dropped groups with -inf (official inference/model.py); the HF
    code fills them with 0.0, which differs only if a kept biased score is negative.
  * weight normalisation follows the HF MoEGate: divide only when top_k > 1 and
    norm_topk_prob (both V2 and V3 code test top_k > 1).
  * YaRN is applied whenever rope_scaling.type == "yarn" (HF); the official code only
    applies it when max_seq_len > original_seq_len.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import Checkpoint, CheckpointError  # noqa: E402

LATENT_NORM_EPS = 1e-6   # eps of q_a_layernorm / kv_a_layernorm (HF: RMSNorm default)
SUPPORTED_MODEL_TYPES = ("deepseek_v2", "deepseek_v3", "kimi_k2", "deepseek_v32")


class ConfigError(Exception):
    pass


# ---------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------

@dataclass
class Config:
    model_type: str
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int            # dense MLP width
    q_lora_rank: Optional[int]        # None -> plain q_proj
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: Optional[dict]
    tie_word_embeddings: bool
    # MoE (n_routed_experts None -> every layer dense)
    n_routed_experts: Optional[int]
    n_shared_experts: int             # 0 -> no shared experts
    moe_intermediate_size: Optional[int]
    num_experts_per_tok: Optional[int]
    first_k_dense_replace: int
    moe_layer_freq: int
    topk_method: str
    scoring_func: str
    n_group: int
    topk_group: int
    norm_topk_prob: bool
    routed_scaling_factor: float
    weight_block_size: tuple = (128, 128)
    raw: dict = field(default_factory=dict)

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    def is_moe_layer(self, i: int) -> bool:
        return (self.n_routed_experts is not None
                and i >= self.first_k_dense_replace
                and i % self.moe_layer_freq == 0)

    @property
    def v3_style_routing(self) -> bool:
        return self.model_type in ("deepseek_v3", "kimi_k2", "deepseek_v32")


# HF configuration defaults for the routing fields, per model type (used only when
# config.json omits the field; every published config sets them all).
_ROUTING_DEFAULTS = {
    "deepseek_v2": dict(topk_method="greedy", scoring_func="softmax", n_group=None,
                        topk_group=None, norm_topk_prob=False, routed_scaling_factor=1.0,
                        n_shared_experts=None),
    "deepseek_v3": dict(topk_method="noaux_tc", scoring_func="sigmoid", n_group=8,
                        topk_group=4, norm_topk_prob=True, routed_scaling_factor=2.5,
                        n_shared_experts=1),
}
_ROUTING_DEFAULTS["kimi_k2"] = _ROUTING_DEFAULTS["deepseek_v3"]
_ROUTING_DEFAULTS["deepseek_v32"] = _ROUTING_DEFAULTS["deepseek_v3"]


def _req(d: dict, key: str, kind=int):
    if key not in d or d[key] is None:
        raise ConfigError(f"config.json: required field {key!r} is missing")
    try:
        return kind(d[key])
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config.json: field {key!r} = {d[key]!r} is not {kind.__name__}") from e


def parse_config(d: dict) -> Config:
    mt = d.get("model_type")
    if mt not in SUPPORTED_MODEL_TYPES:
        raise ConfigError(f"config.json: model_type {mt!r} not supported (supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
    act = d.get("hidden_act", "silu")
    if act != "silu":
        raise ConfigError(f"config.json: hidden_act {act!r} not supported (only silu)")
    defaults = _ROUTING_DEFAULTS[mt]

    def opt(key):
        v = d.get(key)
        return defaults.get(key) if v is None else v

    q_lora = d.get("q_lora_rank")
    q_lora = int(q_lora) if q_lora else None     # null or 0 -> plain q_proj
    n_routed = d.get("n_routed_experts")
    n_routed = int(n_routed) if n_routed else None
    n_shared = opt("n_shared_experts")
    quant = d.get("quantization_config") or {}
    block = tuple(quant.get("weight_block_size") or (128, 128))
    rope_scaling = d.get("rope_scaling")
    if rope_scaling is not None:
        kind = rope_scaling.get("type", rope_scaling.get("rope_type"))
        if kind != "yarn":
            raise ConfigError(f"config.json: rope_scaling type {kind!r} not supported (only yarn or null)")
        for k in ("factor", "original_max_position_embeddings"):
            if k not in rope_scaling:
                raise ConfigError(f"config.json: rope_scaling lacks {k!r}")

    cfg = Config(
        model_type=mt,
        vocab_size=_req(d, "vocab_size"),
        hidden_size=_req(d, "hidden_size"),
        num_hidden_layers=_req(d, "num_hidden_layers"),
        num_attention_heads=_req(d, "num_attention_heads"),
        intermediate_size=_req(d, "intermediate_size"),
        q_lora_rank=q_lora,
        kv_lora_rank=_req(d, "kv_lora_rank"),
        qk_nope_head_dim=_req(d, "qk_nope_head_dim"),
        qk_rope_head_dim=_req(d, "qk_rope_head_dim"),
        v_head_dim=_req(d, "v_head_dim"),
        rms_norm_eps=float(d.get("rms_norm_eps", 1e-6)),
        rope_theta=float(d.get("rope_theta", 10000.0)),
        rope_scaling=rope_scaling,
        tie_word_embeddings=bool(d.get("tie_word_embeddings", False)),
        n_routed_experts=n_routed,
        n_shared_experts=int(n_shared) if n_shared else 0,
        moe_intermediate_size=d.get("moe_intermediate_size"),
        num_experts_per_tok=d.get("num_experts_per_tok"),
        first_k_dense_replace=int(d.get("first_k_dense_replace", 0) or 0),
        moe_layer_freq=int(d.get("moe_layer_freq", 1) or 1),
        topk_method=str(opt("topk_method")),
        scoring_func=str(opt("scoring_func")),
        n_group=int(opt("n_group") or 1),
        topk_group=int(opt("topk_group") or 1),
        norm_topk_prob=bool(opt("norm_topk_prob")),
        routed_scaling_factor=float(opt("routed_scaling_factor")),
        weight_block_size=block,
        raw=d,
    )
    if cfg.topk_method == "gready":     # spelling in the original HF DeepSeek-V2 code
        cfg.topk_method = "greedy"
    if cfg.qk_rope_head_dim % 2:
        raise ConfigError("config.json: qk_rope_head_dim must be even")
    if cfg.n_routed_experts is not None:
        if cfg.moe_intermediate_size is None or cfg.num_experts_per_tok is None:
            raise ConfigError("config.json: MoE model needs moe_intermediate_size and num_experts_per_tok")
        cfg.moe_intermediate_size = int(cfg.moe_intermediate_size)
        cfg.num_experts_per_tok = int(cfg.num_experts_per_tok)
        if cfg.topk_method not in ("greedy", "group_limited_greedy", "noaux_tc"):
            raise ConfigError(f"config.json: topk_method {cfg.topk_method!r} not supported")
        if cfg.scoring_func not in ("softmax", "sigmoid"):
            raise ConfigError(f"config.json: scoring_func {cfg.scoring_func!r} not supported")
        if cfg.topk_method != "greedy":
            if cfg.n_routed_experts % cfg.n_group:
                raise ConfigError(f"config.json: n_routed_experts {cfg.n_routed_experts} not divisible by n_group {cfg.n_group}")
            if not 1 <= cfg.topk_group <= cfg.n_group:
                raise ConfigError(f"config.json: topk_group {cfg.topk_group} must be in [1, n_group={cfg.n_group}]")
            per_group = cfg.n_routed_experts // cfg.n_group
            if cfg.num_experts_per_tok > cfg.topk_group * per_group:
                raise ConfigError("config.json: num_experts_per_tok exceeds the experts in the kept groups")
        if not 1 <= cfg.num_experts_per_tok <= cfg.n_routed_experts:
            raise ConfigError("config.json: num_experts_per_tok must be in [1, n_routed_experts]")
    if mt == "deepseek_v32":
        from deepseek_v32_ref import check_indexer_config
        check_indexer_config(cfg)
    return cfg


def load_config(model_dir: str) -> Config:
    path = os.path.join(model_dir, "config.json")
    try:
        with open(path, "r", encoding="utf-8") as f:
            d = json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: invalid JSON: {e}") from e
    return parse_config(d)


# ---------------------------------------------------------------------------
# Weights access with shape checks
# ---------------------------------------------------------------------------

class DictWeights:
    """In-memory weights (name -> array), same interface as safetensors_np.Checkpoint."""

    def __init__(self, tensors: dict):
        self.tensors = tensors

    def has(self, name):
        return name in self.tensors

    def get(self, name):
        if name not in self.tensors:
            raise CheckpointError(f"missing tensor {name}")
        return np.asarray(self.tensors[name], dtype=np.float64)


def get_checked(w, name: str, shape) -> np.ndarray:
    t = w.get(name)
    if list(t.shape) != list(shape):
        raise CheckpointError(f"tensor {name}: expected shape {list(shape)}, found {list(t.shape)}")
    return t


def linear(w, name: str, x: np.ndarray, out_dim: int) -> np.ndarray:
    """y = x @ W^T (+ b if `<prefix>.bias` exists); W = `<prefix>.weight` of shape [out, in]."""
    W = get_checked(w, name + ".weight", (out_dim, x.shape[-1]))
    y = x @ W.T
    if w.has(name + ".bias"):
        y = y + get_checked(w, name + ".bias", (out_dim,))
    return y


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------

def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def softmax(x: np.ndarray, axis=-1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def swiglu(w, prefix: str, x: np.ndarray, width: int) -> np.ndarray:
    """down(silu(gate(x)) * up(x))."""
    g = linear(w, prefix + ".gate_proj", x, width)
    u = linear(w, prefix + ".up_proj", x, width)
    return linear(w, prefix + ".down_proj", silu(g) * u, x.shape[-1])


# ---------------------------------------------------------------------------
# RoPE / YaRN
# ---------------------------------------------------------------------------

def yarn_mscale(factor: float, m: float) -> float:
    """0.1 * m * ln(factor) + 1 for factor > 1, else 1 (HF yarn_get_mscale)."""
    if factor <= 1:
        return 1.0
    return 0.1 * m * math.log(factor) + 1.0


def yarn_correction_dim(num_rotations: float, dim: int, base: float, orig_max_pos: int) -> float:
    """The (fractional) rotary dim index whose wavelength makes num_rotations turns
    over orig_max_pos positions: dim * ln(L / (2 pi r)) / (2 ln base)."""
    return dim * math.log(orig_max_pos / (num_rotations * 2 * math.pi)) / (2 * math.log(base))


def yarn_correction_range(beta_fast, beta_slow, dim, base, orig_max_pos):
    low = math.floor(yarn_correction_dim(beta_fast, dim, base, orig_max_pos))
    high = math.ceil(yarn_correction_dim(beta_slow, dim, base, orig_max_pos))
    return max(low, 0), min(high, dim - 1)


def rope_params(cfg: Config):
    """(inv_freq [rope_dim/2], cos_sin_scale) for the rope part of q and k."""
    dim = cfg.qk_rope_head_dim
    base = cfg.rope_theta
    freq_extra = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))   # original
    rs = cfg.rope_scaling
    if rs is None:
        return freq_extra, 1.0
    factor = float(rs["factor"])
    freq_inter = freq_extra / factor                                             # interpolated
    low, high = yarn_correction_range(float(rs.get("beta_fast", 32)), float(rs.get("beta_slow", 1)),
                                      dim, base, int(rs["original_max_position_embeddings"]))
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    # ramp = 0 for the fast (high-frequency) dims -> keep the original frequency;
    # ramp = 1 for the slow dims -> interpolate (divide by factor).
    extra_mask = 1.0 - ramp
    inv_freq = freq_inter * (1.0 - extra_mask) + freq_extra * extra_mask
    cs = yarn_mscale(factor, float(rs.get("mscale", 1))) / yarn_mscale(factor, float(rs.get("mscale_all_dim", 0)))
    return inv_freq, cs


def softmax_scale(cfg: Config) -> float:
    s = cfg.qk_head_dim ** -0.5
    rs = cfg.rope_scaling
    if rs is not None:
        m_all = rs.get("mscale_all_dim", 0)
        if m_all:
            m = yarn_mscale(float(rs["factor"]), float(m_all))
            s = s * m * m
    return s


def apply_rope_interleaved(x: np.ndarray, positions: np.ndarray, inv_freq: np.ndarray,
                           cs_scale: float = 1.0) -> np.ndarray:
    """Rotate pairs (x[2i], x[2i+1]) by angle pos * inv_freq[i] (official DeepSeek
    layout, applied on the raw HF weights). x: [T, ..., rope_dim], positions: [T].

    Equivalent to the HF form (de-interleave [x0,x2,..,x1,x3,..] then rotate_half with
    cos/sin of cat(freqs, freqs)) up to that same permutation of the output, which
    q and k share, so q.k is identical; tests/reference/test_reference.py checks it."""
    ang = positions.astype(np.float64)[:, None] * inv_freq[None, :]          # [T, d/2]
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (inv_freq.shape[0],)
    cos = (np.cos(ang) * cs_scale).reshape(shape)
    sin = (np.sin(ang) * cs_scale).reshape(shape)
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


# ---------------------------------------------------------------------------
# MLA
# ---------------------------------------------------------------------------

@dataclass
class MLAInputs:
    """Everything an attention variant needs for one layer (T tokens, H heads)."""
    q_nope: np.ndarray      # [T, H, qk_nope]
    q_pe: np.ndarray        # [T, H, qk_rope]   (rotated)
    c_kv: np.ndarray        # [T, kv_lora]      (normed latent)
    k_pe: np.ndarray        # [T, qk_rope]      (rotated, shared by all heads)
    kv_b: np.ndarray        # [H * (qk_nope + v), kv_lora]
    scale: float
    qr: Optional[np.ndarray] = None          # [T, q_lora] normed q latent (None without q_lora)
    index_mask: Optional[np.ndarray] = None  # [T, T] additive (deepseek_v32: 0 for the indexer's picks)


def mla_project(cfg: Config, w, p: str, x: np.ndarray, positions: np.ndarray) -> MLAInputs:
    T = x.shape[0]
    H = cfg.num_attention_heads
    qd = H * cfg.qk_head_dim
    qa = None
    if cfg.q_lora_rank is None:
        q = linear(w, p + ".q_proj", x, qd)
    else:
        qa = linear(w, p + ".q_a_proj", x, cfg.q_lora_rank)
        qa = rms_norm(qa, get_checked(w, p + ".q_a_layernorm.weight", (cfg.q_lora_rank,)), LATENT_NORM_EPS)
        q = linear(w, p + ".q_b_proj", qa, qd)
    q = q.reshape(T, H, cfg.qk_head_dim)
    q_nope, q_pe = q[..., :cfg.qk_nope_head_dim], q[..., cfg.qk_nope_head_dim:]

    kv_a = linear(w, p + ".kv_a_proj_with_mqa", x, cfg.kv_lora_rank + cfg.qk_rope_head_dim)
    c_kv = rms_norm(kv_a[:, :cfg.kv_lora_rank],
                    get_checked(w, p + ".kv_a_layernorm.weight", (cfg.kv_lora_rank,)), LATENT_NORM_EPS)
    k_pe = kv_a[:, cfg.kv_lora_rank:]

    inv_freq, cs = rope_params(cfg)
    q_pe = apply_rope_interleaved(q_pe, positions, inv_freq, cs)
    k_pe = apply_rope_interleaved(k_pe, positions, inv_freq, cs)
    kv_b = get_checked(w, p + ".kv_b_proj.weight",
                       (H * (cfg.qk_nope_head_dim + cfg.v_head_dim), cfg.kv_lora_rank))
    return MLAInputs(q_nope, q_pe, c_kv, k_pe, kv_b, softmax_scale(cfg), qr=qa)


def causal_mask(T: int) -> np.ndarray:
    """[T, T] additive mask: 0 where key t <= query s, -inf above the diagonal."""
    m = np.zeros((T, T))
    m[np.triu_indices(T, 1)] = -np.inf
    return m


def mla_attention_naive(cfg: Config, a: MLAInputs) -> np.ndarray:
    """Expand c_kv to per-head k_nope and v through kv_b_proj, then ordinary causal
    softmax attention with k = [k_nope | k_pe]. Returns [T, H * v_head_dim]."""
    T, H = a.q_nope.shape[:2]
    kv = (a.c_kv @ a.kv_b.T).reshape(T, H, cfg.qk_nope_head_dim + cfg.v_head_dim)
    k_nope, v = kv[..., :cfg.qk_nope_head_dim], kv[..., cfg.qk_nope_head_dim:]
    q = np.concatenate([a.q_nope, a.q_pe], axis=-1)                                   # [T, H, dq]
    k = np.concatenate([k_nope, np.broadcast_to(a.k_pe[:, None, :], (T, H, cfg.qk_rope_head_dim))], axis=-1)
    mask = causal_mask(T) if a.index_mask is None else causal_mask(T) + a.index_mask
    scores = np.einsum("shd,thd->hst", q, k) * a.scale + mask[None]                    # [H, T, T]
    p = softmax(scores, axis=-1)
    out = np.einsum("hst,thd->shd", p, v)                                              # [T, H, dv]
    return out.reshape(T, H * cfg.v_head_dim)


AttentionFn = Callable[[Config, MLAInputs], np.ndarray]


# ---------------------------------------------------------------------------
# MoE
# ---------------------------------------------------------------------------

def _topk_desc(v: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of v, largest first; ties -> lower index."""
    order = np.lexsort((np.arange(v.shape[0]), -v))
    return order[:k]


def route(cfg: Config, logits: np.ndarray, bias: Optional[np.ndarray]):
    """One token's router. logits: [E]. Returns (expert ids [k], weights [k])."""
    E = logits.shape[0]
    k = cfg.num_experts_per_tok
    if cfg.scoring_func == "softmax":
        scores = softmax(logits)
    else:
        scores = sigmoid(logits)

    if cfg.topk_method == "noaux_tc":
        if bias is None:
            raise CheckpointError("noaux_tc routing needs e_score_correction_bias")
        choice = scores + bias
    else:
        choice = scores.copy()

    if cfg.topk_method in ("group_limited_greedy", "noaux_tc"):
        G = cfg.n_group
        grouped = choice.reshape(G, E // G)
        if cfg.topk_method == "noaux_tc":
            top2 = -np.sort(-grouped, axis=1)[:, :min(2, E // G)]
            group_score = top2.sum(axis=1)            # sum of the two best biased scores
        else:
            group_score = grouped.max(axis=1)         # best score in the group
        keep = _topk_desc(group_score, cfg.topk_group)
        mask = np.full(G, True)
        mask[keep] = False
        grouped = np.where(mask[:, None], -np.inf, grouped)
        choice = grouped.reshape(E)

    idx = _topk_desc(choice, k)
    weights = scores[idx].copy()                      # unbiased scores

    if cfg.v3_style_routing:
        if k > 1 and cfg.norm_topk_prob:
            weights = weights / (weights.sum() + 1e-20)
        weights = weights * cfg.routed_scaling_factor
    else:
        if k > 1 and cfg.norm_topk_prob:
            weights = weights / (weights.sum() + 1e-20)
        else:
            weights = weights * cfg.routed_scaling_factor
    return idx, weights


def moe(cfg: Config, w, p: str, x: np.ndarray) -> np.ndarray:
    E = cfg.n_routed_experts
    H = cfg.hidden_size
    gate_w = get_checked(w, p + ".gate.weight", (E, H))
    bias = None
    if cfg.topk_method == "noaux_tc":
        bias = get_checked(w, p + ".gate.e_score_correction_bias", (E,))
    logits = x @ gate_w.T                                                   # [T, E]
    y = np.zeros_like(x)
    for t in range(x.shape[0]):
        idx, wts = route(cfg, logits[t], bias)
        for e, we in zip(idx, wts):
            y[t] += we * swiglu(w, f"{p}.experts.{int(e)}", x[t:t + 1], cfg.moe_intermediate_size)[0]
    if cfg.n_shared_experts:
        y = y + swiglu(w, p + ".shared_experts", x, cfg.n_shared_experts * cfg.moe_intermediate_size)
    return y


# ---------------------------------------------------------------------------
# Whole model
# ---------------------------------------------------------------------------

def forward(cfg: Config, w, tokens, attention: AttentionFn = mla_attention_naive) -> np.ndarray:
    """Causal forward over `tokens` from position 0. Returns float64 logits [T, vocab]."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 1 or tokens.size == 0:
        raise ValueError("need a non-empty 1-D token list")
    bad = tokens[(tokens < 0) | (tokens >= cfg.vocab_size)]
    if bad.size:
        raise ValueError(f"token id {int(bad[0])} outside [0, {cfg.vocab_size})")
    H = cfg.hidden_size
    T = tokens.shape[0]
    positions = np.arange(T)
    embed = get_checked(w, "model.embed_tokens.weight", (cfg.vocab_size, H))
    h = embed[tokens]                                                      # [T, hidden]

    for i in range(cfg.num_hidden_layers):          # layers >= num_hidden_layers (MTP) ignored
        p = f"model.layers.{i}"
        x = rms_norm(h, get_checked(w, p + ".input_layernorm.weight", (H,)), cfg.rms_norm_eps)
        a = mla_project(cfg, w, p + ".self_attn", x, positions)
        if cfg.model_type == "deepseek_v32":
            from deepseek_v32_ref import index_mask
            a.index_mask = index_mask(cfg, w, p + ".self_attn.indexer", x, a.qr, positions)
        attn = attention(cfg, a)                                           # [T, heads * v]
        h = h + linear(w, p + ".self_attn.o_proj", attn, H)

        x = rms_norm(h, get_checked(w, p + ".post_attention_layernorm.weight", (H,)), cfg.rms_norm_eps)
        if cfg.is_moe_layer(i):
            h = h + moe(cfg, w, p + ".mlp", x)
        else:
            h = h + swiglu(w, p + ".mlp", x, cfg.intermediate_size)

    h = rms_norm(h, get_checked(w, "model.norm.weight", (H,)), cfg.rms_norm_eps)
    if cfg.tie_word_embeddings:
        head = embed
    else:
        head = get_checked(w, "lm_head.weight", (cfg.vocab_size, H))
    return h @ head.T


def run(cfg: Config, w, tokens, n_decode: int = 0, attention: AttentionFn = mla_attention_naive):
    """Prompt + n_decode greedy steps. Returns (logits [len(tokens)+n_decode, vocab], all tokens)."""
    seq = [int(t) for t in tokens]
    for _ in range(n_decode):
        logits = forward(cfg, w, seq, attention)
        seq.append(int(np.argmax(logits[-1])))
    return forward(cfg, w, seq, attention), seq


def parse_cli(argv, prog):
    """Shared CLI of deepseek_ref.py / deepseek_v4_ref.py. Returns (args, tokens, rc);
    rc is an exit code when the arguments are unusable, else None."""
    ap = argparse.ArgumentParser(prog=prog, description="float64 numpy reference forward pass for DeepSeek-architecture models")
    ap.add_argument("--model", required=True, help="Hugging Face model folder (config.json + safetensors)")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids, e.g. 3,17,42")
    ap.add_argument("--decode", type=int, default=0, help="greedy steps after the prompt (default 0)")
    ap.add_argument("--out", required=True, help="output .npy: float32 [len(tokens)+N, vocab_size]")
    from deepseek_v4_ref import add_arguments
    add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        tokens = [int(t) for t in args.tokens.replace(" ", "").split(",") if t != ""]
    except ValueError:
        print(f"{prog}: --tokens must be comma-separated integers, got {args.tokens!r}", file=sys.stderr)
        return args, None, 2
    if not tokens:
        print(f"{prog}: --tokens is empty", file=sys.stderr)
        return args, None, 2
    if args.decode < 0:
        print(f"{prog}: --decode must be >= 0", file=sys.stderr)
        return args, None, 2
    return args, tokens, None


def _model_type(model_dir):
    try:
        with open(os.path.join(model_dir, "config.json"), "r", encoding="utf-8") as f:
            return json.load(f).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None          # load_config reports the problem


def main(argv=None) -> int:
    args, tokens, rc = parse_cli(argv, "deepseek_ref")
    if rc is not None:
        return rc
    if _model_type(args.model) == "deepseek_v4":
        from deepseek_v4_ref import run_cli
        return run_cli(args, tokens)
    if args.mtp_out or args.incremental or args.act_quant or args.initial_release:
        print("deepseek_ref: --mtp-out, --incremental, --act-quant and --initial-release are for deepseek_v4 only",
              file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.model)
        w = Checkpoint(args.model, cfg.weight_block_size)
        logits, seq = run(cfg, w, tokens, args.decode)
    except (ConfigError, CheckpointError, ValueError) as e:
        print(f"deepseek_ref: error: {e}", file=sys.stderr)
        return 1
    np.save(args.out, logits.astype(np.float32))
    print(f"deepseek_ref: {cfg.model_type}, {len(seq)} positions, tokens {','.join(map(str, seq))} -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
