# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Scramblers, whitening and differential coding (Cython kernel).

Same API and results as ``scrambler_ref`` (read its docstring for the LFSR
and scrambler definitions). Additive scramblers compute their sequence once
(bits and packed bytes, grown on demand) and XOR it in; the multiplicative
scramblers and the differential coders run their recursions bit by bit with
the state carried between calls.
"""
cimport cython
from libc.stdint cimport uint8_t, uint64_t
from libc.math cimport fabsf

import numpy as np
cimport numpy as cnp

from ..errors import InputError
from .crc_ref import as_u8
from .scrambler_ref import (CCSDS_POLY, CCSDS_SEED, G3RUH_POLY, PN9_POLY, PN9_SEED,  # noqa: F401
                            _check_poly, as_bits)

cnp.import_array()

__all__ = [
    "CCSDS_POLY", "CCSDS_SEED", "PN9_POLY", "PN9_SEED", "G3RUH_POLY",
    "lfsr_bits", "AdditiveScrambler", "ccsds_randomize", "ccsds_derandomize",
    "ccsds_derandomize_soft", "pn9_whiten", "MultiplicativeScrambler",
    "MultiplicativeDescrambler", "DifferentialEncoder", "DifferentialDecoder",
    "differential_encode", "differential_decode", "as_bits",
]

cdef extern from *:
    int __builtin_parityll(unsigned long long) nogil


def lfsr_bits(poly, seed, n_bits):
    """The first ``n_bits`` of the LFSR sequence (see scrambler_ref)."""
    cdef int L = _check_poly(int(poly), int(seed))
    cdef Py_ssize_t n = int(n_bits), i
    if n < 0:
        raise InputError(f"n_bits must be >= 0, got {n_bits}")
    out = np.empty(n, np.uint8)
    cdef uint8_t[::1] o = out
    cdef uint64_t state = <uint64_t>int(seed)           # bit i = a[t+i]
    cdef uint64_t taps = <uint64_t>(int(poly) & ((1 << L) - 1))
    cdef uint64_t nb
    with nogil:
        for i in range(n):
            o[i] = state & 1
            nb = __builtin_parityll(state & taps)
            state = (state >> 1) | (nb << (L - 1))
    return out


cdef class AdditiveScrambler:
    """XOR with an LFSR sequence restarted at every call (frame-synchronous)."""
    cdef readonly object poly, seed, bit_order
    cdef object _bits, _bytes

    def __init__(self, poly, seed, bit_order="msb"):
        _check_poly(poly, seed)
        if bit_order not in ("msb", "lsb"):
            raise InputError(f"bit_order must be 'msb' or 'lsb', got {bit_order!r}")
        self.poly, self.seed, self.bit_order = poly, seed, bit_order
        self._bits = np.zeros(0, np.uint8)
        self._bytes = np.zeros(0, np.uint8)

    cdef _grow(self, Py_ssize_t n_bits):
        if self._bits.size < n_bits:
            n = max(n_bits, 2 * self._bits.size, 8 * 256)
            n = (n + 7) // 8 * 8
            self._bits = lfsr_bits(self.poly, self.seed, n)
            self._bytes = np.packbits(self._bits, bitorder="big" if self.bit_order == "msb" else "little")

    def sequence_bits(self, n_bits):
        n = int(n_bits)
        self._grow(n)
        return self._bits[:n].copy()

    def sequence_bytes(self, n_bytes):
        n = int(n_bytes)
        self._grow(8 * n)
        return self._bytes[:n].copy()

    def apply_bytes(self, data):
        d = as_u8(data)
        cdef Py_ssize_t n = d.size, i
        self._grow(8 * n)
        out = np.empty(n, np.uint8)
        cdef const uint8_t[::1] dv = d
        cdef const uint8_t[::1] sv = self._bytes
        cdef uint8_t[::1] ov = out
        with nogil:
            for i in range(n):
                ov[i] = dv[i] ^ sv[i]
        return out

    def apply_bits(self, bits):
        b = as_bits(bits)
        cdef Py_ssize_t n = b.size, i
        self._grow(n)
        out = np.empty(n, np.uint8)
        cdef const uint8_t[::1] bv = b
        cdef const uint8_t[::1] sv = self._bits
        cdef uint8_t[::1] ov = out
        with nogil:
            for i in range(n):
                ov[i] = bv[i] ^ sv[i]
        return out

    def apply_soft(self, soft):
        s = np.ascontiguousarray(np.asarray(soft, dtype=np.float32).reshape(-1))
        cdef Py_ssize_t n = s.size, i
        self._grow(n)
        out = np.empty(n, np.float32)
        cdef const float[::1] xv = s
        cdef const uint8_t[::1] sv = self._bits
        cdef float[::1] ov = out
        with nogil:
            for i in range(n):
                ov[i] = -xv[i] if sv[i] else xv[i]
        return out


cdef AdditiveScrambler _CCSDS = AdditiveScrambler(CCSDS_POLY, CCSDS_SEED, "msb")
cdef AdditiveScrambler _PN9 = AdditiveScrambler(PN9_POLY, PN9_SEED, "lsb")


def ccsds_randomize(data):
    return _CCSDS.apply_bytes(data)


ccsds_derandomize = ccsds_randomize


def ccsds_derandomize_soft(soft):
    return _CCSDS.apply_soft(soft)


def pn9_whiten(data):
    return _PN9.apply_bytes(data)


cdef class _Multiplicative:
    cdef readonly object poly
    cdef uint64_t taps, mask
    cdef uint64_t st

    def __init__(self, poly=G3RUH_POLY, state=0):
        _check_poly(poly)
        cdef int L = int(poly).bit_length() - 1
        self.poly = poly
        self.mask = (<uint64_t>1 << L) - 1
        self.taps = (<uint64_t>int(poly) >> 1) & self.mask   # bit k-1 <-> x^k, k >= 1
        self.reset(state)

    def reset(self, state=0):
        self.st = <uint64_t>(int(state) & int(self.mask))

    @property
    def state(self):
        return int(self.st)

    @state.setter
    def state(self, value):
        self.reset(value)


cdef class MultiplicativeScrambler(_Multiplicative):
    """Self-synchronising scrambler (G3RUH by default), state carried between calls."""

    def scramble(self, bits):
        x = as_bits(bits)
        cdef Py_ssize_t n = x.size, i
        out = np.empty(n, np.uint8)
        cdef const uint8_t[::1] xv = x
        cdef uint8_t[::1] ov = out
        cdef uint64_t st = self.st, y
        with nogil:
            for i in range(n):
                y = xv[i] ^ __builtin_parityll(st & self.taps)
                ov[i] = <uint8_t>y
                st = ((st << 1) | y) & self.mask
        self.st = st
        return out


cdef class MultiplicativeDescrambler(_Multiplicative):
    """Inverse of MultiplicativeScrambler; recovers after L bits from any state."""

    def descramble(self, bits):
        y = as_bits(bits)
        cdef Py_ssize_t n = y.size, i
        out = np.empty(n, np.uint8)
        cdef const uint8_t[::1] yv = y
        cdef uint8_t[::1] ov = out
        cdef uint64_t st = self.st, b
        with nogil:
            for i in range(n):
                b = yv[i]
                ov[i] = <uint8_t>(b ^ __builtin_parityll(st & self.taps))
                st = ((st << 1) | b) & self.mask
        self.st = st
        return out


cdef class DifferentialEncoder:
    cdef public int prev
    cdef public bint invert

    def __init__(self, prev=0, invert=False):
        self.prev = int(prev) & 1
        self.invert = bool(invert)

    def encode(self, bits):
        x = as_bits(bits)
        cdef Py_ssize_t n = x.size, i
        out = np.empty(n, np.uint8)
        cdef const uint8_t[::1] xv = x
        cdef uint8_t[::1] ov = out
        cdef uint8_t p = self.prev, inv = self.invert
        with nogil:
            for i in range(n):
                p = p ^ xv[i] ^ inv
                ov[i] = p
        self.prev = p
        return out


cdef class DifferentialDecoder:
    cdef public int prev
    cdef public bint invert
    cdef public float prev_soft

    def __init__(self, prev=0, invert=False):
        self.prev = int(prev) & 1
        self.invert = bool(invert)
        self.prev_soft = float("inf") if self.prev else float("-inf")

    def decode(self, bits):
        y = as_bits(bits)
        cdef Py_ssize_t n = y.size, i
        out = np.empty(n, np.uint8)
        cdef const uint8_t[::1] yv = y
        cdef uint8_t[::1] ov = out
        cdef uint8_t p = self.prev, inv = self.invert
        with nogil:
            for i in range(n):
                ov[i] = yv[i] ^ p ^ inv
                p = yv[i]
        self.prev = p
        return out

    def decode_soft(self, soft):
        """Soft version: a transition (1 when not inverted) when the signs differ."""
        s = np.ascontiguousarray(np.asarray(soft, dtype=np.float32).reshape(-1))
        cdef Py_ssize_t n = s.size, i
        out = np.empty(n, np.float32)
        cdef const float[::1] sv = s
        cdef float[::1] ov = out
        cdef float p = self.prev_soft, v, m
        cdef bint inv = self.invert, same
        with nogil:
            for i in range(n):
                v = sv[i]
                m = fabsf(v) if fabsf(v) < fabsf(p) else fabsf(p)
                same = (v > 0) == (p > 0)
                ov[i] = m if same == inv else -m
                p = v
        self.prev_soft = p
        return out


def differential_encode(bits, prev=0, invert=False):
    return DifferentialEncoder(prev, invert).encode(bits)


def differential_decode(bits, prev=0, invert=False):
    return DifferentialDecoder(prev, invert).decode(bits)
