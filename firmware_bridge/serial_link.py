"""A serial port that survives unplugging: stable paths, clear errors, bounded reads.

Name devices by a stable path (``/dev/serial/by-id/usb-...``): the kernel may
give a USB adapter another ``ttyUSBn`` after it is re-plugged, its by-id link
follows it. :class:`SerialLink` opens the path (not what it resolved to), so a
reopen after an unplug finds the device under its new node.

* absent port: :class:`PortAbsent`, naming the by-id devices that are present;
* busy port (another program holds it, we open with an exclusive lock):
  :class:`PortBusy`; no permission: :class:`PortPermission`;
* lost in the middle of an exchange: :class:`Disconnected`; the next call
  reopens (waiting for the path to come back until its deadline) and counts
  a reconnect.

Every read takes a deadline (``time.monotonic()`` seconds): nothing here blocks
past it.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import select
import threading
import time

import serial
import termios

from groundseg.errors import InputError

from .counters import DeviceCounters
from .errors import Disconnected, PortAbsent, PortBusy, PortPermission

log = logging.getLogger(__name__)

BY_ID_DIR = "/dev/serial/by-id"
_UNSTABLE = re.compile(r"^/dev/tty(USB|ACM)\d+$")
_REOPEN_POLL_S = 0.05
# What a vanished device raises from pyserial's calls (termios.error is not an OSError).
_IO_ERRORS = (serial.SerialException, OSError, termios.error, ValueError, TypeError)


def list_by_id(directory: str = BY_ID_DIR) -> list[str]:
    """Stable paths of the serial devices present now."""
    try:
        return sorted(os.path.join(directory, n) for n in os.listdir(directory))
    except OSError:
        return []


def describe_port(path: str) -> str:
    real = os.path.realpath(path)
    return path if real == path else f"{path} (-> {real})"


class SerialLink:
    """One serial device. Thread-safe for one exchange at a time (callers hold ``lock``)."""

    def __init__(self, path: str, baud: int = 9600, *, name: str | None = None,
                 counters: DeviceCounters | None = None, exclusive: bool = True,
                 bytesize: int = 8, parity: str = "N", stopbits: float = 1):
        # Bad arguments (a configuration error) are InputError, not a fault of the device.
        if not isinstance(path, str) or not path:
            raise InputError(f"serial port path must be a non-empty string, not {path!r}")
        if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
            raise InputError(f"{path}: baud must be a positive integer, not {baud!r}")
        self.path = path
        self.baud = baud
        self.name = name or os.path.basename(path)
        self.counters = counters if counters is not None else DeviceCounters(self.name)
        self.exclusive = exclusive
        self._settings = dict(bytesize=bytesize, parity=parity, stopbits=stopbits)
        self.lock = threading.RLock()
        self._ser: serial.Serial | None = None
        self._buf = bytearray()
        self._ever_open = False
        if _UNSTABLE.match(path):
            log.warning("%s: %s may change name after a re-plug; prefer a path under %s",
                        self.name, path, BY_ID_DIR)

    # --- open / close ---------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> "SerialLink":
        """Open now; raise PortAbsent/PortBusy/PortPermission with a clear message."""
        with self.lock:
            if self._ser is not None:
                return self
            if not os.path.exists(self.path):
                present = list_by_id()
                hint = ("present: " + ", ".join(present)) if present else f"no device under {BY_ID_DIR}"
                raise PortAbsent(f"{self.name}: serial port {self.path} is absent (unplugged or wrong path; {hint})")
            try:
                ser = serial.Serial(port=self.path, baudrate=self.baud, timeout=0,
                                    write_timeout=2.0, exclusive=self.exclusive, **self._settings)
            except serial.SerialException as e:
                code = e.errno if isinstance(e.errno, int) else (e.args[0] if e.args and isinstance(e.args[0], int) else None)
                where = describe_port(self.path)
                if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY) or "lock" in str(e).lower():
                    raise PortBusy(f"{self.name}: serial port {where} is busy (another program has it open: "
                                   f"{os.strerror(code) if isinstance(code, int) else e})") from None
                if code in (errno.EACCES, errno.EPERM):
                    raise PortPermission(f"{self.name}: no permission to open {where} "
                                         "(add the user to the 'dialout' group)") from None
                if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
                    raise PortAbsent(f"{self.name}: serial port {where} is absent ({os.strerror(code)})") from None
                raise PortAbsent(f"{self.name}: cannot open {where}: {e}") from None
            self._ser = ser
            self._buf.clear()
            if self._ever_open:
                self.counters.inc("reconnects")
                log.info("%s: reopened %s", self.name, describe_port(self.path))
            self._ever_open = True
            return self

    def ensure_open(self, deadline: float) -> None:
        """Open if closed, waiting until ``deadline`` for an absent port to come back.

        Faults are raised, not counted: the caller's retry loop counts them.
        """
        if self._ser is not None:
            return
        while True:
            try:
                self.open()
                return
            except PortAbsent:
                if time.monotonic() + _REOPEN_POLL_S >= deadline:
                    raise
                time.sleep(_REOPEN_POLL_S)

    def close(self) -> None:
        with self.lock:
            ser, self._ser = self._ser, None
            self._buf.clear()
            if ser is not None:
                try:
                    ser.close()
                except Exception:  # closing a vanished device may fail; it is closed anyway
                    pass

    def _lost(self, what: str, exc: Exception) -> Disconnected:
        self.close()
        return Disconnected(f"{self.name}: link lost during {what} on {self.path}: {exc}")

    # --- I/O ------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._ser is None:
            raise Disconnected(f"{self.name}: {self.path} is not open")
        try:
            self._ser.write(data)
            self._ser.flush()
        except _IO_ERRORS as e:
            raise self._lost("write", e) from None

    def flush_input(self) -> bytes:
        """Discard what is waiting (a late reply to an earlier command); return it."""
        stale = bytes(self._buf)
        self._buf.clear()
        if self._ser is not None:
            try:
                n = self._ser.in_waiting
                if n:
                    stale += self._ser.read(n)
            except _IO_ERRORS as e:
                raise self._lost("flush", e) from None
        return stale

    def drain(self, quiet_s: float = 0.03, max_s: float = 0.2) -> int:
        """Discard input until the line is quiet for ``quiet_s`` (at most ``max_s``): after a
        fault, replies still in flight must not be read as answers to the next command."""
        end = time.monotonic() + max_s
        n = len(self.flush_input())
        while time.monotonic() < end:
            got = self.read_some(min(end, time.monotonic() + quiet_s))
            if not got:
                break
            n += len(got)
        return n

    def _fill(self, deadline: float) -> bool:
        """Read what arrives before ``deadline`` into the buffer; False on timeout."""
        if self._ser is None:
            raise Disconnected(f"{self.name}: {self.path} is not open")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            ready, _, _ = select.select([self._ser.fileno()], [], [], remaining)
            if not ready:
                return False
            chunk = self._ser.read(max(1, self._ser.in_waiting))
        except _IO_ERRORS as e:
            raise self._lost("read", e) from None
        if not chunk:  # readable but nothing: the other end hung up
            raise self._lost("read", OSError("end of file"))
        self._buf += chunk
        return True

    def read_line(self, deadline: float, terminators: bytes = b"\r\n", max_len: int = 256) -> bytes | None:
        """Next line (terminator removed, may be empty), or None at the deadline.

        Any byte of ``terminators`` ends a line, so CR, LF and CRLF endings all
        work (CRLF yields an empty line after each line: callers skip blanks).
        A line longer than ``max_len`` is returned as is (the caller will find
        it malformed) instead of waiting forever for its end.
        """
        while True:
            for i, b in enumerate(self._buf):
                if b in terminators:
                    line = bytes(self._buf[:i])
                    del self._buf[:i + 1]
                    return line
            if len(self._buf) >= max_len:
                line = bytes(self._buf)
                self._buf.clear()
                return line
            if not self._fill(deadline):
                return None

    def read_some(self, deadline: float) -> bytes:
        """Whatever arrives first (at least one byte), or b'' at the deadline."""
        if not self._buf and not self._fill(deadline):
            return b""
        out = bytes(self._buf)
        self._buf.clear()
        return out

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
