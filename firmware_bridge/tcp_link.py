"""A TCP connection read line by line against deadlines, reconnected after a loss."""
from __future__ import annotations

import socket
import time

from .counters import DeviceCounters
from .errors import Disconnected, PortAbsent


class TcpLineLink:
    def __init__(self, host: str, port: int, *, name: str, counters: DeviceCounters):
        self.host, self.port, self.name, self.counters = host, port, name, counters
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._ever_open = False

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def ensure_open(self, deadline: float) -> None:
        if self._sock is not None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PortAbsent(f"{self.name}: no time left to connect to {self.host}:{self.port}")
        try:
            s = socket.create_connection((self.host, self.port), timeout=remaining)
        except OSError as e:
            raise PortAbsent(f"{self.name}: cannot connect to {self.host}:{self.port}: {e.strerror or e}") from None
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = s
        self._buf.clear()
        if self._ever_open:
            self.counters.inc("reconnects")
        self._ever_open = True

    def close(self) -> None:
        s, self._sock = self._sock, None
        self._buf.clear()
        if s is not None:
            try:
                s.close()
            except OSError:
                pass

    def _lost(self, what: str, e: Exception) -> Disconnected:
        self.close()
        return Disconnected(f"{self.name}: connection to {self.host}:{self.port} lost during {what}: {e}")

    def write(self, data: bytes) -> None:
        if self._sock is None:
            raise Disconnected(f"{self.name}: not connected")
        try:
            self._sock.settimeout(5.0)
            self._sock.sendall(data)
        except OSError as e:
            raise self._lost("send", e) from None

    def read_line(self, deadline: float, max_len: int = 4096) -> bytes | None:
        """Next LF-terminated line (CR stripped), or None at the deadline."""
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[:i]).rstrip(b"\r")
                del self._buf[:i + 1]
                return line
            if len(self._buf) > max_len:
                line = bytes(self._buf)
                self._buf.clear()
                return line
            if self._sock is None:
                raise Disconnected(f"{self.name}: not connected")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self._sock.settimeout(remaining)
                chunk = self._sock.recv(4096)
            except socket.timeout:
                return None
            except OSError as e:
                raise self._lost("receive", e) from None
            if not chunk:
                raise self._lost("receive", OSError("peer closed the connection"))
            self._buf += chunk
