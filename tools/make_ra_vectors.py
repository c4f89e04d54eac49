#!/usr/bin/env python3
"""Generate the RA code golden vectors: tests/vectors/ra_code.npz.

Computed with the readable reference ``groundseg/dsp/ra_code_ref.py`` from a
fixed seed. ``tests/test_ra_code.py`` checks that the Cython kernel and the
reference itself (so that it cannot drift unnoticed) still give exactly these
results. Re-run after an intended change of behaviour:

    .venv/bin/python tools/make_ra_vectors.py

Contents, for packet sizes 128 and 256 bytes (keys prefixed ``s128_`` / ``s256_``):

* ``data``: 2 random packets (uint8, 2 x size)
* ``code``: their channel bits (uint8 0/1)
* ``soft``: the first packet's channel bits as BPSK (+-1) plus Gaussian noise at
  Eb/N0 = 1.5 dB and 3 dB (2 rows), then pure noise (a third row); stored as
  int8, the soft symbols being ``soft / SOFT_SCALE`` in float32
* ``decoded``: the reference decoder's packets for those rows (uint8)
* ``result``: per row (valid, errors, iterations) (int32)
* ``score``: per row ``check_score`` (float64)
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from groundseg.dsp import ra_code_ref  # noqa: E402

OUT = ROOT / "tests" / "vectors" / "ra_code.npz"
SEED = 20240917
EBN0_DB = (1.5, 3.0)
SOFT_SCALE = 24.0


def make(rng, size: int) -> dict:
    code = ra_code_ref.RaCode(size)
    data = rng.integers(0, 256, (2, size), dtype=np.uint8)
    bits = np.stack([code.encode(d) for d in data])
    rate = 8 * size / code.code_bits
    rows = []
    for ebn0 in EBN0_DB:
        sigma = np.sqrt(1.0 / (2.0 * rate * 10 ** (ebn0 / 10)))
        rows.append(2.0 * bits[0] - 1.0 + sigma * rng.standard_normal(code.code_bits))
    rows.append(rng.standard_normal(code.code_bits))
    q = np.clip(np.rint(np.array(rows) * SOFT_SCALE), -127, 127).astype(np.int8)
    soft = (q.astype(np.float32) / np.float32(SOFT_SCALE)).astype(np.float32)
    decoded, result, score = [], [], []
    for y in soft:
        r = code.decode(y)
        decoded.append(np.frombuffer(r.data, np.uint8))
        result.append((int(r.valid), r.errors, r.iterations))
        score.append(code.check_score(y))
    p = f"s{size}_"
    return {p + "data": data, p + "code": bits, p + "soft": q,
            p + "decoded": np.array(decoded, np.uint8), p + "result": np.array(result, np.int32),
            p + "score": np.array(score, np.float64)}


def main() -> None:
    rng = np.random.default_rng(SEED)
    out = {}
    for size in (128, 256):
        out.update(make(rng, size))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
