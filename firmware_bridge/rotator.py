"""The rotator interface every protocol driver implements.

A :class:`Rotator` answers ``position()``, ``point(az_deg, el_deg)``,
``stop()`` and ``park()`` in the rotator's own coordinates (azimuth may run
past 360 on a 450-degree rotator, elevation past 90 on one that flips; see
:mod:`firmware_bridge.pointing` for turning sky angles into these).

Each operation is tried ``retries + 1`` times, each attempt bounded by
``timeout_s``; so a rotator that never answers fails within
``timeout_s * (retries + 1)`` plus a little slack (serial drivers let late
replies drain for at most 0.2 s after each failed attempt), with
:class:`~firmware_bridge.errors.OperationFailed`. Every fault is counted in
``counters`` (a dict, one per device). Angles outside ``limits`` raise
:class:`~firmware_bridge.errors.LimitError` before anything is sent.

Drivers implement ``_position_once``, ``_point_once`` and ``_stop_once``
(one attempt each, given a ``time.monotonic()`` deadline) and may override
``_park_once``.
"""
from __future__ import annotations

import abc
import math
import threading
import time
from typing import Callable, NamedTuple, TypeVar

from groundseg.errors import InputError

from .counters import DeviceCounters
from .errors import BridgeHardwareError, DeviceTimeout, LimitError
from .retry import run_with_retries
from .limits import Limits

T = TypeVar("T")


class Position(NamedTuple):
    az_deg: float
    el_deg: float


def _positive(name: str, v, allow_zero: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{name} must be a positive number, not {v!r}")
    return float(v)


class Rotator(abc.ABC):
    """Common behaviour: limits, retries with per-attempt deadlines, fault counters."""

    #: registry name of the protocol (set by the factory; informative)
    protocol: str = "?"
    #: smallest angle step the protocol carries, in degrees
    resolution_deg: float = 1.0
    #: limits the wire format itself can express (configured limits must lie inside)
    wire_limits: Limits = Limits(-360.0, 450.0, -90.0, 180.0)

    def __init__(self, *, name: str = "rotator", limits: Limits | None = None,
                 timeout_s: float = 1.0, retries: int = 2,
                 park_az_deg: float | None = None, park_el_deg: float | None = None,
                 counters: DeviceCounters | None = None):
        self.name = name
        self.limits = limits or Limits()
        if not self.limits.within(self.wire_limits):
            raise InputError(f"{name}: limits {self.limits.as_dict()} exceed what the "
                             f"{self.protocol} protocol can express {self.wire_limits.as_dict()}")
        self.timeout_s = _positive("timeout_s", timeout_s)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InputError(f"retries must be a whole number >= 0, not {retries!r}")
        self.retries = retries
        park_az = park_az_deg if park_az_deg is not None else max(0.0, self.limits.min_az_deg)
        park_el = park_el_deg if park_el_deg is not None else max(0.0, self.limits.min_el_deg)
        try:
            self.limits.check(park_az, park_el, f"{name} park position")
        except LimitError as e:
            raise InputError(str(e)) from None
        self.park_position = Position(float(park_az), float(park_el))
        self.counters = counters if counters is not None else DeviceCounters(name)
        self.lock = threading.RLock()

    # --- public interface ----------------------------------------------------

    def open(self) -> "Rotator":
        """Connect now (so a missing device is reported at start, not at first use)."""
        return self

    def close(self) -> None:
        """Release the port or connection."""

    def position(self) -> Position:
        """Current (az_deg, el_deg) as the controller reports it."""
        return self._run("position", self._position_once)

    def point(self, az_deg: float, el_deg: float) -> Position:
        """Command a move to (az_deg, el_deg); returns the position read back.

        Raises LimitError (counted in ``limit_rejects``) for angles outside the
        limits, without sending anything.
        """
        try:
            self.limits.check(az_deg, el_deg, self.name)
        except LimitError:
            self.counters.inc("limit_rejects")
            raise
        return self._run("point", lambda deadline: self._point_once(float(az_deg), float(el_deg), deadline))

    def stop(self) -> None:
        self._run("stop", self._stop_once)

    def park(self) -> Position:
        """Move to the configured park position."""
        try:
            self.limits.check(*self.park_position, f"{self.name} park position")
        except LimitError:
            self.counters.inc("limit_rejects")
            raise
        return self._run("park", self._park_once)

    def wait_for(self, az_deg: float, el_deg: float, tolerance_deg: float | None = None,
                 timeout_s: float = 120.0, poll_s: float = 0.5) -> Position:
        """Poll until within ``tolerance_deg`` of the target (default: one resolution step).

        Raises DeviceTimeout (counted) if the rotator does not get there in time.
        """
        tol = self.resolution_deg if tolerance_deg is None else tolerance_deg
        end = time.monotonic() + timeout_s
        while True:
            pos = self.position()
            if abs(pos.az_deg - az_deg) <= tol and abs(pos.el_deg - el_deg) <= tol:
                return pos
            if time.monotonic() + poll_s > end:
                self.counters.inc("timeouts")
                raise DeviceTimeout(f"{self.name}: did not reach az {az_deg:g} el {el_deg:g} within "
                                    f"{timeout_s:g} s (at az {pos.az_deg:g} el {pos.el_deg:g})")
            time.sleep(poll_s)

    def describe(self) -> str:
        return f"{self.name} ({self.protocol})"

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    # --- retry core -----------------------------------------------------------

    def _run(self, op: str, attempt: Callable[[float], T]) -> T:
        with self.lock:
            return run_with_retries(self.name, op, attempt, timeout_s=self.timeout_s, retries=self.retries,
                                    counters=self.counters, after_fault=self._after_fault)

    def _after_fault(self, exc: BridgeHardwareError) -> None:
        """Hook: resynchronise after a fault (drivers drop stale input, reconnect...)."""

    # --- driver hooks ---------------------------------------------------------

    @abc.abstractmethod
    def _position_once(self, deadline: float) -> Position: ...

    @abc.abstractmethod
    def _point_once(self, az_deg: float, el_deg: float, deadline: float) -> Position: ...

    @abc.abstractmethod
    def _stop_once(self, deadline: float) -> None: ...

    def _park_once(self, deadline: float) -> Position:
        return self._point_once(self.park_position.az_deg, self.park_position.el_deg, deadline)
