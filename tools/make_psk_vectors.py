"""Golden vectors for the PSK kernels (``tests/vectors/psk_*.npz``).

    .venv/bin/python tools/make_psk_vectors.py

The outputs come from the numpy references (``groundseg/dsp/*_ref.py``), the
readable specifications; tests check the Cython kernels against them.
Inputs are seeded, so the files only change when a reference changes.
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from groundseg.dsp.psk_mod import bpsk_modulate  # noqa: E402
from groundseg.dsp.psk_softnorm_ref import SoftNormalizer  # noqa: E402
from groundseg.dsp.psk_sync_ref import SymbolSync  # noqa: E402

OUT = ROOT / "tests" / "vectors"


def softnorm_vectors() -> dict:
    rng = np.random.default_rng(20240601)
    n = 3000
    a = 2.0 * rng.integers(0, 2, n) - 1.0
    fade = np.concatenate([np.ones(1000), np.linspace(1.0, 0.1, 1000), np.zeros(500), np.ones(500)])
    noise = 0.25 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    x = (a * fade + noise).astype(np.complex64)
    window = 32
    out = np.empty(n, np.float32)
    sn = SoftNormalizer(window)
    sn.process(x, out)
    return {"x": x, "out": out, "window": np.int64(window), "snr_db": np.float64(sn.snr_db)}


def sync_vectors() -> dict:
    """Matched-filtered BPSK (clock 0.2 % slow, 3 Hz carrier offset, noise), silence, a burst."""
    rng = np.random.default_rng(20240602)
    sps, baud = 6.4, 1000.0
    bits = rng.integers(0, 2, 700).astype(np.uint8)
    x = bpsk_modulate(bits, sps * baud * 1.002, baud, True).astype(np.complex128)
    x *= np.exp(1j * (0.7 + 2 * np.pi * 3.0 / (sps * baud) * np.arange(x.size)))
    x += 0.15 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    t = np.arange(-int(4 * sps), int(4 * sps) + 1) / sps
    from groundseg.dsp.psk_mod import rrc_pulse
    y = np.convolve(x, rrc_pulse(t, 0.5) / sps, "same")
    y = np.concatenate([np.zeros(500), y, np.zeros(300), y[:1500] * -1j]).astype(np.complex64)
    sync = SymbolSync(sps, timing_window=64, phase_window=16)
    out = np.concatenate([sync.process(y[:1234]), sync.process(y[1234:])])
    return {"x": y, "out": out, "sps": np.float64(sps), "timing_window": np.int64(64),
            "phase_window": np.int64(16), "eps": np.float64(sync.eps),
            "drift": np.float64(sync.drift), "theta": np.float64(sync.theta)}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (("psk_softnorm", softnorm_vectors), ("psk_sync", sync_vectors)):
        path = OUT / f"{name}.npz"
        np.savez_compressed(path, **make())
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
