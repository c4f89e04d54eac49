"""A device emulator on a pseudo-terminal pair, with faults on demand.

The emulator holds the master side; the program under test opens the slave
(``emulator.path``, a ``/dev/pts/N``) exactly as it would open a USB serial
adapter. With ``link=`` the emulator also keeps a symlink (like
``/dev/serial/by-id/...``) pointing at the current slave, so unplugging and
re-plugging (a new pty, a new /dev/pts number) can be followed through a
stable path.

Faults (``set_fault``), applied to the emulator's replies:

* ``no_reply``: commands are taken but never answered;
* ``garbage``: each reply is replaced by junk (a line of noise for text
  protocols, random bytes for binary ones);
* ``disconnect``: the next reply closes the pty (an unplug); ``replug()``
  (or ``replug_after_s``) brings a new one.

``count`` limits a fault to the next n replies; ``None`` keeps it until
``set_fault(None)``. Subclasses implement ``feed(data) -> list[bytes]``
(replies to what arrived) and may implement ``tick(now)`` (called every
``tick_s``; may return unsolicited output).
"""
from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
import tty

log = logging.getLogger(__name__)

FAULTS = ("no_reply", "garbage", "disconnect")


class PtyEmulator:
    kind = "?"
    tick_s = 0.05
    eol = b"\r\n"

    def __init__(self, *, link: str | None = None, replug_after_s: float | None = None, seed: int = 1):
        self.link = link
        self.replug_after_s = replug_after_s
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self._path: str | None = None
        self._fault: str | None = None
        self._fault_left: int | None = None
        self._replug_at: float | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.received: list[bytes] = []     # raw commands/frames taken, in order
        self.stats = {"replies": 0, "dropped": 0, "garbage": 0, "unplugs": 0, "replugs": 0, "unknown": 0}

    # --- lifecycle --------------------------------------------------------------

    @property
    def path(self) -> str:
        """The slave tty to open (the stable link when one was asked for)."""
        if self.link:
            return self.link
        if self._path is None:
            raise RuntimeError("emulator not started")
        return self._path

    @property
    def pty_path(self) -> str | None:
        return self._path

    def start(self) -> "PtyEmulator":
        self._open_pty()
        self._thread = threading.Thread(target=self._serve, name=f"emulator-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_pty()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _open_pty(self) -> None:
        with self._lock:
            master, slave = os.openpty()
            tty.setraw(slave)
            tty.setraw(master)
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self._path = os.ttyname(slave)
            if self.link:
                tmp = f"{self.link}.tmp{os.getpid()}"
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                os.symlink(self._path, tmp)
                os.replace(tmp, self.link)
            self.reset_input()

    def _close_pty(self) -> None:
        with self._lock:
            if self.link:
                try:
                    os.unlink(self.link)
                except FileNotFoundError:
                    pass
            for fd in (self._master, self._slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._master = self._slave = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def unplug(self) -> None:
        """Vanish like a USB adapter pulled out: the open tty hangs up, the path goes away."""
        with self._lock:
            if self._master is None:
                return
            self._close_pty()
            self.stats["unplugs"] += 1
            if self.replug_after_s is not None:
                self._replug_at = time.monotonic() + self.replug_after_s
        os.write(self._wake_w, b"x")

    def replug(self) -> None:
        """Come back on a new pty (and re-point the stable link at it)."""
        with self._lock:
            if self._master is not None:
                return
            self._open_pty()
            self._replug_at = None
            self.stats["replugs"] += 1
        os.write(self._wake_w, b"x")

    # --- faults -------------------------------------------------------------------

    def set_fault(self, fault: str | None, count: int | None = None) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")
        with self._lock:
            self._fault, self._fault_left = fault, (count if fault else None)

    @property
    def fault(self) -> str | None:
        return self._fault

    def garbage(self) -> bytes:
        """Junk sent instead of a reply (text protocols: a line of noise)."""
        n = self._rng.randint(4, 20)
        return bytes(self._rng.choice(b"#%&*!@^~qxzj0123456789") for _ in range(n)) + self.eol

    # --- protocol hooks -----------------------------------------------------------

    def feed(self, data: bytes) -> list[bytes]:
        raise NotImplementedError

    def tick(self, now: float) -> list[bytes]:
        return []

    def reset_input(self) -> None:
        """Forget any partial command (called when a new pty is opened)."""

    # --- loop ---------------------------------------------------------------------

    def _send(self, replies: list[bytes]) -> None:
        for reply in replies:
            if not reply:
                continue
            with self._lock:
                fault = self._fault
                if fault is not None and self._fault_left is not None:
                    self._fault_left -= 1
                    if self._fault_left <= 0:
                        self._fault, self._fault_left = None, None
            if fault == "no_reply":
                self.stats["dropped"] += 1
                continue
            if fault == "disconnect":
                self.unplug()
                return
            if fault == "garbage":
                self.stats["garbage"] += 1
                reply = self.garbage()
            else:
                self.stats["replies"] += 1
            self._write(reply)

    def _write(self, data: bytes) -> None:
        with self._lock:
            fd = self._master
        if fd is None:
            return
        view = memoryview(data)
        end = time.monotonic() + 2.0
        while view and time.monotonic() < end:
            try:
                n = os.write(fd, view)
                view = view[n:]
            except BlockingIOError:
                time.sleep(0.005)
            except OSError:
                return

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                fd = self._master
                replug_at = self._replug_at
            if replug_at is not None and time.monotonic() >= replug_at:
                self.replug()
                continue
            fds = [self._wake_r] + ([fd] if fd is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], self.tick_s)
            except (OSError, ValueError):  # fd closed under us by unplug()
                continue
            if self._wake_r in ready:
                try:
                    os.read(self._wake_r, 64)
                except OSError:
                    pass
            if fd is not None and fd in ready:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    data = b""
                except OSError:
                    data = b""
                if data:
                    try:
                        self._send(self.feed(data))
                    except Exception:  # an emulator bug must show, not kill the thread silently
                        log.exception("%s emulator: error handling %r", self.kind, data[:40])
            try:
                out = self.tick(time.monotonic())
            except Exception:
                log.exception("%s emulator: tick failed", self.kind)
                out = []
            if out and self.plugged:
                self._send(out)


class LineEmulator(PtyEmulator):
    """Text protocols: splits input into commands at CR or LF; ``handle(cmd)`` answers one."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._buf = bytearray()

    def reset_input(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            cut = [i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0]
            if not cut:
                if len(self._buf) > 512:
                    self._buf.clear()
                return out
            i = min(cut)
            line = bytes(self._buf[:i])
            del self._buf[:i + 1]
            cmd = line.strip()
            if not cmd:
                continue
            self.received.append(cmd)
            out.extend(self.handle(cmd.decode("latin-1")))

    def handle(self, cmd: str) -> list[bytes]:
        raise NotImplementedError
