"""Rotator drivers against their emulators on ptys: one contract suite for every serial driver,
then the reply dialects real controllers send."""
from __future__ import annotations

import time

import pytest

from firmware_bridge.emulators import start_emulator
from firmware_bridge.errors import DeviceRejected, LimitError, OperationFailed, ProtocolError
from firmware_bridge.factory import open_rotator
from firmware_bridge.gs232 import parse_position
from firmware_bridge.limits import Limits
from firmware_bridge.testing import wait_until

FAST = {"az_rate_dps": 2000.0, "el_rate_dps": 2000.0}
WIDE = {"min_az_deg": 0, "max_az_deg": 450, "min_el_deg": 0, "max_el_deg": 180}
# the slack allowed over timeout_s * (retries + 1) for a device that never answers
SLACK_S = 2.0

DRIVERS = ["gs232a", "gs232b", "easycomm2", "easycomm3"]


@pytest.fixture(params=DRIVERS)
def rig(request):
    """(emulator, rotator) for each serial protocol, 450/180 limits on both sides."""
    emu = start_emulator(request.param, limits=Limits(0, 450, 0, 180), **FAST)
    rot = open_rotator({"protocol": request.param, "device": emu.path, "timeout_s": 1.0, "retries": 2,
                        "name": f"test-{request.param}", **WIDE})
    yield emu, rot
    rot.close()
    emu.stop()


def settle(rot, az, el):
    return rot.wait_for(az, el, tolerance_deg=rot.resolution_deg / 2 + 1e-9, timeout_s=10, poll_s=0.02)


# --- contract: every driver ------------------------------------------------------------

@pytest.mark.parametrize("az, el", [(0.0, 0.0), (123.4, 45.6), (359.6, 89.5), (449.6, 179.7), (370.2, 10.04)])
def test_position_round_trip_within_resolution(rig, az, el):
    emu, rot = rig
    rot.point(az, el)
    pos = settle(rot, az, el)
    half = rot.resolution_deg / 2 + 1e-9
    assert abs(pos.az_deg - az) <= half and abs(pos.el_deg - el) <= half
    # and the emulator's mechanics really went there (not just an echo of the request)
    maz, mel = emu.model.position()
    assert abs(maz - pos.az_deg) <= half and abs(mel - pos.el_deg) <= half


@pytest.mark.parametrize("az, el", [(450.5, 10), (-0.5, 10), (10, 180.5), (10, -1), (float("nan"), 0),
                                    (0, float("inf"))])
def test_outside_limits_refused_before_sending(rig, az, el):
    emu, rot = rig
    sent = len(emu.received)
    with pytest.raises(LimitError, match="outside the limits|finite"):
        rot.point(az, el)
    assert rot.counters["limit_rejects"] == 1
    time.sleep(0.05)
    assert len(emu.received) == sent


def test_never_answering_rotator_fails_within_bound(rig):
    emu, rot = rig
    rot.timeout_s = 0.3                   # configurable at run time too
    emu.set_fault("no_reply")
    t0 = time.monotonic()
    with pytest.raises(OperationFailed, match="after 3 attempt"):
        rot.position()
    elapsed = time.monotonic() - t0
    assert elapsed <= rot.timeout_s * (rot.retries + 1) + SLACK_S
    assert rot.counters["timeouts"] == 3 and rot.counters["failures"] == 1
    emu.set_fault(None)
    assert rot.position() is not None


def test_garbage_is_counted_and_retried(rig):
    emu, rot = rig
    rot.point(100, 20)
    settle(rot, 100, 20)
    emu.set_fault("garbage", count=2)
    pos = rot.position()
    assert abs(pos.az_deg - 100) <= rot.resolution_deg
    assert rot.counters["malformed"] == 2 and rot.counters["retries"] >= 2 and rot.counters["failures"] == 0


def test_stop_halts_the_slew(rig):
    emu, rot = rig
    emu.model.az_rate_dps = emu.model.el_rate_dps = 20.0
    rot.point(300, 80)
    time.sleep(0.2)
    rot.stop()
    assert wait_until(lambda: emu.received[-1] in (b"S", b"SA SE"), 5)
    az1, _ = emu.model.position()
    time.sleep(0.2)
    az2, _ = emu.model.position()
    assert az1 == az2 and az1 < 300


def test_park_goes_to_configured_position():
    emu = start_emulator("gs232b", **FAST)
    rot = open_rotator({"protocol": "gs232b", "device": emu.path, "park_az_deg": 180, "park_el_deg": 90})
    try:
        rot.park()
        assert settle(rot, 180, 90) == (180.0, 90.0)
    finally:
        rot.close()
        emu.stop()


def test_park_outside_limits_is_a_config_error():
    with pytest.raises(Exception, match="park position"):
        open_rotator({"protocol": "gs232b", "device": "/dev/null", "park_el_deg": 95})


# --- GS-232 dialects --------------------------------------------------------------------

@pytest.mark.parametrize("reply, expected", [
    (b"AZ=123  EL=045", (123.0, 45.0)),
    (b"AZ=123 EL=045", (123.0, 45.0)),
    (b"AZ=123EL=045", (123.0, 45.0)),
    (b"az=450  el=180", (450.0, 180.0)),
    (b"AZ=123", (123.0, None)),
    (b"+0123+0045", (123.0, 45.0)),
    (b"+0450+0180", (450.0, 180.0)),
    (b"+0123", (123.0, None)),
])
def test_gs232_reply_forms(reply, expected):
    assert parse_position(reply) == expected


@pytest.mark.parametrize("junk", [b"?>", b"AZ=", b"AZ=12x EL=3", b"EL=045", b"+012+0045", b"hello", b"AZ=123  EL="])
def test_gs232_not_a_position(junk):
    assert parse_position(junk) is None


@pytest.mark.parametrize("dialect", [
    {"variant": "b", "spaces": 2}, {"variant": "b", "spaces": 1}, {"variant": "b", "spaces": 0},
    {"variant": "b", "eol": b"\r"}, {"variant": "b", "echo": True}, {"variant": "b", "blank_lines": True},
    {"variant": "b", "ack": True}, {"variant": "a"}, {"variant": "a", "eol": b"\r", "echo": True},
    {"variant": "b", "echo": True, "blank_lines": True, "eol": b"\r"},
])
@pytest.mark.parametrize("driver", ["gs232a", "gs232b"])
def test_gs232_driver_reads_every_dialect(driver, dialect):
    """The variant only sets defaults: either driver reads what any real unit sends."""
    emu = start_emulator("gs232b", **dialect, **FAST)
    rot = open_rotator({"protocol": driver, "device": emu.path, "timeout_s": 1.0, "retries": 1})
    try:
        rot.point(211, 33)
        assert settle(rot, 211, 33) == (211.0, 33.0)
        assert rot.counters["failures"] == 0 and rot.counters["malformed"] == 0
    finally:
        rot.close()
        emu.stop()


def test_gs232_az_only_controller():
    emu = start_emulator("gs232b", az_only=True, **FAST)
    rot = open_rotator({"protocol": "gs232b", "device": emu.path, "axes": "az", "timeout_s": 1.0})
    try:
        rot.point(222, 0)
        assert settle(rot, 222, 0) == (222.0, 0.0)
        assert emu.received[0] == b"M222"
    finally:
        rot.close()
        emu.stop()


def test_gs232_az_el_driver_on_az_only_controller_says_so():
    emu = start_emulator("gs232b", az_only=True)
    rot = open_rotator({"protocol": "gs232b", "device": emu.path, "timeout_s": 1.0, "retries": 1})
    try:
        with pytest.raises(OperationFailed, match="no elevation") as e:
            rot.position()
        assert isinstance(e.value.cause, ProtocolError)
        assert rot.counters["malformed"] == 2
    finally:
        rot.close()
        emu.stop()


def test_gs232_controller_refusal_is_counted():
    """The controller itself refuses a target beyond its own (narrower) limits with '?>'."""
    emu = start_emulator("gs232b", limits=Limits(0, 360, 0, 90), **FAST)
    rot = open_rotator({"protocol": "gs232b", "device": emu.path, "timeout_s": 1.0, "retries": 1, **WIDE})
    try:
        with pytest.raises(OperationFailed) as e:
            rot.point(400, 10)
        assert isinstance(e.value.cause, DeviceRejected)
        assert rot.counters["rejected"] == 2
    finally:
        rot.close()
        emu.stop()


def test_gs232_wire_format():
    emu = start_emulator("gs232b", **FAST)
    rot = open_rotator({"protocol": "gs232b", "device": emu.path, **WIDE})
    try:
        rot.point(5.4, 179.5)
        rot.stop()
        time.sleep(0.05)
        assert emu.received[:3] == [b"W005 180", b"C2", b"S"]
    finally:
        rot.close()
        emu.stop()


# --- EasyComm dialects --------------------------------------------------------------------

@pytest.mark.parametrize("query, emu_opts", [
    ("combined", {}), ("combined", {"split_replies": True}), ("combined", {"eol": b"\r\n"}),
    ("combined", {"echo": True}), ("split", {}), ("split", {"eol": b"\r\n", "echo": True}),
])
def test_easycomm_queries(query, emu_opts):
    emu = start_emulator("easycomm2", **emu_opts, **FAST)
    rot = open_rotator({"protocol": "easycomm2", "device": emu.path, "query": query, "timeout_s": 1.0,
                        "echo": emu_opts.get("echo", False)})
    try:
        rot.point(12.3, 45.6)
        pos = settle(rot, 12.3, 45.6)
        assert pos == pytest.approx((12.3, 45.6), abs=0.05)
        assert rot.counters["failures"] == 0
        expected = [b"AZ EL"] if query == "combined" else [b"AZ", b"EL"]
        assert emu.received[1:1 + len(expected)] == expected
    finally:
        rot.close()
        emu.stop()


def test_easycomm_alarm_lines_are_skipped_and_counted():
    emu = start_emulator("easycomm2", limits=Limits(0, 360, 0, 90), **FAST)
    rot = open_rotator({"protocol": "easycomm2", "device": emu.path, **WIDE})
    try:
        rot.point(400, 10)           # the controller refuses with an AL line, then answers the query
        assert rot.counters["alarms"] == 1
        assert "limits" in rot.last_alarm
        assert emu.model.target() == (0.0, 0.0)
    finally:
        rot.close()
        emu.stop()


def test_easycomm3_status_registers():
    emu = start_emulator("easycomm3", az_rate_dps=5.0, el_rate_dps=5.0)
    rot = open_rotator({"protocol": "easycomm3", "device": emu.path})
    try:
        assert rot.status()["flags"] == ["idle"]
        rot.point(90, 45)
        assert "moving" in rot.status()["flags"]
        emu.model.jam("az")
        st = rot.status()
        assert "error" in st["flags"] and st["error_flags"] == ["jam"]
        assert rot.version_string().startswith("groundseg")
    finally:
        rot.close()
        emu.stop()


def test_easycomm2_has_no_status_registers():
    emu = start_emulator("easycomm2")
    rot = open_rotator({"protocol": "easycomm2", "device": emu.path})
    try:
        with pytest.raises(Exception, match="EasyComm III"):
            rot.status()
    finally:
        rot.close()
        emu.stop()


# --- a pass, the way the executor will fly it -------------------------------------------------

@pytest.mark.parametrize("limits, flip", [(Limits(0, 360, 0, 180), True), (Limits(0, 450, 0, 90), False)])
def test_simulated_pass_across_north(limits, flip):
    """A pass from az 300 through north to 60: planned, pointed step by step on a GS-232B
    emulator, read back in sky angles within the resolution, and the rotator never unwinds."""
    import math

    from firmware_bridge.pointing import plan_pass

    track = [((300 + 120 * i / 29) % 360, 60 * math.sin(math.pi * i / 29)) for i in range(30)]
    emu = start_emulator("gs232b", limits=limits, az_rate_dps=2000, el_rate_dps=2000)
    rot = open_rotator({"protocol": "gs232b", "device": emu.path, **limits.as_dict()})
    try:
        plan = plan_pass(track, rot.limits, current_az_deg=rot.position().az_deg)
        assert plan.flip == flip and plan.continuous
        mech_az = []
        for az, el in track:
            target = plan.to_rotator(az, el)
            rot.point(*target)
            pos = settle(rot, *target)
            mech_az.append(pos.az_deg)
            sky = plan.to_sky(*pos)
            assert abs((sky[0] - az + 180) % 360 - 180) <= 0.5 + 1e-9 and abs(sky[1] - el) <= 0.5 + 1e-9
        assert max(abs(b - a) for a, b in zip(mech_az, mech_az[1:])) < 10
        assert rot.counters.faults() == 0
    finally:
        rot.close()
        emu.stop()
