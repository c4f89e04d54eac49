"""The mechanics behind the rotator emulators: two axes slewing at a fixed rate.

Each axis moves toward its target at ``az_rate_dps`` / ``el_rate_dps`` and
stops there; a target outside the limits is refused (the controller's error
reply), never clamped. A jammed axis (``jam("az")``) does not move, the way
a seized gearbox looks to a controller. Time comes from ``clock`` (tests may
pass a fake one).
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from ..limits import Limits


class RotatorModel:
    def __init__(self, *, az_deg: float = 0.0, el_deg: float = 0.0, limits: Limits | None = None,
                 az_rate_dps: float = 6.0, el_rate_dps: float = 3.0,
                 clock: Callable[[], float] = time.monotonic):
        self.limits = limits or Limits(0.0, 450.0, 0.0, 180.0)
        self.limits.check(az_deg, el_deg, "emulated rotator start position")
        self.az_rate_dps = float(az_rate_dps)
        self.el_rate_dps = float(el_rate_dps)
        self.clock = clock
        self._az = self._az_target = float(az_deg)
        self._el = self._el_target = float(el_deg)
        self._t = clock()
        self.jammed: set[str] = set()
        self._lock = threading.Lock()

    def _advance(self) -> None:
        now = self.clock()
        dt = max(0.0, now - self._t)
        self._t = now
        if "az" not in self.jammed:
            self._az = _step(self._az, self._az_target, self.az_rate_dps * dt)
        if "el" not in self.jammed:
            self._el = _step(self._el, self._el_target, self.el_rate_dps * dt)

    def position(self) -> tuple[float, float]:
        with self._lock:
            self._advance()
            return self._az, self._el

    def target(self) -> tuple[float, float]:
        with self._lock:
            return self._az_target, self._el_target

    def command(self, az_deg: float | None = None, el_deg: float | None = None) -> bool:
        """Set new targets; False (nothing changes) if one lies outside the limits."""
        with self._lock:
            self._advance()
            az = self._az_target if az_deg is None else float(az_deg)
            el = self._el_target if el_deg is None else float(el_deg)
            if not (self.limits.min_az_deg <= az <= self.limits.max_az_deg
                    and self.limits.min_el_deg <= el <= self.limits.max_el_deg):
                return False
            self._az_target, self._el_target = az, el
            return True

    def stop(self, axis: str = "both") -> None:
        with self._lock:
            self._advance()
            if axis in ("both", "az"):
                self._az_target = self._az
            if axis in ("both", "el"):
                self._el_target = self._el

    def moving(self) -> bool:
        with self._lock:
            self._advance()
            return (abs(self._az - self._az_target) > 1e-9 or abs(self._el - self._el_target) > 1e-9)

    def jam(self, axis: str | None) -> None:
        """Jam 'az' or 'el' (or clear with None)."""
        with self._lock:
            self._advance()
            self.jammed = set() if axis is None else self.jammed | {axis}


def _step(pos: float, target: float, max_step: float) -> float:
    if abs(target - pos) <= max_step:
        return target
    return pos + max_step if target > pos else pos - max_step
