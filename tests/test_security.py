"""Security of the control plane, the metrics endpoint and the event stream (issue 10), end to end.

What ``test_control_auth.py`` checks at the unit level (0600 key files, the key policy, roles, unknown and
revoked keys get nothing) is not repeated; here:

* CURVE on the wire: a TCP proxy between a real ``Client`` and a real ``ControlServer`` records a session
  byte for byte. Replaying the client's bytes on a new connection, sending a MESSAGE twice inside a
  session, or flipping one bit of a MESSAGE: no reply, nothing executed, the connection dropped, and the
  failure counted by kind (status reply and metrics); the server keeps serving others.
* A read-only key tries every operator command of the registry: each one ``forbidden``, counted per
  command, the station state unchanged. An unknown key is counted (status and metrics).
* The real daemon (debug logging, CURVE, metrics on) with good and failing requests: no secret key, in
  Z85 or raw, in its output, replies, scrape or events. It refuses to start with a group/world-readable
  station secret key; ``groundseg keys`` creates 0600 secret files whatever the umask.
* The metrics endpoint is read-only (other methods and paths are errors, nothing changes); the PUB
  endpoint takes no input (messages and junk subscriptions sent to it execute nothing) and a subscriber
  without an allowed key gets no events.
"""
from __future__ import annotations

import collections
import json
import os
import pathlib
import select
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from groundseg.control import keys as K
from groundseg.control.client import Client, ControlUnavailable, KeyRefused, RemoteError, Subscriber
from groundseg.control.commands import COMMANDS
from groundseg.control.testing import ROOT, SimStation, free_tcp_port, make_keys

GREETING_BYTES = 64  # ZMTP 3 greeting
# A CurveZMQ MESSAGE body is 32 bytes of header, nonce and MAC plus the frame: a ZMTP PING/PONG
# (flags, "\x04PING", TTL, context) stays under this; a JSON reply never does.
HEARTBEAT_MESSAGE_BYTES = 48


# --- a recording, frame-aware TCP proxy --------------------------------------------------------------

def zmtp_frames(data: bytes) -> tuple[list[tuple[int, bytes, bytes]], bytes]:
    """Split a ZMTP 3 byte stream (after the greeting) into (flags, body, raw frame); returns the rest."""
    out, i = [], 0
    while True:
        if len(data) - i < 2:
            break
        flags = data[i]
        if flags & 0x02:  # LONG: 8-byte size
            if len(data) - i < 9:
                break
            size, head = int.from_bytes(data[i + 1:i + 9], "big"), 9
        else:
            size, head = data[i + 1], 2
        if len(data) - i < head + size:
            break
        out.append((flags, data[i + head:i + head + size], data[i:i + head + size]))
        i += head + size
    return out, data[i:]


def is_message(body: bytes) -> bool:
    """A CurveZMQ MESSAGE command (an encrypted ZeroMQ frame), as opposed to HELLO, INITIATE..."""
    return body.startswith(b"\x07MESSAGE")


class Session:
    def __init__(self):
        self.c2s = bytearray()  # what the client sent, as received by the proxy
        self.s2c = bytearray()  # what the server sent
        self.server_closed = False
        self.done = threading.Event()


class RecordingProxy:
    """Forwards 127.0.0.1:<port> to the server's TCP port, records both directions per connection, and passes
    every client frame (after the greeting) through ``mutate(session_index, n_message, raw) -> [raw...]``."""

    def __init__(self, upstream_port: int, mutate=None):
        self.upstream_port = upstream_port
        self.mutate = mutate
        self.sessions: list[Session] = []
        self._lsock = socket.socket()
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(8)
        self.port = self._lsock.getsockname()[1]
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self):
        self._lsock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._lsock.accept()
            except (socket.timeout, OSError):
                continue
            sess = Session()
            self.sessions.append(sess)
            t = threading.Thread(target=self._serve, args=(len(self.sessions) - 1, sess, conn), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, index: int, sess: Session, conn: socket.socket):
        up = socket.create_connection(("127.0.0.1", self.upstream_port))
        pending, greeted, greeting_sent, n_msg = b"", False, 0, 0
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([conn, up], [], [], 0.1)
                if conn in ready:
                    data = conn.recv(65536)
                    if not data:
                        break
                    sess.c2s += data
                    pending += data
                    if not greeted:  # the greeting goes in pieces (each side waits for the other's)
                        head = pending[:GREETING_BYTES - greeting_sent]
                        up.sendall(head)
                        greeting_sent += len(head)
                        pending = pending[len(head):]
                        if greeting_sent < GREETING_BYTES:
                            continue
                        greeted = True
                    frames, pending = zmtp_frames(pending)
                    for _flags, body, raw in frames:
                        pieces = [raw]
                        if is_message(body):
                            if self.mutate is not None:
                                pieces = self.mutate(index, n_msg, raw)
                            n_msg += 1
                        for p in pieces:
                            up.sendall(p)
                if up in ready:
                    data = up.recv(65536)
                    if not data:
                        sess.server_closed = True
                        break
                    sess.s2c += data
                    conn.sendall(data)
        except OSError:
            sess.server_closed = True
        finally:
            for s in (conn, up):
                try:
                    s.close()
                except OSError:
                    pass
            sess.done.set()

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self._lsock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def flip_bit(raw: bytes, from_end: int = 5) -> bytes:
    """``raw`` with one bit of its ciphertext inverted."""
    b = bytearray(raw)
    b[-from_end] ^= 0x01
    return bytes(b)


# --- an in-process station with its control plane on loopback TCP -------------------------------------------

@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    from groundseg.config import load_config
    from groundseg.control.server import start_control_plane
    from groundseg.station import Station
    from groundseg.telemetry import StationCollector
    from prometheus_client import CollectorRegistry

    d = tmp_path_factory.mktemp("security")
    keys = make_keys(d / "keys", d / "clients", {"op": "operator", "ro": "readonly"}, ("stranger",))
    port, pub_port = free_tcp_port(), free_tcp_port()
    (d / "station.toml").write_text(f"""
[station]
name = "security-test"
lat_deg = 10.0
lon_deg = 20.0
[storage]
state_dir = "state"
artifacts_dir = "passes"
[[chains]]
name = "uhf0"
sdr_args = "rtl=0"
freq_min_hz = 430e6
freq_max_hz = 440e6
[control]
endpoint = "tcp://127.0.0.1:{port}"
pub_endpoint = "tcp://127.0.0.1:{pub_port}"
keys_dir = "keys"
heartbeat_s = 0.2
peer_timeout_s = 1.0
""")
    station = Station(load_config(d / "station.toml"))
    server = start_control_plane(station)
    registry = CollectorRegistry()
    registry.register(StationCollector(station.clock, control=server, device_counters=dict))
    yield server, keys, port, registry
    server.close()
    station.close()


def client(server_or_endpoint, keys, name, timeout_s=5.0, retries=0):
    endpoint = getattr(server_or_endpoint, "endpoint", server_or_endpoint)
    return Client(endpoint, keys.credentials(name) if name else None, timeout_s=timeout_s, retries=retries)


def counters(server) -> collections.Counter:
    """The server's counters (0 for one that never counted)."""
    return collections.Counter(server.counters())


def wait_for(pred, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def metric(registry, name: str, labels: dict | None = None) -> float:
    v = registry.get_sample_value(name, labels or {})
    return 0.0 if v is None else v


def blackouts(server, keys) -> list[str]:
    with client(server, keys, "ro") as c:
        return sorted(b["id"] for b in c.request("blackout.list")["blackouts"])


def blackout_args(bid: str) -> dict:
    return {"id": bid, "start": 4.1e9, "end": 4.1e9 + 60, "reason": "security test"}


# --- replayed and tampered messages -----------------------------------------------------------------------

def test_a_recorded_session_replayed_on_a_new_connection_gets_nothing_and_is_counted(curve):
    server, keys, port, registry = curve
    with RecordingProxy(port) as proxy:
        with client(proxy.endpoint, keys, "op") as c:
            assert c.request("blackout.add", blackout_args("replay-1"))["blackout"]["id"] == "replay-1"
        assert proxy.sessions[0].done.wait(10)
    recorded = bytes(proxy.sessions[0].c2s)
    frames, rest = zmtp_frames(recorded[GREETING_BYTES:])
    assert rest == b"" and frames[0][1][:6] == b"\x05HELLO" and frames[1][1][:9] == b"\x08INITIATE"
    assert sum(is_message(b) for _, b, _ in frames) >= 2  # the request went over CURVE
    assert b"replay-1" not in recorded and b"blackout" not in recorded  # ... encrypted
    before, by_cmd_before = counters(server), server.request_counts()
    before_metric = metric(registry, "groundseg_control_handshake_failures_total", {"reason": "protocol"})
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        # the client's greeting and HELLO, as recorded: the server answers with a fresh WELCOME ...
        s.sendall(recorded[:GREETING_BYTES] + frames[0][2])
        while len(zmtp_frames(bytes(got[GREETING_BYTES:]))[0]) < 1:
            data = s.recv(65536)
            assert data, "the server closed before its WELCOME"
            got += data
        # ... then the recorded INITIATE (its cookie is the old session's) and the request MESSAGEs
        s.sendall(b"".join(raw for _, _, raw in frames[1:]))
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break  # the server closed the connection
                got += data
        except ConnectionResetError:
            pass  # closed with our MESSAGEs unread
        except socket.timeout:
            pytest.fail("the server kept a replayed session open")
    answer, _ = zmtp_frames(bytes(got[GREETING_BYTES:]))
    assert [b[:8] for _, b, _ in answer] == [b"\x07WELCOME"], "more than a WELCOME went to the replayer"
    assert wait_for(lambda: counters(server).get("router_handshake_failed_protocol", 0)
                    > before.get("router_handshake_failed_protocol", 0))
    after = counters(server)
    assert after["requests"] == before["requests"]  # nothing reached the command handlers
    assert server.request_counts() == by_cmd_before
    assert after.get("router_handshakes", 0) == before.get("router_handshakes", 0)
    assert blackouts(server, keys).count("replay-1") == 1
    with client(server, keys, "ro") as c:
        shown = c.request("status")["control"]["counters"]
    assert shown["router_handshake_failed_protocol"] == after["router_handshake_failed_protocol"]
    assert metric(registry, "groundseg_control_handshake_failures_total", {"reason": "protocol"}) > before_metric


def assert_connection_refused_input(c, server, proxy, before) -> None:
    """After a MESSAGE failed authentication: counted, nothing more read from that connection, and the
    connection closed by the server (peer_timeout_s) although the client keeps it open."""
    assert wait_for(lambda: counters(server).get("router_handshake_failed_protocol", 0)
                    > before.get("router_handshake_failed_protocol", 0))
    requests = counters(server)["requests"]
    c.send_frames([b"", b'{"v": 1, "id": "after", "cmd": "status", "args": {}}'])
    assert c.recv_reply(1.0) is None
    assert counters(server)["requests"] == requests
    assert proxy.sessions[0].done.wait(10) and proxy.sessions[0].server_closed
    assert wait_for(lambda: counters(server).get("router_disconnects", 0) > before.get("router_disconnects", 0))


def test_a_message_sent_twice_inside_a_session_runs_once_and_the_connection_is_dropped(curve):
    server, keys, port, _ = curve

    def twice(session, n, raw):  # the request is [empty delimiter, payload]: the payload goes twice
        return [raw, raw] if session == 0 and n == 1 else [raw]

    before = counters(server)
    with RecordingProxy(port, twice) as proxy:
        with client(proxy.endpoint, keys, "op", timeout_s=5.0) as c:
            assert c.request("blackout.add", blackout_args("replay-2"))["blackout"]["id"] == "replay-2"
            assert_connection_refused_input(c, server, proxy, before)
    after = counters(server)
    assert after["requests"] == before["requests"] + 1  # the first copy only
    assert after["router_handshake_failed_protocol"] == before.get("router_handshake_failed_protocol", 0) + 1
    assert blackouts(server, keys).count("replay-2") == 1


def test_a_tampered_message_is_dropped_executes_nothing_and_others_are_served(curve):
    server, keys, port, registry = curve

    def tamper(session, n, raw):  # the payload frame of the first request of the first connection
        return [flip_bit(raw)] if session == 0 and n == 1 else [raw]

    before, by_cmd_before = counters(server), server.request_counts()
    before_metric = metric(registry, "groundseg_control_handshake_failures_total", {"reason": "protocol"})
    with RecordingProxy(port, tamper) as proxy:
        with client(proxy.endpoint, keys, "op", timeout_s=1.0) as c:
            c.send_frames([b"", json.dumps({"v": 1, "id": "t", "cmd": "blackout.add",
                                            "args": blackout_args("tampered")}).encode()])
            assert c.recv_reply(1.0) is None
            assert_connection_refused_input(c, server, proxy, before)
        answer, _ = zmtp_frames(bytes(proxy.sessions[0].s2c[GREETING_BYTES:]))
        # WELCOME, READY and the server's (encrypted) heartbeat PINGs; nothing the size of a reply
        assert answer and not any(is_message(b) and len(b) > HEARTBEAT_MESSAGE_BYTES for _, b, _ in answer)
    after = counters(server)
    assert after["requests"] == before["requests"] and server.request_counts() == by_cmd_before
    assert "tampered" not in blackouts(server, keys)
    with client(server, keys, "ro") as c:  # a fresh client is served
        st = c.request("status")
    assert st["control"]["counters"]["router_handshake_failed_protocol"] >= after["router_handshake_failed_protocol"]
    assert metric(registry, "groundseg_control_handshake_failures_total", {"reason": "protocol"}) > before_metric


# --- roles and unknown keys ----------------------------------------------------------------------------------

def valid_args(cmd) -> dict:
    """Arguments the command's schema accepts (so that only the role can refuse the request)."""
    from groundseg.control.schema import validate

    args = {}
    for a in cmd.args:
        if not a.required:
            continue
        if a.choices:
            v = a.choices[0]
        elif a.type == "string":
            v = "5ec7e5"  # a name, and hex (telecommand ids and data)
        elif a.type in ("integer", "number"):
            v = int(a.min) if a.min is not None else 1
            v = v if a.type == "integer" else float(v)
        elif a.type == "time":
            v = 4.2e9
        elif a.type == "boolean":
            v = True
        else:
            v = {}
        args[a.name] = v
    validate(cmd.args, args, cmd.name)  # raises if the schema would refuse them
    return args


def snapshot(server, keys) -> dict:
    """What the operator commands could change, as an operator reads it."""
    with client(server, keys, "op") as c:
        st = c.request("status")
        return {"blackouts": c.request("blackout.list"), "tasks": c.request("task.list", {"state": "all"}),
                "tle": c.request("tle.show"), "plan": c.request("plan.show"),
                "manual_radio": st.get("manual_radio"), "state": st.get("state"),
                "keys": sorted(p.name for p in keys.dir.rglob("*"))}


def test_a_read_only_key_is_refused_every_operator_command_each_counted(curve):
    server, keys, _, registry = curve
    operator_cmds = [c for _, c in COMMANDS.items() if c.role == "operator"]
    assert len(operator_cmds) >= 15 and {"task.add", "config.reload", "pass.abort"} <= {c.name for c in operator_cmds}
    state_before = snapshot(server, keys)
    before, by_cmd_before = counters(server), server.request_counts()
    metric_before = {c.name: metric(registry, "groundseg_control_requests_total",
                                    {"command": c.name, "result": "forbidden"}) for c in operator_cmds}
    with client(server, keys, "ro") as c:
        for cmd in operator_cmds:
            with pytest.raises(RemoteError) as ei:
                c.request(cmd.name, valid_args(cmd))
            assert ei.value.code == "forbidden", cmd.name
            assert "operator role" in ei.value.message and "readonly" in ei.value.message
    after, by_cmd = counters(server), server.request_counts()
    n = len(operator_cmds)
    assert after["refused_role"] == before.get("refused_role", 0) + n
    assert after["error_forbidden"] == before.get("error_forbidden", 0) + n
    assert after["replies_ok"] == before["replies_ok"]  # nothing succeeded meanwhile
    for cmd in operator_cmds:
        assert by_cmd.get((cmd.name, "forbidden"), 0) == by_cmd_before.get((cmd.name, "forbidden"), 0) + 1, cmd.name
        assert all(by_cmd.get((cmd.name, r), 0) == by_cmd_before.get((cmd.name, r), 0)
                   for r in ("ok", "invalid", "bad_args", "internal")), cmd.name
        assert metric(registry, "groundseg_control_requests_total",
                      {"command": cmd.name, "result": "forbidden"}) == metric_before[cmd.name] + 1, cmd.name
    assert snapshot(server, keys) == state_before


def test_an_unknown_key_is_counted_in_status_and_metrics(curve):
    server, keys, _, registry = curve
    before = counters(server)
    refused_metric = metric(registry, "groundseg_control_auth_refused_total")
    hs_metric = metric(registry, "groundseg_control_handshake_failures_total", {"reason": "auth"})
    with client(server, keys, "stranger", timeout_s=2.0) as c:
        with pytest.raises((KeyRefused, ControlUnavailable)):
            c.request("blackout.add", blackout_args("stranger"))
    assert wait_for(lambda: counters(server).get("router_handshake_failed_auth", 0)
                    > before.get("router_handshake_failed_auth", 0))
    with client(server, keys, "ro") as c:
        shown = c.request("status")["control"]["counters"]
    assert shown["auth_refused"] >= before["auth_refused"] + 1
    assert shown["router_handshake_failed_auth"] >= before.get("router_handshake_failed_auth", 0) + 1
    assert shown["requests"] == before["requests"] + 1  # the status request only
    assert metric(registry, "groundseg_control_auth_refused_total") >= refused_metric + 1
    assert metric(registry, "groundseg_control_handshake_failures_total", {"reason": "auth"}) >= hs_metric + 1
    assert "stranger" not in blackouts(server, keys)


# --- the event stream takes no input ---------------------------------------------------------------------------

def heartbeat_seen(sub, timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        ev = sub.recv(0.5)
        if ev is not None and ev["topic"] == "heartbeat":
            return True
    return False


def test_messages_and_junk_subscriptions_sent_into_the_pub_endpoint_execute_nothing(curve):
    import zmq

    server, keys, _, _ = curve
    pub_port = int(server.pub_endpoint.rsplit(":", 1)[1])
    request = json.dumps({"v": 1, "id": "p", "cmd": "blackout.add", "args": blackout_args("via-pub")}).encode()
    before, by_cmd_before = counters(server), server.request_counts()
    ctx = zmq.Context()
    socks = []
    try:
        for kind in (zmq.PUB, zmq.DEALER, zmq.XSUB, zmq.ROUTER):  # with an allowed operator key
            s = ctx.socket(kind)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDTIMEO, 500)
            keys.credentials("op").apply(s)
            s.connect(server.pub_endpoint)
            socks.append(s)
        time.sleep(0.5)  # handshakes
        pub, dealer, xsub, router = socks
        for _ in range(5):
            pub.send_multipart([b"", request], zmq.NOBLOCK)
            try:
                dealer.send_multipart([b"", request])
            except zmq.Again:
                pass  # nobody took it: the PUB socket refused a DEALER peer
        for junk in ([b"\x01"], [b"\x01" + bytes(range(256))], [b"\x00nothing"], [b"\x02" + request],
                     [request], [b"\x01heartbeat", b"extra frame"], [b""]):
            xsub.send_multipart(junk)
        for i in range(2000):  # a flood of distinct subscriptions
            xsub.send(b"\x01junk-%d-" % i + os.urandom(16))
        with socket.create_connection(("127.0.0.1", pub_port), timeout=5) as raw:  # garbage bytes
            raw.sendall(os.urandom(4096))
        # the station keeps publishing to allowed subscribers and answering requests; nothing ran
        with Subscriber(server.pub_endpoint, ["heartbeat"], keys.credentials("ro")) as sub:
            assert heartbeat_seen(sub)
        assert counters(server)["requests"] == before["requests"] and server.request_counts() == by_cmd_before
        with client(server, keys, "ro") as c:
            assert c.request("status")["control"]["counters"]["requests"] == before["requests"] + 1
        assert "via-pub" not in blackouts(server, keys)
        after = counters(server)
        assert after.get("events_dropped", 0) == before.get("events_dropped", 0)
        # the PUB-PUB, DEALER-PUB and ROUTER-PUB pairs (and the garbage) never complete a handshake: their
        # connections are counted and dropped; the XSUB and the read-only subscriber are the only handshakes
        assert after["pub_handshakes"] == before["pub_handshakes"] + 2
        assert after["pub_connections"] >= before["pub_connections"] + 6
        assert after["pub_disconnects"] >= before["pub_disconnects"] + 4
    finally:
        for s in socks:
            s.close(0)
        ctx.term()


def test_a_subscriber_without_curve_gets_no_events_and_is_counted(curve):
    import zmq

    server, keys, _, _ = curve
    before = counters(server)
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(server.pub_endpoint)
    try:
        assert s.poll(2000) == 0  # heartbeats go out every 0.2 s to those allowed
    finally:
        s.close(0)
        ctx.term()
    after = counters(server)
    failed = ("pub_handshake_failed_auth", "pub_handshake_failed_protocol", "pub_handshake_failed_other")
    assert sum(after[k] for k in failed) > sum(before[k] for k in failed)  # (libzmq: "other", mechanism mismatch)
    assert after["pub_handshakes"] == before["pub_handshakes"]


# --- secrets: every form a key could leak in ---------------------------------------------------------------------

def secret_forms(secret_files) -> dict[str, bytes]:
    """The secret keys of ``secret_files`` as Z85 text, raw bytes, hex and base64."""
    import base64

    from zmq.utils import z85

    forms = {}
    for f in secret_files:
        _, z = K.load_secret(f)
        raw = z85.decode(z)
        assert len(z) == 40 and len(raw) == 32
        name = pathlib.Path(f).name
        forms[f"{name} z85"] = z
        forms[f"{name} raw"] = raw
        forms[f"{name} hex"] = raw.hex().encode()
        forms[f"{name} base64"] = base64.b64encode(raw).rstrip(b"=")
    return forms


def leaks(blob: bytes, forms: dict[str, bytes]) -> list[str]:
    low = blob.lower()
    return [name for name, form in forms.items() if form in blob or (name.endswith("hex") and form in low)]


def all_secret_files(keys) -> list[pathlib.Path]:
    return [K.server_secret_path(keys.dir), *keys.clients.values()]


# --- the metrics endpoint is read-only ---------------------------------------------------------------------------

def http(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_the_metrics_endpoint_takes_no_control_and_shows_no_secret(curve):
    from groundseg.telemetry import MetricsServer

    server, keys, _, registry = curve
    forms = secret_forms(all_secret_files(keys))
    payload = json.dumps({"v": 1, "id": "h", "cmd": "blackout.add", "args": blackout_args("via-http")}).encode()
    with MetricsServer(registry, "127.0.0.1", 0) as srv:
        code, scrape = http(srv.port, "GET", "/metrics")
        assert code == 200 and b"groundseg_control_replies_total" in scrape
        assert b"groundseg_control_handshake_failures_total" in scrape
        assert leaks(scrape, forms) == []
        assert http(srv.port, "GET", "/")[0] == 200  # the documented pointer to /metrics
        blackouts_before = blackouts(server, keys)
        before, by_cmd_before = counters(server), server.request_counts()
        for path in ("/secrets", "/metrics/", "/metrics/extra", "/admin", "/-/reload", "/-/quit",
                     "/api/v1/admin/tsdb/delete_series", "/debug/pprof", "/keys/server.key_secret",
                     "/../../etc/passwd", "/%2e%2e/keys", "/control", "/status"):
            code, body = http(srv.port, "GET", path)
            assert code == 404, path
            assert leaks(body, forms) == [], path
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD"):
            for path in ("/metrics", "/", "/-/reload", "/control"):
                code, body = http(srv.port, method, path, payload if method in ("POST", "PUT", "PATCH") else None)
                assert code == 405, (method, path, code)
                assert b"# TYPE" not in body and leaks(body, forms) == []
        assert counters(server)["requests"] == before["requests"] and server.request_counts() == by_cmd_before
        assert blackouts(server, keys) == blackouts_before
        code, again = http(srv.port, "GET", "/metrics")
        assert code == 200 and leaks(again, forms) == []


# --- the real daemon -------------------------------------------------------------------------------------------------

def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT))


@pytest.mark.slow
def test_the_daemon_never_shows_a_secret_in_logs_replies_metrics_or_events(tmp_path, monkeypatch):

    monkeypatch.setenv("GROUNDSEG_LOG_LEVEL", "debug")
    mport = free_tcp_port()
    st = SimStation(tmp_path / "station", extra_sections=f'[metrics]\naddress = "127.0.0.1:{mport}"')
    st.write_config(heartbeat_s=0.3)
    secret_files = all_secret_files(st.keys)
    forms = secret_forms(secret_files)
    assert "server.key_secret z85" in leaks(secret_files[0].read_bytes(), forms)  # the search finds a leak
    seen: list = []
    st.start(time.time(), speed=1.0)
    try:
        with st.subscriber([""], "ro") as sub:
            with st.client("op") as op, st.client("ro") as ro:
                for cmd, args in (("status", {}), ("config.show", {}), ("version", {}), ("commands", {}),
                                  ("blackout.add", blackout_args("daemon-b")), ("config.reload", {})):
                    seen.append(op.request(cmd, args))
                for c, cmd, args, code in ((op, "task.add", {"id": "t", "norad": 1, "transmitter": "none"}, "invalid"),
                                           (op, "blackout.add", {"id": "bad"}, "bad_args"),
                                           (op, "no.such", {}, "unknown_command"),
                                           (ro, "config.reload", {}, "forbidden"),
                                           (ro, "tle.upload", {"text": "garbage"}, "forbidden")):
                    with pytest.raises(RemoteError) as ei:
                        c.request(cmd, args)
                    assert ei.value.code == code, cmd
                    seen.append(ei.value.error)
                op.send_frames([b"", b"{not json"])
                seen.append(op.recv_reply(5.0))
            with st.client("stranger", timeout_s=2.0, retries=0) as stranger:
                with pytest.raises((KeyRefused, ControlUnavailable)):
                    stranger.request("status")
            with st.client("ro") as ro:
                final = ro.request("status")
                seen.append(final)
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                ev = sub.recv(0.2)
                if ev is not None:
                    seen.append(ev)
        assert any(isinstance(e, dict) and e.get("topic") == "heartbeat" for e in seen)
        assert final["control"]["counters"]["auth_refused"] >= 1
        assert final["control"]["counters"]["router_handshake_failed_auth"] >= 1
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10) as r:
            scrape = r.read()
        assert b'groundseg_control_handshake_failures_total{reason="auth"}' in scrape
    finally:
        rc = st.stop()
    assert rc == 0, st.daemon.log()[-3000:]
    log = st.daemon.log_path.read_bytes()
    assert b"level=debug" in log  # the most talkative level was on
    assert leaks(log, forms) == []
    assert leaks(json.dumps(seen).encode(), forms) == []
    assert leaks(scrape, forms) == []
    # nor in any file the station wrote (state, schedule, artifacts, logs), the secret files themselves aside
    for f in tmp_path.rglob("*"):
        if f.is_file() and not f.name.endswith(K.SECRET_SUFFIX):
            assert leaks(f.read_bytes(), forms) == [], f


def _daemon(st: SimStation, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    from groundseg.control.testing import DAEMON_COMMAND

    return subprocess.run(DAEMON_COMMAND + ["--config", str(st.config), "--simulate", "--passes", "0",
                                            "--workdir", str(st.dir / "work")],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=timeout_s)


@pytest.mark.slow
@pytest.mark.parametrize("what,mode", [("secret", 0o640), ("secret", 0o644), ("clients dir", 0o777)],
                         ids=["secret-0640", "secret-0644", "clients-dir-0777"])
def test_the_daemon_refuses_to_start_with_exposed_keys(tmp_path, what, mode):
    st = SimStation(tmp_path)
    st.write_config()
    path = K.server_secret_path(st.keys.dir) if what == "secret" else K.role_dir(st.keys.dir, "operator")
    os.chmod(path, mode)
    r = _daemon(st)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("groundseg: error:")]
    assert len(errors) == 1, r.stderr
    assert str(path) in errors[0] and f"{mode:04o}" in errors[0]
    assert ("readable by others" if what == "secret" else "writable by others") in errors[0]
    assert "control plane: requests" not in r.stderr  # nothing was served


@pytest.mark.slow
def test_groundsegctl_refuses_a_readable_client_secret_with_one_line(tmp_path):
    keys = make_keys(tmp_path / "keys", tmp_path / "clients", {"op": "operator"})
    os.chmod(keys.clients["op"], 0o644)
    r = subprocess.run([sys.executable, "-m", "groundseg.control.ctl", "--endpoint", "tcp://127.0.0.1:9",
                        "--server-key", str(keys.server_public), "--key", str(keys.clients["op"]), "status"],
                       capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(keys.clients["op"]) in lines[0] and "readable by others" in lines[0], r.stderr


def test_keys_cli_makes_private_files_and_directories_whatever_the_umask(tmp_path):
    def run(*argv):
        r = subprocess.run([sys.executable, "-m", "groundseg.cli", "keys", *argv], capture_output=True, text=True,
                           env=_env(), cwd=ROOT, timeout=60, preexec_fn=lambda: os.umask(0))
        assert r.returncode == 0, r.stderr
        return r.stdout

    kd, out = tmp_path / "etc" / "keys", tmp_path / "home" / "clients"
    printed = run("init", "--dir", str(kd))
    printed += run("add", "ops1", "--role", "operator", "--out", str(out), "--dir", str(kd))
    printed += run("new", "viewer", "--out", str(out / "new"))
    printed += run("init", "--dir", str(kd), "--force")
    mode = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    secrets = [p for p in mode if p.endswith(K.SECRET_SUFFIX)]
    assert sorted(secrets) == ["etc/keys/server.key_secret", "home/clients/new/viewer.key_secret",
                               "home/clients/ops1.key_secret"]
    assert all(mode[p] == 0o600 for p in secrets), mode
    assert all(mode[p] == 0o644 for p in mode if p.endswith(K.PUBLIC_SUFFIX)), mode
    dirs = [p for p in mode if (tmp_path / p).is_dir()]
    assert "etc/keys/clients/operator" in dirs and all(mode[p] == 0o700 for p in dirs), mode
    assert not [p for p in mode if ".new" in p]  # the --force replacement left nothing aside
    assert leaks(printed.encode(), secret_forms([tmp_path / p for p in secrets])) == []
    K.load_server_keys(kd)  # what the CLI made, the station accepts
