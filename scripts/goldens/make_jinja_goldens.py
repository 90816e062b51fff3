#!/usr/bin/env python3
"""Regenerates tests/fixtures/lm_eval/jinja_cases.json: templates in the
Jinja subset of datasets/jinja, each rendered by jinja2 itself with
lm-evaluation-harness's environment (lm_eval_jinja.py) against one document.
tests/datasets/jinja_template_test.cpp renders every case with Compass's
evaluator and expects the same text.

Usage: python scripts/goldens/make_jinja_goldens.py
Needs: jinja2 (in the dev venv).
"""
import os

import jinja2

from golden_util import write_lines_json
from lm_eval_jinja import apply_template

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests/fixtures/lm_eval/jinja_cases.json")

DOC = {
    "goal": "  Make tea ", "sol1": "Boil water.", "sol2": "Freeze it's \"water\".", "label": 1,
    "sentence": "The trophy didn't fit because _ was too big.", "option1": "the trophy",
    "option2": "the suitcase", "answer": "2", "n": 7, "x": 1.5, "flag": True, "none": None,
    "items": ["a", "b", "c"], "nested": {"k": [1, {"z": "deep"}]},
    "text": "Caf\u00e9 [title] Hello  [step] world", "big": 1e16, "small": 0.0001, "tiny": 1e-5,
    "uni": "\u00e9t\u00e9 \u00df", "ctrl": "tab\there\u00a0nbsp\u200bzw",
}

TEMPLATES = [
    # Prompts as lm-eval task files write them.
    "Question: {{goal}}\nAnswer:", "{{ goal }}", "{{goal.strip()}}", "{{ goal | trim }}",
    "{{ goal.lstrip() }}|", "{{ goal.rstrip() }}|", "{{[sol1, sol2]}}",
    "{{ [label, n, x, flag, none] }}", "{{ nested }}", "{{ nested.k.1.z }}",
    "{{ nested['k'][0] + 1 }}",
    # Winogrande's Python functions written as templates.
    "{{ sentence[:sentence.index('_')] + option1 }}",
    "{{ sentence[sentence.index('_') + 1:].strip() }}",
    "{{ {'1': 0, '2': 1}[answer] }}", "{{ answer | int - 1 }}",
    # Operators, precedence, conditionals, statements.
    "{{ -1|abs }}", "{{ 'a' ~ 1 ~ none }}", "{{ sol1 if label == 0 else sol2 }}",
    "{% if flag %}yes{% else %}no{% endif %}",
    "{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}",
    "{% for i in items %}{{ loop.index }}. {{ i }}\n{% endfor %}",
    "{% for i in items -%}\n {{ i }}\n{%- endfor %}",
    "{% for k, v in {'a': 1, 'b': 2}.items() %}{{k}}={{v}};{% endfor %}",
    "{% for i in [] %}x{% else %}empty{% endfor %}",
    "{% for i in items %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{% endfor %}",
    "{% set y = n * 2 %}{{ y }}", "{{ 3 > 2 > 1 }} {{ not flag or n }}",
    "{{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ 'a' ~ 'b' | upper }}",
    "{{ flag and 'yes' }} {{ none or 'fallback' }} {{ 0 and 1 }}",
    # Filters.
    "{{ items | join(', ') }}", "{{ items|length }} {{ goal|length }} {{ uni|length }}",
    "{{ goal | lower }}{{ goal|upper }}",
    "{{ 'hello world'.capitalize() }} {{ 'hELLO'|capitalize }}",
    "{{ text | regex_replace('\\\\[.*?\\\\]', '') }}", "{{ text.replace('  ', ' ') }}",
    "{{ text | replace(' [title]', '. ') }}", "{{ text | replace(' ', '_', 2) }}",
    "{{ text | regex_replace(' ', '_', 2) }}", "{{ range(3) | list }} {{ range(1, 7, 2) | list }}",
    "{{ items | map('upper') | join }}", "{{ items|first }}{{ items|last }}",
    "{{ label|string + '!' }}", "{{ '42.7'|int }} {{ 'abc'|int }} {{ '3'|float }} {{ ' 12 '|int }}",
    "{{ items | reverse | join }} {{ [1, 2, 3] | sum }} {{ 'abc' | list }}",
    "{{ missing | default('dflt') }} {{ '' | default('x', true) }} {{ goal | d('x') }}",
    "{{ items | count }} {{ 'x' | trim('x') }}{{ 'xaxx' | trim('x') }}",
    # Tests.
    "{{ goal is defined }} {{ missing is defined }} {{ missing is undefined }} {{ goal is not defined }}",
    "{{ none is none }} {{ n is odd }} {{ n is divisibleby 7 }} {{ goal is string }}",
    "{{ n is number }} {{ x is float }} {{ n is integer }} {{ items is sequence }} {{ nested is mapping }}",
    "{{ 'b' in items }} {{ 'z' not in items }} {{ 'Make' in goal }} {{ 'k' in nested }}",
    # Numbers and Python's printing.
    "{{ x }} {{ big }} {{ small }} {{ tiny }} {{ 1/3 }} {{ 2.0 }} {{ 10/2 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 2**10 }}",
    "{{ 1e100 }} {{ 123456789012345678.0 }} {{ 0.1 + 0.2 }} {{ -0.0 }} {{ 1_000 }} {{ 2.5e-3 }}",
    "{{ 1e999 }} {{ -1e999 }} {{ 1e-999 }} {{ [1e999] }}",
    "{{ 'it\\'s' }} {{ [\"it's\"] }} {{ ['a\\nb'] }} {{ [ctrl] }} {{ ['\\\\'] }}",
    "{{ {1: 'one', 2: 'two'}[1] }} {{ {1: 'one'} }} {{ {'a': none, 'b': [true]} }}",
    "{{ true }} {{ True }} {{ none }} {{ [] }} {{ {} }}",
    # Strings in code points.
    "{{ uni.upper() }}", "{{ uni[1:3] }} {{ uni[-1] }} {{ uni[::-1] }} {{ uni[::2] }}",
    "{{ 'a,b,,c'.split(',') }} {{ '  a  b c '.split() }} {{ 'a b c'.split(' ', 1) }} {{ ' a  b '.split(None, 1) }}",
    "{{ items[1:] }} {{ items[-2:] }} {{ items[:-1] }} {{ items[10:] }}",
    "{{ sentence.find('z') }} {{ sentence.count('t') }} {{ uni.find('\u00df') }} {{ sentence.rfind('t') }}",
    "{{ goal.startswith('  M') }} {{ goal.endswith(('x', ' ')) }}",
    "{{ items.index('b') }} {{ 'x' * 3 }}{{ [1] * 2 }} {{ '-'.join(items) }}",
    "{{ 'A1'.isdigit() }} {{ '12'.isdigit() }} {{ 'abc'.replace('', '-') }}",
    "{{ nested.get('k') }} {{ nested.get('q', 'none') }} {{ nested.keys() | list }} {{ nested.values() | list }}",
    "{{ '\u00e9'|upper }}{{ '\u00df'.upper() }}", "{{ goal.split() | join('_') }}",
    "{{ items[5] | default('none') }}", "{{ '%s' }}",
    # Text, comments, whitespace control, line breaks.
    "{# comment #}A  {{- ' B' -}}  C", "line1\r\nline2\n", "a {{ 'x' }} {%- if true %} b {% endif -%} c",
    "{{ 'a' 'b' }}", "{{ \"multi\nline\" }}",
]


def main():
    cases = [{"template": t, "expected": apply_template(t, DOC)} for t in TEMPLATES]
    write_lines_json(OUT, {"jinja2": jinja2.__version__, "doc": DOC, "cases": cases})
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
