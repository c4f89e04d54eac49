"""``kiss_server``: a KISS TCP server for legacy tools (the TNC protocol over TCP).

``url``: ``tcp://host:port`` to listen on (``tcp://127.0.0.1:8100``; port 0
picks a free one, see ``describe()``). Every connected client gets every
frame as one KISS data frame (FEND, command byte ``port << 4``, escaped
frame bytes, FEND: ``groundseg.storage.kiss``). Bytes clients send are read
and dropped (this is a receive-only TNC).

A frame counts as delivered once it was written to at least one client.
With ``require_client`` (default true) frames wait in the outbox while no
client is connected and the backlog follows when one connects; with
``require_client = false`` frames nobody is connected for are skipped.
Options: ``require_client``, ``kiss_port`` (0..15, default 0),
``max_clients`` (default 16).
"""
from __future__ import annotations

import logging
import re
import select
import socket
import threading

from . import DELIVERED, SKIPPED, Sink, SinkSpec, SinkUnavailable, check_options, in_range, register
from ...storage import kiss

log = logging.getLogger(__name__)
_URL = re.compile(r"tcp://(\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):(\d{1,5})")
OPTIONS = {"require_client": (bool, None), "kiss_port": (int, in_range(0, 15)),
           "max_clients": (int, in_range(1, 1024))}


def _check(url: str, options: dict) -> list[str]:
    m = _URL.fullmatch(url or "")
    out = [] if m and int(m.group(2)) < 65536 else [f"url: {url!r} is not tcp://host:port to listen on"]
    return out + check_options(options, OPTIONS)


class KissServerSink(Sink):
    kind = "kiss_server"

    def __init__(self, name, url, options, context):
        super().__init__(name, url, options, context)
        m = _URL.fullmatch(url)
        self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
        self.require_client = bool(self.options.get("require_client", True))
        self.kiss_port = int(self.options.get("kiss_port", 0))
        self.max_clients = int(self.options.get("max_clients", 16))
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._srv: socket.socket | None = None
        self.address: tuple[str, int] | None = None
        self.accepted = 0

    def open(self) -> None:
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        srv = socket.socket(fam, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            srv.bind((self.host, self.port))
        except OSError as e:
            srv.close()
            raise SinkUnavailable(f"cannot listen on {self.host}:{self.port}: {e.strerror}") from None
        srv.listen(8)
        srv.setblocking(False)
        self._srv = srv
        self.address = srv.getsockname()[:2]
        self._thread = threading.Thread(target=self._serve, name=f"kiss-server-{self.name}", daemon=True)
        self._thread.start()

    def _drop(self, c: socket.socket) -> None:
        with self._lock:
            if c in self._clients:
                self._clients.remove(c)
        try:
            c.close()
        except OSError:
            pass

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                socks = [self._srv, *self._clients]
            try:
                ready, _, _ = select.select(socks, [], [], 0.2)
            except (OSError, ValueError):
                continue
            for s in ready:
                if s is self._srv:
                    try:
                        c, _ = s.accept()
                    except OSError:
                        continue
                    with self._lock:
                        if len(self._clients) >= self.max_clients:
                            c.close()
                            continue
                        c.setblocking(True)
                        c.settimeout(5.0)
                        self._clients.append(c)
                        self.accepted += 1
                else:
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._drop(s)

    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def send(self, items):
        with self._lock:
            clients = list(self._clients)
        if not clients:
            if self.require_client:
                raise SinkUnavailable("no KISS client connected")
            return [SKIPPED] * len(items)
        blob = b"".join(kiss.encode(it.data, port=self.kiss_port) for it in items)
        ok = 0
        for c in clients:
            try:
                c.sendall(blob)
                ok += 1
            except OSError as e:
                log.info("kiss server %s: client dropped: %s", self.name, e)
                self._drop(c)
        if not ok:
            raise SinkUnavailable("every KISS client dropped while sending")
        return [DELIVERED] * len(items)

    def close(self) -> None:
        self._stop.set()
        t = getattr(self, "_thread", None)
        if t is not None:
            t.join(2.0)
        with self._lock:
            clients, self._clients = self._clients, []
        for c in clients:
            try:
                c.close()
            except OSError:
                pass
        if self._srv is not None:
            self._srv.close()
            self._srv = None

    def describe(self) -> dict:
        return {"kind": self.kind, "url": self.url, "address": list(self.address) if self.address else None,
                "clients": self.clients()}


register(SinkSpec("kiss_server", "KISS TCP server for legacy tools (every client gets every frame)",
                  f"{__name__}:KissServerSink", _check,
                  {"require_client": "hold frames while no client is connected (default true)",
                   "kiss_port": "KISS port nibble 0..15", "max_clients": "connections accepted at once"}))
