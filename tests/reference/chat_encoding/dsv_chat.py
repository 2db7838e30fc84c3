"""DeepSeek-V3.2 and DeepSeek-V4 prompt rendering (no jinja template ships with these
checkpoints; DeepSeek publishes Python encoders beside them: encoding/encoding_dsv32.py and
encoding/encoding_dsv4.py). This is an independent re-implementation of their behaviour,
written from README.md in this folder, used to generate the golden renderings in
tests/fixtures/chat_encoding/. Strings are rendered exactly; no tokenisation happens here.

    render_v32(messages, thinking, context=None, drop_thinking=True, bos=True)
    render_v4(messages, thinking, context=None, drop_thinking=True, bos=True, reasoning_effort=None)

thinking: True for thinking mode, False for chat mode. Messages are OpenAI-style dicts
(role, content, reasoning_content, tools, tool_calls, tool_call_id, response_format; V4
also latest_reminder / developer roles, content_blocks, task, wo_eos).
"""

from __future__ import annotations

import copy
import json

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK = "<think>"
END_THINK = "</think>"
DSML = "｜DSML｜"
LATEST_REMINDER = "<｜latest_reminder｜>"
V4_TASK_TOKENS = {"action": "<｜action｜>", "query": "<｜query｜>", "authority": "<｜authority｜>",
                  "domain": "<｜domain｜>", "title": "<｜title｜>", "read_url": "<｜read_url｜>"}


def dumps(v) -> str:
    """JSON as Python's json.dumps(v, ensure_ascii=False): ", " and ": " separators."""
    try:
        return json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(v, ensure_ascii=True)


def response_format_block(schema) -> str:
    return "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n" + dumps(schema)


def last_user_index(msgs) -> int:
    for i in range(len(msgs) - 1, -1, -1):
        if msgs[i].get("role") in ("user", "developer"):
            return i
    return -1


def dsml_parameters(arguments, lenient: bool) -> str:
    """One DSML parameter line per key of the JSON-object arguments, in order: strings
    verbatim with string="true", everything else as JSON with string="false"."""
    try:
        args = json.loads(arguments)
    except Exception:
        if not lenient:
            raise
        args = {"arguments": arguments}          # V4: unparsable arguments become one string
    lines = []
    for key, val in args.items():
        is_str = isinstance(val, str)
        lines.append(f'<{DSML}parameter name="{key}" string="{"true" if is_str else "false"}">'
                     f'{val if is_str else dumps(val)}</{DSML}parameter>')
    return "\n".join(lines)


def dsml_calls(tool_calls, block: str, lenient: bool) -> str:
    """'\\n\\n<｜DSML｜{block}>\\n' + invokes joined by '\\n' + '\\n</｜DSML｜{block}>'."""
    invokes = []
    for tc in tool_calls:
        fn = tc["function"]
        invokes.append(f'<{DSML}invoke name="{fn["name"]}">\n{dsml_parameters(fn["arguments"], lenient)}\n</{DSML}invoke>')
    return f"\n\n<{DSML}{block}>\n" + "\n".join(invokes) + f"\n</{DSML}{block}>"


def tool_schemas(tools) -> str:
    return "\n".join(dumps(t["function"]) for t in tools)


# ---------------------------------------------------------------------------
# DeepSeek-V3.2
# ---------------------------------------------------------------------------

def v32_tools_block(tools) -> str:
    return (
        "## Tools\n\n"
        "You have access to a set of tools you can use to answer the user's question.\n"
        f'You can invoke functions by writing a "<{DSML}function_calls>" block like the following as part of your reply to the user:\n'
        f"<{DSML}function_calls>\n"
        f'<{DSML}invoke name="$FUNCTION_NAME">\n'
        f'<{DSML}parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</{DSML}parameter>\n'
        "...\n"
        f"</{DSML}invoke>\n"
        f'<{DSML}invoke name="$FUNCTION_NAME2">\n'
        "...\n"
        f"</{DSML}invoke>\n"
        f"</{DSML}function_calls>\n\n"
        "String and scalar parameters should be specified as is without any escaping or quotes, while lists and objects "
        'should use JSON format. The "string" attribute should be set to "true" for string type parameters and "false" '
        "for other types (numbers, booleans, arrays, objects).\n\n"
        "If the thinking_mode is enabled, then after function results you should strongly consider outputting a thinking "
        "block. Here is an example:\n\n"
        f"<{DSML}function_calls>\n...\n</{DSML}function_calls>\n\n"
        "<function_results>\n...\n</function_results>\n\n"
        f"{THINK}...thinking about results{END_THINK}\n\n"
        "Here are the functions available in JSONSchema format:\n"
        f"<functions>\n{tool_schemas(tools)}\n</functions>\n"
    )


def _v32_one(i, msgs, thinking) -> str:
    m = msgs[i]
    role, content = m.get("role"), m.get("content")
    lu = last_user_index(msgs)
    opener = THINK if (thinking and i == lu) else END_THINK
    if role == "system":
        out = content or ""
        if m.get("tools"):
            out += "\n\n" + v32_tools_block(m["tools"])
        if m.get("response_format"):
            out += "\n\n" + response_format_block(m["response_format"])
        return out
    if role == "developer":
        if not content:
            raise ValueError("developer message needs content")
        body = ""
        if m.get("tools"):
            body += "\n\n" + v32_tools_block(m["tools"])
        if m.get("response_format"):
            body += "\n\n" + response_format_block(m["response_format"])
        body += f"\n\n# The user's message is: {content}"
        return USER + body + ASSISTANT + opener
    if role == "user":
        return USER + f"{content}" + ASSISTANT + opener
    if role == "tool":
        a = i - 1
        while a >= 0 and msgs[a].get("role") == "tool":
            a -= 1
        calls = msgs[a].get("tool_calls") if a >= 0 else None
        nth = i - a                                   # 1-based position among the tool results
        if a < 0 or msgs[a].get("role") != "assistant" or not calls or len(calls) < nth:
            raise ValueError(f"tool message {i} does not answer a tool call")
        out = "\n\n<function_results>" if nth == 1 else ""
        out += f"\n<result>{content}</result>"
        if nth == len(calls):
            out += "\n</function_results>\n\n" + (THINK if thinking and i >= lu else END_THINK)
        return out
    if role == "assistant":
        calls = dsml_calls(m["tool_calls"], "function_calls", False) if m.get("tool_calls") else ""
        reasoning = ""
        if thinking and i > lu:
            if not (m.get("reasoning_content") or m.get("tool_calls")):
                raise ValueError("thinking mode: an assistant turn after the last user message needs reasoning or tool calls")
            reasoning = (m.get("reasoning_content") or "") + END_THINK
        return reasoning + (content or "") + calls + EOS
    raise ValueError(f"unknown role {role!r}")


def render_v32(messages, thinking: bool, context=None, drop_thinking: bool = True, bos: bool = True) -> str:
    context = list(context or [])
    full = context + list(messages)
    if thinking and drop_thinking:
        lu = last_user_index(full)
        kept = []
        for i, m in enumerate(full):
            if m.get("role") in ("user", "system", "tool") or i >= lu:
                kept.append(m)
            elif m.get("role") == "assistant":
                m = dict(m)
                m.pop("reasoning_content", None)
                kept.append(m)
            # earlier developer messages are dropped
        full = kept
    out = BOS if bos and not context else ""
    for j in range(len(messages)):
        out += _v32_one(len(context) + j, full, thinking)
    return out


# ---------------------------------------------------------------------------
# DeepSeek-V4
# ---------------------------------------------------------------------------

V4_REASONING_EFFORT_MAX = (
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, "
    "rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, considered "
    "alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n"
)


def v4_tools_block(tools) -> str:
    return (
        "## Tools\n\n"
        "You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "
        f'"<{DSML}tool_calls>" block like the following:\n\n'
        f"<{DSML}tool_calls>\n"
        f'<{DSML}invoke name="$TOOL_NAME">\n'
        f'<{DSML}parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</{DSML}parameter>\n'
        "...\n"
        f"</{DSML}invoke>\n"
        f'<{DSML}invoke name="$TOOL_NAME2">\n'
        "...\n"
        f"</{DSML}invoke>\n"
        f"</{DSML}tool_calls>\n\n"
        'String parameters should be specified as is and set `string="true"`. For all other types (numbers, booleans, '
        'arrays, objects), pass the value in JSON format and set `string="false"`.\n\n'
        f"If thinking_mode is enabled (triggered by {THINK}), you MUST output your complete reasoning inside "
        f"{THINK}...{END_THINK} BEFORE any tool calls or final response.\n\n"
        f"Otherwise, output directly after {END_THINK} with tool calls or final response.\n\n"
        "### Available Tool Schemas\n\n"
        f"{tool_schemas(tools)}\n\n"
        "You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.\n"
    )


def v4_fold_tool_messages(messages):
    """V4 has no tool role: each tool message becomes a tool_result block of a user message
    (appended to the previous user message when that one already has blocks); a user
    message becomes a text block and joins a preceding block-user message that has no task."""
    out = []
    for m in messages:
        m = copy.deepcopy(m)
        role = m.get("role")
        prev_blocks = bool(out) and out[-1].get("role") == "user" and "content_blocks" in out[-1]
        if role == "tool":
            blk = {"type": "tool_result", "tool_use_id": m.get("tool_call_id", ""), "content": m.get("content", "")}
            if prev_blocks:
                out[-1]["content_blocks"].append(blk)
            else:
                out.append({"role": "user", "content_blocks": [blk]})
        elif role == "user":
            blk = {"type": "text", "text": m.get("content", "")}
            if prev_blocks and out[-1].get("task") is None:
                out[-1]["content_blocks"].append(blk)
            else:
                new = {"role": "user", "content": m.get("content", ""), "content_blocks": [blk]}
                new.update({k: m[k] for k in ("task", "wo_eos", "mask") if k in m})
                out.append(new)
        else:
            out.append(m)
    return out


def v4_order_tool_results(messages):
    """Reorder the tool_result blocks of a user message to the order of the preceding
    assistant's tool_calls ids (unknown ids count as position 0; stable). In place."""
    order = {}
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            order = {}
            for k, tc in enumerate(m["tool_calls"]):
                tid = tc.get("id") or tc.get("function", {}).get("id", "")
                if tid:
                    order[tid] = k
        elif m.get("role") == "user" and m.get("content_blocks"):
            results = [b for b in m["content_blocks"] if b.get("type") == "tool_result"]
            if len(results) > 1 and order:
                it = iter(sorted(results, key=lambda b: order.get(b.get("tool_use_id", ""), 0)))
                m["content_blocks"] = [next(it) if b.get("type") == "tool_result" else b for b in m["content_blocks"]]
    return messages


def v4_drop_reasoning(msgs):
    lu = last_user_index(msgs)
    kept = []
    for i, m in enumerate(msgs):
        if m.get("role") in ("user", "system", "tool", "latest_reminder", "direct_search_results") or i >= lu:
            kept.append(m)
        elif m.get("role") == "assistant":
            m = dict(m)
            m.pop("reasoning_content", None)
            kept.append(m)
    return kept


def _v4_tool_result_text(content) -> str:
    if isinstance(content, list):
        content = "\n\n".join(b.get("text", "") if b.get("type") == "text" else f"[Unsupported {b.get('type')}]"
                              for b in content)
    return f"<tool_result>{content}</tool_result>"


def _v4_one(i, msgs, thinking, drop, effort) -> str:
    m = msgs[i]
    role, content = m.get("role"), m.get("content")
    lu = last_user_index(msgs)
    out = V4_REASONING_EFFORT_MAX if (i == 0 and thinking and effort == "max") else ""
    extras = ""
    if m.get("tools"):
        extras += "\n\n" + v4_tools_block(m["tools"])
    if m.get("response_format"):
        extras += "\n\n" + response_format_block(m["response_format"])
    if role == "system":
        out += (content or "") + extras
    elif role == "developer":
        if not content:
            raise ValueError("developer message needs content")
        out += USER + content + extras
    elif role == "user":
        blocks = m.get("content_blocks")
        if blocks:
            parts = []
            for b in blocks:
                if b.get("type") == "text":
                    parts.append(b.get("text", ""))
                elif b.get("type") == "tool_result":
                    parts.append(_v4_tool_result_text(b.get("content", "")))
                else:
                    parts.append(f"[Unsupported {b.get('type')}]")
            out += USER + "\n\n".join(parts)
        else:
            out += USER + (content or "")
    elif role == "latest_reminder":
        out += LATEST_REMINDER + f"{content}"
    elif role == "assistant":
        calls = dsml_calls(m["tool_calls"], "tool_calls", True) if m.get("tool_calls") else ""
        reasoning = ""
        after_task = i > 0 and msgs[i - 1].get("task") is not None
        if thinking and not after_task and (not drop or i > lu):
            reasoning = (m.get("reasoning_content") or "") + END_THINK
        out += reasoning + (content or "") + calls + ("" if m.get("wo_eos", False) else EOS)
    else:
        raise ValueError(f"unknown role {role!r} (V4 folds tool messages into user messages)")

    nxt = msgs[i + 1].get("role") if i + 1 < len(msgs) else None
    if nxt is not None and nxt not in ("assistant", "latest_reminder"):
        return out
    task = m.get("task")
    if task is not None:
        if task not in V4_TASK_TOKENS:
            raise ValueError(f"unknown task {task!r}")
        if task == "action":
            out += ASSISTANT + (THINK if thinking else END_THINK) + V4_TASK_TOKENS[task]
        else:
            out += V4_TASK_TOKENS[task]
    elif role in ("user", "developer"):
        out += ASSISTANT + (THINK if thinking and (not drop or i >= lu) else END_THINK)
    return out


def render_v4(messages, thinking: bool, context=None, drop_thinking: bool = True, bos: bool = True,
              reasoning_effort=None) -> str:
    if reasoning_effort not in (None, "high", "max"):
        raise ValueError(f"reasoning_effort {reasoning_effort!r}")
    context = list(context or [])
    msgs = v4_fold_tool_messages(messages)
    msgs = v4_order_tool_results(context + msgs)[len(context):]
    if context:
        context = v4_order_tool_results(v4_fold_tool_messages(context))
    full = context + msgs
    drop = drop_thinking and not any(m.get("tools") for m in full)
    if thinking and drop:
        full = v4_drop_reasoning(full)
        start = len(v4_drop_reasoning(context))
    else:
        start = len(context)
        full = full[:start + len(msgs)]
    out = BOS if bos and not context else ""
    for i in range(start, len(full)):
        out += _v4_one(i, full, thinking, drop, reasoning_effort)
    return out
