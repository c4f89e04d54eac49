"""Interoperability with Hamlib itself (Debian's libhamlib-utils), started by the tests.

* Hamlib's rotctld drives our GS-232A/B and EasyComm II/III emulators over a pty;
* Hamlib's rotctl (NET rotctl, model 2) drives our rotctld-compatible server;
* our rotctld client drives Hamlib's rotctld with its dummy rotator (model 1).
"""
from __future__ import annotations

import subprocess
import time

import pytest

from firmware_bridge.emulators import spawn_emulator, start_emulator
from firmware_bridge.errors import DeviceTimeout, OperationFailed
from firmware_bridge.factory import open_rotator
from firmware_bridge.limits import Limits
from firmware_bridge.rotctld_server import RotctldServer
from firmware_bridge.testing import hamlib_rotctld, wait_until
from conftest import need_program

FAST = {"az_rate_dps": 2000.0, "el_rate_dps": 2000.0}
# Hamlib model numbers (rotctl -l)
HAMLIB_MODEL = {"gs232a": 601, "gs232b": 603, "easycomm2": 202, "easycomm3": 204}
# Hamlib sends whole degrees to a GS-232, one decimal to EasyComm
RESOLUTION = {"gs232a": 1.0, "gs232b": 1.0, "easycomm2": 0.1, "easycomm3": 0.1}
# Hamlib's serial timeout is 200-400 ms: more room on a loaded CI machine (faults are tested apart)
LOADED = ("-C", "timeout=2000")


@pytest.fixture(scope="module")
def rotctld():
    return need_program("rotctld")


@pytest.fixture(scope="module")
def rotctl():
    return need_program("rotctl")


def client_for(host, port, **kw):
    return open_rotator({"protocol": "rotctld", "host": host, "tcp_port": port, "timeout_s": 5.0, "retries": 0,
                         **kw})


@pytest.mark.parametrize("kind", ["gs232a", "gs232b", "easycomm2", "easycomm3"])
def test_hamlib_rotctld_drives_our_emulator(rotctld, kind):
    emu = start_emulator(kind, limits=Limits(0, 450, 0, 180), **FAST)
    try:
        with hamlib_rotctld(rotctld, HAMLIB_MODEL[kind], emu.path, baud=9600, extra=LOADED) as (host, port):
            client = client_for(host, port)
            try:
                for az, el in [(123.4, 45.6), (10.0, 80.2), (359.0, 0.4)]:
                    client.point(az, el)
                    # Hamlib's command reached the emulator's mechanics...
                    assert wait_until(lambda: emu.model.position() == emu.model.target(), 5)
                    taz, tel = emu.model.target()
                    res = RESOLUTION[kind]
                    assert abs(taz - az) <= res / 2 + 1e-9 and abs(tel - el) <= res / 2 + 1e-9
                    # ...and the position read back through Hamlib agrees within the resolution.
                    pos = client.position()
                    assert abs(pos.az_deg - az) <= res / 2 + 1e-9 and abs(pos.el_deg - el) <= res / 2 + 1e-9
                client.stop()
                assert wait_until(lambda: emu.received[-1] in (b"S", b"SA SE"), 5)
            finally:
                client.close()
    finally:
        emu.stop()


@pytest.mark.parametrize("fault", ["no_reply", "garbage"])
def test_hamlib_reports_our_emulator_faults(rotctld, fault):
    """A silent or babbling controller behind Hamlib: a clear error and a counted fault, bounded."""
    emu = start_emulator("gs232b", **FAST)
    try:
        with hamlib_rotctld(rotctld, HAMLIB_MODEL["gs232b"], emu.path, baud=9600) as (host, port):
            client = client_for(host, port, timeout_s=10.0)
            try:
                emu.set_fault(fault)
                t0 = time.monotonic()
                with pytest.raises(OperationFailed, match="rotctld answered RPRT -(5|8)") as e:
                    client.position()
                assert time.monotonic() - t0 < 10.0 + 2.0
                assert client.counters["timeouts"] + client.counters["malformed"] == 1
                if fault == "no_reply":
                    assert isinstance(e.value.cause, DeviceTimeout)
                emu.set_fault(None)
                assert client.position() is not None
            finally:
                client.close()
    finally:
        emu.stop()


def test_hamlib_rotctld_drives_emulator_subprocess(rotctld):
    """The emulator as a separate process, found through its stable link."""
    with spawn_emulator("easycomm3", az_rate_dps=2000.0, el_rate_dps=2000.0) as proc:
        with hamlib_rotctld(rotctld, HAMLIB_MODEL["easycomm3"], proc.path, baud=9600, extra=LOADED) as (host, port):
            client = client_for(host, port)
            try:
                client.point(201.3, 33.3)
                assert wait_until(lambda: proc.command("state")["az_deg"] == 201.3, 5)
                st = proc.command("state")
                assert (st["target_az_deg"], st["target_el_deg"]) == (201.3, 33.3)
                assert client.position() == pytest.approx((201.3, 33.3), abs=0.05)
            finally:
                client.close()


@pytest.fixture
def our_server():
    emu = start_emulator("gs232b", limits=Limits(0, 450, 0, 180), **FAST)
    rot = open_rotator({"protocol": "gs232b", "device": emu.path, "max_az_deg": 450, "max_el_deg": 180,
                        "park_az_deg": 180, "park_el_deg": 90, "timeout_s": 1.0})
    srv = RotctldServer(rot, port=0).start()
    yield srv, emu
    srv.stop()
    rot.close()
    emu.stop()


def run_rotctl(rotctl, srv, *cmd):
    host, port = srv.address
    r = subprocess.run([rotctl, "-m", "2", "-r", f"{host}:{port}", *cmd], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout + r.stderr


def test_hamlib_rotctl_drives_our_server(rotctl, our_server):
    srv, emu = our_server
    rc, out = run_rotctl(rotctl, srv, "P", "400", "170")      # overlap and flip range, via dump_state limits
    assert rc == 0, out
    assert emu.model.target() == (400.0, 170.0)
    assert wait_until(lambda: emu.model.position() == (400.0, 170.0), 5)
    rc, out = run_rotctl(rotctl, srv, "p")
    assert rc == 0 and out.split()[:2] == ["400.00", "170.00"], out
    rc, out = run_rotctl(rotctl, srv, "K")
    assert rc == 0 and emu.model.target() == (180.0, 90.0)
    rc, out = run_rotctl(rotctl, srv, "P", "451", "10")       # Hamlib checks our limits itself
    assert rc != 0 and emu.model.target() == (180.0, 90.0)


def test_hamlib_rotctl_refused_while_a_pass_runs(rotctl, our_server):
    srv, emu = our_server
    with srv.gate.hold("pass NORAD 25544"):
        rc, out = run_rotctl(rotctl, srv, "P", "10", "10")
        assert rc != 0 and "Command rejected" in out
        rc, out = run_rotctl(rotctl, srv, "p")                # reading is still allowed
        assert rc == 0 and len(out.split()) >= 2
    assert emu.model.target() == (0.0, 0.0)
    assert srv.counters["refused"] == 1
    rc, out = run_rotctl(rotctl, srv, "P", "10", "10")
    assert rc == 0 and emu.model.target() == (10.0, 10.0)


def test_our_client_drives_hamlib_dummy(rotctld):
    with hamlib_rotctld(rotctld, 1) as (host, port):
        client = client_for(host, port)
        try:
            assert client.remote_limits == Limits(-180, 450, 0, 90)
            assert client.limits == client.remote_limits
            client.point(20.25, 10.5)
            pos = client.wait_for(20.25, 10.5, tolerance_deg=0.005, timeout_s=60, poll_s=0.1)
            assert abs(pos.az_deg - 20.25) <= 0.005 and abs(pos.el_deg - 10.5) <= 0.005
            client.stop()
            client.park()
            assert "Dummy" in client.info()
            with pytest.raises(Exception, match="outside the limits"):
                client.point(10, 95)                          # the dummy's max_el is 90
        finally:
            client.close()
