"""DeepSeek-V3.2 (model_type deepseek_v32) lightning indexer for the numpy oracle.

deepseek_ref.py runs V3.2 exactly as V3 (MLA, noaux_tc routing, YaRN) and calls index_mask()
here for every layer: each query attends only to the index_topk earlier positions the
indexer scores highest (all of them while the prefix is not longer than index_topk).

Written from the facts of the official DeepSeek-V3.2-Exp inference/model.py (as fixed on
2025-11-17) and kernel.py, not from their code:

  q = indexer.wq_b(qr)                 [T, index_n_heads, index_head_dim]; qr = q_a_layernorm(q_a_proj(x))
  k = LayerNorm(indexer.wk(x))         [T, index_head_dim]; weight k_norm.weight, bias k_norm.bias, eps 1e-6
  each vector is laid out [rope (qk_rope_head_dim) | nope] -- the opposite of MLA's [nope | rope] --
  and its rope part is rotated NON-interleaved: pair (i, i + r/2) turns by pos * inv_freq[i]
  (MLA rotates interleaved pairs (2i, 2i + 1)); same inv_freq / YaRN as MLA.
  q, k <- Hadamard (index_head_dim), then FP8 E4M3 quantise-dequantise, one scale per 128
  values (power-of-two scales when quantization_config.scale_fmt == "ue8m0").
  w = indexer.weights_proj(x) * index_n_heads^-0.5 * index_head_dim^-0.5      [T, heads]
  score[s, t] = sum_h relu(q[s, h] . k[t]) * w[s, h], t <= s; keep the top min(index_topk, s + 1)
  (ties: lower position). A config field "indexer_rope_interleave": true (GLM-5 style
  deepseek_v32 configs) switches the indexer to interleaved pairs.
"""

from __future__ import annotations

import numpy as np

from deepseek_ref import (ConfigError, _topk_desc, apply_rope_interleaved, get_checked, linear,
                          rope_params)
from v4_formats import fake_quant, hadamard

INDEXER_QUANT_BLOCK = 128      # act_quant(q / k, 128): index_head_dim 128 -> one scale per vector
K_NORM_EPS = 1e-6              # LayerNorm default eps in the official code


def check_indexer_config(cfg):
    d = cfg.raw
    for k in ("index_n_heads", "index_head_dim", "index_topk"):
        if not isinstance(d.get(k), int) or d[k] < 1:
            raise ConfigError(f"config.json: deepseek_v32 needs a positive integer {k!r}")
    ih = d["index_head_dim"]
    if ih & (ih - 1):
        raise ConfigError("config.json: index_head_dim must be a power of two (Hadamard transform)")
    if not cfg.qk_rope_head_dim < ih:
        raise ConfigError("config.json: index_head_dim must exceed qk_rope_head_dim")
    if cfg.q_lora_rank is None:
        raise ConfigError("config.json: deepseek_v32 needs q_lora_rank (the indexer reads the q latent)")


def rope_half_split(x, positions, inv_freq, cs_scale=1.0):
    """Rotate pairs (x[i], x[i + d/2]) by pos * inv_freq[i] (the indexer's layout)."""
    h = x.shape[-1] // 2
    ang = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (h,)
    cos = (np.cos(ang) * cs_scale).reshape(shape)
    sin = (np.sin(ang) * cs_scale).reshape(shape)
    a, b = x[..., :h], x[..., h:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def layer_norm(x, weight, bias, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * weight + bias


def index_scores(cfg, w, p, x, qr, positions):
    """[T, T] indexer scores (future positions included; index_mask masks them)."""
    d = cfg.raw
    nh, ih, rd = d["index_n_heads"], d["index_head_dim"], cfg.qk_rope_head_dim
    interleave = bool(d.get("indexer_rope_interleave", False))
    freqs, cs = rope_params(cfg)
    quant = (d.get("quantization_config") or {}).get("scale_fmt") == "ue8m0"

    def rope_first(v):
        rot = apply_rope_interleaved if interleave else rope_half_split
        return np.concatenate([rot(v[..., :rd], positions, freqs, cs), v[..., rd:]], axis=-1)

    def q8(v):
        return fake_quant(hadamard(v), min(INDEXER_QUANT_BLOCK, ih), "e4m3", quant)

    q = q8(rope_first(linear(w, p + ".wq_b", qr, nh * ih).reshape(-1, nh, ih)))
    k = linear(w, p + ".wk", x, ih)
    k = layer_norm(k, get_checked(w, p + ".k_norm.weight", (ih,)), get_checked(w, p + ".k_norm.bias", (ih,)),
                   K_NORM_EPS)
    k = q8(rope_first(k))
    hw = linear(w, p + ".weights_proj", x, nh) * (nh ** -0.5 * ih ** -0.5)
    return np.einsum("sht,sh->st", np.maximum(np.einsum("shd,td->sht", q, k), 0.0), hw)


def index_mask(cfg, w, p, x, qr, positions):
    """[T, T] additive mask: 0 where key t is among query s's top-k, else -inf."""
    topk = cfg.raw["index_topk"]
    sc = index_scores(cfg, w, p, x, qr, positions)
    T = sc.shape[0]
    mask = np.full((T, T), -np.inf)
    for s in range(T):
        cand = np.arange(s + 1)
        mask[s, cand[_topk_desc(sc[s, :s + 1], min(topk, s + 1))]] = 0.0
    return mask
