"""The Python client of the control plane: requests with timeouts and retries, and event subscriptions.

``Client(endpoint, credentials)``::

    with Client("tcp://station:5555", Credentials.from_files("server.key", "me.key_secret")) as c:
        st = c.call("status")
        c.call("task.add", id="iss", norad=25544, transmitter="...")

Requests follow the lazy-pirate pattern: a DEALER socket sends the request
and waits ``timeout_s``; without a reply the socket is closed (nothing
queued survives), a new one connects and the same request (same id) is sent
again, up to ``retries`` times, then ``ControlUnavailable`` is raised. A
station that restarts therefore never hangs a client, and the station
answers a repeated operator request from its reply cache instead of running
it twice. Replies whose id is not the current request's (late answers to
an earlier attempt) are discarded and counted. An error reply raises
``RemoteError`` (``code``, ``message``, ``details``). A station that refuses
the client's key is detected from the handshake (``KeyRefused``) instead of
waiting out every retry.

``Subscriber(pub_endpoint, topics, credentials)`` receives events
(``{"topic", "seq", "t_unix_s", "data"}``); ``topics`` are prefixes
(``"frame"`` takes every satellite's frames, ``"frame.43804"`` one
satellite's, ``"pass."`` the pass life cycle). ZeroMQ reconnects it by
itself after a station restart; subscribed to everything, ``missed``
counts gaps in ``seq`` (events the PUB socket dropped for a slow reader).
"""
from __future__ import annotations

import collections
import json
import os
import pathlib
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from ..errors import GroundsegError, InputError
from . import protocol as P


class ControlUnavailable(GroundsegError):
    """No reply from the station within the timeout, after every retry."""

    exit_code = 4


class KeyRefused(GroundsegError):
    """The station refused this client's CURVE key (not allowed there, or the wrong station key)."""

    exit_code = 5


class RemoteError(GroundsegError):
    """The station answered with an error reply."""

    exit_code = 1

    def __init__(self, error: dict):
        self.code = str(error.get("code", "internal"))
        self.message = str(error.get("message", ""))
        self.details = list(error.get("details") or [])
        self.error = error
        extra = [d for d in self.details if str(d) not in self.message]
        super().__init__(f"{self.code}: {self.message}" + "".join(f"\n  {d}" for d in extra))


@dataclass(frozen=True)
class Credentials:
    """CURVE keys of a client: the station's public key and the client's own pair (Z85)."""

    server_public: bytes
    client_public: bytes
    client_secret: bytes

    @classmethod
    def from_files(cls, server_public_file: str | os.PathLike, client_secret_file: str | os.PathLike) -> "Credentials":
        from .keys import load_public, load_secret

        pub, sec = load_secret(client_secret_file)
        return cls(load_public(server_public_file), pub, sec)

    def apply(self, sock) -> None:
        sock.curve_serverkey = self.server_public
        sock.curve_publickey = self.client_public
        sock.curve_secretkey = self.client_secret

    def __repr__(self) -> str:  # never show the secret
        return f"Credentials(server={self.server_public[:8].decode()}..., client={self.client_public[:8].decode()}...)"


def _monitor_events():
    import zmq

    return zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL


class _Monitored:
    """A socket (``_sock``, in ``_ctx``) with a monitor that notices a refused CURVE handshake."""

    def _open_monitor(self, sock):
        self._mon = sock.get_monitor_socket(_monitor_events())
        self.handshake_ok = False

    def _check_monitor(self) -> None:
        import zmq
        from zmq.utils.monitor import recv_monitor_message

        while True:
            try:
                msg = recv_monitor_message(self._mon, zmq.NOBLOCK)
            except zmq.Again:
                return
            ev = msg.get("event")
            if ev == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.handshake_ok = True
            elif ev == zmq.EVENT_HANDSHAKE_FAILED_AUTH and self.credentials is not None:
                raise KeyRefused(f"{self.endpoint}: the station refused this client's key (not allowed there, "
                                 "or a wrong station public key)")

    def _close_monitor(self, sock) -> None:
        try:
            sock.disable_monitor()
        except Exception:  # noqa: BLE001
            pass
        self._mon.close(0)

    def close(self) -> None:
        if self._sock is not None:
            self._close_monitor(self._sock)
            self._sock.close(0)
            self._sock = None
        if self._own_ctx:
            self._ctx.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Client(_Monitored):
    def __init__(self, endpoint: str, credentials: Credentials | None = None, *, timeout_s: float = 5.0,
                 retries: int = 2, context=None):
        import zmq

        if not timeout_s > 0 or retries < 0:
            raise InputError("timeout_s must be > 0 and retries >= 0")
        self.endpoint = endpoint
        self.credentials = credentials
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self._own_ctx = context is None
        self._ctx = context or zmq.Context()
        self.stats: collections.Counter = collections.Counter()
        self._sock = None
        self._connect()

    def _connect(self) -> None:
        import zmq

        s = self._ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        # A DEALER with no usable peer (station down, or the CURVE handshake
        # refused) blocks in send: bound it, so a request always ends.
        s.setsockopt(zmq.SNDTIMEO, max(1, int(self.timeout_s * 1000)))
        if self.credentials is not None:
            self.credentials.apply(s)
        self._open_monitor(s)
        s.connect(self.endpoint)
        self._sock = s
        self._poller = zmq.Poller()
        self._poller.register(s, zmq.POLLIN)
        self._poller.register(self._mon, zmq.POLLIN)

    def _reset(self) -> None:
        self._close_monitor(self._sock)
        self._sock.close(0)
        self.stats["reconnects"] += 1
        self._connect()


    # --- requests ------------------------------------------------------------------------------

    def _wait_reply(self, rid, timeout_s: float) -> dict | None:
        import zmq

        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = dict(self._poller.poll(max(1, int(left * 1000))))
            if self._mon in ready:
                self._check_monitor()
            if self._sock in ready:
                while True:
                    try:
                        frames = self._sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if len(frames) != 2 or frames[0] != b"":
                        self.stats["stray_messages"] += 1
                        continue
                    try:
                        rep = P.parse_reply(frames[1])
                    except (ValueError, UnicodeDecodeError):
                        self.stats["stray_messages"] += 1
                        continue
                    if rid is not None and rep.get("id") != rid:
                        self.stats["stale_replies"] += 1
                        continue
                    return rep

    def exchange(self, payload: bytes, rid=None, timeout_s: float | None = None,
                 retries: int | None = None) -> dict:
        """Send ``payload`` (retrying) and return the reply envelope with id ``rid`` (any id when None)."""
        timeout = self.timeout_s if timeout_s is None else float(timeout_s)
        tries = 1 + (self.retries if retries is None else int(retries))
        for attempt in range(tries):
            if attempt:
                self.stats["retries"] += 1
            if not self._send([b"", payload]):
                self._reset()
                continue
            rep = self._wait_reply(rid, timeout)
            if rep is not None:
                return rep
            self._reset()  # lazy pirate: drop whatever the old socket still holds
        raise ControlUnavailable(f"{self.endpoint}: no reply to {tries} attempt(s) of {timeout:g} s "
                                 "(station down, or not reachable)")

    def request(self, cmd: str, args: dict | None = None, *, timeout_s: float | None = None,
                retries: int | None = None) -> Any:
        """Run ``cmd``; returns its result or raises ``RemoteError`` / ``ControlUnavailable`` / ``KeyRefused``."""
        rid = uuid.uuid4().hex
        rep = self.exchange(P.request(cmd, args or {}, rid), rid, timeout_s, retries)
        if rep["ok"]:
            return rep["result"]
        raise RemoteError(rep["error"])

    def call(self, cmd: str, **args) -> Any:
        return self.request(cmd, {k: v for k, v in args.items() if v is not None})

    def _send(self, frames: list[bytes]) -> bool:
        """Send within the send timeout; False (after checking for a refused key) if nobody took it."""
        import zmq

        try:
            self._sock.send_multipart(frames)
            return True
        except zmq.Again:
            self._check_monitor()   # raises KeyRefused when the handshake was refused
            return False

    def send_frames(self, frames: list[bytes]) -> None:
        """Send raw frames as they are (tests of malformed input)."""
        if not self._send(frames):
            raise ControlUnavailable(f"{self.endpoint}: nobody takes requests (station down, or not reachable)")

    def recv_reply(self, timeout_s: float) -> dict | None:
        """The next reply envelope (any id) within ``timeout_s``, or None."""
        return self._wait_reply(None, timeout_s)


class Subscriber(_Monitored):
    def __init__(self, endpoint: str, topics: Iterable[str] = ("",), credentials: Credentials | None = None, *,
                 context=None):
        import zmq

        self.endpoint = endpoint
        self.credentials = credentials
        self._own_ctx = context is None
        self._ctx = context or zmq.Context()
        s = self._ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVHWM, 100000)
        if credentials is not None:
            credentials.apply(s)
        topics = list(topics)
        self._everything = "" in topics  # gaps in seq mean missed events only when nothing is filtered
        for t in topics:
            s.setsockopt(zmq.SUBSCRIBE, t.encode("utf-8"))
        self._open_monitor(s)
        s.connect(endpoint)
        self._sock = s
        self._poller = zmq.Poller()
        self._poller.register(s, zmq.POLLIN)
        self._poller.register(self._mon, zmq.POLLIN)
        self.last_seq: int | None = None
        self.missed = 0
        self.malformed = 0

    def recv(self, timeout_s: float | None = None) -> dict | None:
        """The next event, or None after ``timeout_s`` (None: wait for ever)."""
        import zmq

        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = dict(self._poller.poll(None if left is None else max(1, int(left * 1000))))
            if self._mon in ready:
                self._check_monitor()
            if self._sock in ready:
                try:
                    frames = self._sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    continue
                ev = self._decode(frames)
                if ev is not None:
                    return ev
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def _decode(self, frames: list[bytes]) -> dict | None:
        try:
            if len(frames) != 2:
                raise ValueError("not [topic, json]")
            ev = json.loads(frames[1].decode("utf-8"))
            if not isinstance(ev, dict) or not isinstance(ev.get("seq"), int):
                raise ValueError("not an event")
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
            self.malformed += 1
            return None
        seq = ev["seq"]
        if self._everything and self.last_seq is not None and seq > self.last_seq + 1:
            self.missed += seq - self.last_seq - 1
        self.last_seq = seq
        return ev

    def __iter__(self) -> Iterator[dict]:
        while True:
            ev = self.recv()
            if ev is not None:
                yield ev



# --- where the station is --------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    endpoint: str
    pub_endpoint: str
    credentials: Credentials | None


def resolve_target(config: str | None = None, endpoint: str | None = None, pub_endpoint: str | None = None,
                   server_key: str | None = None, key: str | None = None, plain: bool = False) -> Target:
    """Endpoints and keys from explicit values, else the environment (GROUNDSEG_CTL_*), else a station config.

    A station config gives the endpoints, the mode and the station's public key (``keys_dir/server.key``);
    the client's own secret key file comes from ``key`` / ``GROUNDSEG_CTL_KEY``.
    """
    env = os.environ
    config = config or env.get("GROUNDSEG_CTL_CONFIG")
    endpoint = endpoint or env.get("GROUNDSEG_CTL_ENDPOINT")
    pub_endpoint = pub_endpoint or env.get("GROUNDSEG_CTL_PUB_ENDPOINT")
    server_key = server_key or env.get("GROUNDSEG_CTL_SERVER_KEY")
    key = key or env.get("GROUNDSEG_CTL_KEY")
    if config:
        from ..config import load_config
        from . import keys as K
        from .server import control_settings

        cfg = load_config(config)
        ctl = control_settings(cfg)
        if ctl is None or not ctl.enabled:
            raise InputError(f"{config}: the control plane is not enabled ([control])")
        endpoint = endpoint or ctl.endpoint
        pub_endpoint = pub_endpoint or ctl.pub_endpoint
        plain = plain or ctl.plain
        if not plain and server_key is None:
            server_key = str(K.server_public_path(ctl.keys_path(cfg)))
    endpoint = endpoint or "tcp://127.0.0.1:5555"
    pub_endpoint = pub_endpoint or "tcp://127.0.0.1:5556"
    for ep in (endpoint, pub_endpoint):
        if ep.startswith("tcp://0.0.0.0") or ep.startswith("tcp://*"):
            raise InputError(f"{ep}: give the station's address, not a wildcard")
    if plain:
        return Target(endpoint, pub_endpoint, None)
    if not server_key or not key:
        raise InputError("CURVE needs the station's public key (--server-key or --config) and this client's "
                         "secret key file (--key or GROUNDSEG_CTL_KEY); --plain for a plain-mode station")
    return Target(endpoint, pub_endpoint, Credentials.from_files(pathlib.Path(server_key).expanduser(),
                                                                  pathlib.Path(key).expanduser()))
