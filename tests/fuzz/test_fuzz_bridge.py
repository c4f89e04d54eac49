"""Fuzz every protocol of the hardware bridge with broken replies from its device.

Boundaries (one per protocol driver): ``bridge.gs232a``, ``bridge.gs232b``,
``bridge.easycomm2``, ``bridge.easycomm3``, ``bridge.rotctld`` (the rotctld
client), ``bridge.station_controller``; plus ``bridge.rotctld_server``
(command lines from a Gpredict/Hamlib client into our rotctld protocol core)
and ``bridge.rotator_config`` (the factory's device configuration).

Each example is a device of the emulator's family (dialect options drawn:
echo, blank lines, line endings, split replies) whose replies go through a
fuzz script (``_fakes.REPLY_OPS``), and a sequence of operations on the
driver. Every operation must end in a valid value (a finite position, a
decoded status) or a ``HardwareError`` (counted in the device's
``failures``) or ``InputError`` (an angle outside the limits, refused before
sending), within ``timeout_s * (retries + 1)`` plus the documented drain
slack (0.2 s per failed attempt) and a second of scheduling slack.
"""
from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, strategies as st

from firmware_bridge import station_protocol as SP
from firmware_bridge.counters import DeviceCounters
from firmware_bridge.easycomm import EasycommRotator
from firmware_bridge.emulators.easycomm import EasycommEmulator
from firmware_bridge.emulators.gs232 import Gs232Emulator
from firmware_bridge.emulators.station_controller import StationControllerEmulator
from firmware_bridge.factory import rotator_from_config
from firmware_bridge.gs232 import Gs232Rotator
from firmware_bridge.limits import Limits
from firmware_bridge.rotator import Position
from firmware_bridge.rotctld_client import RotctldRotator
from firmware_bridge.rotctld_server import RotctldSession
from firmware_bridge.station_controller import StationController
from groundseg.errors import HardwareError, InputError

from ._fakes import MemRotator, ScriptedSerialLink, ScriptedTcpLink, reply_ops, rotctld_responder
from ._harness import attempt, fuzz_settings

TIMEOUT_S = 0.05
RETRIES = 2
LIMITS = Limits(0.0, 450.0, 0.0, 180.0)


def op_limit_s(requests: int = 1) -> float:
    """The bridge's bound for one operation (``requests`` exchanges), with slack for a busy machine."""
    return requests * (TIMEOUT_S * (RETRIES + 1) + 0.2 * (RETRIES + 1)) + 1.0


def _finite_position(p) -> None:
    assert isinstance(p, Position) and math.isfinite(p.az_deg) and math.isfinite(p.el_deg), p


def _run_op(boundary: str, dev, fn, check, requests: int = 1):
    """One operation; a HardwareError it raises must have been counted as a fault of the device."""
    before = dev.counters.faults()
    _, err = attempt(boundary, fn, check=check, limit_s=op_limit_s(requests))
    if isinstance(err, HardwareError):
        assert dev.counters.faults() > before, f"{boundary}: {err!r} raised but no fault counted"
    return err


ANGLES = st.tuples(st.floats(-10, 460), st.floats(-10, 190)) | st.sampled_from([(0.0, 0.0), (450.0, 180.0),
                                                                                 (359.99, 89.99), (-0.4, 0.0)])


def _rotator_ops(draw, extra=()):
    names = ["position", "point", "stop", "park", *extra]
    return [(draw(st.sampled_from(names)), draw(ANGLES)) for _ in range(draw(st.integers(1, 6)))]


def _is_str(v) -> None:
    assert isinstance(v, str), v


def _status_dict(s) -> None:
    assert isinstance(s["status"], int) and isinstance(s["errors"], int) and isinstance(s["flags"], list), s


def _exercise(boundary: str, rot, ops):
    for name, (az, el) in ops:
        if name == "position":
            _run_op(boundary, rot, rot.position, _finite_position)
        elif name == "point":
            err = _run_op(boundary, rot, lambda: rot.point(az, el), _finite_position)
            if isinstance(err, InputError):  # refused before sending: only for an angle outside the limits
                with pytest.raises(InputError):
                    rot.limits.check(az, el)
        elif name == "stop":
            _run_op(boundary, rot, rot.stop, None)
        elif name == "park":
            _run_op(boundary, rot, rot.park, _finite_position)
        elif name == "status":
            _run_op(boundary, rot, rot.status, _status_dict, requests=2)
        elif name == "version":
            _run_op(boundary, rot, rot.version_string, _is_str)
        elif name == "info":
            _run_op(boundary, rot, rot.info, _is_str)


# --- GS-232A/B -------------------------------------------------------------------------------------------------

@st.composite
def gs232_cases(draw):
    variant = draw(st.sampled_from(["a", "b"]))
    emu = dict(variant=variant, eol=draw(st.sampled_from([b"\r\n", b"\r", b"\n"])),
               spaces=draw(st.integers(0, 2)), echo=draw(st.booleans()), blank_lines=draw(st.booleans()),
               ack=draw(st.booleans()))
    return variant, emu, draw(reply_ops()), _rotator_ops(draw), draw(st.booleans())


@fuzz_settings(120)
@given(gs232_cases())
def test_gs232(case):
    variant, emu_opts, script, ops, confirm = case
    emu = Gs232Emulator(limits=LIMITS, **emu_opts)
    try:
        rot = Gs232Rotator("/dev/fuzz", variant=variant, confirm_point=confirm, limits=LIMITS, timeout_s=TIMEOUT_S,
                           retries=RETRIES, name=f"fuzz-gs232{variant}")
        rot.link = ScriptedSerialLink(emu.feed, script, name=rot.name, counters=rot.counters)
        _exercise(f"bridge.gs232{variant}", rot, ops)
    finally:
        emu.stop()


# --- EasyComm II/III -----------------------------------------------------------------------------------------------

@st.composite
def easycomm_cases(draw):
    version = draw(st.sampled_from([2, 3]))
    echo = draw(st.booleans())
    emu = dict(version=version, eol=draw(st.sampled_from([b"\n", b"\r\n", b"\r"])),
               split_replies=draw(st.booleans()), echo=echo)
    drv = dict(version=version, query=draw(st.sampled_from(["combined", "split"])), echo=echo,
               confirm_point=draw(st.booleans()))
    extra = ("status", "version") if version == 3 else ("version",)
    return emu, drv, draw(reply_ops()), _rotator_ops(draw, extra)


@fuzz_settings(120)
@given(easycomm_cases())
def test_easycomm(case):
    emu_opts, drv_opts, script, ops = case
    emu = EasycommEmulator(limits=Limits(-360.0, 450.0, -90.0, 180.0), **emu_opts)
    try:
        rot = EasycommRotator("/dev/fuzz", limits=LIMITS, timeout_s=TIMEOUT_S, retries=RETRIES,
                              name=f"fuzz-easycomm{drv_opts['version']}", **drv_opts)
        rot.link = ScriptedSerialLink(emu.feed, script, name=rot.name, counters=rot.counters)
        _exercise(f"bridge.easycomm{drv_opts['version']}", rot, ops)
    finally:
        emu.stop()


# --- rotctld client -------------------------------------------------------------------------------------------------

@st.composite
def rotctld_cases(draw):
    configured = draw(st.sampled_from([None, LIMITS, Limits(0.0, 360.0, 0.0, 90.0)]))
    return configured, draw(reply_ops()), _rotator_ops(draw, ("info",))


@fuzz_settings(120)
@given(rotctld_cases())
def test_rotctld_client(case):
    configured, script, ops = case
    backend = MemRotator(limits=LIMITS, name="fuzz-backend")
    session = RotctldSession(backend, None, DeviceCounters("fuzz-rotctld-session", extra_keys=(
        "bad_commands", "refused", "errors_replied")))
    rot = RotctldRotator("127.0.0.1", 4533, limits=configured, timeout_s=TIMEOUT_S, retries=RETRIES,
                         name="fuzz-rotctld")
    rot.link = ScriptedTcpLink(rotctld_responder(session), script, name=rot.name, counters=rot.counters)
    _run_op("bridge.rotctld", rot, rot.open, None)
    _exercise("bridge.rotctld", rot, ops)


# --- rotctld server: lines from clients ---------------------------------------------------------------------------------

_ROTCTLD_WORDS = st.sampled_from(["p", "P", "S", "K", "M", "R", "_", "1", "q", "Q", "\\get_pos", "\\set_pos",
                                  "\\dump_state", "\\dump_caps", "\\stop", "\\park", "\\move", "\\reset",
                                  "\\get_info", "\\chk_vfo", "+", ";", "|", ",", "#", "?", "10", "-10", "1e999",
                                  "nan", "inf", "12,5", "1,2,3", "450", "180", "\x00", "é"])


@st.composite
def rotctld_lines(draw) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=60))
    return draw(st.sampled_from(["", "+", ";", "|", ","])) + " ".join(
        draw(st.lists(_ROTCTLD_WORDS, min_size=1, max_size=5)))


def _session_line(session, line):
    rep = session.handle_line(line)
    assert rep is None or isinstance(rep, str)
    if rep:
        assert rep.endswith("\n")
        if line.strip()[:1] == "+" and len(line.strip()) > 1:
            assert rep.rstrip("\n").splitlines()[-1].startswith("RPRT "), rep
    return rep


@fuzz_settings(300)
@given(st.lists(rotctld_lines(), min_size=1, max_size=6))
def test_rotctld_server_session(lines):
    backend = MemRotator(limits=LIMITS, name="fuzz-backend")
    session = RotctldSession(backend, None, DeviceCounters("fuzz-rotctld-server", extra_keys=(
        "bad_commands", "refused", "errors_replied")))
    for line in lines:
        attempt("bridge.rotctld_server", _session_line, session, line, show=line)
    _finite_position(backend.position())  # whatever was asked, the rotator holds a finite position


# --- station controller -------------------------------------------------------------------------------------------------

_SC_TYPES = [SP.PING | SP.REPLY, SP.GET_STATUS | SP.REPLY, SP.SET_OUTPUTS | SP.REPLY, SP.READ_SENSORS | SP.REPLY,
             SP.SET_WATCHDOG | SP.REPLY, SP.CLEAR_FAULTS | SP.REPLY, SP.NAK, 0, 0x7F, 0xFF]


@st.composite
def sc_junk(draw) -> bytes:
    """Binary junk, and frames with a valid CRC around wrong content (type, sequence, length, payload)."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=40))
    seq = draw(st.integers(0, 255))
    payload = draw(st.binary(max_size=SP.MAX_PAYLOAD))
    frame = SP.encode(seq, draw(st.sampled_from(_SC_TYPES)), payload, draw(st.sampled_from([1, 1, 0, 2])))
    if kind == 2:  # an impossible length field, CRC valid over what is there
        frame = frame[:5] + bytes((draw(st.integers(65, 255)),)) + frame[6:]
    if kind == 3:
        frame = SP.SYNC * draw(st.integers(1, 4)) + frame
    return frame


@st.composite
def sc_reframe(draw):
    """A reply re-encoded with a valid CRC after changing one field (gets past the CRC check)."""
    field = draw(st.sampled_from(["seq", "type", "payload", "version", "nak"]))
    return field, draw(st.integers(0, 255)), draw(st.binary(max_size=12))


def _reframer(respond, edits):
    edits = list(edits)

    def out(data: bytes) -> bytes:
        reply = b"".join(respond(data))
        if not reply or not edits:
            return reply
        field, v, blob = edits.pop(0)
        frames = SP.FrameDecoder().feed(reply)
        if not frames:
            return reply
        f = frames[0]
        seq, typ, payload, ver = f.seq, f.type, f.payload, f.version
        if field == "seq":
            seq = v
        elif field == "type":
            typ = v
        elif field == "payload":
            payload = blob[:SP.MAX_PAYLOAD]
        elif field == "version":
            ver = v
        else:
            typ, payload = SP.NAK, blob[:2]
        return SP.encode(seq, typ, payload, ver)
    return out


SC_OPS = ("ping", "status", "sensors", "set_outputs", "set_watchdog", "clear_faults", "select_antenna", "transmit")


@st.composite
def sc_cases(draw):
    ops = []
    for _ in range(draw(st.integers(1, 5))):
        name = draw(st.sampled_from(SC_OPS))
        arg = None
        if name == "set_outputs":
            arg = draw(st.dictionaries(st.sampled_from(["lna", "pa", "tx", "antenna_b"]), st.booleans(), max_size=3))
        elif name == "set_watchdog":
            arg = draw(st.integers(-1, 70000))
        elif name == "select_antenna":
            arg = draw(st.sampled_from(["A", "B", "C"]))
        elif name == "transmit":
            arg = draw(st.booleans())
        ops.append((name, arg))
    edits = draw(st.lists(st.none() | sc_reframe(), max_size=6))
    return draw(reply_ops(junk=sc_junk())), edits, ops


def _check_sc(name):
    def check(v):
        if name == "ping":
            assert isinstance(v, SP.Identity) and isinstance(v.name, str)
        elif name == "sensors":
            assert isinstance(v, SP.Sensors)
            v.as_dict()
        else:
            assert isinstance(v, SP.Status)
            v.as_dict()
    return check


@fuzz_settings(150)
@given(sc_cases())
def test_station_controller(case):
    script, edits, ops = case
    emu = StationControllerEmulator()
    try:
        sc = StationController("/dev/fuzz", timeout_s=TIMEOUT_S, retries=RETRIES, relay_settle_s=0.0,
                               name="fuzz-station")
        sc.link = ScriptedSerialLink(_reframer(emu.feed, [e for e in edits if e]), script, name=sc.name,
                                     counters=sc.counters)
        for name, arg in ops:
            fn = getattr(sc, name)
            call = (lambda fn=fn: fn()) if arg is None else (
                (lambda fn=fn, arg=arg: fn(**arg)) if isinstance(arg, dict) else (lambda fn=fn, arg=arg: fn(arg)))
            _run_op("bridge.station_controller", sc, call, _check_sc(name), requests=3 if name == "transmit" else 1)
    finally:
        emu.stop()


# --- the factory's configuration ---------------------------------------------------------------------------------------

_CFG_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10, 70000), st.floats(allow_nan=True),
                        st.text(max_size=10), st.sampled_from(["/dev/ttyUSB0", "", "a", "b", "az", "azel", "split",
                                                               "combined", 4533, 9600, 0, -1, 1e9, [], {}]))


@st.composite
def rotator_configs(draw) -> dict:
    cfg = {"protocol": draw(st.sampled_from(["gs232a", "gs232b", "easycomm2", "easycomm3", "rotctld", "nope", "",
                                             5]))}
    keys = ["device", "baud", "timeout_s", "retries", "name", "min_az_deg", "max_az_deg", "min_el_deg",
            "max_el_deg", "park_az_deg", "park_el_deg", "host", "tcp_port", "axes", "confirm_point", "query",
            "echo", "limits", "variant", "colour"]
    for k in draw(st.lists(st.sampled_from(keys), max_size=6, unique=True)):
        cfg[k] = draw(_CFG_VALUES)
    if draw(st.booleans()):
        cfg.setdefault("device", "/dev/serial/by-id/fuzz")
    return cfg


def _from_config(cfg):
    rot = rotator_from_config(cfg)
    rot.close()
    return rot


@fuzz_settings(300)
@given(rotator_configs())
def test_rotator_config(cfg):
    attempt("bridge.rotator_config", _from_config, cfg, allowed=(InputError,))


@pytest.mark.parametrize("limits", [True, 5.0, "0 450 0 180", [0, 450, 0, 180]])
def test_rotator_limits_that_are_not_a_mapping_are_a_config_error(limits):
    """``limits: true`` raised TypeError (``dict(True)``) out of the factory."""
    with pytest.raises(InputError, match="'limits' must be a mapping"):
        rotator_from_config({"protocol": "gs232b", "device": "/dev/serial/by-id/x", "limits": limits})


def test_slow_junk_stream_fails_within_the_bound():
    """A device that streams junk without end: every attempt is cut at its deadline (real time here)."""
    emu = Gs232Emulator(limits=LIMITS)
    try:
        rot = Gs232Rotator("/dev/fuzz", limits=LIMITS, timeout_s=0.2, retries=1, name="fuzz-endless")
        rot.link = ScriptedSerialLink(emu.feed, [("endless", 0.0, 0, b"")] * 4, name=rot.name,
                                      counters=rot.counters)
        t0 = time.monotonic()
        with pytest.raises(HardwareError):
            rot.position()
        assert time.monotonic() - t0 <= 0.2 * 2 + 0.2 * 2 + 1.0
        assert rot.counters["failures"] == 1 and rot.counters.faults() >= 3
    finally:
        emu.stop()


def _rotctld_with(script, retries=0):
    backend = MemRotator(limits=LIMITS, name="fuzz-backend")
    session = RotctldSession(backend, None, DeviceCounters("fuzz-rotctld-reg", extra_keys=(
        "bad_commands", "refused", "errors_replied")))
    rot = RotctldRotator("127.0.0.1", 4533, timeout_s=TIMEOUT_S, retries=retries, name="fuzz-rotctld-reg")
    rot.link = ScriptedTcpLink(rotctld_responder(session), script, name=rot.name, counters=rot.counters)
    return rot


@pytest.mark.parametrize("value", [b"nan", b"inf", b"-1e999"])
def test_rotctld_position_that_is_not_finite_is_a_protocol_error(value):
    """``Azimuth: nan`` in a get_pos reply came back as Position(nan, ...) to the pass executor."""
    rot = _rotctld_with([("pass", 0.0, 0, b""), ("replace", 0.0, 0,
                                                 b"get_pos:\nAzimuth: " + value + b"\nElevation: 45\nRPRT 0\n")])
    rot.open()
    with pytest.raises(HardwareError, match="not a finite position"):
        rot.position()
    assert rot.counters["malformed"] == 1


def test_rotctld_dump_state_with_unusable_limits_is_a_counted_protocol_error():
    """NaN limits in dump_state raised InputError (as if our configuration were wrong), uncounted."""
    rot = _rotctld_with([("replace", 0.0, 0, b"dump_state:\n1\n0\nmin_az=nan\nmax_az=450\nmin_el=0\nmax_el=90\n"
                                             b"done\nRPRT 0\n")])
    with pytest.raises(HardwareError, match="dump_state without usable limits"):
        rot.open()
    assert rot.counters["malformed"] == 1
