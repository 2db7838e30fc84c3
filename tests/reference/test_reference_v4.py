"""Self-checks of the DeepSeek-V4 and V3.2 parts of the numpy reference
(deepseek_v4_ref.py, deepseek_v32_ref.py, v4_formats.py, v4_fixture.py).

    /usr/bin/python3 -m unittest discover -s tests/reference -p 'test_*.py'

What is checked, and against what:
  * Formats against hand values: F8_E8M0 scales, FP4 E2M1 codes and nibble order, e4m3 /
    e2m1 round-to-nearest-even (ties to the even code), power-of-two scale selection
    (the float32 ceil), block quantise-dequantise; the Hadamard transform against the
    explicit (-1)^popcount(i & j) matrix.
  * The V4 fixture writer and V4Weights: every tensor read back equals the writer's exact
    value (FP8 + UE8M0 blocks with partial edges, packed FP4, BF16, F32, I64).
  * mHC: Sinkhorn output is doubly stochastic; hc_post mixes streams as comb[source, target].
  * Model behaviour on tiny random models: incremental decoding with carried compressor
    state equals the all-positions formulation (prefix crossing many CSA / HCA
    boundaries); causality of the logits and of the MTP rows; a window-only model ignores
    tokens beyond the window while an HCA layer does not; hash layers route by tid2eid;
    the indexer's top-k changes the result only when index_topk is below the number of
    compressed rows; --initial-release / --act-quant change the numbers.
  * V3.2: the indexer rotates (x[i], x[i + r/2]) pairs of the leading rope dims (checked
    against a complex-number form written here); with index_topk >= length it is
    inert (logits equal the same weights run as deepseek_v3); masks keep min(k, s + 1).
  * The CLI end to end (deepseek_ref.py dispatch, --mtp-out, --incremental, error exits).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import deepseek_ref as ref  # noqa: E402
import deepseek_v32_ref as v32  # noqa: E402
import deepseek_v4_ref as v4  # noqa: E402
import make_ref_fixture as fx  # noqa: E402
import v4_fixture as v4fx  # noqa: E402
from safetensors_np import decode_e8m0  # noqa: E402
from v4_formats import (decode_fp4_packed, encode_fp4_packed, fake_quant, hadamard, pow2_scale,  # noqa: E402
                        quantize_e2m1, quantize_e4m3)

PY = sys.executable or "/usr/bin/python3"

# a faster V4 variant for the heavier checks: HCA ratio 16 so that ~70 tokens cross
# several HCA and CSA boundaries
FAST = dict(v4fx.V4_PRESET, compress_ratios=[0, 4, 16, 4, 0], index_topk=3)


def make_model(c, seed=0):
    """(Model on exact float64 weights, exact weights) without touching the disk."""
    w = v4fx.random_v4_weights(c, seed)
    with tempfile.TemporaryDirectory() as d:
        exact = v4fx.write_v4_model(d, c, w, block=(32, 32))
        cfg = v4.load_v4_config(d)
    quantized = {n for n, (_, k) in v4fx.v4_tensor_specs(c).items() if k in ("fp8", "fp4")}
    return v4.Model(cfg, v4.V4Weights(exact, cfg.weight_block, quantized)), exact


def rel_err(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------

class TestFormats(unittest.TestCase):
    def test_e8m0(self):
        got = decode_e8m0(np.array([127, 128, 126, 0, 254, 255], np.uint8))
        np.testing.assert_array_equal(got[:5], [1.0, 2.0, 0.5, 2.0 ** -127, 2.0 ** 127])
        self.assertTrue(np.isnan(got[5]))

    def test_fp4_codes_and_nibble_order(self):
        # byte 0x21: low nibble 1 (0.5) is element 0, high nibble 2 (1.0) element 1
        # byte 0xF8: low 8 (-0.0), high 0xF (-6); byte 0x7E: low 0xE (-4), high 7 (6)
        b = np.array([[0x21, 0xF8, 0x7E]], np.uint8).view(np.int8)
        got = decode_fp4_packed(b)
        np.testing.assert_array_equal(got, [[0.5, 1.0, -0.0, -6.0, -4.0, 6.0]])
        self.assertTrue(np.signbit(got[0, 2]))
        codes = np.arange(16).reshape(2, 8)
        np.testing.assert_array_equal(decode_fp4_packed(encode_fp4_packed(codes)),
                                      [[0, .5, 1, 1.5, 2, 3, 4, 6], [-0., -.5, -1, -1.5, -2, -3, -4, -6]])

    def test_round_to_nearest_even(self):
        # e4m3 around 1: spacing 1/8; 1.0625 is a tie between 1 (code 0x38, even) and 1.125 (0x39)
        np.testing.assert_array_equal(quantize_e4m3(np.array([1.0625, 1.1875, -1.0625, 448.0, 500.0, 1e-4])),
                                      [1.0, 1.25, -1.0, 448.0, 448.0, 0.0])
        self.assertEqual(quantize_e4m3(np.array([2.0 ** -9 * 1.5]))[0], 2.0 ** -8)   # subnormal tie -> even
        np.testing.assert_array_equal(quantize_e2m1(np.array([2.5, 5.0, 0.25, 0.75, 1.25, 1.75, 7.0, -2.6])),
                                      [2.0, 4.0, 0.0, 1.0, 1.0, 2.0, 6.0, -3.0])

    def test_pow2_scale(self):
        s = pow2_scale(np.array([448.0, 449.0, 224.0, 1e-9, 300.0]), 448.0, 1e-4)
        np.testing.assert_array_equal(s, [1.0, 2.0, 0.5, 2.0 ** -22, 1.0])
        np.testing.assert_array_equal(pow2_scale(np.array([6.0, 6.01, 3.0, 0.0]), 6.0, 6 * 2.0 ** -126),
                                      [1.0, 2.0, 0.5, 2.0 ** -126])

    def test_fake_quant_blocks(self):
        x = np.array([[1.0, -3.0, 0.1, 0.2, 100.0, 1.0, 0.3]])
        y = fake_quant(x, 4, "e2m1")
        # block [1, -3, .1, .2]: amax 3 -> scale 0.5: 2, -6, 0.2, 0.4 -> 2, -6, 0, 0.5
        np.testing.assert_array_equal(y[0, :4], [1.0, -3.0, 0.0, 0.25])
        # partial block [100, 1, .3]: amax 100 -> scale 32: 3.125 -> 3, 0.03 -> 0, 0.009 -> 0
        np.testing.assert_array_equal(y[0, 4:], [96.0, 0.0, 0.0])
        z = fake_quant(x, 4, "e4m3")
        self.assertEqual(z[0, 4], 96.0)     # scale 1/4: 400 is a tie of 384 (even code 0x7C) and 416
        np.testing.assert_allclose(z, x, rtol=0.07)

    def test_hadamard_matrix(self):
        n = 16
        H = np.array([[(-1) ** bin(i & j).count("1") for j in range(n)] for i in range(n)]) / 4.0
        x = np.random.default_rng(0).standard_normal((3, n))
        np.testing.assert_allclose(hadamard(x), x @ H.T, atol=1e-13)
        np.testing.assert_allclose(hadamard(hadamard(x)), x, atol=1e-13)


# ---------------------------------------------------------------------------
# Fixture layout
# ---------------------------------------------------------------------------

class TestFixture(unittest.TestCase):
    def test_written_tensors_read_back_exactly(self):
        c = dict(v4fx.V4_PRESET)
        w = v4fx.random_v4_weights(c, 3)
        with tempfile.TemporaryDirectory() as d:
            exact = v4fx.write_v4_model(d, c, w, block=(32, 32), shards=2)
            cfg = v4.load_v4_config(d)
            W = v4.V4Weights(d, cfg.weight_block)
            specs = v4fx.v4_tensor_specs(c)
            kinds = {}
            for name, (shape, kind) in specs.items():
                kinds[kind] = kinds.get(kind, 0) + 1
                if kind in ("fp8", "fp4", "bf16", "gate", "head") and len(shape) == 2 and name != "embed.weight":
                    got, quant = W.matrix(name[:-len(".weight")], *shape)
                    self.assertEqual(quant, kind in ("fp8", "fp4"), name)
                elif kind == "tid2eid":
                    got = W.int_table(name, shape)
                else:
                    got = W.tensor(name, shape)
                np.testing.assert_array_equal(got, exact[name], name)
            for kind in ("fp8", "fp4", "tid2eid", "hc_fn", "ape", "bf16", "bias"):
                self.assertGreater(kinds.get(kind, 0), 0, kind)
            # raw layout checks
            dt, arr = W.ck.raw("layers.0.attn.wq_a.scale")
            self.assertEqual((dt, list(arr.shape)), ("F8_E8M0", [2, 2]))       # [48, 64] in 32x32 blocks
            dt, arr = W.ck.raw("layers.0.ffn.experts.0.w2.weight")
            self.assertEqual((dt, list(arr.shape)), ("I8", [64, 32]))
            dt, arr = W.ck.raw("layers.0.ffn.experts.0.w2.scale")
            self.assertEqual((dt, list(arr.shape)), ("F8_E8M0", [64, 2]))
            self.assertEqual(W.ck.raw("layers.0.ffn.gate.tid2eid")[0], "I64")
            self.assertFalse(W.has("layers.2.ffn.gate.tid2eid"))
            self.assertTrue(W.has("layers.2.ffn.gate.bias"))
            self.assertFalse(W.has("layers.0.attn.compressor.ape"))                 # ratio 0
            self.assertEqual(list(W.tensor("layers.2.attn.compressor.ape").shape), [128, 96])
            self.assertEqual(list(W.tensor("layers.1.attn.compressor.ape").shape), [4, 192])
            self.assertEqual(list(W.tensor("layers.1.attn.indexer.compressor.ape").shape), [4, 128])

    def test_config_errors(self):
        good = dict(v4fx.V4_PRESET)
        for change, msg in ((dict(compress_ratios=[0, 4]), "compress_ratios"),
                            (dict(head_dim=80), "multiple of 64"),
                            (dict(index_head_dim=48), "index_head_dim"),
                            (dict(scoring_func="relu"), "scoring_func")):
            with self.assertRaisesRegex(ref.ConfigError, msg):
                v4.parse_v4_config(dict(good, **change))
        d = dict(good)
        del d["hc_mult"]
        with self.assertRaisesRegex(ref.ConfigError, "hc_mult"):
            v4.parse_v4_config(d)


# ---------------------------------------------------------------------------
# mHC
# ---------------------------------------------------------------------------

class TestMHC(unittest.TestCase):
    def test_sinkhorn_doubly_stochastic(self):
        logits = 3.0 * np.random.default_rng(1).standard_normal((5, 4, 4))
        c = v4.sinkhorn(logits, 20, 1e-6)
        self.assertTrue((c > 0).all())
        np.testing.assert_allclose(c.sum(axis=-2), 1.0, atol=1e-5)      # columns (normalised last)
        np.testing.assert_allclose(c.sum(axis=-1), 1.0, atol=1e-3)      # rows
        one = v4.sinkhorn(logits, 1, 1e-6)                               # softmax rows, one column pass
        np.testing.assert_allclose(one.sum(axis=-2), 1.0, atol=1e-4)

    def test_hc_post_orientation(self):
        rng = np.random.default_rng(2)
        res = rng.standard_normal((1, 3, 5))
        f = rng.standard_normal((1, 5))
        comb = np.zeros((1, 3, 3))
        comb[0, 0, 2] = comb[0, 1, 0] = comb[0, 2, 1] = 1.0           # source j -> target k
        post = np.array([[0.5, 1.0, 2.0]])
        out = v4.hc_post(f, res, post, comb)
        np.testing.assert_allclose(out[0, 2], 0.5 * 0 + 2.0 * f[0] + res[0, 0])
        np.testing.assert_allclose(out[0, 0], 0.5 * f[0] + res[0, 1])


# ---------------------------------------------------------------------------
# V4 model behaviour
# ---------------------------------------------------------------------------

class TestV4Model(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m, cls.exact = make_model(FAST, seed=5)
        cls.tokens = list(np.random.default_rng(11).integers(2, 97, 70))
        cls.logits, cls.h = v4.forward(cls.m, cls.tokens)

    def test_incremental_equals_full(self):
        inc = v4.forward_incremental(self.m, self.tokens)
        self.assertLess(rel_err(inc, self.logits), 1e-10)
        self.assertTrue(np.isfinite(self.logits).all())

    def test_causal(self):
        t2 = list(self.tokens[:50]) + [3] * 20
        l2, h2 = v4.forward(self.m, t2)
        np.testing.assert_allclose(l2[:50], self.logits[:50], rtol=1e-12, atol=1e-12)
        mtp = v4.mtp_forward(self.m, self.tokens, self.h)
        mtp2 = v4.mtp_forward(self.m, t2, h2)
        self.assertEqual(mtp.shape, (69, 97))
        np.testing.assert_allclose(mtp2[:49], mtp[:49], rtol=1e-12, atol=1e-12)
        self.assertGreater(np.abs(mtp2[49] - mtp[49]).max(), 1e-6)       # row 49 reads token 50

    def test_window_only_model_ignores_far_tokens(self):
        c = dict(FAST, num_hidden_layers=1, compress_ratios=[0, 0], num_hash_layers=1)
        m, _ = make_model(c, seed=2)
        win = c["sliding_window"]
        a = list(np.random.default_rng(3).integers(2, 97, 30))
        b = [5] * 10 + a[10:]                                             # differ only before position 10
        la, _ = v4.forward(m, a)
        lb, _ = v4.forward(m, b)
        np.testing.assert_allclose(la[10 + win - 1:], lb[10 + win - 1:], rtol=1e-12, atol=1e-12)
        self.assertGreater(np.abs(la[10 + win - 2] - lb[10 + win - 2]).max(), 1e-6)
        # an HCA layer (ratio 16) does see them once a block is complete
        m2, _ = make_model(dict(c, compress_ratios=[16, 0]), seed=2)
        la, _ = v4.forward(m2, a)
        lb, _ = v4.forward(m2, b)
        self.assertGreater(np.abs(la[10 + win:] - lb[10 + win:]).max(), 1e-6)
        np.testing.assert_allclose(la[10 + win - 1:15], lb[10 + win - 1:15], rtol=1e-12, atol=1e-12)

    def test_hash_routing_uses_tid2eid(self):
        m = self.m
        x = np.random.default_rng(4).standard_normal((6, 64))
        toks = [3, 3, 17, 42, 96, 0]
        ids, wts = v4.route(m, "layers.0.ffn", 0, x, toks)
        table = self.exact["layers.0.ffn.gate.tid2eid"]
        np.testing.assert_array_equal(ids, table[toks])
        np.testing.assert_allclose(wts.sum(axis=1), m.cfg.route_scale)
        logits = x @ self.exact["layers.0.ffn.gate.weight"].T
        sc = np.sqrt(np.log1p(np.exp(logits)))
        want = np.take_along_axis(sc, table[toks], 1)
        np.testing.assert_allclose(wts, want / want.sum(1, keepdims=True) * m.cfg.route_scale)
        ids2, _ = v4.route(m, "layers.2.ffn", 2, x, toks)                # bias-selected layer
        sc_b = np.sqrt(np.log1p(np.exp(x @ self.exact["layers.2.ffn.gate.weight"].T)))
        choice = sc_b + self.exact["layers.2.ffn.gate.bias"]
        np.testing.assert_array_equal(np.sort(ids2, 1), np.sort(np.argsort(-choice, 1)[:, :2], 1))

    def test_indexer_selection_matters(self):
        big, _ = make_model(dict(FAST, index_topk=1000), seed=5)
        lb, _ = v4.forward(big, self.tokens)
        # while a query has at most index_topk (3) complete blocks (positions < 16) nothing changes
        np.testing.assert_allclose(lb[:15], self.logits[:15], rtol=1e-12, atol=1e-12)
        self.assertGreater(rel_err(lb[20:], self.logits[20:]), 1e-4)

    def test_options_change_numbers(self):
        t = self.tokens[:24]
        base, _ = v4.forward(self.m, t)
        for opts in (v4.Options(act_quant=True), v4.Options(initial_release=True)):
            m2 = v4.Model(self.m.cfg, self.m.w, opts)
            other, _ = v4.forward(m2, t)
            err = rel_err(other, base)
            self.assertGreater(err, 1e-6)
            self.assertLess(err, 1.0)


# ---------------------------------------------------------------------------
# V3.2
# ---------------------------------------------------------------------------

def cfg_v32(**over):
    return ref.parse_config(dict(fx.PRESETS["v32"], **over))


class TestV32(unittest.TestCase):
    def test_indexer_rope_is_half_split(self):
        rng = np.random.default_rng(6)
        x = rng.standard_normal((5, 3, 8))
        pos = np.arange(5) * 7
        f = 1.0 / (10000.0 ** (np.arange(0, 8, 2) / 8))
        got = v32.rope_half_split(x, pos, f)
        z = (x[..., :4] + 1j * x[..., 4:]) * np.exp(1j * pos[:, None, None] * f)   # pairs (i, i + 4)
        np.testing.assert_allclose(got, np.concatenate([z.real, z.imag], -1), atol=1e-12)
        self.assertGreater(np.abs(got - ref.apply_rope_interleaved(x, pos, f)).max(), 1e-3)

    def test_index_scores_layout(self):
        # independent loop form: rope on the FIRST qk_rope_head_dim dims, pairs (i, i + r/2)
        cfg = cfg_v32()
        w = ref.DictWeights(fx.random_weights(fx.PRESETS["v32"], 1))
        T, D = 6, cfg.hidden_size
        rng = np.random.default_rng(7)
        x, qr = rng.standard_normal((T, D)), rng.standard_normal((T, cfg.q_lora_rank))
        p = "model.layers.0.self_attn.indexer"
        got = v32.index_scores(cfg, w, p, x, qr, np.arange(T))
        nh, ih, rd = 8, 128, cfg.qk_rope_head_dim
        f, _ = ref.rope_params(cfg)

        def rot(v, s):
            z = (v[:rd // 2] + 1j * v[rd // 2:rd]) * np.exp(1j * s * f)
            return np.concatenate([z.real, z.imag, v[rd:]])

        H = np.array([[(-1) ** bin(i & j).count("1") for j in range(ih)] for i in range(ih)]) / np.sqrt(ih)
        k = x @ w.get(p + ".wk.weight").T
        k = (k - k.mean(1, keepdims=True)) / np.sqrt(k.var(1, keepdims=True) + 1e-6)
        k = k * w.get(p + ".k_norm.weight") + w.get(p + ".k_norm.bias")
        q = (qr @ w.get(p + ".wq_b.weight").T).reshape(T, nh, ih)
        hw = x @ w.get(p + ".weights_proj.weight").T / np.sqrt(nh * ih)
        want = np.zeros((T, T))
        for s in range(T):
            for t in range(T):
                kt = fake_quant(H @ rot(k[t], t), 128, "e4m3", False)
                for hh in range(nh):
                    qs = fake_quant(H @ rot(q[s, hh], s), 128, "e4m3", False)
                    want[s, t] += max(qs @ kt, 0.0) * hw[s, hh]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)

    def test_large_topk_is_plain_v3_and_masks(self):
        weights = ref.DictWeights(fx.random_weights(fx.PRESETS["v32"], 2))
        toks = list(np.random.default_rng(8).integers(0, 97, 24))
        big = ref.forward(cfg_v32(index_topk=64), weights, toks)
        as_v3 = ref.forward(ref.parse_config(dict(fx.PRESETS["v32"], model_type="deepseek_v3")), weights, toks)
        np.testing.assert_allclose(big, as_v3, rtol=1e-12, atol=1e-12)
        small = ref.forward(cfg_v32(), weights, toks)                        # index_topk 8
        np.testing.assert_allclose(small[:8], as_v3[:8], rtol=1e-12, atol=1e-12)
        self.assertGreater(rel_err(small[8:], as_v3[8:]), 1e-4)
        cfg = cfg_v32(index_topk=5)
        x = np.random.default_rng(9).standard_normal((12, cfg.hidden_size))
        qr = np.random.default_rng(10).standard_normal((12, cfg.q_lora_rank))
        mask = v32.index_mask(cfg, weights, "model.layers.1.self_attn.indexer", x, qr, np.arange(12))
        np.testing.assert_array_equal((mask == 0).sum(1), np.minimum(5, np.arange(1, 13)))
        self.assertTrue(np.isinf(mask[np.triu_indices(12, 1)]).all())

    def test_config_errors(self):
        with self.assertRaisesRegex(ref.ConfigError, "index_head_dim"):
            cfg_v32(index_head_dim=96)
        with self.assertRaisesRegex(ref.ConfigError, "q_lora_rank"):
            cfg_v32(q_lora_rank=None)


# ---------------------------------------------------------------------------
# Chat encoding goldens
# ---------------------------------------------------------------------------

class TestChatEncoding(unittest.TestCase):
    def test_goldens_up_to_date(self):
        sys.path.insert(0, os.path.join(HERE, "chat_encoding"))
        import gen_chat_goldens
        self.assertEqual(gen_chat_goldens.main(["--check"]), 0)

    def test_hand_cases(self):
        sys.path.insert(0, os.path.join(HERE, "chat_encoding"))
        from dsv_chat import render_v32, render_v4
        B, E = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
        msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "reasoning_content": "r", "content": "a"},
                {"role": "user", "content": "q"}]
        self.assertEqual(render_v32(msgs, True), f"{B}<｜User｜>hi<｜Assistant｜></think>a{E}<｜User｜>q<｜Assistant｜><think>")
        self.assertEqual(render_v4(msgs, False), f"{B}<｜User｜>hi<｜Assistant｜></think>a{E}<｜User｜>q<｜Assistant｜></think>")
        self.assertEqual(render_v4(msgs, True, drop_thinking=False),
                         f"{B}<｜User｜>hi<｜Assistant｜><think>r</think>a{E}<｜User｜>q<｜Assistant｜><think>")
        call = [{"id": "1", "type": "function", "function": {"name": "f", "arguments": '{"a": "x", "n": 2}'}}]
        got = render_v4([{"role": "user", "content": "u"}, {"role": "assistant", "content": "", "tool_calls": call},
                         {"role": "tool", "tool_call_id": "1", "content": "ok"}], False)
        self.assertEqual(got, f'{B}<｜User｜>u<｜Assistant｜></think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name="f">\n'
                              f'<｜DSML｜parameter name="a" string="true">x</｜DSML｜parameter>\n'
                              f'<｜DSML｜parameter name="n" string="false">2</｜DSML｜parameter>\n</｜DSML｜invoke>\n'
                              f'</｜DSML｜tool_calls>{E}<｜User｜><tool_result>ok</tool_result><｜Assistant｜></think>')


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

class TestCLI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.v4dir = os.path.join(cls.tmp.name, "v4")
        cls.v32dir = os.path.join(cls.tmp.name, "v32")
        for preset, d, extra in (("v4", cls.v4dir, []), ("v32", cls.v32dir, ["--fp8"])):
            subprocess.run([PY, os.path.join(HERE, "make_ref_fixture.py"), "--out", d, "--preset", preset] + extra,
                           check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def cli(self, *args, script="deepseek_ref.py"):
        return subprocess.run([PY, os.path.join(HERE, script)] + list(args), capture_output=True, text=True)

    def test_v4_cli(self):
        out = os.path.join(self.tmp.name, "a.npy")
        mtp = os.path.join(self.tmp.name, "m.npy")
        inc = os.path.join(self.tmp.name, "i.npy")
        toks = ",".join(str(t) for t in np.random.default_rng(12).integers(2, 97, 14))
        r = self.cli("--model", self.v4dir, "--tokens", toks, "--decode", "2", "--out", out, "--mtp-out", mtp)
        self.assertEqual(r.returncode, 0, r.stderr)
        a, b = np.load(out), np.load(mtp)
        self.assertEqual((a.shape, b.shape, a.dtype), ((16, 97), (15, 97), np.float32))
        r = self.cli("--model", self.v4dir, "--tokens", toks, "--decode", "2", "--out", inc, "--incremental",
                     script="deepseek_v4_ref.py")
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_allclose(np.load(inc), a, rtol=1e-5, atol=1e-5)
        with open(os.path.join(self.v4dir, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        self.assertEqual(cfg["quantization_config"]["weight_block_size"], [32, 32])
        r = self.cli("--model", self.v4dir, "--tokens", "3,500", "--out", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("500", r.stderr)

    def test_v32_cli_and_option_errors(self):
        out = os.path.join(self.tmp.name, "b.npy")
        r = self.cli("--model", self.v32dir, "--tokens", "3,17,42,5,9,11,2,8,4,1,60", "--decode", "1", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(out).shape, (12, 97))
        with open(os.path.join(self.v32dir, "config.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["quantization_config"]["scale_fmt"], "ue8m0")
        r = self.cli("--model", self.v32dir, "--tokens", "3,17", "--out", out, "--mtp-out", out)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
