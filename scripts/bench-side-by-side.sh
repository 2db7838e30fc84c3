#!/usr/bin/env bash
# Times dsinfer beside a llama.cpp-family engine (llama.cpp, ik_llama.cpp) on one GGUF file,
# the way issue #4 asks: the same file, runs interleaved, several rounds, since memory
# bandwidth drifts. Each round runs the peer's llama-bench, then `dsinfer bench`, with the
# same -p / -n / -t / -r, and prints one table row: both engines' medians over their runs,
# the ratios, dsinfer's probe and both engines' tg as a share of dsinfer's bandwidth bound
# (dsinfer's bytes per token over the median probe of dsinfer's run in that round).
#
#   scripts/bench-side-by-side.sh --peer /path/to/llama-bench --model M.gguf \
#       [--peer-flags "-mla 3 -fa 1 -fmoe 1 -rtr 1"] [--rounds 2] [-p 512] [-n 32] [-t 2] [-r 5] \
#       [--dsinfer build/bin/dsinfer]
#
# Build the peer outside this repository; nothing of it is committed here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "bench-side-by-side: $*" >&2; exit 1; }

peer="" model="" peer_flags="" rounds=2 prompt=512 gen=32 threads=2 repeats=5 dsinfer="$root/build/bin/dsinfer"
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
    --peer) peer=$2 ;;
    --model) model=$2 ;;
    --peer-flags) peer_flags=$2 ;;
    --rounds) rounds=$2 ;;
    -p) prompt=$2 ;;
    -n) gen=$2 ;;
    -t) threads=$2 ;;
    -r) repeats=$2 ;;
    --dsinfer) dsinfer=$2 ;;
    *) usage ;;
  esac
  shift 2
done
if [ -z "$peer" ] || [ -z "$model" ]; then usage; fi
[ -x "$peer" ] || die "peer llama-bench '$peer' is not an executable file"
[ -x "$dsinfer" ] || die "'$dsinfer' is not an executable file (build with scripts/build.sh, or pass --dsinfer)"
[ -f "$model" ] || die "model '$model' is not a file"
for n in "$rounds" "$prompt" "$gen" "$threads" "$repeats"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a whole number"
done
for n in "$prompt" "$gen" "$threads" "$repeats"; do
  [ "$n" -gt 0 ] || die "-p, -n, -t and -r must be at least 1"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "| round | pp$prompt dsinfer / peer | tg$gen dsinfer / peer | probe GB/s | dsinfer % of bound | peer % of bound |"
echo "|---|---:|---:|---:|---:|---:|"
for round in $(seq "$rounds"); do
  # shellcheck disable=SC2086  # the peer's flags are words
  "$peer" -m "$model" -p "$prompt" -n "$gen" -t "$threads" -r "$repeats" $peer_flags -o json \
    > "$work/peer.out" 2> "$work/peer.err" || die "the peer failed: $(tail -3 "$work/peer.err")"
  "$dsinfer" bench -m "$model" -p "$prompt" -n "$gen" -t "$threads" -r "$repeats" --json \
    > "$work/dsinfer.json" 2> "$work/dsinfer.err" || die "dsinfer bench failed: $(tail -3 "$work/dsinfer.err")"
  python3 - "$round" "$work/peer.out" "$work/dsinfer.json" <<'EOF'
import json, statistics, sys

round_, peer_path, dsinfer_path = sys.argv[1:]
# ggml prints some warnings on stdout, in the middle of llama-bench's JSON.
text = "".join(line for line in open(peer_path) if not line.startswith("WARNING"))
try:
    peer = json.loads(text)
except json.JSONDecodeError as e:
    sys.exit(f"bench-side-by-side: the peer's output is not llama-bench JSON ({e})")
peer_median = {("pp" if r["n_prompt"] else "tg"): statistics.median(r["samples_ts"]) for r in peer}
ours = {r["test"][:2]: r for r in json.load(open(dsinfer_path))}
if set(peer_median) != {"pp", "tg"} or set(ours) != {"pp", "tg"}:
    sys.exit("bench-side-by-side: expected one pp and one tg test from each engine")
pp, tg = ours["pp"]["tokens_per_s"], ours["tg"]["tokens_per_s"]
bound = ours["tg"]["bandwidth_gbs"] * 1e9 / ours["tg"]["bytes_per_token"]
print(f"| {round_} | {pp:.2f} / {peer_median['pp']:.2f} ({pp / peer_median['pp']:.2f}x) "
      f"| {tg:.2f} / {peer_median['tg']:.2f} ({tg / peer_median['tg']:.2f}x) "
      f"| {ours['tg']['bandwidth_gbs']:.1f} | {ours['tg']['pct_of_bound']:.1f} "
      f"| {100 * peer_median['tg'] / bound:.1f} |")
EOF
done
