#!/usr/bin/env python3
"""Reference outputs of transformers for the tiny models of compass_tiny_model.

For each variant: writes the model with the given compass_tiny_model binary,
loads it with transformers (float32, eager attention), runs each of four
random prompts of different lengths on its own (no padding), and stores

  tests/fixtures/models/<variant>/golden.safetensors  logits.<i> [len_i, vocab] float32, and
                                                      bf16_logits.<i>: the same model run in
                                                      bfloat16 (logits widened to float32)
  tests/fixtures/models/<variant>/golden.json         prompts, 32-token greedy
                                                      generations, weights checksum, versions

Run with the project venv's python (transformers, safetensors, torch):

  python scripts/goldens/make_model_goldens.py --tiny-model build/bin/compass_tiny_model
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import safetensors
import safetensors.torch
import torch
import transformers
from transformers import AutoModelForCausalLM, DynamicCache

transformers.utils.logging.disable_progress_bar()

VARIANTS = [
    "llama",
    "llama_tied",
    "llama_head_dim",
    "llama_rope_linear",
    "llama_rope_dynamic",
    "llama3_rope",
    "mistral",
    "qwen2",
]
# Long enough to pass max_position_embeddings (16) of llama_rope_dynamic and
# the sliding window (12) of mistral; the generations run further.
PROMPT_LENGTHS = [5, 23, 12, 31]
NEW_TOKENS = 32
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(model_dir, dtype=torch.float32):
    # A fresh model per prompt: dynamic RoPE keeps state between calls.
    model, info = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=dtype, attn_implementation="eager", output_loading_info=True
    )
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        if info.get(key):
            sys.exit(f"{model_dir}: transformers reports {key}: {info[key]}")
    return model.eval()


@torch.no_grad()
def greedy(model, prompt, n):
    """Greedy decoding with a KV cache, one token per step, no stop tokens.
    Returns the tokens and the smallest top-1/top-2 logit gap seen."""
    cache = DynamicCache(config=model.config)
    out = model(torch.tensor([prompt]), past_key_values=cache, use_cache=True)
    tokens, margin = [], float("inf")
    for step in range(n):
        logits = out.logits[0, -1]
        top = torch.topk(logits, 2).values
        margin = min(margin, float(top[0] - top[1]))
        token = int(torch.argmax(logits))
        tokens.append(token)
        if step + 1 < n:
            out = model(torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)
    return tokens, margin


def to_json(value, indent=""):
    """JSON with one line per list of numbers, so that the files diff well."""
    if isinstance(value, dict):
        inner = indent + "  "
        items = [f"{inner}{json.dumps(k)}: {to_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}" + ("" if indent else "\n")
    if isinstance(value, list) and value and isinstance(value[0], list):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + json.dumps(v) for v in value) + "\n" + indent + "]"
    return json.dumps(value)


def make_variant(binary, variant, out_root):
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, variant)
        summary = json.loads(
            subprocess.run(
                [binary, "--variant", variant, "--out", model_dir],
                check=True, capture_output=True, text=True,
            ).stdout
        )
        with open(os.path.join(model_dir, "config.json")) as f:
            config = json.load(f)
        rng = random.Random(f"compass-golden-{variant}")
        prompts = [[rng.randrange(config["vocab_size"]) for _ in range(n)] for n in PROMPT_LENGTHS]
        logits, generations, margins = {}, [], []
        for i, prompt in enumerate(prompts):
            with torch.no_grad():
                out = load(model_dir)(torch.tensor([prompt]))
            logits[f"logits.{i}"] = out.logits[0].float().contiguous()
            with torch.no_grad():
                out = load(model_dir, torch.bfloat16)(torch.tensor([prompt]))
            logits[f"bf16_logits.{i}"] = out.logits[0].float().contiguous()
            tokens, margin = greedy(load(model_dir), prompt, NEW_TOKENS)
            generations.append(tokens)
            margins.append(margin)

    dest = os.path.join(out_root, variant)
    os.makedirs(dest, exist_ok=True)
    safetensors.torch.save_file(logits, os.path.join(dest, "golden.safetensors"))
    os.chmod(os.path.join(dest, "golden.safetensors"), 0o644)
    golden = {
        "variant": variant,
        "architecture": summary["architecture"],
        "weights_checksum": summary["weights_checksum"],
        "prompts": prompts,
        "new_tokens": NEW_TOKENS,
        "generations": generations,
        "min_greedy_margin": min(margins),
        "logits": "golden.safetensors: logits.<i> (float32 run), bf16_logits.<i> (bfloat16 run)",
        "made_with": {
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "safetensors": safetensors.__version__,
            "attn_implementation": "eager",
            "dtype": "float32",
        },
    }
    with open(os.path.join(dest, "golden.json"), "w") as f:
        f.write(to_json(golden))
    print(f"{variant}: checksum {summary['weights_checksum']}, min greedy margin {min(margins):.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny-model", required=True, help="path of the compass_tiny_model binary")
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models"))
    parser.add_argument("--variants", nargs="*", default=VARIANTS)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    for variant in args.variants:
        make_variant(os.path.abspath(args.tiny_model), variant, args.out)


if __name__ == "__main__":
    main()
