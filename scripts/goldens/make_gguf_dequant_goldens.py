#!/usr/bin/env python3
"""Regenerates tests/fixtures/gguf/dequant_goldens.json, the goldens of the
dequantization test (tests/core/gguf/dequantize_test.cpp).

For each type the core dequantizes (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) it makes random raw data with a fixed seed
and dequantizes it with gguf-py's reference `gguf.quants.dequantize`:

  F32, F16, BF16  random finite bit patterns (every exponent but the
                  all-ones one, so subnormals too), plus of either sign: zero,
                  the two smallest and the largest subnormal, the smallest
                  normal and the largest finite value
  block types     random bytes for a few blocks, with each f16 scale field
                  (d, m, dmin) set to a random finite value of magnitude in
                  [1e-3, 1] and either sign, so no NaN or infinity appears

Per type the file holds: name, type (ggml's enum value), count (elements),
data_hex (the raw bytes) and expected_bits (each float32 as its uint32 bit
pattern, so the values round-trip exactly).

Usage: python scripts/goldens/make_gguf_dequant_goldens.py
Needs: numpy and gguf (gguf-py) (no network).
"""
import json
import os

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf", "dequant_goldens.json")
SEED = 20250101

# Byte offsets of the f16 scale fields in each block (ggml-common.h).
SCALE_OFFSETS = {
    T.Q8_0: [0],
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}
BLOCKS = {32: 8, 256: 4}  # blocks per type, by block size
FLOAT_RANDOM = 64  # random elements of F32, F16, BF16 before the special ones


def random_float_bits(rng, width, exponent_bits, n):
    """Random bit patterns of a float format, without infinities or NaNs,
    followed by the special finite values of either sign (see the docstring)."""
    mantissa_bits = width - 1 - exponent_bits
    exp_mask = ((1 << exponent_bits) - 1) << mantissa_bits
    sign = 1 << (width - 1)
    bits = []
    while len(bits) < n:
        b = int(rng.integers(0, 1 << width))
        if b & exp_mask != exp_mask:
            bits.append(b)
    max_finite = exp_mask - (1 << mantissa_bits) | ((1 << mantissa_bits) - 1)
    for b in (0, 1, 2, (1 << mantissa_bits) - 1, 1 << mantissa_bits, max_finite):
        bits += [b, b | sign]
    return bits


def float_type_data(rng, qtype):
    if qtype == T.F32:
        return np.array(random_float_bits(rng, 32, 8, FLOAT_RANDOM), dtype="<u4").view(np.uint8)
    exponent_bits = 5 if qtype == T.F16 else 8
    return np.array(random_float_bits(rng, 16, exponent_bits, FLOAT_RANDOM),
                    dtype="<u2").view(np.uint8)


def block_type_data(rng, qtype):
    block_size, block_bytes = GGML_QUANT_SIZES[qtype]
    n_blocks = BLOCKS[block_size]
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for offset in SCALE_OFFSETS[qtype]:
        magnitude = 10.0 ** rng.uniform(-3.0, 0.0, size=n_blocks)
        sign = rng.choice([-1.0, 1.0], size=n_blocks)
        scale = (sign * magnitude).astype("<f2")
        blocks[:, offset:offset + 2] = scale.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(-1)


def main():
    rng = np.random.default_rng(SEED)
    types = []
    for qtype in (T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q2_K, T.Q3_K,
                  T.Q4_K, T.Q5_K, T.Q6_K):
        if qtype in (T.F32, T.F16, T.BF16):
            data = float_type_data(rng, qtype)
        else:
            data = block_type_data(rng, qtype)
        values = np.asarray(dequantize(data.copy(), qtype), dtype=np.float32).reshape(-1)
        block_size, block_bytes = GGML_QUANT_SIZES[qtype]
        assert values.size * block_bytes == data.size * block_size, qtype.name
        assert not np.isnan(values).any() and np.isfinite(values).all(), qtype.name
        types.append({
            "name": qtype.name,
            "type": int(qtype),
            "count": int(values.size),
            "data_hex": data.tobytes().hex(),
            "expected_bits": [int(b) for b in values.view("<u4")],
        })

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        # One line per field of each type, so a diff shows which type changed.
        f.write('{"generator": "scripts/goldens/make_gguf_dequant_goldens.py",\n')
        f.write(f' "gguf_py_version": {json.dumps(gguf_version())},\n')
        f.write(f' "seed": {SEED},\n')
        f.write(' "types": [\n')
        for i, entry in enumerate(types):
            fields = [f'   "{k}": {json.dumps(v, separators=(",", ":"))}' for k, v in entry.items()]
            f.write("  {\n" + ",\n".join(fields) + "\n  }" + ("," if i + 1 < len(types) else "") +
                    "\n")
        f.write(" ]\n}\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(types)} types)")


def gguf_version():
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:  # noqa: BLE001 - the version is informative only
        return getattr(gguf, "__version__", "unknown")


if __name__ == "__main__":
    main()
