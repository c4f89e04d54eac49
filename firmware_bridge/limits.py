"""Rotator limits: the mechanical range an angle must fall in, checked, never clamped.

Azimuth may span more than one turn (``max_az_deg`` up to 450 for rotators with
overlap) and elevation may go past the zenith (``max_el_deg`` up to 180 for
rotators that can "flip"). :mod:`firmware_bridge.pointing` uses both to plan a
pass without crossing the azimuth stop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from groundseg.errors import InputError

from .errors import LimitError

_KEYS = ("min_az_deg", "max_az_deg", "min_el_deg", "max_el_deg")


@dataclass(frozen=True)
class Limits:
    min_az_deg: float = 0.0
    max_az_deg: float = 360.0
    min_el_deg: float = 0.0
    max_el_deg: float = 90.0

    def __post_init__(self):
        for k in _KEYS:
            v = getattr(self, k)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise InputError(f"rotator limit {k} must be a finite number, not {v!r}")
        if not self.min_az_deg < self.max_az_deg:
            raise InputError(f"rotator limits: min_az_deg {self.min_az_deg} must be below max_az_deg {self.max_az_deg}")
        if not self.min_el_deg < self.max_el_deg:
            raise InputError(f"rotator limits: min_el_deg {self.min_el_deg} must be below max_el_deg {self.max_el_deg}")
        if self.min_el_deg < -90 or self.max_el_deg > 180:
            raise InputError("rotator limits: elevation must lie within -90..180 degrees")

    @classmethod
    def from_dict(cls, d: dict) -> "Limits":
        unknown = set(d) - set(_KEYS)
        if unknown:
            raise InputError(f"unknown rotator limit(s) {sorted(unknown)} (known: {', '.join(_KEYS)})")
        return cls(**d)

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in _KEYS}

    @property
    def overlap_deg(self) -> float:
        """Azimuth range beyond one turn (90 for a 450-degree rotator)."""
        return max(0.0, self.max_az_deg - self.min_az_deg - 360.0)

    @property
    def can_flip(self) -> bool:
        """Elevation reaches past the zenith to the opposite horizon."""
        return self.max_el_deg >= 180.0 - max(self.min_el_deg, 0.0) - 1e-9

    def within(self, outer: "Limits") -> bool:
        return (self.min_az_deg >= outer.min_az_deg and self.max_az_deg <= outer.max_az_deg
                and self.min_el_deg >= outer.min_el_deg and self.max_el_deg <= outer.max_el_deg)

    def check(self, az_deg: float, el_deg: float, device: str = "rotator") -> None:
        """Raise :class:`LimitError` unless both angles are finite and inside the limits."""
        for name, v in (("azimuth", az_deg), ("elevation", el_deg)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise LimitError(f"{device}: {name} must be a finite number of degrees, not {v!r}")
        if not self.min_az_deg <= az_deg <= self.max_az_deg:
            raise LimitError(f"{device}: azimuth {az_deg:g} deg outside the limits "
                             f"{self.min_az_deg:g}..{self.max_az_deg:g} deg")
        if not self.min_el_deg <= el_deg <= self.max_el_deg:
            raise LimitError(f"{device}: elevation {el_deg:g} deg outside the limits "
                             f"{self.min_el_deg:g}..{self.max_el_deg:g} deg")
