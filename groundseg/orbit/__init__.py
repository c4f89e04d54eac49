"""Orbits: element sets in, passes, look angles and Doppler out.

Contract:

* In: TLE/3LE text or files (``tle.py``), CCSDS OMM as XML, JSON, KVN or CSV
  (``omm.py``), as Celestrak and Space-Track serve them. Each set is checked
  (checksums, fixed columns, element ranges, SGP4 accepting it at its epoch);
  every problem is one line of text, collected into ``InputError`` or an
  ``UpdateReport``, never a traceback.
* ``TLEStore`` (``store.py``) keeps the newest set per NORAD id with its
  source, reception time and age; stale sets (older than ``stale_after_s``)
  are flagged. Updates come from files or, through ``update_from_text``,
  from the control plane; listeners learn which satellites changed.
* ``find_passes`` (``passes.py``) predicts every pass of many satellites over
  a station (WGS84 position, horizon mask) in one vectorised search: AOS,
  culmination, LOS to 1 ms, maximum elevation, azimuths. ``look_angles`` /
  ``pass_track`` give the az/el/range/range-rate track at any times.
* ``doppler.py``: range rate to frequency offset for downlink (shift seen)
  and uplink (pre-compensation), at any instant or as a curve.
* Propagation is sgp4's (never hand-written); frames in ``frames.py``.
  Times are UTC Unix seconds (``*_unix_s``); angles in degrees; distances in
  metres; nothing is downloaded at run time.
"""
from .doppler import (C_MPS, DopplerModel, doppler_curve, doppler_hz, downlink_freq_hz, pass_doppler,
                      uplink_correction_hz, uplink_freq_hz)
from .elements import ElementSet, iso_utc
from .frames import GroundStation
from .omm import parse_omm
from .passes import HorizonMask, Pass, PassSearch, Track, find_passes, look_angles, pass_track
from .store import StoredSet, TLEStore, UpdateReport, parse_elements
from .tle import parse_tle_lines, parse_tle_text

__all__ = [
    "C_MPS", "DopplerModel", "doppler_curve", "doppler_hz", "downlink_freq_hz", "pass_doppler",
    "uplink_correction_hz", "uplink_freq_hz", "ElementSet", "iso_utc", "GroundStation", "parse_omm",
    "HorizonMask", "Pass", "PassSearch", "Track", "find_passes", "look_angles", "pass_track",
    "StoredSet", "TLEStore", "UpdateReport", "parse_elements", "parse_tle_lines", "parse_tle_text",
]
