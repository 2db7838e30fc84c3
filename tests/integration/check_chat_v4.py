#!/usr/bin/env python3
"""`dsinfer chat` on a DeepSeek-V4 folder: its greedy reply to one user line must be the
text of `dsinfer run --prompt-tokens` on the prompt the V4 encoder renders (whose bytes
the chat-encoding goldens check against DeepSeek's own script), so chat drives the V4
model over exactly that prompt.

Usage: check_chat_v4.py DSINFER WORK_DIR
"""
import json
import pathlib
import subprocess
import sys


def run(args, stdin=""):
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def main():
    dsinfer, work = sys.argv[1], pathlib.Path(sys.argv[2])
    model = work / "v4-demo"
    run([dsinfer, "make-test-model", "--preset", "v4-demo", "--out", str(model)])
    line, steps = "Hello there", 6
    prompt = run([dsinfer, "chat-template", "--model", str(model), "--add-generation-prompt"],
                 json.dumps([{"role": "user", "content": line}]))
    ids = json.loads(run([dsinfer, "tokenize", "--model", str(model)], json.dumps(prompt) + "\n"))["ids"]
    generated = run([dsinfer, "run", "--model", str(model), "--prompt-tokens", ",".join(map(str, ids)),
                     "-n", str(steps), "--temperature", "0", "-t", "1"]).strip()
    expected = json.loads(run([dsinfer, "detokenize", "--model", str(model)], f"[{generated}]\n"))
    reply = run([dsinfer, "chat", "--model", str(model), "-n", str(steps), "--temperature", "0", "-t", "1"],
                line + "\n")
    if reply.rstrip("\n") != expected:
        sys.exit(f"chat replied {reply!r}, run on the encoded prompt gave {expected!r}")
    print(f"chat reply == run on the V4-encoded prompt ({len(ids)} prompt tokens, {steps} generated)")


if __name__ == "__main__":
    main()
