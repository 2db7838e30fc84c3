#!/usr/bin/env python3
"""Golden end-to-end test of `dsinfer logits` on one test-model preset.

1. `dsinfer make-test-model` writes the preset's checkpoint.
2. The independent numpy reference (tests/reference/deepseek_ref.py, float64) computes
   the golden logits of the prompt plus greedy steps.
3. `dsinfer logits` on the chosen backend must match them (relative error <= 1e-4, same argmax on every row)
   with the whole prompt in one prefill, with one token at a time (the absorbed decode
   path), and with a split in the middle; and those runs must agree with each other.
4. Guards that the preset exercises what it claims: zeroing the router's selection bias,
   and (V3.2) widening index_topk to the whole context, must each change the logits.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

from safetensors_edit import copy_with_zeroed

HERE = pathlib.Path(__file__).resolve().parent
REFERENCE = HERE.parent / "reference"
PROMPT = "3,17,42,5,99,200,7,7,311,64,2,128,400,9,77,1"
DECODE = 6


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n{result.stdout}{result.stderr}")
        sys.exit(1)
    return result.stdout


def compare(actual, expected, label):
    print(f"-- {label}")
    result = subprocess.run([sys.executable, REFERENCE / "compare_logits.py", "--actual", actual,
                             "--expected", expected, "--rtol", "1e-4"], capture_output=True, text=True)
    print(result.stdout, end="")
    return result.returncode == 0


def zero_selection_bias(model, copy):
    """Copies the model with every e_score_correction_bias set to zero; returns how many."""
    return copy_with_zeroed(model, copy, "e_score_correction_bias")


def widen_index_topk(model, copy):
    """Copies the model with index_topk above any context (the V3.2 indexer then keeps
    every position); returns False for a model without an indexer."""
    config = json.loads((model / "config.json").read_text())
    if "index_topk" not in config:
        return False
    shutil.copytree(model, copy)
    config["index_topk"] = 1 << 20
    (copy / "config.json").write_text(json.dumps(config))
    return True


def rel_diff(a_path, b_path):
    import numpy as np
    a, b = np.load(a_path), np.load(b_path)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsinfer", required=True)
    ap.add_argument("--preset", required=True)
    ap.add_argument("--seed", default="7")
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        model = tmp / "model"
        run([args.dsinfer, "make-test-model", "--preset", args.preset, "--seed", args.seed, "--out", model])
        golden = tmp / "golden.npy"
        run([sys.executable, REFERENCE / "deepseek_ref.py", "--model", model, "--tokens", PROMPT,
             "--decode", str(DECODE), "--out", golden])
        n_prompt = len(PROMPT.split(","))
        ok = True
        outputs = {}
        for prefill in (n_prompt, 1, n_prompt // 2):
            out = tmp / f"prefill{prefill}.npy"
            run([args.dsinfer, "logits", "--model", model, "--tokens", PROMPT, "--prefill", str(prefill),
                 "--decode", str(DECODE), "--out", out, "--backend", args.backend])
            outputs[prefill] = out
            ok &= compare(out, golden, f"prefill {prefill} of {n_prompt} vs numpy reference")
        ok &= compare(outputs[1], outputs[n_prompt], "one-by-one decode vs one prefill")
        ok &= compare(outputs[n_prompt // 2], outputs[n_prompt], "split prefill vs one prefill")
        # The preset must make the selection-only bias matter (it changes the chosen
        # experts), or a router that ignored it would pass the comparisons above.
        unbiased = tmp / "unbiased"
        if zero_selection_bias(model, unbiased):
            out = tmp / "unbiased.npy"
            run([args.dsinfer, "logits", "--model", unbiased, "--tokens", PROMPT, "--decode", str(DECODE),
                 "--out", out, "--backend", args.backend])
            diff = rel_diff(out, outputs[n_prompt])
            print(f"-- zeroing e_score_correction_bias changes the logits by {diff:.3e} (must be > 1e-2)")
            ok &= diff > 1e-2
        # Likewise the preset's index_topk must drop positions, or attention that ignored
        # the indexer's selection would pass.
        dense = tmp / "dense"
        if widen_index_topk(model, dense):
            out = tmp / "dense.npy"
            run([args.dsinfer, "logits", "--model", dense, "--tokens", PROMPT, "--decode", str(DECODE),
                 "--out", out, "--backend", args.backend])
            diff = rel_diff(out, outputs[n_prompt])
            print(f"-- attending to every position instead of the index_topk selection changes the logits by "
                  f"{diff:.3e} (must be > 1e-2)")
            ok &= diff > 1e-2
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
