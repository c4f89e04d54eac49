"""Coarse carrier acquisition for BPSK (numpy): squared-signal FFT estimator + derotator.

Squaring complex BPSK removes the data: ``z**2 = a(t)**2 exp(j(2 w t + 2 phi))``
with ``a(t)**2`` mostly DC, so the spectrum of ``z**2`` has a line at twice the
carrier offset whatever the bits (random, scrambled, or HDLC flags). The
estimator looks at a window of ``window`` samples every ``hop`` samples, finds
that line within the search range and, when it stands clearly above the
spectrum around it, takes half its frequency as the new carrier offset;
otherwise it keeps the last one (noise between bursts does not move it).

The derotator removes the current estimate with a phase-continuous NCO. The
output is delayed by ``window // 2 - hop // 2`` samples so that each hop is
corrected with an estimate from a window centred on it: a burst is corrected
from its first samples on.

Detection: the line's power over the median of the searched spectrum must
reach ``threshold`` (25: above what noise alone reaches over 512-symbol
windows, while BPSK at Eb/N0 2 dB gives 30 or more); once a carrier is
present it is kept down to ``release`` times that. With ``squelch`` the
output is 0 where no carrier is detected (ramped over one hop), so that
timing and phase estimators downstream neither wander on noise nor see
frames in it.

All work is per hop on whole arrays; buffers are allocated once.
"""
from __future__ import annotations

import numpy as np


class CarrierAcquirer:
    """Streaming coarse frequency correction of complex BPSK at ``samp_rate_sps``.

    ``process(x, out)`` takes a multiple of ``hop`` samples and writes as many
    corrected (delayed) samples to ``out``; ``freq_hz`` is the current offset
    estimate; ``detected`` whether the last window held a carrier.
    """

    def __init__(self, samp_rate_sps: float, range_hz: float, window: int, hop: int,
                 threshold: float = 25.0, nfft: int | None = None, squelch: bool = False,
                 release: float = 0.6):
        if hop <= 0 or window < 2 * hop or window % hop:
            raise ValueError("window must be a multiple of hop, at least 2 hops")
        if range_hz <= 0 or 4 * range_hz >= samp_rate_sps:
            raise ValueError(f"search range +/-{range_hz:g} Hz needs a sample rate above "
                             f"{4 * range_hz:g} S/s (the squared signal doubles it)")
        self.fs = float(samp_rate_sps)
        self.range_hz = float(range_hz)
        self.window = int(window)
        self.hop = int(hop)
        self.threshold = float(threshold)
        self.squelch = bool(squelch)
        self.release = float(release) * self.threshold
        self._gain = 0.0 if squelch else 1.0
        self.nfft = int(nfft or 1 << int(np.ceil(np.log2(2 * window))))
        self.delay = self.window // 2 - self.hop // 2
        self.freq_hz = 0.0
        self.detected = False
        self.peak_ratio = 0.0
        self._phase = 0.0
        self._hist = np.zeros(self.window, np.complex64)
        self._taper = np.hanning(self.window).astype(np.float32)
        self._sq = np.zeros(self.nfft, np.complex64)
        f2 = np.fft.fftfreq(self.nfft, 1.0 / self.fs)   # frequency of z**2 bins
        self._search = np.flatnonzero(np.abs(f2) <= 2.0 * self.range_hz)
        self._search = self._search[np.argsort(f2[self._search])]
        self._f2 = f2
        self._k = np.arange(self.hop, dtype=np.float64)
        self._lo = self.window - self.delay - self.hop    # output hop inside the history

    # -- estimation --------------------------------------------------------
    def estimate(self, z: np.ndarray) -> tuple[float, float]:
        """(offset_hz, peak / median) of one window of ``window`` samples."""
        sq = self._sq
        sq[:self.window] = z * z * self._taper
        sq[self.window:] = 0
        p = np.abs(np.fft.fft(sq)) ** 2
        ps = p[self._search]
        i = int(np.argmax(ps))
        ratio = float(ps[i] / (np.median(ps) + 1e-30))
        # parabolic interpolation on the log power of the peak and its neighbours
        delta = 0.0
        if 0 < i < ps.size - 1:
            a, b, c = np.log(ps[i - 1:i + 2] + 1e-30)
            d = a - 2 * b + c
            if d < 0:
                delta = 0.5 * (a - c) / d
        f2 = self._f2[self._search[i]] + delta * self.fs / self.nfft
        return 0.5 * f2, ratio

    # -- streaming ---------------------------------------------------------
    def process(self, x: np.ndarray, out: np.ndarray) -> list[tuple[int, float]]:
        """Correct ``x`` (a multiple of ``hop`` samples) into ``out``.

        Returns ``(index in out, freq_hz)`` for each hop where the estimate changed.
        """
        h, w = self.hop, self.window
        if x.size % h:
            raise ValueError("process() takes a multiple of hop samples")
        changes = []
        hist = self._hist
        for j in range(0, x.size, h):            # one pass per hop, not per sample
            hist[:w - h] = hist[h:]
            hist[w - h:] = x[j:j + h]
            f, ratio = self.estimate(hist)
            self.peak_ratio = ratio
            # hysteresis: a carrier already present is kept down to ``release``
            self.detected = ratio >= (self.release if self.detected else self.threshold)
            if self.detected and f != self.freq_hz:
                self.freq_hz = f
                changes.append((j, f))
            dphi = -2.0 * np.pi * self.freq_hz / self.fs
            rot = np.exp(1j * (self._phase + dphi * self._k))
            if self.squelch:
                g = 1.0 if self.detected else 0.0
                if g != self._gain:                     # ramp over the hop, no step
                    rot *= self._gain + (g - self._gain) * (self._k + 1) / h
                    self._gain = g
                elif g == 0.0:
                    rot[:] = 0.0
            out[j:j + h] = hist[self._lo:self._lo + h] * rot
            self._phase = float(np.mod(self._phase + dphi * h, 2 * np.pi))
        return changes
