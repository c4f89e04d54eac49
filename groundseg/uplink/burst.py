"""Channel bits to a transmit burst: complex baseband at unit amplitude with our modulators.

``modulate_burst(bits, modulation, baud, samp_rate_sps, ...)`` calls the
modulation registry (``groundseg.dsp.modulation.MODULATIONS``: FSK, GFSK,
AFSK, BPSK, DBPSK) with ``iq=True`` and puts ``pad_s`` of carrier-off
silence on both ends, so that the transmitter ramps cleanly (and a receiver
sees the burst start and end).
"""
from __future__ import annotations

import numpy as np

from ..dsp.modulation import MODULATIONS
from ..errors import InputError


def modulate_burst(bits: np.ndarray, modulation: str, baud: float, samp_rate_sps: float, *,
                   deviation_hz: float | None = None, af_carrier_hz: float | None = None,
                   pad_s: float = 0.0) -> np.ndarray:
    spec = MODULATIONS.get(modulation)
    if samp_rate_sps < 2 * baud:
        raise InputError(f"{samp_rate_sps:g} S/s is too low for {baud:g} baud")
    try:
        iq = spec.modulate(np.asarray(bits, np.uint8), float(samp_rate_sps), float(baud), True,
                           deviation_hz=deviation_hz, af_carrier_hz=af_carrier_hz)
    except ValueError as e:
        raise InputError(f"{spec.name} at {baud:g} baud: {e}") from None
    iq = np.asarray(iq, np.complex64)
    n = int(round(pad_s * samp_rate_sps))
    if n:
        z = np.zeros(n, np.complex64)
        iq = np.concatenate([z, iq, z])
    return iq


def burst_seconds(n_bits: int, baud: float, pad_s: float = 0.0) -> float:
    return n_bits / float(baud) + 2 * pad_s
