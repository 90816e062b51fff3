#!/usr/bin/env python3
"""Writes the binary seed inputs of the fuzz targets into fuzz/corpus/ (the text seeds are copies
of files in tests/fixtures and examples/default, made by hand):

  gguf/ (gguf_tokenizer/: the same files without tensors)
      llama_gpt2.gguf    a llama of 1 layer (hidden 8, 2 heads, 1 KV head, intermediate 32), a
                         byte-level "gpt2" tokenizer (the 256 byte-alphabet tokens, 6 merges,
                         "<|endoftext|>" as control token, BOS and EOS, pre "smollm"); tensors
                         F32, F16, BF16 and one Q8_0
      qwen2_gpt2.gguf    the same as a qwen2 (q/k/v biases, tied embeddings, pre "qwen2",
                         GGUF version 2)
      llama_spm.gguf     a "llama" SentencePiece-style tokenizer (<unk>, <s>, </s>, the 256 byte
                         tokens, a few pieces with scores and token types, no merges) and the
                         same llama config and tensors
  safetensors/
      tied.safetensors   every parameter of the tiny Llama of safetensors_fuzzer.cpp (F32, F16,
                         BF16), embeddings tied, so it passes ValidateCheckpoint
      lm_head.safetensors   the same with an lm_head.weight equal to the embeddings
  tokenizer_json/   (tokenizer.json, NUL, tokenizer_config.json)
      gpt2, llama2       tests/fixtures/tokenizers/{gpt2,llama2} cut to their first 300 ids and
                         the merges among them (added tokens renumbered after them)
      qwen2_style        gpt2's cut with an NFC normalizer, a Split + ByteLevel pre-tokenizer
                         sequence, added tokens with every flag and a BOS template
      llama2_metaspace   llama2's cut with a Metaspace pre-tokenizer and no normalizer
  tokenizer_encode/
      corpus_N           strings of tests/fixtures/tokenizers/corpus.json, 16 to a file
  results_store/
      v2.sqlite          a schema-2 results database (as core/src/results/results_store.cpp
                         writes it) with two labelled runs and a row in every table
      v1.sqlite          a schema-1 database (one unlabelled run), which opening upgrades

Small page size, tiny models and cut vocabularies keep every seed under 20 KB. Run with the project venv's python
(numpy and gguf; `bash scripts/setup.sh --dev`):

  python fuzz/make_seeds.py
"""

import json
import os
import sqlite3
import struct

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")

HIDDEN, HEADS, KV_HEADS, FF, LAYERS, CONTEXT = 8, 2, 1, 32, 1, 64
HEAD_DIM = HIDDEN // HEADS


def byte_alphabet():
    """GPT-2's bytes_to_unicode, in byte order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


def tensors(rng, vocab, arch):
    """Every tensor of the config, in ggml order of dims, with a type each."""
    out = [("token_embd.weight", (vocab, HIDDEN), QT.F16)]
    for i in range(LAYERS):
        p = f"blk.{i}."
        out += [
            (p + "attn_norm.weight", (HIDDEN,), QT.F32),
            (p + "attn_q.weight", (HIDDEN, HIDDEN), QT.BF16),
            (p + "attn_k.weight", (KV_HEADS * HEAD_DIM, HIDDEN), QT.F16),
            (p + "attn_v.weight", (KV_HEADS * HEAD_DIM, HIDDEN), QT.F32),
            (p + "attn_output.weight", (HIDDEN, HIDDEN), QT.F32),
            (p + "ffn_norm.weight", (HIDDEN,), QT.F32),
            (p + "ffn_gate.weight", (FF, HIDDEN), QT.F16),
            (p + "ffn_up.weight", (FF, HIDDEN), QT.F32),
            (p + "ffn_down.weight", (HIDDEN, FF), QT.Q8_0),
        ]
        if arch == "qwen2":
            out += [
                (p + "attn_q.bias", (HIDDEN,), QT.F32),
                (p + "attn_k.bias", (KV_HEADS * HEAD_DIM,), QT.F32),
                (p + "attn_v.bias", (KV_HEADS * HEAD_DIM,), QT.F32),
            ]
    out.append(("output_norm.weight", (HIDDEN,), QT.F32))
    if arch == "llama":
        out.append(("output.weight", (vocab, HIDDEN), QT.F16))
    return [(name, rng.standard_normal(shape).astype(np.float32), qt) for name, shape, qt in out]


def write_gguf(path, arch, tokenizer, version=3, with_tensors=True):
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(path, arch)
    if version != 3:
        w.version = version  # the layout of versions 2 and 3 is the same
    w.add_name(f"tiny {arch} (fuzz seed)")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    vocab = tokenizer(w)
    for name, value, qt in tensors(rng, vocab, arch) if with_tensors else []:
        if qt == QT.F32:
            w.add_tensor(name, value)
        elif qt == QT.F16:
            w.add_tensor(name, value.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(value, qt), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gpt2_tokenizer(pre):
    def add(w):
        alphabet = byte_alphabet()
        merges = ["Ġ t", "h e", "Ġt he", "i n", "1 2", "Ġ a"]
        tokens = alphabet + [m.replace(" ", "") for m in merges] + ["<|endoftext|>"]
        types = [1] * (len(tokens) - 1) + [3]
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_bos_token_id(len(tokens) - 1)
        w.add_eos_token_id(len(tokens) - 1)
        w.add_add_bos_token(False)
        return len(tokens)
    return add


def spm_tokenizer(w):
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0, 0.0, 0.0] + [0.0] * 256
    for i, piece in enumerate(["▁", "▁t", "he", "▁the", "▁a", "in", "12", "▁1"]):
        tokens.append(piece)
        types.append(1)
        scores.append(-float(i))
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    return len(tokens)


def bf16(values):
    bits = values.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors(path, with_lm_head):
    """The tiny Llama of fuzz/safetensors_fuzzer.cpp: vocab 16, hidden 8, intermediate 12,
    2 layers, 2 heads, 1 KV head, tied embeddings."""
    rng = np.random.default_rng(1)
    vocab, hidden, inter, kv = 16, 8, 12, 4
    params = [("model.embed_tokens.weight", (vocab, hidden), "F16")]
    for i in range(2):
        p = f"model.layers.{i}."
        params += [
            (p + "input_layernorm.weight", (hidden,), "F32"),
            (p + "self_attn.q_proj.weight", (hidden, hidden), "BF16"),
            (p + "self_attn.k_proj.weight", (kv, hidden), "F16"),
            (p + "self_attn.v_proj.weight", (kv, hidden), "F32"),
            (p + "self_attn.o_proj.weight", (hidden, hidden), "F32"),
            (p + "post_attention_layernorm.weight", (hidden,), "F32"),
            (p + "mlp.gate_proj.weight", (inter, hidden), "F16"),
            (p + "mlp.up_proj.weight", (inter, hidden), "F32"),
            (p + "mlp.down_proj.weight", (hidden, inter), "BF16"),
        ]
    params.append(("model.norm.weight", (hidden,), "F32"))
    blobs = {}
    for name, shape, dtype in params:
        v = rng.standard_normal(shape).astype(np.float32)
        blobs[name] = (dtype, shape,
                       {"F32": v.tobytes, "F16": v.astype(np.float16).tobytes,
                        "BF16": bf16(v).tobytes}[dtype]())
    if with_lm_head:
        params.append(("lm_head.weight", (vocab, hidden), "F16"))
        blobs["lm_head.weight"] = blobs["model.embed_tokens.weight"]
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, _, _ in params:
        dtype, shape, blob = blobs[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


FIXTURES = os.path.join(ROOT, "..", "tests", "fixtures", "tokenizers")
KEEP = 300  # ids of a cut vocabulary

# Qwen2's pre-tokenizer regex (tests/fixtures/tokenizers/variants.json).
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
               r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def cut_tokenizer(name):
    """A fixture tokenizer.json with its first KEEP ids, the merges among them and its added
    tokens renumbered after them; and its tokenizer_config.json text."""
    with open(os.path.join(FIXTURES, name, "tokenizer.json"), encoding="utf-8") as f:
        t = json.load(f)
    model = t["model"]
    model["vocab"] = {k: v for k, v in model["vocab"].items() if v < KEEP}
    kept = set(model["vocab"])

    def parts(m):
        return m.split(" ") if isinstance(m, str) else m

    model["merges"] = [m for m in model["merges"]
                       if all(p in kept for p in parts(m)) and "".join(parts(m)) in kept]
    renumber = {}
    for i, added in enumerate(t["added_tokens"]):
        new_id = model["vocab"].get(added["content"], KEEP + i)
        renumber[added["id"]] = new_id
        added["id"] = new_id
        if added["content"] not in model["vocab"] and added["id"] < KEEP:
            model["vocab"][added["content"]] = added["id"]
    post = t.get("post_processor") or {}
    for special in (post.get("special_tokens") or {}).values():
        special["ids"] = [renumber.get(i, i) for i in special["ids"]]
    with open(os.path.join(FIXTURES, name, "tokenizer_config.json"), encoding="utf-8") as f:
        config = f.read()
    return t, config


def write_tokenizer(path, tokenizer, config):
    with open(path, "wb") as f:
        f.write(json.dumps(tokenizer, ensure_ascii=False, separators=(",", ":")).encode())
        f.write(b"\0" + config.encode())


def write_tokenizers(d):
    gpt2, gpt2_config = cut_tokenizer("gpt2")
    llama2, llama2_config = cut_tokenizer("llama2")
    write_tokenizer(os.path.join(d, "gpt2"), gpt2, gpt2_config)
    write_tokenizer(os.path.join(d, "llama2"), llama2, llama2_config)

    qwen2 = json.loads(json.dumps(gpt2))
    qwen2["normalizer"] = {"type": "NFC"}
    qwen2["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated",
         "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
         "use_regex": False}]}
    flags = [("<mask>", True, False, False, False, True), ("[rs]", False, True, False, False, False),
             ("kitty", False, False, True, False, False), ("dog", False, False, False, True, False)]
    for i, (content, lstrip, rstrip, single_word, normalized, special) in enumerate(flags):
        qwen2["added_tokens"].append({"id": KEEP + 1 + i, "content": content, "single_word": single_word,
                                      "lstrip": lstrip, "rstrip": rstrip, "normalized": normalized,
                                      "special": special})
    bos = qwen2["added_tokens"][0]
    qwen2["post_processor"] = {"type": "TemplateProcessing",
                               "single": [{"SpecialToken": {"id": bos["content"], "type_id": 0}},
                                          {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                        {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {bos["content"]: {"id": bos["content"],
                                                                   "ids": [bos["id"]],
                                                                   "tokens": [bos["content"]]}}}
    write_tokenizer(os.path.join(d, "qwen2_style"), qwen2, '{"add_bos_token": false}')

    metaspace = json.loads(json.dumps(llama2))
    metaspace["normalizer"] = None
    metaspace["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581",
                                  "prepend_scheme": "first", "split": False}
    write_tokenizer(os.path.join(d, "llama2_metaspace"), metaspace, llama2_config)


def write_texts(d):
    with open(os.path.join(FIXTURES, "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    for i in range(0, len(corpus), 16):
        with open(os.path.join(d, f"corpus_{i // 16:02d}"), "wb") as f:
            f.write("\n".join(corpus[i:i + 16]).encode("utf-8", "surrogatepass"))


# The schema of core/src/results/results_store.cpp, version 2, and version 1 (no labels).
SCHEMA_V2 = """
CREATE TABLE run (label TEXT PRIMARY KEY, config_text TEXT, config_hash TEXT,
  compass_version TEXT, git_hash TEXT, backend TEXT, backend_version TEXT, model_path TEXT,
  dtype TEXT, devices_json TEXT, backend_options_json TEXT, started_at TEXT, finished_at TEXT,
  seconds REAL, notes_json TEXT);
CREATE TABLE responses (label TEXT NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL,
  logprob REAL, is_greedy INTEGER, num_tokens INTEGER, tokens_json TEXT, finish_reason INTEGER,
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), token_logprobs_json TEXT,
  PRIMARY KEY (label, hash));
CREATE TABLE tasks (label TEXT NOT NULL, name TEXT NOT NULL, dataset TEXT, scorer TEXT,
  items INTEGER, requests INTEGER, computed INTEGER, seconds REAL, ordinal INTEGER,
  PRIMARY KEY (label, name));
CREATE TABLE samples (label TEXT NOT NULL, task TEXT, item_id TEXT, grp TEXT, ordinal INTEGER,
  sample_json TEXT, metrics_json TEXT, PRIMARY KEY (label, task, item_id));
CREATE TABLE aggregates (label TEXT NOT NULL, task TEXT, grp TEXT, metric TEXT, value REAL,
  stderr REAL, stderr_method TEXT, count INTEGER, higher_is_better INTEGER,
  PRIMARY KEY (label, task, grp, metric));
CREATE TABLE figures (label TEXT NOT NULL, name TEXT, scope TEXT, value REAL, unit INTEGER,
  PRIMARY KEY (label, name, scope));
"""


def write_results(path, version):
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size=512")
    db.execute("PRAGMA application_id=1129136979")
    db.execute(f"PRAGMA user_version={version}")
    labels = ["", "paged_tp"] if version == 2 else [None]
    schema = SCHEMA_V2
    if version == 1:
        schema = schema.replace("label TEXT PRIMARY KEY, ", "").replace("label TEXT NOT NULL, ", "")
        schema = schema.replace("PRIMARY KEY (label, ", "PRIMARY KEY (").replace(
            ", token_logprobs_json TEXT", "")
    db.executescript(schema)

    def insert(table, row, label):
        if label is not None:
            row = (label,) + row
        db.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(row))})", row)

    for label in labels:
        insert("run", ("[model]\npath = \"m.gguf\"\n", "c0ffee", "0.1.0", "abc123", "hf_native",
                       "1", "/m.gguf", "float32", '["cpu"]', "{}", "2025-01-01T00:00:00Z",
                       "2025-01-01T00:01:00Z", 60.0, '["note"]'), label)
        response = ("h1", "loglikelihood", -1.5, 1, 2, "", 0, "2025-01-01T00:00:01Z")
        generated = ("h2", "generate", -3.25, 0, 3, "[5,6,7]", 1, "2025-01-01T00:00:02Z")
        if version == 2:
            response += ("[-0.5,-1.0]",)
            generated += ("[-1,-1.25,-1]",)
        insert("responses", response, label)
        insert("responses", generated, label)
        insert("tasks", ("arc_easy", "arc", "mcq_accuracy", 2, 8, 8, 1.5, 0), label)
        insert("samples", ("arc_easy", "Mercury_1", "", 0,
                           '{"prompt":"Question: q\\nAnswer:","prediction":1}',
                           '{"acc":1,"acc_norm":null}'), label)
        insert("aggregates", ("arc_easy", "", "acc", 0.5, 0.25, "bootstrap", 2, 1), label)
        insert("figures", ("answer_latency_p50", "host", 0.125, 1), label)
    db.commit()
    db.execute("VACUUM")
    db.close()


def main():
    def target(name):
        d = os.path.join(CORPUS, name)
        os.makedirs(d, exist_ok=True)
        return d

    for folder, with_tensors in (("gguf", True), ("gguf_tokenizer", False)):
        d = target(folder)
        write_gguf(os.path.join(d, "llama_gpt2.gguf"), "llama", gpt2_tokenizer("smollm"),
                   with_tensors=with_tensors)
        write_gguf(os.path.join(d, "qwen2_gpt2.gguf"), "qwen2", gpt2_tokenizer("qwen2"), version=2,
                   with_tensors=with_tensors)
        write_gguf(os.path.join(d, "llama_spm.gguf"), "llama", spm_tokenizer,
                   with_tensors=with_tensors)
    d = target("safetensors")
    write_safetensors(os.path.join(d, "tied.safetensors"), with_lm_head=False)
    write_safetensors(os.path.join(d, "lm_head.safetensors"), with_lm_head=True)
    write_tokenizers(target("tokenizer_json"))
    write_texts(target("tokenizer_encode"))
    d = target("results_store")
    write_results(os.path.join(d, "v2.sqlite"), 2)
    write_results(os.path.join(d, "v1.sqlite"), 1)


if __name__ == "__main__":
    main()
