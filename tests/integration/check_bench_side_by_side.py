#!/usr/bin/env python3
"""scripts/bench-side-by-side.sh end to end, against a stand-in for the peer's llama-bench.

The stand-in records the arguments it was given and prints llama-bench's JSON (with a ggml
warning line inside it, as ik_llama.cpp's build does) holding fixed samples: pp runs of
300, 100 and 140 t/s, tg runs of 150,000, 50,000 and 58,000 (the tiny model's bound is about
that), so the medians, 140 and 58,000, differ from the means and from any one run. Checked, per
round: the peer got the same -p / -n / -t / -r and its own flags; the row shows the peer's
medians, dsinfer's own medians beside them, the ratios, and the peer's tg as a share of
dsinfer's bound (bytes per token from `dsinfer bench --json` over the probe the row shows).
Also: a missing peer, a peer that prints no JSON, and a zero count are refused with a
message.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "bench-side-by-side.sh"

FAKE_PEER = r'''#!{python}
import json, sys
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
if {garbage}:
    print("this is not JSON")
    sys.exit(0)
rows = [{{"n_prompt": 8, "n_gen": 0, "avg_ts": 180.0, "samples_ts": [300.0, 100.0, 140.0]}},
        {{"n_prompt": 0, "n_gen": 4, "avg_ts": 86000.0, "samples_ts": [150000.0, 50000.0, 58000.0]}}]
text = json.dumps(rows, indent=2).splitlines()
print(text[0])
print("WARNING: Behavior may be unexpected when allocating 0 bytes for ggml_calloc!")
print("\n".join(text[1:]))
'''

ROW = re.compile(r"^\| (\d+) \| ([\d.]+) / ([\d.]+) \(([\d.]+)x\) \| ([\d.]+) / ([\d.]+) \(([\d.]+)x\) "
                 r"\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$")


def fake_peer(folder, garbage=False):
    path = folder / ("garbage-peer" if garbage else "peer")
    log = folder / (path.name + ".log")
    path.write_text(FAKE_PEER.format(python=sys.executable, log=str(log), garbage=garbage))
    path.chmod(0o755)
    return path, log


def run_script(args):
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=600)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsinfer", required=True)
    dsinfer = parser.parse_args().dsinfer
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        model = tmp / "v3-tiny.gguf"
        made = subprocess.run([dsinfer, "make-test-model", "--preset", "v3-tiny", "--out", model],
                              capture_output=True, text=True)
        if made.returncode != 0:
            sys.exit(f"make-test-model failed: {made.stderr}")
        bench = json.loads(subprocess.run([dsinfer, "bench", "-m", model, "-p", "1", "-n", "1", "-r", "1", "--json"],
                                          capture_output=True, text=True, check=True).stdout)
        bytes_per_token = bench[-1]["bytes_per_token"]

        peer, log = fake_peer(tmp)
        result = run_script(["--peer", peer, "--model", model, "--peer-flags", "-fmoe 1 -rtr 1", "--rounds", 2,
                             "-p", 8, "-n", 4, "-t", 2, "-r", 3, "--dsinfer", dsinfer])
        if result.returncode != 0:
            sys.exit(f"the script failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        lines = result.stdout.splitlines()
        if lines[:2] != ["| round | pp8 dsinfer / peer | tg4 dsinfer / peer | probe GB/s | dsinfer % of bound "
                         "| peer % of bound |", "|---|---:|---:|---:|---:|---:|"]:
            failures.append(f"header: {lines[:2]}")
        rows = [ROW.match(line) for line in lines[2:]]
        if len(rows) != 2 or not all(rows):
            failures.append(f"expected two rows, got {lines[2:]}")
        for i, m in enumerate(r for r in rows if r):
            rnd, pp, peer_pp, pp_x, tg, peer_tg, tg_x, probe, ds_pct, peer_pct = m.groups()
            if int(rnd) != i + 1 or float(peer_pp) != 140.0 or float(peer_tg) != 58000.0:
                failures.append(f"row {i + 1}: round {rnd}, peer medians {peer_pp} / {peer_tg} (want 140 / 58000)")
            if abs(float(pp_x) - float(pp) / 140.0) > 0.006 or abs(float(tg_x) - float(tg) / 58000.0) > 0.006:
                failures.append(f"row {i + 1}: ratios {pp_x} / {tg_x} for {pp} / {tg} against 140 / 58000")
            # The row shows the probe to 0.1 GB/s and the share to 0.1%; the script divides by the
            # unrounded probe, so the share may lie anywhere the rounded probe allows (at the
            # 16 GB/s of a sanitizer build that is about 0.3% either way).
            peer_bytes_per_s = 100 * 58000.0 * bytes_per_token / 1e9
            low, high = peer_bytes_per_s / (float(probe) + 0.05), peer_bytes_per_s / (float(probe) - 0.05)
            if not low - 0.051 <= float(peer_pct) <= high + 0.051:
                failures.append(f"row {i + 1}: peer share {peer_pct}%, expected {low:.2f}-{high:.2f}% "
                                f"({bytes_per_token} bytes per token at {probe} GB/s, rounded)")
            # dsinfer's share is a median over its runs, each against the probes beside it: a
            # run slowed by a loaded machine may round it to 0.0%.
            if not 0 <= float(ds_pct) or float(pp) <= 0 or float(tg) <= 0:
                failures.append(f"row {i + 1}: dsinfer figures {pp} / {tg} / {ds_pct}%")
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        want = ["-m", str(model), "-p", "8", "-n", "4", "-t", "2", "-r", "3", "-fmoe", "1", "-rtr", "1", "-o", "json"]
        if calls != [want, want]:
            failures.append(f"the peer was called with {calls}, expected twice {want}")
        print(f"-- two rounds: {lines[2:]}")

        # Refused with a message, before any run.
        bad = tmp / "bad.gguf"
        for args, message in [
            (["--peer", tmp / "no-such-peer", "--model", model], "is not an executable file"),
            (["--peer", peer, "--model", bad], "is not a file"),
            (["--peer", peer, "--model", model, "-r", 0], "must be at least 1"),
            (["--peer", peer, "--model", model, "--rounds", "two"], "is not a whole number"),
            (["--peer", fake_peer(tmp, garbage=True)[0], "--model", model, "-p", 8, "-n", 4, "-r", 1],
             "not llama-bench JSON"),
        ]:
            refused = run_script([*args, "--dsinfer", dsinfer])
            if refused.returncode == 0 or message not in refused.stderr:
                failures.append(f"{args}: exit {refused.returncode}, stderr {refused.stderr.strip()!r} "
                                f"(want a failure saying {message!r})")
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
