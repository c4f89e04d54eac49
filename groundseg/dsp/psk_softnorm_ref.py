"""Soft-symbol scaling for coherent BPSK: reference (numpy).

After carrier recovery a BPSK symbol is ``s = +/-A + n`` with the data on the
real axis and only noise on the imaginary axis. Over a window of ``window``
symbols centred on each symbol:

    m_r = mean(Re(s)**2) = A**2 + sigma**2
    m_q = mean(Im(s)**2) = sigma**2
    A   = sqrt(max(m_r - m_q, 0))
    out = Re(s) * A / m_r

so a clean signal gives +/-1, noise alone gives values near 0, and within a
frame the magnitude follows the symbol's reliability (a fade lowers it even
after an AGC). ``A**2 / (2 m_q)`` is the Es/N0 estimate (``snr_db``).

Streaming: the output is delayed by ``delay = window // 2`` symbols (the
window is centred), so ``process`` returns as many values as it is given and
the first ``delay`` outputs of a stream are 0 (history starts as zeros).

Public API (identical in ``psk_softnorm.pyx``)::

    class SoftNormalizer(window: int):
        .window, .delay
        .process(x: complex64[n], out: float32[n]) -> None
        .snr_db -> float    # Es/N0 of the latest window, dB (-inf when no signal)
"""
from __future__ import annotations

import math

import numpy as np


class SoftNormalizer:
    def __init__(self, window: int = 32):
        if window < 2 or window % 2:
            raise ValueError("window must be an even number of symbols, at least 2")
        self.window = int(window)
        self.delay = self.window // 2
        self._hist = np.zeros(self.window - 1, np.complex128)  # the last window-1 inputs
        self.snr_db = -math.inf

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        x = np.asarray(x)
        n = x.size
        if out.size != n:
            raise ValueError("out must have the size of x")
        if n == 0:
            return
        w, d = self.window, self.delay
        z = np.concatenate([self._hist, x.astype(np.complex128)])
        re2 = np.concatenate([[0.0], np.cumsum(z.real ** 2)])
        im2 = np.concatenate([[0.0], np.cumsum(z.imag ** 2)])
        # window ending at input i (index w-1+i in z) covers z[i : i+w]
        m_r = (re2[w:w + n] - re2[:n]) / w
        m_q = (im2[w:w + n] - im2[:n]) / w
        a2 = np.maximum(m_r - m_q, 0.0)
        centre = z.real[w - 1 - d:w - 1 - d + n]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(m_r > 0, centre * np.sqrt(a2) / m_r, 0.0)
        out[:] = y
        self._hist = z[-(w - 1):].copy()
        a2_last, q_last = a2[-1], m_q[-1]
        if a2_last > 0 and q_last > 0:
            self.snr_db = 10.0 * math.log10(a2_last / (2.0 * q_last))
        elif a2_last > 0:
            self.snr_db = math.inf
        else:
            self.snr_db = -math.inf
