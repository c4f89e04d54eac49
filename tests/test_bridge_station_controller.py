"""Station controller protocol (STATION_CONTROLLER.md): framing, host side against the emulator."""
from __future__ import annotations

import pathlib
import re
import time

import pytest

from firmware_bridge import station_protocol as P
from firmware_bridge.emulators import start_emulator
from firmware_bridge.errors import DeviceRejected, OperationFailed, ProtocolError
from firmware_bridge.station_controller import StationController
from groundseg.errors import InputError

SPEC = pathlib.Path(__file__).resolve().parents[1] / "firmware_bridge" / "STATION_CONTROLLER.md"
SLACK_S = 2.0


# --- framing -----------------------------------------------------------------------------

def test_crc_check_value():
    assert P.crc16(b"123456789") == 0x29B1


def test_spec_example_frames_match_the_code():
    """The hex examples in the specification are what the code sends and decodes."""
    text = SPEC.read_text()
    examples = [bytes.fromhex(m) for m in re.findall(r"^    (A5 5A(?: [0-9A-F]{2})+)\s*$", text, re.M)]
    assert examples == [P.encode(7, P.GET_STATUS),
                        P.encode(7, P.GET_STATUS | P.REPLY, P.Status(P.OUT_LNA, 0, 10, 0).pack())]
    frames = P.FrameDecoder().feed(b"".join(examples))
    assert [f.type for f in frames] == [P.GET_STATUS, P.GET_STATUS | P.REPLY]


def test_round_trip_and_split_feeding():
    frames = [P.encode(s, t, bytes(range(n))) for s, t, n in [(0, 1, 0), (255, 3, 2), (9, 4, 64)]]
    stream = b"".join(frames)
    dec = P.FrameDecoder()
    got = []
    for b in stream:                                   # one byte at a time
        got += dec.feed(bytes((b,)))
    assert [(f.seq, f.type, f.payload) for f in got] == [(0, 1, b""), (255, 3, bytes(range(2))),
                                                         (9, 4, bytes(range(64)))]


def test_decoder_resyncs_after_damage():
    good1, good2 = P.encode(1, P.PING), P.encode(2, P.GET_STATUS)
    bad_crc = bytearray(P.encode(3, P.SET_OUTPUTS, b"\x01\x01"))
    bad_crc[-1] ^= 0xFF
    bad_len = P.SYNC + bytes((1, 4, 2, 200))           # LEN 200 > 64
    # a damaged frame whose payload contains a sync word and a complete good frame
    nested = P.SYNC + bytes((1, 5, 2, 10)) + good2[:10]
    stream = b"noise" + good1 + bytes(bad_crc) + bad_len + nested + b"\xA5" + good2
    dec = P.FrameDecoder()
    got = dec.feed(stream)
    assert [f.seq for f in got] == [1, 2, 2]
    assert dec.crc_errors >= 1 and dec.length_errors == 1 and dec.junk_bytes > 0


def test_encode_rejects_oversize():
    with pytest.raises(ValueError):
        P.encode(1, 1, bytes(65))


# --- host against the emulator ---------------------------------------------------------------

@pytest.fixture
def rig():
    emu = start_emulator("station-controller")
    sc = StationController(emu.path, timeout_s=1.0, retries=2, relay_settle_s=0.0).open()
    yield emu, sc
    sc.close()
    emu.stop()


def test_ping_status_sensors(rig):
    emu, sc = rig
    ident = sc.ping()
    assert ident.protocol_version == 1 and ident.name == "groundseg-emulator"
    st = sc.status()
    assert st.as_dict() == {"lna": True, "pa": False, "tx": False, "antenna": "A", "faults": [],
                            "watchdog_s": 10, "crc_errors": 0}
    s = sc.sensors()
    assert s.temperature_c == pytest.approx(25.0, abs=1) and s.supply_v == pytest.approx(13.8)
    assert s.forward_w == 0 and s.swr is None


def test_transmit_sequence_and_swr(rig):
    emu, sc = rig
    st = sc.transmit(True)
    assert (st.lna, st.tx, st.pa) == (False, True, True)
    s = sc.sensors()
    assert s.forward_w == pytest.approx(50.0) and s.swr == pytest.approx(1.2, abs=0.01)
    st = sc.transmit(False)
    assert (st.lna, st.tx, st.pa) == (True, False, False)
    assert sc.select_antenna("B").antenna == "B"


@pytest.mark.parametrize("start, request_, code", [
    ({}, {"pa": True}, P.ERR_INTERLOCK),                        # PA into the receive path
    ({"lna": False}, {"tx": True, "lna": True}, P.ERR_INTERLOCK),  # LNA on while transmitting
    ({"lna": False, "tx": True, "pa": True}, {"tx": False}, P.ERR_INTERLOCK),        # hot T/R switch
    ({"lna": False, "tx": True, "pa": True}, {"antenna_b": True}, P.ERR_INTERLOCK),  # hot antenna switch
    ({"lna": False}, {"tx": True, "pa": True}, P.ERR_INTERLOCK),   # T/R and PA in one step
])
def test_interlocks(rig, start, request_, code):
    emu, sc = rig
    if start:
        for k in ("lna", "tx", "pa"):
            if k in start:
                sc.set_outputs(**{k: start[k]})
    before = sc.status()
    with pytest.raises(DeviceRejected, match="interlock") as e:
        sc.set_outputs(**request_)
    assert e.value.code == code
    assert sc.status().outputs == before.outputs
    assert sc.counters["rejected"] == 1 and sc.counters["retries"] == 0   # a NAK is final


def test_bad_requests_rejected(rig):
    emu, sc = rig
    with pytest.raises(DeviceRejected, match="unknown message type"):
        sc.request(0x42)
    with pytest.raises(DeviceRejected, match="bad payload length"):
        sc.request(P.GET_STATUS, b"\x00")
    with pytest.raises(DeviceRejected, match="bad value"):
        sc.request(P.SET_OUTPUTS, b"\x10\x10")
    with pytest.raises(InputError):
        sc.set_outputs(heater=True)


def test_retry_does_not_act_twice(rig):
    """The reply to a SET_OUTPUTS is lost: the host resends the same SEQ, the controller answers
    from its cache without executing again."""
    emu, sc = rig
    executed = emu.executed
    emu.set_fault("no_reply", count=1)
    st = sc.set_outputs(lna=False)
    assert not st.lna
    assert emu.executed == executed + 1
    assert len(emu.received) == 2 and emu.received[0] == emu.received[1]   # same frame, same SEQ
    assert sc.counters["timeouts"] == 1 and sc.counters["retries"] == 1


def test_garbage_reply_counted(rig):
    emu, sc = rig
    emu.set_fault("garbage", count=1)
    assert sc.status().lna
    assert sc.counters["malformed"] == 1


def test_silent_controller_fails_within_bound(rig):
    emu, sc = rig
    sc.timeout_s = 0.3
    emu.set_fault("no_reply")
    t0 = time.monotonic()
    with pytest.raises(OperationFailed, match="no reply to GET_STATUS"):
        sc.status()
    assert time.monotonic() - t0 <= sc.timeout_s * (sc.retries + 1) + SLACK_S
    assert sc.counters["timeouts"] == 3 and sc.counters["failures"] == 1


def test_corrupted_reply_crc_counted(rig):
    emu, sc = rig
    sc.timeout_s = 0.3
    real = emu._ok

    def corrupt(f, payload):
        frame = bytearray(real(f, payload))
        frame[-1] ^= 0x55
        return bytes(frame)
    emu._ok = corrupt
    with pytest.raises(OperationFailed) as e:
        sc.status()
    assert isinstance(e.value.cause, ProtocolError)
    assert sc.counters["crc_errors"] == 3 and sc.counters["malformed"] == 3


def test_watchdog_and_latched_faults():
    clock = [1000.0]
    emu = start_emulator("station-controller", clock=lambda: clock[0])
    sc = StationController(emu.path, timeout_s=1.0, relay_settle_s=0.0).open()
    try:
        assert sc.set_watchdog(5).watchdog_s == 5
        sc.transmit(True)
        clock[0] += 6.0                     # the host goes silent for longer than the watchdog
        time.sleep(0.2)                     # (the emulator's tick sees it)
        st = sc.status()
        assert not st.pa and st.fault_names == ["watchdog"]
        with pytest.raises(DeviceRejected, match="fault is latched"):
            sc.set_outputs(pa=True)
        assert sc.clear_faults().faults == 0
        assert sc.set_outputs(pa=True).pa
        emu.inject("high_swr")
        time.sleep(0.2)
        st = sc.status()
        assert not st.pa and "high_swr" in st.fault_names
    finally:
        sc.close()
        emu.stop()
