"""The reference station-controller firmware (firmware_bridge/firmware/station_controller), built for
the host with a small Arduino shim and driven by our host side over a pty: the sketch speaks the same
protocol as the emulator and the specification."""
from __future__ import annotations

import os
import pathlib
import subprocess
import time
import tty

import pytest
from conftest import need_program

from firmware_bridge import station_protocol as P
from firmware_bridge.errors import DeviceRejected
from firmware_bridge.station_controller import StationController

FW = pathlib.Path(__file__).resolve().parents[1] / "firmware_bridge" / "firmware"


@pytest.fixture(scope="module")
def firmware_binary(tmp_path_factory):
    gxx = need_program("g++")
    out = tmp_path_factory.mktemp("fw")
    src = out / "station_controller.cpp"
    src.write_bytes((FW / "station_controller" / "station_controller.ino").read_bytes())
    exe = out / "station_controller_host"
    r = subprocess.run([gxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-O1", f"-I{FW / 'host_shim'}",
                        "-include", "Arduino.h", str(src), str(FW / "host_shim" / "host_main.cpp"), "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


@pytest.fixture
def board(firmware_binary):
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    proc = subprocess.Popen([str(firmware_binary), str(master)], pass_fds=(master,))
    os.close(master)
    sc = StationController(os.ttyname(slave), timeout_s=1.0, retries=2, relay_settle_s=0.0).open()
    yield sc
    sc.close()
    os.close(slave)
    proc.terminate()
    proc.wait(timeout=5)


def test_identity_status_sensors(board):
    ident = board.ping()
    assert (ident.protocol_version, ident.name) == (1, "groundseg-stationctl")
    assert board.status().as_dict() == {"lna": True, "pa": False, "tx": False, "antenna": "A", "faults": [],
                                        "watchdog_s": 10, "crc_errors": 0}
    s = board.sensors()
    assert s.temperature_c == pytest.approx(25.0, abs=0.3) and s.supply_v == pytest.approx(13.8, abs=0.05)
    assert s.forward_w == 0


def test_transmit_sequence_and_interlocks(board):
    with pytest.raises(DeviceRejected, match="interlock"):
        board.set_outputs(pa=True)
    with pytest.raises(DeviceRejected, match="interlock"):
        board.set_outputs(tx=True)                 # the LNA is still on
    st = board.transmit(True)
    assert (st.lna, st.tx, st.pa) == (False, True, True)
    s = board.sensors()
    assert s.forward_w == pytest.approx(50.0, rel=0.02) and s.swr == pytest.approx(1.22, abs=0.03)
    with pytest.raises(DeviceRejected, match="interlock"):
        board.select_antenna("B")                 # no hot switching
    st = board.transmit(False)
    assert (st.lna, st.tx, st.pa) == (True, False, False)
    with pytest.raises(DeviceRejected, match="bad value"):
        board.request(P.SET_OUTPUTS, b"\x01\x03")


def test_bad_crc_counted_and_ignored(board):
    frame = bytearray(P.encode(200, P.GET_STATUS))
    frame[-1] ^= 1
    board.link.write(bytes(frame))
    time.sleep(0.1)
    assert board.link.flush_input() == b""         # no answer to a damaged frame
    assert board.status().crc_errors == 1


def test_repeat_answered_from_cache(board):
    """The same frame twice (a retry) gets the same reply; a new SEQ is executed anew."""
    def exchange(frame):
        board.link.flush_input()
        board.link.write(frame)
        return P.FrameDecoder().feed(board.link.read_some(time.monotonic() + 1) +
                                     board.link.read_some(time.monotonic() + 0.1))
    first = exchange(P.encode(77, P.PING))
    time.sleep(1.1)                                # uptime_s moves on...
    again = exchange(P.encode(77, P.PING))
    fresh = exchange(P.encode(78, P.PING))
    assert first == again                          # ...but the repeat is the cached reply
    assert P.Identity.unpack(fresh[0].payload).uptime_s > P.Identity.unpack(first[0].payload).uptime_s
