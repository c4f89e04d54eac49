"""FSK symbol recovery (levels, timing, soft symbols): reference (pure Python).

Input: matched-filtered baseband NRZ at ``sps`` samples per symbol (FM audio
after the low-pass, or a discriminator's output); output: one soft symbol
per channel symbol. Four steps, all in one pass over the samples:

1. Two-level tracking at the sample rate: the level of a 1 (``hi``) and of
   a 0 (``lo``) are followed separately, each by the samples on its side of
   the midpoint, at rate ``a = level_rate / sps`` per sample. The output
   ``z = (x - mid) / half`` has the DC (frequency offset) removed and the
   level normalised without a high-pass, so runs of equal symbols and
   unbalanced preambles (AX.25 flags through NRZI are 7 symbols of one
   level for 1 of the other) do not drag the slicing level. ``p``, the
   fraction of recent samples below the midpoint (rate ``r = stuck_rate /
   sps``), detects a level that no sample visits any more (``p`` under
   ``RARE`` = 0.05 or over ``1 - RARE``): a DC jump larger than the signal
   (a burst starting off frequency) puts every sample on one side. Only then
   does that level leak toward the samples (rate ``a * leak``) until they
   straddle the midpoint again. (A steady tone longer than about
   ``2.3 / stuck_rate`` symbols therefore draws the levels together; the
   first symbols after it are then unreliable.)::

       mid = (hi + lo) / 2;  half = max((hi - lo) / 2, 1e-12)
       z = (x - mid) / half
       if x >= mid: hi += a (x - hi); if p < RARE:     lo += a leak (x - lo); p -= r p
       else:        lo += a (x - lo); if p > 1 - RARE: hi += a leak (x - hi); p += r (1 - p)

2. Symbol timing: a second-order loop with the zero-crossing timing error
   detector. For symbol ``k`` at (fractional) sample time ``t_k``::

       y_k = interp(t_k)                      # cubic Lagrange on 4 samples
       y_m = interp((t_{k-1} + t_k) / 2)      # half-way since the previous symbol
       d_k = +1 if y_k >= 0 else -1
       e   = clamp(y_m * (d_{k-1} - d_k) / 2, +/-1)   # non-zero only at a transition
       integ = clamp(integ + ki * e, +/- max_dev * sps)
       t_{k+1} = t_k + sps + integ + kp * e

   ``kp``/``ki`` come from the loop bandwidth ``loop_bw`` (per symbol) and
   ``damping`` by the usual second-order design, for a detector gain of
   ``1 / sps`` per sample of timing error (an NRZ edge through the matched
   low-pass crosses zero with a slope of about ``2 / sps`` per sample, and
   half the symbols are transitions). Sampling late makes ``e`` negative and
   pulls the next instant earlier. The clock period stays within
   ``+/- max_dev`` of nominal, so noise between bursts cannot walk it away.
3. Soft symbols: a second level tracker, the same update at one sample per
   symbol with rates ``soft_rate`` and ``stuck_rate``, scales a clean
   signal to ``s = +/-1`` and keeps ``nvar``, the variance of ``s`` around
   +/-1 (rate ``noise_rate``): ``snr_db = -10 log10(nvar)``.
4. Click weighting: an FM receiver near threshold makes clicks (a 2 pi
   phase slip), which after the matched filter look like symbols of several
   times the normal amplitude, of either sign: a symbol far beyond the
   levels is not a confident one. The output keeps the sign of ``s`` and
   maps its magnitude ``a`` to ``a`` up to ``KNEE`` (1.5), then down
   linearly to ``FLOOR_WEIGHT`` (0.1) at ``3 - 0.1``, and ``FLOOR_WEIGHT``
   beyond. Within +/-1.5 (every clean symbol) the magnitude is untouched.

Acquisition: the levels start at the first sample and, until each has
taken ``ceil(1 / a)`` samples, follow the running mean of the samples on
their side (rate ``max(a, 1 / count)``; while one side has no sample yet,
both levels are the running mean of every sample, and when its first
sample comes the other side's count starts again at 1; a run of more than
``ACQ_RESTART_SYMBOLS`` (12) symbols' worth of samples on one side of the
midpoint, the start of a burst after silence or a filter's start-up ramp,
starts the acquisition again at that sample), so a stream that starts in a
burst's preamble (a recording cut just before a frame, with a DC offset
larger than the signal) is sliced right within a few symbols, instead of
the hundreds the stuck-level leak needs from an arbitrary start. Meanwhile
``z`` is 0 until a sample has fallen on each side of the midpoint, and
held within ``+/-ACQ_LIMIT`` (4) after that (the first levels are close
together). From then on the updates are exactly those above.

All state is float64; outputs are float32. The first symbol is taken at
sample time ``2.0``.

Public API (identical in ``fsk_symbols.pyx``)::

    class SymbolRecovery(sps, loop_bw=0.01, damping=1.0, max_dev=0.005,
                         level_rate=1/32, leak=0.5, soft_rate=1/32, noise_rate=1/64,
                         stuck_rate=1/32):
        .process(x: float32[n], out: float32[m]) -> (consumed, produced)
            # stops early (consumed < n) only when ``out`` is full
        .max_output(n) -> int       # a capacity of ``out`` that never stops early
        .dc, .amplitude             # level tracker midpoint and half-distance (input units)
        .period                     # current clock period, samples
        .snr_db                     # symbol SNR estimate, dB
"""
from __future__ import annotations

import math

import numpy as np

FLOOR = 1e-12
RARE = 0.05           # a level visited by fewer samples than this is stuck
ACQ_LIMIT = 4.0       # acquisition: |z| held to this while the levels are still running means
ACQ_RESTART_SYMBOLS = 12  # acquisition: a run this long on one side of the midpoint starts it again
KNEE = 1.5            # click weighting: magnitudes above this lose confidence
FLOOR_WEIGHT = 0.1    # ... down to this, reached at 2 * KNEE - FLOOR_WEIGHT


def click_weight(a: float) -> float:
    """Output magnitude for a scaled symbol of magnitude ``a`` (see step 4)."""
    if a <= KNEE:
        return a
    return max(2.0 * KNEE - a, FLOOR_WEIGHT)


def loop_gains(loop_bw: float, damping: float, ted_gain: float) -> tuple[float, float]:
    """Proportional and integral gains of a second-order loop updated once per symbol."""
    theta = loop_bw / (damping + 1.0 / (4.0 * damping))
    d = 1.0 + 2.0 * damping * theta + theta * theta
    return 4.0 * damping * theta / d / ted_gain, 4.0 * theta * theta / d / ted_gain


def ring_size(sps: float, max_dev: float) -> int:
    """Samples of history needed: half a symbol back plus the interpolator's span."""
    need = int(math.ceil(sps * (1.0 + max_dev))) + 8
    size = 8
    while size < need:
        size *= 2
    return size


def cubic(p0: float, p1: float, p2: float, p3: float, mu: float) -> float:
    """Cubic Lagrange interpolation at ``mu`` in [0, 1) between ``p1`` and ``p2``."""
    return (-mu * (mu - 1.0) * (mu - 2.0) / 6.0 * p0
            + (mu + 1.0) * (mu - 1.0) * (mu - 2.0) / 2.0 * p1
            - (mu + 1.0) * mu * (mu - 2.0) / 2.0 * p2
            + (mu + 1.0) * mu * (mu - 1.0) / 6.0 * p3)


def _track(v: float, mid: float, hi: float, lo: float, p: float, a: float, b: float,
           pr: float):
    """One two-level tracker update (step 1): new (hi, lo, p)."""
    if v >= mid:
        hi += a * (v - hi)
        if p < RARE:
            lo += b * (v - lo)
        p -= pr * p
    else:
        lo += a * (v - lo)
        if p > 1.0 - RARE:
            hi += b * (v - hi)
        p += pr * (1.0 - p)
    return hi, lo, p


class SymbolRecovery:
    def __init__(self, sps: float, loop_bw: float = 0.01, damping: float = 1.0,
                 max_dev: float = 0.005, level_rate: float = 1.0 / 32, leak: float = 0.5,
                 soft_rate: float = 1.0 / 32, noise_rate: float = 1.0 / 64,
                 stuck_rate: float = 1.0 / 32):
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
        self.sps = float(sps)
        self.kp, self.ki = loop_gains(loop_bw, damping, 1.0 / self.sps)
        self.max_integ = max_dev * self.sps
        self.a = min(level_rate / self.sps, 1.0)
        self.b = self.a * leak
        self.sa = soft_rate
        self.sb = soft_rate * leak
        self.c = noise_rate
        self.pr = min(stuck_rate / self.sps, 1.0)
        self.spr = stuck_rate
        self.hi, self.lo, self.p = 1.0, -1.0, 0.5
        self.nhi, self.nlo = 0, 0          # samples taken by each level during acquisition
        self.ncap = int(math.ceil(1.0 / self.a))
        self.restart = ACQ_RESTART_SYMBOLS * self.sps
        self.side, self.run = 1, 0         # acquisition: side of the midpoint of the last samples, run length
        self.shi, self.slo, self.sp = 1.0, -1.0, 0.5
        self.nvar = 1.0
        self.size = ring_size(self.sps, max_dev)
        self.ring = [0.0] * self.size
        self.n = 0                     # samples seen
        self.t = 2.0                   # time of the next symbol (samples since the start)
        self.t_prev = 2.0 - self.sps
        self.integ = 0.0
        self.prev_d = 1.0

    @property
    def dc(self) -> float:
        return 0.5 * (self.hi + self.lo)

    @property
    def amplitude(self) -> float:
        return 0.5 * (self.hi - self.lo)

    @property
    def period(self) -> float:
        return self.sps + self.integ

    @property
    def snr_db(self) -> float:
        return -10.0 * math.log10(self.nvar) if self.nvar > 0.0 else math.inf

    def max_output(self, n: int) -> int:
        return int(n / (self.sps - self.max_integ)) + 2

    def _interp(self, t: float) -> float:
        i = math.floor(t)
        mu = t - i
        m = self.size - 1
        r = self.ring
        return cubic(r[(i - 1) & m], r[i & m], r[(i + 1) & m], r[(i + 2) & m], mu)

    def process(self, x: np.ndarray, out: np.ndarray) -> tuple[int, int]:
        x = np.asarray(x, dtype=np.float32)
        cap = out.shape[0]
        produced = 0
        m = self.size - 1
        for i in range(x.shape[0]):
            if produced >= cap:
                return i, produced
            v = float(x[i])
            if self.n == 0:                # acquisition starts at the first sample
                self.hi = self.lo = v
            mid = 0.5 * (self.hi + self.lo)
            half = max(0.5 * (self.hi - self.lo), FLOOR)
            z = (v - mid) / half
            if self.nhi < self.ncap or self.nlo < self.ncap:
                side = 1 if v >= mid else -1
                self.run = self.run + 1 if side == self.side else 1
                self.side = side
                if self.run > self.restart and self.nhi and self.nlo:   # one level stale: start again here
                    self.hi = self.lo = mid = v
                    self.nhi = self.nlo = 0
                    self.side, self.run = 1, 1
                z = min(max(z, -ACQ_LIMIT), ACQ_LIMIT) if self.nhi and self.nlo else 0.0
                if v >= mid:
                    if self.nhi == 0 and self.nlo:   # the first sample above: the mean so far was both
                        self.nlo = 1
                    self.nhi = min(self.nhi + 1, self.ncap)
                    ah = max(self.a, 1.0 / self.nhi)
                    self.hi, self.lo, self.p = _track(v, mid, self.hi, self.lo, self.p, ah, self.b, self.pr)
                    if self.nlo == 0:               # nothing below yet: both levels are the mean
                        self.lo = self.hi
                else:
                    if self.nlo == 0 and self.nhi:
                        self.nhi = 1
                    self.nlo = min(self.nlo + 1, self.ncap)
                    al = max(self.a, 1.0 / self.nlo)
                    self.hi, self.lo, self.p = _track(v, mid, self.hi, self.lo, self.p, al, self.b, self.pr)
                    if self.nhi == 0:
                        self.hi = self.lo
            else:
                self.hi, self.lo, self.p = _track(v, mid, self.hi, self.lo, self.p, self.a, self.b,
                                                  self.pr)
            self.ring[self.n & m] = z
            newest = self.n
            self.n += 1
            if math.floor(self.t) + 2 > newest:
                continue
            t = self.t
            y = self._interp(t)
            ym = self._interp(0.5 * (self.t_prev + t))
            d = 1.0 if y >= 0.0 else -1.0
            e = min(max(ym * (self.prev_d - d) * 0.5, -1.0), 1.0)   # clicks: bounded
            self.integ = min(max(self.integ + self.ki * e, -self.max_integ), self.max_integ)
            self.t_prev = t
            self.t = t + self.sps + self.integ + self.kp * e
            self.prev_d = d
            # soft symbol
            smid = 0.5 * (self.shi + self.slo)
            shalf = max(0.5 * (self.shi - self.slo), FLOOR)
            s = (y - smid) / shalf
            sf = float(np.float32(s))
            w = click_weight(abs(sf))
            out[produced] = w if sf >= 0.0 else -w
            produced += 1
            self.shi, self.slo, self.sp = _track(y, smid, self.shi, self.slo, self.sp,
                                                 self.sa, self.sb, self.spr)
            err = abs(sf) - 1.0
            self.nvar += self.c * (err * err - self.nvar)
        return x.shape[0], produced
