"""A .gguf file alone runs the text commands, with the vocabulary it carries.

The oracles: the Hugging Face folder the file was quantized from (`chat-template` must
render the same prompt, `tokenize` give the same ids), and for make-test-model's GGUF
vocabulary, which has no merges, the bytes of the text (token 2 + b stands for byte b).
"""
import json
import pathlib
import shutil
import subprocess
import tempfile
import unittest

from dsinfer_cli import DSINFER, run
from gguf_edit import INT32, STRING, UINT32, GgufFile


class GgufTokenizerCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dsinfer-gguf-tok-"))
        cls.demo = cls.tmp / "demo"
        cls.demo_gguf = cls.tmp / "demo.gguf"
        cls.tiny_gguf = cls.tmp / "tiny.gguf"
        for args in (["make-test-model", "--preset", "demo", "--out", cls.demo],
                     ["quantize", "--model", cls.demo, "--type", "q8_0", "--out", cls.demo_gguf],
                     ["make-test-model", "--preset", "v3-tiny", "--out", cls.tiny_gguf]):
            subprocess.run([DSINFER, *map(str, args)], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def expect_ok(self, result):
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        return result.stdout.decode()

    def test_tokenize_matches_the_folder(self):
        lines = "".join(json.dumps(t) + "\n" for t in
                        ["Hello, world!", "<｜User｜>hi<｜Assistant｜>", "数字 12345\n\n  end", "é😀"])
        for flags in ([], ["--add-special"], ["--split-special"]):
            folder = self.expect_ok(run("tokenize", *flags, "--model", self.demo, stdin=lines))
            gguf = self.expect_ok(run("tokenize", *flags, "--model", self.demo_gguf, stdin=lines))
            self.assertEqual(gguf, folder, flags)
        ids = "[0,19923,14,2058,3,1]\n"
        self.assertEqual(self.expect_ok(run("detokenize", "--model", self.demo_gguf, stdin=ids)),
                         self.expect_ok(run("detokenize", "--model", self.demo, stdin=ids)))

    def test_chat_template_matches_the_folder(self):
        messages = json.dumps([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
                               {"role": "assistant", "content": "hello"}, {"role": "user", "content": "2+2?"}])
        folder = self.expect_ok(run("chat-template", "--add-generation-prompt", "--model", self.demo, stdin=messages))
        gguf = self.expect_ok(run("chat-template", "--add-generation-prompt", "--model", self.demo_gguf,
                                  stdin=messages))
        self.assertEqual(gguf, folder)
        self.assertIn("<｜Assistant｜>", gguf)

    def test_run_with_text_is_run_with_its_ids(self):
        text = self.expect_ok(run("run", "--model", self.demo_gguf, "-p", "Hello there", "-n", "6"))
        ids = json.loads(self.expect_ok(run("tokenize", "--add-special", "--model", self.demo_gguf,
                                            stdin='"Hello there"\n')))["ids"]
        generated = self.expect_ok(run("run", "--model", self.demo_gguf, "--prompt-tokens",
                                       ",".join(map(str, ids)), "-n", "6")).strip()
        decoded = json.loads(self.expect_ok(run("detokenize", "--model", self.demo_gguf,
                                                stdin="[" + generated + "]\n")))
        self.assertEqual(text, decoded + "\n")

    def test_chat_replies_from_a_gguf_file(self):
        out = self.expect_ok(run("chat", "--model", self.demo_gguf, "-n", "4", "--temperature", "0", stdin="hi\n"))
        self.assertTrue(out.strip(), out)

    def test_bytes_of_a_vocabulary_without_merges(self):
        text = "Hello é\n"
        out = self.expect_ok(run("tokenize", "--add-special", "--model", self.tiny_gguf, stdin=json.dumps(text) + "\n"))
        self.assertEqual(json.loads(out)["ids"], [0] + [2 + b for b in text.encode()])

    def test_inspect_names_the_tokenizer(self):
        for model in (self.demo, self.demo_gguf):
            out = self.expect_ok(run("inspect", "--model", model))
            self.assertIn("BOS 0 <｜begin▁of▁sentence｜>, replies end at 1 <｜end▁of▁sentence｜>, chat template yes", out,
                          model)
        tiny = self.tmp / "tiny-folder"
        subprocess.run([DSINFER, "make-test-model", "--preset", "v3-tiny", "--out", str(tiny)], check=True,
                       capture_output=True)
        self.assertIn("tokenizer         none: cannot open", self.expect_ok(run("inspect", "--model", tiny)))

    def greedy(self, model, *args):
        return self.expect_ok(run("run", "--model", model, *args, "-n", "6", "--temperature", "0")).strip()

    def end_case(self, model):
        """The greedy ids `model` gives after "Hello there", the third of them (to be made an
        end id), and the text of the two before it."""
        prompt = json.loads(self.expect_ok(run("tokenize", "--add-special", "--model", model,
                                               stdin='"Hello there"\n')))["ids"]
        ids = self.greedy(model, "--prompt-tokens", ",".join(map(str, prompt))).split(",")
        self.assertNotIn(ids[2], ids[:2])
        two = json.loads(self.expect_ok(run("detokenize", "--model", model, stdin="[" + ",".join(ids[:2]) + "]\n")))
        self.assertNotEqual(self.greedy(model, "-p", "Hello there"), two.strip())  # six tokens: more than two
        return int(ids[2]), two.strip()  # greedy() strips the printed text

    def test_generation_ends_at_the_models_end_ids(self):
        # `run -p` must stop before a token the model names an end id: from the folder
        # (generation_config.json's eos_token_id, a number or a list) and from the GGUF file
        # (tokenizer.ggml.eot_token_id).
        end, two = self.end_case(self.demo)
        folder = self.tmp / "demo-end"
        shutil.copytree(self.demo, folder)
        config = json.loads((folder / "generation_config.json").read_text())
        for eos in (end, [1, end]):
            config["eos_token_id"] = eos
            (folder / "generation_config.json").write_text(json.dumps(config))
            self.assertEqual(self.greedy(folder, "-p", "Hello there"), two, eos)
        config["eos_token_id"] = "one"
        (folder / "generation_config.json").write_text(json.dumps(config))
        result = run("run", "--model", folder, "-p", "hi", "-n", "1")
        self.assertEqual(result.returncode, 1)
        self.assertIn("eos_token_id must be a token id", result.stderr.decode())

        end, two = self.end_case(self.demo_gguf)
        gguf = GgufFile(self.demo_gguf.read_bytes())
        gguf.metadata.append(("tokenizer.ggml.eot_token_id", UINT32, end))
        path = self.tmp / "demo-eot.gguf"
        path.write_bytes(gguf.to_bytes())
        self.assertEqual(self.greedy(path, "-p", "Hello there"), two)

    def edited(self, name, edit):
        gguf = GgufFile(self.tiny_gguf.read_bytes())
        gguf.metadata = [entry for entry in (edit(*e) for e in gguf.metadata) if entry]
        path = self.tmp / name
        path.write_bytes(gguf.to_bytes())
        return path

    def expect_error(self, path, *needles):
        for args in (["run", "--model", path, "-p", "hi", "-n", "1"], ["tokenize", "--model", path]):
            result = run(*args, stdin='"hi"\n')
            self.assertEqual(result.returncode, 1, (args, result.stdout, result.stderr))
            for needle in needles:
                self.assertIn(needle, result.stderr.decode())

    def test_bad_vocabularies_are_errors(self):
        self.expect_error(self.edited("pre.gguf", lambda k, t, v: (k, t, "gpt-4o" if k == "tokenizer.ggml.pre" else v)),
                          "tokenizer.ggml.pre is 'gpt-4o'")
        self.expect_error(self.edited("novocab.gguf", lambda k, t, v: None if k.startswith("tokenizer.") else (k, t, v)),
                          "no vocabulary")
        self.expect_error(self.edited("types.gguf", lambda k, t, v: (k, t, (INT32, v[1][:-1]))
                                      if k == "tokenizer.ggml.token_type" else (k, t, v)),
                          "one type per token (512)")
        self.expect_error(self.edited("tokens.gguf", lambda k, t, v: (k, INT32, 7)
                                      if k == "tokenizer.ggml.tokens" else (k, t, v)),
                          "tokenizer.ggml.tokens must be a non-empty array of strings")
        self.expect_error(self.edited("merge.gguf", lambda k, t, v: (k, t, (STRING, ["Ā"]))
                                      if k == "tokenizer.ggml.merges" else (k, t, v)),
                          "merge")


if __name__ == "__main__":
    unittest.main()
