"""Serial port handling: stable paths, absent/busy ports, unplug and reconnect, bounded reads."""
from __future__ import annotations

import os
import time

import pytest

from firmware_bridge.emulators import start_emulator
from firmware_bridge.errors import OperationFailed, PortAbsent, PortBusy
from firmware_bridge.factory import open_rotator
from firmware_bridge.serial_link import SerialLink


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    import tty
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        os.close(fd)


def test_absent_port_is_named_clearly(tmp_path):
    path = str(tmp_path / "usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0")
    with pytest.raises(PortAbsent, match="is absent .*unplugged or wrong path"):
        SerialLink(path).open()


def test_busy_port(pty_pair):
    _, path = pty_pair
    with SerialLink(path, name="first"):
        with pytest.raises(PortBusy, match="busy"):
            SerialLink(path, name="second").open()


def test_lines_with_any_ending_and_deadline(pty_pair):
    master, path = pty_pair
    with SerialLink(path) as link:
        os.write(master, b"one\rtwo\r\nthree\n\npartial")
        got = [link.read_line(time.monotonic() + 1) for _ in range(6)]
        assert got == [b"one", b"two", b"", b"three", b"", None]  # 'partial' never ends: deadline
        os.write(master, b"!\r")
        assert link.read_line(time.monotonic() + 1) == b"partial!"


def test_unterminated_flood_is_cut(pty_pair):
    master, path = pty_pair
    with SerialLink(path) as link:
        os.write(master, b"x" * 300)
        line = link.read_line(time.monotonic() + 1, max_len=256)
        assert line is not None and len(line) >= 256


def test_reconnect_through_stable_path_after_unplug(tmp_path):
    link = str(tmp_path / "usb-groundseg_GS232B-if00")
    emu = start_emulator("gs232b", link=link, az_rate_dps=2000, el_rate_dps=2000)
    rot = open_rotator({"protocol": "gs232b", "device": link, "timeout_s": 0.5, "retries": 2})
    try:
        first_pty = emu.pty_path
        rot.point(90, 10)
        emu.unplug()
        assert not os.path.exists(link)
        with pytest.raises(OperationFailed, match="absent"):
            rot.position()
        assert rot.counters["disconnects"] == 1 and rot.counters["port_errors"] >= 1
        emu.replug()
        assert emu.pty_path != first_pty or os.path.realpath(link) == emu.pty_path
        assert rot.position() is not None
        assert rot.counters["reconnects"] == 1
        # A disconnect in the middle of an exchange, back within the retry budget:
        emu.replug_after_s = 0.1
        emu.set_fault("disconnect", count=1)
        assert rot.position() is not None
        assert rot.counters["disconnects"] == 2 and rot.counters["reconnects"] == 2
    finally:
        rot.close()
        emu.stop()


def test_unstable_name_warns(caplog, pty_pair):
    SerialLink("/dev/ttyUSB7")
    assert "prefer a path under /dev/serial/by-id" in caplog.text
