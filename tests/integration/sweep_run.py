"""One run of an edge-value sweep (check_config_sweep.py, check_gguf_metadata_sweep.py):
an edited model through a dsinfer command, judged by what the sweeps require of it."""
import argparse
import subprocess

import numpy as np


def failure_of(command, case, logits=None):
    """None when `command` ends with exit 0 (and, given `logits`, finite logits written
    there) or with exit 1 and an error line; otherwise what went wrong, named by `case`.
    A sanitizer report is a failure whatever the exit status: AddressSanitizer exits 1
    by default, and UBSan's "runtime error:" reads like an error line."""
    if logits is not None:
        logits.unlink(missing_ok=True)
    try:
        result = subprocess.run(command, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return f"{case}: no answer within 60 s"
    stderr = result.stderr.decode(errors="replace")
    if "Sanitizer" in stderr or "runtime error:" in stderr:
        return f"{case}: sanitizer report: {stderr[-400:]!r}"
    if result.returncode == 0:
        if logits is not None and not (logits.exists() and np.isfinite(np.load(logits)).all()):
            return f"{case}: exit 0 without finite logits"
        return None
    if result.returncode != 1 or "error:" not in stderr:
        return f"{case}: exit {result.returncode}, stderr {stderr[-400:]!r}"
    return None


def dsinfer_from_arguments():
    """The --dsinfer binary a sweep is given."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsinfer", required=True)
    return parser.parse_args().dsinfer
