"""From sky angles to rotator angles for a whole pass: use the overlap, or flip.

A pass that crosses the azimuth stop (north, on most rotators) would need the
rotator to unwind a full turn in the middle of the pass. Two ways out:

* **overlap**: a 450-degree rotator reaches 0..90 twice (as 360..450), so
  the track can run on without a jump;
* **flip**: a rotator whose elevation reaches 180 points at (az, el) as
  (az + 180, 180 - el), which moves the whole pass half a turn away from
  the stop.

:func:`plan_pass` looks at the whole track before the pass starts and
chooses: no flip if possible (then the azimuth window nearest the current
position), flip otherwise; if neither avoids the stop, the plan says so
(``continuous=False``), it does not hide it. The plan then maps every sky
position of the pass the same way: ``plan.to_rotator(az, el)`` for
:meth:`Rotator.point`, ``plan.to_sky`` for what the rotator reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from groundseg.errors import InputError

from .limits import Limits

_EPS = 1e-7
_DECIMALS = 6   # rotator angles are rounded to 1e-6 degree (no rotator resolves less)


@dataclass(frozen=True)
class PassPointing:
    flip: bool
    #: rotator azimuths of this pass fall in [az_window_start_deg, +360)
    az_window_start_deg: float
    #: False when no choice keeps the pass clear of the azimuth stop
    continuous: bool = True

    def to_rotator(self, az_deg: float, el_deg: float) -> tuple[float, float]:
        if self.flip:
            az, el = (az_deg + 180.0) % 360.0, 180.0 - el_deg
        else:
            az, el = az_deg % 360.0, el_deg
        start = self.az_window_start_deg
        return round(start + ((az - start) % 360.0), _DECIMALS) + 0.0, round(el, _DECIMALS) + 0.0

    def to_sky(self, az_deg: float, el_deg: float) -> tuple[float, float]:
        if self.flip:
            return (az_deg - 180.0) % 360.0, 180.0 - el_deg
        return az_deg % 360.0, el_deg


def _unwrap(az: Sequence[float]) -> list[float]:
    out = [az[0]]
    for a in az[1:]:
        out.append(out[-1] + ((a - out[-1] + 180.0) % 360.0 - 180.0))
    return out


def plan_pass(track: Iterable[tuple[float, float]], limits: Limits,
              current_az_deg: float | None = None) -> PassPointing:
    """Choose how to point the rotator during a pass (``track``: sky (az_deg, el_deg) in time order)."""
    pts = [(float(a), float(e)) for a, e in track]
    if not pts:
        raise InputError("plan_pass: empty track")
    options = []
    for flip in (False, True):
        if flip and not limits.can_flip:
            continue
        probe = PassPointing(flip, 0.0)
        mapped = [probe.to_rotator(a, e) for a, e in pts]
        if any(not limits.min_el_deg - _EPS <= e <= limits.max_el_deg + _EPS for _, e in mapped):
            continue
        u = _unwrap([a for a, _ in mapped])
        lo, hi = min(u), max(u)
        span = hi - lo
        if span >= 360.0:
            continue
        for k in range(-2, 3):
            lo_k, hi_k = lo + 360.0 * k, hi + 360.0 * k
            if lo_k < limits.min_az_deg - _EPS or hi_k > limits.max_az_deg + _EPS:
                continue
            # The window only decides which turn an azimuth maps to: centre the track
            # in it, so points at the ends (and small deviations at run time) map
            # to the right turn. It may reach past the limits; the angles do not.
            margin = (360.0 - span) / 2.0
            start_az = u[0] + 360.0 * k
            slew = abs(start_az - current_az_deg) if current_az_deg is not None else 0.0
            options.append(((flip, slew), PassPointing(flip, lo_k - margin)))
    if options:
        return min(options, key=lambda o: o[0])[1]
    return PassPointing(False, limits.min_az_deg, continuous=False)
