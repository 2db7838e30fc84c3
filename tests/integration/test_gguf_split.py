"""A model split by gguf-split into PREFIX-0000i-of-0000N.gguf shards, as the large
DeepSeek GGUF quants are published, runs from its first shard exactly as the whole file
does. The oracle: the same file unsplit (`logits` bitwise equal, the same token ids),
the shards written by tests/integration/gguf_edit.py (its own reading of gguf-split's
layout). Broken sets of shards are errors that say what to do.
"""
import pathlib
import shutil
import subprocess
import tempfile
import unittest

from dsinfer_cli import DSINFER, run
from gguf_edit import INT32, GgufFile


class GgufSplit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dsinfer-gguf-split-"))
        cls.whole = cls.tmp / "whole.gguf"
        subprocess.run([DSINFER, "make-test-model", "--preset", "v3-tiny", "--out", cls.whole], check=True,
                       capture_output=True)
        cls.original = GgufFile(cls.whole.read_bytes())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def write_shards(self, name, shards):
        folder = self.tmp / name
        folder.mkdir()
        for i, shard in enumerate(shards):
            (folder / f"model-{i + 1:05d}-of-{len(shards):05d}.gguf").write_bytes(shard.to_bytes())
        return folder, folder / f"model-00001-of-{len(shards):05d}.gguf"

    def logits(self, model, out):
        result = run("logits", "--model", model, "--tokens", "5,9,200,7", "--decode", "2", "--out", out)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        return out.read_bytes()

    def expect_error(self, model, *needles):
        result = run("logits", "--model", model, "--tokens", "1", "--out", self.tmp / "x.npy")
        self.assertEqual(result.returncode, 1, result.stderr.decode())
        for needle in needles:
            self.assertIn(needle, result.stderr.decode())

    def test_shards_give_the_logits_of_the_whole_file(self):
        whole = self.logits(self.whole, self.tmp / "whole.npy")
        for name, shards in (("three", self.original.split(3)),
                             ("empty-first", self.original.split(3, first_without_tensors=True)),
                             ("one", self.original.split(1))):
            _, first = self.write_shards(name, shards)
            self.assertEqual(self.logits(first, self.tmp / f"{name}.npy"), whole, name)

    def test_text_commands_read_the_first_shards_vocabulary(self):
        _, first = self.write_shards("text", self.original.split(2, first_without_tensors=True))
        text = '"Hello, world"\n'
        shards = run("tokenize", "--add-special", "--model", first, stdin=text)
        self.assertEqual(shards.returncode, 0, shards.stderr.decode())
        self.assertEqual(shards.stdout, run("tokenize", "--add-special", "--model", self.whole, stdin=text).stdout)

    def test_broken_sets_of_shards_are_errors(self):
        folder, first = self.write_shards("broken", self.original.split(3))
        self.expect_error(folder / "model-00002-of-00003.gguf", "shard 2 of 3", "give the first shard",
                          "model-00001-of-00003.gguf")
        renamed = folder / "first.gguf"
        shutil.copy(first, renamed)
        self.expect_error(renamed, "does not end in -00001-of-00003.gguf")
        third = folder / "model-00003-of-00003.gguf"
        third.rename(folder / "aside.gguf")
        self.expect_error(first, "shard 3 of 3", "model-00003-of-00003.gguf")
        shutil.copy(folder / "model-00002-of-00003.gguf", third)
        self.expect_error(first, "split.no 1 and split.count 3, expected 2 and 3")

        shards = self.original.split(3)
        shards[2].tensors[0] = (shards[1].tensors[0][0],) + shards[2].tensors[0][1:]
        _, first = self.write_shards("duplicate", shards)
        self.expect_error(first, f"tensor '{shards[1].tensors[0][0]}' is in both")

        shards = self.original.split(2)
        shards[0].metadata = [(k, INT32, 7) if k == "split.tensors.count" else (k, t, v)
                              for k, t, v in shards[0].metadata]
        _, first = self.write_shards("count", shards)
        self.expect_error(first, "split.tensors.count says 7 tensors", f"hold {len(self.original.tensors)}")


if __name__ == "__main__":
    unittest.main()
