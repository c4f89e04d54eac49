"""``mqtt``: the fleet transport: frames published to an MQTT broker (cluster) with QoS 1.

``url``: ``mqtt://host:port`` (default port 1883) or ``mqtts://host:port``
(TLS, default port 8883).

Topic scheme (one for every station of a fleet)::

    <topic_prefix>/<station_id>/frames/<norad>    one message per frame (QoS 1, not retained)
    <topic_prefix>/<station_id>/status            "online" / "offline" (retained; "offline" is the
                                                   last will, sent by the broker if the station vanishes)

``topic_prefix`` defaults to ``groundseg``; ``<norad>`` is ``unknown`` for
a frame without a NORAD id. A fleet's consumers subscribe to
``groundseg/+/frames/#``. The payload is the JSON of ``sinks.message``:
``id`` (the frame's idempotent UUIDv5), ``station``, ``t_unix_s``, ``time``,
``norad``, ``pass_id``, ``hex``, ``crc_ok``, ``transmitter``, ``framing``,
``record``. Delivery is at least once: a frame is acknowledged in the outbox
only after the broker's PUBACK, so a broker outage or a restart of the
station can deliver a frame twice; consumers drop duplicates by ``id``.

Options: ``topic_prefix``, ``client_id`` (default
``groundseg-<station_id>-<sink name>``), ``username`` with ``password`` or
``password_file`` (must not be readable by group or others; never logged),
``ca_file``, ``cert_file`` + ``key_file`` (client certificate),
``tls_insecure`` (skip the host name check; tests only), ``keepalive_s``
(30), ``ack_timeout_s`` (10: PUBACKs not back by then are retried later).

paho-mqtt 1.6 (Debian 12) and 2.x (Debian 13) are both supported. A batch
of frames is published at once and its PUBACKs awaited together: a broker
that leaves Nagle's algorithm on (mosquitto's default, ``set_tcp_nodelay
false``) delays its PUBACKs by the client's delayed ACK, about 40 ms per
batch; set ``set_tcp_nodelay true`` on the fleet's brokers
(``tests/benchmarks/bench_gateway.py`` measures both).
"""
from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
import time
from urllib.parse import urlsplit

from . import DELIVERED, Outcome, Sink, SinkSpec, SinkUnavailable, check_options, in_range, message, register
from ...errors import InputError

log = logging.getLogger(__name__)

_TOPIC_RE = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
OPTIONS = {
    "topic_prefix": (str, lambda s: None if _TOPIC_RE.fullmatch(s) else "letters, digits, _ . - and / only"),
    "client_id": (str, lambda s: None if 0 < len(s) <= 128 else "1 to 128 characters"),
    "username": (str, None),
    "password": (str, None),
    "password_file": (str, None),
    "ca_file": (str, None),
    "cert_file": (str, None),
    "key_file": (str, None),
    "tls_insecure": (bool, None),
    "keepalive_s": ((int, float), in_range(5, 3600)),
    "ack_timeout_s": ((int, float), in_range(0.1, 600)),
}


def parse_url(url: str) -> tuple[str, int, bool]:
    u = urlsplit(url or "")
    if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
        raise InputError(f"url: {url!r} is not mqtt://host[:port] or mqtts://host[:port]")
    try:
        port = u.port
    except ValueError:
        raise InputError(f"url: {url!r} has a bad port") from None
    if u.path not in ("", "/") or u.query or u.username or u.password:
        raise InputError(f"url: {url!r}: only scheme, host and port (credentials go in options)")
    tls = u.scheme == "mqtts"
    return u.hostname, port or (8883 if tls else 1883), tls


def _check(url: str, options: dict) -> list[str]:
    out = []
    try:
        parse_url(url)
    except InputError as e:
        out.append(str(e))
    out += check_options(options, OPTIONS)
    if "password" in options and "password_file" in options:
        out.append("options.password_file: give password or password_file, not both")
    if ("password" in options or "password_file" in options) and "username" not in options:
        out.append("options.username: needed with a password")
    if ("cert_file" in options) != ("key_file" in options):
        out.append("options.key_file: cert_file and key_file go together")
    return out


def read_secret_file(path) -> str:
    """A password from a file readable by its owner only (0600 or stricter)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError(f"password_file {path}: {e.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"password_file {path}: readable by group or others (chmod 600 it)")
    with open(path, encoding="utf-8") as f:
        return f.read().strip("\r\n")


class MqttSink(Sink):
    kind = "mqtt"

    def __init__(self, name, url, options, context):
        super().__init__(name, url, options, context)
        self.host, self.port, self.tls = parse_url(url)
        self.prefix = self.options.get("topic_prefix", "groundseg").strip("/")
        self.ack_timeout_s = float(self.options.get("ack_timeout_s", 10.0))
        self.client = None
        self.connected = threading.Event()
        self.last_connack: str | None = None
        self.connects = 0

    @property
    def station_part(self) -> str:
        """The station id as one topic level (characters other than letters, digits, _ . - become _)."""
        return re.sub(r"[^A-Za-z0-9_.\-]", "_", self.context.station_id) or "_"

    def topic(self, norad) -> str:
        return f"{self.prefix}/{self.station_part}/frames/{norad if norad is not None else 'unknown'}"

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/{self.station_part}/status"

    def open(self) -> None:
        import paho.mqtt.client as mqtt

        o = self.options
        cid = o.get("client_id") or f"groundseg-{self.context.station_id}-{self.name}"
        kw = dict(client_id=cid, clean_session=True, protocol=mqtt.MQTTv311)
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kw)
        else:
            c = mqtt.Client(**kw)
        if "username" in o:
            pw = o.get("password")
            if "password_file" in o:
                pw = read_secret_file(self.context.resolve(o["password_file"]))
            c.username_pw_set(o["username"], pw)
        if self.tls or "ca_file" in o:
            c.tls_set_context(self._ssl_context())
            if o.get("tls_insecure"):
                c.tls_insecure_set(True)
        c.will_set(self.status_topic, "offline", qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.max_inflight_messages_set(100)   # a whole batch in flight (the default 20 stalls batches of 50)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        self.client = c
        c.connect_async(self.host, self.port, int(o.get("keepalive_s", 30)))
        c.loop_start()

    def _ssl_context(self):
        """Verify the broker (the given CA, else the system's), TLS 1.2 or later; optional client certificate."""
        import ssl

        o, r = self.options, self.context.resolve
        try:
            ctx = ssl.create_default_context(cafile=str(r(o["ca_file"])) if "ca_file" in o else None)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if "cert_file" in o:
                ctx.load_cert_chain(str(r(o["cert_file"])), str(r(o["key_file"])))
        except (OSError, ssl.SSLError) as e:
            raise InputError(f"mqtt sink {self.name}: TLS files: {e}") from None
        if o.get("tls_insecure"):
            ctx.check_hostname = False
        return ctx

    def _on_connect(self, client, userdata, flags, rc, *rest):
        ok = (rc == 0)
        self.last_connack = "accepted" if ok else str(rc) if not isinstance(rc, int) else _connack(rc)
        if ok:
            self.connects += 1
            try:  # a batch is many small writes: without this Nagle holds them for the broker's delayed ACK
                import socket

                client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass
            client.publish(self.status_topic, "online", qos=1, retain=True)
            self.connected.set()
        else:
            log.warning("mqtt sink %s: broker %s:%d refused the connection: %s", self.name, self.host, self.port,
                        self.last_connack)

    def _on_disconnect(self, client, userdata, *args):
        self.connected.clear()

    def send(self, items):
        c = self.client
        if c is None or not self.connected.is_set() or not c.is_connected():
            why = f"not connected to {self.host}:{self.port}"
            if self.last_connack and self.last_connack != "accepted":
                why += f" (last refusal: {self.last_connack})"
            raise SinkUnavailable(why)
        infos = []
        for it in items:
            body = json.dumps(message(it, self.context.station_id), separators=(",", ":"), default=str)
            infos.append(c.publish(self.topic(it.norad), body, qos=1, retain=False))
        deadline = time.monotonic() + self.ack_timeout_s
        out = []
        for info in infos:
            try:
                if not info.is_published():
                    info.wait_for_publish(max(0.01, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as e:  # not queued (disconnected meanwhile, queue full)
                out.append(Outcome.retry(f"publish failed: {e}"))
                continue
            out.append(DELIVERED if info.is_published() else
                       Outcome.retry(f"no PUBACK from {self.host}:{self.port} within {self.ack_timeout_s:g} s"))
        return out

    def close(self) -> None:
        c = self.client
        if c is None:
            return
        self.client = None
        try:
            if c.is_connected():
                c.publish(self.status_topic, "offline", qos=1, retain=True).wait_for_publish(1.0)
                c.disconnect()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        c.loop_stop()

    def describe(self) -> dict:
        return {"kind": self.kind, "url": self.url, "connected": self.connected.is_set(),
                "last_connack": self.last_connack, "connects": self.connects,
                "topic": self.topic("<norad>")}


def _connack(rc: int) -> str:
    try:
        import paho.mqtt.client as mqtt

        return mqtt.connack_string(rc)
    except Exception:  # noqa: BLE001
        return f"CONNACK {rc}"


register(SinkSpec("mqtt", "MQTT broker (QoS 1, TLS and credentials): the transport of a fleet of stations",
                  f"{__name__}:MqttSink", _check,
                  {k: "" for k in OPTIONS}))
