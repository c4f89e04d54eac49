"""Scramblers, whitening and differential coding: reference (pure Python/numpy).

Bit arrays are ``np.uint8`` of 0/1, one bit per element, first transmitted
first. Byte arrays are ``np.uint8``. Soft symbols are float32, positive for 1.

Additive (synchronous) scramblers XOR the data with a PN sequence restarted at
every frame. The sequence of an LFSR with polynomial ``poly`` of degree L
(bit k of ``poly`` is the coefficient of x^k) is the recurrence::

    a[n+L] = XOR over k < L with poly bit k set of a[n+k],  a[i] = (seed >> i) & 1 for i < L

Examples: CCSDS randomizer h(x)=x^8+x^7+x^5+x^3+1 (``CCSDS_POLY``=0x1A9),
seed 0xFF, sequence bytes (MSB first) FF 48 0E C0 9A 0D 70 BC ...; PN9
x^9+x^5+1 (``PN9_POLY``=0x221), seed 0x1FF, as the CC1101/Si446x whitening
where the sequence is packed LSB first: bytes FF E1 1D 9A ED 85 ...

Multiplicative (self-synchronising) scramblers, e.g. G3RUH x^17+x^12+1
(``G3RUH_POLY``=0x21001)::

    scramble:    y[n] = x[n] ^ XOR over k > 0 with poly bit k set of y[n-k]
    descramble:  x[n] = y[n] ^ XOR over k > 0 with poly bit k set of y[n-k]

Their state (an int, bit k-1 holding y[n-k]) is carried from call to call.

Differential coding (precoding): ``y[n] = x[n] ^ y[n-1]`` and its inverse
``x[n] = y[n] ^ y[n-1]``. With ``invert=True`` it is NRZI as in AX.25/HDLC
(a 0 is a transition): ``x[n] = 1 ^ y[n] ^ y[n-1]``.

Public API (identical in ``scrambler.pyx``; use it through ``groundseg.dsp.fec``)::

    CCSDS_POLY, CCSDS_SEED, PN9_POLY, PN9_SEED, G3RUH_POLY
    lfsr_bits(poly: int, seed: int, n_bits: int) -> uint8 bits
    class AdditiveScrambler(poly, seed, bit_order="msb"):   # "msb"/"lsb": sequence packing into bytes
        .sequence_bits(n_bits) -> uint8 bits
        .sequence_bytes(n_bytes) -> uint8 bytes
        .apply_bytes(data) -> uint8 bytes   # XOR from the start of the sequence (self-inverse)
        .apply_bits(bits) -> uint8 bits
        .apply_soft(soft) -> float32        # sign flipped where the sequence bit is 1
    ccsds_randomize(data) -> uint8 bytes        # == ccsds_derandomize (self-inverse)
    ccsds_derandomize(data) -> uint8 bytes
    ccsds_derandomize_soft(soft) -> float32     # on soft symbols, first symbol = MSB of byte 0
    pn9_whiten(data) -> uint8 bytes             # CC1101/Si446x data whitening (self-inverse)
    class MultiplicativeScrambler(poly=G3RUH_POLY, state=0):   .scramble(bits) -> bits; .state; .reset(state=0)
    class MultiplicativeDescrambler(poly=G3RUH_POLY, state=0): .descramble(bits) -> bits; .state; .reset(state=0)
    class DifferentialEncoder(prev=0, invert=False): .encode(bits) -> bits; .prev
    class DifferentialDecoder(prev=0, invert=False): .decode(bits) -> bits;
        .decode_soft(soft) -> float32 (sign(a)*sign(b)*min(|a|,|b|) rule); .prev, .prev_soft
    differential_encode(bits, prev=0, invert=False) -> bits
    differential_decode(bits, prev=0, invert=False) -> bits
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .crc_ref import as_u8

__all__ = [
    "CCSDS_POLY", "CCSDS_SEED", "PN9_POLY", "PN9_SEED", "G3RUH_POLY",
    "lfsr_bits", "AdditiveScrambler", "ccsds_randomize", "ccsds_derandomize",
    "ccsds_derandomize_soft", "pn9_whiten", "MultiplicativeScrambler",
    "MultiplicativeDescrambler", "DifferentialEncoder", "DifferentialDecoder",
    "differential_encode", "differential_decode", "as_bits",
]

CCSDS_POLY = 0x1A9      # x^8 + x^7 + x^5 + x^3 + 1
CCSDS_SEED = 0xFF
PN9_POLY = 0x221        # x^9 + x^5 + 1
PN9_SEED = 0x1FF
G3RUH_POLY = 0x21001    # x^17 + x^12 + 1


def as_bits(bits) -> np.ndarray:
    """Array-like of 0/1 -> contiguous uint8 array (InputError for other values)."""
    b = np.ascontiguousarray(np.asarray(bits).reshape(-1))
    if b.dtype != np.uint8:
        b = b.astype(np.uint8)
    if b.size and b.max() > 1:
        raise InputError("bit arrays must hold only 0 and 1")
    return b


def _check_poly(poly: int, seed: int | None = None) -> int:
    if poly < 3 or not poly & 1:
        raise InputError(f"LFSR polynomial 0x{poly:x} must have degree >= 1 and a constant term")
    L = poly.bit_length() - 1
    if L > 63:
        raise InputError("LFSR degree must be <= 63")
    if seed is not None and not 0 <= seed < (1 << L):
        raise InputError(f"seed 0x{seed:x} does not fit the degree-{L} register")
    return L


def lfsr_bits(poly: int, seed: int, n_bits: int) -> np.ndarray:
    """The first ``n_bits`` of the LFSR sequence (definition in the module docstring)."""
    L = _check_poly(poly, seed)
    n_bits = int(n_bits)
    if n_bits < 0:
        raise InputError(f"n_bits must be >= 0, got {n_bits}")
    a = [(seed >> i) & 1 for i in range(L)]
    taps = [k for k in range(L) if (poly >> k) & 1]
    while len(a) < n_bits:
        n = len(a) - L
        v = 0
        for k in taps:
            v ^= a[n + k]
        a.append(v)
    return np.array(a[:n_bits], dtype=np.uint8)


class AdditiveScrambler:
    """XOR with an LFSR sequence restarted at every call (frame-synchronous)."""

    def __init__(self, poly: int, seed: int, bit_order: str = "msb"):
        _check_poly(poly, seed)
        if bit_order not in ("msb", "lsb"):
            raise InputError(f"bit_order must be 'msb' or 'lsb', got {bit_order!r}")
        self.poly, self.seed, self.bit_order = poly, seed, bit_order

    def sequence_bits(self, n_bits: int) -> np.ndarray:
        return lfsr_bits(self.poly, self.seed, n_bits)

    def sequence_bytes(self, n_bytes: int) -> np.ndarray:
        bits = self.sequence_bits(8 * int(n_bytes))
        return np.packbits(bits, bitorder="big" if self.bit_order == "msb" else "little")

    def apply_bytes(self, data) -> np.ndarray:
        d = as_u8(data)
        return d ^ self.sequence_bytes(d.size)

    def apply_bits(self, bits) -> np.ndarray:
        b = as_bits(bits)
        return b ^ self.sequence_bits(b.size)

    def apply_soft(self, soft) -> np.ndarray:
        s = np.asarray(soft, dtype=np.float32).reshape(-1)
        seq = self.sequence_bits(s.size)
        return np.where(seq == 1, -s, s).astype(np.float32)


_CCSDS = AdditiveScrambler(CCSDS_POLY, CCSDS_SEED, "msb")
_PN9 = AdditiveScrambler(PN9_POLY, PN9_SEED, "lsb")


def ccsds_randomize(data) -> np.ndarray:
    return _CCSDS.apply_bytes(data)


ccsds_derandomize = ccsds_randomize


def ccsds_derandomize_soft(soft) -> np.ndarray:
    return _CCSDS.apply_soft(soft)


def pn9_whiten(data) -> np.ndarray:
    return _PN9.apply_bytes(data)


def _taps(poly: int) -> list[int]:
    _check_poly(poly)
    return [k for k in range(1, poly.bit_length()) if (poly >> k) & 1]


class MultiplicativeScrambler:
    """Self-synchronising scrambler (G3RUH by default), state carried between calls."""

    def __init__(self, poly: int = G3RUH_POLY, state: int = 0):
        self.poly = poly
        self._taps = _taps(poly)
        self._len = poly.bit_length() - 1
        self.reset(state)

    def reset(self, state: int = 0) -> None:
        self.state = int(state) & ((1 << self._len) - 1)

    def scramble(self, bits) -> np.ndarray:
        x = as_bits(bits)
        out = np.empty_like(x)
        st, mask = self.state, (1 << self._len) - 1
        for n, xb in enumerate(x.tolist()):
            y = xb
            for k in self._taps:
                y ^= (st >> (k - 1)) & 1
            out[n] = y
            st = ((st << 1) | y) & mask
        self.state = st
        return out


class MultiplicativeDescrambler:
    """Inverse of :class:`MultiplicativeScrambler`; recovers after L bits from any state."""

    def __init__(self, poly: int = G3RUH_POLY, state: int = 0):
        self.poly = poly
        self._taps = _taps(poly)
        self._len = poly.bit_length() - 1
        self.reset(state)

    def reset(self, state: int = 0) -> None:
        self.state = int(state) & ((1 << self._len) - 1)

    def descramble(self, bits) -> np.ndarray:
        y = as_bits(bits)
        out = np.empty_like(y)
        st, mask = self.state, (1 << self._len) - 1
        for n, yb in enumerate(y.tolist()):
            x = yb
            for k in self._taps:
                x ^= (st >> (k - 1)) & 1
            out[n] = x
            st = ((st << 1) | yb) & mask
        self.state = st
        return out


class DifferentialEncoder:
    def __init__(self, prev: int = 0, invert: bool = False):
        self.prev, self.invert = int(prev) & 1, bool(invert)

    def encode(self, bits) -> np.ndarray:
        x = as_bits(bits)
        out = np.empty_like(x)
        p, inv = self.prev, int(self.invert)
        for n, b in enumerate(x.tolist()):
            p = p ^ b ^ inv
            out[n] = p
        self.prev = p
        return out


class DifferentialDecoder:
    def __init__(self, prev: int = 0, invert: bool = False):
        self.prev, self.invert = int(prev) & 1, bool(invert)
        self.prev_soft = float("inf") if self.prev else float("-inf")

    def decode(self, bits) -> np.ndarray:
        y = as_bits(bits)
        out = np.empty_like(y)
        p, inv = self.prev, int(self.invert)
        for n, b in enumerate(y.tolist()):
            out[n] = b ^ p ^ inv
            p = b
        self.prev = p
        return out

    def decode_soft(self, soft) -> np.ndarray:
        """Soft version: a transition (1 when not inverted) when the signs differ."""
        s = np.asarray(soft, dtype=np.float32).reshape(-1)
        out = np.empty_like(s)
        p = float(self.prev_soft)
        for n, v in enumerate(s.tolist()):
            m = min(abs(v), abs(p))
            same = (v > 0) == (p > 0)
            out[n] = m if same == self.invert else -m
            p = v
        self.prev_soft = p
        return out


def differential_encode(bits, prev: int = 0, invert: bool = False) -> np.ndarray:
    return DifferentialEncoder(prev, invert).encode(bits)


def differential_decode(bits, prev: int = 0, invert: bool = False) -> np.ndarray:
    return DifferentialDecoder(prev, invert).decode(bits)
