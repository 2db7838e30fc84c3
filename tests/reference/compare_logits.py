#!/usr/bin/python3
"""Compare two logits files [rows, vocab] (engine output vs reference).

    /usr/bin/python3 tests/reference/compare_logits.py --actual A.npy --expected B.npy [--rtol 1e-4]

Prints ||a-b|| / ||b|| over all rows, the max abs error, per-row argmax agreement and
the first mismatching rows. Exit 0 when rel error <= rtol and every row's argmax agrees,
1 on a mismatch, 2 on unusable input (missing file, shape mismatch, NaN/Inf).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def compare(actual: np.ndarray, expected: np.ndarray, rtol: float, show: int = 5, out=sys.stdout) -> int:
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if b.ndim == 1:
        b = b[None]
    if a.shape != b.shape:
        print(f"FAIL: shape mismatch: actual {list(a.shape)} vs expected {list(b.shape)}", file=out)
        return 2
    for label, x in (("actual", a), ("expected", b)):
        if not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0]
            print(f"FAIL: {label} has non-finite values (first at row {bad[0]}, col {bad[1]})", file=out)
            return 2
    diff = a - b
    nb = np.linalg.norm(b)
    rel = np.linalg.norm(diff) / nb if nb > 0 else np.linalg.norm(diff)
    max_abs = float(np.max(np.abs(diff))) if diff.size else 0.0
    row_rel = np.linalg.norm(diff, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-30)
    am_a = np.argmax(a, axis=1)
    am_b = np.argmax(b, axis=1)
    agree = am_a == am_b
    print(f"rows {a.shape[0]}, vocab {a.shape[1]}", file=out)
    print(f"relative error ||a-b||/||b|| = {rel:.3e} (rtol {rtol:.1e})", file=out)
    print(f"max abs error = {max_abs:.3e}", file=out)
    print(f"argmax agreement: {int(agree.sum())}/{agree.size} rows", file=out)

    bad_rows = np.nonzero((~agree) | (row_rel > rtol))[0]
    for r in bad_rows[:show]:
        top2 = np.sort(b[r])[-2:] if b.shape[1] > 1 else np.array([b[r, 0], b[r, 0]])
        print(f"  row {r}: rel {row_rel[r]:.3e}, max abs {np.max(np.abs(diff[r])):.3e}, "
              f"argmax actual {am_a[r]} ({a[r, am_a[r]]:.6g}) expected {am_b[r]} ({b[r, am_b[r]]:.6g}), "
              f"expected top-2 gap {top2[1] - top2[0]:.3e}", file=out)
    if len(bad_rows) > show:
        print(f"  ... {len(bad_rows) - show} more mismatching rows", file=out)

    ok = rel <= rtol and bool(agree.all())
    print("PASS" if ok else "FAIL", file=out)
    return 0 if ok else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="compare logits .npy files")
    ap.add_argument("--actual", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--show", type=int, default=5, help="how many mismatching rows to print")
    args = ap.parse_args(argv)
    try:
        a = np.load(args.actual)
        b = np.load(args.expected)
    except (OSError, ValueError) as e:
        print(f"compare_logits: cannot load: {e}", file=sys.stderr)
        return 2
    return compare(a, b, args.rtol, args.show)


if __name__ == "__main__":
    sys.exit(main())
