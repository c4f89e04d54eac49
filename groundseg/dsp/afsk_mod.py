"""AFSK modulator (numpy only: no GNU Radio import).

Two audio tones on an FM channel. Convention shared with
``groundseg.blocks.afsk_demod``: a channel bit 1 is the tone at
``af_carrier_hz + deviation_hz``, a 0 the tone at ``af_carrier_hz -
deviation_hz``; a negative deviation therefore swaps the tones.

Bell 202 (AX.25 at 1200 baud): tones 1200 and 2200 Hz, centre 1700 Hz. The
Bell 202 *mark* (1200 Hz) is a 1 with ``deviation_hz=-500``; with the
catalog's usual ``+500`` a 1 is 2200 Hz. AX.25 is NRZI-coded, so either
assignment decodes.

Audio output (``iq=False``): continuous-phase tones at unit amplitude.
IQ output: that audio frequency-modulated onto a carrier at unit amplitude,
with a peak FM deviation of ``fm_deviation_hz`` (default 3000 Hz, narrowband
FM as used on the amateur satellite bands).
"""
from __future__ import annotations

import numpy as np

from .fsk_mod import _check, fm_modulate, nrz_average

__all__ = ["afsk_modulate", "tone_frequencies"]


def tone_frequencies(af_carrier_hz: float, deviation_hz: float) -> tuple[float, float]:
    """(frequency of a 1, frequency of a 0) in Hz."""
    return af_carrier_hz + deviation_hz, af_carrier_hz - deviation_hz


def afsk_modulate(bits, samp_rate_sps: float, baud: float, iq: bool, af_carrier_hz: float = 1700.0,
                  deviation_hz: float = 500.0, fm_deviation_hz: float = 3000.0,
                  **ignored) -> np.ndarray:
    """Channel bits -> AFSK audio (float32) or the audio FM-modulated (complex64)."""
    b = _check(bits, samp_rate_sps, baud)
    fc, dev = float(af_carrier_hz), float(deviation_hz)
    if fc <= 0 or dev == 0 or abs(dev) >= fc:
        raise ValueError(f"AFSK needs 0 < |deviation| < carrier, not carrier {fc:g} Hz,"
                         f" deviation {dev:g} Hz")
    if fc + abs(dev) >= samp_rate_sps / 2:
        raise ValueError(f"tone at {fc + abs(dev):g} Hz is above the Nyquist frequency")
    f_inst = fc + dev * nrz_average(b, samp_rate_sps, baud)
    phase = 2.0 * np.pi / samp_rate_sps * np.cumsum(f_inst)
    audio = np.cos(phase)
    if not iq:
        return audio.astype(np.float32)
    return fm_modulate(audio * float(fm_deviation_hz), samp_rate_sps)
