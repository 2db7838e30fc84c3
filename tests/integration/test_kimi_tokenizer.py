"""Kimi K2's vocabulary encodes text as tiktoken would, from its folder or a GGUF file.

Kimi K2 ships a tiktoken vocabulary (tiktoken.model: base64 byte strings with ranks) and
splits text with Moonshot's own pattern; llama.cpp's converter writes it into GGUF
("kimi-k2" pre-tokenizer) as byte-level tokens plus merges derived from the ranks. The
oracle here is tiktoken's algorithm in Python: python3-regex splits with Moonshot's
pattern (its && class intersections included), a piece that is a token is that token, any
other is merged by rank as tiktoken's byte_pair_merge does; the GGUF gets the merges the
way convert_hf_to_gguf.py derives them. The vocabulary is trained on the texts below
(ranks, not a real Kimi file: those cannot be fetched here), plus one token no merge
reaches. dsinfer must give the oracle's ids for every text from both the folder and the
GGUF file, take special tokens as tiktoken's allowed_special does (or as plain text with
--split-special), decode the ids back to the text, and refuse broken tiktoken files. A
Kimi K2 folder (v3-tiny's weights with these files and Moonshot's chat template) must
render prompts as Jinja2 does and run `run -p` and `chat`.
"""
import base64
import json
import pathlib
import shutil
import subprocess
import tempfile
import unittest

import jinja2
import jinja2.sandbox
import regex

from dsinfer_cli import DSINFER, run
from gguf_edit import ARRAY, INT32, STRING, UINT32, GgufFile

# Moonshot's pat_str (tokenization_kimi.py), verbatim.
KIMI_PATTERN = "|".join([
    r"""[\p{Han}]+""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])
SPLIT = regex.compile(KIMI_PATTERN, regex.V1)

TRAINING = [
    "The quick brown fox jumps over the lazy dog. getUserName() returns the user's name.",
    "I'm sure they'll say we've done it; you'd think it's HTML's fault, isn't it?",
    "人工智能正在改变世界。我们今天学习了很多新的知识，你好世界！",
    "def parse_config(path):\n    with open(path) as f:\n        return json.load(f)\n\n",
    "Prices: 12345 dollars, 3.14159 and 2026-12-04; iPhone iPad MacBookPro XMLHttpRequest",
    "Ünïcödé façade naïve café — résumé coöperate, Zürich straße",
    "日本語のテキストと한국어 텍스트 mixed with English words and 数字123",
]
TESTS = TRAINING + [
    "getUserName iPhone HELLO'S don't WE'LL",  # camelCase, uppercase contractions
    "   leading spaces\n\n\n  trailing   \r\n",
    "中文English混合text测试Test",
    "emoji 😀🎉 and symbols ∑∫√ «quotes» ...!!!",
    "a\u0301 e\u0308 combining marks; ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "1234567890 12 1 x1y22z333",
    "qjx aqjxb qjx",  # a token no merge reaches: whole pieces only
]
UNMERGEABLE = b"qjx"
SPECIALS = ["[BOS]", "[EOS]", "<|im_user|>", "<|im_end|>", "<|im_assistant|>", "<|im_system|>", "<|im_middle|>"]
VOCAB_SIZE = 512  # the model's vocabulary (v3-tiny); ids past the trained ones are unused


def byte_strings():
    """GPT-2's printable stand-in for each byte, as byte-level BPE files store tokens."""
    kept = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for b in range(256):
        if b in kept:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


BYTE_CHARS = byte_strings()


def as_token(raw):
    return "".join(BYTE_CHARS[b] for b in raw)


def merge_by_rank(ranks, piece, max_rank=None):
    """tiktoken's byte_pair_merge: merge the adjacent pair of lowest rank until none is
    left (only ranks below max_rank when given, as convert_hf_to_gguf.py's bpe())."""
    parts = [bytes([b]) for b in piece]
    while True:
        best = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (max_rank is None or rank < max_rank) and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            return parts
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]


def train_ranks(texts, merges=240):
    ranks = {bytes([b]): b for b in range(256)}
    words = [[bytes([b]) for b in piece.encode()] for text in texts for piece in SPLIT.findall(text)]
    while len(ranks) < 256 + merges:
        counts = {}
        for word in words:
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        pair = max(sorted(counts), key=lambda p: counts[p])  # most frequent, ties by bytes
        if counts[pair] < 2:
            break
        ranks[pair[0] + pair[1]] = len(ranks)
        for word in words:
            i = 0
            while i < len(word) - 1:
                if (word[i], word[i + 1]) == pair:
                    word[i:i + 2] = [pair[0] + pair[1]]
                i += 1
    ranks[UNMERGEABLE] = len(ranks)  # no lower-rank pair builds it
    return ranks


def encode(ranks, special_ids, text, allowed_special=True):
    """tiktoken's encode, with every special token allowed or none (then plain text)."""
    ids = []
    specials = regex.compile("|".join(regex.escape(s) for s in SPECIALS) if allowed_special else "(?!)")
    at = 0
    for chunk in list(specials.finditer(text)) + [None]:
        plain = text[at:chunk.start()] if chunk else text[at:]
        for piece in SPLIT.findall(plain):
            raw = piece.encode()
            ids += [ranks[raw]] if raw in ranks else [ranks[part] for part in merge_by_rank(ranks, raw)]
        if chunk:
            ids.append(special_ids[chunk.group()])
            at = chunk.end()
    return ids


class KimiTokenizer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dsinfer-kimi-tok-"))
        tiny = cls.tmp / "tiny.gguf"
        subprocess.run([DSINFER, "make-test-model", "--preset", "v3-tiny", "--out", str(tiny)], check=True,
                       capture_output=True)
        cls.ranks = train_ranks(TRAINING)
        by_id = {rank: token for token, rank in cls.ranks.items()}
        cls.special_ids = {s: len(cls.ranks) + k for k, s in enumerate(SPECIALS)}
        tokens, types = [], []
        for i in range(VOCAB_SIZE):
            if i in by_id:
                tokens.append(as_token(by_id[i]))
                types.append(1)
            elif i - len(cls.ranks) < len(SPECIALS):
                tokens.append(SPECIALS[i - len(cls.ranks)])
                types.append(3)
            else:
                tokens.append(f"[PAD{i}]")
                types.append(5)
        merges = []
        for token, rank in cls.ranks.items():  # in rank order
            if len(token) > 1:
                parts = merge_by_rank(cls.ranks, token, max_rank=rank)
                if len(parts) == 2:
                    merges.append(" ".join(map(as_token, parts)))
        gguf = GgufFile(tiny.read_bytes())
        gguf.metadata = [e for e in gguf.metadata if not e[0].startswith("tokenizer.")] + [
            ("tokenizer.ggml.model", STRING, "gpt2"),
            ("tokenizer.ggml.pre", STRING, "kimi-k2"),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
            ("tokenizer.ggml.token_type", ARRAY, (INT32, types)),
            ("tokenizer.ggml.merges", ARRAY, (STRING, merges)),
            ("tokenizer.ggml.bos_token_id", UINT32, cls.special_ids["[BOS]"]),
            ("tokenizer.ggml.eos_token_id", UINT32, cls.special_ids["[EOS]"]),
        ]
        cls.gguf = cls.tmp / "kimi.gguf"
        cls.gguf.write_bytes(gguf.to_bytes())
        # The Hugging Face folder: tiktoken.model, special tokens in tokenizer_config.json.
        cls.folder = cls.tmp / "kimi"
        cls.write_folder(cls.folder, cls.tiktoken_lines(), cls.special_ids)

    @staticmethod
    def tiktoken_lines():
        return [base64.b64encode(token).decode() + f" {rank}" for token, rank in KimiTokenizer.ranks.items()]

    @staticmethod
    def write_folder(folder, lines, special_ids, model_type="kimi_k2", chat_template=None):
        folder.mkdir(exist_ok=True)
        (folder / "tiktoken.model").write_text("\n".join(lines) + "\n")
        decoder = {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                            "single_word": False, "special": True} for s, i in special_ids.items()}
        config = {"added_tokens_decoder": decoder, "bos_token": "[BOS]", "eos_token": "[EOS]",
                  "tokenizer_class": "TikTokenTokenizer", "model_max_length": 10 ** 30}
        if chat_template is not None:
            config["chat_template"] = chat_template
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
        model_config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
        model_config["model_type"] = model_type
        (folder / "config.json").write_text(json.dumps(model_config))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def tokenize(self, texts, *flags, model=None):
        models = [model] if model else [self.gguf, self.folder]
        outputs = []
        for path in models:
            result = run("tokenize", *flags, "--model", path, stdin="".join(json.dumps(t) + "\n" for t in texts))
            self.assertEqual(result.returncode, 0, result.stderr.decode())
            outputs.append([json.loads(line)["ids"] for line in result.stdout.decode().splitlines()])
        for other in outputs[1:]:
            self.assertEqual(other, outputs[0], "the folder and the GGUF file differ")
        return outputs[0]

    def test_the_oracle_splits_as_moonshot_documents(self):
        # camelCase splits at each capital, Han runs stand alone: the pattern's own cases.
        self.assertEqual(SPLIT.findall("getUserName 你好world"), ["get", "User", "Name", " ", "你好", "world"])

    def test_text_encodes_as_tiktoken(self):
        got = self.tokenize(TESTS)
        for text, ids in zip(TESTS, got):
            self.assertEqual(ids, encode(self.ranks, self.special_ids, text), text)

    def test_special_tokens_as_tiktoken_allows_them(self):
        text = "<|im_user|>user<|im_end|>hello there<|im_end|>[EOS]"
        (ids,) = self.tokenize([text])
        self.assertEqual(ids, encode(self.ranks, self.special_ids, text))
        self.assertIn(self.special_ids["<|im_end|>"], ids)
        (plain,) = self.tokenize([text], "--split-special")  # special strings as plain text
        self.assertEqual(plain, encode(self.ranks, self.special_ids, text, allowed_special=False))
        self.assertNotIn(self.special_ids["<|im_end|>"], plain)

    def test_ids_decode_to_the_text(self):
        ids = self.tokenize(TESTS)
        for model in (self.gguf, self.folder):
            result = run("detokenize", "--model", model, stdin="".join(json.dumps(i) + "\n" for i in ids))
            self.assertEqual(result.returncode, 0, result.stderr.decode())
            self.assertEqual([json.loads(line) for line in result.stdout.decode().splitlines()], TESTS)

    def test_a_token_no_merge_reaches_is_taken_whole(self):
        (ids,) = self.tokenize(["qjx"])
        self.assertEqual(ids, [self.ranks[UNMERGEABLE]])

    def test_a_kimi_k2_folder_chats(self):
        # v3-tiny's weights under Kimi K2's files: its tiktoken vocabulary, Moonshot's chat
        # template (llama.cpp's copy) and generation_config.json ending replies at <|im_end|>.
        folder = self.tmp / "kimi-model"
        subprocess.run([DSINFER, "make-test-model", "--preset", "v3-tiny", "--out", str(folder)], check=True,
                       capture_output=True)
        template = (pathlib.Path(__file__).parents[1] / "fixtures" / "chat_templates" /
                    "kimi-k2-llamacpp.jinja").read_text()
        self.write_folder(folder, self.tiktoken_lines(), self.special_ids, chat_template=template)
        (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": self.special_ids["<|im_end|>"]}))
        messages = [{"role": "user", "content": "getUserName 你好"}]
        result = run("chat-template", "--add-generation-prompt", "--model", folder, stdin=json.dumps(messages))
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        # The oracle: Jinja2 as transformers configures it for apply_chat_template.
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        expected = env.from_string(template).render(messages=messages, add_generation_prompt=True,
                                                    bos_token="[BOS]", eos_token="[EOS]")
        self.assertEqual(result.stdout.decode(), expected)
        (ids,) = self.tokenize([expected], model=folder)
        self.assertEqual(ids[0], self.special_ids["<|im_system|>"])
        self.assertEqual(ids[-1], self.special_ids["<|im_middle|>"])
        inspect = run("inspect", "--model", folder)
        self.assertEqual(inspect.returncode, 0, inspect.stderr.decode())
        self.assertIn(f"replies end at {self.special_ids['[EOS]']} [EOS], {self.special_ids['<|im_end|>']} <|im_end|>",
                      inspect.stdout.decode())
        for args, stdin in ((["run", "-p", "getUserName", "-n", "3"], ""), (["chat", "-n", "3"], "hi\n")):
            result = run(*args, "--model", folder, "--temperature", "0", stdin=stdin)
            self.assertEqual(result.returncode, 0, (args, result.stderr.decode()))

    def test_broken_tiktoken_folders_are_errors(self):
        lines = self.tiktoken_lines()
        cases = {
            "not base64": (["!!!! 0"] + lines[1:], "line 1 is not"),
            "no rank": ([lines[0].split()[0]] + lines[1:], "line 1 is not"),
            "rank twice": (lines + [base64.b64encode(b"zzzz").decode() + " 3"], "rank 3 appears twice"),
            "rank gap": (lines[:-1] + [lines[-1].split()[0] + f" {len(lines) + 5}"], "ranks must be 0.."),
            "missing byte": ([base64.b64encode(b"zzzzz").decode() + " 65" if line.endswith(" 65") else line
                              for line in lines], "0x41"),
        }
        for name, (broken, needle) in cases.items():
            folder = self.tmp / name.replace(" ", "-")
            self.write_folder(folder, broken, self.special_ids)
            result = run("tokenize", "--model", folder, stdin='"hi"\n')
            self.assertEqual(result.returncode, 1, (name, result.stdout, result.stderr))
            self.assertIn(needle, result.stderr.decode(), name)
        other = self.tmp / "other-model"
        self.write_folder(other, lines, self.special_ids, model_type="deepseek_v3")
        result = run("tokenize", "--model", other, stdin='"hi"\n')
        self.assertEqual(result.returncode, 1)
        self.assertIn("model_type kimi_k2", result.stderr.decode())


if __name__ == "__main__":
    unittest.main()
