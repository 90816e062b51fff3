#!/usr/bin/env python3
"""Reference outputs of transformers' GGUF loader, for the tests of the native GGUF model loader.

Writes into tests/fixtures/gguf/:

  tiny_llama.gguf   a random llama (2 layers, hidden 64, 4 heads, 2 KV heads, intermediate 128,
                    untied output), written as llama.cpp's convert_hf_to_gguf.py writes one
                    (Q and K rows permuted), with mixed tensor types so that every dequantizer
                    is used: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, F16, BF16 and F32 (see TINY_LLAMA_TYPES)
  tiny_qwen2.gguf   a random qwen2 (same sizes, q/k/v biases, tied embeddings, no permutation),
                    F32 and F16 tensors (see TINY_QWEN2_TYPES)
                    Both carry a minimal byte-level "gpt2" tokenizer: the 256 byte-alphabet
                    characters in byte order, the tokens of MERGES, then "<|endoftext|>"
                    (control token, BOS and EOS).
  tiny_model_goldens.json
                    per tiny model: the metadata keys and tensor types written, the config
                    transformers builds from the file, a summary of every parameter it loads
                    (name, shape, sum, sum of squares, row_weighted_sum = sum over rows r of
                    (r + 1) * (sum of row r), first 8 values of the flattened tensor), token ids
                    of a few strings (special token text parsed), and the full logits of three
                    prompts (lengths 1, 7, 20)
  smollm2_goldens.json
                    the same for the real SmolLM2-135M-Instruct Q4_1 GGUF: config, summaries of
                    the embedding, layers 0 and 29 and the final norm, and for three encoded
                    prompts, at every position: argmax, logsumexp, top 5 ids and logits, and
                    the logits at 128 fixed vocabulary ids
  arc_easy_smollm2_goldens.json
                    0-shot ARC-Easy on examples/default/data/arc/ARC-Easy-Test.jsonl as
                    lm-evaluation-harness's arc_easy builds it ("Question: <stem>\\nAnswer:",
                    continuation " <choice>", no BOS), split into context and continuation
                    ids as core/src/runner/request_builder.cpp's EncodePair does; per choice
                    the log-likelihood and whether it is greedy; acc and acc_norm predictions

Every model is loaded with AutoModelForCausalLM.from_pretrained(dir, gguf_file=name,
dtype=torch.float32, attn_implementation="eager"); transformers dequantizes the tensors and
undoes the Q/K permutation. For the tiny models the script asserts that the loaded weights are
exactly the dequantized tensors it wrote (the ground truth), that the lossless ones are the
weights of the random model they were converted from (weights stored as F16/BF16 are rounded to
that type first; layer 1 of the llama has Q in F32 and K in F16, so its un-permuted Q and K are
checked), and that the random model with the ground-truth weights gives the same logits.

SmolLM2 text is encoded with the tokenizer transformers builds from the GGUF, with its
pre-tokenizer replaced by SmolLM2's own (Digits(individual_digits=True), then ByteLevel), which
transformers does not derive from tokenizer.ggml.pre = "smollm"; add_special_tokens=False.

Floats: float32 values (weights, logits, log-probabilities) are written in the shortest decimal
form that, read as a double and rounded to float32, gives the value back; sums and other
float64 values as Python's repr of the double.

Run with the project venv's python (torch, transformers, tokenizers, gguf, numpy), on CPU:

  python scripts/goldens/make_gguf_model_goldens.py [--smollm2 PATH]

--smollm2 defaults to the path scripts/fetch_model.sh prints. About 3 minutes on one CPU thread
(--threads), most of it the ARC-Easy items. The output is deterministic.
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys

os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF loading progress bars

import gguf
import numpy as np
import tokenizers
import torch
import transformers
from gguf import GGMLQuantizationType as QT
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode

from golden_util import encode_pair, sha256, smollm2_pre_tokenizer

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf")
ARC_FILE = os.path.join(ROOT, "examples", "default", "data", "arc", "ARC-Easy-Test.jsonl")

# ---------------------------------------------------------------------------------------------
# The tiny byte-level tokenizer.

EOT = "<|endoftext|>"
# (left, right) in the byte alphabet; each result is a new token, in this order.
MERGES = [
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"),
    ("e", "r"), ("o", "n"), ("a", "t"), ("Ġ", "s"), ("Ġ", "c"),
]
TOKENIZER_STRINGS = [
    "the cat sat on the mat",
    "Hello, world! 123",
    "<|endoftext|>the end<|endoftext|>",
    "naïve café 🦙",
    "  leading spaces\nand\ttabs  ",
    "interesting the theater",
]


def tiny_vocab():
    alphabet = bytes_to_unicode()
    tokens = [alphabet[b] for b in range(256)]
    for left, right in MERGES:
        assert left in tokens and right in tokens and left + right not in tokens
        tokens.append(left + right)
    tokens.append(EOT)
    types = [int(gguf.TokenType.NORMAL)] * (len(tokens) - 1) + [int(gguf.TokenType.CONTROL)]
    return tokens, types, [f"{l} {r}" for l, r in MERGES]


# ---------------------------------------------------------------------------------------------
# The tiny models: sizes, tensor types, conversion.

TINY = dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, context=128, eps=1e-5)

# gguf tensor suffix -> type, per block; everything 1-D (norms, biases) is F32 as
# convert_hf_to_gguf.py writes it.
TINY_LLAMA_TYPES = {
    "token_embd": QT.Q8_0,
    "output": QT.F32,
    0: {"attn_q": QT.Q4_0, "attn_k": QT.Q4_1, "attn_v": QT.Q5_0, "attn_output": QT.Q5_1,
        "ffn_gate": QT.F16, "ffn_up": QT.F16, "ffn_down": QT.F16},
    1: {"attn_q": QT.F32, "attn_k": QT.F16, "attn_v": QT.Q8_0, "attn_output": QT.BF16,
        "ffn_gate": QT.BF16, "ffn_up": QT.BF16, "ffn_down": QT.BF16},
}
TINY_QWEN2_TYPES = {
    "token_embd": QT.F16,
    0: {"attn_q": QT.F32, "attn_k": QT.F32, "attn_v": QT.F32, "attn_output": QT.F32,
        "ffn_gate": QT.F32, "ffn_up": QT.F32, "ffn_down": QT.F32},
    1: {"attn_q": QT.F16, "attn_k": QT.F16, "attn_v": QT.F16, "attn_output": QT.F16,
        "ffn_gate": QT.F16, "ffn_up": QT.F16, "ffn_down": QT.F16},
}

# HF parameter name (with {bid}) -> gguf tensor name, as gguf-py's tensor map has them.
HF_TO_GGUF = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
    "model.layers.{bid}.input_layernorm.weight": "blk.{bid}.attn_norm.weight",
    "model.layers.{bid}.self_attn.q_proj.weight": "blk.{bid}.attn_q.weight",
    "model.layers.{bid}.self_attn.q_proj.bias": "blk.{bid}.attn_q.bias",
    "model.layers.{bid}.self_attn.k_proj.weight": "blk.{bid}.attn_k.weight",
    "model.layers.{bid}.self_attn.k_proj.bias": "blk.{bid}.attn_k.bias",
    "model.layers.{bid}.self_attn.v_proj.weight": "blk.{bid}.attn_v.weight",
    "model.layers.{bid}.self_attn.v_proj.bias": "blk.{bid}.attn_v.bias",
    "model.layers.{bid}.self_attn.o_proj.weight": "blk.{bid}.attn_output.weight",
    "model.layers.{bid}.post_attention_layernorm.weight": "blk.{bid}.ffn_norm.weight",
    "model.layers.{bid}.mlp.gate_proj.weight": "blk.{bid}.ffn_gate.weight",
    "model.layers.{bid}.mlp.up_proj.weight": "blk.{bid}.ffn_up.weight",
    "model.layers.{bid}.mlp.down_proj.weight": "blk.{bid}.ffn_down.weight",
}


def gguf_name(hf_name):
    parts = hf_name.split(".")
    bid = None
    if len(parts) > 2 and parts[1] == "layers":
        bid = int(parts[2])
        parts[2] = "{bid}"
    name = HF_TO_GGUF[".".join(parts)]
    return name.format(bid=bid) if bid is not None else name, bid


def permute(weights, n_head, n_head_kv):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute, on numpy arrays."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def unpermute(weights, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, weights.shape[0] // n_head // 2, 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def tensor_type(types, gname, bid):
    if gname.endswith(".bias") or gname.endswith("_norm.weight"):
        return QT.F32
    key = gname.split(".")[-2]
    return types[bid][key] if bid is not None else types[key]


def random_model(arch, vocab_size, eot_id):
    common = dict(
        vocab_size=vocab_size,
        hidden_size=TINY["hidden"],
        intermediate_size=TINY["intermediate"],
        num_hidden_layers=TINY["layers"],
        num_attention_heads=TINY["heads"],
        num_key_value_heads=TINY["kv_heads"],
        max_position_embeddings=TINY["context"],
        rms_norm_eps=TINY["eps"],
        bos_token_id=eot_id,
        eos_token_id=eot_id,
        # Larger than the default 0.02, so that the logits of a random model are far from flat.
        initializer_range=0.15,
    )
    torch.manual_seed(1234 if arch == "llama" else 5678)
    if arch == "llama":
        config = LlamaConfig(**common, rope_theta=10000.0, tie_word_embeddings=False)
        model = LlamaForCausalLM(config)
    else:
        config = Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True,
                             use_sliding_window=False)
        model = Qwen2ForCausalLM(config)
    # Norm weights of 1 and zero biases would hide a wrongly mapped norm or bias.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.25 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn_like(p))
    return model.eval()


def convert(model, arch, types):
    """The tensors convert_hf_to_gguf.py (plus quantization to `types`) writes for `model`.

    Rounds the parameters of `model` that become F16/BF16 in place, so that those are stored
    exactly. Returns [(gguf name, data, raw_dtype, type)] in the order llama.cpp writes them
    (HF names sorted) and {hf name: the tensor a loader must reconstruct (float32, HF layout)}.
    """
    n_head, n_kv = TINY["heads"], TINY["kv_heads"]
    out, truth = [], {}
    state = {k: v for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    for hf_name in sorted(state):
        gname, bid = gguf_name(hf_name)
        qtype = tensor_type(types, gname, bid)
        param = model.get_parameter(hf_name)
        with torch.no_grad():
            if qtype == QT.F16:
                param.copy_(param.to(torch.float16).float())
            elif qtype == QT.BF16:
                param.copy_(param.to(torch.bfloat16).float())
        w = param.detach().numpy().astype(np.float32)
        perm = None
        if arch == "llama" and ".attn_q." in gname:
            perm = (n_head, n_head)
        elif arch == "llama" and ".attn_k." in gname:
            perm = (n_head, n_kv)
        if perm:
            assert np.array_equal(unpermute(permute(w, *perm), *perm), w)
            w = permute(w, *perm)
        w = np.ascontiguousarray(w)
        if qtype == QT.F32:
            data, raw, back = w, None, w
        elif qtype == QT.F16:
            data, raw = w.astype(np.float16), None
            back = data.astype(np.float32)
        else:
            data, raw = gguf.quants.quantize(w, qtype), qtype
            back = gguf.quants.dequantize(data, qtype).reshape(w.shape)
        if qtype in (QT.F32, QT.F16, QT.BF16):
            assert np.array_equal(back, w), f"{gname}: {qtype.name} is not lossless here"
        if perm:
            back = unpermute(back, *perm)
        out.append((gname, data, raw, qtype))
        truth[hf_name] = torch.from_numpy(np.ascontiguousarray(back, dtype=np.float32))
    return out, truth


def write_tiny_gguf(path, arch, name, model, tensors, file_type):
    """Metadata in the order convert_hf_to_gguf.py writes it; returns the keys written."""
    tokens, types, merges = tiny_vocab()
    cfg = model.config
    w = gguf.GGUFWriter(path, arch)
    w.add_type("model")
    w.add_name(name)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_file_type(file_type)
    w.add_vocab_size(cfg.vocab_size)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index(EOT))
    w.add_eos_token_id(tokens.index(EOT))
    w.add_add_bos_token(False)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for gname, data, raw, _ in tensors:
        w.add_tensor(gname, data, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.chmod(path, 0o644)
    # What is in the file, read back.
    reader = gguf.GGUFReader(path)
    keys = []
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        vtype = field.types[0].name
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            keys.append({"key": key, "type": f"ARRAY[{field.types[1].name}]", "count": len(field.data)})
        else:
            value = field.contents()
            if field.types[0] == gguf.GGUFValueType.FLOAT32:
                value = F32(value)
            keys.append({"key": key, "type": vtype, "value": value})
    tensor_types = [{"name": t.name, "type": t.tensor_type.name, "ne": [int(x) for x in t.shape]}
                    for t in reader.tensors]
    return keys, tensor_types


# ---------------------------------------------------------------------------------------------
# Loading with transformers and summarising.

def load_gguf_model(path):
    model, info = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32,
        attn_implementation="eager", output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        if info.get(key):
            sys.exit(f"{path}: transformers reports {key}: {info[key]}")
    return model.eval()


def config_summary(config):
    return {
        "model_type": config.model_type,
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "head_dim": getattr(config, "head_dim", config.hidden_size // config.num_attention_heads),
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": float(config.rope_parameters["rope_theta"]),
        "rope_type": config.rope_parameters.get("rope_type", "default"),
        "max_position_embeddings": config.max_position_embeddings,
        "tie_word_embeddings": bool(config.tie_word_embeddings),
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
    }


def param_summary(name, tensor):
    t = tensor.detach().float()
    d = t.double()
    return {
        "name": name,
        "shape": list(t.shape),
        "sum": float(d.sum()),
        "sum_sq": float((d * d).sum()),
        # Sensitive to the order of the rows (dim 0), which sum and sum_sq are not: a Q or K
        # weight that is not un-permuted has the right sum but the wrong row_weighted_sum.
        "row_weighted_sum": float((torch.arange(1, d.shape[0] + 1, dtype=torch.float64)
                                   * d.reshape(d.shape[0], -1).sum(1)).sum()),
        "first8": [F32(v) for v in t.flatten()[:8].tolist()],
    }


class F32(float):
    """A float32 value, written in its shortest round-tripping form."""

    def __new__(cls, value):
        return super().__new__(cls, float(np.float32(value)))


def fmt_float(v):
    if not math.isfinite(v):
        raise ValueError(f"non-finite value {v} in a golden")
    if isinstance(v, F32):
        s = str(np.float32(v))
        if np.float32(float(s)) != np.float32(v):
            s = repr(float(v))
        return s
    return repr(float(v))


def _scalar(v):
    return v is None or isinstance(v, (bool, int, float, str))


def to_json(value, indent=""):
    """JSON with one line per list of scalars, so that the files diff well."""
    if isinstance(value, dict):
        if all(_scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))
               for v in value.values()):
            flat = "{" + ", ".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in value.items()) + "}"
            if len(flat) <= 160:
                return flat
        inner = indent + "  "
        items = [f"{inner}{json.dumps(k)}: {to_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}" if items else "{}"
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (list, tuple, dict)) for v in value):
            inner = indent + "  "
            return "[\n" + ",\n".join(inner + to_json(v, inner) for v in value) + "\n" + indent + "]"
        return "[" + ", ".join(to_json(v, indent) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return fmt_float(value)
    raise TypeError(f"cannot write {type(value)}")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_json(obj) + "\n")
    os.chmod(path, 0o644)


def versions():
    return {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "gguf": getattr(gguf, "__version__", None) or _dist_version("gguf"),
        "numpy": np.__version__,
        "dtype": "float32",
        "attn_implementation": "eager",
    }


def _dist_version(name):
    from importlib.metadata import version
    return version(name)




# ---------------------------------------------------------------------------------------------
# Part 1 and 2: the tiny models.

TINY_PROMPT_LENGTHS = [1, 7, 20]


@torch.no_grad()
def make_tiny(arch, out_dir):
    name = f"tiny_{arch}"
    path = os.path.join(out_dir, name + ".gguf")
    tokens, _, _ = tiny_vocab()
    eot = tokens.index(EOT)
    model = random_model(arch, len(tokens), eot)
    types = TINY_LLAMA_TYPES if arch == "llama" else TINY_QWEN2_TYPES
    original = {k: v.clone() for k, v in model.state_dict().items()}  # before any rounding
    tensors, truth = convert(model, arch, types)
    file_type = gguf.LlamaFileType.MOSTLY_Q4_0 if arch == "llama" else gguf.LlamaFileType.MOSTLY_F16
    keys, tensor_types = write_tiny_gguf(path, arch, name, model, tensors, file_type)

    loaded = load_gguf_model(path)
    state = loaded.state_dict()
    # The loaded weights are exactly the dequantized, un-permuted tensors written.
    expected_names = set(truth) | ({"lm_head.weight"} if loaded.config.tie_word_embeddings else set())
    assert set(state) == expected_names, sorted(set(state) ^ expected_names)
    for hf_name, t in truth.items():
        assert torch.equal(state[hf_name], t), f"{name}: {hf_name} differs from the ground truth"
    if loaded.config.tie_word_embeddings:
        assert torch.equal(state["lm_head.weight"], truth["model.embed_tokens.weight"])
    # Where the type is lossless, the un-permuted Q and K are the random model's own weights.
    lossless_checked = []
    for hf_name, t in truth.items():
        gname, bid = gguf_name(hf_name)
        if tensor_type(types, gname, bid) in (QT.F32, QT.F16, QT.BF16):
            assert torch.equal(state[hf_name], model.state_dict()[hf_name]), hf_name
            if tensor_type(types, gname, bid) == QT.F32:
                assert torch.equal(state[hf_name], original[hf_name]), hf_name
            if ".attn_q." in gname or ".attn_k." in gname:
                lossless_checked.append(hf_name)
    if arch == "llama":
        assert {"model.layers.1.self_attn.q_proj.weight",
                "model.layers.1.self_attn.k_proj.weight"} <= set(lossless_checked)

    tok = AutoTokenizer.from_pretrained(out_dir, gguf_file=os.path.basename(path))
    assert len(tok) == len(tokens), (len(tok), len(tokens))
    tokenizer_goldens = []
    for text in TOKENIZER_STRINGS:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text, (text, tok.decode(ids))
        tokenizer_goldens.append({"text": text, "ids": ids})

    rng = random.Random(f"compass-gguf-{name}")
    prompts = [[rng.randrange(len(tokens)) for _ in range(n)] for n in TINY_PROMPT_LENGTHS]
    prompts[2][5] = eot  # one control token inside a prompt
    # The same random model with the ground-truth weights must give (nearly) the same logits.
    model.load_state_dict({**model.state_dict(), **truth})
    runs = []
    for prompt in prompts:
        logits = loaded(torch.tensor([prompt])).logits[0].float()
        ref = model(torch.tensor([prompt])).logits[0].float()
        diff = float((logits - ref).abs().max())
        assert diff < 1e-4, f"{name}: logits differ from the converted HF model by {diff}"
        runs.append({
            "ids": prompt,
            "argmax": logits.argmax(-1).tolist(),
            "logits": [[F32(v) for v in row] for row in logits.tolist()],
        })
    print(f"{name}: {os.path.getsize(path)} bytes, logits range "
          f"[{min(min(r) for run in runs for r in run['logits']):.3g}, "
          f"{max(max(r) for run in runs for r in run['logits']):.3g}]")
    return {
        "file": os.path.basename(path),
        "sha256": sha256(path),
        "architecture": arch,
        "metadata": keys,
        "tensors": tensor_types,
        "config": config_summary(loaded.config),
        "lossless_qk_checked_against_original": lossless_checked,
        "parameters": [param_summary(n, p) for n, p in loaded.named_parameters()],
        "tokenizer": tokenizer_goldens,
        "prompts": runs,
    }


# ---------------------------------------------------------------------------------------------
# Part 3: SmolLM2.

SMOLLM2_TEXTS = [
    "The capital of France is",
    "Water boils when it is heated enough, and ice melts when it is warm.",
    "Once upon a time, a little fox lived in a quiet forest near a river. Every morning she",
]
SMOLLM2_LAYERS = (0, 29)
N_FIXED_IDS = 128


def smollm2_tokenizers(path):
    """The tokenizer transformers builds from the GGUF, and the same with SmolLM2's own
    pre-tokenizer (single digits, then byte-level), which transformers does not set from
    tokenizer.ggml.pre = "smollm"."""
    kw = dict(gguf_file=os.path.basename(path))
    as_built = AutoTokenizer.from_pretrained(os.path.dirname(path), **kw)
    real = AutoTokenizer.from_pretrained(os.path.dirname(path), **kw)
    real.backend_tokenizer.pre_tokenizer = smollm2_pre_tokenizer()
    return as_built, real


@torch.no_grad()
def make_smollm2(path, model, tok, tok_as_built):
    params = dict(model.named_parameters())
    keep = ["model.embed_tokens.weight"]
    for layer in SMOLLM2_LAYERS:
        keep += [n for n in params if n.startswith(f"model.layers.{layer}.")]
    keep.append("model.norm.weight")
    vocab = model.config.vocab_size
    fixed = sorted(np.random.default_rng(20240917).choice(vocab, N_FIXED_IDS, replace=False).tolist())
    prompts = []
    for text in SMOLLM2_TEXTS:
        ids = tok.encode(text, add_special_tokens=False)
        assert ids == tok_as_built.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
        logits = model(torch.tensor([ids])).logits[0].float()
        top = torch.topk(logits, 5, dim=-1)
        prompts.append({
            "text": text,
            "ids": ids,
            "argmax": logits.argmax(-1).tolist(),
            "logsumexp": [F32(v) for v in torch.logsumexp(logits, -1).tolist()],
            "top5_ids": top.indices.tolist(),
            "top5_logits": [[F32(v) for v in row] for row in top.values.tolist()],
            "fixed_logits": [[F32(v) for v in row] for row in logits[:, fixed].tolist()],
        })
        print(f"smollm2: {len(ids)} tokens, greedy next {tok.decode([prompts[-1]['argmax'][-1]])!r}")
    return {
        "file": os.path.basename(path),
        "sha256": sha256(path),
        "config": config_summary(model.config),
        "add_bos_token": bool(getattr(tok, "add_bos_token", False)),
        "parameters": [param_summary(n, params[n]) for n in keep],
        "fixed_ids": fixed,
        "prompts": prompts,
        "made_with": versions(),
    }


# ---------------------------------------------------------------------------------------------
# Part 4: ARC-Easy.

def norm_length(choice):
    """lm-eval's acc_norm divisor, as scorers/mcq_accuracy: code points of the choice without
    the " " target delimiter, at least 1."""
    if choice.startswith(" "):
        choice = choice[1:]
    return max(1, len(choice))


def argmax_first(values):
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


@torch.no_grad()
def loglikelihood(model, context, continuation):
    ids = context + continuation
    logits = model(torch.tensor([ids[:-1]])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)[len(context) - 1:]
    target = torch.tensor(continuation)
    token_lp = logprobs.gather(-1, target[:, None])[:, 0]
    greedy = bool(torch.equal(logprobs.argmax(-1), target))
    return token_lp, greedy


def make_arc(model, tok, tok_as_built):
    with open(ARC_FILE, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    items, changed, with_digits = [], [], []
    acc = acc_norm = 0
    for index, doc in enumerate(docs):
        labels = [c["label"] for c in doc["question"]["choices"]]
        texts = [c["text"] for c in doc["question"]["choices"]]
        gold = labels.index(doc["answerKey"])
        context = "Question: " + doc["question"]["stem"] + "\nAnswer:"
        if any(ch.isdigit() for ch in context + "".join(texts)):
            with_digits.append(index)
        choices, lls, normed = [], [], []
        for text in texts:
            continuation = " " + text
            ctx, cont = encode_pair(tok, context, continuation)
            if (ctx, cont) != encode_pair(tok_as_built, context, continuation):
                changed.append(index)
            token_lp, greedy = loglikelihood(model, ctx, cont)
            ll = float(token_lp.double().sum())
            lls.append(ll)
            normed.append(ll / norm_length(continuation))
            choices.append({
                "continuation": continuation,
                "context_ids": ctx,
                "continuation_ids": cont,
                "token_logprobs": [F32(v) for v in token_lp.tolist()],
                "loglikelihood": ll,
                "is_greedy": greedy,
                "norm_length": norm_length(continuation),
            })
        pred, pred_norm = argmax_first(lls), argmax_first(normed)
        top = sorted(lls, reverse=True)
        top_norm = sorted(normed, reverse=True)
        acc += pred == gold
        acc_norm += pred_norm == gold
        items.append({
            "id": doc["id"],
            "item_id": f"ARC-Easy-Test/{index}",
            "context": context,
            "gold": gold,
            "choices": choices,
            "pred_acc": pred,
            "pred_acc_norm": pred_norm,
            "margin_acc": top[0] - top[1],
            "margin_acc_norm": top_norm[0] - top_norm[1],
        })
    n = len(items)
    changed = sorted(set(changed))
    summary = {
        "items": n,
        "acc": acc / n,
        "acc_norm": acc_norm / n,
        "min_margin_acc": min(it["margin_acc"] for it in items),
        "min_margin_acc_norm": min(it["margin_acc_norm"] for it in items),
        "items_with_digits": [items[i]["item_id"] for i in with_digits],
        "digit_pretokenizer_changed_items": [items[i]["item_id"] for i in changed],
    }
    return summary, items


# ---------------------------------------------------------------------------------------------

def default_smollm2():
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "fetch_model.sh")],
                          check=True, capture_output=True, text=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smollm2", help="SmolLM2-135M-Instruct.Q4_1.gguf "
                        "(default: the path scripts/fetch_model.sh prints)")
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: faster than 2 on a shared 2-core box)")
    parser.add_argument("--skip-smollm2", action="store_true",
                        help="only the tiny models and their goldens")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    tokens, types, merges = tiny_vocab()
    tiny = {
        "description": "tiny random GGUF models and what transformers loads from them; "
                       "float32, eager attention",
        "tokenizer": {"tokens": len(tokens), "eot_id": tokens.index(EOT), "merges": merges},
        "models": {arch: make_tiny(arch, args.out) for arch in ("llama", "qwen2")},
        "made_with": versions(),
    }
    write_json(os.path.join(args.out, "tiny_model_goldens.json"), tiny)
    if args.skip_smollm2:
        return

    path = os.path.abspath(args.smollm2 or default_smollm2())
    tok_as_built, tok = smollm2_tokenizers(path)
    model = load_gguf_model(path)
    write_json(os.path.join(args.out, "smollm2_goldens.json"),
               make_smollm2(path, model, tok, tok_as_built))

    summary, items = make_arc(model, tok, tok_as_built)
    arc = {
        "description": "0-shot ARC-Easy (lm-evaluation-harness arc_easy requests) on "
                       "SmolLM2-135M-Instruct.Q4_1.gguf as transformers loads it",
        "model_file": os.path.basename(path),
        "model_sha256": sha256(path),
        "data": os.path.relpath(ARC_FILE, ROOT),
        "shots": 0,
        "add_bos": False,
        "tokenizer": "transformers' tokenizer from the GGUF, with SmolLM2's pre-tokenizer: "
                     "Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False, "
                     "trim_offsets=True, use_regex=True)]; add_special_tokens=False",
        "loglikelihood": "sum over continuation tokens of float32 log_softmax of one unpadded "
                         "run of context + continuation[:-1]; is_greedy: every continuation "
                         "token is the argmax",
        "acc_norm": "argmax of loglikelihood / norm_length, norm_length = code points of the "
                    "choice without the leading space (lm-eval, scorers/mcq_accuracy)",
        "summary": summary,
        "items": items,
        "made_with": versions(),
    }
    write_json(os.path.join(args.out, "arc_easy_smollm2_goldens.json"), arc)
    print(f"arc_easy: acc {summary['acc']:.2f}, acc_norm {summary['acc_norm']:.2f}, "
          f"min margin {summary['min_margin_acc']:.3g} (acc) {summary['min_margin_acc_norm']:.3g} "
          f"(acc_norm), digit pre-tokenizer changed {len(summary['digit_pretokenizer_changed_items'])} items")


if __name__ == "__main__":
    main()
