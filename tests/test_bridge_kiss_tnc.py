"""KISS over serial to and from a TNC (framing from groundseg.storage.kiss) against the TNC emulator."""
from __future__ import annotations

import pytest

from firmware_bridge.emulators import start_emulator
from firmware_bridge.kiss_tnc import KissTnc
from firmware_bridge.testing import wait_until
from groundseg.errors import InputError
from groundseg.storage import kiss

# frames with every byte KISS has to escape
FRAMES = [b"\x82\xa0\xa4\xa6@@`\x9c`\x86\x82\x98\x98a\x03\xf0hello", bytes((kiss.FEND, kiss.FESC, 0, 0xFF)) * 10,
          bytes(range(256))]


@pytest.fixture
def rig(tmp_path):
    link = str(tmp_path / "usb-TNC-if00")
    emu = start_emulator("kiss-tnc", link=link)
    tnc = KissTnc(link, name="tnc-test").open()
    yield emu, tnc
    tnc.close()
    emu.stop()


def test_send_reaches_the_tnc_unchanged(rig):
    emu, tnc = rig
    for i, f in enumerate(FRAMES):
        tnc.send(f, port=i)
    assert wait_until(lambda: len(emu.transmitted) == 3, 5)
    assert emu.transmitted == [(0, FRAMES[0]), (1, FRAMES[1]), (2, FRAMES[2])]
    assert tnc.counters["frames_out"] == 3


def test_received_frames_delivered(rig):
    emu, tnc = rig
    for f in FRAMES:
        emu.inject(f, port=1)
    assert [tnc.receive(5) for _ in FRAMES] == [(1, f) for f in FRAMES]
    assert tnc.receive(0.05) is None
    assert tnc.counters["frames_in"] == 3


def test_parameters_and_exit(rig):
    emu, tnc = rig
    tnc.set_param("txdelay", 30)
    tnc.set_param("persistence", 63, port=1)
    tnc.exit_kiss()
    assert wait_until(lambda: emu.left_kiss, 5)
    assert emu.params == {(0, 1): b"\x1e", (1, 2): b"\x3f"}
    with pytest.raises(InputError):
        tnc.set_param("txdelay", 300)
    with pytest.raises(InputError):
        tnc.set_param("speed", 1)
    with pytest.raises(InputError):
        tnc.send(b"")


def test_garbage_counted_and_next_frame_delivered(rig):
    emu, tnc = rig
    emu.set_fault("garbage", count=1)
    emu.inject(b"lost")
    emu.inject(b"kept")
    assert tnc.receive(5) == (0, b"kept")
    assert wait_until(lambda: tnc.counters["kiss_errors"] == 1, 5)


def test_unplug_and_replug_through_stable_path(rig):
    emu, tnc = rig
    emu.inject(b"before")
    assert tnc.receive(5) == (0, b"before")
    emu.unplug()
    assert wait_until(lambda: tnc.counters["disconnects"] >= 1, 5)
    emu.replug()
    assert wait_until(lambda: tnc.counters["reconnects"] == 1, 5)
    emu.inject(b"after")
    assert tnc.receive(5) == (0, b"after")
    tnc.send(b"reply")
    assert wait_until(lambda: emu.transmitted[-1:] == [(0, b"reply")], 5)


def test_loopback_emulator():
    emu = start_emulator("kiss-tnc", loopback=True)
    tnc = KissTnc(emu.path).open()
    try:
        tnc.send(FRAMES[1], port=3)
        assert tnc.receive(5) == (3, FRAMES[1])
    finally:
        tnc.close()
        emu.stop()
