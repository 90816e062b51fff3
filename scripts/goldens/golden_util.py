"""Helpers the golden scripts (and the benchmarks that compare with
transformers) share: stable JSON layout, file hashes, the pre-tokenizer of
SmolLM2's own tokenizer.json (which transformers does not set when it builds
SmolLM2's tokenizer from a GGUF file), and Compass's context/continuation
split."""
import hashlib
import json


def write_lines_json(path, obj, depth=0):
    """JSON with one line per innermost list or string entry, so diffs stay readable."""
    def dump(value, indent):
        pad = " " * indent
        if isinstance(value, dict) and value:
            items = [f'{pad} {json.dumps(k, ensure_ascii=False)}: {dump(v, indent + 1).lstrip()}'
                     for k, v in value.items()]
            return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(value, list) and value and isinstance(value[0], (list, dict, str)):
            items = [dump(v, indent + 1) for v in value]
            return pad + "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return pad + json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(dump(obj, depth) + "\n")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def smollm2_pre_tokenizer():
    """SmolLM2's own (its tokenizer.json; llama.cpp's "smollm" pre-type): single digits,
    then byte-level."""
    from tokenizers import pre_tokenizers
    return pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])


def encode_pair(tok, context, continuation):
    """core/src/runner/request_builder.cpp EncodePair, add_bos = false: trailing
    whitespace of the context moves to the continuation, the pair is encoded whole,
    and the continuation is what follows the context's tokens."""
    n = 0
    while n < len(context) and context[len(context) - 1 - n] in " \t\n\v\f\r":
        n += 1
    cont = ""
    if n > 0:
        cont = context[len(context) - n:]
        context = context[:len(context) - n]
    cont += continuation
    whole = tok.encode(context + cont, add_special_tokens=False)
    ctx = tok.encode(context, add_special_tokens=False)
    split = min(len(ctx), len(whole))
    return ctx, whole[split:]
