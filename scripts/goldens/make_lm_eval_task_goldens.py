#!/usr/bin/env python3
"""Regenerates tests/fixtures/lm_eval/<task>/goldens.json: the requests
lm-evaluation-harness builds for the hand-made PIQA, SciQ, Winogrande and
HellaSwag records of tests/fixtures/lm_eval, from its own task definitions.

The code below is lm-eval's, copied from lm_eval/api/task.py (ConfigurableTask:
doc_to_text, doc_to_target, doc_to_choice, fewshot_context, build_qa_turn,
multiple_input_context, construct_requests), lm_eval/api/utils.py
(Message, maybe_delimit, requires_delimiter) and lm_eval/api/samplers.py
(ContextSampler.sample) at commit LM_EVAL_COMMIT, reduced to the plain-text
path (no chat template, no system instruction, no gen_prefix, no
promptsource); templates are rendered with lm-eval's jinja2 environment
(lm_eval_jinja.py). The task definitions are the YAML files in the fixture
folders, copied from lm_eval/tasks; the Python functions two of them name
(winogrande's preprocess_winogrande.py, hellaswag's utils.process_docs) are
copied below verbatim.

Few-shot examples are drawn as Compass draws them when no separate few-shot
file is given: from the evaluated file itself, lm-eval's default sampler
(random.Random(1234), sample(pool, n + 1), the document itself dropped).

Usage: python scripts/goldens/make_lm_eval_task_goldens.py
Needs: jinja2 and PyYAML (both in the dev venv).
"""
import ast
import json
import os
import re
from random import Random

import yaml

from golden_util import write_lines_json
from lm_eval_jinja import apply_template

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests/fixtures/lm_eval")
LM_EVAL_COMMIT = "4e7e0d47f33bc71070c1d38394bafbb52b117163"
SEED = 1234
SHOTS = (0, 2)


# --- lm_eval/tasks/winogrande/preprocess_winogrande.py ----------------------
def winogrande_doc_to_text(doc):
    answer_to_num = {"1": 0, "2": 1}
    return answer_to_num[doc["answer"]]


def winogrande_doc_to_target(doc):
    idx = doc["sentence"].index("_") + 1
    return doc["sentence"][idx:].strip()


def winogrande_doc_to_choice(doc):
    idx = doc["sentence"].index("_")
    options = [doc["option1"], doc["option2"]]
    return [doc["sentence"][:idx] + opt for opt in options]


# --- lm_eval/tasks/hellaswag/utils.py ---------------------------------------
def hellaswag_preprocess(text):
    text = text.strip()
    # NOTE: Brackets are artifacts of the WikiHow dataset portion of HellaSwag.
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def hellaswag_process_doc(doc):
    ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
    out_doc = {
        "query": hellaswag_preprocess(doc["activity_label"] + ": " + ctx),
        "choices": [hellaswag_preprocess(ending) for ending in doc["endings"]],
        "gold": int(doc["label"]),
    }
    return {**doc, **out_doc}  # datasets.map keeps the original columns


# --- lm_eval/api/utils.py ---------------------------------------------------
def maybe_delimit(prefix, suffix, delimiter=" "):
    if not prefix:
        return suffix or ""
    if not suffix:
        return prefix or ""
    return (prefix + delimiter + suffix
            if not (prefix[-1].isspace() or suffix[0].isspace()) else prefix + suffix)


class Message:
    def __init__(self, role, content, delimiter=""):
        self.role, self.content, self._delimiter = role, content, delimiter

    def to_text(self):
        return self.content + self._delimiter


# --- lm_eval/api/task.py (ConfigurableTask), plain-text path ----------------
class Task:
    def __init__(self, config, docs):
        self.config = {"target_delimiter": " ", "fewshot_delimiter": "\n\n", **config}
        self.docs = docs
        self.features = list(docs[0].keys())
        self.rnd = Random(SEED)
        test_text = self.doc_to_text(docs[0])
        self.multiple_input = (len(self.doc_to_choice(docs[0]))
                               if self.config.get("doc_to_choice") is not None
                               and isinstance(test_text, int) else 0)

    def doc_to_text(self, doc):
        doc_to_text = self.config["doc_to_text"]
        if isinstance(doc_to_text, int):
            return doc_to_text
        elif isinstance(doc_to_text, str):
            if doc_to_text in self.features:
                return doc[doc_to_text]
            text_string = apply_template(doc_to_text, doc)
            if text_string.isdigit() and self.config.get("doc_to_choice") is not None:
                return ast.literal_eval(text_string)
            return text_string
        return doc_to_text(doc)

    def doc_to_target(self, doc):
        doc_to_target = self.config["doc_to_target"]
        if isinstance(doc_to_target, int):
            return doc_to_target
        elif isinstance(doc_to_target, str):
            if doc_to_target in self.features:
                return doc[doc_to_target]
            target_string = apply_template(doc_to_target, doc)
            if target_string.isdigit() and self.config.get("doc_to_choice") is not None:
                return ast.literal_eval(target_string)
            elif len(target_string) >= 2 and target_string[0] == "[" and target_string[-1] == "]":
                try:
                    return ast.literal_eval(target_string)
                except (SyntaxError, ValueError):
                    return target_string
            return target_string
        elif isinstance(doc_to_target, list):
            return doc_to_target
        return doc_to_target(doc)

    def doc_to_choice(self, doc):
        doc_to_choice = self.config["doc_to_choice"]
        if isinstance(doc_to_choice, str):
            if doc_to_choice in self.features:
                return doc[doc_to_choice]
            return ast.literal_eval(apply_template(doc_to_choice, doc))
        elif isinstance(doc_to_choice, list):
            return doc_to_choice
        return doc_to_choice(doc)

    def build_qa_turn(self, *, q=None, c=None, a=None, tgt_delim=" ", few_delim="\n\n"):
        assert isinstance(q, str), f"Context is not a string! : {q}"
        has_answer = a is not None and a != ""
        msgs = [Message("user", q, tgt_delim if has_answer else "")]
        if has_answer:
            answer_text = c[a] if (c and isinstance(a, int)) else a[0] if isinstance(a, list) else a
            assert isinstance(answer_text, str), f"Answer is not a string! : {a}"
            msgs.append(Message("assistant", answer_text, few_delim))
        return msgs

    def sample(self, n, eval_doc):
        # ContextSampler.sample with the evaluated documents as the pool.
        if n == 0:
            return []
        return [x for x in self.rnd.sample(list(self.docs), n + 1) if x != eval_doc][:n]

    def fewshot_context(self, doc, num_fewshot):
        messages = []
        description = self.config.get("description")
        if description:
            description = doc[description] if description in doc else apply_template(description, doc)
            messages.append(Message("system", description))
        for fs_doc in self.sample(num_fewshot, doc):
            q = self.doc_to_text(fs_doc)
            c = self.doc_to_choice(fs_doc) if self.config.get("doc_to_choice") else None
            a = self.doc_to_target(fs_doc)
            if self.multiple_input:
                q = c[q]
                c = None
            messages += self.build_qa_turn(q=q, c=c, a=a,
                                           tgt_delim=self.config["target_delimiter"],
                                           few_delim=self.config["fewshot_delimiter"])
        q = self.doc_to_text(doc)
        c = self.doc_to_choice(doc) if self.config.get("doc_to_choice") else None
        if self.multiple_input:
            # multiple_input_context: one prompt per choice, no delimiter.
            return ["".join(m.to_text() for m in messages + self.build_qa_turn(q=ctx, tgt_delim=""))
                    for ctx in c]
        messages += self.build_qa_turn(q=q, c=c, tgt_delim=self.config["target_delimiter"],
                                       few_delim="")
        return "".join(m.to_text() for m in messages)

    def construct_requests(self, doc, ctx):
        choices = self.doc_to_choice(doc)
        target_delimiter = self.config["target_delimiter"]
        if self.multiple_input:
            cont = self.doc_to_target(doc)
            return [(context, f"{target_delimiter}{cont}") for context in ctx]
        return [(ctx, f"{target_delimiter}{cont}") for cont in choices]

    def gold(self, doc):
        # process_results' gold, for multiple_choice.
        choices = self.doc_to_choice(doc)
        gold = self.doc_to_text(doc) if self.multiple_input else self.doc_to_target(doc)
        if isinstance(gold, str):
            gold = choices.index(gold) if gold in choices else -100
        return gold if gold < len(choices) else -100


def load_config(path, functions):
    """The task YAML with `include` applied and !function values taken from `functions`."""
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_constructor("!function", lambda loader, node: functions[loader.construct_scalar(node)])
    with open(path, encoding="utf-8") as f:
        config = yaml.load(f, Loader=Loader)
    if "include" in config:
        base = load_config(os.path.join(os.path.dirname(path), config.pop("include")), functions)
        config = {**base, **config}
    return config


def read_docs(path, process=None):
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    return [process(d) for d in docs] if process else docs


TASKS = {
    "piqa": ("piqa/piqa.yaml", {}, None),
    "sciq": ("sciq/sciq.yaml", {}, None),
    "winogrande": ("winogrande/default.yaml", {
        "preprocess_winogrande.doc_to_text": winogrande_doc_to_text,
        "preprocess_winogrande.doc_to_target": winogrande_doc_to_target,
        "preprocess_winogrande.doc_to_choice": winogrande_doc_to_choice}, None),
    "hellaswag": ("hellaswag/hellaswag.yaml", {"utils.process_docs": None}, hellaswag_process_doc),
}


def check_template_rewrites():
    """The fixtures' Jinja rewrites of the two Python-function tasks
    (winogrande_jinja.yaml, hellaswag_jinja.yaml, which Compass reads) give
    what the Python functions give, through lm-eval's own reading."""
    for name, (yaml_file, functions, process) in TASKS.items():
        rewrite = os.path.join(FIXTURES, name, f"{name}_jinja.yaml")
        if not os.path.exists(rewrite):
            continue
        config = load_config(os.path.join(FIXTURES, yaml_file), functions)
        config.pop("process_docs", None)
        original = Task(config, read_docs(os.path.join(FIXTURES, name, "validation.jsonl"), process))
        jinja = Task(load_config(rewrite, functions),
                     read_docs(os.path.join(FIXTURES, name, "validation.jsonl")))
        assert bool(original.multiple_input) == bool(jinja.multiple_input), rewrite
        for a, b in zip(original.docs, jinja.docs):
            assert original.doc_to_text(a) == jinja.doc_to_text(b), rewrite
            assert original.doc_to_choice(a) == jinja.doc_to_choice(b), rewrite
            assert original.gold(a) == jinja.gold(b), rewrite
            if original.multiple_input:
                assert original.doc_to_target(a) == jinja.doc_to_target(b), rewrite
        print(f"checked {rewrite}")


def main():
    check_template_rewrites()
    for name, (yaml_file, functions, process) in TASKS.items():
        config = load_config(os.path.join(FIXTURES, yaml_file), functions)
        config.pop("process_docs", None)  # applied per document by read_docs
        docs = read_docs(os.path.join(FIXTURES, name, "validation.jsonl"), process)
        out = {"lm_eval_commit": LM_EVAL_COMMIT, "task": yaml_file, "seed": SEED, "shots": {}}
        for shots in SHOTS:
            task = Task(config, docs)
            items = []
            for doc in docs:
                ctx = task.fewshot_context(doc, shots)
                requests = task.construct_requests(doc, ctx)
                items.append({"contexts": [r[0] for r in requests],
                              "continuations": [r[1] for r in requests],
                              "gold": task.gold(doc)})
            out["shots"][str(shots)] = items
        path = os.path.join(FIXTURES, name, "goldens.json")
        write_lines_json(path, out)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
