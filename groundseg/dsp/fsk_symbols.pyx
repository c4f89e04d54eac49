# cython: language_level=3
"""FSK symbol recovery (C loop): same results as ``fsk_symbols_ref.py``.

See the reference for the definition and the public API.
"""
import numpy as np
from libc.math cimport floor, log10, ceil, INFINITY

cdef double FLOOR = 1e-12
cdef double RARE = 0.05
cdef double ACQ_LIMIT = 4.0
cdef double ACQ_RESTART_SYMBOLS = 12.0
cdef double KNEE = 1.5
cdef double FLOOR_WEIGHT = 0.1


def loop_gains(double loop_bw, double damping, double ted_gain):
    """Proportional and integral gains of a second-order loop updated once per symbol."""
    cdef double theta = loop_bw / (damping + 1.0 / (4.0 * damping))
    cdef double d = 1.0 + 2.0 * damping * theta + theta * theta
    return 4.0 * damping * theta / d / ted_gain, 4.0 * theta * theta / d / ted_gain


def ring_size(double sps, double max_dev):
    """Samples of history needed: half a symbol back plus the interpolator's span."""
    cdef long need = <long>ceil(sps * (1.0 + max_dev)) + 8
    cdef long size = 8
    while size < need:
        size *= 2
    return size


cdef inline double cubic(double p0, double p1, double p2, double p3, double mu) noexcept nogil:
    return (-mu * (mu - 1.0) * (mu - 2.0) / 6.0 * p0
            + (mu + 1.0) * (mu - 1.0) * (mu - 2.0) / 2.0 * p1
            - (mu + 1.0) * mu * (mu - 2.0) / 2.0 * p2
            + (mu + 1.0) * mu * (mu - 1.0) / 6.0 * p3)


cdef class SymbolRecovery:
    cdef public double sps, kp, ki, max_integ, a, b, sa, sb, c, pr, spr
    cdef public double hi, lo, p, shi, slo, sp, nvar, t, t_prev, integ, prev_d
    cdef public long long n, nhi, nlo, ncap, side, run
    cdef public double restart
    cdef public long size
    cdef double[::1] _ring

    def __init__(self, double sps, double loop_bw=0.01, double damping=1.0,
                 double max_dev=0.005, double level_rate=1.0 / 32, double leak=0.5,
                 double soft_rate=1.0 / 32, double noise_rate=1.0 / 64,
                 double stuck_rate=1.0 / 32):
        if not sps >= 2.0:
            raise ValueError("sps must be at least 2")
        if not 0.0 < loop_bw < 1.0 or damping <= 0.0:
            raise ValueError("loop_bw must be in (0, 1) and damping positive")
        if not 0.0 <= max_dev < 0.5:
            raise ValueError("max_dev must be in [0, 0.5)")
        for name, v in (("level_rate", level_rate), ("soft_rate", soft_rate),
                        ("noise_rate", noise_rate), ("stuck_rate", stuck_rate)):
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if not 0.0 <= leak < 1.0:
            raise ValueError("leak must be in [0, 1)")
        self.sps = sps
        self.kp, self.ki = loop_gains(loop_bw, damping, 1.0 / sps)
        self.max_integ = max_dev * sps
        self.a = min(level_rate / sps, 1.0)
        self.b = self.a * leak
        self.sa = soft_rate
        self.sb = soft_rate * leak
        self.c = noise_rate
        self.pr = min(stuck_rate / sps, 1.0)
        self.spr = stuck_rate
        self.hi, self.lo, self.p = 1.0, -1.0, 0.5
        self.nhi, self.nlo = 0, 0
        self.ncap = <long long>ceil(1.0 / self.a)
        self.restart = ACQ_RESTART_SYMBOLS * sps
        self.side, self.run = 1, 0
        self.shi, self.slo, self.sp = 1.0, -1.0, 0.5
        self.nvar = 1.0
        self.size = ring_size(sps, max_dev)
        self._ring = np.zeros(self.size, np.float64)
        self.n = 0
        self.t = 2.0
        self.t_prev = 2.0 - sps
        self.integ = 0.0
        self.prev_d = 1.0

    @property
    def dc(self):
        return 0.5 * (self.hi + self.lo)

    @property
    def amplitude(self):
        return 0.5 * (self.hi - self.lo)

    @property
    def period(self):
        return self.sps + self.integ

    @property
    def snr_db(self):
        return -10.0 * log10(self.nvar) if self.nvar > 0.0 else INFINITY

    def max_output(self, long long n):
        return <long long>(n / (self.sps - self.max_integ)) + 2

    def process(self, const float[::1] x, float[::1] out):
        cdef Py_ssize_t n = x.shape[0], cap = out.shape[0], i, produced = 0, consumed = n
        cdef double[::1] r = self._ring
        cdef long m = self.size - 1
        cdef double hi = self.hi, lo = self.lo, p = self.p, shi = self.shi, slo = self.slo
        cdef double sp = self.sp, a = self.a, b = self.b, sa = self.sa, sb = self.sb, c = self.c
        cdef double pr = self.pr, spr = self.spr
        cdef double kp = self.kp, ki = self.ki, mx = self.max_integ
        cdef double t = self.t, t_prev = self.t_prev, integ = self.integ, prev_d = self.prev_d
        cdef double nvar = self.nvar, sps = self.sps
        cdef long long cnt = self.n, newest, k, nhi = self.nhi, nlo = self.nlo, ncap = self.ncap
        cdef long long side = self.side, run = self.run, sd
        cdef double restart = self.restart
        cdef double aw, v, mid, half, z, y, ym, d, e, smid, shalf, s, err, tm, mu, ah
        cdef float sf
        with nogil:
            for i in range(n):
                if produced >= cap:
                    consumed = i
                    break
                v = x[i]
                if cnt == 0:
                    hi = v
                    lo = v
                mid = 0.5 * (hi + lo)
                half = 0.5 * (hi - lo)
                if half < FLOOR:
                    half = FLOOR
                z = (v - mid) / half
                ah = a
                if nhi < ncap or nlo < ncap:        # acquisition: running means, z held
                    sd = 1 if v >= mid else -1
                    if sd == side:
                        run += 1
                    else:
                        run = 1
                    side = sd
                    if run > restart and nhi > 0 and nlo > 0:   # one level stale: start again here
                        hi = v
                        lo = v
                        mid = v
                        nhi = 0
                        nlo = 0
                        side = 1
                        run = 1
                    if nhi == 0 or nlo == 0:
                        z = 0.0
                    elif z > ACQ_LIMIT:
                        z = ACQ_LIMIT
                    elif z < -ACQ_LIMIT:
                        z = -ACQ_LIMIT
                    if v >= mid:
                        if nhi == 0 and nlo > 0:
                            nlo = 1
                        if nhi < ncap:
                            nhi += 1
                        if 1.0 / nhi > a:
                            ah = 1.0 / nhi
                    else:
                        if nlo == 0 and nhi > 0:
                            nhi = 1
                        if nlo < ncap:
                            nlo += 1
                        if 1.0 / nlo > a:
                            ah = 1.0 / nlo
                if v >= mid:
                    hi += ah * (v - hi)
                    if p < RARE:
                        lo += b * (v - lo)
                    p -= pr * p
                else:
                    lo += ah * (v - lo)
                    if p > 1.0 - RARE:
                        hi += b * (v - hi)
                    p += pr * (1.0 - p)
                if nlo == 0:            # acquisition, nothing below yet: both levels are the mean
                    lo = hi
                elif nhi == 0:
                    hi = lo
                r[cnt & m] = z
                newest = cnt
                cnt += 1
                if <long long>t + 2 > newest:       # t > 0: truncation is floor
                    continue
                k = <long long>t
                mu = t - k
                y = cubic(r[(k - 1) & m], r[k & m], r[(k + 1) & m], r[(k + 2) & m], mu)
                tm = 0.5 * (t_prev + t)
                k = <long long>floor(tm)
                mu = tm - k
                ym = cubic(r[(k - 1) & m], r[k & m], r[(k + 1) & m], r[(k + 2) & m], mu)
                d = 1.0 if y >= 0.0 else -1.0
                e = ym * (prev_d - d) * 0.5
                if e > 1.0:
                    e = 1.0
                elif e < -1.0:
                    e = -1.0
                integ = integ + ki * e
                if integ > mx:
                    integ = mx
                elif integ < -mx:
                    integ = -mx
                t_prev = t
                t = t + sps + integ + kp * e
                prev_d = d
                smid = 0.5 * (shi + slo)
                shalf = 0.5 * (shi - slo)
                if shalf < FLOOR:
                    shalf = FLOOR
                s = (y - smid) / shalf
                sf = <float>s
                aw = sf if sf >= 0.0 else -sf
                if aw > KNEE:
                    aw = 2.0 * KNEE - aw
                    if aw < FLOOR_WEIGHT:
                        aw = FLOOR_WEIGHT
                out[produced] = <float>aw if sf >= 0.0 else <float>(-aw)
                produced += 1
                if y >= smid:
                    shi += sa * (y - shi)
                    if sp < RARE:
                        slo += sb * (y - slo)
                    sp -= spr * sp
                else:
                    slo += sa * (y - slo)
                    if sp > 1.0 - RARE:
                        shi += sb * (y - shi)
                    sp += spr * (1.0 - sp)
                err = (sf if sf >= 0.0 else -sf) - 1.0
                nvar += c * (err * err - nvar)
        self.hi, self.lo, self.p, self.shi, self.slo, self.sp = hi, lo, p, shi, slo, sp
        self.t, self.t_prev, self.integ, self.prev_d = t, t_prev, integ, prev_d
        self.nvar = nvar
        self.n = cnt
        self.nhi, self.nlo = nhi, nlo
        self.side, self.run = side, run
        return consumed, produced
