#!/usr/bin/python3
"""Differential testing aid: generates random templates (expressions, filters,
tests, methods, loops, sets) over a few typed variables, renders them with
Python Jinja2 under transformers' settings, and writes them in the format of
jinja_cases.json. Run the C++ side on them with

    /usr/bin/python3 gen_random_cases.py --count 3000 --seed 1 --out /tmp/random_cases.json
    DSINFER_JINJA_CASES=/tmp/random_cases.json build/tests/tokenizer/chat_template_tests \
        --gtest_filter='Extra*'

Not part of the regular suite (its cases are not reviewed by a person); a failure
here is a semantic difference worth a look, and, once understood, a case for
gen_jinja_cases.py.
"""
import argparse
import copy
import json
import random

from gen_golden import make_environment

VARS = {
    "i": 7, "z": 0, "neg": -3, "f": 2.5, "big": 1e20, "s": "Hello World", "e": "", "u8": "héllo wörld",
    "sp": "  padded  ", "csv": "a,b,,c", "l": [3, 1, 2], "ls": ["b", "a", "c"], "el": [],
    "d": {"a": 1, "b": "x", "c": None}, "n": None, "t": True, "fa": False,
    "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "tool_calls": None}],
}
NAMES = list(VARS) + ["undefined_var"]
STR_METHODS = [("upper", []), ("lower", []), ("strip", []), ("lstrip", []), ("rstrip", []), ("title", []),
               ("capitalize", []), ("split", []), ("split", ["','"]), ("split", ["' '", "1"]), ("rsplit", ["' '", "1"]),
               ("startswith", ["'He'"]), ("endswith", ["'ld'"]), ("replace", ["'l'", "'L'"]), ("find", ["'o'"]),
               ("count", ["'l'"]), ("strip", ["'H'"]), ("isdigit", []), ("isalpha", []), ("splitlines", [])]
FILTERS = [("length", []), ("string", []), ("trim", []), ("upper", []), ("lower", []), ("first", []), ("last", []),
           ("list", []), ("reverse", []), ("sort", []), ("unique", []), ("join", ["'-'"]), ("join", []),
           ("default", ["'dflt'"]), ("default", ["'dflt'", "true"]), ("tojson", []), ("tojson", ["indent=2"]),
           ("int", []), ("float", []), ("abs", []), ("round", []), ("round", ["1"]), ("capitalize", []), ("title", []),
           ("sum", []), ("min", []), ("max", []), ("items", []), ("select", []), ("reject", []),
           ("map", ["'string'"]), ("replace", ["'l'", "'_'"]), ("count", []), ("wordcount", []), ("center", ["11"]),
           ("indent", ["2"]), ("dictsort", []), ("safe", []), ("escape", [])]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
         "boolean", "true", "false", "odd", "even", "lower", "upper", "callable"]
LITERALS = ["0", "1", "-2", "3.5", "'a'", "'x y'", "''", "none", "true", "false", "[1, 2]", "['q', 'r']", "{'k': 1}",
            "(1, 'a')", "[]"]


def expr(rng, depth):
    if depth <= 0:
        return rng.choice([rng.choice(NAMES), rng.choice(NAMES), rng.choice(LITERALS)])
    kind = rng.randrange(14)
    sub = lambda: expr(rng, depth - 1)
    if kind == 0:
        return f"({sub()} {rng.choice(['+', '-', '*', '//', '%', '/'])} {sub()})"
    if kind == 1:
        return f"({sub()} {rng.choice(['==', '!=', '<', '>', '<=', '>=', 'in', 'not in'])} {sub()})"
    if kind == 2:
        return f"({sub()} {rng.choice(['and', 'or'])} {sub()})"
    if kind == 3:
        return f"(not {sub()})"
    if kind == 4:
        return f"({sub()} ~ {sub()})"
    if kind == 5:
        return f"({sub()} if {sub()} else {sub()})"
    if kind == 6:
        name, args = rng.choice(FILTERS)
        return f"({sub()} | {name}{'(' + ', '.join(args) + ')' if args else ''})"
    if kind == 7:
        return f"({sub()} is {'not ' if rng.random() < 0.3 else ''}{rng.choice(TESTS)})"
    if kind == 8:
        name, args = rng.choice(STR_METHODS)
        return f"{rng.choice(['s', 'u8', 'sp', 'csv', 'e'])}.{name}({', '.join(args)})"
    if kind == 9:
        target = rng.choice(["l", "ls", "s", "u8", "msgs", "d", "csv"])
        key = rng.choice(["0", "-1", "1:", ":-1", "::-1", "::2", "5", "i", "'a'", "z:i"])
        return f"{target}[{key}]"
    if kind == 10:
        return f"[{sub()}, {sub()}]"
    if kind == 11:
        return rng.choice(["d.a", "d.b", "d.zz", "d.get('a')", "d.get('zz', 'dflt')", "d.items()", "d.keys()",
                           "msgs[0].role", "msgs[1]['tool_calls']", "msgs | map(attribute='role') | list",
                           "msgs | selectattr('role', 'equalto', 'user') | list", "range(i) | list", "l | sort(reverse=true)"])
    if kind == 12:
        return f"(-{sub()})"
    return sub()


def statement(rng, depth):
    kind = rng.randrange(6)
    if kind == 0 or depth <= 0:
        return f"{{{{ {expr(rng, 3)} }}}}"
    if kind == 1:
        return f"{{% if {expr(rng, 2)} %}}A{statement(rng, depth - 1)}{{% else %}}B{{% endif %}}"
    if kind == 2:
        return (f"{{% for x in {rng.choice(['l', 'ls', 's', 'd', 'msgs', 'el', 'range(3)'])} %}}"
                f"{{{{ loop.index }}}}{{{{ x }}}}{statement(rng, depth - 1)}{{% endfor %}}")
    if kind == 3:
        return f"{{% set v = {expr(rng, 2)} %}}{{{{ v }}}}"
    if kind == 4:
        return f"{{% set ns = namespace(acc=[]) %}}{{% for x in l %}}{{% set ns.acc = ns.acc + [{expr(rng, 1)}] %}}{{% endfor %}}{{{{ ns.acc }}}}"
    spacing = rng.choice([" ", "\n", "  \n  "])
    return f"|{spacing}{{%- if t -%}}  x  {{%- endif %}}\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="/tmp/random_cases.json")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = make_environment()
    cases = []
    for n in range(args.count):
        template = "".join(statement(rng, 2) for _ in range(rng.randrange(1, 4)))
        entry = {"name": f"random_{args.seed}_{n}", "template": template, "vars": VARS}
        try:
            # A fresh copy each time: Jinja2's |indent extends a list argument in
            # place (`s += "\n"`) before failing, which would leak into later cases.
            entry["expected"] = env.from_string(template).render(**copy.deepcopy(VARS))
        except Exception as e:
            entry["error"] = str(e)
            entry["error_type"] = type(e).__name__
        cases.append(entry)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False)
    print(f"wrote {len(cases)} cases ({sum('error' in c for c in cases)} errors) to {args.out}")


if __name__ == "__main__":
    main()
