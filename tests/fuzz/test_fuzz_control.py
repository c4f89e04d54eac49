"""Fuzz the control plane: envelopes, argument schemas, and a running in-process server.

Boundaries:

* ``control.envelope``: ``protocol.parse_request(bytes)`` gives a ``Request``
  or a ``ControlError`` with a documented code, and the error reply the
  server would send encodes and parses back;
* ``control.args``: ``schema.validate`` of every registered command against
  fuzzed arguments gives the checked arguments (inside their bounds, never
  clamped) or ``ControlError("bad_args")``;
* ``control.server``: fuzzed requests sent to a running server (plain mode,
  ipc, a station on one satellite) each get a reply within the command's
  ``timeout_s``, none of them ``internal`` (a handler bug), and the server's
  I/O loop never fails (``loop_errors`` stays 0).
"""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, strategies as st

from groundseg.control import protocol as P
from groundseg.control.commands import COMMANDS
from groundseg.control.schema import validate

from ._harness import attempt, fuzz_settings

# --- strategies -------------------------------------------------------------------------------------

_SCALARS = (st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
            | st.sampled_from([0, -1, 1, 2 ** 63, -2 ** 63 - 1, 10 ** 30, 10 ** 400, -10 ** 400])
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
            | st.sampled_from(["", " ", "\x00", "\ud800", "1e999", "NaN", "2024-01-01T00:00:00Z", "x" * 300,
                               "../../etc/passwd", "a" * 65, "\u202e", "-1", "status"]))
JSON = st.recursive(_SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c,
                                                                                       max_size=4), max_leaves=12)
CMD_NAMES = sorted(COMMANDS.names())


def _valid_for(arg) -> st.SearchStrategy:
    """Values the schema accepts (so the handlers behind it get fuzzed too)."""
    t = arg.type
    if arg.choices:
        return st.sampled_from(list(arg.choices))
    if t == "integer":
        lo = int(arg.min) if arg.min is not None else -10 ** 6
        hi = int(arg.max) if arg.max is not None else 10 ** 6
        return st.integers(lo, hi)
    if t == "number":
        lo = arg.min if arg.min is not None else -1e9
        hi = arg.max if arg.max is not None else 1e9
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if t == "string":
        if arg.pattern is not None:
            return st.sampled_from(["uhf0", "rot1", "fuzz-task", "t1", "b1", "p1", "a"]) | st.from_regex(
                arg.pattern, fullmatch=True)
        return st.sampled_from(["uhf0", "GOMX 1", "4k8 AFSK downlink", _ONE_TLE, "frames.jsonl"]) | st.text(
            max_size=arg.max_len or 100)
    if t == "time":
        return st.sampled_from(["2025-05-13T00:00:00Z", "2030-01-01T00:00:00Z"]) | st.floats(0, 5e9)
    if t == "boolean":
        return st.booleans()
    return st.sampled_from([{}, {"iq": True}, {"waterfall": False}]) | st.dictionaries(st.text(max_size=8), JSON,
                                                                                        max_size=3)


def _value_for(arg) -> st.SearchStrategy:
    """Values near the argument's type and bounds, valid ones, and anything else."""
    t = arg.type
    near = []
    if t in ("integer", "number"):
        for b in (arg.min, arg.max):
            if b is not None:
                near += [b, b - 1, b + 1, b * 10 + 1]
        near += [0, -1, 10 ** 400, True]
        if t == "number":
            near += [0.5, -0.5, float("nan"), float("inf"), -float("inf"), 1e308]
    elif t == "string":
        near += ["", "a", "x" * ((arg.max_len or 64) + 1), "good_name.1", "-bad", "sp ace"]
    elif t == "time":
        near += ["2024-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "yesterday", 0, -1, 4.0e9, 1e300,
                 float("nan"), "x" * 70, 10 ** 400]
    elif t == "boolean":
        near += [True, False, 0, 1, "true"]
    elif t == "object":
        near += [{}, {"iq": True}, {"iq": "yes"}, []]
    return st.one_of(_valid_for(arg), _valid_for(arg), st.sampled_from(near), JSON)


@st.composite
def command_args(draw):
    name = draw(st.sampled_from(CMD_NAMES))
    cmd = COMMANDS.get(name)
    args = {}
    for a in cmd.args:
        if draw(st.integers(0, 3)) if a.required else draw(st.booleans()):
            args[a.name] = draw(_value_for(a))
    if draw(st.integers(0, 5)) == 0:
        args[draw(st.text(max_size=12))] = draw(JSON)
    return name, args


@st.composite
def envelopes(draw) -> bytes:
    """Request bytes: mostly JSON objects with fuzzed envelope fields, sometimes raw garbage."""
    kind = draw(st.integers(0, 9))
    if kind >= 5:  # a well-formed envelope: the arguments and the handlers behind them get the fuzz
        name, args = draw(command_args())
        rid = draw(st.sampled_from(["r1", "req-2", 3]) | st.from_regex(r"[\x21-\x7e]{1,20}", fullmatch=True))
        return json.dumps({"v": 1, "id": rid, "cmd": name, "args": args}, allow_nan=True).encode()
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return json.dumps(draw(JSON)).encode("utf-8", "surrogatepass")
    obj = {}
    if draw(st.integers(0, 6)):
        obj["v"] = draw(st.sampled_from([1, 1, 1, 2, 0, -1, True, "1", 1.0, None, 2 ** 70]))
    if draw(st.integers(0, 6)):
        obj["id"] = draw(st.sampled_from(["a", "req-1", 7, -3, 2 ** 63, True, None, "", " ", "x" * 129,
                                          "\x7f", "é"]) | JSON)
    if draw(st.integers(0, 6)):
        obj["cmd"] = draw(st.sampled_from(CMD_NAMES) | st.text(max_size=70) | JSON)
    if draw(st.integers(0, 3)):
        if "cmd" in obj and isinstance(obj["cmd"], str) and obj["cmd"] in COMMANDS:
            obj["args"] = draw(command_args().map(lambda na: na[1]))
        else:
            obj["args"] = draw(JSON)
    if draw(st.integers(0, 8)) == 0:
        obj[draw(st.text(max_size=8))] = draw(JSON)
    raw = json.dumps(obj, allow_nan=True).encode("utf-8")
    if kind == 2:  # a byte-level mutation of a mostly valid request
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        raw = raw[:pos] + draw(st.binary(max_size=4)) + raw[pos + draw(st.integers(0, 3)):]
    if kind == 3:  # deep nesting inside args
        depth = draw(st.integers(20, 3000))
        raw = raw[:-1] + (b', "deep": ' if len(obj) else b'"deep": ') + b"[" * depth + b"]" * depth + b"}"
    return raw


class ErrorReply(Exception):
    """The server answered with an error reply (a documented outcome)."""


# --- envelope -----------------------------------------------------------------------------------------


def _check_envelope_outcome(raw: bytes):
    try:
        req = P.parse_request(raw, max_bytes=4096)
    except P.ControlError as e:
        assert e.code in P.ERROR_CODES and e.message
        rid = e.extra.get("id")
        assert rid is None or rid == P.read_id(json.loads(raw)), rid
        rep = P.parse_reply(P.error_reply(rid, e))
        assert rep["ok"] is False and rep["error"]["code"] == e.code
        raise
    assert req.v in P.SUPPORTED_VERSIONS and isinstance(req.cmd, str) and isinstance(req.args, dict)
    assert isinstance(req.id, (str, int)) and not isinstance(req.id, bool)
    rep = P.parse_reply(P.ok_reply(req.id, {"echo": req.args}))
    assert rep["ok"] is True
    return req


@fuzz_settings(400)
@given(envelopes())
def test_envelope_structured(raw):
    attempt("control.envelope", _check_envelope_outcome, raw, allowed=(P.ControlError,))


@fuzz_settings(200)
@given(st.binary(max_size=5000))
def test_envelope_raw_bytes(raw):
    attempt("control.envelope", _check_envelope_outcome, raw, allowed=(P.ControlError,))


# --- replies and events, as the client reads them ----------------------------------------------------------

@st.composite
def replies(draw) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        depth = draw(st.integers(10, 5000))
        return b'{"v": 1, "id": 1, "ok": true, "result": ' + b"[" * depth + b"]" * depth + b"}"
    obj = {"v": 1, "id": draw(st.sampled_from([1, "a", None]) | JSON), "ok": draw(st.booleans() | JSON)}
    if draw(st.booleans()):
        obj["result"] = draw(JSON)
    if draw(st.booleans()):
        obj["error"] = draw(st.fixed_dictionaries({"code": st.sampled_from(sorted(P.ERROR_CODES)) | JSON,
                                                   "message": JSON}) | JSON)
    return json.dumps(obj, allow_nan=True).encode()


def _check_reply(raw: bytes):
    rep = P.parse_reply(raw)
    assert isinstance(rep, dict) and isinstance(rep["ok"], bool) and "id" in rep
    assert ("result" in rep) if rep["ok"] else isinstance(rep["error"], dict) and "code" in rep["error"]
    return rep


@fuzz_settings(300)
@given(replies())
def test_client_reads_any_reply(raw):
    """What a client (groundsegctl) gets back: a reply, or ValueError (it counts a stray message)."""
    attempt("control.reply", _check_reply, raw, allowed=(ValueError,))


def test_reply_nested_too_deep_is_a_value_error_not_a_recursion_error():
    """A reply nested 100000 levels deep raised RecursionError out of parse_reply (the client crashed)."""
    with pytest.raises(ValueError, match="nested too deeply"):
        P.parse_reply(b'{"ok": true, "id": 1, "result": ' + b"[" * 100000 + b"]" * 100000 + b"}")


def test_subscriber_counts_an_event_nested_too_deep_as_malformed(tmp_path):
    from groundseg.control.client import Subscriber

    sub = Subscriber(f"ipc://{tmp_path}/nobody")
    try:
        assert sub._decode([b"heartbeat", b"[" * 100000 + b"]" * 100000]) is None
        assert sub.malformed == 1
    finally:
        sub.close()


# --- argument schemas -----------------------------------------------------------------------------------


def _check_args(name_args):
    name, args = name_args
    cmd = COMMANDS.get(name)
    try:
        out = validate(cmd.args, args, name)
    except P.ControlError as e:
        assert e.code == "bad_args" and e.details, e
        raise
    specs = {a.name: a for a in cmd.args}
    assert set(out) <= set(specs)
    for a in cmd.args:
        if a.required:
            assert a.name in out, a.name
        if a.name not in out:
            continue
        v = out[a.name]
        given_v = args.get(a.name)
        # passed through, or the default when absent or null: never clamped
        assert v == (a.default if given_v is None else given_v)
        if a.type in ("integer", "number"):
            assert not isinstance(v, bool) and math.isfinite(v)
            assert (a.min is None or v >= a.min) and (a.max is None or v <= a.max), (a.name, v)
        if a.choices is not None:
            assert v in a.choices
    return out


@fuzz_settings(500)
@given(command_args())
def test_every_command_schema(name_args):
    attempt("control.args", _check_args, name_args, allowed=(P.ControlError,))


def test_huge_integer_argument_is_bad_args_not_overflow():
    cmd = COMMANDS.get("passes.predict")
    with pytest.raises(P.ControlError) as ei:
        validate(cmd.args, {"limit": 10 ** 400}, cmd.name)
    assert ei.value.code == "bad_args"


# --- a running server ---------------------------------------------------------------------------------------

_STATION = """
[station]
name = "fuzz"
lat_deg = 52.2
lon_deg = 21.0

[[chains]]
name = "uhf0"
sdr_args = "rtl=0"
freq_min_hz = 430e6
freq_max_hz = 440e6
"""
_ONE_TLE = """GOMX 1
1 39430U 13066Q   25133.14539458  .00001678  00000+0  26824-3 0  9994
2 39430  97.6866 353.4909 0131206 280.4464  78.1979 14.67539188611389
"""
MAX_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from groundseg.config import load_config
    from groundseg.control.server import start_control_plane
    from groundseg.station import Station

    d = tmp_path_factory.mktemp("fuzzctl")
    (d / "one.tle").write_text(_ONE_TLE)
    (d / "station.toml").write_text(_STATION + f'[orbit]\ntle_files = ["{d / "one.tle"}"]\n[control]\n'
                                    f'security = "plain"\nplain_role = "operator"\nendpoint = "ipc://{d}/req"\n'
                                    f'pub_endpoint = "ipc://{d}/pub"\nmax_request_bytes = {MAX_BYTES}\n'
                                    "heartbeat_s = 0.5\n")
    station = Station(load_config(d / "station.toml"))
    srv = start_control_plane(station)
    yield srv
    srv.close()
    station.close()


@pytest.fixture(scope="module")
def client(server):
    from groundseg.control.client import Client

    with Client(server.endpoint, timeout_s=10.0, retries=0) as c:
        yield c


def _timeout_for(raw: bytes) -> float:
    try:
        name = json.loads(raw).get("cmd")
        return COMMANDS.get(name).timeout_s
    except Exception:  # noqa: BLE001 - not a command: the fast path
        return 5.0


def _exchange(client, raw: bytes):
    client.send_frames([b"", raw])
    rep = client.recv_reply(_timeout_for(raw) + 5.0)
    assert rep is not None, "no reply"
    if not rep["ok"]:
        assert rep["error"]["code"] in P.ERROR_CODES
        assert rep["error"]["code"] != "internal", rep["error"]
        raise ErrorReply(rep["error"]["code"])
    return rep


@fuzz_settings(200)
@given(envelopes())
def test_server_answers_every_fuzzed_request(server, client, raw):
    from groundseg.control.client import Client  # noqa: F401 - the fixture's type

    attempt("control.server", _exchange, client, raw, limit_s=_timeout_for(raw) + 5.0, show=raw,
            allowed=(ErrorReply,))
    assert server.counters().get("loop_errors", 0) == 0


def test_server_still_answers_after_the_fuzz(server, client):
    st_ = client.request("status")
    assert st_["station"] == "fuzz"
    c = st_["control"]["counters"]
    assert c.get("loop_errors", 0) == 0 and c.get("error_internal", 0) == 0


def test_server_replies_to_a_huge_integer_argument(server, client):
    before = server.counters().get("loop_errors", 0)
    client.send_frames([b"", b'{"v": 1, "id": "huge", "cmd": "passes.predict", "args": {"limit": 1' + b"0" * 400
                        + b"}}"])
    rep = client.recv_reply(2.0)
    assert server.counters().get("loop_errors", 0) == before
    assert rep is not None and rep["error"]["code"] == "bad_args"
