"""Clocks: the scheduler asks a ``Clock`` for the time and sleeps on it.

``RealClock`` is the system clock. ``SimClock`` is simulated time: with
``speed=None`` a ``sleep_until`` jumps straight to its target (tests, dry
runs of a whole day in milliseconds); with ``speed=k`` simulated time runs
k times faster than the wall clock (demos). Times are UTC Unix seconds.

``sleep_until`` returns True when the target time was reached and False when
``cancel`` (a ``threading.Event``) was set first, so a sleeping executor can
be woken for shutdown or a replan.

Clock steps (an NTP step, a suspend, an operator setting the time): a
clock's ``step_offset_s()`` moves only when the clock is stepped, by the size
of the step (``RealClock``: the wall clock against CLOCK_MONOTONIC, which
NTP only slews; ``SimClock``: the sum of its ``step(dt_s)`` calls, which
shift simulated time either way; its own jumps, ``set``/``advance``, and
pauses are not steps). A loop that waits in station time compares it
between turns (``groundseg.station``: replans, marks the passes jumped over).

A ``SimClock`` can be paused (``with clock.paused(): ...``): simulated time
stands still while the station does slow work of its own that takes no
station time in reality, e.g. synthesising the signal of the next pass or
planning, so that a pass about to start is not made late by it. Never pause
while a flowgraph process runs: it follows the clock from an anchor taken
when it started (``executor.clock_anchor``).
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator, Protocol, runtime_checkable

from ..errors import InputError

_MAX_WAIT_S = 1.0  # re-check the wall clock at least this often (it may be stepped)
STEP_TOLERANCE_S = 2.0  # a change of step_offset_s() larger than this is a step (NTP slews < 0.5 ms/s)


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...

    def sleep_until(self, t_unix_s: float, cancel: threading.Event | None = None) -> bool: ...


class RealClock:
    def now(self) -> float:
        return time.time()

    def step_offset_s(self) -> float:
        """The wall clock against CLOCK_MONOTONIC: changes by the size of each step (see the docstring)."""
        return time.time() - time.monotonic()

    def sleep_until(self, t_unix_s: float, cancel: threading.Event | None = None) -> bool:
        ev = cancel or threading.Event()
        while True:
            left = t_unix_s - time.time()
            if left <= 0:
                return True
            if ev.wait(min(left, _MAX_WAIT_S)):
                return False


class SimClock:
    """Simulated time starting at ``start_unix_s``; instant (``speed=None``) or ``speed`` x real time."""

    def __init__(self, start_unix_s: float, speed: float | None = None):
        if speed is not None and not speed > 0:
            raise InputError(f"clock speed {speed!r} must be > 0")
        self.speed = speed
        self._lock = threading.Condition()
        self._base_sim = float(start_unix_s)
        self._base_wall = time.monotonic()
        self._paused = 0  # nesting depth of pause()
        self._stepped_s = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> float:
        if self.speed is None or self._paused:
            return self._base_sim
        return self._base_sim + (time.monotonic() - self._base_wall) * self.speed

    @property
    def is_paused(self) -> bool:
        return self._paused > 0

    def pause(self) -> None:
        """Stop simulated time (nestable; ``resume`` as often to restart it)."""
        with self._lock:
            if self._paused == 0:
                self._base_sim = self._now_locked()
                self._base_wall = time.monotonic()
            self._paused += 1

    def resume(self) -> None:
        with self._lock:
            if self._paused == 0:
                raise InputError("the clock is not paused")
            self._paused -= 1
            if self._paused == 0:
                self._base_wall = time.monotonic()  # time runs on from where it stopped
                self._lock.notify_all()

    @contextlib.contextmanager
    def paused(self) -> Iterator["SimClock"]:
        """Simulated time stands still inside the block."""
        self.pause()
        try:
            yield self
        finally:
            self.resume()

    def advance(self, dt_s: float) -> float:
        """Move simulated time forward by ``dt_s`` (waking sleepers); returns the new time."""
        if dt_s < 0:
            raise InputError("a clock does not run backwards")
        with self._lock:
            self._base_sim = self._now_locked() + dt_s
            self._base_wall = time.monotonic()
            self._lock.notify_all()
            return self._base_sim

    def step(self, dt_s: float) -> float:
        """Step the clock by ``dt_s`` either way, like an NTP step of a real clock; returns the new time."""
        with self._lock:
            self._base_sim = self._now_locked() + float(dt_s)
            self._base_wall = time.monotonic()
            self._stepped_s += float(dt_s)
            self._lock.notify_all()
            return self._base_sim

    def step_offset_s(self) -> float:
        """The sum of the steps so far (``step``); simulated jumps and pauses are not steps."""
        with self._lock:
            return self._stepped_s

    def set(self, t_unix_s: float) -> None:
        with self._lock:
            now = self._now_locked()
            if t_unix_s < now:
                raise InputError("a clock does not run backwards")
            self._base_sim, self._base_wall = float(t_unix_s), time.monotonic()
            self._lock.notify_all()

    def sleep_until(self, t_unix_s: float, cancel: threading.Event | None = None) -> bool:
        if cancel is not None and cancel.is_set():
            return False
        if self.speed is None:
            with self._lock:
                if t_unix_s > self._base_sim:
                    self._base_sim = float(t_unix_s)
                    self._lock.notify_all()
            return True
        while True:
            with self._lock:
                left = t_unix_s - self._now_locked()
                if left <= 0:
                    return True
                # Wake early enough for advance()/set() and for cancel checks.
                self._lock.wait(min(left / self.speed, 0.05))
            if cancel is not None and cancel.is_set():
                return False
