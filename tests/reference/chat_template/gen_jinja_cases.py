#!/usr/bin/python3
"""Writes tests/fixtures/chat_templates/jinja_cases.json: small templates, one or
a few Jinja constructs each, with the output (or the error) Python Jinja2 gives
under transformers' configuration. test_jinja_cases.cpp renders each with the
C++ interpreter and compares bytes.

Every case renders with these variables unless it gives its own "vars":
"""
import json
import os

from gen_golden import make_environment

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "chat_templates", "jinja_cases.json")

DEFAULT_VARS = {
    "d": {"a": 1, "b": [1, 2], "c": None},
    "s": "héllo wörld",
    "n": None,
    "items": [3, 1, 2],
    "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    "f": 2.5,
    "t": True,
}

# (name, template[, vars])
CASES = [
    # --- output and whitespace control ------------------------------------
    ("text", "plain text"),
    ("print_values", "{{ 1 }}|{{ 1.0 }}|{{ 'x' }}|{{ none }}|{{ true }}|{{ false }}|{{ undefined_name }}|"),
    ("print_containers", "{{ [1, 'a', none, true, 1.5, {'k': (1, 2)}] }} {{ (1,) }} {{ () }} {{ {} }} {{ d }}"),
    ("print_string_repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\n', 'bs\\\\'] }}"),
    ("print_unicode_repr", "{{ ['é', '😀', '\\u00a0', '\\u200b', '\\x7f', '\\x01', '\\u2028'] }}"),
    ("floats", "{{ 0.1 + 0.2 }} {{ 1/3 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ -0.0 }} {{ 2.5e-300 }} {{ 123456789.125 }}"),
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter"),
    ("lstrip_blocks", "  {% if true %}\n    x\n  {% endif %}\n  y {% if true %}z{% endif %}"),
    ("lstrip_not_for_variables", "  {{ 'v' }}\n  {# c #}\nw"),
    ("dash_strips_all", "a   \n\n  {%- if true -%}  \n\n b  {{- ' c ' -}}   d {#- comment -#}   e{% endif %}"),
    ("plus_disables_lstrip", "x\n    {%+ if true %}y{% endif %}\n  {%- if true +%}\nz{% endif %}"),
    ("comments", "a{# a comment {{ x }} #}b\n{# block comment #}\nc"),
    ("raw_block", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}!"),
    ("trailing_newline_dropped", "line\n"),
    ("crlf_normalized", "a\r\nb\rc{% if true %}\r\nd{% endif %}"),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\x41\\u00e9\\101' }}|{{ \"q\\\"q\" }}|{{ 'keep\\d' }}"),
    ("adjacent_strings", "{{ 'a' 'b' \"c\" }}"),
    # --- expressions --------------------------------------------------------
    ("arithmetic", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 10 / 4 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}"),
    ("unary", "{{ -3 }} {{ +3 }} {{ - -3 }} {{ -f }} {{ not true }} {{ not none }}"),
    ("string_ops", "{{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 2 * 'x' }} {{ [1] * 2 }} {{ [1, 2] + [3] }} {{ 'x' ~ 1 ~ none ~ [1] ~ d.c }}"),
    ("comparisons", "{{ 1 == 1.0 }} {{ true == 1 }} {{ [1] == (1,) }} {{ 'a' < 'b' }} {{ (1, 2) < (1, 3) }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'é' > 'z' }} {{ none == none }} {{ d == {'a': 1, 'b': [1, 2], 'c': none} }}"),
    ("in_operator", "{{ 'ell' in s }} {{ 2 in items }} {{ 'a' in d }} {{ 'z' not in d }} {{ 5 not in items }} {{ 'x' in undefined_name }}"),
    ("logic_returns_operands", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }} {{ '' and 1 }} {{ (false or none) is none }}"),
    ("conditional_expression", "{{ 'y' if t else 'n' }} {{ 'y' if n else 'n' }} {{ 'y' if n }}| {{ 1 if false else 2 if false else 3 }}"),
    ("tuples_and_literals", "{% set a = 1, 2 %}{{ a }} {{ [1, 2,] }} {{ {'k': 'v',} }} {{ (1, 2)[1] }} {{ [[1, 2], [3]][0][1] }}"),
    ("subscripts", "{{ d['a'] }} {{ d.a }} {{ d.b[1] }} {{ d['b'].0 }} {{ items[-1] }} {{ s[0] }} {{ s[-1] }} {{ msgs[1]['role'] }}|{{ items[10] }}|{{ d.missing }}|"),
    ("slices", "{{ items[1:] }} {{ items[:-1] }} {{ items[::-1] }} {{ items[::2] }} {{ s[1:4] }} {{ s[::-1] }} {{ s[-3:] }} {{ items[5:] }} {{ items[-10:2] }} {{ items[2:0:-1] }}"),
    ("attribute_on_none_is_undefined", "{{ n.x }}|{{ n['x'] }}|{{ 5 .x }}|{{ (n.x) is defined }}"),
    ("dict_methods", "{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 5) }} {{ d.keys() }} {{ d.values() }} {{ d.items() }} {{ d.keys() | list }}"),
    ("dict_method_shadows_key", "{{ {'items': 1}.items() }} {{ {'items': 1}['items'] }}", {}),
    ("loop_over_dict", "{% for k in d %}{{ k }},{% endfor %} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"),
    # --- string methods -----------------------------------------------------
    ("split", "{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }} {{ 'x'.split('x') }} {{ ''.split() }} {{ ' a b '.split(None, 1) }} {{ ' a b '.rsplit(None, 1) }}"),
    ("split_think", "{{ 'a</think>b</think>c'.split('</think>')[-1] }} {{ 'a</think>b</think>c'.split('</think>', 1)[1] }}"),
    ("strip_family", "[{{ '  x y  '.strip() }}] [{{ '  x  '.lstrip() }}] [{{ '  x  '.rstrip() }}] [{{ 'xxhixx'.strip('x') }}] [{{ '\\n\\t x \\u3000'.strip() }}] [{{ 'abcba'.strip('ab') }}]"),
    ("startswith_endswith", "{{ s.startswith('hé') }} {{ s.endswith('rld') }} {{ s.startswith(('x', 'h')) }} {{ 'abc'.startswith('b', 1) }} {{ ''.endswith('') }}"),
    ("case_methods", "{{ s.upper() }} {{ 'ABC Déf'.lower() }} {{ 'hello wORLD foo-bar'.title() }} {{ 'hELLO'.capitalize() }} {{ 'straße'.upper() }}"),
    ("replace_find_count", "{{ 'aaa'.replace('a', 'b') }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'ab'.replace('', '-') }} {{ s.find('l') }} {{ s.rfind('l') }} {{ s.find('zz') }} {{ 'aaaa'.count('aa') }} {{ s.index('w') }}"),
    ("join_method", "{{ ', '.join(['a', 'b']) }} {{ ''.join('abc') }}"),
    ("str_predicates", "{{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ 'a1'.isalnum() }} {{ ' \\n'.isspace() }} {{ 'ABC'.isupper() }} {{ 'abc'.islower() }} {{ ''.isdigit() }}"),
    ("more_str_methods", "{{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'prefix_x'.removeprefix('prefix_') }} {{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }} [{{ 'ab'.center(7, '*') }}] [{{ 'ab'.ljust(4) }}] [{{ 'ab'.rjust(4) }}]"),
    # --- statements ---------------------------------------------------------
    ("if_elif_else", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %} {% endfor %}"),
    ("for_loop_variables", "{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}"),
    ("loop_prev_next_cycle", "{% for x in items %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}{{ loop.cycle('a', 'b') }};{% endfor %}"),
    ("for_else_and_filter", "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in items if x > 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}"),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}"),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
    ("set_scoping_in_loops", "{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}"),
    ("set_in_loop_not_shared_between_iterations", "{% for i in range(3) %}{% if i == 0 %}{% set y = 5 %}{% endif %}{{ y }},{% endfor %}"),
    ("namespace", "{% set ns = namespace(count=0, names=[]) %}{% for m in msgs %}{% set ns.count = ns.count + 1 %}{% set ns.names = ns.names + [m.role] %}{% endfor %}{{ ns.count }} {{ ns.names }} {{ ns.missing }}| {{ ns }}"),
    ("namespace_from_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns['a'] }}"),
    ("set_block", "{% set block %}  inner {{ 1 + 1 }}\n{% endset %}[{{ block }}]{% set up | upper | trim %} shout {% endset %}[{{ up }}]"),
    ("filter_block", "{% filter upper %}hello {{ 'x' }}{% endfilter %}"),
    ("tuple_unpacking", "{% set a, b = [1, 2] %}{{ a }}{{ b }} {% for k, v in [('x', 1), ('y', 2)] %}{{ k }}{{ v }}{% endfor %} {% for (a, b) in [[1, 2]] %}{{ a + b }}{% endfor %}"),
    ("generation_tag", "a{% generation %}b{{ 1 }}{% endgeneration %}c"),
    ("print_tag", "{% print 'x' ~ 1 %}"),
    ("not_is_defined", "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ add_generation_prompt }}"),
    ("defined_on_missing_key", "{{ msgs[0]['tool_calls'] is defined }} {{ msgs[0].tool_calls is not defined }} {{ msgs[0]['content'] is not none }}"),
    ("undefined_iterates_empty", "{% for x in missing %}x{% else %}none{% endfor %} {{ missing | length }} {{ missing | list }}"),
    # --- tests --------------------------------------------------------------
    ("tests_types", "{{ none is none }} {{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ 's' is string }} {{ d is mapping }} {{ items is sequence }} {{ 's' is sequence }} {{ d is iterable }} {{ missing is iterable }} {{ t is boolean }} {{ 1 is boolean }} {{ t is true }} {{ false is false }}"),
    ("tests_values", "{{ 3 is divisibleby 3 }} {{ 4 is divisibleby(3) }} {{ 3 is odd }} {{ 4 is even }} {{ 2 is equalto 2 }} {{ 2 is eq 3 }} {{ 1 is lt 2 }} {{ 'x' is in 'xyz' }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ none is sameas none }} {{ range is callable }} {{ 'upper' is filter }} {{ 'odd' is test }}"),
    ("test_not", "{{ 1 is not none }} {{ n is not none }} {{ not n is none }}"),
    # --- filters --------------------------------------------------------------
    ("filter_default", "{{ missing | default('dflt') }} {{ n | default('dflt') }} {{ '' | default('dflt', true) }} {{ 0 | d('zero', boolean=true) }} {{ s | default('x') }}"),
    ("filter_length_count", "{{ items | length }} {{ s | length }} {{ d | count }} {{ '' | length }}"),
    ("filter_string", "{{ 5 | string }} {{ none | string }} {{ 1.50 | string }} {{ [1, 'a'] | string }} {{ (1 | string) ~ 'x' }}"),
    ("filter_trim", "[{{ '  x  ' | trim }}] [{{ 'xxhixx' | trim('x') }}] [{{ missing | trim }}]"),
    ("filter_join", "{{ items | join }} {{ items | join(', ') }} {{ msgs | join('|', attribute='role') }} {{ ['a', 1, none] | join('-') }}"),
    ("filter_first_last", "{{ items | first }} {{ items | last }} {{ 'abc' | first }} {{ 'abc' | last }} {{ d | first }} [{{ [] | first }}]"),
    ("filter_list_items", "{{ 'ab' | list }} {{ d | list }} {{ d | items | list }} {{ missing | items | list }}"),
    ("filter_case", "{{ 'Hello' | lower }} {{ 'Hello' | upper }} {{ 'hELLO wORLD' | capitalize }} {{ 'hello-world foo(bar) x_y' | title }}"),
    ("filter_replace", "{{ 'aXbXc' | replace('X', '-') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 123 | replace('2', 'two') }}"),
    ("filter_tojson", "{{ d | tojson }} {{ 'é<>&\\'\"' | tojson }} {{ [1.0, 2, none, true] | tojson }} {{ ('a', 1) | tojson }} {{ 'a\\u2028\\x00\\x1f\\x7f' | tojson }}"),
    ("filter_tojson_options", "{{ {'b': 1, 'a': {'d': 1, 'c': [1, {}]}} | tojson(indent=2) }}\n{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }} {{ d | tojson(separators=(',', ':')) }} {{ 'é' | tojson(ensure_ascii=true) }} {{ [] | tojson(indent=2) }} {{ {'k': [1]} | tojson(indent='\\t') }}"),
    ("filter_tojson_tools", "{% for t in tools %}{{ t | tojson }}\n{% endfor %}",
     {"tools": [{"type": "function", "function": {"name": "get_weather", "description": "Wetter für München — ☂", "parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}}]}),
    ("filter_numbers", "{{ -3 | abs }} {{ -2.5 | abs }} {{ '42' | int }} {{ '3.9' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '0x1A' | int(0, 16) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 'x' | float }} {{ 3 | float }}"),
    ("filter_round", "{{ 3.456 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 3 | round }} {{ 2.675 | round(2) }} {{ 3.2 | round(0, 'ceil') }} {{ 3.8 | round(method='floor') }}"),
    ("filter_reverse_sort_unique", "{{ items | reverse | list }} {{ 'abc' | reverse }} {{ items | sort }} {{ ['b', 'A', 'a'] | sort }} {{ ['b', 'A', 'a'] | sort(case_sensitive=true) }} {{ items | sort(reverse=true) }} {{ [1, 2, 2, 1, 3] | unique | list }} {{ ['a', 'A', 'b'] | unique | list }}"),
    ("filter_sort_attribute", "{{ msgs | sort(attribute='role') | map(attribute='content') | list }} {{ {'b': 1, 'a': 2} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value') }}"),
    ("filter_map_select", "{{ msgs | map(attribute='role') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ items | select('odd') | list }} {{ items | reject('odd') | list }} {{ msgs | selectattr('role', 'equalto', 'user') | list }} {{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='content') | list }} {{ [0, 1, '', 'x'] | select | list }} {{ msgs | map(attribute='missing', default='?') | list }}"),
    ("filter_aggregates", "{{ items | sum }} {{ items | min }} {{ items | max }} {{ msgs | sum(attribute='content', start='') if false else 'skip' }} {{ ['b', 'A'] | min }} {{ [1.5, 2] | sum }}"),
    ("filter_indent", "[{{ 'a\\nb\\n\\nc' | indent }}] [{{ 'a\\nb' | indent(2, true) }}] [{{ 'a\\n\\nb' | indent(2, blank=true) }}] [{{ 'a\\nb' | indent('> ') }}]"),
    ("filter_misc", "{{ 'a b  c' | wordcount }} [{{ 'abc' | center(9) }}] {{ '<b>' | e }} {{ '<b>' | safe }} {{ ('<b>' | safe) + '<i>' }} {{ '<i>' + ('<b>' | safe) }} {{ d | attr('a') }}| {{ '<b>' | escape | length }}"),
    ("filter_chain_precedence", "{{ -1 | abs }} {{ 'a' ~ 'b' | upper }} {{ [3, 1] | sort | first }}"),
    ("error_filter_binds_tighter_than_plus", "{{ 1 + 2 | string }}"),
    # --- macros -----------------------------------------------------------------
    ("macro_basic", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }} [{{ greet() }}]"),
    ("macro_scoping", "{% set top = 'T' %}{% macro m() %}{% set local = 1 %}{{ top }}{{ loopvar is defined }}{% endmacro %}{% for loopvar in [1] %}{{ m() }}{% endfor %}{{ local is defined }}"),
    ("macro_with_namespace_and_whitespace", """{%- macro render(msg) -%}
    {%- if msg.content is string -%}
        {{- msg.content -}}
    {%- else -%}
        {%- for part in msg.content -%}{{ part.text }}{%- endfor -%}
    {%- endif -%}
{%- endmacro -%}
{%- for m in messages %}
<{{ m.role }}>{{ render(m) | trim }}
{%- endfor %}""", {"messages": [{"role": "user", "content": " a "}, {"role": "assistant", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}]}]}),
    ("macro_recursion", "{% macro walk(x) %}{% if x is mapping %}{% for k, v in x.items() %}{{ k }}:({{ walk(v) }}){% endfor %}{% else %}{{ x }}{% endif %}{% endmacro %}{{ walk({'a': {'b': 1, 'c': {'d': 2}}}) }}", {}),
    ("macro_result_is_string", "{% macro m() %}x{% endmacro %}{{ m() is string }} {{ m() ~ 'y' }} {{ m() + 'z' }} {{ m() | length }}"),
    ("error_macro_too_many_args", "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}"),
    # --- printf-style formatting ---------------------------------------------------
    ("percent_format", "{{ '%s-%d' % ('a', 3) }} {{ '%5.2f|%-6s|%06d|%+d|%x|%#o|%r' % (3.14159, 'ab', -42, 5, 255, 8, 'q') }} {{ '%s' % none }} {{ '%(a)s=%(b)03d' % {'a': 'k', 'b': 7} }} {{ '100%%' % () }} {{ '%.3s|%c|%e|%g' % ('abcdef', 65, 12345.678, 0.0001) }}"),
    ("format_filter", "{{ '%s, %s!' | format('Hello', 'World') }} {{ '%(x)s' | format(x=1) }} {{ '%5s|' | format('ab') }}"),
    ("error_percent_format_arity", "{{ '%s %s' % ('a',) }}"),
    # --- globals ----------------------------------------------------------------
    ("range_global", "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}"),
    ("dict_global", "{{ dict(a=1, b='x') }} {{ dict(a=1).a }}"),
    # --- realistic template fragments ----------------------------------------------
    ("messages_loop", "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] | trim + '\\n' }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
     {"bos_token": "<s>", "add_generation_prompt": True, "messages": [{"role": "system", "content": " sys "}, {"role": "user", "content": "hi\n"}]}),
    ("error_strict_alternation", "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ m.content }}{% endfor %}",
     {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}),
    ("content_list_parts", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% endif %}{% endfor %}{% endif %}|{% endfor %}",
     {"messages": [{"role": "user", "content": "plain"}, {"role": "user", "content": [{"type": "text", "text": "part1"}, {"type": "image"}, {"type": "text", "text": "part2"}]}]}),
    ("multiline_pretty_template", """{%- set ns = namespace(first=true) -%}
{%- for m in messages %}
    {%- if m.role == 'system' %}
        {{- 'SYS: ' + m.content }}
    {%- else %}
        {%- if not ns.first %}{{ '\\n' }}{% endif %}
        {{- m.role | upper }}: {{ m.content }}
        {%- set ns.first = false %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
ASSISTANT:
{%- endif %}
""", {"add_generation_prompt": True, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}),
    # --- Python corners found by differential testing (gen_random_cases.py) ------
    ("lazy_filters_are_truthy_iterators", "{% if el | select %}A{% endif %}{% if msgs | selectattr('role', 'eq', 'x') %}B{% endif %}{% if (n | map('string')) %}C{% endif %} {{ el | select | list }} {{ (l | map('string') | list) }} {{ l | reverse | list }} {{ l | unique | first }}", {"el": [], "msgs": [{"role": "user"}], "n": None, "l": [1, 2, 2]}),
    ("tests_on_odd_values", "{{ missing is callable }} {{ 1e20 is lower }} {{ (1, 'a') is lower }} {{ [1] is upper }} {{ 2.0 is even }} {{ 3.0 is odd }} {{ s['x'] is sequence }} {{ d.items() is sequence }} {{ d.items() is iterable }}"),
    ("percent_with_mapping_like_args", "[{{ 'abc' % [1, 2] }}] [{{ 'x y' % missing }}] [{{ '%s' % [1, 2] }}] [{{ '%s' % missing }}]"),
    ("dict_views_compare", "{{ d.keys() == d.keys() }} {{ d.keys() == ['a', 'b', 'c'] }} {{ d.items() | list == d | items | list }}"),
    ("error_slice_of_dict", "{{ d[1:] }}"),
    ("error_slice_of_none", "{{ n[:1] }}"),
    ("error_length_of_generator", "{{ l | select | length }}"),
    ("lazy_filters_on_falsy_inputs", "{{ n | map('string') | list }} {{ 0 | select | list }} {{ '' | reject | list }} {{ false | selectattr('x') | list }}"),
    ("error_lazy_filter_error_when_consumed", "{{ 5 | map('string') | list }}"),
    ("error_indent_non_string", "{{ [1] | indent }}"),
    # --- runtime errors (the C++ renderer must fail too) ---------------------------
    ("error_raise_exception", "before{{ raise_exception('Only user and assistant roles are supported!') }}"),
    ("error_undefined_attribute_of_undefined", "{{ missing.attr }}"),
    ("error_key_of_missing_key", "{{ d['zz']['y'] }}"),
    ("error_add_str_int", "{{ 'a' + 1 }}"),
    ("error_add_none", "{{ 'a' + n }}"),
    ("error_add_undefined", "{{ 'a' + missing }}"),
    ("error_iterate_none", "{% for x in n %}{% endfor %}"),
    ("error_in_none", "{{ 'a' in n }}"),
    ("error_length_none", "{{ n | length }}"),
    ("error_division_by_zero", "{{ 1 / 0 }}"),
    ("error_call_undefined", "{{ missing() }}"),
    ("error_unsafe_append", "{% set l = [1] %}{{ l.append(2) }}"),
    ("error_unsafe_dict_update", "{{ d.update({'x': 1}) }}"),
    ("error_set_attr_non_namespace", "{% set d.x = 1 %}"),
    ("error_tojson_undefined", "{{ missing | tojson }}"),
    ("error_compare_types", "{{ 1 < 'a' }}"),
    ("error_range_too_big", "{{ range(1000000) | length }}"),
    ("error_unpack", "{% set a, b = [1, 2, 3] %}"),
]


def main():
    env = make_environment()
    out = []
    for case in CASES:
        name, template = case[0], case[1]
        variables = case[2] if len(case) > 2 else DEFAULT_VARS
        entry = {"name": name, "template": template, "vars": variables}
        try:
            entry["expected"] = env.from_string(template).render(**variables)
        except Exception as e:
            entry["error"] = str(e)
            entry["error_type"] = type(e).__name__
        out.append(entry)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(out)} cases ({sum('error' in e for e in out)} expected errors) to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
