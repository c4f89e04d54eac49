"""BPSK and DBPSK modulators (numpy only): channel bits in, waveform out.

Both return either complex64 baseband (``iq=True``, mean power 1) or float32
SSB receiver audio (``iq=False``): the real part of the baseband shifted up to
an audio carrier, ``af_carrier_hz`` or by default 1500 Hz for baud rates up
to 2400 and 12 kHz above (where amateur SSB receivers put these signals).

Symbols: bit 1 -> +1, bit 0 -> -1 (what the demodulators call "> 0 for a 1").

Pulse shaping: root-raised-cosine, roll-off 0.5 unless ``rolloff`` is given.
FUNcube/AO-73 publishes RRC with beta 0.5; most 1k2/9k6 BPSK cubesat
transceivers use a similar RRC, and the receiver's matched filter is an RRC
as well. The pulse is evaluated at the exact sample times, so the sample rate
need not be a multiple of the baud rate.

DBPSK differentially encodes first with FUNcube's published convention:
a 1 is sent as "no phase change", a 0 as a 180 degree change. The phase
reference before the first bit is +1 (not transmitted: the first bit is only
as good as what the receiver saw before it, as with any differential code).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

DEFAULT_ROLLOFF = 0.5
SPAN_SYMBOLS = 12                   # the pulse is truncated to +/- SPAN_SYMBOLS / 2 symbols


def default_af_carrier_hz(baud: float) -> float:
    """Where an SSB receiver puts the carrier: 1500 Hz up to 2400 baud, 12 kHz above."""
    return 1500.0 if baud <= 2400 else 12000.0


def rrc_pulse(t_symbols: np.ndarray, rolloff: float) -> np.ndarray:
    """Root-raised-cosine impulse response at times ``t_symbols`` in symbol periods.

    Unit energy over a symbol period: the pulse convolved with itself is a
    raised cosine equal to 1 at t = 0 and 0 at every other symbol time.
    """
    t = np.asarray(t_symbols, dtype=np.float64)
    b = float(rolloff)
    out = np.empty_like(t)
    if b == 0.0:
        return np.sinc(t)
    at0 = np.abs(t) < 1e-9
    sing = np.abs(np.abs(t) - 1.0 / (4.0 * b)) < 1e-9
    reg = ~(at0 | sing)
    tr = t[reg]
    num = np.sin(np.pi * tr * (1 - b)) + 4 * b * tr * np.cos(np.pi * tr * (1 + b))
    den = np.pi * tr * (1 - (4 * b * tr) ** 2)
    out[reg] = num / den
    out[at0] = 1 - b + 4 * b / np.pi
    out[sing] = (b / np.sqrt(2)) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * b))
                                    + (1 - 2 / np.pi) * np.cos(np.pi / (4 * b)))
    return out


def _check(bits, samp_rate_sps: float, baud: float) -> np.ndarray:
    b = np.asarray(bits)
    if b.ndim != 1:
        raise InputError("bits must be a 1-D array of 0/1")
    if b.size and not np.all((b == 0) | (b == 1)):
        raise InputError("bits must be 0 or 1")
    if baud <= 0 or samp_rate_sps <= 0:
        raise InputError(f"baud ({baud:g}) and sample rate ({samp_rate_sps:g}) must be positive")
    if samp_rate_sps < 2 * baud:
        raise InputError(f"sample rate {samp_rate_sps:g} S/s is too low for {baud:g} baud")
    return b.astype(np.uint8)


def shape_symbols(symbols: np.ndarray, samp_rate_sps: float, baud: float,
                  rolloff: float = DEFAULT_ROLLOFF, chunk: int = 1 << 15) -> np.ndarray:
    """Real symbols -> RRC-shaped float64 baseband at ``samp_rate_sps``.

    The output spans the symbols plus half the pulse on each side; symbol k
    peaks at sample ``round((k + SPAN_SYMBOLS // 2) * samp_rate_sps / baud)``.
    """
    a = np.asarray(symbols, dtype=np.float64)
    half = SPAN_SYMBOLS // 2
    sps = samp_rate_sps / baud
    n_out = int(np.ceil((a.size + 2 * half) * sps))
    padded = np.concatenate([np.zeros(2 * half), a, np.zeros(2 * half)])
    out = np.empty(n_out, dtype=np.float64)
    offs = np.arange(-half, half + 1)
    for start in range(0, n_out, chunk):
        n = np.arange(start, min(n_out, start + chunk))
        t = n / sps - half                       # time in symbols, relative to symbol 0
        k0 = np.floor(t).astype(np.int64)
        k = k0[:, None] + offs[None, :]          # symbols whose pulse reaches sample n
        w = rrc_pulse(t[:, None] - k, rolloff)
        out[start:start + n.size] = np.sum(w * padded[k + 2 * half], axis=1)
    return out


def _to_waveform(symbols: np.ndarray, samp_rate_sps: float, baud: float, iq: bool,
                 af_carrier_hz, rolloff: float) -> np.ndarray:
    bb = shape_symbols(symbols, samp_rate_sps, baud, rolloff)
    # a unit-energy pulse over a symbol period has power 1 per symbol: the
    # baseband is already at mean power ~1; renormalise exactly
    p = float(np.mean(bb ** 2)) if bb.size else 1.0
    bb /= np.sqrt(p) if p > 0 else 1.0
    if iq:
        return bb.astype(np.complex64)
    fc = default_af_carrier_hz(baud) if af_carrier_hz is None else float(af_carrier_hz)
    if fc - baud * (1 + rolloff) / 2 <= 0 or fc + baud * (1 + rolloff) / 2 >= samp_rate_sps / 2:
        raise InputError(f"audio carrier {fc:g} Hz cannot carry {baud:g} baud at "
                         f"{samp_rate_sps:g} S/s")
    n = np.arange(bb.size)
    return (bb * np.cos(2 * np.pi * fc / samp_rate_sps * n)).astype(np.float32)


def differential_encode(bits) -> np.ndarray:
    """FUNcube convention: 1 -> no phase change, 0 -> change. Reference level 1 before bit 0."""
    b = np.asarray(bits, dtype=np.uint8)
    flips = (1 - b).astype(np.int64)
    # level after bit n = 1 XOR (number of flips up to n, mod 2)
    return (1 - (np.cumsum(flips) & 1)).astype(np.uint8)


def bpsk_modulate(bits, samp_rate_sps: float, baud: float, iq: bool,
                  af_carrier_hz=None, rolloff: float = DEFAULT_ROLLOFF, **ignored) -> np.ndarray:
    """Channel bits -> RRC BPSK waveform (see the module docstring)."""
    b = _check(bits, samp_rate_sps, baud)
    return _to_waveform(2.0 * b - 1.0, samp_rate_sps, baud, iq, af_carrier_hz, rolloff)


def dbpsk_modulate(bits, samp_rate_sps: float, baud: float, iq: bool,
                   af_carrier_hz=None, rolloff: float = DEFAULT_ROLLOFF, **ignored) -> np.ndarray:
    """Data bits -> differentially encoded (1: no change) RRC BPSK waveform."""
    b = _check(bits, samp_rate_sps, baud)
    return _to_waveform(2.0 * differential_encode(b) - 1.0, samp_rate_sps, baud, iq,
                        af_carrier_hz, rolloff)
