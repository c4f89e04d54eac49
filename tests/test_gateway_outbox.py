"""The gateway's outbox (SQLite WAL, idempotent ids, retention), forwarder and wiring, with fake sinks."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from groundseg.config import parse_config
from groundseg.errors import InputError
from groundseg.gateway.forwarder import SinkWorker
from groundseg.gateway.outbox import Outbox, frame_id, record_frame_id
from groundseg.gateway.settings import GatewaySettings, gateway_settings
from groundseg.gateway.sinks import DELIVERED, SKIPPED, Outcome, Sink, SinkContext, SinkUnavailable
from groundseg.gateway.wiring import attach_gateway, gateway_of
from groundseg.station import EventBus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTX = SinkContext("TEST-GS", 52.0, 21.0, 100.0)


class FrozenClock:
    def __init__(self, t=1_700_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def put(ob: Outbox, i: int, t=1_700_000_000.0, norad=39430):
    data = bytes([i & 0xFF]) * 20
    fid = frame_id("TEST-GS", t + i, norad, data)
    return fid, ob.put(fid, t + i, norad, "p1", data, {"hex": data.hex(), "t_unix_s": t + i, "crc_ok": True})


# --- ids -------------------------------------------------------------------------------------------

def test_frame_ids_are_deterministic_and_depend_on_every_part():
    a = frame_id("GS1", 1.0, 1, b"abc")
    assert a == frame_id("GS1", 1.0, 1, b"abc") and len(a) == 36 and a[14] == "5"  # UUID version 5
    others = {frame_id("GS2", 1.0, 1, b"abc"), frame_id("GS1", 1.000001, 1, b"abc"),
              frame_id("GS1", 1.0, 2, b"abc"), frame_id("GS1", 1.0, 1, b"abd"), frame_id("GS1", 1.0, None, b"abc")}
    assert a not in others and len(others) == 5
    rec = {"hex": "616263", "t_unix_s": 1.0, "norad": 1}
    assert record_frame_id("GS1", rec) == a
    with pytest.raises(InputError):
        record_frame_id("GS1", {"hex": "00"})


# --- the outbox --------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy,level", [("full", 2), ("normal", 1), ("off", 0)])
def test_wal_mode_and_fsync_policy(tmp_path, policy, level):
    ob = Outbox(tmp_path / "o.sqlite", ["a"], fsync=policy)
    assert ob._db.execute("PRAGMA synchronous").fetchone()[0] == level
    put(ob, 1)
    other = sqlite3.connect(tmp_path / "o.sqlite")
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 1
    other.close()
    ob.close()
    with pytest.raises(InputError):
        Outbox(tmp_path / "p.sqlite", ["a"], fsync="sometimes")


def test_put_is_idempotent_and_creates_one_delivery_per_sink(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite", ["a", "b"])
    fid, new = put(ob, 1)
    assert new
    assert put(ob, 1) == (fid, False)
    assert ob.count() == 1
    got = ob.get(fid)
    assert set(got["deliveries"]) == {"a", "b"} and all(d["state"] == "pending" for d in got["deliveries"].values())
    st = ob.stats()
    assert st["depth"] == 1 and st["sinks"]["a"]["pending"] == 1 and st["sinks"]["b"]["pending"] == 1


def test_nothing_is_purged_before_every_sink_settled_then_retention_applies(tmp_path):
    clk = FrozenClock()
    ob = Outbox(tmp_path / "o.sqlite", ["a", "b"], clock=clk)
    ids = [put(ob, i)[0] for i in range(3)]
    seqs = [it.seq for it in ob.due("a")]
    assert ob.purge(0.0) == 0                       # nothing settled anywhere
    ob.ack("a", seqs)
    assert ob.purge(0.0) == 0                       # b still pending everywhere
    assert ob.stats()["depth"] == 3 and ob.stats()["sinks"]["a"]["done"] == 3
    ob.ack("b", seqs[:1])
    ob.reject("b", seqs[1], "HTTP 400")
    ob.skip("b", seqs[2], "CRC failed")
    assert ob.stats()["depth"] == 0
    assert ob.purge(3600.0) == 0                    # settled just now: kept for the retention time
    clk.t += 3599.0
    assert ob.purge(3600.0) == 0
    clk.t += 2.0
    assert ob.purge(3600.0) == 3
    assert ob.count() == 0 and all(ob.get(i) is None for i in ids)


def test_retry_backoff_doubles_up_to_the_cap_and_due_respects_it(tmp_path):
    clk = FrozenClock()
    ob = Outbox(tmp_path / "o.sqlite", ["a"], clock=clk)
    put(ob, 1)
    waits = []
    for _ in range(6):
        items = ob.due("a")
        assert len(items) == 1
        ob.retry("a", [items[0].seq], "broker down", initial_s=1.0, max_s=10.0)
        nt = ob.next_try("a")
        waits.append(nt - clk.t)
        assert ob.due("a") == []                    # not due before its time
        clk.t = nt
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    it = ob.due("a")[0]
    assert it.attempts == 6
    assert ob.stats()["sinks"]["a"]["last_error"] == "broker down"
    ob.retry("a", [it.seq], "x", 1.0, 10.0)
    assert ob.release("a") == 1 and len(ob.due("a")) == 1


def test_pending_deliveries_of_a_removed_sink_are_abandoned(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite", ["a", "old"])
    put(ob, 1)
    ob.close()
    ob = Outbox(tmp_path / "o.sqlite", ["a"])
    assert ob.abandoned == {"old": 1}
    assert ob.stats()["depth"] == 1                 # still pending for a
    ob.ack("a", [it.seq for it in ob.due("a")])
    assert ob.purge(0.0) == 1


def test_frames_survive_a_killed_process(tmp_path):
    """A child stores frames with fsync=full and is SIGKILLed right after: every stored frame is there."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {ROOT!r})
        from groundseg.gateway.outbox import Outbox, frame_id
        ob = Outbox({str(tmp_path / 'o.sqlite')!r}, ["a"], fsync="full")
        for i in range(200):
            d = bytes([i]) * 30
            ob.put(frame_id("GS", 1e9 + i, 1, d), 1e9 + i, 1, "p", d, {{"hex": d.hex()}})
        print("stored", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL and "stored" in r.stdout, r.stderr
    ob = Outbox(tmp_path / "o.sqlite", ["a"])
    assert ob.count() == 200 and ob.stats()["sinks"]["a"]["pending"] == 200
    assert [it.data[0] for it in ob.due("a", limit=500)] == list(range(200))


# --- the forwarder ---------------------------------------------------------------------------------------

class FakeSink(Sink):
    kind = "fake"

    def __init__(self, name="fake", fail_first=0, outcomes=None, explode=False):
        super().__init__(name, "", {}, CTX)
        self.fail_first = fail_first
        self.outcomes = outcomes or {}
        self.explode = explode
        self.calls = 0
        self.received: list[str] = []
        self.lock = threading.Lock()

    def send(self, items):
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                if self.explode:
                    raise ZeroDivisionError("sink bug")
                raise SinkUnavailable("down")
            out = []
            for it in items:
                oc = self.outcomes.get(it.data[0], DELIVERED)
                if oc is DELIVERED:
                    self.received.append(it.frame_id)
                out.append(oc)
            return out


def wait_for(cond, timeout_s=20.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


@pytest.mark.parametrize("explode", [False, True])
def test_worker_retries_a_failing_sink_until_everything_is_delivered_in_order(tmp_path, explode):
    ob = Outbox(tmp_path / "o.sqlite", ["fake"], fsync="off")
    ids = [put(ob, i)[0] for i in range(30)]
    sink = FakeSink(fail_first=3, explode=explode)
    w = SinkWorker(sink, ob, batch=7, retry_initial_s=0.01, retry_max_s=0.05, idle_poll_s=0.05).start()
    try:
        assert wait_for(lambda: ob.stats()["depth"] == 0)
    finally:
        w.stop()
    assert sink.received == ids                      # each once, in order
    st = w.stats()
    assert st["forwarded"] == 30 and st["failed"] == 3 * 7 and st["last_error"] is not None


def test_worker_rejects_skips_and_retries_per_frame(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite", ["fake"], fsync="off")
    ids = [put(ob, i)[0] for i in range(5)]
    flaky = {"n": 0}

    class Sink2(FakeSink):
        def send(self, items):
            out = super().send(items)
            for k, it in enumerate(items):  # frame 3 fails twice, then goes
                if it.data[0] == 3 and flaky["n"] < 2:
                    flaky["n"] += 1
                    out[k] = Outcome.retry("HTTP 503")
                    self.received.remove(it.frame_id)
            return out

    sink = Sink2(outcomes={1: Outcome.reject("HTTP 400 bad frame"), 2: SKIPPED})
    w = SinkWorker(sink, ob, batch=10, retry_initial_s=0.01, retry_max_s=0.02, idle_poll_s=0.05).start()
    try:
        assert wait_for(lambda: ob.stats()["depth"] == 0)
    finally:
        w.stop()
    assert sink.received == [ids[0], ids[4], ids[3]]
    s = ob.stats()["sinks"]["fake"]
    assert (s["done"], s["rejected"], s["skipped"]) == (3, 1, 1)
    assert ob.get(ids[1])["deliveries"]["fake"]["last_error"] == "HTTP 400 bad frame"
    assert w.stats()["rejected"] == 1 and w.stats()["failed"] == 3


# --- the gateway and its wiring to the event bus ----------------------------------------------------------

class FakeStation:
    def __init__(self, tmp_path):
        self.events = EventBus()
        self.config = parse_config({
            "station": {"name": "TEST-GS", "lat_deg": 52.0, "lon_deg": 21.0, "alt_m": 100.0},
            "storage": {"state_dir": str(tmp_path / "state"), "artifacts_dir": str(tmp_path / "passes")},
            "chains": [{"name": "c", "sdr_args": "driver=rtlsdr", "freq_min_hz": 430e6, "freq_max_hz": 440e6,
                        "samp_rate_sps": 1e6}],
            "gateway": {"fsync": "normal", "retention_s": 0,
                        "sinks": [{"name": "local", "kind": "zmq_pub", "url": "tcp://127.0.0.1:0"}]},
        }, tmp_path / "station.toml")


def test_attach_gateway_stores_each_frame_before_later_subscribers_run(tmp_path):
    st = FakeStation(tmp_path)
    settings = gateway_settings(st.config)
    assert settings.fsync == "normal" and [s.kind for s in settings.sinks] == ["zmq_pub"]
    sink = FakeSink("local")
    gw = attach_gateway(st, sinks={"local": sink}, idle_poll_s=0.05)
    seen_in_outbox = []

    def later(ev):
        rec = ev.data["record"]
        seen_in_outbox.append(gw.outbox.get(record_frame_id("TEST-GS", rec, ev.data["norad"])) is not None)

    st.events.subscribe(later, topics=["frame"])
    try:
        assert gateway_of(st) is gw
        assert gw.outbox.path == tmp_path / "state" / "gateway" / "outbox.sqlite"
        for i in range(5):
            d = bytes([i]) * 16
            st.events.publish("frame", pass_id="p1", norad=39430,
                              record={"hex": d.hex(), "t_unix_s": 1.7e9 + i, "crc_ok": True})
        st.events.publish("frame", pass_id="p1", norad=39430, record={"no": "hex"})   # bad: counted, reported
        assert seen_in_outbox == [True] * 5
        assert wait_for(lambda: gw.status()["depth"] == 0)
        s = gw.status()
        assert s["frames"] == 5 and s["counters"]["stored"] == 5 and s["counters"]["store_errors"] == 1
        assert s["sinks"]["local"]["forwarded"] == 5 and s["oldest_undelivered"] is None
        stats = gw.sink_stats()
        assert stats["local"]["queued"] == 0 and stats["local"]["forwarded"] == 5 and stats["local"]["failed"] == 0
        # the same frame again (a restart replaying it) is one frame
        st.events.publish("frame", pass_id="p1", norad=39430,
                          record={"hex": (bytes([0]) * 16).hex(), "t_unix_s": 1.7e9, "crc_ok": True})
        assert gw.status()["counters"]["duplicates"] == 1 and gw.status()["frames"] == 5
        assert gw.purge() == 5  # retention 0: every frame was delivered everywhere
    finally:
        gw.close()
    assert len(sink.received) == len(set(sink.received)) >= 5


def test_status_reports_depth_oldest_and_failures_of_a_down_sink(tmp_path):
    st = FakeStation(tmp_path)
    sink = FakeSink("local", fail_first=10**9)
    gw = attach_gateway(st, sinks={"local": sink}, idle_poll_s=0.05,
                        settings=GatewaySettings(fsync="off", retry_initial_s=0.05, retry_max_s=0.1))
    errors = []
    st.events.subscribe(lambda ev: errors.append(ev.data), topics=["warning"])
    try:
        t0 = time.time()
        for i in range(4):
            gw.store({"hex": "aa" * (i + 1), "t_unix_s": 1.7e9 + i}, "p1", 1)
        assert wait_for(lambda: gw.sink_stats()["local"]["failed"] >= 8)
        s = gw.status()
        assert s["depth"] == 4 and s["sinks"]["local"]["queued"] == 4
        assert s["oldest_undelivered_age_s"] >= 0 and s["oldest_undelivered"] is not None
        assert s["sinks"]["local"]["pending_error"] == "down" and s["sinks"]["local"]["max_attempts"] >= 2
        assert gw.sink_stats()["local"]["oldest_undelivered_age_s"] <= time.time() - t0 + 1
        assert gw.purge() == 0
    finally:
        gw.close()
    assert len(errors) == 1 and errors[0]["where"] == "gateway" and errors[0]["sink"] == "local"  # once per outage


BAD_GATEWAY_SECTIONS = [
    ({"fsync": "sometimes"}, "gateway.fsync"),
    ({"retention_s": -1}, "gateway.retention_s"),
    ({"retry_initial_s": 10, "retry_max_s": 1}, "gateway.retry_max_s"),
    ({"batch": 0}, "gateway.batch"),
    ({"nonsense": 1}, "gateway.nonsense: unknown key"),
    ({"sinks": [{"name": "x", "kind": "carrier-pigeon"}]}, "gateway.sinks[0].kind"),
    ({"sinks": [{"name": "x", "kind": "mqtt", "url": "http://broker"}]}, "gateway.sinks[0].url"),
    ({"sinks": [{"name": "x", "kind": "mqtt", "url": "mqtt://b", "options": {"password": "p"}}]},
     "gateway.sinks[0].options.username"),
    ({"sinks": [{"name": "x", "kind": "sids", "url": "https://db"}]}, "gateway.sinks[0].options.source"),
    ({"sinks": [{"name": "x", "kind": "kiss_server", "url": "tcp://127.0.0.1:99999"}]}, "gateway.sinks[0].url"),
    ({"sinks": [{"name": "x", "kind": "zmq_pub", "url": "tcp://127.0.0.1:1", "options": {"hwm": "lots"}}]},
     "gateway.sinks[0].options.hwm"),
    ({"sinks": [{"name": "x", "kind": "zmq_pub", "url": "tcp://127.0.0.1:1"},
                {"name": "x", "kind": "zmq_pub", "url": "tcp://127.0.0.1:2"}]}, "defined twice"),
]


@pytest.mark.parametrize("section,expect", BAD_GATEWAY_SECTIONS)
def test_malformed_gateway_sections_are_rejected_with_their_key_path(tmp_path, section, expect):
    doc = {"station": {"name": "GS", "lat_deg": 1.0, "lon_deg": 2.0, "alt_m": 0.0},
           "chains": [{"name": "c", "sdr_args": "driver=rtlsdr", "freq_min_hz": 430e6, "freq_max_hz": 440e6,
                       "samp_rate_sps": 1e6}], "gateway": section}
    with pytest.raises(InputError) as ei:
        parse_config(doc, tmp_path / "s.toml")
    assert expect in str(ei.value)


def test_the_metrics_collector_exports_the_gateway_per_sink(tmp_path):
    from prometheus_client import CollectorRegistry, generate_latest

    from groundseg.schedule.clock import RealClock
    from groundseg.telemetry.collectors import StationCollector

    st = FakeStation(tmp_path)
    down = FakeSink("local", fail_first=10**9)
    gw = attach_gateway(st, sinks={"local": down}, idle_poll_s=0.05,
                        settings=GatewaySettings(fsync="off", retry_initial_s=0.05, retry_max_s=0.1))
    try:
        for i in range(3):
            gw.store({"hex": "bb" * (i + 2), "t_unix_s": 1.7e9 + i}, "p1", 1)
        assert wait_for(lambda: gw.sink_stats()["local"]["failed"] >= 3)
        reg = CollectorRegistry()
        reg.register(StationCollector(RealClock(), gateway=gw, sinks=["local"], device_counters=lambda: {}))
        text = generate_latest(reg).decode()
    finally:
        gw.close()
    assert 'groundseg_gateway_queue_depth{sink="local"} 3.0' in text
    assert 'groundseg_gateway_forwarded_total{sink="local"} 0.0' in text
    failed = [ln for ln in text.splitlines() if ln.startswith('groundseg_gateway_failed_total{sink="local"}')]
    assert failed and float(failed[0].split()[-1]) >= 3
