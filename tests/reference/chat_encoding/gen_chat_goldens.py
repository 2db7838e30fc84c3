#!/usr/bin/python3
"""Write the golden prompt renderings of DeepSeek-V3.2 and DeepSeek-V4 conversations.

    /usr/bin/python3 tests/reference/chat_encoding/gen_chat_goldens.py [--out tests/fixtures/chat_encoding] [--check]

Each line of v32.jsonl / v4.jsonl is one case:
  {"name", "thinking": bool, "drop_thinking": bool, "bos": bool, "reasoning_effort": null|"high"|"max"
   (v4 only), "context": [messages already rendered before], "messages": [...], "text": rendered string}
`text` is what the model's Python encoder (encode_messages(messages, thinking_mode, context,
drop_thinking, add_default_bos_token[, reasoning_effort])) returns for that input; rendering
comes from dsv_chat.py (README.md describes the format). --check compares the files on disk
with a fresh rendering and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dsv_chat import render_v32, render_v4  # noqa: E402

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Search the web",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}, "top_k": {"type": "integer", "minimum": 1}}, "required": ["query"]}}}
CALC = {"type": "function", "function": {
    "name": "calc", "description": "Evaluate arithmetic; returns a number",
    "parameters": {"type": "object", "properties": {"expr": {"type": "string"}}}}}


def call(cid, name, args):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}


SYS = {"role": "system", "content": "You are a helpful assistant."}
U1 = {"role": "user", "content": "Hello!"}
A1 = {"role": "assistant", "reasoning_content": "The user greets me.", "content": "Hi! How can I help?"}
U2 = {"role": "user", "content": "What is 2 + 2?"}
A2 = {"role": "assistant", "reasoning_content": "Simple arithmetic: 4.", "content": "2 + 2 = 4."}
U3 = {"role": "user", "content": "And times 3?"}

TOOL_TURN = [
    dict(SYS, tools=[WEATHER, SEARCH]),
    {"role": "user", "content": "Weather in Paris and in Tokyo?"},
    {"role": "assistant", "reasoning_content": "I need two lookups.", "content": "",
     "tool_calls": [call("c1", "get_weather", {"city": "Paris", "unit": "celsius"}),
                    call("c2", "get_weather", {"city": "Tokyo"})]},
    {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 18, \"sky\": \"cloudy\"}"},
    {"role": "tool", "tool_call_id": "c2", "content": "{\"temp\": 24, \"sky\": \"clear\"}"},
    {"role": "assistant", "reasoning_content": "Both results are in.", "content": "Paris 18°C cloudy; Tokyo 24°C clear."},
]
ONE_CALL = [
    dict(SYS, tools=[CALC]),
    {"role": "user", "content": "Compute 17*23, then tell me if it is prime."},
    {"role": "assistant", "reasoning_content": "Use the calculator.",
     "tool_calls": [call("k1", "calc", {"expr": "17*23"})]},
    {"role": "tool", "tool_call_id": "k1", "content": "391"},
]
TYPED_ARGS = [
    dict(SYS, tools=[SEARCH]),
    {"role": "user", "content": "search cats"},
    {"role": "assistant", "content": "Searching.",
     "tool_calls": [call("s1", "search", {"query": "cats {and} <dogs>", "top_k": 3, "safe": True, "lang": None,
                                          "tags": ["a", 1, 2.5], "opts": {"x": "y"}, "note": "多语言 ✓"})]},
    {"role": "tool", "tool_call_id": "s1", "content": "[]"},
    {"role": "assistant", "content": "Nothing found."},
]

RF = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {
    "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}}}


def case(name, messages, thinking, **kw):
    return dict(name=name, messages=messages, thinking=thinking, **kw)


def common_cases():
    return [
        case("single_user_chat", [U1], False),
        case("single_user_thinking", [U1], True),
        case("system_user_thinking", [SYS, U1], True),
        case("multi_turn_thinking_drops_old_reasoning", [SYS, U1, A1, U2, A2], True),
        case("multi_turn_thinking_open", [SYS, U1, A1, U2], True),
        case("multi_turn_thinking_keep_reasoning", [SYS, U1, A1, U2, A2, U3], True, drop_thinking=False),
        case("multi_turn_chat_ignores_reasoning", [SYS, U1, A1, U2, A2, U3], False),
        case("tools_declared_first_turn", [dict(SYS, tools=[WEATHER, SEARCH]), U1], True),
        case("tools_declared_chat", [dict(SYS, tools=[WEATHER]), U2], False),
        case("two_tool_calls_and_results_thinking", TOOL_TURN, True),
        case("two_tool_calls_and_results_chat", TOOL_TURN, False),
        case("tool_results_awaiting_answer", ONE_CALL, True),
        case("tool_results_awaiting_answer_chat", ONE_CALL, False),
        case("typed_arguments", TYPED_ARGS, False),
        case("tool_turn_then_new_user", TOOL_TURN + [U3], True),
        case("response_format", [dict(SYS, response_format=RF), {"role": "user", "content": "Say hi as JSON"}], True),
        case("unicode_and_braces", [{"role": "system", "content": "助手 {name} 🤖"},
                                    {"role": "user", "content": "你好 {x} <b>bold</b>\n\nnew paragraph"}], True),
        case("empty_system", [{"role": "system", "content": ""}, U1], False),
        case("ends_with_assistant_chat", [SYS, U1, {"role": "assistant", "content": "Hi!"}], False),
        case("context_continuation", [U3], True, context=[SYS, U1, A1, U2, A2]),
        case("no_bos", [SYS, U2], True, bos=False),
        case("assistant_content_and_call", [dict(SYS, tools=[CALC]), U2,
                                            {"role": "assistant", "reasoning_content": "calc it",
                                             "content": "Let me check.", "tool_calls": [call("z", "calc", {"expr": "2+2"})]},
                                            {"role": "tool", "tool_call_id": "z", "content": "4"}], True),
    ]


def v32_cases():
    return common_cases() + [
        case("developer_with_tools", [SYS, {"role": "developer", "content": "Find news about rust", "tools": [SEARCH]}], True),
        case("developer_chat", [{"role": "developer", "content": "Answer briefly.", "response_format": RF}], False),
    ]


def v4_cases():
    return common_cases() + [
        case("reasoning_effort_max", [SYS, U2], True, reasoning_effort="max"),
        case("reasoning_effort_max_chat_mode_ignored", [SYS, U2], False, reasoning_effort="max"),
        case("reasoning_effort_high", [SYS, U2], True, reasoning_effort="high"),
        case("latest_reminder", [SYS, {"role": "latest_reminder", "content": "2026-02-21, Paris, App, English"}, U1], True),
        case("developer_with_tools", [SYS, {"role": "developer", "content": "Find news about rust", "tools": [SEARCH]}], True),
        case("tool_results_reordered_by_call_id", TOOL_TURN[:3] + [TOOL_TURN[4], TOOL_TURN[3]], True),
        case("consecutive_users_merge", [SYS, U1, {"role": "user", "content": "Are you there?"}], True),
        case("tool_result_then_user_text", ONE_CALL + [{"role": "user", "content": "Also explain."}], True),
        case("tool_result_content_list", ONE_CALL[:3] + [{"role": "tool", "tool_call_id": "k1", "content": [
            {"type": "text", "text": "391"}, {"type": "image", "url": "x"}, {"type": "text", "text": "done"}]}], True),
        case("task_action", [SYS, dict(U2, task="action")], True),
        case("task_query_chat", [dict(U2, task="query")], False),
        case("task_title_after_answer", [U1, dict(A1, task="title"),
                                         {"role": "assistant", "content": "Greeting"}], True),
        case("assistant_wo_eos", [U1, dict(A1, wo_eos=True)], True),
        case("unparsable_arguments", [dict(SYS, tools=[CALC]), U2,
                                      {"role": "assistant", "reasoning_content": "r",
                                       "tool_calls": [{"id": "q", "type": "function",
                                                       "function": {"name": "calc", "arguments": "not json"}}]},
                                      {"role": "tool", "tool_call_id": "q", "content": "err"}], True),
        case("context_with_tools_keeps_reasoning", [U3], True, context=[dict(SYS, tools=[CALC]), U1, A1, U2, A2]),
    ]


def render(kind, c):
    if kind == "v32":
        return render_v32(c["messages"], c["thinking"], c.get("context"), c.get("drop_thinking", True), c.get("bos", True))
    return render_v4(c["messages"], c["thinking"], c.get("context"), c.get("drop_thinking", True), c.get("bos", True),
                     c.get("reasoning_effort"))


def build(kind):
    rows = []
    for c in (v32_cases() if kind == "v32" else v4_cases()):
        row = {"name": c["name"], "thinking": c["thinking"], "drop_thinking": c.get("drop_thinking", True),
               "bos": c.get("bos", True)}
        if kind == "v4":
            row["reasoning_effort"] = c.get("reasoning_effort")
        row["context"] = c.get("context", [])
        row["messages"] = c["messages"]
        row["text"] = render(kind, c)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "fixtures", "chat_encoding"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = ap.parse_args(argv)
    bad = 0
    for kind in ("v32", "v4"):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in build(kind))
        path = os.path.join(args.out, kind + ".jsonl")
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    print(f"{path}: differs from a fresh rendering", file=sys.stderr)
                    bad = 1
        else:
            os.makedirs(args.out, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {path} ({text.count(chr(10))} cases)", file=sys.stderr)
    return bad


if __name__ == "__main__":
    sys.exit(main())
