#!/usr/bin/env python3
"""Generate tests/vectors/fsk_symbols.npz: golden vectors for the FSK symbol-recovery kernel.

Computed with the readable reference ``groundseg/dsp/fsk_symbols_ref.py``
from a fixed seed: noisy NRZ with a DC offset, a clock 0.3 % fast and a
level step, at 2.5, 5 and 5.49 samples per symbol. ``tests/test_fsk_demod.py``
checks that the Cython kernel (and the reference, so that it cannot drift
unnoticed) still give these soft symbols. Re-run after an intended change of
behaviour:

    .venv/bin/python tools/make_fsk_vectors.py
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from groundseg.dsp import fsk_symbols_ref as R  # noqa: E402

OUT = ROOT / "tests" / "vectors" / "fsk_symbols.npz"
SEED = 20240612
CASES = (2.5, 5.0, 5.49)
N_SYMBOLS = 600


def make_input(sps: float, rng: np.random.Generator) -> np.ndarray:
    bits = rng.integers(0, 2, N_SYMBOLS)
    n = int(N_SYMBOLS * sps / 1.003)
    k = np.minimum((np.arange(n) * 1.003 / sps).astype(int), N_SYMBOLS - 1)
    level = np.where(np.arange(n) < n // 2, 0.6, 1.4)          # a level step half-way
    x = (2.0 * bits[k] - 1.0) * level + 0.4 + 0.25 * rng.standard_normal(n)
    return x.astype(np.float32)


def main() -> None:
    rng = np.random.default_rng(SEED)
    arrays = {}
    for i, sps in enumerate(CASES):
        x = make_input(sps, rng)
        k = R.SymbolRecovery(sps)
        out = np.zeros(k.max_output(x.size), np.float32)
        _, n = k.process(x, out)
        arrays[f"x{i}"] = x
        arrays[f"y{i}"] = out[:n]
        arrays[f"state{i}"] = np.array([k.dc, k.amplitude, k.period, k.snr_db])
    arrays["sps"] = np.array(CASES)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
