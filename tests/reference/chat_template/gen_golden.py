#!/usr/bin/python3
"""Renders every tests/fixtures/chat_templates/*.jinja with every conversation in
conversations.json using Python Jinja2 configured exactly as Hugging Face
transformers configures it for apply_chat_template (transformers'
utils/chat_template_utils.py: _compile_jinja_template and render_jinja_template),
and writes golden/<template>.jsonl, one line per conversation:
  {"conversation": name, "rendered": text}            on success
  {"conversation": name, "error": message, "error_type": "TypeError"}  when rendering raises
Run with Debian's interpreter (python3-jinja2): /usr/bin/python3 gen_golden.py
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "chat_templates"))

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker without the tracking: {% generation %} marks
    assistant text for token masks and renders its body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_environment():
    # As transformers: trim_blocks, lstrip_blocks, loopcontrols, its own tojson
    # (json.dumps without HTML escaping), raise_exception and strftime_now globals,
    # and the {% generation %} tag of its AssistantTracker extension.
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(compiled, conversation):
    # transformers: render(messages=, tools=, documents=, add_generation_prompt=,
    # **special_tokens_map, **kwargs)
    variables = {"bos_token": BOS, "eos_token": EOS}
    variables.update(conversation.get("kwargs", {}))
    return compiled.render(
        messages=conversation["messages"],
        tools=conversation.get("tools"),
        documents=None,
        add_generation_prompt=conversation.get("add_generation_prompt", False),
        **variables,
    )


def main():
    print(f"jinja2 {jinja2.__version__}", file=sys.stderr)
    with open(os.path.join(FIXTURES, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)
    env = make_environment()
    os.makedirs(os.path.join(FIXTURES, "golden"), exist_ok=True)
    for filename in sorted(os.listdir(FIXTURES)):
        if not filename.endswith(".jinja"):
            continue
        with open(os.path.join(FIXTURES, filename), encoding="utf-8", newline="") as f:
            source = f.read()
        compiled = env.from_string(source)
        lines = []
        errors = 0
        for conversation in conversations:
            entry = {"conversation": conversation["name"]}
            try:
                entry["rendered"] = render(compiled, conversation)
            except Exception as e:  # recorded: the C++ renderer must fail too
                entry["error"] = str(e)
                entry["error_type"] = type(e).__name__
                errors += 1
            lines.append(json.dumps(entry, ensure_ascii=False))
        out = os.path.join(FIXTURES, "golden", filename[: -len(".jinja")] + ".jsonl")
        with open(out, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{filename}: {len(lines)} renderings, {errors} errors", file=sys.stderr)


if __name__ == "__main__":
    main()
