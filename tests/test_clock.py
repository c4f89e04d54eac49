"""Clocks for the scheduler: real and simulated (instant or sped up). No timing assertions."""
from __future__ import annotations

import threading
import time

import pytest

from groundseg.errors import InputError
from groundseg.schedule import Clock, RealClock, SimClock

T0 = 1_800_000_000.0


def test_both_clocks_follow_the_protocol():
    assert isinstance(RealClock(), Clock) and isinstance(SimClock(T0), Clock)


def test_instant_sim_clock_jumps_to_the_target():
    c = SimClock(T0)
    assert c.now() == T0
    assert c.sleep_until(T0 + 86400) is True
    assert c.now() == T0 + 86400
    assert c.sleep_until(T0) is True and c.now() == T0 + 86400  # never backwards
    assert c.advance(5) == T0 + 86405
    with pytest.raises(InputError, match="backwards"):
        c.advance(-1)
    with pytest.raises(InputError, match="backwards"):
        c.set(T0)


def test_fast_sim_clock_reaches_its_target():
    c = SimClock(T0, speed=2000.0)
    assert c.sleep_until(T0 + 100.0) is True  # 50 ms of wall time
    assert c.now() >= T0 + 100.0
    a = c.now()
    b = c.now()
    assert b >= a  # monotonic


def test_cancel_wakes_a_sleeper():
    c = SimClock(T0, speed=1e-6)  # would take ~3 years of wall time to reach the target
    cancel = threading.Event()
    result = []
    th = threading.Thread(target=lambda: result.append(c.sleep_until(T0 + 100.0, cancel)))
    th.start()
    cancel.set()
    th.join(timeout=30)
    assert result == [False]
    assert c.sleep_until(T0 + 100.0, cancel) is False  # already cancelled: returns at once


def test_advance_wakes_a_sleeper():
    c = SimClock(T0, speed=1e-6)
    result = []
    th = threading.Thread(target=lambda: result.append(c.sleep_until(T0 + 100.0)))
    th.start()
    c.advance(200.0)
    th.join(timeout=30)
    assert result == [True] and c.now() >= T0 + 200.0


def test_real_clock():
    c = RealClock()
    assert abs(c.now() - time.time()) < 5.0
    assert c.sleep_until(c.now() - 10) is True
    ev = threading.Event()
    ev.set()
    assert c.sleep_until(c.now() + 3600, ev) is False


def test_bad_speed():
    with pytest.raises(InputError, match="speed"):
        SimClock(T0, speed=0)


def test_a_paused_clock_stands_still_and_runs_on_from_there():
    c = SimClock(T0, speed=1e6)           # a wall millisecond is 1000 simulated seconds
    with c.paused():
        t = c.now()
        with c.paused():                  # nestable
            time.sleep(0.01)
        time.sleep(0.01)
        assert c.now() == t and c.is_paused
    assert not c.is_paused
    assert c.now() >= t                   # never backwards
    c2 = SimClock(T0, speed=1e-6)
    c2.pause()
    c2.advance(50.0)                      # explicit moves still move it
    assert c2.now() == T0 + 50.0
    c2.resume()
    with pytest.raises(InputError, match="not paused"):
        c2.resume()


def test_a_sleeper_on_a_paused_clock_waits_for_the_resume():
    c = SimClock(T0, speed=1e6)
    c.pause()
    target = c.now() + 10.0               # 10 us of wall time once the clock runs
    result = []
    th = threading.Thread(target=lambda: result.append(c.sleep_until(target)))
    th.start()
    th.join(timeout=0.2)
    assert result == [] and th.is_alive() and c.now() < target
    c.resume()
    th.join(timeout=30)
    assert result == [True] and c.now() >= target
