#!/usr/bin/env python3
"""Every field of a tiny checkpoint's config.json set to edge values, one at a time: zero,
-1, one more, 2^40, null, a string, an empty or short list, an empty object. Each edited
folder goes through `dsinfer logits`. The run must end either with exit 0 and finite
logits, or with exit 1 and an error line. Never a signal, a hang (60 s), an out-of-bounds
read (the sanitizer build runs this too) or NaN logits. Presets: v3-tiny (MLA, sigmoid
routing), v32-tiny (the indexer) and v4-tiny (deepseek_v4's fields).

Before this sweep, four counts hung or threw bad_alloc while the tensor table or a
buffer was sized: n_routed_experts, num_hidden_layers and num_nextn_predict_layers at
2^31, qk_rope_head_dim and V4's sliding_window at 2^40. V4's hc_sinkhorn_iters at 2^31
hung in the first token. num_nextn_predict_layers = -1 crashed a V4 load, and a RoPE
base of 0 or below or a negative rms_norm_eps gave NaN logits.
"""
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

from sweep_run import dsinfer_from_arguments, failure_of


def edge_values(value):
    if isinstance(value, bool):
        return [not value, "x"]
    if isinstance(value, int):
        return [0, -1, value + 1, 2**40, None, "7"]
    if isinstance(value, float):
        return [0.0, -1.0, 1e30, None]
    if isinstance(value, list):
        return [[], value[:-1], [-1] * len(value), [2**40] * len(value)]
    if isinstance(value, str):
        return ["", "bogus"]
    if isinstance(value, dict):
        return [{}, []]
    return [0]


def main():
    dsinfer = dsinfer_from_arguments()
    failures, runs = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for preset in ["v3-tiny", "v32-tiny", "v4-tiny"]:
            good = tmp / preset
            subprocess.run([dsinfer, "make-test-model", "--preset", preset, "--out", good], check=True,
                           capture_output=True)
            config = json.loads((good / "config.json").read_text())
            edited = tmp / (preset + "-edited")
            shutil.copytree(good, edited)
            for key, value in config.items():
                for new in edge_values(value):
                    (edited / "config.json").write_text(json.dumps({**config, key: new}))
                    runs += 1
                    failure = failure_of([dsinfer, "logits", "--model", edited, "--tokens", "3,17,42", "--out",
                                          tmp / "logits.npy"], f"{preset}: {key} = {json.dumps(new)}",
                                         tmp / "logits.npy")
                    if failure:
                        failures.append(failure)
    print(f"-- {runs} edited configs run")
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures or runs == 0 else 0)


if __name__ == "__main__":
    main()
