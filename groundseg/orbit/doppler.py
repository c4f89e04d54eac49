"""Doppler: range rate to frequency offset, for the downlink and the uplink.

Range rate is positive when the satellite recedes. First order in v/c (the
relativistic terms are below 1e-9 of the carrier for LEO, a fraction of a hertz):

* downlink, heard on the ground:      f_rx = f0 * (1 - range_rate / c)
* uplink, pre-compensated at the station so the satellite hears f0:
                                      f_tx = f0 / (1 - range_rate / c)

``doppler_hz`` is the shift the ground sees on a downlink (f_rx - f0);
``uplink_correction_hz`` is what to add to the uplink carrier (f_tx - f0).
``DopplerModel`` gives either at any instant of any pass (exact SGP4
evaluation, no interpolation), and ``doppler_curve`` samples a span.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .elements import ElementSet
from .frames import GroundStation
from .passes import Pass, look_angles

C_MPS = 299_792_458.0
DIRECTIONS = ("downlink", "uplink")


def downlink_freq_hz(freq_hz, range_rate_mps):
    """Frequency heard on the ground for a carrier ``freq_hz`` sent by the satellite."""
    return np.asarray(freq_hz) * (1.0 - np.asarray(range_rate_mps) / C_MPS)


def doppler_hz(freq_hz, range_rate_mps):
    """Downlink Doppler shift (received minus transmitted frequency), Hz."""
    return -np.asarray(freq_hz) * np.asarray(range_rate_mps) / C_MPS


def uplink_freq_hz(freq_hz, range_rate_mps):
    """Frequency to transmit so the satellite receives ``freq_hz``."""
    return np.asarray(freq_hz) / (1.0 - np.asarray(range_rate_mps) / C_MPS)


def uplink_correction_hz(freq_hz, range_rate_mps):
    """Offset to add to an uplink carrier (transmitted minus nominal frequency), Hz."""
    return uplink_freq_hz(freq_hz, range_rate_mps) - np.asarray(freq_hz)


def _check_freq(freq_hz: float) -> float:
    f = float(freq_hz)
    if not (1e6 <= f <= 300e9):
        raise InputError(f"frequency {freq_hz!r} Hz is outside 1 MHz .. 300 GHz")
    return f


class DopplerModel:
    """Doppler of one satellite seen from one station, at any time (Unix seconds, UTC)."""

    def __init__(self, elements: ElementSet, station: GroundStation):
        self.elements = elements
        self.station = station

    def range_rate_mps(self, t_unix_s) -> np.ndarray:
        return look_angles(self.elements, self.station, t_unix_s).range_rate_mps

    def offset_hz(self, freq_hz: float, t_unix_s, direction: str = "downlink") -> np.ndarray:
        """Downlink: the shift seen on the ground. Uplink: the correction to transmit with."""
        f = _check_freq(freq_hz)
        rr = self.range_rate_mps(t_unix_s)
        if direction == "downlink":
            return doppler_hz(f, rr)
        if direction == "uplink":
            return uplink_correction_hz(f, rr)
        raise InputError(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")


def doppler_curve(elements: ElementSet, station: GroundStation, freq_hz: float, start_unix_s: float,
                  end_unix_s: float, step_s: float = 1.0, direction: str = "downlink"):
    """(t_unix_s, offset_hz) arrays from start to end (both included) every ``step_s``."""
    if not step_s > 0:
        raise InputError(f"Doppler step {step_s} s must be > 0")
    if not end_unix_s >= start_unix_s:
        raise InputError("Doppler curve: end before start")
    n = int(np.floor((end_unix_s - start_unix_s) / step_s + 1e-9)) + 1
    t = start_unix_s + step_s * np.arange(n)
    if t[-1] < end_unix_s:
        t = np.append(t, end_unix_s)
    return t, DopplerModel(elements, station).offset_hz(freq_hz, t, direction)


def pass_doppler(p: Pass, elements: ElementSet, station: GroundStation, freq_hz: float, step_s: float = 1.0,
                 direction: str = "downlink"):
    """The Doppler curve of one pass, AOS to LOS."""
    if p.norad != elements.norad:
        raise InputError(f"pass of NORAD {p.norad} with the elements of NORAD {elements.norad}")
    return doppler_curve(elements, station, freq_hz, p.aos_unix_s, p.los_unix_s, step_s, direction)
