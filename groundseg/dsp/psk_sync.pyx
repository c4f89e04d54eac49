# cython: language_level=3
"""Feed-forward symbol timing and carrier phase for BPSK (C loop).

Same algorithm and results as ``psk_sync_ref.py`` (the specification: read it
first). Samples, block sums and symbols live in ring buffers sized from the
windows, so the state does not grow with the stream; the window sums are
recomputed for every symbol from the stored block sums (no running-sum drift).
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport atan2, ceil, cos, sin, floor, fmod, isfinite, M_PI

cnp.import_array()

ctypedef double complex dcomplex

DRIFT_ALPHA = 1.0 / 512.0
MAX_DRIFT = 0.02


cdef inline double _unwrap(double prev, double v, double period):
    return v + period * floor((prev - v) / period + 0.5)


cdef inline long long _pow2(long long need):
    cdef long long size = 1
    while size < need:
        size <<= 1
    return size


cdef class SymbolSync:
    cdef public double sps
    cdef public int hblocks
    cdef public int phalf
    cdef public double t0
    cdef public double eps
    cdef public double drift
    cdef public double theta
    cdef double _alpha
    cdef double _max_drift
    cdef long long _k          # symbols interpolated
    cdef long long _out_k      # symbols output
    cdef long long _n          # samples received
    cdef long long _j          # blocks completed
    cdef long long _edge       # first sample index of block _j + 1
    cdef dcomplex _acc         # sum of the current (incomplete) block
    cdef long long _ymask
    cdef long long _bmask
    cdef long long _smask
    cdef dcomplex[::1] _y
    cdef dcomplex[::1] _b
    cdef dcomplex[::1] _r

    def __init__(self, double sps, int timing_window=256, int phase_window=32):
        if not sps >= 2.0:
            raise ValueError("sps must be at least 2")
        if timing_window < 2 or timing_window % 2 or phase_window < 2 or phase_window % 2:
            raise ValueError("timing_window and phase_window must be even, at least 2 symbols")
        self.sps = sps
        self.hblocks = timing_window // 2
        self.phalf = phase_window // 2
        self.t0 = 2.0 * sps
        self.eps = 0.0
        self.drift = 0.0
        self.theta = 0.0
        self._alpha = DRIFT_ALPHA
        self._max_drift = MAX_DRIFT
        self._k = 0
        self._out_k = 0
        self._n = 0
        self._j = 0
        self._edge = <long long>ceil(sps)
        self._acc = 0.0
        cdef long long size = _pow2(<long long>((self.hblocks + 4) * sps) + 16)
        self._ymask = size - 1
        self._y = np.zeros(size, np.complex128)
        size = _pow2(2 * self.hblocks + 8)
        self._bmask = size - 1
        self._b = np.zeros(size, np.complex128)
        size = _pow2(2 * self.phalf + 4)
        self._smask = size - 1
        self._r = np.zeros(size, np.complex128)

    def process(self, x):
        cdef float complex[::1] xv = np.ascontiguousarray(x, dtype=np.complex64)
        cdef Py_ssize_t n = xv.shape[0], idx, nout = 0
        out_arr = np.empty(<Py_ssize_t>(n / self.sps) + 4, np.complex64)
        cdef float complex[::1] out = out_arr
        cdef double sps = self.sps, two_pi = 2.0 * M_PI
        cdef double t_pred, t, mu, e, d, th, ph, a2
        cdef double w0, w1, w2, w3
        cdef long long hb = self.hblocks, p = self.phalf, jc, i, m, lo, hi
        cdef long long ymask = self._ymask, bmask = self._bmask, smask = self._smask
        cdef dcomplex xs, s2, v, rk, rot, step
        cdef dcomplex[::1] yb = self._y
        cdef dcomplex[::1] bb = self._b
        cdef dcomplex[::1] rb = self._r
        for idx in range(n):
            v = xv[idx]
            m = self._n
            ph = two_pi * fmod(<double>m, sps) / sps
            a2 = v.real * v.real + v.imag * v.imag
            yb[m & ymask] = v
            self._acc = self._acc + a2 * (cos(ph) - 1j * sin(ph))
            self._n = m + 1
            if self._n >= self._edge:                 # block _j complete
                bb[self._j & bmask] = self._acc
                self._acc = 0.0
                self._j += 1
                self._edge = <long long>ceil((self._j + 1) * sps)
            # interpolate every symbol whose windows are now complete
            while True:
                t_pred = self.t0 + (self._k + self.eps) * sps
                jc = <long long>floor(t_pred / sps)
                if jc + hb + 1 > self._j or <long long>floor(t_pred + 0.5 * sps) + 3 > self._n:
                    break
                xs = 0.0
                lo = jc - hb
                if lo < 0:
                    lo = 0
                rot = cos(two_pi * self.drift * (lo - jc)) + 1j * sin(two_pi * self.drift * (lo - jc))
                step = cos(two_pi * self.drift) + 1j * sin(two_pi * self.drift)
                for m in range(lo, jc + hb + 1):
                    xs = xs + bb[m & bmask] * rot
                    rot = rot * step
                if (xs.real != 0.0 or xs.imag != 0.0) and isfinite(xs.real) and isfinite(xs.imag):
                    e = _unwrap(self.eps, -atan2(xs.imag, xs.real) / two_pi, 1.0)
                    d = e - self.eps
                    if d > self._max_drift:
                        d = self._max_drift
                    elif d < -self._max_drift:
                        d = -self._max_drift
                    self.drift += self._alpha * (d - self.drift)
                    self.eps = e
                t = self.t0 + (self._k + self.eps) * sps
                i = <long long>floor(t)
                mu = t - i
                w0 = -mu * (mu - 1.0) * (mu - 2.0) / 6.0
                w1 = (mu + 1.0) * (mu - 1.0) * (mu - 2.0) / 2.0
                w2 = -(mu + 1.0) * mu * (mu - 2.0) / 2.0
                w3 = (mu + 1.0) * mu * (mu - 1.0) / 6.0
                rb[self._k & smask] = (w0 * yb[(i - 1) & ymask] + w1 * yb[i & ymask]
                                       + w2 * yb[(i + 1) & ymask] + w3 * yb[(i + 2) & ymask])
                self._k += 1
                # phase-correct every symbol whose phase window is now complete
                while self._out_k + p <= self._k:
                    lo = self._out_k - p
                    if lo < 0:
                        lo = 0
                    hi = self._out_k + p
                    s2 = 0.0
                    for m in range(lo, hi):
                        s2 = s2 + rb[m & smask] * rb[m & smask]
                    if (s2.real != 0.0 or s2.imag != 0.0) and isfinite(s2.real) and isfinite(s2.imag):
                        th = 0.5 * atan2(s2.imag, s2.real)
                        self.theta = _unwrap(self.theta, th, M_PI)
                    rk = rb[self._out_k & smask] * (cos(self.theta) - 1j * sin(self.theta))
                    if nout >= out.shape[0]:
                        out_arr = np.concatenate([out_arr, np.empty(out.shape[0], np.complex64)])
                        out = out_arr
                    out[nout] = <float complex>rk
                    nout += 1
                    self._out_k += 1
        return out_arr[:nout]
