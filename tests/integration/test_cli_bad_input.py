"""Bad input to the CLI: every case must end with a clear error and exit code 1,
never a crash (a signal), a hang or an out-of-bounds read (the sanitizer build runs
these too)."""
import json
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile
import unittest

DSINFER = os.environ.get("DSINFER", "dsinfer")


def read_safetensors(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_safetensors(path, header, payload):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + payload)


class CliBadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dsinfer-bad-input-"))
        cls.good = cls.tmp / "good"
        subprocess.run([DSINFER, "make-test-model", "--preset", "v2-lite-tiny", "--out", cls.good],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def model_copy(self, name):
        target = self.tmp / name
        shutil.copytree(self.good, target)
        return target

    def expect_error(self, args, *fragments):
        result = subprocess.run([DSINFER, *map(str, args)], capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 1, f"expected exit 1, got {result.returncode}\n{result.stderr}")
        self.assertIn("dsinfer: error:", result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        return result.stderr

    def logits(self, model, tokens="3,17,42"):
        return ["logits", "--model", model, "--tokens", tokens, "--out", self.tmp / "out.npy"]

    def edit_header(self, name, edit):
        model = self.model_copy(name)
        path = model / "model.safetensors"
        header, payload = read_safetensors(path)
        edit(header)
        write_safetensors(path, header, payload)
        return model

    def test_truncated_data(self):
        model = self.model_copy("truncated_data")
        path = model / "model.safetensors"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        self.expect_error(self.logits(model), "model.safetensors", "outside the")

    def test_truncated_header(self):
        model = self.model_copy("truncated_header")
        path = model / "model.safetensors"
        path.write_bytes(path.read_bytes()[:100])
        self.expect_error(self.logits(model), "truncated file?")

    def test_empty_file(self):
        model = self.model_copy("empty")
        (model / "model.safetensors").write_bytes(b"")
        self.expect_error(self.logits(model), "too short")

    def test_header_not_json(self):
        model = self.model_copy("not_json")
        path = model / "model.safetensors"
        path.write_bytes(struct.pack("<Q", 8) + b"{garbage" + b"\0" * 64)
        self.expect_error(self.logits(model), "not valid JSON")

    def test_offsets_lie(self):
        def edit(header):
            entry = header["model.norm.weight"]
            entry["data_offsets"][1] += 10**9
        model = self.edit_header("offsets_lie", edit)
        self.expect_error(self.logits(model), "model.norm.weight", "data_offsets")

    def test_shape_lies_about_size(self):
        def edit(header):
            header["model.norm.weight"]["shape"] = [1000]
        model = self.edit_header("shape_lies", edit)
        self.expect_error(self.logits(model), "model.norm.weight", "bytes")

    def test_missing_tensor(self):
        def edit(header):
            header["renamed.weight"] = header.pop("model.layers.1.mlp.experts.3.up_proj.weight")
        model = self.edit_header("missing_tensor", edit)
        self.expect_error(self.logits(model), "model.layers.1.mlp.experts.3.up_proj.weight", "missing")

    def test_misshaped_tensor(self):
        def edit(header):
            entry = header["model.layers.0.self_attn.o_proj.weight"]
            entry["shape"] = list(reversed(entry["shape"]))
        model = self.edit_header("misshaped", edit)
        self.expect_error(self.logits(model), "o_proj.weight", "expected [64,128] bf16|f16|f32", "found [128,64] bf16")

    def test_wrong_dtype(self):
        def edit(header):
            entry = header["model.layers.0.input_layernorm.weight"]
            entry["dtype"] = "I16"
        model = self.edit_header("wrong_dtype", edit)
        self.expect_error(self.logits(model), "unsupported dtype I16")

    def test_token_out_of_range(self):
        self.expect_error(self.logits(self.good, "3,512,4"), "token id 512", "out of range [0, 512)")

    def test_bad_token_list(self):
        self.expect_error(self.logits(self.good, "3,x,4"), "'x'")
        self.expect_error(self.logits(self.good, "3,-1"), "'-1'")

    def test_unknown_instruction_set(self):
        # The message names what this CPU can run; "generic" runs everywhere.
        self.expect_error([*self.logits(self.good), "--isa", "no-such-isa"], "instruction set 'no-such-isa'",
                          "this one runs: generic")

    def edit_config(self, name, **fields):
        model = self.model_copy(name)
        config = json.loads((model / "config.json").read_text())
        config.update(fields)
        (model / "config.json").write_text(json.dumps(config))
        return model

    def test_more_tokens_than_context(self):
        model = self.edit_config("short_context", max_position_embeddings=4)
        self.expect_error(self.logits(model, "1,2,3,4,5"), "max_position_embeddings=4")
        self.expect_error(["logits", "--model", model, "--tokens", "1,2", "--decode", "5", "--out", self.tmp / "o.npy"],
                          "max_position_embeddings=4")
        self.expect_error(["run", "--model", model, "--prompt-tokens", "1,2", "-n", "8"], "context of 4")

    def test_unknown_model_type(self):
        model = self.edit_config("unknown_type", model_type="llama")
        self.expect_error(self.logits(model), "model_type 'llama'")

    def test_inconsistent_config(self):
        model = self.edit_config("bad_groups", n_group=3)
        self.expect_error(self.logits(model), "'n_group'")
        model = self.edit_config("bad_hidden", hidden_size="64")
        self.expect_error(self.logits(model), "'hidden_size'")
        model = self.edit_config("config_vs_weights", hidden_size=96)
        self.expect_error(self.logits(model), "expected [512,96]")

    def test_missing_folder(self):
        self.expect_error(self.logits(self.tmp / "does-not-exist"), "config.json")

    # GGUF files (dsinfer quantize writes the good one; each case breaks a copy).
    def gguf_copy(self, name):
        good = self.tmp / "good.gguf"
        if not good.exists():
            subprocess.run([DSINFER, "quantize", "--model", self.good, "--type", "q8_0", "--out", good],
                           check=True, capture_output=True)
        target = self.tmp / name
        shutil.copy(good, target)
        return target

    def test_gguf_truncated(self):
        path = self.gguf_copy("truncated.gguf")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        self.expect_error(self.logits(path), "truncated.gguf", "extends past the end")
        path.write_bytes(path.read_bytes()[:40])
        self.expect_error(self.logits(path), "truncated.gguf", "34 metadata entries", "room for at most 1")

    def test_gguf_not_gguf(self):
        path = self.tmp / "not.gguf"
        path.write_bytes(b"PK\x03\x04" + b"\0" * 64)
        self.expect_error(self.logits(path), "not a GGUF file")

    def retyped_embedding(self, ggml_type):
        path = self.gguf_copy(f"type{ggml_type}.gguf")
        data = bytearray(path.read_bytes())
        name = b"token_embd.weight"
        at = data.index(struct.pack("<Q", len(name)) + name) + 8 + len(name)
        (n_dims,) = struct.unpack_from("<I", data, at)
        struct.pack_into("<I", data, at + 4 + 8 * n_dims, ggml_type)
        path.write_bytes(bytes(data))
        return path

    def test_gguf_unsupported_tensor_type(self):
        self.expect_error(self.logits(self.retyped_embedding(34)), "token_embd.weight", "tq1_0", "does not read")

    def test_gguf_block_type_that_does_not_fit_the_rows(self):
        # The test model's 64-value rows cannot hold Q3_K's 256-value super-blocks.
        self.expect_error(self.logits(self.retyped_embedding(11)), "token_embd.weight", "rows of 64 values",
                          "256-value q3_k blocks")

    def test_gguf_wrong_architecture(self):
        path = self.gguf_copy("llama.gguf")
        data = path.read_bytes()
        at = data.index(b"deepseek2")  # the first is general.architecture's value
        path.write_bytes(data[:at] + b"llamaxxxx" + data[at + 9:])
        self.expect_error(self.logits(path), "general.architecture is 'llamaxxxx'")

    def test_gguf_missing_tensor(self):
        path = self.gguf_copy("renamed.gguf")
        data = path.read_bytes()
        old = b"blk.1.ffn_up_exps.weight"
        path.write_bytes(data.replace(old, b"blk.1.ffn_up_exps.wEIGHT"))
        self.expect_error(self.logits(path), "model.layers.1.mlp.experts.0.up_proj.weight", "missing")

    def test_quantize_bad_arguments(self):
        self.expect_error(["quantize", "--model", self.gguf_copy("in.gguf"), "--type", "q8_0",
                           "--out", self.tmp / "x.gguf"], "not a GGUF file")
        self.expect_error(["quantize", "--model", self.good, "--type", "q8_0", "--out", self.tmp / "x.bin"],
                          "must be a .gguf file")

    def test_bad_prefill(self):
        self.expect_error(["logits", "--model", self.good, "--tokens", "1,2", "--prefill", "3",
                           "--out", self.tmp / "o.npy"], "--prefill 3")

    def test_option_out_of_range(self):
        # Each says which option and what it wants, with the usual prefix and exit code 1.
        self.expect_error(["bench", "--model", self.good, "-t", "-3"], "--threads: must be at least 0, got -3")
        self.expect_error(["run", "--model", self.good, "--temperature", "-0.5"], "--temperature: must be at least 0")
        self.expect_error(["run", "--model", self.good, "--top-k", "x"], "--top-k: 'x' is not a number")
        self.expect_error(["serve", "--model", self.good, "--max-batch", "0"], "--max-batch: must be at least 1, got 0")
        self.expect_error(["serve", "--model", self.good, "--max-queue", "0"], "--max-queue: must be at least 1")
        self.expect_error(["run", "--model", self.good, "--no-such-option"], "--no-such-option", "--help")

    def test_help_is_not_an_error(self):
        result = subprocess.run([DSINFER, "bench", "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0)
        self.assertIn("--threads", result.stdout)


if __name__ == "__main__":
    unittest.main()
