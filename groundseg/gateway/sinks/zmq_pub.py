"""``zmq_pub``: frames on a ZeroMQ PUB socket for local consumers.

``url``: the endpoint to bind (``tcp://127.0.0.1:5557``, ``ipc:///run/groundseg/frames``).
Each frame is two frames ``[topic, json]``: topic ``<topic_prefix>.<norad>``
(``frame.39430``; ``frame.unknown`` without a NORAD id), JSON as
``sinks.message`` (``id``, ``station``, ``t_unix_s``, ``time``, ``norad``,
``pass_id``, ``hex``, ``crc_ok``, ``transmitter``, ``framing``, ``record``).

PUB has no acknowledgement: a frame counts as delivered once the socket
took it. Subscribers that connect late or fall behind more than ``hwm``
messages miss frames; consumers that must not miss any use the MQTT sink.
Options: ``hwm`` (default 10000), ``topic_prefix`` (default ``frame``).
"""
from __future__ import annotations

import json
import re

from . import DELIVERED, Sink, SinkSpec, SinkUnavailable, check_options, in_range, message, register

_EP = re.compile(r"(tcp://[^\s]+:\d{1,5}|ipc://\S+|inproc://\S+)")
OPTIONS = {"hwm": (int, in_range(1, 10_000_000)),
           "topic_prefix": (str, lambda s: None if re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", s) else "not a name")}


def _check(url: str, options: dict) -> list[str]:
    out = [] if _EP.fullmatch(url or "") else [
        f"url: {url!r} is not a ZeroMQ endpoint to bind (tcp://host:port, ipc://path)"]
    return out + check_options(options, OPTIONS)


class ZmqPubSink(Sink):
    kind = "zmq_pub"

    def open(self) -> None:
        import zmq

        self._zmq = zmq
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.SNDHWM, int(self.options.get("hwm", 10000)))
        self.sock.setsockopt(zmq.LINGER, 0)
        try:
            self.sock.bind(self.url)
        except zmq.ZMQError as e:
            self.sock.close()
            raise SinkUnavailable(f"cannot bind {self.url}: {e}") from None
        self.endpoint = self.sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.prefix = self.options.get("topic_prefix", "frame")

    def send(self, items):
        out = []
        for it in items:
            topic = f"{self.prefix}.{it.norad if it.norad is not None else 'unknown'}".encode()
            body = json.dumps(message(it, self.context.station_id), separators=(",", ":"), default=str).encode()
            self.sock.send_multipart([topic, body])
            out.append(DELIVERED)
        return out

    def close(self) -> None:
        s = getattr(self, "sock", None)
        if s is not None:
            s.close(0)

    def describe(self) -> dict:
        return {"kind": self.kind, "url": self.url, "endpoint": getattr(self, "endpoint", None)}


register(SinkSpec("zmq_pub", "ZeroMQ PUB socket for local consumers ([topic, json]; no acknowledgement)",
                  f"{__name__}:ZmqPubSink", _check,
                  {"hwm": "send high-water mark (messages)", "topic_prefix": "topic before .<norad> (frame)"}))
