"""lm-evaluation-harness's template environment, as lm_eval/utils.py builds it
(jinja2 with StrictUndefined and keep_trailing_newline, plus its
regex_replace filter), for the golden scripts."""
import re

from jinja2 import BaseLoader, Environment, StrictUndefined


def regex_replace(string, pattern, repl, count: int = 0):
    """Implements the `re.sub` function as a custom Jinja filter (lm_eval/utils.py)."""
    return re.sub(pattern, repl, string, count=count)


env = Environment(loader=BaseLoader, undefined=StrictUndefined, keep_trailing_newline=True)
env.filters["regex_replace"] = regex_replace


def apply_template(template: str, doc: dict) -> str:
    """lm_eval.utils.apply_template."""
    return env.from_string(template).render(**doc)
