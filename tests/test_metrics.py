"""Telemetry: station events and state in, exact Prometheus values out.

Every test builds its own ``CollectorRegistry`` and uses a frozen clock
(``SimClock(T0, speed=None)``: time moves only when the test moves it).
The naming rules are checked on every family the exporter can produce.
"""
from __future__ import annotations

import math
import pathlib
import re
import socket
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from groundseg.config import parse_config
from groundseg.errors import InputError
from groundseg.orbit.store import TLEStore, parse_elements
from groundseg.schedule import Plan, PlannedPass, ScheduleStore, SimClock, Task
from groundseg.station import EventBus
from groundseg.telemetry import (FAILURE_REASONS, SCRAPED, EventBridge, LabelGuard, MetricsServer,
                                 StationCollector, StationMetrics, attach_metrics, failure_reason, metric_names)
from groundseg.telemetry.collectors import add_process_collectors

ROOT = pathlib.Path(__file__).resolve().parents[1]
TLE = ROOT / "seeds" / "tle" / "catalog.tle"
T0 = 1_800_000_000.0
CHAINS = ("uhf0", "vhf0")
ROTATORS = ("rot1",)
PASSES = {
    "fc-39444-20270115T080000": SimpleNamespace(chain="uhf0", transmitter="9k6 FSK downlink", rotator="rot1"),
    "gx-39430-20270115T093000": SimpleNamespace(chain="vhf0", transmitter="1k2 BPSK downlink", rotator=None),
    "fc-39444-20270115T111500": SimpleNamespace(chain="uhf0", transmitter="9k6 FSK downlink", rotator="rot1"),
}
P1, P2, P3 = PASSES
REPORTS = {
    "/r/p1.json": {"flowgraph": [{"done": {"invalid": 2, "doppler_applied": 8, "samples": 4000}}]},
    "/r/two-runs.json": {"flowgraph": [{"exit": {"how": "crashed"}}, {"done": {"invalid": 1, "samples": 900}}]},
}


def lookup(pass_id):
    return PASSES[pass_id]  # KeyError for an unknown pass, as the store raises InputError


class Rig:
    """A fresh registry, a frozen clock, a real event bus and the bridge subscribed to it."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.metrics = StationMetrics(self.registry, chains=CHAINS, rotators=ROTATORS)
        self.clock = SimClock(T0, speed=None)
        self.bus = EventBus(self.clock)
        self.bridge = EventBridge(self.metrics, pass_info=lookup, read_report=REPORTS.__getitem__)
        self.bus.subscribe(self.bridge)

    def feed(self, steps):
        for topic, data in steps:
            if topic == "advance":
                self.clock.advance(data)
            else:
                self.bus.publish(topic, **data)
        assert self.bus.errors == 0, "a metrics subscriber raised"

    def value(self, name, **labels):
        return self.registry.get_sample_value(name, labels)


@pytest.fixture
def rig():
    return Rig()


# --- events in, exact values out ----------------------------------------------------------------

def ps(pid, state, reason=""):
    return ("pass.state", {"pass_id": pid, "state": state, "reason": reason, "norad": 39444, "satellite": "X"})


def frame(pid, **rec):
    return ("frame", {"pass_id": pid, "norad": 39444, "record": {"transmitter": PASSES.get(pid, SimpleNamespace(
        transmitter="9k6 FSK downlink")).transmitter, "crc_ok": True, "hex": "00", **rec}})


def radio(pass_id, state, **d):
    return ("radio", {"pass_id": pass_id, "state": state, **d})


def status(pass_id, **d):
    return radio(pass_id, "running", **{"t_unix_s": T0, "signal_s": 1.0, "lag_s": 0.0, "doppler_hz": 0.0,
                                        "frames": 0, **d})


def report(pid, state="completed", path=None, **counts):
    return ("pass.report", {"pass_id": pid, "state": state, "reason": "", "counts": {"frames": 0, **counts},
                            "report": path, "artifacts": {}, "simulation": None})


def plan(added=(), missed=(), cancelled=()):
    return ("plan", {"plan_rev": 1, "added": list(added), "updated": [], "cancelled": list(cancelled),
                     "missed": list(missed), "planned": len(added), "next": []})


def rot(kind, name="rot1", **d):
    return ("rotator", {"pass_id": P1, "rotator": name, "kind": kind, **d})


TOTAL = "_total"
CASES = [
    ("passes added to the plan", [plan(added=[P1, P2, P3])],
     {("groundseg_passes_planned_total", ()): 3}),
    ("a pass flown to completion",
     [ps(P1, "pre-pass", "setup"), ps(P1, "in-pass"), ps(P1, "post-pass"), ps(P1, "completed", "3 frame(s)")],
     {("groundseg_passes_started_total", (("chain", "uhf0"),)): 1,
      ("groundseg_passes_completed_total", (("chain", "uhf0"),)): 1,
      ("groundseg_passes_completed_total", (("chain", "vhf0"),)): 0,
      ("groundseg_pass_in_progress", (("chain", "uhf0"),)): 0,
      ("groundseg_passes_failed_total", (("chain", "uhf0"), ("reason", "other"))): 0}),
    ("a pass in progress", [ps(P2, "pre-pass", "setup"), ps(P2, "in-pass")],
     {("groundseg_pass_in_progress", (("chain", "vhf0"),)): 1,
      ("groundseg_passes_started_total", (("chain", "vhf0"),)): 1}),
    ("a crashed flowgraph fails the pass",
     [ps(P1, "pre-pass"), ps(P1, "failed", "the flowgraph exited: crashed (SIGSEGV): no error reported; "
                                           "120 s of the pass left, 0 restart(s) used")],
     {("groundseg_passes_failed_total", (("chain", "uhf0"), ("reason", "flowgraph_crash"))): 1,
      ("groundseg_passes_completed_total", (("chain", "uhf0"),)): 0}),
    ("a final state published twice counts once",
     [ps(P1, "pre-pass"), ps(P1, "completed"), ps(P1, "completed")],
     {("groundseg_passes_completed_total", (("chain", "uhf0"),)): 1}),
    ("missed passes in a replan", [plan(missed=[P2, P1])],
     {("groundseg_passes_failed_total", (("chain", "vhf0"), ("reason", "missed"))): 1,
      ("groundseg_passes_failed_total", (("chain", "uhf0"), ("reason", "missed"))): 1}),
    ("cancelled passes in a replan, and by the simulator",
     [plan(cancelled=[P1]), ps(P2, "cancelled", "simulation: no framer")],
     {("groundseg_passes_cancelled_total", (("chain", "uhf0"),)): 1,
      ("groundseg_passes_cancelled_total", (("chain", "vhf0"),)): 1}),
    ("an operator stop interrupts the pass", [ps(P1, "pre-pass"), ps(P1, "interrupted", "operator stop")],
     {("groundseg_passes_failed_total", (("chain", "uhf0"), ("reason", "aborted"))): 1}),
    ("passes recovered after a restart",
     [ps(P1, "interrupted", "recovered after a restart"), ps(P2, "failed", "recovered after a restart")],
     {("groundseg_passes_failed_total", (("chain", "uhf0"), ("reason", "station_restart"))): 1,
      ("groundseg_passes_failed_total", (("chain", "vhf0"), ("reason", "missed"))): 1}),
    ("frames: decoded, FEC corrected, repaired, failed CRC not decoded",
     [frame(P1, snr_db=12.5, freq_offset_hz=-350.0, fec_corrected=3), ("advance", 42.0),
      frame(P1, crc_ok=None, repaired_bits=2, snr_db=9.25, freq_offset_hz=120.0), frame(P1, crc_ok=False),
      frame(P1, fec_corrected=0)],
     {("groundseg_frames_decoded_total", (("chain", "uhf0"), ("transmitter", "9k6 FSK downlink"))): 3,
      ("groundseg_frames_fec_corrected_total", (("chain", "uhf0"), ("transmitter", "9k6 FSK downlink"))): 1,
      ("groundseg_frames_repaired_total", (("chain", "uhf0"), ("transmitter", "9k6 FSK downlink"))): 1,
      ("groundseg_chain_last_frame_snr_decibels", (("chain", "uhf0"),)): 9.25,
      ("groundseg_chain_last_frame_frequency_offset_hertz", (("chain", "uhf0"),)): 120.0,
      ("groundseg_chain_last_frame_timestamp_seconds", (("chain", "uhf0"),)): T0 + 42.0,
      ("groundseg_frames_crc_failed_total", (("chain", "uhf0"),)): 0}),
    ("a frame without SNR or offset leaves them absent", [frame(P2)],
     {("groundseg_frames_decoded_total", (("chain", "vhf0"), ("transmitter", "1k2 BPSK downlink"))): 1,
      ("groundseg_chain_last_frame_snr_decibels", (("chain", "vhf0"),)): None,
      ("groundseg_chain_last_frame_frequency_offset_hertz", (("chain", "vhf0"),)): None}),
    ("flowgraph status counts, across a restart",
     [radio(P1, "starting", chain="uhf0", pid=1, run=0), radio(P1, "ready"),
      status(P1, samples=1000, overruns=1, invalid=2, doppler_applied=5),
      status(P1, samples=3000, overruns=1, invalid=3, doppler_applied=9, underruns=4),
      radio(P1, "stopped", exit={}), radio(P1, "restarting", restarts=1),
      radio(P1, "starting", chain="uhf0", pid=2, run=1),
      status(P1, samples=500, invalid=1, doppler_applied=2)],
     {("groundseg_chain_samples_total", (("chain", "uhf0"),)): 3500,
      ("groundseg_chain_overruns_total", (("chain", "uhf0"),)): 1,
      ("groundseg_chain_underruns_total", (("chain", "uhf0"),)): 4,
      ("groundseg_frames_crc_failed_total", (("chain", "uhf0"),)): 4,
      ("groundseg_doppler_corrections_applied_total", (("chain", "uhf0"),)): 11,
      ("groundseg_chain_flowgraph_starts_total", (("chain", "uhf0"),)): 2,
      ("groundseg_chain_flowgraph_restarts_total", (("chain", "uhf0"),)): 1,
      ("groundseg_chain_flowgraph_up", (("chain", "uhf0"),)): 0}),
    ("the final counts of a flowgraph run",
     [radio(P1, "starting", chain="uhf0"), status(P1, samples=1000, invalid=1, overruns=0),
      radio(P1, "done", reason="end of input", samples=2500, invalid=2, overruns=3, doppler_applied=7)],
     {("groundseg_chain_samples_total", (("chain", "uhf0"),)): 2500,
      ("groundseg_frames_crc_failed_total", (("chain", "uhf0"),)): 2,
      ("groundseg_chain_overruns_total", (("chain", "uhf0"),)): 3,
      ("groundseg_doppler_corrections_applied_total", (("chain", "uhf0"),)): 7}),
    ("a status without sample counts leaves them at 0",
     [radio(P2, "starting", chain="vhf0"), radio(P2, "ready"), status(P2, lag_s=0.4, doppler_applied=3, invalid=0)],
     {("groundseg_chain_samples_total", (("chain", "vhf0"),)): 0,
      ("groundseg_chain_overruns_total", (("chain", "vhf0"),)): 0,
      ("groundseg_chain_decoding_lag_seconds", (("chain", "vhf0"),)): 0.4,
      ("groundseg_chain_flowgraph_up", (("chain", "vhf0"),)): 1,
      ("groundseg_doppler_corrections_applied_total", (("chain", "vhf0"),)): 3}),
    ("the report adds what the last status lines did not say",
     [radio(P1, "starting", chain="uhf0"), status(P1, doppler_applied=5, invalid=1, samples=1000),
      report(P1, path="/r/p1.json", doppler_applied=8)],
     {("groundseg_doppler_corrections_applied_total", (("chain", "uhf0"),)): 8,
      ("groundseg_frames_crc_failed_total", (("chain", "uhf0"),)): 2,
      ("groundseg_chain_samples_total", (("chain", "uhf0"),)): 4000}),
    ("a crashed run's counts are kept when the report knows less",
     [radio(P1, "starting", chain="uhf0"), status(P1, invalid=2, samples=700), radio(P1, "starting", chain="uhf0"),
      status(P1, invalid=1, samples=800), report(P1, path="/r/two-runs.json")],
     {("groundseg_frames_crc_failed_total", (("chain", "uhf0"),)): 3,
      ("groundseg_chain_samples_total", (("chain", "uhf0"),)): 1500}),
    ("passes in a row without frames",
     [report(P1), report(P3, state="failed"), report(P2),
      frame(P3), report(P3)],
     {("groundseg_chain_consecutive_passes_without_frames", (("chain", "uhf0"),)): 0,
      ("groundseg_chain_consecutive_passes_without_frames", (("chain", "vhf0"),)): 1}),
    ("two passes without frames", [report(P1), report(P3)],
     {("groundseg_chain_consecutive_passes_without_frames", (("chain", "uhf0"),)): 2}),
    ("an interrupted pass does not count as a pass without frames", [report(P1, state="interrupted")],
     {("groundseg_chain_consecutive_passes_without_frames", (("chain", "uhf0"),)): 0}),
    ("Doppler corrections sent",
     [("doppler", {"pass_id": P1, "t_unix_s": T0, "doppler_hz": 3000.0}),
      ("doppler", {"pass_id": P1, "t_unix_s": T0 + 0.5, "doppler_hz": -1234.5}),
      ("doppler", {"pass_id": P2, "t_unix_s": T0, "doppler_hz": 10.0})],
     {("groundseg_doppler_corrections_sent_total", (("chain", "uhf0"),)): 2,
      ("groundseg_doppler_corrections_sent_total", (("chain", "vhf0"),)): 1,
      ("groundseg_chain_doppler_correction_hertz", (("chain", "uhf0"),)): -1234.5}),
    ("rotator commanded, reported, failing, parked",
     [("advance", 7.0), rot("command", az_deg=120.0, el_deg=30.0, rot_az_deg=480.0 - 360.0, rot_el_deg=30.0,
                            position=[118.0, 29.5]),
      rot("failure", message="timeout")],
     {("groundseg_rotator_commands_total", (("rotator", "rot1"),)): 1,
      ("groundseg_rotator_errors_total", (("rotator", "rot1"),)): 1,
      ("groundseg_rotator_commanded_azimuth_degrees", (("rotator", "rot1"),)): 120.0,
      ("groundseg_rotator_commanded_elevation_degrees", (("rotator", "rot1"),)): 30.0,
      ("groundseg_rotator_reported_azimuth_degrees", (("rotator", "rot1"),)): 118.0,
      ("groundseg_rotator_reported_elevation_degrees", (("rotator", "rot1"),)): 29.5,
      ("groundseg_rotator_last_command_timestamp_seconds", (("rotator", "rot1"),)): T0 + 7.0,
      ("groundseg_rotator_tracking", (("rotator", "rot1"),)): 1}),
    ("a parked rotator reports the park position and stops tracking",
     [rot("command", rot_az_deg=10.0, rot_el_deg=5.0, position=None), rot("parked", position=[0.0, 90.0])],
     {("groundseg_rotator_reported_azimuth_degrees", (("rotator", "rot1"),)): 0.0,
      ("groundseg_rotator_reported_elevation_degrees", (("rotator", "rot1"),)): 90.0,
      ("groundseg_rotator_commanded_azimuth_degrees", (("rotator", "rot1"),)): 10.0,
      ("groundseg_rotator_tracking", (("rotator", "rot1"),)): 0}),
    ("tracking given up after failures",
     [rot("command", rot_az_deg=10.0, rot_el_deg=5.0),
      ("warning", {"pass_id": P1, "where": "rotator", "message": "rot1: 3 pointing failures in a row: the pass "
                                                                 "goes on without tracking"})],
     {("groundseg_rotator_tracking", (("rotator", "rot1"),)): 0,
      ("groundseg_station_warnings_total", (("where", "rotator"),)): 1}),
    ("names the configuration does not know go to 'unknown'",
     [rot("command", name="rot9", rot_az_deg=1.0, rot_el_deg=2.0), frame("no-such-pass"),
      radio("other-pass", "starting", chain="sband7")],
     {("groundseg_rotator_commands_total", (("rotator", "unknown"),)): 1,
      ("groundseg_frames_decoded_total", (("chain", "unknown"), ("transmitter", "9k6 FSK downlink"))): 1,
      ("groundseg_chain_flowgraph_starts_total", (("chain", "unknown"),)): 1,
      ("groundseg_rotator_commands_total", (("rotator", "rot9"),)): None}),
    ("station state", [("station.state", {"state": "waiting", "reason": "next pass"}),
                       ("station.state", {"state": "running", "reason": P1})],
     {("groundseg_station_state", (("groundseg_station_state", "running"),)): 1,
      ("groundseg_station_state", (("groundseg_station_state", "waiting"),)): 0}),
    ("warnings and errors by place",
     [("warning", {"where": "flowgraph", "message": "x"}), ("error", {"where": "flowgraph", "message": "y"}),
      ("error", {"where": "storage", "message": "z"}), ("error", {"where": "somewhere new", "message": "?"})],
     {("groundseg_station_warnings_total", (("where", "flowgraph"),)): 1,
      ("groundseg_station_errors_total", (("where", "flowgraph"),)): 1,
      ("groundseg_station_errors_total", (("where", "storage"),)): 1,
      ("groundseg_station_errors_total", (("where", "other"),)): 1}),
]


@pytest.mark.parametrize("steps,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_events_in_exact_values_out(rig, steps, expected):
    rig.feed(steps)
    for (name, labels), want in expected.items():
        got = rig.value(name, **dict(labels))
        if want is None:
            assert got is None, f"{name}{dict(labels)} should be absent, is {got}"
        else:
            assert got == pytest.approx(want), f"{name}{dict(labels)}: {got} != {want}"


def test_configured_chains_and_rotators_start_at_zero(rig):
    for chain in CHAINS:
        for name in ("groundseg_passes_started_total", "groundseg_passes_completed_total",
                     "groundseg_frames_crc_failed_total", "groundseg_chain_flowgraph_restarts_total",
                     "groundseg_doppler_corrections_sent_total", "groundseg_chain_samples_total"):
            assert rig.value(name, chain=chain) == 0
        for reason in FAILURE_REASONS:
            assert rig.value("groundseg_passes_failed_total", chain=chain, reason=reason) == 0
        # not known before a frame: absent, not 0
        assert rig.value("groundseg_chain_last_frame_snr_decibels", chain=chain) is None
        assert rig.value("groundseg_chain_last_frame_timestamp_seconds", chain=chain) is None
    assert rig.value("groundseg_rotator_errors_total", rotator="rot1") == 0
    assert rig.value("groundseg_rotator_commanded_azimuth_degrees", rotator="rot1") is None


FAILURES = [
    ("failed", "missed: never started before the pass ended (station not running?)", "missed"),
    ("failed", "recovered after a restart", "missed"),
    ("failed", "no element set for NORAD 39444", "no_elements"),
    ("failed", "the flowgraph could not start: the flowgraph exited: exit code 3: no SDR found "
               "(driver=rtlsdr)", "hardware"),
    ("failed", "the flowgraph could not start: the flowgraph did not start within 1 s (killed)", "flowgraph_start"),
    ("failed", "the flowgraph stopped responding for 10 s (killed); 100 s of the pass left, 0 restart(s) used",
     "flowgraph_hung"),
    ("failed", "the flowgraph exited: crashed (SIGSEGV): simulated crash; 90 s of the pass left", "flowgraph_crash"),
    ("failed", "internal error: ZeroDivisionError: division by zero", "internal"),
    ("failed", "signal provider bug", "other"),
    ("failed", "", "other"),
    ("interrupted", "station restarted at 2027-01-15 08:00:00 UTC while the pass was in-pass", "station_restart"),
    ("interrupted", "operator stop", "aborted"),
    ("interrupted", "received SIGTERM", "aborted"),
]


@pytest.mark.parametrize("state,reason,want", FAILURES)
def test_failure_reasons_fall_in_a_fixed_set(state, reason, want):
    assert failure_reason(state, reason) == want
    assert want in FAILURE_REASONS


def test_label_guard_caps_and_maps():
    g = LabelGuard(("uhf0",), limit=2, fallback="other")
    assert [g("uhf0"), g("a"), g("b"), g("c"), g("a"), g(None), g("")] == \
           ["uhf0", "a", "b", "other", "a", "unknown", "unknown"]
    fixed = LabelGuard(("x",), limit=0, fallback="unknown")
    assert fixed("y") == "unknown" and fixed("x") == "x"


def test_labels_stay_bounded_whatever_the_passes(rig):
    """A thousand passes, each with its own id, NORAD id and transmitter name: the series stay few."""
    ids = []
    for i in range(1000):
        pid = f"task{i}-{40000 + i}-2027011{i % 10}T0000{i % 60:02d}"
        ids.append(pid)
        PASSES[pid] = SimpleNamespace(chain=("uhf0", "vhf0", f"chain{i}")[i % 3], transmitter=f"tx{i}",
                                      rotator=None)
    try:
        for i, pid in enumerate(ids):
            rig.feed([ps(pid, "pre-pass"), frame(pid, transmitter=f"tx{i}"), ps(pid, "completed")])
    finally:
        for pid in ids:
            PASSES.pop(pid)
    values = {}
    n_series = 0
    for fam in rig.registry.collect():
        for s in fam.samples:
            n_series += 1
            for k, v in s.labels.items():
                values.setdefault(k, set()).add(v)
    assert values["chain"] <= {"uhf0", "vhf0", "unknown"}
    assert len(values["transmitter"]) <= 65 and "other" in values["transmitter"]
    assert not any(v in values.get(k, ()) for k in values for v in ids)
    assert not any(str(40000 + i) in v for vs in values.values() for v in vs for i in range(1000))
    assert n_series < 500
    assert rig.value("groundseg_frames_decoded_total", chain="uhf0", transmitter="other") > 0


# --- the naming rules, on every family the exporter can produce ----------------------------------

ALLOWED_LABELS = {"chain", "rotator", "transmitter", "reason", "where", "device", "fault", "command", "result",
                  "sink", "part", "groundseg_station_state",
                  # _info metadata
                  "version", "python_version", "gnuradio_version", "station", "lat_deg", "lon_deg", "alt_m",
                  "simulated",
                  # prometheus_client's standard collectors
                  "generation", "implementation", "major", "minor", "patchlevel"}
UNBOUNDED_LABELS = {"norad", "pass_id", "pass", "satellite", "task", "task_id", "id", "frame", "pid"}
NOT_BASE_UNITS = {"ms", "milliseconds", "us", "microseconds", "minutes", "hours", "days", "khz", "mhz", "ghz",
                  "deg", "db", "dbm", "percent", "kb", "mb", "kib", "mib", "millis", "sec", "hz"}
TIME_WORDS = {"age", "lag", "time", "timestamp", "uptime", "after", "duration", "latency"}


class FakeControl:
    """The accessors of groundseg.control.server.ControlServer (``request_counts`` is the one asked for)."""

    def request_counts(self):
        return {("status", "ok"): 4, ("task.add", "bad_args"): 1}

    def counters(self):
        return {"requests": 7, "replies_ok": 4, "replies_error": 1, "error_bad_args": 1, "dropped_bad_frames": 2,
                "dropped": 2, "auth_refused": 2, "auth_allowed": 3, "pending": 1, "events_published": 9}


class FakeGateway:
    def sink_stats(self):
        return {"local-archive": {"queued": 3, "forwarded": 10, "failed": 1, "rejected": 2,
                                  "oldest_undelivered_age_s": 42.5}}


def full_registry():
    """Every family: event metrics with a value each, all scrape-time parts, process collectors."""
    rig = Rig()
    rig.feed([s for _, steps, _ in CASES for s in steps if s[0] != "advance"])
    store = ScheduleStore(":memory:")
    store.add_task(Task("t1", 39444, "9k6 FSK downlink", 437e6, source="test"), T0)
    store.apply_plan(Plan(T0, [planned("t1", 1000.0)]), T0)
    tles = TLEStore()
    tles.update(parse_elements(TLE.read_text())[0], T0)
    col = StationCollector(rig.clock, store=store, tles=tles, events=rig.bus,
                           device_counters=lambda: {"rot1": {"commands": 3, "retries": 1, "timeouts": 1}},
                           control=FakeControl(), gateway=FakeGateway())
    rig.registry.register(col)
    add_process_collectors(rig.registry)
    return rig.registry


def planned(task_id, aos, dur=600.0, chain="uhf0"):
    return PlannedPass(task_id, 39444, "9k6 FSK downlink", 437e6, chain, "rot1", T0 + aos, T0 + aos + dur / 2,
                       T0 + aos + dur, 40.0, T0 + aos, T0 + aos + dur, 50, 0.5, T0 - 3600)


def test_every_metric_follows_the_naming_rules():
    fams = list(full_registry().collect())
    ours = [f for f in fams if f.name.startswith("groundseg_")]
    assert len(ours) >= 55
    for f in fams:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.name), f.name
        assert f.name.startswith(("groundseg_", "process_", "python_")), f.name
        assert f.documentation.strip(), f"{f.name} has no help text"
        tokens = set(f.name.split("_"))
        assert not tokens & NOT_BASE_UNITS, f"{f.name}: not a base unit"
        if tokens & TIME_WORDS and f.type != "info":
            assert f.name.endswith("_seconds") or f.name.endswith("_seconds_total"), f"{f.name}: time in seconds"
        if "timestamp" in tokens:
            assert f.name.endswith("_timestamp_seconds") and f.type == "gauge", f.name
        if "degrees" in tokens or "hertz" in tokens or "decibels" in tokens:
            assert f.name.rsplit("_", 1)[1] in ("degrees", "hertz", "decibels"), f"{f.name}: unit last"
        for s in f.samples:
            if f.type == "counter":
                assert s.name.endswith(("_total", "_created")), s.name
                assert not f.name.endswith("_total")
            else:
                assert not s.name.endswith("_total"), f"{s.name}: _total on a {f.type}"
            if f.type == "info":
                assert s.name.endswith("_info") and s.value == 1
            for k in s.labels:
                assert k not in UNBOUNDED_LABELS, f"{s.name}: unbounded label {k}"
                assert k in ALLOWED_LABELS, f"{s.name}: label {k} not in the bounded set"
    # every scrape-time family appears, with the type it is declared with
    by_name = {f.name: f for f in fams}
    for sc in SCRAPED.values():
        assert sc.name in by_name and by_name[sc.name].type == sc.type, sc.name
    # the standard process collector
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "process_start_time_seconds"} <= set(by_name)


def test_metric_names_lists_what_a_scrape_shows():
    shown = {s.name for f in full_registry().collect() for s in f.samples if not s.name.endswith("_created")}
    names = metric_names()
    assert shown - names == set()
    assert "groundseg_frames_decoded_total" in names and "groundseg_next_pass_aos_timestamp_seconds" in names


def test_a_metric_defined_twice_is_rejected():
    reg = CollectorRegistry()
    StationMetrics(reg)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        StationMetrics(reg)
    reg2 = CollectorRegistry()
    reg2.register(StationCollector(SimClock(T0), device_counters=dict))
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        reg2.register(StationCollector(SimClock(T0), device_counters=dict))


# --- scrape-time collectors ---------------------------------------------------------------------

def collector_rig(t0=T0, **kw):
    reg = CollectorRegistry()
    clock = SimClock(t0, speed=None)
    kw.setdefault("device_counters", dict)
    col = StationCollector(clock, **kw)
    reg.register(col)
    return reg, clock, col


def test_plan_part_reads_the_next_pass_from_the_store(tmp_path):
    store = ScheduleStore(tmp_path / "schedule.db")
    try:
        store.add_task(Task("t1", 39444, "9k6 FSK downlink", 437e6, source="test"), T0)
        reg, clock, _ = collector_rig(store=store)
        assert reg.get_sample_value("groundseg_passes_scheduled") == 0
        assert reg.get_sample_value("groundseg_next_pass_aos_timestamp_seconds") is None
        store.apply_plan(Plan(T0, [planned("t1", 7000.0), planned("t1", 1000.0, chain="vhf0")]), T0)
        assert reg.get_sample_value("groundseg_passes_scheduled") == 2
        assert reg.get_sample_value("groundseg_plan_revision") == 1
        assert reg.get_sample_value("groundseg_next_pass_aos_timestamp_seconds") == T0 + 1000.0
        assert reg.get_sample_value("groundseg_next_pass_start_timestamp_seconds") == T0 + 1000.0
        clock.advance(1700.0)  # the first pass has ended
        assert reg.get_sample_value("groundseg_passes_scheduled") == 1
        assert reg.get_sample_value("groundseg_next_pass_aos_timestamp_seconds") == T0 + 7000.0
    finally:
        store.close()


def test_tle_part_reads_ages_and_staleness():
    sets, errs = parse_elements(TLE.read_text())
    assert sets and not errs
    epochs = [s.epoch_unix_s for s in sets]
    now = max(epochs) + 3 * 86400.0
    tles = TLEStore(stale_after_s=30 * 86400.0)
    tles.update(sets[:1], now - 500.0)
    tles.update(sets[1:], now - 100.0)
    reg, clock, _ = collector_rig(now, tles=tles)
    ages = [abs(now - e) for e in epochs]
    assert reg.get_sample_value("groundseg_tle_sets") == len(sets)
    assert reg.get_sample_value("groundseg_tle_max_age_seconds") == pytest.approx(max(ages))
    assert reg.get_sample_value("groundseg_tle_stale_sets") == sum(1 for a in ages if a > 30 * 86400.0)
    assert reg.get_sample_value("groundseg_tle_stale_after_seconds") == 30 * 86400.0
    assert reg.get_sample_value("groundseg_tle_last_update_timestamp_seconds") == now - 100.0


def test_tle_part_without_sets_leaves_ages_absent():
    reg, _, _ = collector_rig(tles=TLEStore())
    assert reg.get_sample_value("groundseg_tle_sets") == 0
    assert reg.get_sample_value("groundseg_tle_max_age_seconds") is None
    assert reg.get_sample_value("groundseg_tle_last_update_timestamp_seconds") is None


def test_device_counters_accumulate_across_driver_objects():
    snaps = iter([
        {"rot1": {"commands": 5, "retries": 2, "timeouts": 1, "malformed": 0, "reconnects": 1}},
        {"rot1": {"commands": 7, "retries": 2, "timeouts": 1, "malformed": 1, "reconnects": 1}},
        {"rot1": {"commands": 2, "retries": 0, "timeouts": 0, "malformed": 0, "reconnects": 0}},  # a new object
        {},  # closed and collected
        {"rot1": {"commands": 12, "retries": 1, "timeouts": 0, "malformed": 0, "reconnects": 0}},  # the next pass's
    ])
    reg, _, _ = collector_rig(device_counters=lambda: next(snaps), devices=("rot1",))
    # commands, retries, timeouts, malformed
    want = [(5, 2, 1, 0), (7, 2, 1, 1), (9, 2, 1, 1), (9, 2, 1, 1), (21, 3, 1, 1)]
    for w in want:
        got = scrape(reg)  # one scrape: one snapshot
        assert (got[("groundseg_device_commands_total", (("device", "rot1"),))],
                got[("groundseg_device_retries_total", (("device", "rot1"),))],
                got[("groundseg_device_faults_total", (("device", "rot1"), ("fault", "timeouts")))],
                got[("groundseg_device_faults_total", (("device", "rot1"), ("fault", "malformed")))]) == w
        assert ("groundseg_device_faults_total", (("device", "rot1"), ("fault", "reconnects"))) not in got


def scrape(reg) -> dict:
    """One collection: {(sample name, sorted label items): value}."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in reg.collect() for s in f.samples}


def test_device_counters_of_a_live_bridge_device():
    from firmware_bridge.counters import DeviceCounters, all_counters

    dev = DeviceCounters("metrics-test-rotator")
    reg, _, _ = collector_rig(device_counters=all_counters, devices=("metrics-test-rotator",))
    dev.inc("commands", 4)
    dev.inc("timeouts")
    dev.inc("port_errors", 2)
    lab = {"device": "metrics-test-rotator"}
    assert reg.get_sample_value("groundseg_device_commands_total", lab) == 4
    assert reg.get_sample_value("groundseg_device_faults_total", {**lab, "fault": "timeouts"}) == 1
    assert reg.get_sample_value("groundseg_device_faults_total", {**lab, "fault": "port_errors"}) == 2
    assert reg.get_sample_value("groundseg_device_faults_total", {**lab, "fault": "limit_rejects"}) == 0


def test_control_and_gateway_sources():
    reg, _, col = collector_rig()
    assert reg.get_sample_value("groundseg_control_auth_refused_total") is None  # no control plane: absent
    col.control, col.gateway = FakeControl(), FakeGateway()
    got = scrape(reg)
    assert got[("groundseg_control_requests_total", (("command", "status"), ("result", "ok")))] == 4
    assert got[("groundseg_control_requests_total", (("command", "task.add"), ("result", "bad_args")))] == 1
    assert got[("groundseg_control_replies_total", (("result", "ok"),))] == 4
    assert got[("groundseg_control_replies_total", (("result", "bad_args"),))] == 1
    assert got[("groundseg_control_dropped_total", (("reason", "bad_frames"),))] == 2
    assert got[("groundseg_control_auth_refused_total", ())] == 2
    assert got[("groundseg_control_pending_requests", ())] == 1
    lab = {"sink": "local-archive"}
    assert reg.get_sample_value("groundseg_gateway_queue_depth", lab) == 3
    assert reg.get_sample_value("groundseg_gateway_forwarded_total", lab) == 10
    assert reg.get_sample_value("groundseg_gateway_failed_total", lab) == 1
    assert reg.get_sample_value("groundseg_gateway_rejected_total", lab) == 2
    assert reg.get_sample_value("groundseg_gateway_oldest_undelivered_age_seconds", lab) == 42.5


def test_sinks_beyond_the_label_cap_share_a_series_the_oldest_age_is_kept():
    class Many:
        def sink_stats(self):
            return {f"s{i}": {"queued": 1, "forwarded": 0, "failed": 0, "rejected": 1,
                              "oldest_undelivered_age_s": float(i)} for i in range(40)}

    reg, _, col = collector_rig()
    col.gateway = Many()
    other = {"sink": "other"}
    assert reg.get_sample_value("groundseg_gateway_queue_depth", other) == 8       # 40 sinks, 32 labels
    assert reg.get_sample_value("groundseg_gateway_rejected_total", other) == 8
    assert reg.get_sample_value("groundseg_gateway_oldest_undelivered_age_seconds", other) == 39.0  # max, not sum


def test_control_commands_are_capped():
    class Flood:
        def request_counts(self):
            return {(f"cmd{i}", "unknown_command"): 1 for i in range(500)}

        def counters(self):
            return {}

    reg, _, col = collector_rig(control=Flood())
    fam = next(f for f in reg.collect() if f.name == "groundseg_control_requests")
    commands = {s.labels["command"] for s in fam.samples if s.name.endswith("_total")}
    assert len(commands) <= 129 and "other" in commands
    assert sum(s.value for s in fam.samples if s.name.endswith("_total")) == 500


def test_the_control_servers_own_counters(tmp_path):
    """Contract with groundseg.control: a real ControlServer (plain mode, ipc), one bad request, one stray frame."""
    import json

    import zmq

    from groundseg.control.server import ControlServer
    from groundseg.control.settings import ControlConfig

    cfg = ControlConfig(security="plain", endpoint=f"ipc://{tmp_path}/req", pub_endpoint=f"ipc://{tmp_path}/pub")
    srv = ControlServer(None, cfg).start()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    try:
        sock.connect(cfg.endpoint)
        sock.send_multipart([b"", json.dumps({"v": 1, "id": "1", "cmd": "no.such.command", "args": {}}).encode()])
        assert sock.poll(10000), "no reply from the control server"
        reply = json.loads(sock.recv_multipart()[-1])
        assert reply["error"]["code"] == "unknown_command"
        sock.send(b"a frame without the empty delimiter")
        for _ in range(100):
            if srv.counters().get("dropped", 0):
                break
            time.sleep(0.05)
        reg, _, _ = collector_rig(control=srv)
        got = scrape(reg)
        assert got[("groundseg_control_replies_total", (("result", "unknown_command"),))] == 1
        assert got[("groundseg_control_replies_total", (("result", "ok"),))] == 0
        assert got[("groundseg_control_dropped_total", (("reason", "no_delimiter"),))] == 1
        assert got[("groundseg_control_pending_requests", ())] == 0
        assert ("groundseg_control_auth_refused_total", ()) not in got  # plain mode: no authentication
    finally:
        sock.close(0)
        ctx.term()
        srv.close()


def test_a_failing_part_is_left_out_and_counted():
    class BrokenStore:
        def passes(self, *a, **k):
            raise RuntimeError("database is closed")

    tles = TLEStore()
    tles.update(parse_elements(TLE.read_text())[0][:2], T0)
    reg, _, _ = collector_rig(store=BrokenStore(), tles=tles)
    assert reg.get_sample_value("groundseg_passes_scheduled") is None
    assert reg.get_sample_value("groundseg_metrics_collect_errors_total", {"part": "plan"}) == 2  # two scrapes
    assert reg.get_sample_value("groundseg_tle_sets") == 2
    assert reg.get_sample_value("groundseg_metrics_collect_errors_total", {"part": "tle"}) == 0


def test_event_bus_counts():
    clock = SimClock(T0)
    bus = EventBus(clock)
    bus.subscribe(lambda ev: 1 / 0, ["error"])
    reg, _, _ = collector_rig(events=bus)
    bus.publish("warning", where="x", message="m")
    bus.publish("error", where="x", message="m")
    assert reg.get_sample_value("groundseg_events_published_total") == 2
    assert reg.get_sample_value("groundseg_event_subscriber_errors_total") == 1


# --- the HTTP exporter ----------------------------------------------------------------------------

def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_exporter_serves_the_registry():
    reg = CollectorRegistry()
    m = StationMetrics(reg, chains=("uhf0",))
    m.passes_planned.inc(3)
    with MetricsServer(reg, "127.0.0.1", 0) as srv:
        assert srv.port > 0 and srv.url == f"http://127.0.0.1:{srv.port}/metrics"
        code, text = get(srv.url)
        assert code == 200
        assert "groundseg_passes_planned_total 3.0" in text.splitlines()
        assert 'groundseg_passes_started_total{chain="uhf0"} 0.0' in text.splitlines()
        assert get(f"http://127.0.0.1:{srv.port}/")[0] == 200
        assert get(f"http://127.0.0.1:{srv.port}/secrets")[0] == 404
        with pytest.raises(InputError, match=rf"metrics: cannot listen on 127.0.0.1:{srv.port}: "):
            MetricsServer(reg, "127.0.0.1", srv.port).start()
        port = srv.port
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_exporter_rejects_an_unknown_host():
    with pytest.raises(InputError, match="metrics address"):
        MetricsServer(CollectorRegistry(), "no-such-host.invalid", 0).start()


# --- attach_metrics on a station ----------------------------------------------------------------

STATION_TOML = {
    "station": {"name": "test-station", "lat_deg": 52.25, "lon_deg": 21.0, "alt_m": 110.0},
    "chains": [{"name": "uhf0", "sdr_args": "driver=x", "freq_min_hz": 430e6, "freq_max_hz": 440e6},
               {"name": "vhf0", "sdr_args": "driver=y", "freq_min_hz": 144e6, "freq_max_hz": 146e6}],
}


class FakeStation:
    """What attach_metrics reads of a Station: config, clock, events, store, planning.tles, sim, state."""

    def __init__(self, metrics=None):
        doc = dict(STATION_TOML, **({"metrics": metrics} if metrics else {}))
        self.config = parse_config(doc)
        self.clock = SimClock(T0, speed=None)
        self.events = EventBus(self.clock)
        self.store = ScheduleStore(":memory:")
        self.planning = SimpleNamespace(tles=TLEStore())
        self.sim = None
        self.state = "idle"


def test_attach_metrics_wires_events_and_state():
    st = FakeStation()
    st.store.add_task(Task("t1", 39444, "9k6 FSK downlink", 437e6, source="test"), T0)
    st.store.apply_plan(Plan(T0, [planned("t1", 1000.0)]), T0)
    pid = st.store.passes()[0].pass_id
    h = attach_metrics(st, serve=False)
    try:
        reg = h.registry
        assert h.server is None and h.url is None
        assert reg.get_sample_value("groundseg_station_info", {
            "station": "test-station", "lat_deg": "52.250000", "lon_deg": "21.000000", "alt_m": "110",
            "simulated": "false"}) == 1
        assert reg.get_sample_value("groundseg_station_state", {"groundseg_station_state": "idle"}) == 1
        st.events.publish("pass.state", pass_id=pid, state="pre-pass", reason="setup", norad=39444, satellite="X")
        st.events.publish("frame", pass_id=pid, norad=39444, record={"transmitter": "9k6 FSK downlink", "hex": "01"})
        assert reg.get_sample_value("groundseg_passes_started_total", {"chain": "uhf0"}) == 1  # chain from the store
        assert reg.get_sample_value("groundseg_frames_decoded_total",
                                    {"chain": "uhf0", "transmitter": "9k6 FSK downlink"}) == 1
        assert reg.get_sample_value("groundseg_next_pass_aos_timestamp_seconds") == T0 + 1000.0
        assert reg.get_sample_value("process_start_time_seconds") > 0
        assert b"groundseg_frames_decoded_total" in h.exposition()
    finally:
        h.close()
    st.events.publish("frame", pass_id=pid, norad=39444, record={"transmitter": "9k6 FSK downlink", "hex": "02"})
    assert reg.get_sample_value("groundseg_frames_decoded_total",
                                {"chain": "uhf0", "transmitter": "9k6 FSK downlink"}) == 1  # detached
    assert st.events.errors == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_attach_metrics_serves_on_the_configured_address():
    port = free_port()
    st = FakeStation({"address": f"127.0.0.1:{port}"})
    h = attach_metrics(st)
    try:
        assert h.url == f"http://127.0.0.1:{port}/metrics" and h.error is None
        code, text = get(h.url)
        assert code == 200 and 'groundseg_station_info{' in text and "process_cpu_seconds_total" in text
    finally:
        h.close()


def test_a_busy_port_does_not_stop_the_station():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        st = FakeStation({"address": f"127.0.0.1:{port}"})
        seen = []
        st.events.subscribe(seen.append, ["error"])
        h = attach_metrics(st)
        try:
            assert h.server is None and "cannot listen" in h.error
            assert [e.data["where"] for e in seen] == ["metrics"]
            assert h.registry.get_sample_value("groundseg_station_errors_total", {"where": "metrics"}) == 1
        finally:
            h.close()


def test_metrics_can_be_disabled():
    st = FakeStation({"address": f"127.0.0.1:{free_port()}", "enabled": False})
    h = attach_metrics(st)
    try:
        assert h.server is None and h.error is None
        assert h.registry.get_sample_value("groundseg_passes_planned_total") == 0
    finally:
        h.close()


# --- the [metrics] section ---------------------------------------------------------------------

def test_metrics_section_defaults_and_values():
    cfg = parse_config(dict(STATION_TOML))
    assert (cfg.metrics.host, cfg.metrics.port, cfg.metrics.enabled, cfg.metrics.linger_s) == \
           ("127.0.0.1", 9108, True, 0.0)
    cfg = parse_config(dict(STATION_TOML, metrics={"address": "[::1]:9200", "enabled": False, "linger_s": 2.5}))
    assert (cfg.metrics.host, cfg.metrics.port, cfg.metrics.enabled, cfg.metrics.linger_s) == \
           ("::1", 9200, False, 2.5)


@pytest.mark.parametrize("section,message", [
    ({"enabled": "yes"}, "metrics.enabled: expected a boolean, got a string"),
    ({"linger_s": -1}, "metrics.linger_s: -1 is outside [0, 600]"),
    ({"linger_s": 3600}, "metrics.linger_s: 3600 is outside [0, 600]"),
    ({"address": "9108"}, "metrics.address: '9108' is not host:port"),
    ({"address": "127.0.0.1:70000"}, "metrics.address: '127.0.0.1:70000' is not host:port"),
    ({"port": 9108}, "metrics.port: unknown key"),
])
def test_bad_metrics_sections_are_rejected(section, message):
    with pytest.raises(InputError) as e:
        parse_config(dict(STATION_TOML, metrics=section))
    assert message in str(e.value)


def test_no_value_is_nan_or_infinite():
    for f in full_registry().collect():
        for s in f.samples:
            assert math.isfinite(s.value), s
