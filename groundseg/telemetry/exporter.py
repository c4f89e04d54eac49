"""The HTTP endpoint Prometheus scrapes: ``GET /metrics`` on the configured address.

``MetricsServer(registry, host, port).start()`` serves prometheus_client's
WSGI app (text format, or OpenMetrics when asked; gzip when accepted) from a
threading WSGI server in a daemon thread; ``stop()`` shuts it down and
closes the socket. ``/`` answers with a one-line pointer to ``/metrics``;
any other path is 404, any method but GET 405 (the endpoint is read-only).
A port that cannot be bound is an ``InputError``
with the address and the system's reason. Port 0 takes a free port
(``port`` tells which).
"""
from __future__ import annotations

import logging
import socket
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from ..errors import InputError

log = logging.getLogger(__name__)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        log.debug("metrics http: " + format, *args)


def _family(host: str) -> int:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InputError(f"metrics address {host!r}: {e.strerror or e}") from None
    return infos[0][0]


class MetricsServer:
    def __init__(self, registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 9108):
        self.registry = registry
        self.host = host
        self._port = int(port)
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_port if self._httpd is not None else self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def _app(self):
        metrics = make_wsgi_app(self.registry)

        def app(environ, start_response):
            path = environ.get("PATH_INFO") or "/"
            if environ.get("REQUEST_METHOD", "GET") != "GET":  # read-only: no other method, on any path
                start_response("405 Method Not Allowed", [("Content-Type", "text/plain; charset=utf-8"),
                                                          ("Allow", "GET")])
                return [b"method not allowed: metrics are read with GET /metrics\n"]
            if path == "/metrics":
                return metrics(environ, start_response)
            if path == "/":
                start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"groundseg station: metrics at /metrics\n"]
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: metrics are at /metrics\n"]
        return app

    def start(self) -> "MetricsServer":
        if self._httpd is not None:
            return self
        server_class = type("_Server", (_ThreadingServer,), {"address_family": _family(self.host)})
        try:
            self._httpd = make_server(self.host, self._port, self._app(), server_class, _QuietHandler)
        except OSError as e:
            raise InputError(f"metrics: cannot listen on {self.host}:{self._port}: {e.strerror or e}") from None
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="metrics-http", daemon=True)
        self._thread.start()
        log.info("metrics: serving %s", self.url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
