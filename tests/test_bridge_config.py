"""Limits (450-degree azimuth, 180-degree elevation), pass pointing (overlap / flip), the factory and registry."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import LimitError
from firmware_bridge.factory import rotator_from_config
from firmware_bridge.limits import Limits
from firmware_bridge.pointing import plan_pass
from firmware_bridge.registry import emulators, rotator_protocols
from groundseg.errors import InputError
from groundseg.registry import DuplicateRegistration


# --- limits ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    dict(min_az_deg=10, max_az_deg=10), dict(min_el_deg=90, max_el_deg=0), dict(max_el_deg=181),
    dict(min_el_deg=-91), dict(max_az_deg=float("nan")), dict(max_az_deg="450"), dict(min_az_deg=True),
])
def test_malformed_limits_rejected(bad):
    with pytest.raises(InputError):
        Limits(**bad)


def test_limits_check_never_clamps():
    lim = Limits(0, 450, 0, 180)
    lim.check(450, 180)
    lim.check(0, 0)
    for az, el in [(450.01, 0), (-0.01, 0), (0, 180.01), (0, -0.01)]:
        with pytest.raises(LimitError, match="outside the limits"):
            lim.check(az, el)
    assert lim.overlap_deg == 90 and lim.can_flip
    assert not Limits().can_flip and Limits().overlap_deg == 0


# --- pointing --------------------------------------------------------------------------

def north_crossing(n=40):
    """A pass from az 300 through north to az 60, culminating at 50 deg."""
    return [((300 + 120 * i / (n - 1)) % 360, 50 * math.sin(math.pi * i / (n - 1))) for i in range(n)]


def jumps(points):
    return max(abs(b[0] - a[0]) for a, b in zip(points, points[1:]))


def test_overlap_used_on_450_rotator():
    lim = Limits(0, 450, 0, 90)
    plan = plan_pass(north_crossing(), lim)
    mech = [plan.to_rotator(a, e) for a, e in north_crossing()]
    assert not plan.flip and plan.continuous
    assert jumps(mech) < 10
    for a, e in mech:
        lim.check(a, e)
    assert max(a for a, _ in mech) > 360      # it does run into the overlap


def test_flip_used_when_only_elevation_reaches_180():
    lim = Limits(0, 360, 0, 180)
    track = north_crossing()
    plan = plan_pass(track, lim)
    mech = [plan.to_rotator(a, e) for a, e in track]
    assert plan.flip and plan.continuous
    assert jumps(mech) < 10
    for (a, e), sky in zip(mech, track):
        lim.check(a, e)
        assert plan.to_sky(a, e) == pytest.approx(sky)


def test_no_overlap_no_flip_is_reported_not_hidden():
    plan = plan_pass(north_crossing(), Limits(0, 360, 0, 90))
    assert not plan.continuous


def test_no_flip_when_not_needed_and_nearest_window_chosen():
    track = [(10 + i, 20) for i in range(30)]
    lim = Limits(0, 450, 0, 180)
    assert plan_pass(track, lim, current_az_deg=0).to_rotator(10, 20) == (10, 20)
    assert plan_pass(track, lim, current_az_deg=440).to_rotator(10, 20) == (370, 20)
    assert not plan_pass(track, lim).flip


@settings(max_examples=200, deadline=None)
@given(start=st.floats(0, 360, exclude_max=True), sweep=st.floats(-200, 200), peak=st.floats(1, 89.9),
       n=st.integers(3, 60))
def test_pass_plan_properties_450(start, sweep, peak, n):
    """On a 450/180 rotator every pass is tracked continuously, inside the limits, and maps back."""
    track = [((start + sweep * i / (n - 1)) % 360, max(0.0, peak * math.sin(math.pi * i / (n - 1))))
             for i in range(n)]
    lim = Limits(0, 450, 0, 180)
    plan = plan_pass(track, lim)
    assert plan.continuous
    mech = [plan.to_rotator(a, e) for a, e in track]
    for (a, e), (sa, se) in zip(mech, track):
        lim.check(a, e)
        back = plan.to_sky(a, e)
        assert abs(((back[0] - sa + 180) % 360) - 180) < 1e-5 and back[1] == pytest.approx(se, abs=1e-5)
    assert jumps(mech) <= abs(sweep) / (n - 1) + 1e-5


# --- factory and registry ------------------------------------------------------------------

def test_registry_lists_every_protocol_and_emulator():
    assert rotator_protocols().names() == ["easycomm2", "easycomm3", "gs232a", "gs232b", "rotctld"]
    assert set(emulators().names()) >= {"gs232a", "gs232b", "easycomm2", "easycomm3", "station-controller",
                                        "kiss-tnc"}
    spec = rotator_protocols().get("GS232B")
    with pytest.raises(DuplicateRegistration):
        rotator_protocols().add("gs232b", spec)


@pytest.mark.parametrize("config, message", [
    ({}, "needs 'protocol'"),
    ({"protocol": "gs999"}, "unknown rotator protocol"),
    ({"protocol": "gs232b"}, "'device'"),
    ({"protocol": "gs232b", "device": "/dev/x", "baudrate": 9600}, "unknown key"),
    ({"protocol": "gs232b", "device": "/dev/x", "timeout_s": 0}, "timeout_s"),
    ({"protocol": "gs232b", "device": "/dev/x", "retries": -1}, "retries"),
    ({"protocol": "gs232b", "device": "/dev/x", "max_az_deg": 500}, "exceed"),
    ({"protocol": "gs232b", "device": "/dev/x", "min_az_deg": -10}, "exceed"),
    ({"protocol": "gs232b", "device": "/dev/x", "axes": "el"}, "axes"),
    ({"protocol": "easycomm2", "device": "/dev/x", "query": "both"}, "query"),
    ({"protocol": "rotctld", "tcp_port": 70000}, "tcp_port"),
    ({"protocol": "rotctld", "max_az_deg": 450}, "all four limits"),
    ({"protocol": "gs232b", "device": "/dev/x", "park_az_deg": 400}, "park position"),
    ("gs232b", "mapping"),
])
def test_bad_configs_rejected(config, message):
    with pytest.raises(InputError, match=message):
        rotator_from_config(config)


def test_config_limits_and_defaults():
    rot = rotator_from_config({"protocol": "gs232b", "device": "/dev/x", "max_az_deg": 450,
                               "limits": {"max_el_deg": 180}, "name": "rot0"})
    assert rot.limits == Limits(0, 450, 0, 180)
    assert (rot.timeout_s, rot.retries, rot.protocol, rot.resolution_deg) == (1.0, 2, "gs232b", 1.0)
    assert rot.counters.device == "rot0"
