"""Feed-forward symbol timing and carrier phase for BPSK: reference (numpy).

Input: matched-filtered complex baseband at ``sps`` samples per symbol
(``sps`` need not be an integer), carrier frequency already removed to a few
Hz. Output: one complex symbol per symbol period, phase aligned so that the
data is on the real axis (either polarity: BPSK's 180 degree ambiguity).

Timing (Oerder & Meyr square-law estimator, with clock-drift compensation):
the squared envelope of a matched-filtered PSK signal has a spectral line at
the symbol rate whose phase is the symbol timing. Samples are grouped in
symbol-long blocks (block ``j``: the samples ``n`` with ``floor(n / sps) == j``)::

    B[j]  = sum over block j of |y[n]|**2 * exp(-2j pi (n mod sps) / sps)

For symbol ``k``, predicted at ``t = T0 + (k + eps) * sps`` (``T0 = 2 sps``),
in block ``J = floor(t / sps)``, with ``H = timing_window / 2``::

    X     = sum over j in [max(0, J - H), J + H] of B[j] * exp(2j pi drift (j - J))
    eps   = -arg(X) / (2 pi), unwrapped to within half a symbol of the previous eps
    t_k   = T0 + (k + eps) * sps

and the symbol is interpolated at ``t_k`` (cubic Lagrange on the four
samples around it). ``drift`` is the symbol clock's offset (symbols gained
per symbol: +0.003 for a transmitter 0.3 % slow), learnt from the timing
itself::

    drift += DRIFT_ALPHA * (clip(eps - eps_prev, -MAX_DRIFT, MAX_DRIFT) - drift)

Rotating each block back by the drift keeps the line coherent over a long
window (quiet timing at low SNR) even when the clock is off by a fraction of
a percent, and keeps the estimate unbiased where the window is only partly
filled by a burst (its first and last symbols). Every symbol's timing comes
from a window around it: a burst is sampled right from its first symbols,
with no loop to pull in and no hang-up half a symbol off.

Phase: ``theta = arg(sum of r[j]**2 over j in [k - P, k + P)) / 2`` with
``P = phase_window / 2``, unwrapped modulo pi to the nearest of the previous
one; the output is ``r[k] * exp(-1j theta)``, ``P`` symbols after ``r[k]``
is interpolated (the window is centred).

A window with no signal at all (``X`` or the sum of squares exactly 0, as
after the squelch), or with non-finite samples in it (NaN or inf from a
corrupt recording), keeps the previous timing / phase / drift.

Public API (identical in ``psk_sync.pyx``)::

    class SymbolSync(sps: float, timing_window: int = 256, phase_window: int = 32):
        .process(x: complex64[n]) -> complex64[m]   # the symbols completed so far
        .eps -> float                               # current timing (symbols, unwrapped)
        .drift -> float                             # symbol clock offset (symbols/symbol)
        .theta -> float                             # current carrier phase (rad)
"""
from __future__ import annotations

import cmath
import math

import numpy as np

TWO_PI = 2.0 * math.pi
DRIFT_ALPHA = 1.0 / 512.0
MAX_DRIFT = 0.02


def _check(sps: float, timing_window: int, phase_window: int) -> None:
    if not sps >= 2.0:
        raise ValueError("sps must be at least 2")
    if timing_window < 2 or timing_window % 2 or phase_window < 2 or phase_window % 2:
        raise ValueError("timing_window and phase_window must be even, at least 2 symbols")


def cubic_weights(mu: float) -> tuple[float, float, float, float]:
    """Lagrange weights for samples at -1, 0, 1, 2 to interpolate at ``mu`` in [0, 1)."""
    return (-mu * (mu - 1.0) * (mu - 2.0) / 6.0,
            (mu + 1.0) * (mu - 1.0) * (mu - 2.0) / 2.0,
            -(mu + 1.0) * mu * (mu - 2.0) / 2.0,
            (mu + 1.0) * mu * (mu - 1.0) / 6.0)


def _unwrap(prev: float, v: float, period: float) -> float:
    return v + period * math.floor((prev - v) / period + 0.5)


class SymbolSync:
    def __init__(self, sps: float, timing_window: int = 256, phase_window: int = 32):
        _check(sps, timing_window, phase_window)
        self.sps = float(sps)
        self.hblocks = timing_window // 2
        self.phalf = phase_window // 2
        self.t0 = 2.0 * self.sps
        self.eps = 0.0
        self.drift = 0.0
        self.theta = 0.0
        self._k = 0                       # next symbol to interpolate
        self._y = np.zeros(0, np.complex128)
        self._c = np.zeros(0, np.complex128)
        self._r: list[complex] = []       # interpolated symbols (all, for the reference)
        self._out_k = 0                   # next symbol to phase-correct and output
        self._b: list[complex] = []       # block sums B[j] of the complete blocks

    def _update_blocks(self) -> None:
        j = len(self._b)
        while math.ceil((j + 1) * self.sps) <= self._c.size:
            self._b.append(complex(np.sum(self._c[math.ceil(j * self.sps):math.ceil((j + 1) * self.sps)])))
            j += 1

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.complex64).astype(np.complex128)
        n0 = self._y.size
        n = np.arange(n0, n0 + x.size, dtype=np.float64)
        ph = TWO_PI * np.fmod(n, self.sps) / self.sps
        self._y = np.concatenate([self._y, x])
        self._c = np.concatenate([self._c, (x.real ** 2 + x.imag ** 2) * np.exp(-1j * ph)])
        avail = self._y.size
        self._update_blocks()
        sps, hb = self.sps, self.hblocks
        while True:
            t_pred = self.t0 + (self._k + self.eps) * sps
            jc = math.floor(t_pred / sps)
            # blocks up to jc + hb complete, and the samples around t_k for the interpolation
            if (math.ceil((jc + hb + 1) * sps) > avail
                    or math.floor(t_pred + 0.5 * sps) + 3 > avail):
                break
            lo = max(0, jc - hb)
            rot = TWO_PI * self.drift * np.arange(lo - jc, hb + 1)
            xs = complex(np.sum(np.asarray(self._b[lo:jc + hb + 1]) * np.exp(1j * rot)))
            if xs != 0 and cmath.isfinite(xs):
                e = _unwrap(self.eps, -math.atan2(xs.imag, xs.real) / TWO_PI, 1.0)
                d = min(MAX_DRIFT, max(-MAX_DRIFT, e - self.eps))
                self.drift += DRIFT_ALPHA * (d - self.drift)
                self.eps = e
            t = self.t0 + (self._k + self.eps) * sps
            i = math.floor(t)
            w = cubic_weights(t - i)
            y = self._y
            self._r.append(w[0] * y[i - 1] + w[1] * y[i] + w[2] * y[i + 1] + w[3] * y[i + 2])
            self._k += 1
        out = []
        p = self.phalf
        while self._out_k + p <= len(self._r):
            k = self._out_k
            s2 = 0j
            for r in self._r[max(0, k - p):k + p]:
                s2 += r * r
            if s2 != 0 and cmath.isfinite(s2):
                self.theta = _unwrap(self.theta, 0.5 * math.atan2(s2.imag, s2.real), math.pi)
            out.append(self._r[k] * complex(math.cos(self.theta), -math.sin(self.theta)))
            self._out_k += 1
        return np.asarray(out, dtype=np.complex64)
