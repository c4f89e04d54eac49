"""The control server: a ROUTER for requests and a PUB for events, in one thread of its own.

``ControlServer(api, settings, ...)``; ``start()`` binds both sockets (an
error binding is raised there, from the caller's thread) and runs the I/O
loop in a daemon thread; ``close()`` stops it. ``start_control_plane(station)``
builds the whole thing from the station's ``[control]`` section.

The I/O thread owns the sockets. Per request it checks, in order: the frame
structure (``[identity, b"", json]``; anything else is dropped and counted,
there is no one to answer reliably), the size, the JSON, the envelope, the
protocol version, the command, the client's role, the arguments against the
command's schema; any failure is an error reply with its code. Then fast
commands run inline and slow ones on a worker pool (at most
``max_pending`` in flight, else ``busy``); their replies come back to the
I/O thread through a queue and a wake-up pipe. A handler's exception is an
error reply (``internal`` for a bug, logged with its traceback): nothing a
client sends ends the loop.

Retries: a client repeating an operator request (same id, same bytes) after
a timeout gets the first execution's reply, not a second execution (replies
of operator commands are kept for the last ``REPLY_CACHE`` requests; a
retry of a request still running waits for it).

Events: the server subscribes to ``station.events``; the subscriber only
appends to a bounded queue (full: the event is dropped and counted) and
wakes the loop, which publishes ``[topic, json]`` (frames as
``frame.<norad>``), plus a ``heartbeat`` every ``heartbeat_s``.

``counters()`` is the flat dict of monotonic counters the metrics exporter
reads (``groundseg.telemetry``: ``handle.attach_control(server)``):
requests, replies by outcome, errors by code, drops by reason,
authentication refusals, handshake failures, events published and dropped;
``request_counts()`` the replies by (command, result).
"""
from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import logging
import os
import pathlib
import queue
import threading
import time
from typing import Any

from ..errors import GroundsegError, HardwareError, InputError
from . import protocol as P
from .auth import DOMAIN, Identity, KeyPolicy, ZapDriver, parse_user_id, role_allows
from .commands import COMMANDS, RequestContext
from .schema import validate
from .settings import ControlConfig

log = logging.getLogger(__name__)

REPLY_CACHE = 1024
MAX_BATCH = 200  # requests handled per loop turn before events and results get their turn


def _try_loads(raw: bytes):
    try:
        return P.loads(raw) if len(raw) <= P.DEFAULT_MAX_REQUEST_BYTES else None
    except P.ControlError:
        return None


def _zmq():
    import zmq

    return zmq


class ControlServer:
    def __init__(self, api, settings: ControlConfig, *, policy: KeyPolicy | None = None,
                 server_keys: tuple[bytes, bytes] | None = None, station_name: str = ""):
        if not settings.plain and (policy is None or server_keys is None):
            raise InputError("control: CURVE mode needs the station's keypair and a client key policy")
        if settings.plain:
            from .settings import is_local_endpoint

            for ep in (settings.endpoint, settings.pub_endpoint):
                if not is_local_endpoint(ep):
                    raise InputError(f"control: plain mode is only allowed on ipc:// or loopback, not {ep}")
        self.api = api
        self.settings = settings
        self.policy = policy
        self._server_keys = server_keys
        self.station_name = station_name
        self._counts: collections.Counter = collections.Counter()
        self._by_command: collections.Counter = collections.Counter()  # (command, "ok" or error code)
        self._count_lock = threading.Lock()
        self._events: collections.deque = collections.deque()
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._inflight: dict[tuple, list[bytes]] = {}
        self._recent: collections.OrderedDict = collections.OrderedDict()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._zap: ZapDriver | None = None
        self._unsubscribe = None
        self._ctx = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.endpoint = settings.endpoint
        self.pub_endpoint = settings.pub_endpoint
        self.started_monotonic = time.monotonic()
        self._seq = 0
        self._closed = False

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> "ControlServer":
        zmq = _zmq()
        self._ctx = zmq.Context()
        if not self.settings.plain:
            self._zap = ZapDriver(self._ctx, self.policy).start()
        self._pool = concurrent.futures.ThreadPoolExecutor(self.settings.workers, thread_name_prefix="control-worker")
        self._thread = threading.Thread(target=self._run, name="control-server", daemon=True)
        self._thread.start()
        self._ready.wait(30.0)
        if self._start_error is not None or not self._ready.is_set():
            err = self._start_error
            self.close()
            if isinstance(err, GroundsegError):
                raise err
            raise HardwareError(f"control plane: cannot start: {err or 'timed out'}")
        events = getattr(self.api.station, "events", None) if self.api is not None else None
        if events is not None:
            self._unsubscribe = events.subscribe(self._on_event)
        log.info("control plane: requests on %s, events on %s (%s)", self.endpoint, self.pub_endpoint,
                 self.settings.security)
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(10.0)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._zap is not None:
            self._zap.stop()
        close_api = getattr(self.api, "close", None)
        if close_api is not None:
            close_api()
        if self._ctx is not None:
            self._ctx.term()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- counters -------------------------------------------------------------------------------

    def _count(self, key: str, n: int = 1) -> None:
        with self._count_lock:
            self._counts[key] += n

    def counters(self) -> dict[str, int]:
        """Monotonic counters (plus ``pending``, a gauge) for the metrics exporter."""
        with self._count_lock:
            out = dict(self._counts)
        out["pending"] = self._pending
        out["events_queued"] = len(self._events)
        if self.policy is not None:
            out.update(self.policy.counters())
        out["dropped"] = sum(v for k, v in out.items() if k.startswith("dropped_"))
        return out

    def request_counts(self) -> dict[tuple[str, str], int]:
        """Replies by (command, result): result is "ok" or the error code; command "unknown" when the request
        named none the station knows."""
        with self._count_lock:
            return dict(self._by_command)

    def describe(self) -> dict:
        """What ``status`` shows of the control plane (no key material)."""
        return {"protocol": P.PROTOCOL_VERSION, "security": self.settings.security,
                "endpoint": self.endpoint, "pub_endpoint": self.pub_endpoint,
                "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
                "clients": self.policy.clients() if self.policy is not None else None,
                "counters": self.counters()}

    # --- cross-thread hand-over -----------------------------------------------------------------------

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (the loop will wake anyway) or closed (we are stopping)

    def _on_event(self, ev) -> None:
        """EventBus subscriber: called in the publishing thread; only queues."""
        if len(self._events) >= self.settings.event_queue:
            self._count("events_dropped")
            return
        self._events.append((ev.topic, ev.t_unix_s, ev.seq, ev.data))
        self._wake()

    # --- the I/O thread -----------------------------------------------------------------------------------

    def _setup_socket(self, sock, hwm: int) -> None:
        zmq = _zmq()
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
        # ZMTP heartbeats: a peer that answers nothing for peer_timeout_s is disconnected. Beside dead
        # peers, this ends a connection libzmq stopped reading after a message failed CURVE
        # authentication (a tampered or replayed MESSAGE: libzmq 4.3 counts it and stalls that
        # connection's input instead of closing it).
        timeout_ms = max(1, int(self.settings.peer_timeout_s * 1000))
        sock.setsockopt(zmq.HEARTBEAT_IVL, max(1, timeout_ms // 3))
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, timeout_ms)
        if not self.settings.plain:
            public, secret = self._server_keys
            sock.curve_server = True
            sock.curve_publickey = public
            sock.curve_secretkey = secret
            sock.zap_domain = DOMAIN.encode()

    def _bind(self, sock, endpoint: str) -> str:
        zmq = _zmq()
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as e:
            raise HardwareError(f"control plane: cannot bind {endpoint}: {e}") from None
        return sock.getsockopt_string(zmq.LAST_ENDPOINT) or endpoint

    def _run(self) -> None:
        zmq = _zmq()
        ctx = self._ctx
        router = pub = mon_router = mon_pub = None
        try:
            router = ctx.socket(zmq.ROUTER)
            self._setup_socket(router, 1000)
            # A hard cap for libzmq (the soft limit, max_request_bytes, gets an error reply): a peer
            # sending more than this is disconnected before the message is buffered.
            router.setsockopt(zmq.MAXMSGSIZE, 2 * self.settings.max_request_bytes + 65536)
            pub = ctx.socket(zmq.PUB)
            self._setup_socket(pub, 10000)
            events = (zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED
                      | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                      | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            mon_router = router.get_monitor_socket(events)
            mon_pub = pub.get_monitor_socket(events)
            self.endpoint = self._bind(router, self.settings.endpoint)
            self.pub_endpoint = self._bind(pub, self.settings.pub_endpoint)
        except BaseException as e:  # noqa: BLE001 - reported to start()
            self._start_error = e
            for s in (mon_router, mon_pub, router, pub):
                if s is not None:
                    s.close(0)
            self._ready.set()
            return
        self._router, self._pub = router, pub
        self._ready.set()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(mon_router, zmq.POLLIN)
        poller.register(mon_pub, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        next_beat = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat()
                    next_beat = now + self.settings.heartbeat_s
                timeout_ms = max(0, int((next_beat - time.monotonic()) * 1000)) + 1
                try:
                    ready = dict(poller.poll(timeout_ms))
                except zmq.ZMQError as e:
                    if self._stop.is_set():
                        break
                    log.error("control plane: poll failed: %s", e)
                    self._count("loop_errors")
                    time.sleep(0.05)
                    continue
                try:
                    if self._wake_r in ready:
                        self._drain_wake()
                    if router in ready:
                        self._read_requests(router)
                    for mon, name in ((mon_router, "router"), (mon_pub, "pub")):
                        if mon in ready:
                            self._read_monitor(mon, name)
                    self._send_results(router)
                    self._publish_events(pub)
                except Exception:  # noqa: BLE001 - the loop never dies; count and go on
                    self._count("loop_errors")
                    log.exception("control plane: error in the I/O loop")
        finally:
            for s in (mon_router, mon_pub):
                s.close(0)
            router.disable_monitor()
            pub.disable_monitor()
            router.close(0)
            pub.close(0)

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _read_monitor(self, mon, name: str) -> None:
        from zmq.utils.monitor import recv_monitor_message

        zmq = _zmq()
        names = {zmq.EVENT_ACCEPTED: "connections", zmq.EVENT_DISCONNECTED: "disconnects",
                 zmq.EVENT_HANDSHAKE_SUCCEEDED: "handshakes",
                 zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake_failed_auth",
                 zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake_failed_protocol",
                 zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed_other"}
        for _ in range(1000):
            try:
                msg = recv_monitor_message(mon, zmq.NOBLOCK)
            except zmq.Again:
                return
            except (zmq.ZMQError, ValueError):
                self._count("loop_errors")
                return
            key = names.get(msg.get("event"))
            if key:
                self._count(f"{name}_{key}")

    # --- requests -------------------------------------------------------------------------------------------

    def _read_requests(self, router) -> None:
        zmq = _zmq()
        for _ in range(MAX_BATCH):
            try:
                frames = router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._count("requests")
            try:
                self._handle(frames)
            except Exception:  # noqa: BLE001
                self._count("loop_errors")
                log.exception("control plane: request handling failed")

    def _identity(self, frame) -> Identity | None:
        if self.settings.plain:
            return Identity("local", self.settings.plain_role)
        try:
            uid = frame.get("User-Id")
        except Exception:  # noqa: BLE001 - no metadata on this message
            return None
        return parse_user_id(uid)

    def _handle(self, frames) -> None:
        if len(frames) != 3 or len(frames[0].bytes) == 0 or frames[1].bytes != b"":
            # Not [identity, empty delimiter, request]: a peer not speaking this protocol (or a DEALER
            # without the delimiter). There is no reliable way to answer: drop and count.
            why = "no_delimiter" if len(frames) == 2 else "bad_frames"
            self._count(f"dropped_{why}")
            log.info("control plane: dropped a message of %d frame(s) (%s)", len(frames), why)
            return
        peer = frames[0].bytes
        who = self._identity(frames[2])
        if who is None:
            self._count("dropped_unauthenticated")
            return
        raw = frames[2].bytes
        if self.policy is not None and not self.policy.current(who):
            # Authenticated when it connected, revoked since (config.reload): refuse every request.
            self._count("refused_revoked")
            self._send_error(peer, P.read_id(_try_loads(raw)), P.ControlError(
                "forbidden", f"the key of {who.name} is no longer allowed on this station"))
            return
        try:
            req = P.parse_request(raw, self.settings.max_request_bytes)
        except P.ControlError as e:
            self._send_error(peer, e.extra.get("id"), e)
            return
        try:
            cmd = COMMANDS.get(req.cmd)
        except InputError:
            known = ", ".join(COMMANDS.names())
            self._send_error(peer, req.id, P.ControlError("unknown_command",
                                                          f"unknown command {req.cmd[:64]!r} (commands: {known})"))
            return
        if not role_allows(who.role, cmd.role):
            self._count("refused_role")
            self._send_error(peer, req.id, P.ControlError(
                "forbidden", f"{cmd.name} needs the {cmd.role} role; this client ({who.name}) is {who.role}"),
                cmd.name)
            return
        try:
            args = validate(cmd.args, req.args, cmd.name)
        except P.ControlError as e:
            self._send_error(peer, req.id, e, cmd.name)
            return
        key = None
        if cmd.role != "readonly":
            key = (who.user_id, str(req.id), cmd.name)
            digest = hashlib.sha256(raw).digest()
            cached = self._recent.get(key)
            if cached is not None and cached[0] == digest:
                self._count("retries_answered_from_cache")
                self._send(peer, cached[1])
                return
            if key in self._inflight:
                self._count("retries_joined")
                self._inflight[key].append(peer)
                return
            key = (key, digest)
        ctx = RequestContext(who, req.id, self)
        if not cmd.slow:
            self._send(peer, self._execute(cmd, args, ctx), key)
            return
        if self._pending >= self.settings.max_pending:
            self._send_error(peer, req.id, P.ControlError(
                "busy", f"{self._pending} slow requests in flight (max_pending {self.settings.max_pending}): "
                        "retry later"), cmd.name)
            return
        self._pending += 1
        if key is not None:
            self._inflight[key[0]] = [peer]
        self._pool.submit(self._work, cmd, args, ctx, peer, key)

    def _work(self, cmd, args, ctx, peer, key) -> None:
        reply = self._execute(cmd, args, ctx)
        self._results.put((peer, key, reply))
        self._wake()

    def _execute(self, cmd, args: dict, ctx: RequestContext) -> bytes:
        """Run a handler; every outcome is a reply (bytes)."""
        from firmware_bridge.errors import Refused

        rid = ctx.request_id
        try:
            result = cmd.handler(self.api, args, ctx)
            reply = P.ok_reply(rid, result)
            self._count("replies_ok")
            self._count_command(cmd.name, "ok")
            return reply
        except P.ControlError as e:
            err = e
        except Refused as e:
            err = P.ControlError("refused", str(e))
        except InputError as e:
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            err = P.ControlError("invalid", lines[0] if lines else "invalid request",
                                 details=lines[1:] if len(lines) > 1 else None)
        except HardwareError as e:
            err = P.ControlError("hardware", str(e))
        except GroundsegError as e:
            err = P.ControlError("invalid", str(e))
        except Exception as e:  # noqa: BLE001 - a bug: logged with its traceback, answered, survived
            log.exception("control plane: %s failed", cmd.name)
            err = P.ControlError("internal", f"internal error in {cmd.name}: {type(e).__name__} (logged by the "
                                             "station)")
        self._count("replies_error")
        self._count(f"error_{err.code}")
        self._count_command(cmd.name, err.code)
        return P.error_reply(rid, err)

    def _count_command(self, command: str, result: str) -> None:
        with self._count_lock:
            self._by_command[(command, result)] += 1

    def _send_error(self, peer: bytes, rid, err: P.ControlError, command: str = "unknown") -> None:
        self._count("replies_error")
        self._count(f"error_{err.code}")
        self._count_command(command, err.code)
        self._send(peer, P.error_reply(rid, err))

    def _send(self, peer: bytes, reply: bytes, key=None) -> None:
        zmq = _zmq()
        peers = [peer]
        if key is not None:
            (k, digest) = key
            peers = self._inflight.pop(k, None) or [peer]
            self._recent[k] = (digest, reply)
            while len(self._recent) > REPLY_CACHE:
                self._recent.popitem(last=False)
        for p in peers:
            try:
                self._router.send_multipart([p, b"", reply], zmq.NOBLOCK)
            except zmq.ZMQError:
                self._count("replies_undeliverable")

    def _send_results(self, router) -> None:
        while True:
            try:
                peer, key, reply = self._results.get_nowait()
            except queue.Empty:
                return
            self._pending -= 1
            self._send(peer, reply, key)

    # --- events ---------------------------------------------------------------------------------------------

    def _publish(self, pub, topic: str, t_unix_s: float, data: dict) -> None:
        zmq = _zmq()
        self._seq += 1
        try:
            msg = P.event_message(topic, self._seq, t_unix_s, data)
        except (TypeError, ValueError):
            self._count("events_unencodable")
            log.exception("control plane: cannot encode a %s event", topic)
            return
        try:
            pub.send_multipart(msg, zmq.NOBLOCK)
            self._count("events_published")
        except zmq.ZMQError:
            self._count("events_dropped")

    def _publish_events(self, pub) -> None:
        for _ in range(10000):
            try:
                topic, t, seq, data = self._events.popleft()
            except IndexError:
                return
            self._publish(pub, P.event_topic(topic, data), t, dict(data, event_seq=seq))

    def _heartbeat(self) -> None:
        station = getattr(self.api, "station", None)
        data: dict[str, Any] = {"station": self.station_name, "uptime_s": round(time.monotonic() -
                                                                                self.started_monotonic, 3)}
        t = time.time()
        if station is not None:
            try:
                t = station.clock.now()
                data["state"] = station.state
                cur = station.executor.status()
                data["pass_id"] = cur.get("pass_id") if cur else None
            except Exception:  # noqa: BLE001
                log.exception("control plane: heartbeat")
        c = self.counters()
        data["counters"] = {k: c.get(k, 0) for k in ("requests", "replies_ok", "replies_error", "dropped",
                                                     "events_published", "events_dropped", "auth_refused")}
        self._publish(self._pub, "heartbeat", t, data)
        self._count("heartbeats")


# --- composition -----------------------------------------------------------------------------------------------

def control_settings(config) -> ControlConfig | None:
    """The station's [control] settings (parsed with this package's parser, whoever loaded the file)."""
    val = config.section("control") if hasattr(config, "section") else None
    if isinstance(val, ControlConfig):
        return val
    # The file was parsed before this package registered its [control] parser: parse that table again.
    import tomllib

    from .settings import parse_control

    try:
        doc = tomllib.loads(pathlib.Path(config.path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{config.path}: cannot read [control]: {e}") from None
    errs: list[str] = []
    val = parse_control(doc.get("control"), "control", errs)
    if errs:
        raise InputError(f"{config.path}: {len(errs)} problem(s):\n  " + "\n  ".join(errs))
    return val


def start_control_plane(station, settings: ControlConfig | None = None) -> ControlServer | None:
    """Start the control plane of ``station`` from its [control] section; None when it is disabled.

    Raises ``InputError`` (missing or unsafe keys, bad settings) or ``HardwareError`` (cannot bind).
    """
    from . import keys as K
    from .station_api import StationAPI

    existing = getattr(station, "_control_server", None)
    if existing is not None:
        return existing
    cfg = settings or control_settings(station.config)
    if cfg is None or not cfg.enabled:
        log.info("control plane: disabled ([control] absent or enabled = false)")
        return None
    policy = server_keys = None
    if not cfg.plain:
        keys_dir = cfg.keys_path(station.config)
        server_keys = K.load_server_keys(keys_dir)
        policy = KeyPolicy(keys_dir)
    api = StationAPI(station, policy=policy)
    server = ControlServer(api, cfg, policy=policy, server_keys=server_keys,
                           station_name=station.config.station.name)
    try:
        server.start()
    except BaseException:
        api.close()
        raise
    station._control_server = server
    return server
