"""The downlink budget: carrier-to-noise density against slant range.

    FSPL(d, f)  = 20 log10(4 pi d f / c)                          [dB]
    C/N0        = EIRP - FSPL - other losses + G/T - 10 log10(k)  [dB-Hz]
    Eb/N0       = C/N0 - 10 log10(baud)                           [dB] (binary modulations)

with k = 1.380649e-23 J/K (Boltzmann), EIRP in dBW, G/T in dB/K. The
defaults describe a 1 W cubesat transmitter on a 0 dBi antenna heard by a
small yagi station (G/T -16 dB/K), with 3 dB of polarisation, pointing and
atmospheric loss: at 437 MHz and 9600 baud that is about 24 dB Eb/N0 at
1000 km and 16 dB at 2500 km.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

C_MPS = 299_792_458.0
BOLTZMANN_DBW = 10.0 * math.log10(1.380649e-23)  # -228.6 dBW/K/Hz


def fspl_db(range_m, freq_hz: float) -> np.ndarray:
    """Free-space path loss in dB over ``range_m`` metres at ``freq_hz``."""
    d = np.asarray(range_m, dtype=np.float64)
    if np.any(d <= 0) or not freq_hz > 0:
        raise InputError("path loss needs positive ranges and frequency")
    return 20.0 * np.log10(4.0 * math.pi * d * float(freq_hz) / C_MPS)


@dataclass(frozen=True)
class LinkBudget:
    eirp_dbw: float = 0.0
    g_over_t_dbk: float = -16.0
    other_losses_db: float = 3.0

    def cn0_dbhz(self, range_m, freq_hz: float) -> np.ndarray:
        return (self.eirp_dbw - fspl_db(range_m, freq_hz) - self.other_losses_db + self.g_over_t_dbk
                - BOLTZMANN_DBW)

    def ebn0_db(self, range_m, freq_hz: float, baud: float) -> np.ndarray:
        if not baud > 0:
            raise InputError(f"baud {baud} must be > 0")
        return self.cn0_dbhz(range_m, freq_hz) - 10.0 * math.log10(baud)
