#!/usr/bin/env bash
# `dsinfer chat-template` end to end: a model folder holding only
# tokenizer_config.json (with the DeepSeek-V3.1 template), stdin in both accepted
# shapes, --kwargs, and the golden renderings Jinja2 made; then a V3.2 folder without a
# template, rendered by the built-in encoder.
# Usage: chat_template_cli_test.sh DSINFER_BINARY SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
fixtures="$src/tests/fixtures/chat_templates"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 - "$fixtures" "$work" <<'PY'
import json, sys
fixtures, work = sys.argv[1], sys.argv[2]
template = open(f"{fixtures}/deepseek-v3.1.jinja", encoding="utf-8", newline="").read()
config = {"bos_token": {"__type": "AddedToken", "content": "<｜begin▁of▁sentence｜>"},
          "eos_token": "<｜end▁of▁sentence｜>", "chat_template": template}
json.dump(config, open(f"{work}/tokenizer_config.json", "w", encoding="utf-8"), ensure_ascii=False)
conversations = {c["name"]: c for c in json.load(open(f"{fixtures}/conversations.json", encoding="utf-8"))}
golden = {}
for line in open(f"{fixtures}/golden/deepseek-v3.1.jsonl", encoding="utf-8"):
    entry = json.loads(line)
    golden[entry["conversation"]] = entry
for name in ["thinking_on", "tool_call_then_answer", "unicode_content"]:
    c = conversations[name]
    request = {"messages": c["messages"]} if "tools" not in c else {"messages": c["messages"], "tools": c["tools"]}
    with open(f"{work}/{name}.json", "w", encoding="utf-8") as f:
        json.dump(request if name != "thinking_on" else c["messages"], f, ensure_ascii=False)
    flags = ("--add-generation-prompt" if c.get("add_generation_prompt") else "") + "\n" + json.dumps(c.get("kwargs", {}))
    open(f"{work}/{name}.flags", "w").write(flags)
    open(f"{work}/{name}.want", "w", encoding="utf-8", newline="").write(golden[name]["rendered"])
PY

fail=0
for name in thinking_on tool_call_then_answer unicode_content; do
  gen=$(sed -n 1p "$work/$name.flags")
  kwargs=$(sed -n 2p "$work/$name.flags")
  # shellcheck disable=SC2086
  "$bin" chat-template --model "$work" $gen --kwargs "$kwargs" < "$work/$name.json" > "$work/$name.got"
  if cmp -s "$work/$name.want" "$work/$name.got"; then
    echo "ok   $name"
  else
    echo "FAIL $name"; diff <(cat "$work/$name.want") <(cat "$work/$name.got") || true
    fail=1
  fi
done

# A V3.2 folder: no template, config.json's model_type selects the built-in encoder;
# --kwargs '{"thinking": true}' selects thinking mode (golden from tests/fixtures/chat_encoding).
mkdir -p "$work/v32"
/usr/bin/python3 - "$src/tests/fixtures/chat_encoding/v32.jsonl" "$work/v32" <<'PY'
import json, sys
golden, out = sys.argv[1], sys.argv[2]
json.dump({"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}, open(f"{out}/tokenizer_config.json", "w"))
json.dump({"model_type": "deepseek_v32"}, open(f"{out}/config.json", "w"))
case = next(c for c in map(json.loads, open(golden, encoding="utf-8")) if c["name"] == "two_tool_calls_and_results_thinking")
json.dump(case["messages"], open(f"{out}/messages.json", "w", encoding="utf-8"), ensure_ascii=False)
open(f"{out}/want", "w", encoding="utf-8", newline="").write(case["text"])
PY
"$bin" chat-template --model "$work/v32" --kwargs '{"thinking": true}' < "$work/v32/messages.json" > "$work/v32/got"
if cmp -s "$work/v32/want" "$work/v32/got"; then
  echo "ok   deepseek_v32 encoder"
else
  echo "FAIL deepseek_v32 encoder"; diff <(cat "$work/v32/want") <(cat "$work/v32/got") || true
  fail=1
fi

# Errors: non-zero exit and a message on stderr.
if echo 'not json' | "$bin" chat-template --model "$work" 2> "$work/err"; then
  echo "FAIL bad stdin accepted"; fail=1
else
  grep -q "not valid JSON" "$work/err" && echo "ok   bad stdin rejected" || { echo "FAIL message: $(cat "$work/err")"; fail=1; }
fi
if echo '[]' | "$bin" chat-template --model "$work/missing" 2> /dev/null; then
  echo "FAIL missing model folder accepted"; fail=1
else
  echo "ok   missing model folder rejected"
fi
exit $fail
