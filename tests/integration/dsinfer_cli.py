"""The `dsinfer` binary the unittest modules run ($DSINFER, set by CTest)."""
import os
import subprocess

DSINFER = os.environ["DSINFER"]


def run(*args, stdin=""):
    """`dsinfer ARGS` with `stdin`; the CompletedProcess, output as bytes."""
    return subprocess.run([DSINFER, *map(str, args)], input=stdin.encode(), capture_output=True, timeout=120)
