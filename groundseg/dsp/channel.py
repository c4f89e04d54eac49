"""Channel simulation for tests, benchmarks and the pass simulator (numpy).

Noise is set by Eb/N0 for the signal as given: the signal's mean power over
its non-silent part, times ``samp_rate_sps / baud`` samples per symbol, is the
symbol energy Es (= Eb for binary modulations); N0 is twice the per-dimension
noise variance per sample.
"""
from __future__ import annotations

import numpy as np


def signal_power(x: np.ndarray, window: int = 64) -> float:
    """Mean power per sample over the parts of ``x`` that are not silence.

    Silence is judged on the power averaged over ``window`` samples, so a
    real carrier that crosses zero (e.g. at fs/4, zero every other sample)
    still counts as signal.
    """
    p = np.abs(np.asarray(x)) ** 2
    if p.size == 0:
        return 0.0
    w = min(window, p.size)
    smooth = np.convolve(p, np.ones(w) / w, mode="same")
    active = smooth > 1e-9 * max(float(smooth.max()), 1e-30)
    return float(p[active].mean()) if active.any() else 0.0


def noise_sigma(x: np.ndarray, ebn0_db: float, samp_rate_sps: float, baud: float,
                bits_per_symbol: int = 1) -> float:
    """Per-sample noise standard deviation (per real dimension) for the wanted Eb/N0.

    In sample units: a symbol carries Es = P * samp_rate_sps / baud (P the mean
    signal power per sample) and white noise of per-dimension variance sigma^2
    has N0 = 2 sigma^2, for complex and real signals alike.
    """
    es = signal_power(x) * samp_rate_sps / baud
    eb = es / bits_per_symbol
    n0 = eb / (10.0 ** (ebn0_db / 10.0))
    return float(np.sqrt(n0 / 2.0))


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
