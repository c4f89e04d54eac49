"""Control plane protocol: envelopes, argument schemas, the command registry and its docs, and a table of
malformed requests sent to a running server (each answered with an error or counted as dropped; the server
answers a status request afterwards)."""
from __future__ import annotations

import json
import pathlib

import pytest

from groundseg.control import protocol as P
from groundseg.control.commands import COMMANDS, docs_in_file, render_markdown
from groundseg.control.schema import NAME_PATTERN, Arg, validate
from groundseg.control.settings import ROLES
from groundseg.control.testing import malformed_requests, send_malformed
from groundseg.errors import InputError

# --- envelope --------------------------------------------------------------------------------------


def test_request_round_trip_and_reply_shapes():
    raw = P.request("task.list", {"state": "all"}, rid="abc")
    req = P.parse_request(raw)
    assert (req.v, req.id, req.cmd, req.args) == (1, "abc", "task.list", {"state": "all"})
    ok = P.parse_reply(P.ok_reply("abc", {"x": [1, 2]}))
    assert ok == {"v": 1, "id": "abc", "ok": True, "result": {"x": [1, 2]}}
    err = P.parse_reply(P.error_reply(7, P.ControlError("not_found", "no task 'x'", details=["a"])))
    assert err["ok"] is False and err["id"] == 7
    assert err["error"] == {"code": "not_found", "message": "no task 'x'", "details": ["a"]}


def test_args_may_be_omitted_and_integer_ids_are_echoed():
    req = P.parse_request(b'{"v": 1, "id": 42, "cmd": "status"}')
    assert req.args == {} and req.id == 42


@pytest.mark.parametrize("raw, code, rid", [
    (b"{not json", "bad_json", None),
    (b"\xff\xfe\x00garbage", "bad_json", None),
    (b'{"v": 1, "id": "a", "cmd": "status", "args": {"x": NaN}}', "bad_json", None),
    (b'[1, 2]', "bad_envelope", None),
    (b'{"v": 1}', "bad_envelope", None),
    (b'{"v": 1, "id": "a"}', "bad_envelope", "a"),
    (b'{"v": "1", "id": "a", "cmd": "status"}', "bad_envelope", "a"),
    (b'{"v": true, "id": "a", "cmd": "status"}', "bad_envelope", "a"),
    (b'{"v": 1, "id": [1], "cmd": "status"}', "bad_envelope", None),
    (b'{"v": 1, "id": "a", "cmd": 5}', "bad_envelope", "a"),
    (b'{"v": 1, "id": "a", "cmd": "status", "args": []}', "bad_envelope", "a"),
    (b'{"v": 1, "id": "a", "cmd": "status", "extra": 1}', "bad_envelope", "a"),
    (('{"v": 1, "id": "%s", "cmd": "status"}' % ("x" * 200)).encode(), "bad_envelope", None),
    (b'{"v": 2, "id": "a", "cmd": "status"}', "unsupported_version", "a"),
    (b'{"v": 1, "id": "a", "cmd": "status", "args": {"n": ' + b"9" * 5000 + b"}}", "bad_json", None),
    (b'{"v": 1, "id": "a", "cmd": "status", "args": ' + b"[" * 100 + b"]" * 100 + b"}", "bad_json", None),
])
def test_malformed_envelopes_are_rejected_with_a_code(raw, code, rid):
    with pytest.raises(P.ControlError) as ei:
        P.parse_request(raw)
    assert ei.value.code == code
    assert ei.value.extra.get("id") == rid
    reply = P.parse_reply(P.error_reply(ei.value.extra.get("id"), ei.value))
    assert reply["ok"] is False and reply["error"]["code"] == code


def test_every_envelope_problem_is_listed_at_once():
    with pytest.raises(P.ControlError) as ei:
        P.parse_request(b'{"v": "x", "id": null, "colour": 1}')
    text = "\n".join(ei.value.details)
    for key in ("v:", "id:", "cmd:", "colour:"):
        assert key in text


def test_size_limit_is_checked_before_parsing():
    with pytest.raises(P.ControlError) as ei:
        P.parse_request(b"x" * 2000, max_bytes=1024)
    assert ei.value.code == "too_large" and ei.value.extra["limit"] == 1024


def test_results_with_nan_become_null_and_odd_types_serialise():
    import enum

    class Colour(enum.Enum):
        RED = "red"

    rep = P.parse_reply(P.ok_reply(1, {"a": float("nan"), "b": [float("inf"), 1.5], "p": pathlib.Path("/x"),
                                       "c": Colour.RED, "t": (1, 2)}))
    assert rep["result"] == {"a": None, "b": [None, 1.5], "p": "/x", "c": "red", "t": [1, 2]}


def test_unknown_error_codes_are_a_programming_error():
    with pytest.raises(ValueError):
        P.ControlError("oops", "x")


def test_frames_get_per_satellite_topics():
    assert P.event_topic("frame", {"norad": 39430}) == "frame.39430"
    assert P.event_topic("pass.state", {"norad": 39430}) == "pass.state"
    topic, body = P.event_message("frame.1", 3, 10.0, {"record": {"hex": "00"}})
    assert topic == b"frame.1" and json.loads(body) == {"v": 1, "topic": "frame.1", "seq": 3, "t_unix_s": 10.0,
                                                         "data": {"record": {"hex": "00"}}}


# --- schemas -------------------------------------------------------------------------------------------

SPECS = (Arg("id", "string", "", required=True, pattern=NAME_PATTERN, max_len=64),
         Arg("n", "integer", "", min=0, max=10, default=3),
         Arg("x", "number", "", min=-1.0, max=1.0),
         Arg("flag", "boolean", ""),
         Arg("mode", "string", "", choices=("a", "b")),
         Arg("when", "time", ""),
         Arg("opts", "object", ""))


def test_schema_fills_defaults_and_keeps_valid_values():
    assert validate(SPECS, {"id": "t-1", "x": 0.5, "when": "2024-01-01T00:00:00Z"}) == \
        {"id": "t-1", "n": 3, "x": 0.5, "when": "2024-01-01T00:00:00Z"}


def test_schema_reports_every_problem_and_never_clamps():
    with pytest.raises(P.ControlError) as ei:
        validate(SPECS, {"n": 11, "x": True, "flag": 1, "mode": "c", "when": [1], "opts": [], "zzz": 1}, "cmd")
    e = ei.value
    assert e.code == "bad_args"
    joined = "\n".join(e.details)
    for frag in ("id: missing", "n: 11 is above the maximum 10", "x: expected a number, got a boolean",
                 "flag: expected true or false", "mode: 'c' is not one of a, b", "when: expected an ISO 8601",
                 "opts: expected an object", "zzz: unknown argument"):
        assert frag in joined, frag
    assert len(e.details) == 8


@pytest.mark.parametrize("value, ok", [("good_name.1", True), ("-bad", False), ("a" * 65, False),
                                       ("sp ace", False), ("", False)])
def test_name_pattern(value, ok):
    if ok:
        assert validate(SPECS, {"id": value})["id"] == value
    else:
        with pytest.raises(P.ControlError):
            validate(SPECS, {"id": value})


def test_integers_are_not_booleans_and_numbers_must_be_finite():
    with pytest.raises(P.ControlError):
        validate(SPECS, {"id": "a", "n": False})
    with pytest.raises(P.ControlError):
        validate(SPECS, {"id": "a", "x": float("inf")})


# --- the registry, the CLI and the docs -----------------------------------------------------------------

REQUIRED = {"status", "version", "tle.upload", "tle.show", "passes.predict", "task.add", "task.list", "task.show",
            "task.cancel", "task.reprioritise", "blackout.add", "blackout.list", "blackout.remove", "plan.show",
            "pass.status", "pass.abort", "radio.tune", "radio.gain", "rotator.point", "rotator.stop",
            "rotator.park", "rotator.position", "recording.list", "artifact.list", "artifact.meta", "config.show",
            "config.reload"}


def test_registry_has_every_command_of_the_issue_with_docs_and_a_role():
    assert REQUIRED <= set(COMMANDS.names())
    for name, c in COMMANDS.items():
        assert c.role in ROLES and c.summary and callable(c.handler), name
        assert all(a.doc for a in c.args), name


def test_acting_commands_need_the_operator_role():
    read = {"status", "version", "commands", "tle.show", "passes.predict", "task.list", "task.show", "blackout.list",
            "plan.show", "pass.status", "rotator.position", "recording.list", "artifact.list", "artifact.meta",
            "config.show", "gateway.status", "uplink.list", "uplink.log"}
    for name, c in COMMANDS.items():
        assert c.role == ("readonly" if name in read else "operator"), name


def test_registry_rejects_a_duplicate_command():
    from groundseg.control.commands import command
    from groundseg.registry import DuplicateRegistration

    with pytest.raises(DuplicateRegistration):
        command("status", "readonly", "again")(lambda api, a, c: None)


def test_protocol_md_is_generated_from_the_registry():
    assert docs_in_file() == render_markdown(), \
        "PROTOCOL.md is stale: run python -m groundseg.control.commands --write-docs"
    text = render_markdown()
    for name in COMMANDS.names():
        assert f"### {name}\n" in text
    for code in P.ERROR_CODES:
        assert f"`{code}`" in text


def test_cli_has_one_subcommand_per_command_and_maps_options_to_arguments():
    from groundseg.control import ctl

    p = ctl.parser()
    for name, c in COMMANDS.items():
        argv = name.split(".") if c.group else [name]
        with pytest.raises(SystemExit) as ei:
            p.parse_args(argv + ["--help"])
        assert ei.value.code == 0
    a = p.parse_args(["--plain", "task", "add", "t1", "--norad", "39430", "--transmitter", "4k8 AFSK downlink",
                      "--priority", "70", "--recording", '{"iq": true}', "--window-start", "1700000000"])
    assert ctl._collect(a.command, a) == {"id": "t1", "norad": 39430, "transmitter": "4k8 AFSK downlink",
                                          "priority": 70, "window_start": 1700000000.0, "recording": {"iq": True}}
    a = p.parse_args(["recording", "list", "--with-iq", "--json"])
    assert ctl._collect(a.command, a) == {"with_iq": True} and a.json
    with pytest.raises(SystemExit):
        p.parse_args(["task", "add", "t1"])  # --norad and --transmitter are required


def test_groundseg_has_ctl_and_keys_subcommands():
    from groundseg.cli import build_parser
    from groundseg.control import ctl, keys

    a = build_parser().parse_args(["ctl", "--plain", "--endpoint", "ipc:///x", "rotator", "point", "--az-deg", "10",
                                   "--el-deg", "20", "--rotator", "rot1"])
    assert a.func is ctl.run_command and a.command.name == "rotator.point"
    assert ctl._collect(a.command, a) == {"az_deg": 10.0, "el_deg": 20.0, "rotator": "rot1"}
    a = build_parser().parse_args(["keys", "init", "--dir", "/tmp/k"])
    assert a.func is keys.cmd_init


def test_cli_target_needs_keys_unless_plain(monkeypatch):
    from groundseg.control.client import resolve_target

    for k in ("GROUNDSEG_CTL_CONFIG", "GROUNDSEG_CTL_KEY", "GROUNDSEG_CTL_SERVER_KEY", "GROUNDSEG_CTL_ENDPOINT"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(InputError, match="CURVE needs"):
        resolve_target(endpoint="tcp://127.0.0.1:1")
    t = resolve_target(endpoint="tcp://127.0.0.1:1", plain=True)
    assert t.credentials is None and t.endpoint == "tcp://127.0.0.1:1"


# --- the [control] section ----------------------------------------------------------------------------------

MINIMAL = """
[station]
name = "s"
lat_deg = 10.0
lon_deg = 20.0

[[chains]]
name = "uhf0"
sdr_args = "rtl=0"
freq_min_hz = 430e6
freq_max_hz = 440e6
"""


def _load(tmp_path, text):
    from groundseg.config import load_config

    p = tmp_path / "station.toml"
    p.write_text(text)
    return load_config(p)


def test_control_section_defaults_and_absence(tmp_path):
    from groundseg.control.settings import ControlConfig

    cfg = _load(tmp_path, MINIMAL)
    assert isinstance(cfg.control, ControlConfig) and cfg.control.enabled is False
    cfg = _load(tmp_path, MINIMAL + "[control]\n")
    c = cfg.control
    assert c.enabled and c.security == "curve" and c.keys_path(cfg) == tmp_path / "state" / "keys"


@pytest.mark.parametrize("section, message", [
    ('security = "plain"\nendpoint = "tcp://0.0.0.0:5555"',
     "control.endpoint: plain (unauthenticated) mode is only allowed on ipc:// or loopback"),
    ('security = "plain"\npub_endpoint = "tcp://192.168.1.10:5556"', "control.pub_endpoint: plain"),
    ('security = "none"', "control.security: 'none' is not one of curve, plain"),
    ('plain_role = "operator"', 'control.plain_role: only meaningful with security = "plain"'),
    ('endpoint = "localhost:5555"', "control.endpoint: 'localhost:5555' is not a ZeroMQ endpoint"),
    ('endpoint = "tcp://a:1"\npub_endpoint = "tcp://a:1"', "control.pub_endpoint: same as endpoint"),
    ("max_request_bytes = 10", "control.max_request_bytes: 10 is outside"),
    ("heartbeat_s = 0", "control.heartbeat_s: 0 is outside"),
    ("colour = 1", "control.colour: unknown key"),
])
def test_control_section_errors(tmp_path, section, message):
    with pytest.raises(InputError) as ei:
        _load(tmp_path, MINIMAL + "[control]\n" + section + "\n")
    assert message in str(ei.value)


@pytest.mark.parametrize("endpoint", ["ipc:///tmp/x.ipc", "tcp://127.0.0.1:5555", "tcp://localhost:1",
                                      "tcp://[::1]:5555", "tcp://127.8.9.10:1"])
def test_plain_mode_is_allowed_on_local_endpoints(tmp_path, endpoint):
    cfg = _load(tmp_path, MINIMAL + f'[control]\nsecurity = "plain"\nendpoint = "{endpoint}"\n'
                                    'pub_endpoint = "ipc:///tmp/y.ipc"\n')
    assert cfg.control.plain


# --- malformed requests against a running server ----------------------------------------------------------------

MAX_BYTES = 64 * 1024


MALFORMED = malformed_requests(MAX_BYTES)


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    """A station (not flying passes) with its control plane in plain mode on an ipc endpoint."""
    from groundseg.config import load_config
    from groundseg.control.server import start_control_plane
    from groundseg.control.testing import SEED_TLE
    from groundseg.station import Station

    d = tmp_path_factory.mktemp("ctl")
    (d / "station.toml").write_text(MINIMAL + f'[orbit]\ntle_files = ["{SEED_TLE}"]\n[control]\nsecurity = "plain"\n'
                                    f'plain_role = "operator"\nendpoint = "ipc://{d}/req"\n'
                                    f'pub_endpoint = "ipc://{d}/pub"\nmax_request_bytes = {MAX_BYTES}\n'
                                    "heartbeat_s = 0.2\n")
    station = Station(load_config(d / "station.toml"))
    server = start_control_plane(station)
    yield server
    server.close()
    station.close()


@pytest.fixture
def client(plain_server):
    from groundseg.control.client import Client

    with Client(plain_server.endpoint, timeout_s=10.0, retries=1) as c:
        yield c


def _counters(client) -> dict:
    return client.request("status")["control"]["counters"]


@pytest.mark.parametrize("name, message, expected", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_get_an_error_or_are_counted(client, name, message, expected):
    before = _counters(client)
    send_malformed(client, message)
    kind, what = expected
    if kind == "error":
        rep = client.recv_reply(10.0)
        assert rep is not None and rep["ok"] is False, name
        assert rep["error"]["code"] == what and rep["error"]["message"]
        if what in ("bad_args", "bad_envelope"):
            assert rep["error"]["details"]
    else:
        assert client.recv_reply(0.5) is None
    # the server still answers, and counted what happened
    after = _counters(client)
    if kind == "error":
        assert after[f"error_{what}"] == before.get(f"error_{what}", 0) + 1
    else:
        assert after[what] == before.get(what, 0) + 1
        assert after["dropped"] == before.get("dropped", 0) + 1


def test_message_over_the_hard_limit_costs_the_sender_its_connection_only(plain_server, client):
    before = _counters(client)
    client.send_frames([b"", b"x" * (3 * MAX_BYTES + 65536)])
    assert client.recv_reply(1.0) is None
    after = _counters(client)  # the client's socket reconnects by itself
    assert after["router_disconnects"] > before.get("router_disconnects", 0)
    assert client.request("version")["protocol"] == 1


def test_a_handler_bug_is_an_internal_error_reply_and_the_server_goes_on(plain_server, client, monkeypatch):
    def broken(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(plain_server.api, "task_list", broken)
    with pytest.raises(Exception) as ei:
        client.request("task.list")
    assert getattr(ei.value, "code", None) == "internal"
    assert "boom" not in str(ei.value)  # details of the bug stay in the station's log
    assert client.request("status")["station"] == "s"


def test_retried_operator_request_is_answered_once_from_the_cache(plain_server, client):
    raw = P.request("blackout.add", {"id": "retry-1", "start": 4.0e9, "end": 4.0e9 + 60}, rid="same-id")
    client.send_frames([b"", raw])
    first = client.recv_reply(20.0)
    client.send_frames([b"", raw])  # the lazy-pirate retry of the same request
    second = client.recv_reply(20.0)
    assert first["ok"] and second == first
    assert [b["id"] for b in client.request("blackout.list")["blackouts"]].count("retry-1") == 1
    assert _counters(client)["retries_answered_from_cache"] >= 1
    # the same id with other content is a new request
    client.send_frames([b"", P.request("blackout.add", {"id": "retry-1", "start": 4.0e9, "end": 4.0e9 + 90},
                                       rid="same-id")])
    third = client.recv_reply(20.0)
    assert third["ok"] is False and third["error"]["code"] == "conflict"
    client.request("blackout.remove", {"id": "retry-1"})


def test_client_times_out_and_retries_against_a_silent_endpoint(tmp_path):
    from groundseg.control.client import Client, ControlUnavailable

    with Client(f"ipc://{tmp_path}/nobody", timeout_s=0.2, retries=2) as c:
        with pytest.raises(ControlUnavailable, match="no reply to 3 attempt"):
            c.request("status")
        assert c.stats["retries"] == 2 and c.stats["reconnects"] == 3


def test_slow_commands_run_aside_and_too_many_get_busy(plain_server, client, monkeypatch):
    import dataclasses
    import threading

    release = threading.Event()

    def blocked(*a, **k):
        release.wait(30)
        return {"passes": []}

    monkeypatch.setattr(plain_server.api, "predict", blocked)
    monkeypatch.setattr(plain_server, "settings", dataclasses.replace(plain_server.settings, max_pending=1))
    try:
        client.send_frames([b"", P.request("passes.predict", {}, rid="slow-1")])
        client.send_frames([b"", P.request("passes.predict", {}, rid="slow-2")])
        busy = client.recv_reply(10.0)
        assert busy["id"] == "slow-2" and busy["error"]["code"] == "busy"
        # a fast command is answered while the slow one still runs
        client.send_frames([b"", P.request("version", {}, rid="fast")])
        fast = client.recv_reply(10.0)
        assert fast["id"] == "fast" and fast["ok"]
    finally:
        release.set()
    done = client.recv_reply(10.0)
    assert done["id"] == "slow-1" and done["ok"] and done["result"] == {"passes": []}


def test_counters_for_the_metrics_exporter(plain_server, client):
    before = plain_server.request_counts()
    client.request("version")
    send_malformed(client, [b"{oops"])
    client.recv_reply(10.0)
    with pytest.raises(Exception):
        client.request("task.show", {"id": "nope"})
    after = plain_server.request_counts()
    for key in (("version", "ok"), ("unknown", "bad_json"), ("task.show", "not_found")):
        assert after.get(key, 0) == before.get(key, 0) + 1, key
    c = plain_server.counters()
    assert c["replies_ok"] >= 1 and c["error_bad_json"] >= 1 and "pending" in c
    assert "auth_refused" not in c  # plain mode authenticates nobody


def test_client_gets_through_again_after_the_server_restarts(tmp_path):
    from groundseg.control.client import Client, ControlUnavailable
    from groundseg.control.server import ControlServer
    from groundseg.control.settings import ControlConfig

    cfg = ControlConfig(security="plain", endpoint=f"ipc://{tmp_path}/req", pub_endpoint=f"ipc://{tmp_path}/pub")
    srv = ControlServer(None, cfg).start()
    with Client(cfg.endpoint, timeout_s=1.0, retries=0) as c:
        assert "status" in [x["name"] for x in c.request("commands")["commands"]]
        srv.close()
        with pytest.raises(ControlUnavailable):
            c.request("commands")
        srv = ControlServer(None, cfg).start()
        try:
            assert c.request("commands", timeout_s=5.0, retries=3)["commands"]
        finally:
            srv.close()
