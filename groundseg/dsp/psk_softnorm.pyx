# cython: language_level=3
"""Soft-symbol scaling for coherent BPSK (C loop): same results as ``psk_softnorm_ref.py``.

See the reference for the definition. Window sums of Re**2 and Im**2 are
kept as running sums over a ring of the last ``window`` symbols and
recomputed exactly each time the ring wraps (no drift over long streams).
"""
import math

import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt, log10, INFINITY

cnp.import_array()


cdef class SoftNormalizer:
    cdef public int window
    cdef public int delay
    cdef double[::1] _re
    cdef double[::1] _im
    cdef int _pos
    cdef double _sr
    cdef double _sq
    cdef public double snr_db

    def __init__(self, int window=32):
        if window < 2 or window % 2:
            raise ValueError("window must be an even number of symbols, at least 2")
        self.window = window
        self.delay = window // 2
        self._re = np.zeros(window, np.float64)
        self._im = np.zeros(window, np.float64)
        self._pos = 0
        self._sr = 0.0
        self._sq = 0.0
        self.snr_db = -INFINITY

    def process(self, x, float[::1] out):
        cdef float complex[::1] xv = np.ascontiguousarray(x, dtype=np.complex64)
        cdef Py_ssize_t n = xv.shape[0], i
        cdef int w = self.window, d = self.delay, pos = self._pos, k, c
        cdef double r, q, mr, mq, a2
        cdef double sr = self._sr, sq = self._sq
        cdef double[::1] ring_r = self._re
        cdef double[::1] ring_i = self._im
        if out.shape[0] != n:
            raise ValueError("out must have the size of x")
        a2 = 0.0
        mq = 0.0
        for i in range(n):
            r = xv[i].real
            q = xv[i].imag
            sr += r * r - ring_r[pos] * ring_r[pos]
            sq += q * q - ring_i[pos] * ring_i[pos]
            ring_r[pos] = r
            ring_i[pos] = q
            pos += 1
            if pos == w:
                pos = 0
                sr = 0.0
                sq = 0.0
                for k in range(w):
                    sr += ring_r[k] * ring_r[k]
                    sq += ring_i[k] * ring_i[k]
            mr = sr / w
            mq = sq / w
            a2 = mr - mq
            if a2 < 0.0:
                a2 = 0.0
            # the newest symbol is at pos - 1; the centre of the window d before it
            c = pos - 1 - d
            if c < 0:
                c += w
            if mr > 0.0:
                out[i] = <float>(ring_r[c] * sqrt(a2) / mr)
            else:
                out[i] = 0.0
        self._pos = pos
        self._sr = sr
        self._sq = sq
        if n:
            if a2 > 0.0 and mq > 0.0:
                self.snr_db = 10.0 * log10(a2 / (2.0 * mq))
            elif a2 > 0.0:
                self.snr_db = INFINITY
            else:
                self.snr_db = -INFINITY
