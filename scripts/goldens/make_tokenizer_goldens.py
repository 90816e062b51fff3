#!/usr/bin/env python3
"""Regenerates the tokenizer fixtures and goldens under tests/fixtures/tokenizers.

Everything is produced by the reference implementations (Hugging Face `tokenizers` and
`transformers`, with `sentencepiece` as a cross-check), from the tokenizer files in
../shared/data/tokenizers:

  gpt2/       tokenizer.json converted from OpenAI's encoder.json + vocab.bpe
  llama2/     tokenizer.json converted from Llama-2's tokenizer.model, in the layout the
              published Llama-2 checkpoints use (normalizer Prepend + Replace, BOS template)
  variants.json  JSON patches (RFC 6902) that derive further tokenizers from a base one:
              qwen2 (Llama-3 with Qwen2's pre-tokenizer regex), llama2-metaspace (the
              Metaspace layout newer converters write), and variants with added-token flags
  corpus.json    the strings every tokenizer is checked on
  goldens.json   per tokenizer and string: ids without special tokens added, with special
              token text parsed and with it treated as plain text, and the decoded text;
              plus decode-only id sequences

Usage: python scripts/goldens/make_tokenizer_goldens.py [--shared DIR]
Needs: tokenizers, transformers, sentencepiece, protobuf (no network).
"""
import argparse
import copy
import json
import os
import random
import shutil
import sys
import tempfile

import sentencepiece as spm
import tokenizers
import transformers
from tokenizers import Tokenizer, normalizers, processors
from transformers import GPT2TokenizerFast, LlamaTokenizerFast
from transformers.tokenization_utils_base import generate_merges

from golden_util import write_lines_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizers")

QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def write_json(path, obj, compact=True):
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")




def apply_patch(doc, patch):
    """The subset of RFC 6902 the variants use: add, replace, remove."""
    doc = copy.deepcopy(doc)
    for op in patch:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        if isinstance(parent, list):
            if op["op"] == "add":
                if last == "-":
                    parent.append(op["value"])
                else:
                    parent.insert(int(last), op["value"])
            elif op["op"] == "replace":
                parent[int(last)] = op["value"]
            else:
                del parent[int(last)]
        else:
            if op["op"] in ("add", "replace"):
                if op["op"] == "replace" and last not in parent:
                    raise KeyError(op["path"])
                parent[last] = op["value"]
            else:
                del parent[last]
    return doc


def make_gpt2(shared):
    src = os.path.join(shared, "tokenizers", "gpt2")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(src, "encoder.json"), os.path.join(tmp, "vocab.json"))
        shutil.copy(os.path.join(src, "vocab.bpe"), os.path.join(tmp, "merges.txt"))
        fast = GPT2TokenizerFast.from_pretrained(tmp)
        doc = json.loads(fast.backend_tokenizer.to_str())
    # Byte-level tokens never hold a plain space, so the merges can be written in the
    # compact "a b" form (the other fixture keeps the ["a", "b"] form).
    merges = []
    for a, b in doc["model"]["merges"]:
        assert " " not in a and " " not in b
        merges.append(a + " " + b)
    doc["model"]["merges"] = merges
    config = {
        "add_prefix_space": False,
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "model_max_length": 1024,
        "tokenizer_class": "GPT2Tokenizer",
    }
    return doc, config


def make_llama2(shared):
    src = os.path.join(shared, "tokenizers", "llama2-spm")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(src, "tokenizer.model"), tmp)
        fast = LlamaTokenizerFast.from_pretrained(tmp)
        doc = json.loads(fast.backend_tokenizer.to_str())
    # sentencepiece applies merges in the order of the merged pieces' scores; the published
    # checkpoints order their merges the same way (the runs of "▁" score lowest and merge
    # last). The conversion above orders them by id, so reorder with the scores.
    sp = spm.SentencePieceProcessor(model_file=os.path.join(src, "tokenizer.model"))
    vocab = doc["model"]["vocab"]
    scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(sp.get_piece_size())}
    merges = generate_merges(vocab, scores)
    doc["model"]["merges"] = [[a, b] for a, b in merges]
    tok = Tokenizer.from_str(json.dumps(doc))
    metaspace_doc = json.loads(tok.to_str())
    # The layout of the published Llama-2 checkpoints (what transformers wrote with legacy
    # conversion): the prefix and the spaces are handled by the normalizer, BOS by the
    # post-processor, and <unk> is the model's unknown token.
    tok.normalizer = normalizers.Sequence(
        [normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = None
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)])
    tok.model.unk_token = "<unk>"
    doc = json.loads(tok.to_str())
    config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": False,
                      "normalized": False, "rstrip": False, "single_word": False},
        "eos_token": "</s>",
        "unk_token": {"__type": "AddedToken", "content": "<unk>", "lstrip": False,
                      "normalized": False, "rstrip": False, "single_word": False},
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": 4096,
        "tokenizer_class": "LlamaTokenizer",
    }
    # The Metaspace layout differs from the published one only in these keys.
    metaspace_patch = [
        {"op": "replace", "path": "/normalizer", "value": None},
        {"op": "replace", "path": "/pre_tokenizer", "value": metaspace_doc["pre_tokenizer"]},
    ]
    assert metaspace_doc["normalizer"] is None
    assert metaspace_doc["decoder"] == doc["decoder"]
    return doc, config, metaspace_patch


def added(content, id_, **flags):
    token = {"id": id_, "content": content, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": False}
    token.update(flags)
    return token


def variants():
    """Tokenizers derived from a base fixture by a JSON patch (RFC 6902)."""
    bos_template = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                 {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000],
                                                  "tokens": ["<|begin_of_text|>"]}},
    }
    return {
        "qwen2": {
            "base": "llama3",
            "about": "Llama-3's vocabulary and merges with Qwen2's pre-tokenizer regex "
                     "(single digits instead of runs of up to three)",
            "patch": [{"op": "replace", "path": "/pre_tokenizer/pretokenizers/0/pattern/Regex",
                       "value": QWEN2_REGEX}],
        },
        "llama2-metaspace": {
            "base": "llama2",
            "about": "Llama-2 in the layout newer converters write: no normalizer, a Metaspace "
                     "pre-tokenizer that prepends only at the start of the text",
            "patch": None,  # filled in from the conversion
        },
        "llama3-flags": {
            "base": "llama3",
            "about": "Llama-3 with added tokens using lstrip, rstrip, single_word, normalized and "
                     "non-special flags, and a BOS template post-processor",
            "patch": [
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("<mask>", 128256, lstrip=True, special=True)},
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("[rs]", 128257, rstrip=True)},
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("[both]", 128258, lstrip=True, rstrip=True)},
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("kitty", 128259, single_word=True)},
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("<sep>", 128260, normalized=True)},
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("<sep><sep>", 128261)},
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("żółw", 128262, single_word=True, lstrip=True, rstrip=True)},
                {"op": "replace", "path": "/post_processor", "value": bos_template},
            ],
        },
        "gpt2-prefix-space": {
            "base": "gpt2",
            "about": "GPT-2 with add_prefix_space (as RoBERTa) and no decoder (tokens joined "
                     "with spaces)",
            "patch": [
                {"op": "replace", "path": "/pre_tokenizer/add_prefix_space", "value": True},
                {"op": "replace", "path": "/decoder", "value": None},
            ],
        },
        "llama3-split-behaviors": {
            "base": "llama3",
            "about": "Llama-3's vocabulary behind a chain of Split pre-tokenizers using every "
                     "behavior, string and regex patterns, and invert",
            "patch": [{"op": "replace", "path": "/pre_tokenizer", "value": {
                "type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"String": " "},
                     "behavior": "MergedWithPrevious", "invert": False},
                    {"type": "Split", "pattern": {"Regex": "\\p{N}"},
                     "behavior": "Contiguous", "invert": False},
                    {"type": "Split", "pattern": {"Regex": "[aeiou]"},
                     "behavior": "MergedWithNext", "invert": False},
                    {"type": "Split", "pattern": {"Regex": "x+"},
                     "behavior": "Removed", "invert": False},
                    {"type": "Split", "pattern": {"Regex": "[^\\s]+"},
                     "behavior": "Isolated", "invert": True},
                    {"type": "Split", "pattern": {"String": "."},
                     "behavior": "Removed", "invert": True},
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                     "use_regex": False}]}}],
        },
        "llama2-metaspace-split": {
            "base": "llama2",
            "about": "Llama-2 with a regex Replace normalizer, a splitting Metaspace "
                     "pre-tokenizer (prepend always) and the Metaspace decoder",
            "patch": [
                {"op": "replace", "path": "/normalizer", "value": {
                    "type": "Replace", "pattern": {"Regex": "\\t+"}, "content": " "}},
                {"op": "replace", "path": "/pre_tokenizer", "value": {
                    "type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                    "split": True}},
                {"op": "replace", "path": "/decoder", "value": {
                    "type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                    "split": True}},
            ],
        },
        "qwen2-nfc": {
            "base": "llama3",
            "about": "Llama-3's vocabulary with Qwen2's pre-tokenizer regex and Qwen2's NFC "
                     "normalizer",
            "patch": [{"op": "replace", "path": "/pre_tokenizer/pretokenizers/0/pattern/Regex",
                       "value": QWEN2_REGEX},
                      {"op": "replace", "path": "/normalizer", "value": {"type": "NFC"}}],
        },
        "llama3-nfkc-lowercase": {
            "base": "llama3",
            "about": "Llama-3 with NFKC then Lowercase normalizers (compatibility forms and "
                     "Unicode lowercasing)",
            "patch": [{"op": "replace", "path": "/normalizer", "value": {
                "type": "Sequence",
                "normalizers": [{"type": "NFKC"}, {"type": "NFD"}, {"type": "NFC"},
                                {"type": "Lowercase"}]}}],
        },
        "llama2-flags": {
            "base": "llama2",
            "about": "Llama-2 with normalized added tokens (matched after the normalizer) and "
                     "stripping flags",
            "patch": [
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("hello world", 32000, normalized=True)},
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("<x>", 32001, lstrip=True, rstrip=True, special=True)},
                {"op": "add", "path": "/added_tokens/-",
                 "value": added("wörd", 32002, single_word=True)},
            ],
        },
    }


def corpus():
    c = [
        "",
        " ",
        "  ",
        "a",
        "A",
        "0",
        ".",
        "\n",
        "\t",
        "\r\n",
        "é",
        "中",
        "🙂",
        "\u0301",
        "Hello",
        "Hello world",
        "Hello, world!",
        " Hello world",
        "  Hello world",
        "Hello world ",
        "Hello world  ",
        "hello   world",
        "I believe the meaning of life is",
        "The quick brown fox jumps over the lazy dog.",
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
        "It's a dog's life; they're here, we've won, I'm sure you'll see, he'd go.",
        "IT'S SHOUTING: THEY'RE, WE'VE, I'M, YOU'LL, HE'D, DON'T",
        "'s 't 're 've 'm 'll 'd",
        "don't won't can't shouldn't",
        "Mr. O'Neil's café — naïve façade, coöperate, résumé.",
        "Answer: A\nAnswer: B\nAnswer: C\nAnswer: D",
        "Question: What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:",
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n",
        "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.",
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
        "to her friends in May. How many clips did Natalia sell altogether in April and May?",
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72",
        "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting.",
        "1",
        "12",
        "123",
        "1234",
        "12345",
        "123456",
        "1234567",
        "12345678901234567890",
        "3.14159265358979323846",
        "1,000,000 and 1.000.000 and 1 000 000",
        "-42 +17 0x1F 1e10 1E-5 0b1010",
        "2024-01-15T10:30:00Z",
        "(555) 123-4567",
        "Phone: +1-800-555-0199, ext. 42",
        "a1b2c3d4",
        "x² + y³ = z⁴; ½ + ¼ = ¾",
        "Ⅻ ⅷ ① ② ③",
        "٠١٢٣٤٥٦٧٨٩",
        "१२३४",
        "hello\nworld",
        "hello\n\nworld",
        "hello\n\n\nworld",
        "hello\r\nworld\r\n",
        "line1\rline2",
        "tab\tseparated\tvalues",
        "\t\tindented with tabs",
        "    four spaces",
        "        eight spaces then text",
        "trailing spaces    ",
        "trailing newline\n",
        "\n\nleading newlines",
        " \n \n ",
        "   \t  \n  \r\n   ",
        " " * 17,
        " " * 64,
        "\n" * 10,
        "\t" * 9,
        "a" + " " * 30 + "b",
        "a" * 100,
        "ab" * 60,
        "word " * 40,
        "x\u00a0y\u00a0z",
        "thin\u2009space and em\u2003space",
        "zero\u200bwidth\u200bspace",
        "ideographic\u3000space",
        "next\u0085line",
        "line\u2028separator\u2029paragraph",
        "mongolian\u180evowel",
        "\u00a0leading nbsp",
        "def foo(x):\n    return x * 2\n",
        "int main() {\n\tprintf(\"hi\\n\");\n\treturn 0;\n}\n",
        "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
        "if x == 1 and y != 2 or not z:",
        "const f = (a, b) => a ?? b; // comment",
        "SELECT * FROM users WHERE id = 42;",
        "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
        "{\"key\": [1, 2, {\"nested\": null}], \"flag\": true}",
        "$ ls -la /usr/local/bin | grep -v '^d' > out.txt 2>&1",
        "#include <vector>\nstd::vector<int> v{1, 2, 3};",
        "x += 1; y -= 2; z *= 3; w /= 4; q %= 5;",
        "a->b, a::b, a<<b, a>>=b, a&&b, a||b, !a",
        "```python\nprint('hello')\n```",
        "~!@#$%^&*()_+`-=[]\\{}|;':\",./<>?",
        "...",
        "!!!???",
        "-----",
        "=====",
        "_____",
        "***bold***",
        "https://www.example.com/path/to/page?query=1&other=two#section",
        "http://localhost:8080/api/v1/items/123",
        "mailto:someone@example.org",
        "user.name+tag@sub.example.co.uk",
        "C:\\Users\\Name\\Documents\\file.txt",
        "/home/user/.config/app/settings.json",
        "git@github.com:org/repo.git",
        "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞß",
        "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ",
        "Straße, Größe, Maße",
        "Dvořák, Łódź, Škoda, Ñandú",
        "e\u0301 versus é",
        "n\u0303 and a\u030a",
        "\u0301\u0302\u0303",
        " \u0301",
        "a\u0301\u0302\u0303\u0304\u0305",
        "Привет, мир! Как дела?",
        "Ελληνικά γράμματα",
        "Հայերեն",
        "ქართული",
        "你好，世界！",
        "我爱自然语言处理。",
        "日本語のテキストです。カタカナとひらがな。",
        "한국어 텍스트입니다",
        "中文English混合text",
        "東京2020オリンピック",
        "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ　１２３",
        "مرحبا بالعالم",
        "العربية: ١٢٣ and ابجد",
        "שלום עולם",
        "עִבְרִית עם ניקוד",
        "नमस्ते दुनिया",
        "ภาษาไทย",
        "Tiếng Việt có dấu",
        "አማርኛ",
        "ᚠᚢᚦᚨᚱᚲ",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙",
        "𓀀𓀁𓀂",
        "😀😃😄😁",
        "I ❤️ NY",
        "👍🏽",
        "👨‍👩‍👧‍👦",
        "🏳️‍🌈",
        "👩🏽‍💻 codes",
        "🇯🇵🇺🇸🇫🇷",
        "emoji at end 🎉",
        "🎉 emoji at start",
        "mixed🙂text🙃here",
        "keycap 1️⃣ 2️⃣",
        "©®™ §¶ †‡ •",
        "€100 £50 ¥1000 ₹500 ₿0.01",
        "°C ±5% µs Ω",
        "→ ← ↑ ↓ ⇒ ⇔ ∀x ∃y ∈ ∉ ∑ ∏ √ ∞ ≠ ≤ ≥",
        "“smart quotes” and ‘single’ and «guillemets»",
        "em—dash en–dash hyphen-minus",
        "ellipsis… and bullet • point",
        "\ufeffBOM at start",
        "replacement \ufffd char",
        "private use \ue000\uf8ff",
        "nonchar \U0010fffd",
        "control \x01\x02\x1f chars",
        "del \x7f char",
        "nul \x00 in middle",
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|begin_of_text|>Hello",
        "<|begin_of_text|> Hello",
        "Hello<|end_of_text|>",
        "Hello <|end_of_text|> world",
        "<|begin_of_text|><|begin_of_text|>",
        "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>",
        "<|reserved_special_token_0|>",
        "<|reserved_special_token_250|>x",
        "<|begin_of_text",
        "<|begin_of_text|",
        "begin_of_text|>",
        "<|endoftext|>",
        "text<|endoftext|>more text",
        "<|endoftext|><|endoftext|>",
        " <|endoftext|> ",
        "<s>",
        "</s>",
        "<unk>",
        "<s>Hello</s>",
        "<s> Hello </s>",
        "Hello</s><s>world",
        "<s><s></s></s>",
        " <s>",
        "<s>\n",
        "< s >",
        "<0x41>",
        "<mask>",
        "a <mask> b",
        "a    <mask>b",
        "[rs]   x",
        "x [rs]\n\ny",
        "a  [both]  b",
        "[both][both]",
        "kitty",
        "a kitty",
        "kittycat",
        "kitty's kittys",
        "the kitty, the kitty.",
        "_kitty_",
        "wörd wörds a wörd.",
        "<sep>",
        "a<sep>b",
        "<sep><sep>",
        "<sep><sep><sep>",
        "żółw, żółwie, a żółw ",
        "  żółw\n",
        "hello world",
        "say hello world",
        "hello  world",
        "helloworld",
        "a <x> b",
        "a<x>b",
        "   <x>   ",
        "▁",
        "▁▁",
        "a ▁ b",
        "word▁with▁metaspace",
        "ĠĊ Ġhello",
        "ĉ ċ č ġ",
        "Ġ",
        "\\n\\t\\r",
        "a\u200db",
        "\u200d",
        "\u2060word joiner",
        "soft\u00adhyphen",
        "Zalgo: Z\u0336\u0351a\u0334l\u0337g\u0335o\u0338",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "pneumonoultramicroscopicsilicovolcanoconiosis",
        "CamelCaseIdentifierName and snake_case_identifier_name and kebab-case-name",
        "ALLCAPS lowercase MiXeD",
        "'quoted' \"double\" `backtick`",
        "it's 'quote's",
        "'S 'T 'RE 'VE 'M 'LL 'D",
        "'ſ",
        "K Kelvin ſ long s",
        "ǅ titlecase",
        "İstanbul ıi",
        "fi ligature ﬁ ﬂ",
        "ǈǋǲ",
    ]
    # Every printable ASCII character on its own line, and all byte-sized code points.
    c.append("".join(chr(i) for i in range(32, 127)))
    c.append("".join(chr(i) for i in range(160, 256)))
    c.append("\n".join(chr(i) for i in range(33, 127)))
    c.append("".join(chr(i) for i in range(1, 32)))
    for n in (2, 3, 5, 16, 33):
        c.append("9" * n + " " + "7" * n)
    for n in (1, 2, 3, 4, 7):
        c.append("x" + " " * n + "y" + "\n" * n + "z" + "\t" * n)
    c.append("Multi-paragraph text.\n\nSecond paragraph, with a list:\n- one\n- two\n\n\n"
             "Third after two blank lines.   \n  Indented line.\n")
    c.append("The Transformer follows this overall architecture using stacked self-attention "
             "and point-wise, fully connected layers for both the encoder and decoder, shown "
             "in the left and right halves of Figure 1, respectively.")
    c.append("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
             "incididunt ut labore et dolore magna aliqua. " * 3)
    c.append("混合 mixed 텍스트 text نص טקסט текст 🙂 123 ٤٥٦")
    # Decomposed and compatibility forms, for the Unicode normalizers.
    c.append("e\u0301cole A\u030angstro\u0308m n\u0303 \u1100\u1161\u11a8 o\u0308\u0301")
    c.append("\ufb01ne \u2460\u2461 \uff26\uff55\uff4c\uff4c \u00bd \u2126 x\u00b2 \u2163")
    c.append("\u0130stanbul \u03a3\u039f\u03a6\u039f\u03a3 STRASSE \u1e9e \u0049\u0307")
    # Pieces longer than 256 symbols (merged with a priority queue).
    c.append("abcdefghij" * 40)
    c.append("的" * 300)
    c.append(" " + "ab1" * 120)
    seen = set()
    out = []
    for s in c:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def decode_cases(tok, vocab_size, rng):
    """Id sequences that do not come from encoding: random ids, lone bytes, specials."""
    cases = []
    for _ in range(12):
        n = rng.randint(1, 12)
        cases.append([rng.randrange(vocab_size) for _ in range(n)])
    # Pieces of multi-byte characters on their own and out of order.
    ids = tok.encode("é中🙂", add_special_tokens=False).ids
    cases.append(ids[:1])
    cases.append(ids[::-1])
    cases.append([])
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared", "data"),
                    help="the shared data folder (default: ../shared/data beside the clone)")
    args = ap.parse_args()
    shared = args.shared
    os.makedirs(OUT, exist_ok=True)

    gpt2_doc, gpt2_config = make_gpt2(shared)
    llama2_doc, llama2_config, metaspace_patch = make_llama2(shared)
    for name, doc, config in (("gpt2", gpt2_doc, gpt2_config),
                              ("llama2", llama2_doc, llama2_config)):
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        write_json(os.path.join(OUT, name, "tokenizer.json"), doc)
        write_json(os.path.join(OUT, name, "tokenizer_config.json"), config, compact=False)

    var = variants()
    var["llama2-metaspace"]["patch"] = metaspace_patch
    write_json(os.path.join(OUT, "variants.json"), var, compact=False)

    strings = corpus()
    assert len(strings) >= 200, len(strings)
    write_json(os.path.join(OUT, "corpus.json"), strings, compact=False)

    llama3_dir = os.path.join(shared, "tokenizers", "llama3")
    with open(os.path.join(llama3_dir, "tokenizer.json"), encoding="utf-8") as f:
        llama3_doc = json.load(f)
    docs = {"gpt2": gpt2_doc, "llama2": llama2_doc, "llama3": llama3_doc}
    for name, v in var.items():
        docs[name] = apply_patch(docs[v["base"]], v["patch"])

    rng = random.Random(1234)
    goldens = {
        "generator": "scripts/goldens/make_tokenizer_goldens.py",
        "reference": {"tokenizers": tokenizers.__version__,
                      "transformers": transformers.__version__,
                      "sentencepiece": spm.__version__},
        "tokenizers": {},
    }
    for name in ("gpt2", "llama2", "llama3", "qwen2", "llama2-metaspace", "llama3-flags",
                 "llama2-flags", "gpt2-prefix-space", "llama3-split-behaviors",
                 "llama2-metaspace-split", "qwen2-nfc", "llama3-nfkc-lowercase"):
        # Load from the files as written, so the goldens describe exactly those bytes.
        if name in ("gpt2", "llama2"):
            tok = Tokenizer.from_file(os.path.join(OUT, name, "tokenizer.json"))
        elif name == "llama3":
            tok = Tokenizer.from_file(os.path.join(llama3_dir, "tokenizer.json"))
        else:
            tok = Tokenizer.from_str(json.dumps(docs[name]))
        for t in docs[name]["added_tokens"]:  # the ids in the file are the ones it gets
            assert tok.token_to_id(t["content"]) == t["id"], (name, t)
        entry = {"vocab_size": tok.get_vocab_size(with_added_tokens=True), "ids": [],
                 "decoded": [], "ids_no_special": {}, "decoded_no_special": {},
                 "with_special_tokens": {}}
        for i, s in enumerate(strings):
            tok.encode_special_tokens = False
            ids = tok.encode(s, add_special_tokens=False).ids
            entry["ids"].append(ids)
            entry["decoded"].append(tok.decode(ids, skip_special_tokens=False))
            tok.encode_special_tokens = True
            plain = tok.encode(s, add_special_tokens=False).ids
            tok.encode_special_tokens = False
            if plain != ids:  # only where they differ, to keep the file small
                entry["ids_no_special"][str(i)] = plain
                entry["decoded_no_special"][str(i)] = tok.decode(plain, skip_special_tokens=False)
        # What the post-processor adds (the BOS the core adds itself), for a few strings.
        for s in ("I believe the meaning of life is", "Hello", ""):
            entry["with_special_tokens"][s] = tok.encode(s).ids
        entry["decode_cases"] = [
            {"ids": ids, "text": tok.decode(ids, skip_special_tokens=False)}
            for ids in decode_cases(tok, tok.get_vocab_size(with_added_tokens=True), rng)]
        goldens["tokenizers"][name] = entry
        print(f"{name}: {len(strings)} strings, {len(entry['ids_no_special'])} differ without "
              f"special tokens, vocab {entry['vocab_size']}")

    # The known reference, and a cross-check of the conversion against sentencepiece itself.
    llama2 = goldens["tokenizers"]["llama2"]
    assert llama2["with_special_tokens"]["I believe the meaning of life is"] == [
        1, 306, 4658, 278, 6593, 310, 2834, 338], llama2["with_special_tokens"]
    sp = spm.SentencePieceProcessor(
        model_file=os.path.join(shared, "tokenizers", "llama2-spm", "tokenizer.model"))
    agree = 0
    for i, s in enumerate(strings):
        plain = llama2["ids_no_special"].get(str(i), llama2["ids"][i])
        if sp.encode(s) == plain:
            agree += 1
        else:
            print(f"  sentencepiece differs on {s!r}: {sp.encode(s)} vs {plain}")
    print(f"llama2: sentencepiece agrees on {agree}/{len(strings)} strings")

    write_lines_json(os.path.join(OUT, "goldens.json"), goldens)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
