#!/usr/bin/env python3
"""Every metadata entry of a tiny GGUF file set to edge values, one at a time: zero, one
more, the type's largest values, NaN and infinities, an empty or short array, another
value type, or the entry removed. GGUF files come from anywhere, and the header fuzzer
(fuzz_gguf_header) stops at the header: this sweep takes each edited file through a
whole model load and forward pass (`dsinfer logits`), and for tokenizer.* entries
through `dsinfer run -p`, which reads the vocabulary. The run must end with exit 0 (and
finite logits), or with exit 1 and an error line. Never a signal, a hang (60 s), an
out-of-bounds read (the sanitizer build runs this too) or NaN logits.
"""
import math
import pathlib
import subprocess
import sys
import tempfile


from gguf_edit import ARRAY, BOOL, FLOAT32, FLOAT64, INT32, STRING, UINT32, UINT64, GgufFile
from sweep_run import dsinfer_from_arguments, failure_of

INTEGER_TYPES = {0: 2**8 - 1, 1: 2**7 - 1, 2: 2**16 - 1, 3: 2**15 - 1, 4: 2**32 - 1, 5: 2**31 - 1,
                 10: 2**64 - 1, 11: 2**63 - 1}


def edge_values(kind, value):
    """(type, value) pairs to put in place of `value`; None removes the entry."""
    edits = [None]
    if kind in INTEGER_TYPES:
        largest = INTEGER_TYPES[kind]
        edits += [(kind, 0), (kind, min(value + 1, largest)), (kind, largest), (INT32, -1), (UINT64, 2**40),
                  (FLOAT32, float(value)), (STRING, "7")]
    elif kind in (FLOAT32, FLOAT64):
        edits += [(kind, 0.0), (kind, -1.0), (kind, 1e30), (kind, math.nan), (kind, math.inf), (UINT32, 1),
                  (STRING, "x")]
    elif kind == BOOL:
        edits += [(kind, not value), (UINT32, 2)]
    elif kind == STRING:
        edits += [(kind, ""), (kind, "bogus"), (UINT32, 1)]
    elif kind == ARRAY:
        element, items = value
        edits += [(ARRAY, (element, [])), (ARRAY, (element, items[:-1])), (ARRAY, (INT32, [0] * len(items))),
                  (STRING, "x")]
    return edits


def main():
    dsinfer = dsinfer_from_arguments()
    failures, runs = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        good = tmp / "good.gguf"
        subprocess.run([dsinfer, "make-test-model", "--preset", "v3-tiny", "--out", good], check=True,
                       capture_output=True)
        original = GgufFile(good.read_bytes())
        edited_path, out = tmp / "edited.gguf", tmp / "logits.npy"
        for index, (key, kind, value) in enumerate(original.metadata):
            for edit in edge_values(kind, value):
                edited = GgufFile(good.read_bytes())
                if edit is None:
                    del edited.metadata[index]
                else:
                    edited.metadata[index] = (key, *edit)
                edited_path.write_bytes(edited.to_bytes())
                if key.startswith("tokenizer."):
                    command, logits = [dsinfer, "run", "--model", edited_path, "-p", "Hello", "-n", "2"], None
                else:
                    command, logits = [dsinfer, "logits", "--model", edited_path, "--tokens", "1,2,3", "--decode",
                                       "1", "--out", out], out
                runs += 1
                failure = failure_of(command, f"{key} = {'removed' if edit is None else edit}", logits)
                if failure:
                    failures.append(failure)
    print(f"{runs} runs, {len(failures)} failures")
    for failure in failures:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
