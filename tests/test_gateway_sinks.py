"""Gateway sinks against real local peers: SIDS HTTP POST to an http.server, ZeroMQ PUB, KISS TCP."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import zmq

from groundseg.gateway.outbox import Outbox, frame_id
from groundseg.gateway.settings import GatewaySettings, SinkSettings
from groundseg.gateway.sinks import SINKS, Item, SinkContext, SinkUnavailable
from groundseg.gateway.sinks.sids import sids_latitude, sids_longitude, sids_timestamp
from groundseg.gateway.wiring import Gateway
from groundseg.storage import kiss

CTX = SinkContext("SP5XYZ-GS", 52.2297, -21.0122, 110.0)
T0 = 1714558893.56  # 2024-05-01T10:21:33.560Z


def gateway(tmp_path, kind, url, options=None, **kw):
    s = GatewaySettings(sinks=(SinkSettings("s", kind, url, True, options or {}),), fsync="off",
                        retry_initial_s=0.05, retry_max_s=0.2, **kw)
    return Gateway(s, tmp_path / "outbox.sqlite", CTX, idle_poll_s=0.05)


def wait_for(cond, timeout_s=20.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


# --- SIDS --------------------------------------------------------------------------------------------

class SidsServer:
    """A local SIDS endpoint: records every POST; answers with the scripted status codes, then 201."""

    def __init__(self, script=()):
        self.posts: list[dict] = []
        self.script = list(script)
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n).decode("ascii")
                code = outer.script.pop(0) if outer.script else 201
                outer.posts.append({"path": self.path, "ctype": self.headers.get("Content-Type"),
                                    "frame_id": self.headers.get("X-Frame-Id"), "code": code,
                                    "fields": dict(urllib.parse.parse_qsl(body, keep_blank_values=True)),
                                    "raw": body})
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/telemetry/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_sids_field_formats():
    assert sids_timestamp(T0) == "2024-05-01T10:21:33.560Z"
    assert sids_longitude(8.955641) == "8.95564E" and sids_longitude(-21.0122) == "21.01220W"
    assert sids_latitude(49.73145) == "49.73145N" and sids_latitude(-33.5) == "33.50000S"


def test_sids_posts_follow_the_convention(tmp_path):
    srv = SidsServer()
    gw = gateway(tmp_path, "sids", srv.url, {"source": "SP5XYZ"}).start()
    try:
        data = bytes.fromhex("8a8a60aeaeae60a0a064a6b0b2b461") + b"hello"
        fid = gw.store({"hex": data.hex(), "t_unix_s": T0, "crc_ok": True, "az_deg": 10.54, "el_deg": 85.0,
                        "freq_hz": 437.505e6, "doppler_hz": -1234.4}, "p1", 39430)
        gw.store({"hex": "00" * 20, "t_unix_s": T0 + 1, "crc_ok": True}, "p1", 39430)
        gw.store({"hex": "ff" * 20, "t_unix_s": T0 + 2, "crc_ok": False}, "p1", 39430)   # not sent: CRC failed
        assert wait_for(lambda: gw.status()["depth"] == 0)
    finally:
        gw.close()
        srv.close()
    assert len(srv.posts) == 2
    p = srv.posts[0]
    assert p["path"] == "/api/telemetry/" and p["ctype"] == "application/x-www-form-urlencoded"
    f = p["fields"]
    assert f["noradID"] == "39430" and f["source"] == "SP5XYZ"
    assert f["timestamp"] == "2024-05-01T10:21:33.560Z"
    assert f["frame"] == data.hex().upper() and bytes.fromhex(f["frame"]) == data
    assert f["locator"] == "longLat" and f["longitude"] == "21.01220W" and f["latitude"] == "52.22970N"
    assert f["azimuth"] == "10.5" and f["elevation"] == "85.0" and f["fDown"] == "437503766"
    assert f["version"].startswith("groundseg ")
    assert list(f)[:7] == ["noradID", "source", "timestamp", "frame", "locator", "longitude", "latitude"]
    assert p["frame_id"] == fid
    q = srv.posts[1]["fields"]
    assert "azimuth" not in q and "elevation" not in q and "fDown" not in q and q["frame"] == "00" * 20


def test_sids_retries_server_errors_and_rejects_client_errors(tmp_path):
    srv = SidsServer(script=[503, 503, 400])  # frame 1: 503, 503, then 400 for frame... order below
    gw = gateway(tmp_path, "sids", srv.url, {"source": "SP5XYZ"}, batch=1)
    gw.start()
    try:
        a = gw.store({"hex": "01" * 16, "t_unix_s": T0}, "p", 1)
        assert wait_for(lambda: gw.status()["depth"] == 0)
    finally:
        gw.close()
        srv.close()
    assert [p["code"] for p in srv.posts] == [503, 503, 400]
    rec = Outbox(tmp_path / "outbox.sqlite", ["s"]).get(a)["deliveries"]["s"]
    assert rec["state"] == "rejected" and "400" in rec["last_error"] and rec["attempts"] == 3


def test_sids_unreachable_server_is_a_sink_outage(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = SINKS.get("sids").make("s", f"http://127.0.0.1:{port}/", {"source": "X", "timeout_s": 2}, CTX)
    item = Item("id", 1, T0, 1, "p", b"\x01" * 16, {"crc_ok": True})
    with pytest.raises(SinkUnavailable):
        sink.send([item])


# --- ZeroMQ PUB ------------------------------------------------------------------------------------------

def test_zmq_pub_delivers_topic_and_json_with_the_frame_id(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"frame.")
    sub.setsockopt(zmq.RCVTIMEO, 10000)
    gw = gateway(tmp_path, "zmq_pub", url).start()
    try:
        assert wait_for(lambda: gw.workers["s"].opened)
        sub.connect(url)
        time.sleep(0.5)  # PUB/SUB: let the subscription reach the publisher
        ids = [gw.store({"hex": f"{i:02x}" * 16, "t_unix_s": T0 + i, "crc_ok": True}, "p9", 39430) for i in range(3)]
        got = [sub.recv_multipart() for _ in range(3)]
    finally:
        sub.close(0)
        gw.close()
    assert [g[0] for g in got] == [b"frame.39430"] * 3
    msgs = [json.loads(g[1]) for g in got]
    assert [m["id"] for m in msgs] == ids
    assert msgs[1]["hex"] == "01" * 16 and msgs[1]["station"] == "SP5XYZ-GS" and msgs[1]["pass_id"] == "p9"
    assert msgs[0]["time"] == "2024-05-01T10:21:33.560Z" and msgs[0]["norad"] == 39430


# --- KISS TCP server ------------------------------------------------------------------------------------------

def read_kiss(sock, n, timeout_s=10.0):
    dec = kiss.Decoder()
    frames = []
    sock.settimeout(timeout_s)
    end = time.monotonic() + timeout_s
    while len(frames) < n and time.monotonic() < end:
        chunk = sock.recv(4096)
        if not chunk:
            break
        frames += dec.feed(chunk)
    return frames


def test_kiss_server_holds_frames_until_a_client_connects_then_streams(tmp_path):
    gw = gateway(tmp_path, "kiss_server", "tcp://127.0.0.1:0", {"kiss_port": 2}).start()
    try:
        assert wait_for(lambda: gw.workers["s"].opened)
        host, port = gw.sinks["s"].address
        payloads = [bytes([0xC0, 0xDB, i]) + b"frame" for i in range(3)]   # FEND/FESC inside: escaped
        for i, p in enumerate(payloads[:2]):
            gw.store({"hex": p.hex(), "t_unix_s": T0 + i}, "p", 1)
        assert wait_for(lambda: gw.sink_stats()["s"]["failed"] >= 2)        # nobody listening yet
        assert gw.status()["sinks"]["s"]["queued"] == 2
        with socket.create_connection((host, port)) as c:
            got = read_kiss(c, 2)
            gw.store({"hex": payloads[2].hex(), "t_unix_s": T0 + 2}, "p", 1)
            got += read_kiss(c, 1)
            assert wait_for(lambda: gw.status()["depth"] == 0)
    finally:
        gw.close()
    assert [(port_, cmd, data) for port_, cmd, data in got] == [(2, 0, p) for p in payloads]


def test_kiss_server_without_required_client_skips_frames(tmp_path):
    gw = gateway(tmp_path, "kiss_server", "tcp://127.0.0.1:0", {"require_client": False}).start()
    try:
        fid = gw.store({"hex": "11" * 16, "t_unix_s": T0}, "p", 1)
        assert wait_for(lambda: gw.status()["depth"] == 0)
        assert gw.outbox.get(fid)["deliveries"]["s"]["state"] == "skipped"
    finally:
        gw.close()


# --- file archive ------------------------------------------------------------------------------------------------

def test_file_sink_archives_json_lines_per_utc_day(tmp_path):
    gw = gateway(tmp_path, "file", f"file://{tmp_path / 'archive'}").start()
    try:
        a = gw.store({"hex": "aa" * 16, "t_unix_s": T0}, "p", 1)
        b = gw.store({"hex": "bb" * 16, "t_unix_s": T0 + 86400.0}, "p", 1)
        assert wait_for(lambda: gw.status()["depth"] == 0)
    finally:
        gw.close()
    d1 = [json.loads(x) for x in (tmp_path / "archive" / "2024-05-01.jsonl").read_text().splitlines()]
    d2 = [json.loads(x) for x in (tmp_path / "archive" / "2024-05-02.jsonl").read_text().splitlines()]
    assert [(m["id"], m["hex"]) for m in d1] == [(a, "aa" * 16)] and [m["id"] for m in d2] == [b]
