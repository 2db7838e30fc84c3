"""Bad DeepSeek-V4 configs and checkpoints: each must end with exit code 1 and an error
that names the field or tensor (a numpy-written V4 fixture, edited per case). Plus the
text path of `run -p` on the v4-demo preset (real tokenizer, random weights)."""
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

DSINFER = os.environ.get("DSINFER", "dsinfer")
REFERENCE = pathlib.Path(__file__).resolve().parent.parent / "reference"


def read_safetensors(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), bytearray(data[8 + n:])


def write_safetensors(path, header, payload):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(payload))


class CliBadV4(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dsinfer-bad-v4-"))
        cls.good = cls.tmp / "good"
        subprocess.run([sys.executable, REFERENCE / "make_ref_fixture.py", "--preset", "v4", "--out", cls.good],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def copy(self, name):
        target = self.tmp / name
        shutil.copytree(self.good, target)
        return target

    def expect_error(self, model, *fragments):
        result = subprocess.run([DSINFER, "logits", "--model", model, "--tokens", "3,17,42",
                                 "--out", self.tmp / "out.npy"], capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 1, f"expected exit 1, got {result.returncode}\n{result.stderr}")
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)

    def edit_config(self, name, edit):
        model = self.copy(name)
        path = model / "config.json"
        config = json.loads(path.read_text())
        edit(config)
        path.write_text(json.dumps(config))
        return model

    def edit_tensors(self, name, edit):
        model = self.copy(name)
        path = model / "model.safetensors"
        header, payload = read_safetensors(path)
        edit(header, payload)
        write_safetensors(path, header, payload)
        return model

    def test_good_fixture_runs(self):
        result = subprocess.run([DSINFER, "logits", "--model", self.good, "--tokens", "3,17,42",
                                 "--out", self.tmp / "good.npy"], capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_run_text_prompt(self):
        demo = self.tmp / "demo"
        subprocess.run([DSINFER, "make-test-model", "--preset", "v4-demo", "--out", demo], check=True,
                       capture_output=True)
        result = subprocess.run([DSINFER, "run", "--model", demo, "-p", "Hello", "-n", "4"], capture_output=True,
                                text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_missing_field(self):
        self.expect_error(self.edit_config("no_hc", lambda c: c.pop("hc_sinkhorn_iters")), "'hc_sinkhorn_iters'")

    def test_short_compress_ratios(self):
        self.expect_error(self.edit_config("ratios", lambda c: c.update(compress_ratios=[0, 4])), "'compress_ratios'")

    def test_index_head_dim_not_power_of_two(self):
        self.expect_error(self.edit_config("ihd", lambda c: c.update(index_head_dim=48)), "'index_head_dim'")

    def test_o_groups_not_dividing(self):
        self.expect_error(self.edit_config("groups", lambda c: c.update(o_groups=5)), "'o_groups'")

    def test_mtp_block_without_ratio(self):
        # The main model still runs; asking for the MTP logits names the missing entry.
        model = self.edit_config("mtp_ratio", lambda c: c.update(compress_ratios=[0, 4, 128, 4]))
        result = subprocess.run([DSINFER, "logits", "--model", model, "--tokens", "3,17,42", "--out",
                                 self.tmp / "main.npy"], capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = subprocess.run([DSINFER, "logits", "--model", model, "--tokens", "3,17,42", "--out",
                                 self.tmp / "main.npy", "--mtp-out", self.tmp / "mtp.npy"],
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("compress_ratios", result.stderr)

    def test_missing_scale(self):
        def edit(header, payload):
            del header["layers.0.attn.wq_a.scale"]
        self.expect_error(self.edit_tensors("no_scale", edit), "layers.0.attn.wq_a.scale")

    def test_misshaped_fp4_scale(self):
        def edit(header, payload):
            entry = header["layers.0.ffn.experts.0.w1.scale"]
            rows, cols = entry["shape"]
            entry["shape"] = [cols, rows]
        self.expect_error(self.edit_tensors("fp4_scale", edit), "layers.0.ffn.experts.0.w1.scale")

    def test_nan_scale_code(self):
        def edit(header, payload):
            begin, _ = header["layers.1.ffn.experts.0.w2.scale"]["data_offsets"]
            payload[begin] = 0xFF
        self.expect_error(self.edit_tensors("nan_scale", edit), "layers.1.ffn.experts.0.w2.scale", "NaN")

    def test_missing_tensor(self):
        def edit(header, payload):
            del header["layers.2.attn.compressor.ape"]
        self.expect_error(self.edit_tensors("no_ape", edit), "layers.2.attn.compressor.ape")

    def test_hash_table_expert_out_of_range(self):
        def edit(header, payload):
            begin, _ = header["layers.0.ffn.gate.tid2eid"]["data_offsets"]
            payload[begin:begin + 8] = struct.pack("<q", 99)
        self.expect_error(self.edit_tensors("tid2eid", edit), "layers.0.ffn.gate.tid2eid", "expert id 99")


if __name__ == "__main__":
    unittest.main()
