"""systemd notification (sd_notify) for a ``Type=notify`` service, without a dependency.

systemd names a datagram socket in ``$NOTIFY_SOCKET`` (a path, or ``@name``
in the abstract namespace); the daemon writes ``KEY=VALUE`` lines to it:

``READY=1``     start-up is over (systemd holds ``systemctl start`` until then)
``STATUS=...``  one line shown by ``systemctl status``
``STOPPING=1``  shutting down
``WATCHDOG=1``  still alive; with ``WatchdogSec=`` set, systemd kills and
                (``Restart=on-failure``) restarts a service whose pings stop
                for that long. It passes the interval in ``$WATCHDOG_USEC``
                (and the PID it expects them from in ``$WATCHDOG_PID``).

Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op returning False;
a failed send is logged once and never raised: the daemon must not die of its
supervisor's absence.

A liveness ping must mean "the main loop is working", not "some thread is
alive". So the pings come from a ``Watchdog`` thread that sends ``WATCHDOG=1``
every ``interval_s / 2`` **only while** a health check passes, typically a
``Heartbeat`` the main loop beats on each turn::

    hb = Heartbeat.for_watchdog(wd := Watchdog.from_env())
    wd.start(hb.fresh)                 # pings while the main loop beats
    notify_ready("idle")
    while running:
        hb.beat()                      # every turn; long waits in slices of hb.period_s
        with hb.busy(pass_wall_s):     # a long step: no beat expected until it ends
            fly_pass()

A wedged main loop stops beating, the check fails, the pings stop and systemd
restarts the daemon after ``WatchdogSec=``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Callable, Iterator, Mapping

log = logging.getLogger(__name__)

__all__ = ["Notifier", "Watchdog", "Heartbeat", "default_notifier", "notify", "notify_ready", "notify_status",
           "notify_stopping", "notify_watchdog", "STATUS_TOPICS", "event_status", "status_subscriber"]


def _socket_address(value: str | None) -> str | None:
    """The ``AF_UNIX`` address for ``$NOTIFY_SOCKET``, or None when unusable."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    # vsock: (for VMs) and anything else: not supported here
    log.warning("NOTIFY_SOCKET=%r is not a path or @abstract name: systemd notifications disabled", value)
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class Notifier:
    """Sends notification datagrams to one socket (``address`` None: every send is a no-op)."""

    def __init__(self, address: str | None):
        """``address``: as in ``$NOTIFY_SOCKET`` (``/path`` or ``@abstract``); None: disabled."""
        self.address = _socket_address(address)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failed = False
        self.sent = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, unset: bool = False) -> "Notifier":
        """The notifier of ``$NOTIFY_SOCKET``; ``unset`` removes it from ``os.environ`` so that
        child processes (flowgraphs) do not inherit it."""
        env = os.environ if environ is None else environ
        n = cls(env.get("NOTIFY_SOCKET"))
        if unset and environ is None:
            os.environ.pop("NOTIFY_SOCKET", None)
        return n

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; True when it was sent."""
        if self.address is None or not lines:
            return False
        data = "\n".join(lines).encode("utf-8", "replace")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(data, self.address)
            except OSError as e:
                if not self._failed:
                    self._failed = True
                    log.warning("cannot notify systemd at %r: %s", self.address.replace("\0", "@"),
                                e.strerror or e)
                return False
            self.sent += 1
            return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_one_line(text)}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


_default: Notifier | None = None
_default_lock = threading.Lock()


def default_notifier() -> Notifier:
    """The process's notifier, made from ``$NOTIFY_SOCKET`` on first use (and kept: a child
    process started later does not get the variable, see ``Notifier.from_env(unset=True)``)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Notifier.from_env(unset=True)
        return _default


def notify(*lines: str) -> bool:
    return default_notifier().send(*lines)


def notify_ready(status: str | None = None) -> bool:
    """``READY=1`` (and ``STATUS=`` when given): start-up is done."""
    return default_notifier().ready(status)


def notify_status(text: str) -> bool:
    """``STATUS=text`` (made one line)."""
    return default_notifier().status(text)


def notify_stopping(status: str | None = None) -> bool:
    return default_notifier().stopping(status)


def notify_watchdog() -> bool:
    """One unconditional ``WATCHDOG=1`` (prefer ``Watchdog``, which pings only while healthy)."""
    return default_notifier().watchdog()


# --- the main loop's heartbeat -------------------------------------------------------------------

class Heartbeat:
    """The main loop's sign of life, read by the watchdog thread (``fresh``).

    ``beat()`` on every turn of the loop; the loop is healthy while the last
    beat is at most ``max_age_s`` old. Before a step known to take long (a
    pass), ``busy(wall_s)`` (or ``beat(busy_s=...)``) moves the deadline to
    ``wall_s`` from now: a step overrunning its own deadline is a hang too.
    A loop that waits must wait in slices of at most ``period_s`` and beat
    between them.
    """

    def __init__(self, max_age_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        if not max_age_s > 0:
            raise ValueError(f"max_age_s {max_age_s!r} must be > 0")
        self.max_age_s = float(max_age_s)
        self.clock = clock
        self.beats = 0
        self._last = clock()
        self._deadline = self._last + self.max_age_s
        self._lock = threading.Lock()

    @classmethod
    def for_watchdog(cls, wd: "Watchdog", default_max_age_s: float = 60.0, **kw) -> "Heartbeat":
        """A heartbeat whose allowed age is the watchdog interval (``default_max_age_s`` without one)."""
        return cls(wd.interval_s if wd.interval_s else default_max_age_s, **kw)

    @property
    def period_s(self) -> float:
        """The longest the loop should go between beats (a third of ``max_age_s``)."""
        return self.max_age_s / 3.0

    def beat(self, busy_s: float = 0.0) -> None:
        now = self.clock()
        with self._lock:
            self.beats += 1
            self._last = now
            self._deadline = now + max(self.max_age_s, float(busy_s))

    @contextlib.contextmanager
    def busy(self, wall_s: float) -> Iterator[None]:
        """Allow ``wall_s`` (wall seconds) without beats for the block; beat again after it."""
        self.beat(busy_s=wall_s)
        try:
            yield
        finally:
            self.beat()

    def age_s(self) -> float:
        """Seconds since the last beat."""
        return self.clock() - self._last

    def overdue_s(self) -> float:
        """Seconds past the deadline (<= 0 while fresh)."""
        return self.clock() - self._deadline

    def fresh(self) -> bool:
        return self.overdue_s() <= 0.0


# --- the watchdog ---------------------------------------------------------------------------------

class Watchdog:
    """Pings ``WATCHDOG=1`` every ``interval_s / 2`` while a health check passes.

    ``Watchdog.from_env()`` reads ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``:
    pings meant for another process disable it). Disabled (``enabled`` False,
    ``interval_s`` None) when systemd asked for no watchdog: ``start`` then
    does nothing and ``ping_if_healthy`` only evaluates the check.
    """

    def __init__(self, interval_s: float | None, notifier: Notifier | None = None):
        if interval_s is not None and not interval_s > 0:
            raise ValueError(f"watchdog interval {interval_s!r} must be > 0")
        self.interval_s = float(interval_s) if interval_s is not None else None
        self.notifier = notifier if notifier is not None else default_notifier()
        self.pings = 0
        self.withheld = 0
        self.healthy: bool | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, notifier: Notifier | None = None,
                 pid: int | None = None) -> "Watchdog":
        env = os.environ if environ is None else environ
        usec = env.get("WATCHDOG_USEC", "")
        want_pid = env.get("WATCHDOG_PID", "")
        interval = None
        try:
            if usec and int(usec) > 0:
                interval = int(usec) / 1e6
        except ValueError:
            log.warning("WATCHDOG_USEC=%r is not a number of microseconds: watchdog disabled", usec)
        if interval is not None and want_pid:
            try:
                if int(want_pid) != (os.getpid() if pid is None else pid):
                    interval = None  # meant for another process (we are a child of the service)
            except ValueError:
                log.warning("WATCHDOG_PID=%r is not a PID: watchdog disabled", want_pid)
                interval = None
        if environ is None:  # like sd_watchdog_enabled(unset=1): children do not inherit them
            os.environ.pop("WATCHDOG_USEC", None)
            os.environ.pop("WATCHDOG_PID", None)
        return cls(interval, notifier)

    @property
    def enabled(self) -> bool:
        return self.interval_s is not None and self.notifier.enabled

    @property
    def ping_period_s(self) -> float | None:
        return None if self.interval_s is None else self.interval_s / 2.0

    def ping_if_healthy(self, check: Callable[[], bool]) -> bool:
        """Ping if ``check()`` is true; True when the process was judged healthy."""
        try:
            ok = bool(check())
        except Exception:  # noqa: BLE001 - a broken check counts as unhealthy, never kills the thread
            log.exception("watchdog health check failed")
            ok = False
        if ok:
            if self.enabled and self.notifier.watchdog():
                self.pings += 1
            if self.healthy is False:
                log.info("main loop responsive again: watchdog pings resumed")
        else:
            self.withheld += 1
            if self.healthy is not False:
                msg = "main loop unresponsive: watchdog pings withheld"
                if self.enabled:
                    msg += f" (systemd restarts the service {self.interval_s:g} s after the last one)"
                log.error(msg)
                self.notifier.status(msg)
        self.healthy = ok
        return ok

    def start(self, check: Callable[[], bool], period_s: float | None = None) -> "Watchdog":
        """Ping from a daemon thread every ``period_s`` (default ``interval_s / 2``) while ``check()``."""
        if not self.enabled or self._thread is not None:
            return self
        period = period_s if period_s is not None else self.ping_period_s
        self._stop.clear()

        def loop() -> None:
            while True:
                self.ping_if_healthy(check)
                if self._stop.wait(period):
                    return

        self._thread = threading.Thread(target=loop, name="sd-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5.0)


# --- STATUS= from station events ---------------------------------------------------------------

STATUS_TOPICS = ("station.state", "pass.state")


def event_status(ev) -> str | None:
    """The ``STATUS=`` text for a station event (``groundseg.station.Event``), or None."""
    d = getattr(ev, "data", None) or {}
    if ev.topic == "station.state" and d.get("state"):
        return f"{d['state']}: {d['reason']}" if d.get("reason") else str(d["state"])
    if ev.topic == "pass.state" and d.get("pass_id") and d.get("state"):
        s = f"pass {d['pass_id']} {d['state']}"
        return f"{s} ({d['reason']})" if d.get("reason") else s
    return None


def status_subscriber(notifier: Notifier | None = None) -> Callable[[object], None]:
    """An event subscriber sending ``STATUS=`` lines: ``events.subscribe(status_subscriber(), STATUS_TOPICS)``."""

    def on_event(ev) -> None:
        text = event_status(ev)
        if text:
            (notifier or default_notifier()).status(text)
    return on_event
