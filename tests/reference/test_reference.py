"""Self-checks of the numpy reference (deepseek_ref.py), independent of the C++ engine.

    /usr/bin/python3 -m unittest discover -s tests/reference -p 'test_*.py'

What is checked, and against what:
  * BF16 / F8_E4M3 decoding against hand-derived values and an independent float16
    bit construction; block dequantization with partial edge blocks.
  * safetensors reading (single file, sharded index) and its error paths.
  * RoPE: the interleaved-pairs rotation equals the HF form (de-interleave permutation,
    then rotate_half with cat(freqs, freqs)) up to that permutation, gives the same
    q.k, and equals the official complex-number form.
  * YaRN: the correction range for the V3 parameters worked out by hand (10, 23), the
    blend equals the official `smooth` formulation, mscale / softmax scale values.
  * Router: hand-made cases for noaux_tc (sum of top-2 biased scores per group, unbiased
    weights), group_limited_greedy (group max), greedy, and the V2 / V3 weight
    normalisation rules.
  * MLA: the absorbed formulation (k_nope half of kv_b folded into q, attention over
    c_kv, v half applied after) gives the same logits as the naive one on small random
    models; causality (a prefix's rows do not depend on later tokens).
  * The CLI end to end on BF16 and FP8 (block-scaled, sharded) folders, greedy decode,
    error exits; compare_logits.py exit codes.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare_logits  # noqa: E402
import deepseek_ref as ref  # noqa: E402
import make_ref_fixture as fx  # noqa: E402
from safetensors_np import (Checkpoint, CheckpointError, SafetensorsFile, decode_bf16,  # noqa: E402
                            decode_f8_e4m3, dequant_blockwise)

PY = sys.executable or "/usr/bin/python3"


def cfg_of(preset: str, **overrides) -> ref.Config:
    d = dict(fx.PRESETS[preset])
    d.update(overrides)
    return ref.parse_config(d)


def rel_err(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


# ---------------------------------------------------------------------------
# Number formats
# ---------------------------------------------------------------------------

class TestFormats(unittest.TestCase):
    def test_bf16_known_values(self):
        codes = np.array([0x3F80, 0xC000, 0x3FC0, 0x0000, 0x8000, 0x4049, 0x0001, 0x7F80], dtype=np.uint16)
        got = decode_bf16(codes)
        want = [1.0, -2.0, 1.5, 0.0, -0.0, 3.140625, 2.0 ** -133, np.inf]
        np.testing.assert_array_equal(got, np.array(want, dtype=np.float32))
        self.assertTrue(np.signbit(got[4]))

    def test_e4m3_known_values(self):
        cases = {
            0x00: 0.0, 0x01: 2.0 ** -9, 0x02: 2.0 ** -8, 0x07: 7 * 2.0 ** -9,   # subnormals: m/8 * 2^-6
            0x08: 2.0 ** -6, 0x38: 1.0, 0x39: 1.125, 0x40: 2.0, 0x3C: 1.5,
            0x77: 240.0, 0x78: 256.0, 0x7E: 448.0, 0xFE: -448.0, 0xB8: -1.0, 0x81: -(2.0 ** -9),
        }
        for code, want in cases.items():
            self.assertEqual(decode_f8_e4m3(np.array([code], np.uint8))[0], want, hex(code))
        self.assertTrue(np.signbit(decode_f8_e4m3(np.array([0x80], np.uint8))[0]))
        nan = decode_f8_e4m3(np.array([0x7F, 0xFF], np.uint8))
        self.assertTrue(np.isnan(nan).all())
        vals = decode_f8_e4m3(np.arange(256, dtype=np.uint8))
        self.assertEqual(int(np.isnan(vals).sum()), 2)
        self.assertEqual(int(np.isinf(vals).sum()), 0)
        self.assertEqual(float(np.nanmax(vals)), 448.0)
        # positive codes 0..0x7E are strictly increasing
        self.assertTrue(np.all(np.diff(vals[:0x7F]) > 0))

    def test_e4m3_normals_match_float16_bits(self):
        # Independent route: an e4m3 normal s eeee mmm is the float16 s (e-7+15) (mmm << 7).
        for code in range(256):
            e = (code >> 3) & 0xF
            m = code & 7
            if e == 0 or (e == 15 and m == 7):
                continue
            s = code >> 7
            bits = np.array([(s << 15) | ((e - 7 + 15) << 10) | (m << 7)], dtype=np.uint16)
            self.assertEqual(decode_f8_e4m3(np.array([code], np.uint8))[0], float(bits.view(np.float16)[0]), hex(code))

    def test_block_dequant_partial_edges(self):
        rng = np.random.default_rng(1)
        w = rng.integers(-5, 5, size=(5, 7)).astype(np.float64)
        scale = np.array([[2.0, 3.0], [5.0, 7.0]])
        got = dequant_blockwise(w, scale, (4, 4))
        for i in range(5):
            for j in range(7):
                self.assertEqual(got[i, j], w[i, j] * scale[i // 4, j // 4])
        with self.assertRaises(CheckpointError):
            dequant_blockwise(w, np.ones((1, 2)), (4, 4))

    def test_fp8_encoder_roundtrip(self):
        # the fixture writer's encoder picks exact codes for representable values
        vals = decode_f8_e4m3(np.arange(256, dtype=np.uint8))
        finite = np.isfinite(vals)
        codes = fx.fp8_encode_nearest(vals[finite])
        np.testing.assert_array_equal(decode_f8_e4m3(codes), vals[finite])


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

class TestSafetensors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_roundtrip_dtypes(self):
        a32 = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
        a16 = np.array([1.5, -0.25], dtype=np.float16)
        bits, bval = fx.bf16_encode(np.array([[1.0, -3.0], [0.5, 100.0]]))
        p = os.path.join(self.dir, "model.safetensors")
        fx.write_safetensors(p, {"a": ("F32", a32), "b": ("F16", a16), "c": ("BF16", bits)}, {"format": "pt"})
        ck = Checkpoint(self.dir)
        np.testing.assert_array_equal(ck.get("a"), a32.astype(np.float64))
        np.testing.assert_array_equal(ck.get("b"), a16.astype(np.float64))
        np.testing.assert_array_equal(ck.get("c"), [[1.0, -3.0], [0.5, 100.0]])
        self.assertEqual(ck.get("a").dtype, np.float64)
        with self.assertRaises(CheckpointError):
            ck.get("missing")

    def test_offsets_are_relative_to_data_start(self):
        # hand-built file: header first, then two tensors; the second's offset is 8 bytes in
        header = {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "y": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}
        h = json.dumps(header).encode()
        data = np.array([1.0, 2.0, 3.0], dtype="<f4").tobytes()
        p = os.path.join(self.dir, "model.safetensors")
        with open(p, "wb") as f:
            f.write(len(h).to_bytes(8, "little") + h + data)
        ck = Checkpoint(self.dir)
        np.testing.assert_array_equal(ck.get("y"), [3.0])

    def test_bad_files(self):
        p = os.path.join(self.dir, "model.safetensors")
        with open(p, "wb") as f:
            f.write((10 ** 6).to_bytes(8, "little") + b"{}")
        with self.assertRaises(CheckpointError):
            SafetensorsFile(p)
        with open(p, "wb") as f:
            h = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
            f.write(len(h).to_bytes(8, "little") + h + b"\0" * 8)       # data truncated
        with self.assertRaises(CheckpointError):
            SafetensorsFile(p)
        with open(p, "wb") as f:
            h = json.dumps({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}).encode()
            f.write(len(h).to_bytes(8, "little") + h + b"\0" * 16)      # size != shape
        with self.assertRaises(CheckpointError):
            SafetensorsFile(p)
        with open(p, "wb") as f:
            f.write(b"\x05\0\0\0\0\0\0\0{nope")
        with self.assertRaises(CheckpointError):
            SafetensorsFile(p)

    def test_fp8_without_scale_is_an_error(self):
        p = os.path.join(self.dir, "model.safetensors")
        fx.write_safetensors(p, {"w.weight": ("F8_E4M3", np.full((2, 2), 0x38, np.uint8))})
        with self.assertRaisesRegex(CheckpointError, "w.weight_scale_inv"):
            Checkpoint(self.dir).get("w.weight")


# ---------------------------------------------------------------------------
# RoPE and YaRN
# ---------------------------------------------------------------------------

def hf_rope(x, positions, inv_freq, cs):
    """HF modeling_deepseek.py form: view(..., d/2, 2).transpose -> [x0,x2,..,x1,x3,..],
    then x*cos + rotate_half(x)*sin with emb = cat(freqs, freqs)."""
    d = x.shape[-1]
    xp = x.reshape(x.shape[:-1] + (d // 2, 2)).swapaxes(-1, -2).reshape(x.shape)
    freqs = positions[:, None].astype(np.float64) * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (d,)
    cos = (np.cos(emb) * cs).reshape(shape)
    sin = (np.sin(emb) * cs).reshape(shape)
    rot = np.concatenate([-xp[..., d // 2:], xp[..., :d // 2]], axis=-1)
    return xp * cos + rot * sin


def complex_rope(x, positions, inv_freq):
    """Official inference/model.py form: view pairs as complex numbers, multiply by e^{i pos f}."""
    z = x[..., 0::2] + 1j * x[..., 1::2]
    ang = positions[:, None] * inv_freq[None, :]
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (inv_freq.shape[0],)
    y = z * np.exp(1j * ang).reshape(shape)
    out = np.empty_like(x)
    out[..., 0::2] = y.real
    out[..., 1::2] = y.imag
    return out


class TestRope(unittest.TestCase):
    def test_interleaved_equals_hf_permuted_form(self):
        rng = np.random.default_rng(2)
        for preset in ("v2", "v3", "kimi"):
            cfg = cfg_of(preset)
            inv_freq, cs = ref.rope_params(cfg)
            d = cfg.qk_rope_head_dim
            T, H = 9, 3
            pos = np.arange(T) * 37 + 5          # spread positions so every pair turns noticeably
            q = rng.standard_normal((T, H, d))
            k = rng.standard_normal((T, d))
            q_ours = ref.apply_rope_interleaved(q, pos, inv_freq, cs)
            k_ours = ref.apply_rope_interleaved(k, pos, inv_freq, cs)
            q_hf = hf_rope(q, pos, inv_freq, cs)
            k_hf = hf_rope(k, pos, inv_freq, cs)
            perm = np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])
            np.testing.assert_allclose(q_hf, q_ours[..., perm], rtol=0, atol=1e-12)
            np.testing.assert_allclose(k_hf, k_ours[..., perm], rtol=0, atol=1e-12)
            # the attention logits, which is all that matters, agree exactly
            np.testing.assert_allclose(np.einsum("shd,td->hst", q_hf, k_hf),
                                       np.einsum("shd,td->hst", q_ours, k_ours), rtol=0, atol=1e-10)
            np.testing.assert_allclose(complex_rope(q, pos, inv_freq) * cs, q_ours, rtol=0, atol=1e-12)

    def test_rope_is_relative(self):
        # q(m).k(n) depends only on m - n (with cs = 1)
        cfg = cfg_of("v2")
        inv_freq, _ = ref.rope_params(cfg)
        rng = np.random.default_rng(3)
        q = rng.standard_normal((1, cfg.qk_rope_head_dim))
        k = rng.standard_normal((1, cfg.qk_rope_head_dim))
        def dot(m, n):
            return float(ref.apply_rope_interleaved(q, np.array([m]), inv_freq)[0]
                         @ ref.apply_rope_interleaved(k, np.array([n]), inv_freq)[0])
        self.assertAlmostEqual(dot(7, 3), dot(104, 100), places=10)

    def test_plain_rope(self):
        cfg = cfg_of("v2")
        inv_freq, cs = ref.rope_params(cfg)
        d = cfg.qk_rope_head_dim
        np.testing.assert_allclose(inv_freq, [10000.0 ** (-2 * i / d) for i in range(d // 2)], rtol=1e-15)
        self.assertEqual(cs, 1.0)
        self.assertAlmostEqual(ref.softmax_scale(cfg), (cfg.qk_nope_head_dim + d) ** -0.5, places=15)

    def test_yarn_v3_parameters(self):
        # DeepSeek-V3 config: rope dim 64, theta 1e4, factor 40, original 4096, beta 32 / 1.
        # By hand: dim(r) = 64 ln(4096 / (2 pi r)) / (2 ln 1e4): dim(32) = 10.47 -> floor 10,
        # dim(1) = 22.51 -> ceil 23.
        self.assertEqual(ref.yarn_correction_range(32, 1, 64, 10000.0, 4096), (10, 23))
        d = dict(fx.PRESETS["v3"], qk_rope_head_dim=64, qk_nope_head_dim=128)
        cfg = ref.parse_config(d)
        inv_freq, cs = ref.rope_params(cfg)
        base = 10000.0 ** (-np.arange(0, 64, 2) / 64.0)
        np.testing.assert_allclose(inv_freq[:11], base[:11], rtol=1e-14)        # fast dims: original
        np.testing.assert_allclose(inv_freq[23:], base[23:] / 40.0, rtol=1e-14)  # slow dims: interpolated
        i = 16
        r = (i - 10) / 13.0
        self.assertAlmostEqual(inv_freq[i], base[i] / 40.0 * r + base[i] * (1 - r), places=15)
        # official inference/model.py formulation
        ramp = np.clip((np.arange(32) - 10) / 13.0, 0, 1)
        smooth = 1 - ramp
        np.testing.assert_allclose(inv_freq, base / 40.0 * (1 - smooth) + base * smooth, rtol=1e-14)
        self.assertEqual(cs, 1.0)    # mscale == mscale_all_dim
        # softmax scale = 192^-0.5 * (0.1 ln 40 + 1)^2 = 0.0721688 * 1.873857 = 0.135234
        self.assertAlmostEqual(ref.softmax_scale(cfg), 192 ** -0.5 * (0.1 * math.log(40) + 1) ** 2, places=14)
        self.assertAlmostEqual(ref.softmax_scale(cfg), 0.135234, places=5)

    def test_yarn_mscale_ratio(self):
        cfg = cfg_of("kimi")   # factor 32, mscale 1.0, mscale_all_dim 0.5
        _, cs = ref.rope_params(cfg)
        self.assertAlmostEqual(cs, (0.1 * math.log(32) + 1) / (0.05 * math.log(32) + 1), places=14)
        self.assertAlmostEqual(ref.softmax_scale(cfg),
                               20 ** -0.5 * (0.05 * math.log(32) + 1) ** 2, places=14)
        # mscale_all_dim absent: softmax scale unchanged, cos/sin scaled by mscale(f, mscale)
        rs = dict(type="yarn", factor=40, original_max_position_embeddings=4096, mscale=0.707)
        cfg = cfg_of("v3", rope_scaling=rs)
        _, cs = ref.rope_params(cfg)
        self.assertAlmostEqual(cs, 0.1 * 0.707 * math.log(40) + 1, places=14)
        self.assertAlmostEqual(ref.softmax_scale(cfg), 20 ** -0.5, places=15)
        self.assertEqual(ref.yarn_mscale(1.0, 5.0), 1.0)
        # low == high gets the +0.001 guard, not a division by zero
        self.assertEqual(ref.yarn_correction_range(1.0, 1.0, 8, 10000.0, 64), (1, 2))


# ---------------------------------------------------------------------------
# Router
# ---------------------------------------------------------------------------

def logit(p):
    p = np.asarray(p, dtype=np.float64)
    return np.log(p / (1 - p))


class TestRouter(unittest.TestCase):
    def routed(self, cfg, logits, bias=None):
        idx, w = ref.route(cfg, np.asarray(logits, dtype=np.float64), None if bias is None else np.asarray(bias))
        return {int(i): float(x) for i, x in zip(idx, w)}

    def test_noaux_tc_top2_group_sum_and_unbiased_weights(self):
        cfg = cfg_of("v3", n_routed_experts=8, n_group=2, topk_group=1, num_experts_per_tok=2)
        s = [0.9, 0.1, 0.6, 0.55, 0.2, 0.85, 0.05, 0.05]
        b = [0, 0, 0, 0, 0.5, 0, 0, 0]
        # biased: g0 = [.9 .1 .6 .55] top-2 sum 1.50 (all-sum 2.15, max .90)
        #         g1 = [.7 .85 .05 .05] top-2 sum 1.55 (all-sum 1.65, max .85)
        # only the top-2 sum keeps g1; then experts 5 (.85) and 4 (.2 + .5 bias)
        got = self.routed(cfg, logit(s), b)
        self.assertEqual(set(got), {5, 4})
        self.assertAlmostEqual(got[5], 0.85 / 1.05 * 2.5, places=12)
        self.assertAlmostEqual(got[4], 0.20 / 1.05 * 2.5, places=12)

    def test_noaux_tc_four_groups(self):
        cfg = cfg_of("v3", n_routed_experts=8, n_group=4, topk_group=2, num_experts_per_tok=3,
                     routed_scaling_factor=1.0)
        s = [0.9, 0.1, 0.6, 0.55, 0.2, 0.85, 0.3, 0.3]
        b = [0, 0, 0, 0, 0.5, 0, 0, 0.4]
        # biased pairs: g0 1.0, g1 1.15, g2 1.55, g3 1.0 -> keep g2, g1 -> experts {2,3,4,5}
        # biased .6 .55 .7 .85 -> top-3 5, 4, 2
        got = self.routed(cfg, logit(s), b)
        self.assertEqual(set(got), {5, 4, 2})
        tot = 0.85 + 0.2 + 0.6
        for e in (5, 4, 2):
            self.assertAlmostEqual(got[e], s[e] / tot, places=12)

    def test_v3_topk1_norm_follows_hf(self):
        # HF MoEGate normalises only when top_k > 1 (both V2 and V3 code)
        cfg = cfg_of("v3", n_routed_experts=8, n_group=1, topk_group=1, num_experts_per_tok=1)
        s = [0.1, 0.2, 0.7, 0.3, 0.4, 0.5, 0.6, 0.35]
        got = self.routed(cfg, logit(s), np.zeros(8))
        self.assertEqual(list(got), [2])
        self.assertAlmostEqual(got[2], 0.7 * 2.5, places=12)

    def test_group_limited_greedy_uses_group_max(self):
        cfg = cfg_of("v2-group", n_routed_experts=6, n_group=3, topk_group=2, num_experts_per_tok=3)
        lg = [2.0, 1.95, 0.0, 1.96, 2.1, 0.0]
        # group maxes 2.0, 1.96, 2.1 -> keep g2, g0 -> top-3 of {0,1,4,5} = 4, 0, 1
        # (plain top-3 would take 3 instead of 1)
        got = self.routed(cfg, lg)
        self.assertEqual(set(got), {4, 0, 1})
        p = ref.softmax(np.array(lg))
        tot = p[4] + p[0] + p[1]
        for e in (4, 0, 1):     # v2 with norm_topk_prob: normalised, NOT scaled (rsf 16 ignored)
            self.assertAlmostEqual(got[e], p[e] / tot, places=12)

    def test_v2_greedy_without_norm_scales(self):
        cfg = cfg_of("v2", n_routed_experts=5, num_experts_per_tok=2, routed_scaling_factor=1.5)
        lg = [0.1, 3.0, -1.0, 2.5, 0.0]
        got = self.routed(cfg, lg)
        p = ref.softmax(np.array(lg))
        self.assertEqual(set(got), {1, 3})
        self.assertAlmostEqual(got[1], p[1] * 1.5, places=12)
        self.assertAlmostEqual(got[3], p[3] * 1.5, places=12)

    def test_v3_softmax_greedy_norm_then_scale(self):
        cfg = cfg_of("v3", scoring_func="softmax", topk_method="greedy", n_routed_experts=5,
                     num_experts_per_tok=2, routed_scaling_factor=3.0)
        lg = [0.1, 3.0, -1.0, 2.5, 0.0]
        got = self.routed(cfg, lg)
        p = ref.softmax(np.array(lg))
        self.assertAlmostEqual(got[1], p[1] / (p[1] + p[3]) * 3.0, places=12)
        self.assertAlmostEqual(got[3], p[3] / (p[1] + p[3]) * 3.0, places=12)

    def test_ties_take_lower_index(self):
        cfg = cfg_of("v2", n_routed_experts=4, num_experts_per_tok=2)
        self.assertEqual(set(self.routed(cfg, [1.0, 2.0, 2.0, 2.0])), {1, 2})


# ---------------------------------------------------------------------------
# MLA: absorbed vs naive, causality
# ---------------------------------------------------------------------------

def mla_attention_absorbed(cfg: ref.Config, a: ref.MLAInputs) -> np.ndarray:
    """Decode-style MLA written independently of the naive path: fold W_UK into q,
    score against the cached latent c_kv (+ shared rope key), apply W_UV afterwards."""
    T, H = a.q_nope.shape[:2]
    nope, dv, r = cfg.qk_nope_head_dim, cfg.v_head_dim, cfg.kv_lora_rank
    wkv = a.kv_b.reshape(H, nope + dv, r)
    w_uk, w_uv = wkv[:, :nope, :], wkv[:, nope:, :]
    q_lat = np.einsum("shd,hdc->shc", a.q_nope, w_uk)                  # [T, H, kv_lora]
    scores = (np.einsum("shc,tc->hst", q_lat, a.c_kv) + np.einsum("shr,tr->hst", a.q_pe, a.k_pe)) * a.scale
    out = np.zeros((T, H, dv))
    for s in range(T):                                                 # token by token over a growing cache
        sc = scores[:, s, :s + 1]
        p = np.exp(sc - sc.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        o_lat = p @ a.c_kv[:s + 1]                                     # [H, kv_lora]
        out[s] = np.einsum("hc,hdc->hd", o_lat, w_uv)
    return out.reshape(T, H * dv)


class TestModel(unittest.TestCase):
    TOKENS = [3, 17, 42, 5, 96, 0, 61]

    def test_absorbed_equals_naive(self):
        for preset in ("v2", "v2-group", "v3", "kimi"):
            cfg = cfg_of(preset)
            w = ref.DictWeights(fx.random_weights(fx.PRESETS[preset], seed=11))
            naive = ref.forward(cfg, w, self.TOKENS)
            absorbed = ref.forward(cfg, w, self.TOKENS, attention=mla_attention_absorbed)
            self.assertEqual(naive.shape, (len(self.TOKENS), cfg.vocab_size))
            self.assertLess(rel_err(absorbed, naive), 1e-12, preset)

    def test_causal_prefix_rows(self):
        cfg = cfg_of("v3")
        w = ref.DictWeights(fx.random_weights(fx.PRESETS["v3"], seed=12))
        full = ref.forward(cfg, w, self.TOKENS)
        for n in (1, 4):
            self.assertLess(rel_err(ref.forward(cfg, w, self.TOKENS[:n]), full[:n]), 1e-13)

    def test_rope_matters_and_yarn_matters(self):
        # guards against a silently ignored rope / rope_scaling
        cfg = cfg_of("kimi")
        w = ref.DictWeights(fx.random_weights(fx.PRESETS["kimi"], seed=13))
        base = ref.forward(cfg, w, self.TOKENS)
        plain = ref.forward(cfg_of("kimi", rope_scaling=None), w, self.TOKENS)
        self.assertGreater(rel_err(plain, base), 1e-4)

    def test_tied_embeddings(self):
        c = dict(fx.PRESETS["v2"])
        weights = fx.random_weights(c, seed=14)
        untied = ref.forward(ref.parse_config(c), ref.DictWeights(dict(weights, **{
            "lm_head.weight": weights["model.embed_tokens.weight"]})), self.TOKENS)
        weights.pop("lm_head.weight")
        tied = ref.forward(ref.parse_config(dict(c, tie_word_embeddings=True)), ref.DictWeights(weights), self.TOKENS)
        np.testing.assert_array_equal(tied, untied)

    def test_dense_only_and_q_lora_zero(self):
        c = dict(fx.PRESETS["v3"], q_lora_rank=0, n_routed_experts=None)
        cfg = ref.parse_config(c)
        self.assertIsNone(cfg.q_lora_rank)
        self.assertFalse(any(cfg.is_moe_layer(i) for i in range(cfg.num_hidden_layers)))
        w = ref.DictWeights(fx.random_weights(c, seed=15))
        out = ref.forward(cfg, w, self.TOKENS[:3])
        self.assertTrue(np.isfinite(out).all())

    def test_config_errors(self):
        with self.assertRaises(ref.ConfigError):
            cfg_of("v3", model_type="llama")
        with self.assertRaises(ref.ConfigError):
            cfg_of("v3", topk_method="weird")
        with self.assertRaises(ref.ConfigError):
            cfg_of("v3", n_group=3)
        d = dict(fx.PRESETS["v3"])
        d.pop("kv_lora_rank")
        with self.assertRaisesRegex(ref.ConfigError, "kv_lora_rank"):
            ref.parse_config(d)

    def test_wrong_shape_message(self):
        c = fx.PRESETS["v2"]
        weights = fx.random_weights(c, seed=16)
        name = "model.layers.1.self_attn.kv_b_proj.weight"
        weights[name] = weights[name].T
        with self.assertRaisesRegex(CheckpointError, "kv_b_proj.weight: expected shape"):
            ref.forward(ref.parse_config(c), ref.DictWeights(weights), [1, 2])


# ---------------------------------------------------------------------------
# CLI end to end
# ---------------------------------------------------------------------------

class TestCli(unittest.TestCase):
    TOKENS = [3, 17, 42, 5]

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def cli(self, model, tokens, decode, out):
        cmd = [PY, os.path.join(HERE, "deepseek_ref.py"), "--model", model, "--tokens", tokens, "--out", out]
        if decode is not None:
            cmd += ["--decode", str(decode)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def check_cli(self, preset, fp8_block, shards, decode):
        c = fx.PRESETS[preset]
        model = os.path.join(self.dir, preset)
        exact = fx.write_model(model, c, fx.random_weights(c, seed=21), fp8_block=fp8_block, shards=shards)
        out = os.path.join(self.dir, preset + ".npy")
        r = self.cli(model, ",".join(map(str, self.TOKENS)), decode, out)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = np.load(out)
        self.assertEqual(got.dtype, np.float32)
        self.assertEqual(got.shape, (len(self.TOKENS) + decode, c["vocab_size"]))
        want, seq = ref.run(ref.parse_config(c), ref.DictWeights(exact), self.TOKENS, decode)
        self.assertLess(rel_err(got, want), 1e-6)
        for j in range(decode):          # each generated token is the argmax of the row before it
            self.assertEqual(int(np.argmax(want[len(self.TOKENS) - 1 + j])), seq[len(self.TOKENS) + j])
        return exact

    def test_bf16_single_file(self):
        self.check_cli("v2", None, 1, 3)

    def test_fp8_sharded(self):
        exact = self.check_cli("v3", (16, 16), 3, 2)
        # the fp8 weights really were quantized (and dequantized by the reader)
        model = os.path.join(self.dir, "v3")
        ck = Checkpoint(model, (16, 16))
        name = "model.layers.1.self_attn.q_b_proj.weight"
        self.assertIn(name + "_scale_inv", ck.names())
        np.testing.assert_array_equal(ck.get(name), exact[name])

    def test_kimi_fp8_no_decode(self):
        self.check_cli("kimi", (16, 16), 1, 0)

    def test_errors_exit_nonzero(self):
        c = fx.PRESETS["v3"]
        w = fx.random_weights(c, seed=22)
        w.pop("model.layers.2.mlp.experts.5.up_proj.weight")
        model = os.path.join(self.dir, "broken")
        fx.write_model(model, c, w)
        out = os.path.join(self.dir, "x.npy")
        r = self.cli(model, "1,2,3", None, out)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("model.layers.2.mlp.experts.5.up_proj.weight", r.stderr)
        self.assertFalse(os.path.exists(out))
        good = os.path.join(self.dir, "good")
        fx.write_model(good, c, fx.random_weights(c, seed=22))
        r = self.cli(good, "1,97", None, out)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("97", r.stderr)
        r = self.cli(os.path.join(self.dir, "nowhere"), "1", None, out)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("config.json", r.stderr)


class TestCompare(unittest.TestCase):
    def test_exit_codes(self):
        rng = np.random.default_rng(5)
        b = rng.standard_normal((4, 50)).astype(np.float32)
        buf = io.StringIO()
        self.assertEqual(compare_logits.compare(b, b, 1e-4, out=buf), 0)
        self.assertEqual(compare_logits.compare(b * (1 + 1e-6), b, 1e-4, out=buf), 0)
        self.assertEqual(compare_logits.compare(b * 1.01, b, 1e-4, out=buf), 1)
        a = b.copy()
        r = 2
        j = int(np.argsort(b[r])[-2])
        a[r, j] = b[r].max() + 1.0            # flips one argmax
        buf = io.StringIO()
        self.assertEqual(compare_logits.compare(a, b, 10.0, out=buf), 1)
        self.assertIn("row 2", buf.getvalue())
        self.assertEqual(compare_logits.compare(a[:3], b, 1e-4, out=buf), 2)
        a[0, 0] = np.nan
        self.assertEqual(compare_logits.compare(a, b, 1e-4, out=buf), 2)

    def test_cli(self):
        with tempfile.TemporaryDirectory() as d:
            b = np.arange(20, dtype=np.float32).reshape(2, 10)
            pa, pb = os.path.join(d, "a.npy"), os.path.join(d, "b.npy")
            np.save(pa, b)
            np.save(pb, b)
            r = subprocess.run([PY, os.path.join(HERE, "compare_logits.py"), "--actual", pa, "--expected", pb],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("PASS", r.stdout)
            np.save(pa, b + 1)
            r = subprocess.run([PY, os.path.join(HERE, "compare_logits.py"), "--actual", pa, "--expected", pb,
                                "--rtol", "1e-4"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()
