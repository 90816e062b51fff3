#!/usr/bin/env python3
"""Regenerates the GGUF tokenizer fixture and goldens under tests/fixtures/gguf.

  llama_spm_tokenizer.gguf   a GGUF holding only tokenizer metadata (no tensors): the Llama-2
                             SentencePiece vocabulary as llama.cpp's converter writes it
                             (tokenizer.ggml.model "llama", tokens, scores, token types, no merges,
                             bos 1, eos 2, unk 0), read from ../shared/data/tokenizers/llama2-spm
  tokenizer_goldens.json     per file: the ids of every string of
                             tests/fixtures/tokenizers/corpus.json (add_special_tokens=False) and
                             their decoded text, under the tokenizer transformers builds from the
                             GGUF (AutoTokenizer.from_pretrained(dir, gguf_file=...)), plus its
                             bos/eos/pad ids, add_bos and vocabulary size

Files:
  smollm2       the real model (SmolLM2-135M-Instruct.Q4_1.gguf, tokenizer.ggml.model "gpt2",
                tokenizer.ggml.pre "smollm"). transformers has no split for "smollm" and keeps
                GPT-2's ByteLevel regex, so runs of digits stay together; SmolLM2's own
                tokenizer.json (and llama.cpp's "smollm" pre-type) split every digit. "ids" are
                transformers' tokenizer with SmolLM2's pre-tokenizer put back
                (Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False)]), which
                is what Compass builds; "transformers_ids" lists, by corpus index, the strings where
                transformers as it is gives other ids (each holds a numeric character).
  llama_spm     the fixture above (general.architecture "llama")
  llama_spm_phi3  the same metadata with general.architecture "phi3" (transformers builds Phi-3's
                layout: a Prepend + Replace normalizer instead of the Metaspace pre-tokenizer)

Usage: python scripts/goldens/make_gguf_tokenizer_goldens.py [--model FILE.gguf] [--shared DIR]
  --model defaults to what scripts/fetch_model.sh prints.
Needs: transformers, tokenizers, gguf, sentencepiece (no network once the model is cached).
"""
import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import unicodedata
import tempfile

import gguf
import sentencepiece as spm
import tokenizers
import transformers
from transformers import AutoTokenizer

from golden_util import sha256, smollm2_pre_tokenizer, write_lines_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf")
CORPUS = os.path.join(ROOT, "tests", "fixtures", "tokenizers", "corpus.json")
FIXTURE = "llama_spm_tokenizer.gguf"

# gguf.TokenType values, as llama.cpp's converter assigns them to sentencepiece pieces.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6




def write_spm_gguf(path, model_file, architecture):
    """Tokenizer metadata only, as llama.cpp's convert_hf_to_gguf.py writes it for a
    sentencepiece model (_create_vocab_sentencepiece): no merges, no tensors."""
    sp = spm.SentencePieceProcessor(model_file=model_file)
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(UNKNOWN)
        elif sp.is_control(i):
            types.append(CONTROL)
        elif sp.is_unused(i):
            types.append(UNUSED)
        elif sp.is_byte(i):
            types.append(BYTE)
        else:
            types.append(NORMAL)
    w = gguf.GGUFWriter(path, architecture)
    w.add_name("llama2-spm tokenizer (test fixture)")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    # add_bos_token is left out on purpose: absent, "llama" vocabularies add BOS.
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def load(path):
    return AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))


def encode_all(tok, strings):
    ids, decoded = [], []
    for s in strings:
        a = tok.encode(s, add_special_tokens=False)
        b = tok.backend_tokenizer.encode(s, add_special_tokens=False).ids
        assert a == b, (s, a, b)
        ids.append(a)
        decoded.append(tok.backend_tokenizer.decode(a, skip_special_tokens=False))
    return ids, decoded


def entry(tok, file_label, strings):
    ids, decoded = encode_all(tok, strings)
    return {
        "file": file_label,
        "vocab_size": len(tok),
        "bos_id": tok.bos_token_id if tok.bos_token_id is not None else -1,
        "eos_id": tok.eos_token_id if tok.eos_token_id is not None else -1,
        "pad_id": tok.pad_token_id if tok.pad_token_id is not None else -1,
        "add_bos": bool(getattr(tok, "add_bos_token", False)),
        "ids": ids,
        "decoded": decoded,
    }






def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", help="SmolLM2-135M-Instruct.Q4_1.gguf (default: scripts/fetch_model.sh)")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared", "data"),
                    help="the shared data folder (default: ../shared/data beside the clone)")
    args = ap.parse_args()
    model = args.model or subprocess.check_output(
        ["bash", os.path.join(ROOT, "scripts", "fetch_model.sh")], text=True).strip()
    os.makedirs(OUT, exist_ok=True)
    with open(CORPUS, encoding="utf-8") as f:
        strings = json.load(f)

    spm_model = os.path.join(args.shared, "tokenizers", "llama2-spm", "tokenizer.model")
    fixture = os.path.join(OUT, FIXTURE)
    write_spm_gguf(fixture, spm_model, "llama")

    goldens = {
        "generator": "scripts/goldens/make_gguf_tokenizer_goldens.py",
        "reference": {"transformers": transformers.__version__,
                      "tokenizers": tokenizers.__version__,
                      "gguf": importlib.metadata.version("gguf")},
        "corpus": "tests/fixtures/tokenizers/corpus.json",
        "files": {},
    }

    # SmolLM2: transformers as it is, then with SmolLM2's own pre-tokenizer.
    tok = load(model)
    as_is, _ = encode_all(tok, strings)
    tok.backend_tokenizer.pre_tokenizer = smollm2_pre_tokenizer()
    smol = entry(tok, os.path.basename(model), strings)
    smol["sha256"] = sha256(model)
    smol["transformers_ids"] = {str(i): a for i, (a, b) in enumerate(zip(as_is, smol["ids"]))
                                if a != b}
    for i in smol["transformers_ids"]:
        assert any(unicodedata.category(c).startswith("N") for c in strings[int(i)]), strings[int(i)]
    goldens["files"]["smollm2"] = smol
    print(f"smollm2: {len(strings)} strings; transformers as it is differs on "
          f"{len(smol['transformers_ids'])} (each holding a numeric character)")

    # The sentencepiece fixture, as "llama" and as "phi3".
    llama = entry(load(fixture), FIXTURE, strings)
    goldens["files"]["llama_spm"] = llama
    with tempfile.TemporaryDirectory() as tmp:
        phi3_path = os.path.join(tmp, "phi3.gguf")
        write_spm_gguf(phi3_path, spm_model, "phi3")
        phi3 = entry(load(phi3_path), FIXTURE + " with general.architecture phi3", strings)
    goldens["files"]["llama_spm_phi3"] = phi3
    # The known reference (with BOS): 1 306 4658 278 6593 310 2834 338.
    i = strings.index("I believe the meaning of life is")
    assert llama["ids"][i] == [306, 4658, 278, 6593, 310, 2834, 338], llama["ids"][i]
    assert llama["bos_id"] == 1 and llama["add_bos"], llama
    sp = spm.SentencePieceProcessor(model_file=spm_model)
    agree = sum(sp.encode(s) == ids for s, ids in zip(strings, llama["ids"]))
    print(f"llama_spm: sentencepiece agrees on {agree}/{len(strings)} strings; phi3 layout differs "
          f"on {sum(a != b for a, b in zip(llama['ids'], phi3['ids']))}")

    write_lines_json(os.path.join(OUT, "tokenizer_goldens.json"), goldens)
    sizes = {n: os.path.getsize(os.path.join(OUT, n)) for n in (FIXTURE, "tokenizer_goldens.json")}
    print("wrote", OUT, sizes)


if __name__ == "__main__":
    sys.exit(main())
