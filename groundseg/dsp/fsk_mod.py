"""FSK and GFSK modulators (numpy only: no GNU Radio import).

Conventions shared with ``groundseg.blocks.fsk_demod``:

* A channel bit 1 is sent on the higher frequency: ``+deviation_hz`` from the
  carrier, which an FM receiver turns into positive audio.
* Audio output (``iq=False``) is what an ideal FM receiver outputs: the
  instantaneous frequency in units of the deviation (so +1.0 for a steady 1,
  -1.0 for a steady 0), each sample the average over its sampling interval
  (exact for rectangular NRZ at any, also fractional, samples per symbol).
* IQ output (``iq=True``) is continuous-phase FM baseband at unit amplitude.
* ``deviation_hz=None`` means a modulation index of 0.5 (deviation = baud/4,
  the MSK/GMSK-like choice of most cubesat transceivers). G3RUH 9600 radios
  typically use 3000 Hz: pass it from the catalog when it is known.
* GFSK: the NRZ frequency pulse goes through a Gaussian filter of
  bandwidth-time product ``bt`` (default 0.5) before FM.
"""
from __future__ import annotations

import numpy as np

__all__ = ["fsk_modulate", "gfsk_modulate", "default_deviation_hz", "nrz_average",
           "gaussian_nrz", "fm_modulate", "n_samples"]


def default_deviation_hz(baud: float) -> float:
    """Deviation used when the catalog gives none: modulation index 0.5."""
    return float(baud) / 4.0


def _check(bits, samp_rate_sps: float, baud: float) -> np.ndarray:
    b = np.asarray(bits)
    if b.ndim != 1:
        raise ValueError("bits must be a 1-D array of 0/1")
    if samp_rate_sps <= 0 or baud <= 0:
        raise ValueError("samp_rate_sps and baud must be positive")
    if samp_rate_sps < 2 * baud:
        raise ValueError(f"{samp_rate_sps:g} S/s is below 2 samples per symbol at {baud:g} baud")
    if b.size and not np.all((b == 0) | (b == 1)):
        raise ValueError("bits must be 0 or 1")
    return b.astype(np.uint8)


def n_samples(n_bits: int, samp_rate_sps: float, baud: float) -> int:
    """Samples for ``n_bits`` symbols (rounded up)."""
    return int(np.ceil(n_bits * samp_rate_sps / baud - 1e-9))


def nrz_average(bits: np.ndarray, samp_rate_sps: float, baud: float) -> np.ndarray:
    """NRZ levels (+1 for 1, -1 for 0) averaged over each sample interval (float64)."""
    a = 2.0 * bits.astype(np.float64) - 1.0
    n = n_samples(a.size, samp_rate_sps, baud)
    if n == 0:
        return np.zeros(0)
    r = baud / samp_rate_sps                       # symbols per sample
    cum = np.concatenate([[0.0], np.cumsum(a)])    # integral at integer symbol times
    a_ext = np.concatenate([a, a[-1:]])            # hold the last level past the end

    def integral(u):
        u = np.minimum(u, a.size)
        k = np.floor(u).astype(np.int64)
        return cum[k] + a_ext[np.minimum(k, a.size)] * (u - k)

    edges = np.arange(n + 1) * r
    return (integral(edges[1:]) - integral(edges[:-1])) / r


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), vectorised."""
    s = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-x * x)
    return s * y


def gaussian_nrz(bits: np.ndarray, samp_rate_sps: float, baud: float, bt: float) -> np.ndarray:
    """NRZ levels through a Gaussian filter of bandwidth-time product ``bt`` (at sample midpoints)."""
    if bt <= 0:
        raise ValueError("bt must be positive")
    a = 2.0 * bits.astype(np.float64) - 1.0
    n = n_samples(a.size, samp_rate_sps, baud)
    if n == 0:
        return np.zeros(0)
    # sigma of the Gaussian impulse response, in symbols
    sigma = np.sqrt(np.log(2.0)) / (2.0 * np.pi * bt)
    span = int(np.ceil(4.0 * sigma)) + 1
    u = (np.arange(n) + 0.5) * baud / samp_rate_sps    # sample midpoints in symbols
    k0 = np.floor(u).astype(np.int64)
    out = np.zeros(n)
    for j in range(-span, span + 1):
        k = k0 + j
        lev = a[np.clip(k, 0, a.size - 1)]             # extend the end levels outwards
        d = u - k                                      # time since the start of symbol k
        out += lev * 0.5 * (_erf(d / (sigma * np.sqrt(2.0))) - _erf((d - 1.0) / (sigma * np.sqrt(2.0))))
    return out


def fm_modulate(freq_hz: np.ndarray, samp_rate_sps: float) -> np.ndarray:
    """Unit-amplitude complex baseband whose frequency is ``freq_hz`` (per sample)."""
    phase = 2.0 * np.pi / samp_rate_sps * np.cumsum(np.asarray(freq_hz, np.float64))
    return np.exp(1j * phase).astype(np.complex64)


def _out(levels: np.ndarray, samp_rate_sps: float, iq: bool, deviation_hz) -> np.ndarray:
    if not iq:
        return levels.astype(np.float32)
    return fm_modulate(levels * deviation_hz, samp_rate_sps)


def fsk_modulate(bits, samp_rate_sps: float, baud: float, iq: bool, deviation_hz=None,
                 **ignored) -> np.ndarray:
    """Channel bits -> FM receiver audio (float32, +/-1) or complex FM baseband."""
    b = _check(bits, samp_rate_sps, baud)
    dev = default_deviation_hz(baud) if deviation_hz is None else float(deviation_hz)
    return _out(nrz_average(b, samp_rate_sps, baud), samp_rate_sps, iq, dev)


def gfsk_modulate(bits, samp_rate_sps: float, baud: float, iq: bool, deviation_hz=None,
                  bt: float = 0.5, **ignored) -> np.ndarray:
    """Channel bits -> Gaussian-filtered FSK: audio (float32) or complex FM baseband."""
    b = _check(bits, samp_rate_sps, baud)
    dev = default_deviation_hz(baud) if deviation_hz is None else float(deviation_hz)
    return _out(gaussian_nrz(b, samp_rate_sps, baud, float(bt)), samp_rate_sps, iq, dev)
