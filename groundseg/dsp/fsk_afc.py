"""Coarse frequency acquisition for FSK on complex baseband (numpy, per hop).

An FSK signal occupies a band of about ``2 x signal_half_bw_hz`` centred on
its carrier whatever the data (both tones, keying sidebands). Every ``hop``
samples the power spectrum of the last ``window`` samples (Hann taper) is
averaged into a running spectrum (weight ``smoothing`` for the newest); the
noise floor is its median over the whole band. A sliding sum over the signal
bandwidth finds the band with the most power above the floor within
``+/-range_hz``; when that excess is at least ``threshold`` times the noise
in the same bandwidth (the signal is there), the power-weighted centroid of
the excess around it is the hop's measurement, and the offset estimate moves
toward it by ``tracking`` (less for an excess under four times the
threshold, as at a burst's edges) (the FSK spectrum of a short window depends on the
data: one hop's measurement scatters by a tenth of the baud rate or so).
Otherwise the last estimate is kept, so the noise between bursts does not
move it and the next burst of the same pass starts corrected.

The derotator removes the estimate with a phase-continuous NCO. The output
is delayed by ``window // 2 - hop // 2`` samples so that each hop is
corrected with the estimate of a window centred on it.

Unbalanced data (more of one tone) biases the centroid toward that tone:
by 0.75 x the deviation for AX.25 flags through NRZI (7 symbols of one tone
for 1 of the other), by the whole deviation for a steady tone. With the
deviation given, the rms spread of the excess around the centroid tells
(it is the deviation for balanced data, measured for modulation indices 0.5
to 2; two thirds of it for flags; near 0 for a tone): a measurement with a
spread under ``SPREAD_MIN`` (0.85) x the deviation only counts while the
estimate is more than ``acquire_hz`` away from it (acquisition, where a
biased estimate beats none); otherwise it is ignored and the estimate held.
The demodulator's level tracker removes the DC that remains.

All work is per hop on whole arrays (no per-sample Python); buffers are
allocated once.
"""
from __future__ import annotations

import math

import numpy as np

SPREAD_MIN = 0.85     # times the deviation: the spread of balanced FSK data


class FrequencyAcquirer:
    """Streaming coarse frequency correction of complex FSK at ``samp_rate_sps``.

    ``process(x, out)`` takes a multiple of ``hop`` samples and writes as many
    corrected (delayed) samples to ``out``. ``freq_hz``: the current offset
    estimate; ``detected``: whether the last hop saw a signal.
    """

    def __init__(self, samp_rate_sps: float, range_hz: float, signal_half_bw_hz: float,
                 window: int, hop: int, threshold: float = 1.0, smoothing: float = 0.1,
                 tracking: float = 0.25, deviation_hz: float | None = None,
                 acquire_hz: float | None = None):
        if hop <= 0 or window < 2 * hop or window % hop:
            raise ValueError("window must be a multiple of hop, at least 2 hops")
        if range_hz < 0 or signal_half_bw_hz <= 0:
            raise ValueError("range_hz must not be negative and signal_half_bw_hz must be positive")
        if 2 * (range_hz + signal_half_bw_hz) > samp_rate_sps:
            raise ValueError(f"search range +/-{range_hz:g} Hz and signal +/-{signal_half_bw_hz:g} Hz"
                             f" do not fit in {samp_rate_sps:g} S/s")
        if not 0.0 < smoothing <= 1.0 or not 0.0 < tracking <= 1.0:
            raise ValueError("smoothing and tracking must be in (0, 1]")
        self.fs = float(samp_rate_sps)
        self.window, self.hop = int(window), int(hop)
        self.threshold = float(threshold)
        self.smoothing = float(smoothing)
        self.tracking = float(tracking)
        self.min_spread_hz = SPREAD_MIN * abs(deviation_hz) if deviation_hz else 0.0
        self.acquire_hz = float(acquire_hz) if acquire_hz else (abs(deviation_hz or 0.0))
        self.spread_hz = 0.0
        self.delay = self.window // 2 - self.hop // 2
        self.freq_hz = 0.0
        self.detected = False
        self.strength = 0.0
        self._phase = 0.0
        self._hist = np.zeros(self.window, np.complex64)
        self._taper = np.hanning(self.window).astype(np.float32)
        self._power = None
        freqs = np.fft.fftshift(np.fft.fftfreq(self.window, 1.0 / self.fs))
        self._freqs = freqs
        df = self.fs / self.window
        self._width = max(1, int(round(2 * signal_half_bw_hz / df)) | 1)   # odd, in bins
        half = self._width // 2
        # candidate band centres: within the search range and with the whole band inside
        centre = np.arange(half, self.window - half)
        self._centres = centre[np.abs(freqs[centre]) <= range_hz + 0.5 * df]
        if self._centres.size == 0:
            self._centres = np.array([self.window // 2])
        self._k = np.arange(self.hop, dtype=np.float64)
        self._lo = self.window - self.delay - self.hop     # output hop inside the history

    def estimate(self, power: np.ndarray) -> tuple[float, bool]:
        """(measured offset_hz, detected) from a (shifted, smoothed) power spectrum."""
        floor = float(np.median(power)) + 1e-30
        excess = power - floor
        csum = np.concatenate([[0.0], np.cumsum(excess)])
        half = self._width // 2
        band = csum[self._centres + half + 1] - csum[self._centres - half]
        i = int(np.argmax(band))
        self.strength = float(band[i] / (floor * self._width))   # excess / noise in the band
        if self.strength < self.threshold:
            return self.freq_hz, False
        c = int(self._centres[i])
        w = np.clip(excess[c - half:c + half + 1], 0.0, None)
        if w.sum() <= 0.0:
            return self.freq_hz, False
        f = self._freqs[c - half:c + half + 1]
        centroid = float(np.dot(w, f) / w.sum())
        self.spread_hz = float(np.sqrt(np.dot(w, (f - centroid) ** 2) / w.sum()))
        return centroid, True

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        n = x.shape[0]
        if n % self.hop or out.shape[0] != n:
            raise ValueError("process needs a multiple of hop samples and an output of the same size")
        h, w = self.hop, self.window
        for s in range(0, n, h):
            self._hist[:w - h] = self._hist[h:]
            self._hist[w - h:] = x[s:s + h]
            spec = np.fft.fftshift(np.fft.fft(self._hist * self._taper))
            p = (spec.real * spec.real + spec.imag * spec.imag).astype(np.float64)
            if self._power is None:
                self._power = p
            else:
                self._power += self.smoothing * (p - self._power)
            f, self.detected = self.estimate(self._power)
            if self.detected and (self.spread_hz >= self.min_spread_hz
                                  or abs(f - self.freq_hz) > self.acquire_hz):
                # weak windows (a burst's edges) move the estimate less
                weight = min(1.0, (self.strength - self.threshold) / (3.0 * self.threshold))
                self.freq_hz += self.tracking * weight * (f - self.freq_hz)
            step = -2.0 * math.pi * self.freq_hz / self.fs
            ph = self._phase + step * self._k
            out[s:s + h] = self._hist[self._lo:self._lo + h] * np.exp(1j * ph).astype(np.complex64)
            self._phase = math.remainder(self._phase + step * h, 2.0 * math.pi)
