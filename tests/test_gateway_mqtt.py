"""The MQTT sink against a real broker (Debian's mosquitto on loopback) and a real simulated station daemon.

One replayed (simulated) GOMX-1 pass is flown by the station daemon (``groundseg station`` with a
``[gateway]`` section), the frames going to mosquitto (password authentication,
QoS 1); a fleet consumer subscribes with a persistent session. Mid-pass the broker is stopped, later
restarted while the station still flies (the sink reconnects), stopped again, and the station process is
SIGKILLed while the broker is down. A new station process is started on the same state; then the broker
comes back. Every frame the first process decoded and stored arrives at the consumer, exactly once after
de-duplication by id, with its bytes intact.
"""
from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, need_program

pytestmark = pytest.mark.slow

USER, PASSWORD = "station1", "s3cret-fleet"
STATION_NAME = "mqtt-test-gs"
HALF_WINDOW_S = 240.0
SPEED = 6.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, d: pathlib.Path, port: int, tls: dict | None = None):
        self.exe = need_program("mosquitto")
        pw = need_program("mosquitto_passwd")
        self.dir, self.port = d, port
        d.mkdir(parents=True, exist_ok=True)
        (d / "data").mkdir(exist_ok=True)
        subprocess.run([pw, "-c", "-b", str(d / "passwd"), USER, PASSWORD], check=True, capture_output=True)
        lines = [f"listener {port} 127.0.0.1", "allow_anonymous false", f"password_file {d / 'passwd'}",
                 "persistence true", f"persistence_location {d / 'data'}/", f"log_dest file {d / 'mosquitto.log'}",
                 "max_queued_messages 100000"]
        if tls:
            lines += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
        if os.geteuid() == 0:
            lines.append("user root")
        (d / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.dir / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.log()}")
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)   # saves the persistent sessions
            self.proc.wait(20)
        self.proc = None

    def log(self) -> str:
        p = self.dir / "mosquitto.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""


class Consumer:
    """A fleet consumer: persistent session, QoS 1, keeps every message (duplicates too)."""

    def __init__(self, port: int, ca: str | None = None):
        import paho.mqtt.client as mqtt

        kw = dict(client_id="fleet-consumer", clean_session=False)
        self.c = (mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kw) if hasattr(mqtt, "CallbackAPIVersion")
                  else mqtt.Client(**kw))
        self.c.username_pw_set(USER, PASSWORD)
        if ca:
            import ssl

            self.c.tls_set_context(ssl.create_default_context(cafile=ca))
        self.messages: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.c.on_connect = lambda client, *a: (client.subscribe("groundseg/+/frames/#", qos=1),
                                                self.subscribed.set())
        self.c.on_message = self._msg
        self.c.reconnect_delay_set(0.2, 1)
        self.c.connect_async("127.0.0.1", port, 10)
        self.c.loop_start()

    def _msg(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, json.loads(msg.payload)))

    def ids(self) -> set[str]:
        with self.lock:
            return {m["id"] for _, m in self.messages}

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def station_toml(port: int, task: dict) -> str:
    from groundseg.control.testing import SEED_TLE, STATION

    return "\n".join([
        "[station]", f'name = "{STATION_NAME}"', f'lat_deg = {STATION["lat_deg"]}', f'lon_deg = {STATION["lon_deg"]}',
        f'alt_m = {STATION["alt_m"]}',
        "[storage]", 'state_dir = "state"', 'artifacts_dir = "passes"',
        "[orbit]", f'tle_files = ["{SEED_TLE}"]',
        "[[chains]]", 'name = "uhf0"', 'sdr_args = "driver=rtlsdr"', "freq_min_hz = 430e6", "freq_max_hz = 440e6",
        "samp_rate_sps = 1.024e6",
        "[gateway]", 'fsync = "full"', "retry_initial_s = 0.2", "retry_max_s = 1.0",
        "[[gateway.sinks]]", 'name = "fleet"', 'kind = "mqtt"', f'url = "mqtt://127.0.0.1:{port}"',
        f'options = {{ username = "{USER}", password_file = "mqtt.pass", ack_timeout_s = 3.0, keepalive_s = 5 }}',
        "[[tasks]]", *[f"{k} = {json.dumps(v)}" for k, v in task.items()],
    ]) + "\n"


class Daemon:
    def __init__(self, config: pathlib.Path, workdir: pathlib.Path, log: pathlib.Path, extra: list[str]):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "groundseg.cli", "station", "--config", str(config),
                                      "--workdir", str(workdir), *extra], cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(20)
        self._log.close()

    def terminate(self) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


def stored_frames(workdir: pathlib.Path) -> list[dict]:
    out = []
    for p in sorted((workdir / "passes").glob("*/frames.jsonl")):
        for line in p.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written
    return out


def wait_until(cond, timeout_s: float, what: str, *logs) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n" + "\n----\n".join(f() for f in logs))


def outbox_depth(workdir: pathlib.Path) -> int:
    import sqlite3

    db = sqlite3.connect(workdir / "state" / "gateway" / "outbox.sqlite", timeout=10)
    try:
        return db.execute("SELECT COUNT(*) FROM deliveries WHERE state='pending'").fetchone()[0]
    finally:
        db.close()


def test_frames_survive_broker_outages_and_a_killed_station_exactly_once_after_dedup(tmp_path):
    pytest.importorskip("paho.mqtt.client")
    from groundseg.control.testing import DEFAULT_SAT, iso, next_pass
    from groundseg.gateway.outbox import record_frame_id

    port = free_port()
    broker = Broker(tmp_path / "broker", port)
    broker.start()
    consumer = Consumer(port)
    (tmp_path / "mqtt.pass").write_text(PASSWORD + "\n")
    os.chmod(tmp_path / "mqtt.pass", 0o600)
    norad, tx = DEFAULT_SAT
    p = next_pass(norad, time.time() + 3 * 3600.0, min_el_deg=40.0)   # hours away: the real-time restart won't fly it
    task = {"id": "replay", "norad": norad, "transmitter": tx, "priority": 90,
            "window_start": iso(p.tca_unix_s - HALF_WINDOW_S), "window_end": iso(p.tca_unix_s + HALF_WINDOW_S)}
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(port, task))
    work = tmp_path / "work"
    start = p.tca_unix_s - HALF_WINDOW_S - 60.0 - 60.0   # 60 s of simulated time before the pass set-up
    a = Daemon(cfg, work, tmp_path / "a.log", ["--simulate", "--passes", "1", "--speed", f"{SPEED:g}",
                                               "--start", f"{start:.3f}"])
    b = None
    logs = (a.log, broker.log)
    try:
        assert consumer.subscribed.wait(20)
        # 1. frames flow to the fleet consumer
        wait_until(lambda: len(consumer.ids()) >= 4, 300, "the first frames at the consumer", *logs)
        # 2. the broker goes down mid-pass; frames keep being decoded and stored
        broker.stop()
        n1 = len(stored_frames(work))
        wait_until(lambda: len(stored_frames(work)) >= n1 + 4, 120, "frames decoded while the broker is down", *logs)
        # 3. the broker comes back while the station flies: the sink reconnects and catches up
        broker.start()
        got = len(consumer.ids())
        wait_until(lambda: len(consumer.ids()) >= got + 4, 120, "frames after the broker restart", *logs)
        # 4. down again; the station process is killed in the middle of the outage
        broker.stop()
        n2 = len(stored_frames(work))
        wait_until(lambda: len(stored_frames(work)) >= n2 + 3, 120, "frames decoded during the second outage", *logs)
        assert a.alive(), "the pass ended before the kill: " + a.log()
        a.kill()
        expected = stored_frames(work)
        exp_ids = {record_frame_id(STATION_NAME, r): r for r in expected}
        assert len(exp_ids) == len(expected) >= 12
        missing_before = set(exp_ids) - consumer.ids()
        assert missing_before, "every frame arrived before the outage ended: nothing was left to the restart"
        assert outbox_depth(work) >= len(missing_before)
        # 5. a new station process on the same state, the broker still down; then the broker returns
        b = Daemon(cfg, work, tmp_path / "b.log", [])
        time.sleep(3.0)
        assert b.alive(), b.log()
        broker.start()
        wait_until(lambda: set(exp_ids) <= consumer.ids(), 120, "every stored frame at the consumer", b.log,
                   broker.log)
        wait_until(lambda: outbox_depth(work) == 0, 60, "an empty outbox", b.log)
        time.sleep(1.0)
        with consumer.lock:
            msgs = list(consumer.messages)
        by_id: dict[str, dict] = {}
        for topic, m in msgs:
            by_id.setdefault(m["id"], m)
            assert topic == f"groundseg/{STATION_NAME}/frames/{norad}"
            assert m["hex"] == by_id[m["id"]]["hex"]              # a duplicate carries the same frame
        assert set(by_id) == set(exp_ids)                          # exactly the stored frames, none lost, none extra
        for fid, m in by_id.items():
            assert m["hex"] == exp_ids[fid]["hex"] and m["station"] == STATION_NAME and m["norad"] == norad
        print(f"{len(exp_ids)} frames, {len(msgs)} messages ({len(msgs) - len(exp_ids)} duplicates dropped by id), "
              f"{len(missing_before)} delivered by the restarted station")
        assert b.terminate() == 0, b.log()
        b = None
    finally:
        from groundseg.schedule.supervisor import reap_orphans

        consumer.close()
        if a.alive():
            a.kill()
        if b is not None:
            b.kill()
        reap_orphans(work / "state" / "run")   # a flowgraph child the killed station left behind
        broker.stop()


# --- TLS and credentials ---------------------------------------------------------------------------------

def make_certs(d: pathlib.Path) -> dict:
    ossl = need_program("openssl")
    d.mkdir(parents=True, exist_ok=True)

    def run(*args):
        subprocess.run([ossl, *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=groundseg test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "server.crt", "-days", "2", "-extfile", "san.ext")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-days", "2",
        "-subj", "/CN=someone else")
    return {"ca": str(d / "ca.crt"), "cert": str(d / "server.crt"), "key": str(d / "server.key"),
            "other_ca": str(d / "other.crt")}


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    pytest.importorskip("paho.mqtt.client")
    d = tmp_path_factory.mktemp("tls")
    certs = make_certs(d / "certs")
    b = Broker(d / "broker", free_port(), tls=certs)
    b.start()
    yield b, certs
    b.stop()


def _gateway(tmp_path, url: str, options: dict):
    from groundseg.gateway.settings import GatewaySettings, SinkSettings
    from groundseg.gateway.sinks import SinkContext
    from groundseg.gateway.wiring import Gateway

    s = GatewaySettings(sinks=(SinkSettings("fleet", "mqtt", url, True, options),), fsync="off",
                        retry_initial_s=0.1, retry_max_s=0.5)
    return Gateway(s, tmp_path / "outbox.sqlite", SinkContext("tls-gs", base_dir=tmp_path), idle_poll_s=0.05).start()


def test_mqtts_with_credentials_delivers_and_the_consumer_gets_the_frames(tmp_path, tls_broker):
    broker, certs = tls_broker
    consumer = Consumer(broker.port, ca=certs["ca"])
    (tmp_path / "pw").write_text(PASSWORD)
    os.chmod(tmp_path / "pw", 0o600)
    gw = _gateway(tmp_path, f"mqtts://127.0.0.1:{broker.port}",
                  {"username": USER, "password_file": "pw", "ca_file": certs["ca"], "topic_prefix": "fleet/eu"})
    try:
        assert consumer.subscribed.wait(20)
        consumer.c.subscribe("fleet/eu/+/frames/#", qos=1)
        time.sleep(0.3)
        ids = [gw.store({"hex": f"{i:02x}" * 20, "t_unix_s": 1.7e9 + i}, "p", 25544) for i in range(5)]
        wait_until(lambda: set(ids) <= consumer.ids(), 30, "frames over TLS", broker.log)
        st = gw.status()["sinks"]["fleet"]
        assert st["connected"] and st["last_connack"] == "accepted" and st["forwarded"] == 5
        assert "password" not in json.dumps(gw.status()).lower().replace("password_file", "")
    finally:
        gw.close()
        consumer.close()
    with consumer.lock:
        topics = {t for t, _ in consumer.messages}
    assert topics == {"fleet/eu/tls-gs/frames/25544"}


@pytest.mark.parametrize("case", ["wrong password", "untrusted certificate", "plain to a TLS port"])
def test_mqtt_refusals_keep_frames_queued_and_say_why(tmp_path, tls_broker, case):
    broker, certs = tls_broker
    opts = {"username": USER, "password": PASSWORD, "ca_file": certs["ca"]}
    url = f"mqtts://127.0.0.1:{broker.port}"
    if case == "wrong password":
        opts["password"] = "not-it"
    elif case == "untrusted certificate":
        opts["ca_file"] = certs["other_ca"]
    else:
        url = f"mqtt://127.0.0.1:{broker.port}"
        del opts["ca_file"]
    gw = _gateway(tmp_path, url, opts)
    try:
        fid = gw.store({"hex": "ab" * 20, "t_unix_s": 1.7e9}, "p", 1)
        wait_until(lambda: gw.sink_stats()["fleet"]["failed"] >= 2, 30, "failed attempts")
        st = gw.status()
        s = st["sinks"]["fleet"]
        assert st["depth"] == 1 and s["queued"] == 1 and s["forwarded"] == 0 and not s["connected"]
        assert "not connected" in s["pending_error"]
        if case == "wrong password":
            assert s["last_connack"] not in (None, "accepted")
            assert "refusal" in s["pending_error"]
        assert gw.outbox.get(fid)["deliveries"]["fleet"]["state"] == "pending"
    finally:
        gw.close()


def test_a_password_file_readable_by_others_is_refused(tmp_path):
    from groundseg.errors import InputError
    from groundseg.gateway.sinks.mqtt import read_secret_file

    p = tmp_path / "pw"
    p.write_text("secret\n")
    os.chmod(p, 0o644)
    with pytest.raises(InputError, match="chmod 600"):
        read_secret_file(p)
    os.chmod(p, 0o600)
    assert read_secret_file(p) == "secret"
