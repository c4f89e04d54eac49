"""Uplink Doppler pre-compensation of a burst.

The satellite hears ``f_tx * (1 - range_rate / c)``. To make it hear the
nominal ``f0`` the station transmits ``f0 / (1 - range_rate / c)``: the
correction ``DopplerModel.offset_hz(f0, t, "uplink")`` (positive while the
satellite approaches). ``precompensate`` applies it to the baseband burst
sample by sample (a frequency shift whose phase is continuous), the
correction evaluated every ``step_s`` of the burst and interpolated
linearly in between (the uplink correction changes by at most a few Hz per
second in LEO: ``step_s`` = 0.05 s is far below any modem's tolerance), so
the SDR stays tuned to ``f0``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..dsp.channel import freq_shift


def correction_curve(offset_hz: Callable[[np.ndarray], np.ndarray], t0_unix_s: float, n_samples: int,
                     samp_rate_sps: float, step_s: float = 0.05) -> np.ndarray:
    """The per-sample correction (Hz) for a burst starting at ``t0_unix_s``."""
    dur = n_samples / samp_rate_sps
    k = max(2, int(np.ceil(dur / step_s)) + 1)
    tg = t0_unix_s + np.linspace(0.0, dur, k)
    fg = np.asarray(offset_hz(tg), np.float64)
    ts = t0_unix_s + np.arange(n_samples) / samp_rate_sps
    return np.interp(ts, tg, fg)


def precompensate(iq: np.ndarray, samp_rate_sps: float, t0_unix_s: float,
                  offset_hz: Callable[[np.ndarray], np.ndarray], step_s: float = 0.05
                  ) -> tuple[np.ndarray, float, float]:
    """(the burst shifted by the uplink correction, correction at its start, at its end) in Hz."""
    f = correction_curve(offset_hz, t0_unix_s, iq.size, samp_rate_sps, step_s)
    if iq.size == 0:
        return iq, 0.0, 0.0
    return freq_shift(iq, f, samp_rate_sps), float(f[0]), float(f[-1])
