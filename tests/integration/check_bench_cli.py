#!/usr/bin/env python3
"""`dsinfer bench` and `dsinfer bench-serve` end to end, on a tiny MLA model and a tiny
DeepSeek-V4 model, as a user runs them with --json.

bench: one object per test named pp<P> / tg<N> (with " @ d<D>" under -d), one rate per timed run and one bandwidth
probe before the first run and after each, tokens/s and bandwidth the medians of those, stddev the runs' spread, its
percentage of the bound the median over the runs of tokens/s x bytes per token / the mean of the two probes beside
the run, and bytes per token what a decode step reads as counted here from the safetensors headers, independently
of dsinfer's own tensor table: every tensor outside the MTP layers in full (block scales included), but one row of
the embedding and of V4's hash-routing tables, and num_experts_per_tok / n_routed_experts of the routed experts'
tensors.
bench-serve: one object per concurrency level asked for, every stream's tokens generated;
--kv-type reported, and refused where the model cannot store it.
Bad arguments are refused with a message.
"""
import argparse
import json
import pathlib
import statistics
import struct
import subprocess
import sys
import tempfile


def run(cmd, ok=True):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600)
    if ok and result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n{result.stdout}{result.stderr}")
    return result


def tensor_bytes(folder):
    """name -> bytes of every tensor in the folder's safetensors files."""
    sizes = {}
    for f in sorted(folder.glob("*.safetensors")):
        with open(f, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        for name, info in header.items():
            if name != "__metadata__":
                begin, end = info["data_offsets"]
                sizes[name] = end - begin
    return sizes


def check_bench(dsinfer, model, failures):
    out = run([dsinfer, "bench", "-m", model, "-p", "8", "-n", "4", "-r", "3", "-t", "2", "--json"]).stdout
    rows = json.loads(out)
    names = [r["test"] for r in rows]
    if names != ["pp8", "tg4"]:
        failures.append(f"{model.name}: tests {names}, expected ['pp8', 'tg4']")
    sizes = tensor_bytes(model)
    config = json.loads((model / "config.json").read_text())
    layers = config["num_hidden_layers"]

    def step_bytes(name, size):  # of the tensor `name` one decode step reads
        if name.startswith("mtp.") or any(f"layers.{l}." in name for l in range(layers, layers + 4)):
            return 0
        if "embed" in name:
            return size / config["vocab_size"]
        if "tid2eid" in name:
            return size / config["vocab_size"]
        if ".experts." in name:
            return size * config["num_experts_per_tok"] / config["n_routed_experts"]
        return size

    expected_bytes = sum(step_bytes(n, b) for n, b in sizes.items())
    for r in rows:
        for key in ("threads", "tokens_per_s", "stddev", "bytes_per_token", "bandwidth_gbs"):
            if key not in r:
                failures.append(f"{model.name} {r['test']}: no '{key}'")
        if r["tokens_per_s"] <= 0 or r["threads"] != 2:
            failures.append(f"{model.name} {r['test']}: {r}")
        rates, probes = r.get("samples_tokens_per_s", []), r.get("samples_bandwidth_gbs", [])
        if len(rates) != 3 or len(probes) != 4 or min(probes, default=0) <= 0:
            failures.append(f"{model.name} {r['test']}: -r 3 gave runs {rates} and probes {probes}")
        elif abs(r["tokens_per_s"] - statistics.median(rates)) > 1e-6 * r["tokens_per_s"] or \
                r["bandwidth_gbs"] != statistics.median(probes):
            failures.append(f"{model.name} {r['test']}: {r['tokens_per_s']} t/s and {r['bandwidth_gbs']} GB/s are not "
                            f"the medians of {rates} and {probes}")
        elif abs(r["stddev"] - statistics.stdev(rates)) > 1e-6 * max(r["stddev"], 1e-9):
            failures.append(f"{model.name} {r['test']}: stddev {r['stddev']} is not that of {rates}")
    tg = rows[-1]
    rates, probes = tg["samples_tokens_per_s"], tg["samples_bandwidth_gbs"]
    expected_pct = statistics.median(100 * rate * tg["bytes_per_token"] / ((probes[i] + probes[i + 1]) / 2 * 1e9)
                                     for i, rate in enumerate(rates))
    if abs(tg["pct_of_bound"] - expected_pct) > 1e-6 * expected_pct:
        failures.append(f"{model.name}: pct_of_bound {tg['pct_of_bound']}, but the runs against their probes give "
                        f"{expected_pct}")
    # dsinfer rounds each expert tensor's share down to whole bytes.
    if not (expected_bytes - len(sizes) <= tg["bytes_per_token"] <= expected_bytes):
        failures.append(f"{model.name}: {tg['bytes_per_token']} bytes per token, where the files give "
                        f"{expected_bytes:.0f}")
    print(f"-- bench {model.name}: {names}, tg {tg['tokens_per_s']:.1f} t/s, {tg['bytes_per_token']} bytes per token")

    # -d: the tests start with that many tokens in the context, and say so.
    deep = json.loads(run([dsinfer, "bench", "-m", model, "-p", "4", "-n", "2", "-d", "6", "-r", "1", "-t", "2",
                           "--json"]).stdout)
    if [r["test"] for r in deep] != ["pp4 @ d6", "tg2 @ d6"] or any(r["depth"] != 6 for r in deep):
        failures.append(f"{model.name}: bench -d 6 gave {[(r['test'], r.get('depth')) for r in deep]}")
    if any(r["depth"] != 0 for r in rows):
        failures.append(f"{model.name}: bench without -d reports depth {[r.get('depth') for r in rows]}")
    # --kv-type: the cache's storage, reported; what the model cannot store is refused.
    if config.get("model_type") == "deepseek_v4":
        bad = run([dsinfer, "bench", "-m", model, "-p", "4", "-n", "2", "--kv-type", "f16"], ok=False)
        if bad.returncode == 0 or "float32 only" not in bad.stderr:
            failures.append(f"{model.name}: bench --kv-type f16 on V4: exit {bad.returncode}, {bad.stderr!r}")
    else:
        compact = json.loads(run([dsinfer, "bench", "-m", model, "-p", "4", "-n", "2", "-d", "40", "-r", "1", "-t", "2",
                                  "--kv-type", "f16", "--json"]).stdout)
        if [(r["test"], r["kv_type"]) for r in compact] != [("pp4 @ d40", "f16"), ("tg2 @ d40", "f16")]:
            failures.append(f"{model.name}: bench --kv-type f16 gave {compact}")
        width = config["kv_lora_rank"] + config["qk_rope_head_dim"]
        if width % 32:
            bad = run([dsinfer, "bench", "-m", model, "-p", "4", "-n", "2", "--kv-type", "q8_0"], ok=False)
            if bad.returncode == 0 or "multiple of 32" not in bad.stderr:
                failures.append(f"{model.name}: bench --kv-type q8_0 with a latent of {width}: exit {bad.returncode}, "
                                f"{bad.stderr!r}")
    if any(r["kv_type"] != "f32" for r in rows):
        failures.append(f"{model.name}: bench without --kv-type reports {[r.get('kv_type') for r in rows]}")
    bad = run([dsinfer, "bench", "-m", model, "-p", "4", "-n", "2", "--kv-type", "f8"], ok=False)
    if bad.returncode == 0 or "--kv-type" not in bad.stderr:
        failures.append(f"{model.name}: bench --kv-type f8: exit {bad.returncode}, {bad.stderr!r}")
    context = json.loads((model / "config.json").read_text())["max_position_embeddings"]
    for bad_args, word in ((["-d", "-1"], "negative"), (["-d", str(context)], "context")):
        bad = run([dsinfer, "bench", "-m", model, "-p", "4", "-n", "2", *bad_args], ok=False)
        if bad.returncode == 0 or word not in bad.stderr:
            failures.append(f"bench {bad_args}: exit {bad.returncode}, {bad.stderr!r}")


def check_bench_serve(dsinfer, model, failures):
    out = run([dsinfer, "bench-serve", "-m", model, "-c", "1,3", "-p", "5", "-n", "4", "-t", "2", "--json"]).stdout
    rows = json.loads(out)
    if [r["streams"] for r in rows] != [1, 3]:
        failures.append(f"{model.name}: bench-serve levels {[r['streams'] for r in rows]}, expected [1, 3]")
    for r in rows:
        if r["tokens_per_s"] <= 0 or r["gen_tokens"] != 4 or r["steps"] < 4:
            failures.append(f"{model.name} bench-serve: {r}")
    if rows and (rows[0]["x_first"] != 1.0 or rows[0]["decode_x_first"] != 1.0):
        failures.append(f"{model.name} bench-serve: the first level's ratio to itself is not 1: {rows[0]}")
    if any(r["kv_type"] != "f32" for r in rows):
        failures.append(f"{model.name}: bench-serve without --kv-type reports {[r.get('kv_type') for r in rows]}")
    # --kv-type as for bench: reported at every level; what the model cannot store is refused.
    config = json.loads((model / "config.json").read_text())
    if config.get("model_type") == "deepseek_v4":
        bad = run([dsinfer, "bench-serve", "-m", model, "-c", "1", "-p", "5", "-n", "4", "--kv-type", "f16"], ok=False)
        if bad.returncode == 0 or "float32 only" not in bad.stderr:
            failures.append(f"{model.name}: bench-serve --kv-type f16 on V4: exit {bad.returncode}, {bad.stderr!r}")
    else:
        compact = json.loads(run([dsinfer, "bench-serve", "-m", model, "-c", "1,2", "-p", "5", "-n", "4", "-t", "2",
                                  "--kv-type", "bf16", "--json"]).stdout)
        if [(r["streams"], r["kv_type"]) for r in compact] != [(1, "bf16"), (2, "bf16")] or \
                any(r["tokens_per_s"] <= 0 or r["steps"] < 4 for r in compact):
            failures.append(f"{model.name}: bench-serve --kv-type bf16 gave {compact}")
        # The engine itself refuses it, so the type reached the cache.
        if (config["kv_lora_rank"] + config["qk_rope_head_dim"]) % 32:
            bad = run([dsinfer, "bench-serve", "-m", model, "-c", "1", "-p", "5", "-n", "4", "--kv-type", "q8_0"],
                      ok=False)
            if bad.returncode == 0 or "multiple of 32" not in bad.stderr:
                failures.append(f"{model.name}: bench-serve --kv-type q8_0: exit {bad.returncode}, {bad.stderr!r}")
    bad = run([dsinfer, "bench-serve", "-m", model, "-c", "1", "--kv-type", "f8"], ok=False)
    if bad.returncode == 0 or "--kv-type" not in bad.stderr:
        failures.append(f"{model.name}: bench-serve --kv-type f8: exit {bad.returncode}, {bad.stderr!r}")
    print(f"-- bench-serve {model.name}: {[(r['streams'], round(r['tokens_per_s'], 1)) for r in rows]}")
    # Two rounds: one result per level, each a median over both, its ratio that of a round.
    out = run([dsinfer, "bench-serve", "-m", model, "-c", "1,2", "-p", "5", "-n", "4", "-t", "2", "-r", "2",
               "--json"]).stdout
    rows = json.loads(out)
    if [(r["streams"], r["repeats"]) for r in rows] != [(1, 2), (2, 2)] or rows[1]["x_first"] <= 0:
        failures.append(f"{model.name}: bench-serve -r 2 gave {rows}")
    bad = run([dsinfer, "bench-serve", "-m", model, "-r", "0"], ok=False)
    if bad.returncode == 0 or "-r must be at least 1" not in bad.stderr:
        failures.append(f"bench-serve -r 0: exit {bad.returncode}, {bad.stderr!r}")
    bad = run([dsinfer, "bench-serve", "-m", model, "-c", "0"], ok=False)
    if bad.returncode == 0 or "concurrency" not in bad.stderr:
        failures.append(f"bench-serve -c 0: exit {bad.returncode}, {bad.stderr!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsinfer", required=True)
    args = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in ("v3-tiny", "v4-tiny"):
            model = pathlib.Path(tmp) / preset
            run([args.dsinfer, "make-test-model", "--preset", preset, "--out", model])
            check_bench(args.dsinfer, model, failures)
            check_bench_serve(args.dsinfer, model, failures)
    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
