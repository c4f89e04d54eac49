"""One orbital element set (from a TLE or an OMM), validated, with its SGP4 model.

``ElementSet`` is what every reader produces (``tle.py``, ``omm.py``) and what
the store, the pass predictor and the Doppler model consume. Angles are in
degrees, the mean motion in revolutions per day, times in Unix seconds (UTC).
``ndot`` and ``nddot`` keep the TLE/OMM conventions (first derivative of the
mean motion divided by two, rev/day^2; second derivative divided by six,
rev/day^3); ``bstar`` is in 1/earth radii.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field, fields

from ..errors import InputError

UNIX_EPOCH_JD = 2440587.5
SECONDS_PER_DAY = 86400.0
# sgp4init's epoch: days since 1949 December 31 00:00 UTC.
_SGP4_EPOCH0_UNIX_S = -631152000.0 - SECONDS_PER_DAY
# Unit conversions of ndot/nddot from the TLE convention to sgp4init's radians/minute^n.
_NDOT_UNITS = 1036800.0 / math.pi
_NDDOT_UNITS = 2985984000.0 / 2.0 / math.pi

# Element ranges: anything outside is rejected, not clamped.
MAX_MEAN_MOTION_REV_PER_DAY = 17.5  # a circular orbit at the surface is ~17.0 rev/day
RANGES = {
    "inclination_deg": (0.0, 180.0, True),
    "raan_deg": (0.0, 360.0, False),
    "eccentricity": (0.0, 1.0, False),
    "arg_perigee_deg": (0.0, 360.0, False),
    "mean_anomaly_deg": (0.0, 360.0, False),
}


def unix_to_datetime(t_unix_s: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(t_unix_s, tz=_dt.timezone.utc)


def datetime_to_unix(t: _dt.datetime) -> float:
    if t.tzinfo is None:
        raise InputError(f"time {t.isoformat()} has no time zone (give UTC)")
    return t.timestamp()


def iso_utc(t_unix_s: float, seconds: bool = True) -> str:
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return unix_to_datetime(t_unix_s).strftime(fmt)


def jd_split(t_unix_s):
    """Unix seconds -> (jd whole part ending in .5, day fraction), as sgp4 wants them."""
    import numpy as np

    t = np.asarray(t_unix_s, dtype=float)
    days = np.floor(t / SECONDS_PER_DAY)
    return UNIX_EPOCH_JD + days, (t - days * SECONDS_PER_DAY) / SECONDS_PER_DAY


def check_ranges(values: dict, where: str) -> list[str]:
    """Range errors of the mean elements in ``values`` (one line each)."""
    errs = []
    for name, (lo, hi, hi_inclusive) in RANGES.items():
        v = values.get(name)
        if v is None or not math.isfinite(v):
            errs.append(f"{where}: {name} is not a finite number")
            continue
        if v < lo or v > hi or (v == hi and not hi_inclusive):
            bound = "]" if hi_inclusive else ")"
            errs.append(f"{where}: {name} {v:g} is outside [{lo:g}, {hi:g}{bound}")
    n = values.get("mean_motion_rev_per_day")
    if n is None or not math.isfinite(n) or not (0.0 < n <= MAX_MEAN_MOTION_REV_PER_DAY):
        errs.append(f"{where}: mean motion {n} rev/day is outside (0, {MAX_MEAN_MOTION_REV_PER_DAY:g}]")
    for name in ("bstar", "ndot", "nddot"):
        v = values.get(name)
        if v is None or not math.isfinite(v):
            errs.append(f"{where}: {name} is not a finite number")
    return errs


@dataclass(frozen=True)
class ElementSet:
    """A validated mean element set (SGP4 theory, TEME frame, UTC epoch)."""

    norad: int
    name: str
    epoch_unix_s: float
    inclination_deg: float
    raan_deg: float
    eccentricity: float
    arg_perigee_deg: float
    mean_anomaly_deg: float
    mean_motion_rev_per_day: float
    bstar: float
    ndot: float
    nddot: float
    intldesg: str = ""
    classification: str = "U"
    element_set_no: int = 999
    rev_at_epoch: int = 0
    ephemeris_type: int = 0
    source: str = ""
    # Set when the elements came from a TLE: the satrec is then built from the
    # lines themselves (bit-for-bit what every other SGP4 user gets).
    line1: str | None = field(default=None, compare=False)
    line2: str | None = field(default=None, compare=False)

    @property
    def epoch(self) -> _dt.datetime:
        return unix_to_datetime(self.epoch_unix_s)

    def age_s(self, now_unix_s: float) -> float:
        return now_unix_s - self.epoch_unix_s

    @property
    def period_s(self) -> float:
        return SECONDS_PER_DAY / self.mean_motion_rev_per_day

    def satrec(self):
        """The sgp4 ``Satrec`` for this set (built once, then cached)."""
        sat = self.__dict__.get("_satrec")
        if sat is None:
            sat = self._build_satrec()
            object.__setattr__(self, "_satrec", sat)
        return sat

    def _build_satrec(self):
        from sgp4.api import Satrec

        if self.line1 and self.line2:
            return Satrec.twoline2rv(self.line1, self.line2)
        return satrec_from_fields(self)

    def tle_lines(self) -> tuple[str, str]:
        """Two TLE lines for this set (the original ones when it came from a TLE)."""
        if self.line1 and self.line2:
            return self.line1, self.line2
        from sgp4.exporter import export_tle

        return export_tle(self.satrec())

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["epoch"] = self.epoch.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ElementSet":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def satrec_from_fields(es: ElementSet):
    """Build an sgp4 ``Satrec`` from the element values (the OMM path)."""
    from sgp4.api import WGS72, Satrec

    sat = Satrec()
    epoch_days = (es.epoch_unix_s - _SGP4_EPOCH0_UNIX_S) / SECONDS_PER_DAY
    sat.sgp4init(
        WGS72, "i", es.norad, epoch_days, es.bstar,
        es.ndot / _NDOT_UNITS, es.nddot / _NDDOT_UNITS, es.eccentricity,
        math.radians(es.arg_perigee_deg), math.radians(es.inclination_deg),
        math.radians(es.mean_anomaly_deg), es.mean_motion_rev_per_day / 720.0 * math.pi,
        math.radians(es.raan_deg),
    )
    sat.classification = es.classification or "U"
    sat.intldesg = es.intldesg[:8]
    sat.ephtype = es.ephemeris_type
    sat.elnum = es.element_set_no
    sat.revnum = es.rev_at_epoch
    return sat


SGP4_ERRORS = {
    1: "mean eccentricity out of range",
    2: "mean motion below zero",
    3: "perturbed eccentricity out of range",
    4: "semi-latus rectum below zero",
    5: "(unused)",
    6: "orbit decayed",
}


def check_propagates(es: ElementSet, where: str) -> list[str]:
    """SGP4 must accept the set at its epoch (decayed or degenerate orbits fail here)."""
    try:
        sat = es.satrec()
    except Exception as e:  # sgp4 raises ValueError on some degenerate inputs
        return [f"{where}: SGP4 rejects the elements: {e}"]
    err, r, v = sat.sgp4_tsince(0.0)
    if err:
        return [f"{where}: SGP4 error {err} at epoch ({SGP4_ERRORS.get(err, 'unknown')})"]
    if not all(math.isfinite(x) for x in (*r, *v)):
        return [f"{where}: SGP4 gives no finite position at epoch"]
    return []
