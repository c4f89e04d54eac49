# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Extended Golay(24,12) (Cython kernel): same API and results as ``golay_ref``.

Encoding is one lookup in a 4096-entry parity table; decoding computes the
12-bit syndrome and looks up its coset leader in a 4096-entry table built at
import from the 2325 error patterns of weight <= 3 (the other 1771 cosets have
leaders of weight 4: detected, not corrected). Both tables are generated from
``GOLAY_B``, not typed.
"""
cimport cython
from libc.stdint cimport uint16_t, int32_t, uint32_t, int8_t

import numpy as np
cimport numpy as cnp

from ..errors import InputError
from .golay_ref import GOLAY_B

cnp.import_array()

__all__ = ["GOLAY_B", "golay24_encode", "golay24_decode", "golay24_encode_array",
           "golay24_decode_array"]

cdef uint16_t _PAR[4096]       # parity bits (B * data) for each 12-bit data word
cdef int32_t _LEADER[4096]     # syndrome -> 24-bit error pattern, or -1


cdef void _build_tables():
    cdef int d, i, row, v, a, b, c
    cdef uint32_t e
    cdef int rows[12]
    for i in range(12):
        rows[i] = GOLAY_B[i]
    for d in range(4096):
        v = 0
        for i in range(12):
            row = rows[i] & d
            row ^= row >> 8
            row ^= row >> 4
            row ^= row >> 2
            row ^= row >> 1
            v |= (row & 1) << (11 - i)
        _PAR[d] = v
    for i in range(4096):
        _LEADER[i] = -1
    _LEADER[0] = 0
    for a in range(24):
        _set_leader(1 << a)
        for b in range(a + 1, 24):
            _set_leader((1 << a) | (1 << b))
            for c in range(b + 1, 24):
                _set_leader((1 << a) | (1 << b) | (1 << c))


cdef inline int _syndrome(uint32_t w) noexcept nogil:
    return ((w >> 12) & 0xFFF) ^ _PAR[w & 0xFFF]


cdef void _set_leader(uint32_t e):
    cdef int s = _syndrome(e)
    if _LEADER[s] != -1:
        raise AssertionError("Golay table: two leaders of weight <= 3 in one coset")
    _LEADER[s] = e


_build_tables()


cdef inline int _popcount(uint32_t x) noexcept nogil:
    cdef int n = 0
    while x:
        x &= x - 1
        n += 1
    return n


cdef inline int _decode(uint32_t w, uint16_t* data) noexcept nogil:
    cdef int32_t e = _LEADER[_syndrome(w)]
    if e < 0:
        data[0] = w & 0xFFF
        return -1
    data[0] = (w ^ <uint32_t>e) & 0xFFF
    return _popcount(<uint32_t>e)


def golay24_encode(data12):
    cdef long d = int(data12)
    if not 0 <= d <= 0xFFF:
        raise InputError(f"Golay data must be 12 bits, got {data12}")
    return (<long>_PAR[d] << 12) | d


def golay24_decode(word24):
    cdef long w = int(word24)
    if not 0 <= w <= 0xFFFFFF:
        raise InputError(f"Golay word must be 24 bits, got {word24}")
    cdef uint16_t data
    cdef int n = _decode(<uint32_t>w, &data)
    return data, n


def golay24_encode_array(data):
    d = np.asarray(data).reshape(-1)
    if d.size and (d.min() < 0 or d.max() > 0xFFF):
        raise InputError("Golay data must be 12-bit values")
    cdef const uint32_t[::1] dv = np.ascontiguousarray(d, dtype=np.uint32)
    out = np.empty(d.size, np.uint32)
    cdef uint32_t[::1] ov = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(dv.shape[0]):
            ov[i] = (<uint32_t>_PAR[dv[i]] << 12) | dv[i]
    return out


def golay24_decode_array(words):
    w = np.asarray(words).reshape(-1)
    if w.size and (w.min() < 0 or w.max() > 0xFFFFFF):
        raise InputError("Golay words must be 24-bit values")
    cdef const uint32_t[::1] wv = np.ascontiguousarray(w, dtype=np.uint32)
    data = np.empty(w.size, np.uint16)
    nerr = np.empty(w.size, np.int8)
    cdef uint16_t[::1] dv = data
    cdef int8_t[::1] nv = nerr
    cdef Py_ssize_t i
    with nogil:
        for i in range(wv.shape[0]):
            nv[i] = _decode(wv[i], &dv[i])
    return data, nerr
