"""Channel simulation for tests, benchmarks and the pass simulator (numpy).

Noise is set by Eb/N0 for the signal as given: the signal's mean power over
its non-silent part is taken as Es = Eb (binary modulations) spread over
``samp_rate_sps / baud`` samples per bit.
"""
from __future__ import annotations

import numpy as np


def signal_power(x: np.ndarray) -> float:
    p = np.abs(x) ** 2
    active = p[p > 1e-12]
    return float(active.mean()) if active.size else 0.0


def noise_sigma(x: np.ndarray, ebn0_db: float, samp_rate_sps: float, baud: float,
                bits_per_symbol: int = 1) -> float:
    """Per-sample noise standard deviation (per real dimension) for the wanted Eb/N0.

    Complex signals: N0 spreads over the full complex bandwidth ``samp_rate_sps``;
    real signals over ``samp_rate_sps / 2``.
    """
    es = signal_power(x) * samp_rate_sps / baud          # energy per symbol
    eb = es / bits_per_symbol
    n0 = eb / (10.0 ** (ebn0_db / 10.0))
    # complex: E|n|^2 = N0 * fs  -> sigma per dimension sqrt(N0 fs / 2)
    # real: E n^2 = N0/2 * fs ... (two-sided density N0/2 over fs)
    return float(np.sqrt(n0 * samp_rate_sps / 2.0))


def awgn(x: np.ndarray, ebn0_db: float, samp_rate_sps: float, baud: float,
         rng: np.random.Generator, bits_per_symbol: int = 1) -> np.ndarray:
    """``x`` plus white Gaussian noise at ``ebn0_db`` (same dtype family as ``x``)."""
    sigma = noise_sigma(x, ebn0_db, samp_rate_sps, baud, bits_per_symbol)
    if np.iscomplexobj(x):
        n = rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)
        return (x + sigma * n).astype(np.complex64)
    return (x + sigma * rng.standard_normal(x.size)).astype(np.float32)


def add_noise_floor(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add noise of a fixed per-dimension standard deviation (e.g. a receiver's floor)."""
    if np.iscomplexobj(x):
        return (x + sigma * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))).astype(np.complex64)
    return (x + sigma * rng.standard_normal(x.size)).astype(np.float32)


def freq_shift(x: np.ndarray, offset_hz, samp_rate_sps: float, phase0: float = 0.0) -> np.ndarray:
    """Shift complex ``x`` by a constant offset or a per-sample offset array (Doppler curve)."""
    if np.isscalar(offset_hz):
        ph = phase0 + 2 * np.pi * float(offset_hz) / samp_rate_sps * np.arange(x.size)
    else:
        f = np.asarray(offset_hz, dtype=np.float64)
        if f.size != x.size:
            raise ValueError("per-sample offset must have one value per sample")
        ph = phase0 + 2 * np.pi * np.cumsum(f) / samp_rate_sps
    return (x * np.exp(1j * ph)).astype(np.complex64)


def pad(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """Silence around a burst (so receivers see noise before and after it)."""
    return np.concatenate([np.zeros(before, x.dtype), x, np.zeros(after, x.dtype)])
