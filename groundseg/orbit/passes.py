"""Pass prediction: AOS, culmination, LOS, maximum elevation and the az/el track.

Propagation is sgp4's (``SatrecArray`` for the coarse search, ``sgp4_array``
per satellite for refinement); the frames are in ``frames.py``.

Method (vectorised over all satellites at once):

1. Sample the visibility margin f(t) = el(t) - horizon(az(t)) for every
   satellite on a coarse grid (``step_s``, default 120 s) that starts
   ``lookaround_s`` before the window, so a pass already under way at the
   window start gets its real AOS. The grid sits on whole multiples of
   ``step_s`` (absolute time), so a pass comes out bit-identical whatever
   window it was searched in: cached and fresh predictions agree.
2. A sign change of f between two samples brackets an AOS or a LOS. A sampled
   local maximum of f below zero but within ``near_miss_deg`` of it may hide a
   short pass between samples: its true maximum is found by golden-section
   search and, if above zero, gives an AOS and a LOS bracket.
3. AOS and LOS are solved to ``tol_s`` by a vectorised safeguarded Newton
   iteration (df/dt from the velocity: elevation rate minus mask slope times
   azimuth rate; bisection when a step leaves its bracket). Culmination is the
   root of the elevation rate next to the highest sample (Illinois iteration).

Limits: a visibility window shorter than about ``step_s`` that opens between
two obstacles of the mask (f not unimodal there) can be missed. With a flat
horizon a short pass is found as long as, half a step from its culmination,
the satellite is less than ``near_miss_deg`` below the horizon (true of Earth
orbits at the default step; the benchmark finds the same passes at 60 s). A set SGP4 gives up on (decay) is reported in
``PassSearch.problems`` and yields no passes from then on.

The horizon is the per-station mask (azimuth/elevation points, linearly
interpolated around the compass, never below ``min_el_deg``). Elevation is
geometric. Times are UTC Unix seconds, angles degrees.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from ..errors import InputError
from .elements import SGP4_ERRORS, ElementSet, iso_utc, jd_split
from .frames import Dut1Table, GroundStation, LookAngles, dut1_s, teme_to_ecef, topocentric

DEFAULT_STEP_S = 120.0
DEFAULT_LOOKAROUND_S = 1800.0
DEFAULT_NEAR_MISS_DEG = 10.0
DEFAULT_TOL_S = 1e-3
GOLDEN_TOL_S = 1.0  # locating a near miss's maximum: only its sign and a split point matter
TCA_TOL_S = 0.05  # culmination: elevation is flat there, 50 ms is plenty


@dataclass(frozen=True)
class HorizonMask:
    """The station's horizon: (az_deg, el_deg) points, interpolated linearly in azimuth.

    Between points the limit is linear; it wraps around north. The limit is
    never below ``min_el_deg``. No points = a flat horizon at ``min_el_deg``.
    """

    points: tuple[tuple[float, float], ...] = ()
    min_el_deg: float = 0.0

    def __post_init__(self):
        errs = []
        if not (-10.0 <= self.min_el_deg < 90.0):
            errs.append(f"min_el_deg {self.min_el_deg} is outside [-10, 90)")
        azs = []
        for i, p in enumerate(self.points):
            try:
                az, el = (float(x) for x in p)
            except (TypeError, ValueError):
                errs.append(f"point {i}: expected [az_deg, el_deg], got {p!r}")
                continue
            if not (0.0 <= az < 360.0):
                errs.append(f"point {i}: azimuth {az} is outside [0, 360)")
            if not (-10.0 <= el < 90.0):
                errs.append(f"point {i}: elevation {el} is outside [-10, 90)")
            azs.append(az)
        if len(set(azs)) != len(azs):
            errs.append("two points have the same azimuth")
        if errs:
            raise InputError("horizon mask: " + "; ".join(errs))
        object.__setattr__(self, "points", tuple(sorted((float(a), float(e)) for a, e in self.points)))

    def limit_deg(self, az_deg) -> np.ndarray:
        return self.limit_and_slope(az_deg)[0]

    def limit_and_slope(self, az_deg) -> tuple[np.ndarray, np.ndarray]:
        """The horizon limit (deg) and its slope d(limit)/d(az) (deg/deg) at these azimuths."""
        az = np.asarray(az_deg, dtype=float)
        if not self.points:
            return np.full(az.shape, self.min_el_deg), np.zeros(az.shape)
        a = np.array([p[0] for p in self.points])
        e = np.array([p[1] for p in self.points])
        a_ext = np.concatenate([[a[-1] - 360.0], a, [a[0] + 360.0]])
        e_ext = np.concatenate([[e[-1]], e, [e[0]]])
        azw = np.mod(az, 360.0)
        i = np.clip(np.searchsorted(a_ext, azw, side="right") - 1, 0, a_ext.size - 2)
        slope = (e_ext[i + 1] - e_ext[i]) / (a_ext[i + 1] - a_ext[i])
        lim = e_ext[i] + slope * (azw - a_ext[i])
        low = lim < self.min_el_deg
        return np.where(low, self.min_el_deg, lim), np.where(low, 0.0, slope)


@dataclass(frozen=True)
class Pass:
    """One visibility interval of one satellite over the station."""

    norad: int
    aos_unix_s: float
    tca_unix_s: float  # culmination: time of maximum elevation
    los_unix_s: float
    max_el_deg: float
    aos_az_deg: float
    tca_az_deg: float
    los_az_deg: float
    epoch_unix_s: float  # epoch of the element set used
    aos_truncated: bool = False  # visible already at the start of the search: AOS is that start
    los_truncated: bool = False  # still visible at the end of the search: LOS is that end

    @property
    def duration_s(self) -> float:
        return self.los_unix_s - self.aos_unix_s

    def overlaps(self, start_unix_s: float, end_unix_s: float) -> bool:
        return self.aos_unix_s < end_unix_s and self.los_unix_s > start_unix_s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["duration_s"] = self.duration_s
        d["aos"], d["tca"], d["los"] = (iso_utc(t) for t in (self.aos_unix_s, self.tca_unix_s, self.los_unix_s))
        return d


@dataclass
class PassSearch:
    """The result of a search: passes (by AOS) and per-satellite problems."""

    passes: list[Pass]
    problems: dict[int, str] = field(default_factory=dict)

    def for_norad(self, norad: int) -> list[Pass]:
        return [p for p in self.passes if p.norad == norad]


@dataclass
class Track:
    t_unix_s: np.ndarray
    az_deg: np.ndarray
    el_deg: np.ndarray
    range_m: np.ndarray
    range_rate_mps: np.ndarray


# --- propagation helpers -------------------------------------------------------

class _Propagator:
    """Evaluate (satellite index, time) pairs: grouped per satellite, one sgp4 call each."""

    def __init__(self, sets: Sequence[ElementSet], station: GroundStation, mask: HorizonMask, dut1: Dut1Table):
        self.sats = [es.satrec() for es in sets]
        self.station = station
        self.mask = mask
        self.dut1 = dut1

    def look(self, idx: np.ndarray, t: np.ndarray, rates: bool = True) -> LookAngles:
        r = np.full((t.size, 3), np.nan)
        v = np.full((t.size, 3), np.nan)
        order = np.argsort(idx, kind="stable")
        sidx = idx[order]
        bounds = np.flatnonzero(np.diff(sidx)) + 1
        for grp in np.split(order, bounds):
            if grp.size == 0:
                continue
            jd, fr = jd_split(t[grp])
            e, rr, vv = self.sats[idx[grp[0]]].sgp4_array(jd, fr)
            ok = e == 0
            r[grp[ok]] = rr[ok]
            v[grp[ok]] = vv[ok]
        re, ve = teme_to_ecef(r, v if rates else None, t, self.dut1)
        return topocentric(re, ve, self.station)

    def margin(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Visibility margin f = el - horizon(az), degrees (-180 where SGP4 failed)."""
        la = self.look(idx, t, rates=False)
        f = la.el_deg - self.mask.limit_deg(la.az_deg)
        return np.where(np.isfinite(f), f, -180.0)

    def margin_and_rate(self, idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """f and df/dt (deg/s): the elevation rate minus the mask slope times the azimuth rate."""
        la = self.look(idx, t)
        lim, slope = self.mask.limit_and_slope(la.az_deg)
        f = la.el_deg - lim
        df = la.el_rate_deg_s - slope * la.az_rate_deg_s
        bad = ~np.isfinite(f)
        return np.where(bad, -180.0, f), np.where(np.isfinite(df), df, 0.0)

    def el_rate(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        la = self.look(idx, t)
        return np.where(np.isfinite(la.el_rate_deg_s), la.el_rate_deg_s, 0.0)


def _newton(fun_df, idx, a, b, fa, fb, tol_s: float, max_iter: int = 50) -> np.ndarray:
    """Vectorised safeguarded Newton iteration for a root bracketed by [a, b].

    ``fa`` and ``fb`` have opposite signs (zero counts as positive);
    ``fun_df(idx, t)`` returns the function and its time derivative. A Newton
    step that leaves the bracket is replaced by bisection; the bracket shrinks
    at every step. Converged when the step is below ``tol_s``.
    """
    a, b, fa, fb = (np.array(x, dtype=float) for x in (a, b, fa, fb))
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (a * fb - b * fa) / (fb - fa)  # start from the chord
    x = np.where(np.isfinite(x) & (x > a) & (x < b), x, 0.5 * (a + b))
    active = (b - a) > tol_s
    for _ in range(max_iter):
        if not active.any():
            break
        k = np.flatnonzero(active)
        f, df = fun_df(idx[k], x[k])
        same_as_a = (f >= 0) == (fa[k] >= 0)
        a[k] = np.where(same_as_a, x[k], a[k])
        fa[k] = np.where(same_as_a, f, fa[k])
        b[k] = np.where(same_as_a, b[k], x[k])
        fb[k] = np.where(same_as_a, fb[k], f)
        with np.errstate(invalid="ignore", divide="ignore"):
            dx = f / df
        done = np.isfinite(dx) & (np.abs(dx) < tol_s)  # below float resolution of t, too
        xn = x[k] - dx
        ok = np.isfinite(xn) & (xn > a[k]) & (xn < b[k])
        xn = np.where(done, x[k], np.where(ok, xn, 0.5 * (a[k] + b[k])))
        x[k] = xn
        active[k] = ~done & ((b[k] - a[k]) > tol_s)
    return x


def _illinois(fun, idx, a, b, fa, fb, tol_s: float, max_iter: int = 60) -> np.ndarray:
    """Vectorised bracketed root finding (Illinois variant of regula falsi).

    ``fa`` and ``fb`` have opposite signs (zero counts as positive).
    Converged when the bracket is narrower than ``tol_s``.
    """
    a, b, fa, fb = (np.array(x, dtype=float) for x in (a, b, fa, fb))
    side = np.zeros(a.shape, dtype=np.int8)
    active = (b - a) > tol_s
    for _ in range(max_iter):
        if not active.any():
            break
        k = np.flatnonzero(active)
        aa, bb, ffa, ffb = a[k], b[k], fa[k], fb[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (aa * ffb - bb * ffa) / (ffb - ffa)
        bad = ~np.isfinite(c) | (c <= aa) | (c >= bb)
        c = np.where(bad, 0.5 * (aa + bb), c)
        fc = fun(idx[k], c)
        left = (fc >= 0) == (ffa >= 0)  # the root is between c and b: move a
        s = side[k]  # Illinois: halve the end value kept twice in a row
        fa[k] = np.where(left, fc, np.where(s == -1, ffa * 0.5, ffa))
        fb[k] = np.where(~left, fc, np.where(s == 1, ffb * 0.5, ffb))
        a[k] = np.where(left, c, aa)
        b[k] = np.where(left, bb, c)
        side[k] = np.where(left, 1, -1)
        active[k] = (b[k] - a[k]) > tol_s
    return 0.5 * (a + b)


def _golden_max(fun, idx, a, b, tol_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised golden-section search for the maximum of a unimodal function on [a, b]."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    c = b - g * (b - a)
    d = a + g * (b - a)
    fc, fd = fun(idx, c), fun(idx, d)
    n = int(math.ceil(math.log(max(float(np.max(b - a, initial=1.0)), tol_s) / tol_s) / -math.log(g))) + 1
    for _ in range(n):
        left = fc > fd  # the maximum is in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_new = np.where(left, b - g * (b - a), d)
        d_new = np.where(left, c, a + g * (b - a))
        fx = fun(idx, np.where(left, c_new, d_new))
        fc, fd = np.where(left, fx, fd), np.where(left, fc, fx)
        c, d = c_new, d_new
    t = 0.5 * (a + b)
    return t, fun(idx, t)


# --- the search ----------------------------------------------------------------

def find_passes(sets: Sequence[ElementSet], station: GroundStation, start_unix_s: float, end_unix_s: float,
                mask: HorizonMask | None = None, step_s: float = DEFAULT_STEP_S,
                lookaround_s: float = DEFAULT_LOOKAROUND_S, near_miss_deg: float = DEFAULT_NEAR_MISS_DEG,
                tol_s: float = DEFAULT_TOL_S) -> PassSearch:
    """Every pass of every set that overlaps [start, end), sorted by AOS."""
    if not end_unix_s > start_unix_s:
        raise InputError(f"pass search: end {end_unix_s} is not after start {start_unix_s}")
    if not 1.0 <= step_s <= 600.0:
        raise InputError(f"pass search: step_s {step_s} is outside [1, 600] s")
    if end_unix_s - start_unix_s > 366 * 86400.0:
        raise InputError("pass search: window longer than a year")
    mask = mask or HorizonMask()
    sets = list(sets)
    if not sets:
        return PassSearch([])
    # The grid sits on whole multiples of step_s: a pass gets the same brackets, hence
    # bit-identical times, whatever window it is searched in.
    k0 = math.floor((start_unix_s - lookaround_s) / step_s)
    k1 = math.ceil((end_unix_s + lookaround_s) / step_s)
    grid = np.arange(k0, k1 + 1, dtype=float) * step_s
    dut1 = Dut1Table(grid[0] - step_s, grid[-1] + step_s)
    prop = _Propagator(sets, station, mask, dut1)

    # 1. coarse samples for all satellites at once
    from sgp4.api import SatrecArray

    jd, fr = jd_split(grid)
    err, r, _v = SatrecArray(prop.sats).sgp4(jd, fr)
    re, _ = teme_to_ecef(r, None, grid[None, :], dut1(grid)[None, :])
    la = topocentric(re, None, station)
    f = la.el_deg - mask.limit_deg(la.az_deg)
    bad = (err != 0) | ~np.isfinite(f)
    f = np.where(bad, -180.0, f)
    problems = {}
    for i in np.flatnonzero(bad.any(axis=1)):
        j = int(np.flatnonzero(bad[i])[0])
        code = int(err[i, j])
        problems[sets[i].norad] = (f"SGP4 error {code} ({SGP4_ERRORS.get(code, 'unknown')}) from "
                                   f"{iso_utc(grid[j])}: no passes predicted after that")

    pos = f >= 0.0
    n_sat, n_t = f.shape
    # 2a. sign changes
    si, ti = np.nonzero(~pos[:, :-1] & pos[:, 1:])
    rise_idx, rise_a, rise_b = si, grid[ti], grid[ti + 1]
    rise_fa, rise_fb = f[si, ti], f[si, ti + 1]
    si, ti = np.nonzero(pos[:, :-1] & ~pos[:, 1:])
    set_idx, set_a, set_b = si, grid[ti], grid[ti + 1]
    set_fa, set_fb = f[si, ti], f[si, ti + 1]
    # 2b. near misses: sampled local maxima just below zero
    mid = f[:, 1:-1]
    near = (mid >= f[:, :-2]) & (mid > f[:, 2:]) & (mid < 0.0) & (mid > -near_miss_deg) & ~bad[:, 1:-1]
    si, ti = np.nonzero(near)
    ti = ti + 1
    if si.size:
        tm, fm = _golden_max(prop.margin, si, grid[ti - 1], grid[ti + 1], GOLDEN_TOL_S)
        up = fm >= 0.0
        si, ti, tm, fm = si[up], ti[up], tm[up], fm[up]
        rise_idx = np.concatenate([rise_idx, si])
        rise_a = np.concatenate([rise_a, grid[ti - 1]])
        rise_b = np.concatenate([rise_b, tm])
        rise_fa = np.concatenate([rise_fa, f[si, ti - 1]])
        rise_fb = np.concatenate([rise_fb, fm])
        set_idx = np.concatenate([set_idx, si])
        set_a = np.concatenate([set_a, tm])
        set_b = np.concatenate([set_b, grid[ti + 1]])
        set_fa = np.concatenate([set_fa, fm])
        set_fb = np.concatenate([set_fb, f[si, ti + 1]])

    # 3. refine AOS and LOS
    n_rise = rise_idx.size
    both = _newton(prop.margin_and_rate, np.concatenate([rise_idx, set_idx]), np.concatenate([rise_a, set_a]),
                   np.concatenate([rise_b, set_b]), np.concatenate([rise_fa, set_fa]),
                   np.concatenate([rise_fb, set_fb]), tol_s)
    rise_t, set_t = both[:n_rise], both[n_rise:]

    # 4. pair them per satellite
    intervals: list[tuple[int, float, float, bool, bool]] = []
    for s in range(n_sat):
        if sets[s].norad in problems and not pos[s].any():
            continue
        rises = np.sort(rise_t[rise_idx == s])
        sets_ = np.sort(set_t[set_idx == s])
        ev = sorted([(t, 1) for t in rises] + [(t, -1) for t in sets_])
        cur = start_unix_s - lookaround_s if pos[s, 0] else None
        trunc = bool(pos[s, 0])
        for t, kind in ev:
            if kind == 1:
                cur, trunc = t, False
            elif cur is not None:
                intervals.append((s, cur, t, trunc, False))
                cur = None
        if cur is not None:
            intervals.append((s, cur, end_unix_s + lookaround_s, trunc, True))
    intervals = [iv for iv in intervals if iv[2] > start_unix_s and iv[1] < end_unix_s and iv[2] > iv[1]]
    if not intervals:
        return PassSearch([], problems)

    # 5. culmination: the elevation-rate root next to the highest sample in the pass
    idx = np.array([iv[0] for iv in intervals])
    aos = np.array([iv[1] for iv in intervals])
    los = np.array([iv[2] for iv in intervals])
    el_grid = np.where(bad, -180.0, la.el_deg)
    lo_k = np.searchsorted(grid, aos, side="right")
    hi_k = np.searchsorted(grid, los, side="left")
    best_t = np.empty(idx.size)
    for j in range(idx.size):
        if hi_k[j] > lo_k[j]:
            k = lo_k[j] + int(np.argmax(el_grid[idx[j], lo_k[j]:hi_k[j]]))
            best_t[j] = grid[k]
        else:
            best_t[j] = 0.5 * (aos[j] + los[j])
    a = np.maximum(aos, best_t - step_s)
    b = np.minimum(los, best_t + step_s)
    ra, rb = prop.el_rate(idx, a), prop.el_rate(idx, b)
    inside = (ra > 0) & (rb < 0)
    tca = 0.5 * (a + b)
    if inside.any():
        k = np.flatnonzero(inside)
        tca[k] = _illinois(prop.el_rate, idx[k], a[k], b[k], ra[k], rb[k], TCA_TOL_S)
    # endpoints where the maximum sits on an edge: keep the higher of a and b
    edge = ~inside
    if edge.any():
        k = np.flatnonzero(edge)
        ea = prop.look(idx[k], a[k], rates=False).el_deg
        eb = prop.look(idx[k], b[k], rates=False).el_deg
        tca[k] = np.where(ea >= eb, a[k], b[k])

    la_aos = prop.look(idx, aos, rates=False)
    la_tca = prop.look(idx, tca, rates=False)
    la_los = prop.look(idx, los, rates=False)
    out = [Pass(norad=sets[int(idx[j])].norad, aos_unix_s=float(aos[j]), tca_unix_s=float(tca[j]),
                los_unix_s=float(los[j]), max_el_deg=float(la_tca.el_deg[j]), aos_az_deg=float(la_aos.az_deg[j]),
                tca_az_deg=float(la_tca.az_deg[j]), los_az_deg=float(la_los.az_deg[j]),
                epoch_unix_s=sets[int(idx[j])].epoch_unix_s, aos_truncated=bool(intervals[j][3]),
                los_truncated=bool(intervals[j][4]))
           for j in range(idx.size)]
    out.sort(key=lambda p: (p.aos_unix_s, p.norad))
    return PassSearch(out, problems)


def look_angles(es: ElementSet, station: GroundStation, t_unix_s) -> Track:
    """Azimuth, elevation, range and range rate of one satellite at the given times."""
    t = np.atleast_1d(np.asarray(t_unix_s, dtype=float))
    jd, fr = jd_split(t)
    e, r, v = es.satrec().sgp4_array(jd, fr)
    if np.any(e != 0):
        j = int(np.flatnonzero(e)[0])
        raise InputError(f"NORAD {es.norad}: SGP4 error {int(e[j])} ({SGP4_ERRORS.get(int(e[j]), 'unknown')}) "
                         f"at {iso_utc(t[j])}")
    re, ve = teme_to_ecef(r, v, t, dut1_s(t))
    la = topocentric(re, ve, station)
    return Track(t, la.az_deg, la.el_deg, la.range_m, la.range_rate_mps)


def pass_track(p: Pass, es: ElementSet, station: GroundStation, step_s: float = 1.0) -> Track:
    """The az/el track of a pass from AOS to LOS (both included) every ``step_s``."""
    if not step_s > 0:
        raise InputError(f"track step {step_s} s must be > 0")
    n = max(2, int(math.ceil(p.duration_s / step_s)) + 1)
    t = np.linspace(p.aos_unix_s, p.los_unix_s, n)
    return look_angles(es, station, t)
