"""Coordinate transforms for look angles: TEME (SGP4 output) -> Earth-fixed -> topocentric.

TEME -> Earth-fixed (pseudo Earth-fixed, polar motion neglected: < 15 m) is a
rotation about z by the Greenwich mean sidereal time of IAU 1982, the angle
SGP4's TEME frame is defined with (Vallado et al., "Revisiting Spacetrack
Report #3", 2006). UT1 comes from UTC plus DUT1 taken from skyfield's bundled
IERS table (no download). The station is placed on the WGS84 ellipsoid and
the topocentric frame is East-North-Up about the geodetic normal. Elevation
is geometric (no refraction).

All functions are numpy-vectorised: times broadcast against the leading axes
of position arrays shaped (..., 3).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .elements import SECONDS_PER_DAY, UNIX_EPOCH_JD

WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
EARTH_ROTATION_RAD_S = 7.292115146706979e-5  # as in Vallado's TEME<->PEF velocity transform
J2000_JD = 2451545.0


@dataclass(frozen=True)
class GroundStation:
    """A place on the WGS84 ellipsoid."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    name: str = ""

    def __post_init__(self):
        from ..errors import InputError

        errs = []
        if not (-90.0 <= self.lat_deg <= 90.0):
            errs.append(f"latitude {self.lat_deg} is outside [-90, 90] degrees")
        if not (-180.0 <= self.lon_deg <= 360.0):
            errs.append(f"longitude {self.lon_deg} is outside [-180, 360] degrees")
        if not (-500.0 <= self.alt_m <= 10000.0):
            errs.append(f"altitude {self.alt_m} m is outside [-500, 10000] m")
        if errs:
            raise InputError("station: " + "; ".join(errs))

    @functools.cached_property
    def ecef_m(self) -> np.ndarray:
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        e2 = WGS84_F * (2.0 - WGS84_F)
        n = WGS84_A_M / math.sqrt(1.0 - e2 * math.sin(lat) ** 2)
        return np.array([(n + self.alt_m) * math.cos(lat) * math.cos(lon),
                         (n + self.alt_m) * math.cos(lat) * math.sin(lon),
                         (n * (1.0 - e2) + self.alt_m) * math.sin(lat)])

    @functools.cached_property
    def enu_matrix(self) -> np.ndarray:
        """Rows: unit East, North, Up vectors in the Earth-fixed frame."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
        return np.array([[-so, co, 0.0],
                         [-sl * co, -sl * so, cl],
                         [cl * co, cl * so, sl]])


@functools.lru_cache(maxsize=1)
def _timescale():
    from skyfield.api import load

    return load.timescale(builtin=True)


class Dut1Table:
    """UT1 - UTC over a span: skyfield's values at 0h UTC of each day, interpolated linearly.

    DUT1 drifts by about a millisecond a day; the knots sit on whole days, so
    the value at a given instant does not depend on the span asked for.
    """

    def __init__(self, start_unix_s: float, end_unix_s: float):
        d0 = math.floor(start_unix_s / SECONDS_PER_DAY)
        d1 = math.floor(end_unix_s / SECONDS_PER_DAY) + 1
        self.knots = np.arange(d0, d1 + 1) * SECONDS_PER_DAY
        self.values = np.atleast_1d(skyfield_time(self.knots).dut1)

    def __call__(self, t_unix_s) -> np.ndarray:
        return np.interp(t_unix_s, self.knots, self.values)


def dut1_s(t_unix_s) -> np.ndarray:
    """UT1 - UTC in seconds (skyfield's bundled IERS data and its long-term model)."""
    t = np.asarray(t_unix_s, dtype=float)
    return Dut1Table(float(np.min(t)), float(np.max(t)))(t)


def skyfield_time(t_unix_s):
    """A skyfield ``Time`` for UTC Unix seconds (which do not count leap seconds)."""
    t = np.asarray(t_unix_s, dtype=float)
    days = np.floor(t / SECONDS_PER_DAY)
    return _timescale().utc(1970, 1, 1 + days, 0, 0, t - days * SECONDS_PER_DAY)


def gmst82_rad(t_unix_s, dut1=None) -> np.ndarray:
    """Greenwich mean sidereal time (IAU 1982) at UTC Unix times, radians in [0, 2 pi).

    ``dut1``: seconds (array broadcasting with the times) or a ``Dut1Table``;
    default: looked up for these times.
    """
    t = np.asarray(t_unix_s, dtype=float)
    if dut1 is None:
        dut1 = dut1_s(t)
    elif callable(dut1):
        dut1 = dut1(t)
    ut1 = t + dut1
    days = np.floor(ut1 / SECONDS_PER_DAY)
    frac = (ut1 - days * SECONDS_PER_DAY) / SECONDS_PER_DAY
    tu = (UNIX_EPOCH_JD - J2000_JD + days + frac) / 36525.0
    # Seconds of sidereal time; the 876600 h term written as whole days keeps precision.
    gmst_s = (67310.54841 + 8640184.812866 * tu + 0.093104 * tu * tu - 6.2e-6 * tu ** 3
              + frac * SECONDS_PER_DAY + ((UNIX_EPOCH_JD - J2000_JD + days) % 1.0) * SECONDS_PER_DAY)
    return np.mod(gmst_s, SECONDS_PER_DAY) * (2.0 * math.pi / SECONDS_PER_DAY)


def teme_to_ecef(r_km: np.ndarray, v_kmps: np.ndarray | None, t_unix_s, dut1=None):
    """Rotate TEME position (km) and velocity (km/s) to Earth-fixed metres and m/s."""
    theta = gmst82_rad(t_unix_s, dut1)
    c, s = np.cos(theta), np.sin(theta)
    x, y, z = r_km[..., 0] * 1e3, r_km[..., 1] * 1e3, r_km[..., 2] * 1e3
    xe = c * x + s * y
    ye = -s * x + c * y
    r = np.stack([xe, ye, np.broadcast_to(z, xe.shape)], axis=-1)
    if v_kmps is None:
        return r, None
    vx, vy, vz = v_kmps[..., 0] * 1e3, v_kmps[..., 1] * 1e3, v_kmps[..., 2] * 1e3
    w = EARTH_ROTATION_RAD_S
    vxe = c * vx + s * vy + w * ye
    vye = -s * vx + c * vy - w * xe
    v = np.stack([vxe, vye, np.broadcast_to(vz, vxe.shape)], axis=-1)
    return r, v


@dataclass
class LookAngles:
    """Topocentric view of satellites (arrays shaped like the input times)."""

    az_deg: np.ndarray
    el_deg: np.ndarray
    range_m: np.ndarray
    range_rate_mps: np.ndarray | None = None
    el_rate_deg_s: np.ndarray | None = None
    az_rate_deg_s: np.ndarray | None = None


def topocentric(r_ecef_m: np.ndarray, v_ecef_mps: np.ndarray | None, station: GroundStation) -> LookAngles:
    """Azimuth (from north, east positive), elevation, range and their rates."""
    m = station.enu_matrix
    s = station.ecef_m
    rx, ry, rz = r_ecef_m[..., 0] - s[0], r_ecef_m[..., 1] - s[1], r_ecef_m[..., 2] - s[2]
    e = m[0, 0] * rx + m[0, 1] * ry
    n = m[1, 0] * rx + m[1, 1] * ry + m[1, 2] * rz
    u = m[2, 0] * rx + m[2, 1] * ry + m[2, 2] * rz
    h2 = e * e + n * n
    horiz = np.sqrt(h2)
    rng = np.sqrt(h2 + u * u)
    az = np.degrees(np.arctan2(e, n)) % 360.0
    el = np.degrees(np.arctan2(u, horiz))
    if v_ecef_mps is None:
        return LookAngles(az, el, rng)
    vx, vy, vz = v_ecef_mps[..., 0], v_ecef_mps[..., 1], v_ecef_mps[..., 2]
    de = m[0, 0] * vx + m[0, 1] * vy
    dn = m[1, 0] * vx + m[1, 1] * vy + m[1, 2] * vz
    du = m[2, 0] * vx + m[2, 1] * vy + m[2, 2] * vz
    rr = (e * de + n * dn + u * du) / rng
    with np.errstate(invalid="ignore", divide="ignore"):
        dh = (e * de + n * dn) / horiz
        el_rate = np.degrees((du * horiz - u * dh) / (rng * rng))
        az_rate = np.degrees((n * de - e * dn) / h2)
    return LookAngles(az, el, rng, rr, el_rate, az_rate)
