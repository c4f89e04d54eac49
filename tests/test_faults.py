"""Faults (issue 10), each against the real station: the ``Station`` the daemon runs, in simulated time.

What already has its test in ``test_executor.py`` (stand-in flowgraph): a
crashing, hung, never-ready or stop-ignoring flowgraph (killed at its
deadline, the next pass runs), a missing SDR, a rotator that is silent or
cannot be opened, a disk short of space at set-up. Here, the rest:

* the source: a stream error (a block's exception) and a stalled stream in
  the middle of a pass, a signal file that ends before the pass, each with
  the real flowgraph process (``flowgraphs.pass_runner``) on a synthesised
  FUNcube-1 pass (an SDR missing at start: ``test_executor.py``, with the
  stand-in and with the real flowgraph);
* the rotator's serial line (a GS-232B emulator on a pty behind a stable
  link): unplugged, silent, answering garbage in the middle of a pass;
* the disk filling up (writes failing with ENOSPC) while the flowgraph
  writes the IQ recording and the waterfall;
* the clock stepped forward over a planned pass, and back, while the
  station waits.

Faults inside the flowgraph process are injected by a wrapper program
(``FAULT_CHILD``, the executor's ``child_command``) that patches the source
or the file writes of that process, then runs the real ``pass_runner``.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import sys
import threading

import numpy as np
import pytest

from groundseg.schedule import PassState, SimClock
from groundseg.station import SimOptions, Station
from groundseg.storage import artifacts as art
from test_executor import FAKE_CHILD, FakeSignals, load, passes, write_config

FS = 24000.0  # enough for the 1k2 BPSK downlink and its VHF Doppler

FAULT_CHILD = r'''
import builtins, errno, json, os, runpy, sys
spec = json.load(open(sys.argv[1]))
plan = json.load(open(os.environ["GS_FAULT_PLAN"]))
kind, _, arg = plan.get(spec["pass_id"], "ok").partition(":")
if kind in ("stream-error", "stream-stall"):
    # after `arg` seconds of signal the source raises (a driver's stream error) or stops delivering (a stall)
    import time
    import dataclasses
    import numpy as np
    from gnuradio import gr
    import groundseg.blocks.sources as sources
    real_open_source = sources.open_source

    class failing(gr.sync_block):
        def __init__(self, n):
            gr.sync_block.__init__(self, "failing_source", [np.complex64], [np.complex64])
            self.left = n
        def work(self, inp, out):
            if self.left <= 0:
                if kind == "stream-stall":
                    time.sleep(0.05)
                    return 0
                raise OSError(errno.EIO, "simulated stream error: device lost")
            k = min(len(out[0]), self.left)
            out[0][:k] = inp[0][:k]
            self.left -= k
            return k

    def open_source(s):
        src = real_open_source(s)
        h = gr.hier_block2("failing", gr.io_signature(0, 0, 0), gr.io_signature(1, 1, gr.sizeof_gr_complex))
        f = failing(int(float(arg) * src.samp_rate_sps))
        h.connect(src.block, f, h)
        h._keep = [src.block, f]
        return dataclasses.replace(src, block=h)
    sources.open_source = open_source
elif kind == "disk-full":
    # a disk of `arg` bytes for the IQ recording and the waterfall rows: a write past it fails with ENOSPC,
    # deleting a file gives its bytes back
    capacity, used = int(arg), {}
    real_open, real_unlink = builtins.open, os.unlink

    class OnSmallDisk:
        def __init__(self, f, path):
            self.f, self.path = f, path
            used.setdefault(path, 0)
        def write(self, b):
            n = memoryview(b).nbytes
            if sum(used.values()) + n > capacity:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            used[self.path] += n
            return self.f.write(b)
        def __getattr__(self, name):
            return getattr(self.f, name)

    def open_(file, mode="r", *a, **k):
        f = real_open(file, mode, *a, **k)
        if not isinstance(file, int) and any(c in mode for c in "wax"):
            p = os.path.abspath(os.fspath(file))
            if p.endswith(("iq.sigmf-data", "waterfall.f32")):
                return OnSmallDisk(f, p)
        return f

    def unlink(p, *a, **k):
        real_unlink(p, *a, **k)
        used.pop(os.path.abspath(os.fspath(p)), None)
    builtins.open, os.unlink = open_, unlink
sys.argv = ["pass_runner", sys.argv[1]]
runpy.run_module("flowgraphs.pass_runner", run_name="__main__", alter_sys=True)
'''


def _gone(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


class PerPass:
    """A signal provider per pass (by order of the passes planned), the simulated one by default."""

    def __init__(self, default, special: dict):
        self.default, self.special = default, special

    def prepare(self, req):
        return self.special.get(req.pass_id, self.default.prepare)(req)


# --- the real flowgraph process ------------------------------------------------------------------------

@pytest.fixture
def real_station(tmp_path, monkeypatch):
    """Two short FUNcube-1 passes flown with the real flowgraph (faults per pass through ``FAULT_CHILD``).

    ``make(faults, iq=False, signals=None, speed=40)``: ``faults`` is a list (one entry per pass: "ok",
    "stream-error:S", "stream-stall:S", "disk-full:BYTES"); ``signals(default, ids)`` may return a
    provider.
    Returns (station, pass ids, events, log) where log has what the rotator emulator did at each pass end.
    """
    from groundseg.sim import SimSettings

    child = tmp_path / "fault_child.py"
    child.write_text(FAULT_CHILD)
    made = []

    def make(faults, iq=False, signals=None, executor=None, speed=40.0):
        ps = passes(20.0)[:2]
        windows = [(p.aos_unix_s - 30.0, p.aos_unix_s + 110.0) for p in ps]
        ex = {"lead_s": 10.0, "ready_timeout_s": 60.0, "heartbeat_timeout_s": 3.0, "stop_timeout_s": 60.0,
              "interrupt_timeout_s": 3.0, "restarts": 0}
        ex.update(executor or {})
        cfg = load(write_config(tmp_path, windows, executor=ex, iq=iq))
        settings = dataclasses.replace(cfg.section("executor"), child_command=(sys.executable, str(child)))
        clock = SimClock(ps[0].aos_unix_s - 95.0, speed=speed)
        clock.pause()  # as the daemon does during its start-up
        sim = SimOptions(speed=speed, settings=SimSettings(samp_rate_sps=FS), drain_timeout_s=60.0)
        st = Station(cfg, clock, simulate=sim, settings=settings)
        made.append(st)
        st.start()
        ids = [r.pass_id for r in st.store.passes([PassState.PLANNED])]
        assert len(ids) == 2
        plan = tmp_path / "faults.json"
        plan.write_text(json.dumps(dict(zip(ids, faults))))
        monkeypatch.setenv("GS_FAULT_PLAN", str(plan))
        if signals is not None:
            st.executor.signals = signals(st.executor.signals, ids)
        events, log = [], {}
        emu = st.emulators["rot"]

        def on_event(ev):
            events.append(ev)
            if ev.topic == "pass.report":
                log[ev.data["pass_id"]] = {"emu_target": emu.model.target(), "gate": st.gates["rot"].owner}

        st.events.subscribe(on_event)
        clock.resume()
        return st, ids, events, log

    yield make
    for st in made:
        st.close()


def _parked(log, events, pass_id) -> bool:
    """The rotator was parked at the end of the pass: the event, the emulator's target, the gate free."""
    return (any(e.topic == "rotator" and e.data.get("kind") == "parked" and e.data["pass_id"] == pass_id
                for e in events)
            and log[pass_id]["emu_target"] == (0.0, 90.0) and log[pass_id]["gate"] is None)


def _decoded_well(report) -> bool:
    sim = report.simulation or {}
    return sim.get("in_view", 0) >= 10 and sim["decoded_in_view"] >= 0.9 * sim["in_view"]


@pytest.mark.slow
def test_a_source_failing_mid_pass_fails_the_pass_parks_and_the_next_pass_runs(real_station):
    """A block's exception ends the flowgraph process (GNU Radio terminates it): the pass fails with the
    exception from its log as the reason, the rotator parks, the next pass is flown."""
    st, ids, events, log = real_station(["stream-error:30", "ok"], speed=20.0)
    reports = st.run(max_passes=2)
    assert [r.pass_id for r in reports] == ids
    first, second = (st.store.get_pass(i) for i in ids)
    assert first.state is PassState.FAILED
    assert "crashed" in first.reason and "simulated stream error: device lost" in first.reason, first.reason
    run = reports[0].flowgraph[0]
    assert run["exit"]["how"] == "crashed" and run["ready_unix_s"] is not None  # it was running
    assert reports[0].counts["frames"] == len(art.read_frames(st.config.artifacts_dir / ids[0]))
    assert _parked(log, events, ids[0]) and _gone(run["pid"])
    # the station went on: the next pass was flown and decoded
    assert second.state is PassState.COMPLETED and _decoded_well(reports[1])
    assert all(_gone(r["pid"]) for rep in reports for r in rep.flowgraph)
    assert st.status()["counters"]["passes_failed"] == 1


@pytest.mark.slow
def test_a_source_that_stops_delivering_mid_pass_fails_the_pass_with_the_reason(real_station):
    """No exception, no end: the stream just stops (a stalled driver). The flowgraph process notices
    (no sample for heartbeat_timeout_s while samples are due), says so and exits; the pass fails."""
    st, ids, events, log = real_station(["stream-stall:30", "ok"], speed=20.0)  # the pass: 6 s of wall time
    reports = st.run(max_passes=1)
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.FAILED
    assert "the IQ stream stopped" in first.reason and "exit code 3" in first.reason, first.reason
    run = reports[0].flowgraph[0]
    assert run["exit"]["returncode"] == 3 and run["done"]["reason"] == "stream stopped"
    assert run["done"]["signal_s"] == pytest.approx(30.0, abs=2.0)  # where the source stopped
    assert any(e.topic == "error" and "the IQ stream stopped" in e.data["message"] for e in events)
    assert _parked(log, events, ids[0]) and _gone(run["pid"])


@pytest.mark.slow
def test_a_signal_file_ending_before_the_pass_completes_it_with_the_reason(real_station):
    """A file source is all the signal there is: the pass completes, and its reason says the file ended."""

    def signals(default, ids):
        def short(req):  # the recording stops 60 s after AOS (the pass goes on for 50 s more)
            return default.prepare(dataclasses.replace(req, end_unix_s=req.start_unix_s + 10.0 + 60.0))
        return PerPass(default, {ids[0]: short})

    st, ids, events, log = real_station(["ok", "ok"], signals=signals)
    reports = st.run(max_passes=1)
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.COMPLETED
    assert "the signal (a file) ended" in first.reason and "before the pass did" in first.reason, first.reason
    early = float(first.reason.split("ended ")[1].split(" s")[0])
    assert early == pytest.approx(first.end_unix_s - (first.start_unix_s + 60.0), abs=3.0)
    run = reports[0].flowgraph[0]
    assert run["exit"]["returncode"] == 0 and run["done"]["reason"] == "end of input" and _gone(run["pid"])
    assert reports[0].counts["frames"] >= 1
    assert _parked(log, events, ids[0])


@pytest.mark.slow
def test_a_full_disk_drops_the_iq_recording_and_the_frames_still_flow(real_station):
    """Writes of the flowgraph fail with ENOSPC after 2 MB (about 10 s of IQ): IQ dropped, the rest goes on."""
    st, ids, events, log = real_station(["disk-full:2000000", "ok"], iq=True)
    hooked = []
    st.executor.frame_hook = lambda record, pass_id, norad: hooked.append((pass_id, record["hex"]))
    reports = st.run(max_passes=1)
    first = st.store.get_pass(ids[0])
    d = st.config.artifacts_dir / ids[0]
    # the pass completed and every frame was stored and forwarded (the frame hook: the gateway's outbox)
    assert first.state is PassState.COMPLETED, first.reason
    assert _decoded_well(reports[0])
    stored = [f["hex"] for f in art.read_frames(d)]
    assert [h for p, h in hooked if p == ids[0]] == stored and len(stored) == reports[0].counts["frames"]
    # the IQ recording was dropped (and deleted: its space is free again), and the station said so
    warned = [e for e in events if e.topic == "warning" and e.data.get("where") == "storage"]
    assert len(warned) == 1 and warned[0].data["pass_id"] == ids[0]
    msg = warned[0].data["message"]
    assert "IQ recording dropped" in msg and "disk full" in msg and "deleted" in msg
    assert any(w["where"] == "storage" and "IQ recording dropped" in w["message"] for w in reports[0].warnings)
    done = reports[0].flowgraph[0]["done"]
    assert done["iq_dropped"].startswith("disk full") and done["iq_samples"] == 0
    assert not (d / art.IQ_DATA).exists() and not (d / art.IQ_META).exists()
    # in the middle of the pass: frames were decoded after the drop
    assert any(f["t_unix_s"] > warned[0].t_unix_s for f in art.read_frames(d))
    # the waterfall (small) went on in the space the IQ gave back
    assert done["waterfall_dropped"] is None and (d / art.WATERFALL_PNG).exists()
    assert _parked(log, events, ids[0]) and _gone(reports[0].flowgraph[0]["pid"])


# --- the disk-full rules of the flowgraph process, unit by unit ---------------------------------------

class _FullFile:
    def __init__(self, room: int):
        self.room, self.closed = room, False

    def write(self, b):
        n = memoryview(b).nbytes
        if n > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= n
        return n

    def close(self):
        self.closed = True


def test_the_iq_recorder_drops_and_deletes_its_file_when_the_disk_is_full(tmp_path):
    from flowgraphs.pass_runner import IqRecorder

    warnings = []
    rec = IqRecorder(str(tmp_path / art.IQ_DATA), warnings.append)
    rec._f.close()
    rec._f = _FullFile(8 * 1000)
    x = np.zeros(600, np.complex64)
    rec.write(x)
    assert rec.recording and rec.samples == 600
    rec.write(x)  # does not fit
    assert not rec.recording and rec.samples == 600 and rec.dropped.startswith("disk full")
    assert not (tmp_path / art.IQ_DATA).exists()
    assert len(warnings) == 1 and "IQ recording dropped after 600 samples" in warnings[0]
    rec.write(x)  # dropped: nothing more, no second warning
    assert len(warnings) == 1


def test_a_failing_waterfall_drops_the_iq_first_then_itself(tmp_path):
    from gnuradio import blocks, gr

    from flowgraphs.pass_runner import IqRecorder, _make_blocks

    class Writer:
        rows = 3

        def feed(self, iq):
            raise OSError(errno.ENOSPC, "No space left on device")

    _, waterfall_sink, _ = _make_blocks()
    warnings = []
    rec = IqRecorder(str(tmp_path / art.IQ_DATA), warnings.append)
    sink = waterfall_sink(Writer(), rec, warnings.append)
    tb = gr.top_block()
    tb.connect(blocks.vector_source_c(np.zeros(20000, np.complex64), False), sink)
    tb.run()  # the stream was consumed to its end: a failed write never stalls it
    assert not rec.recording and not (tmp_path / art.IQ_DATA).exists()
    assert sink.dropped.startswith("disk full")
    assert len(warnings) == 2
    assert "IQ recording dropped" in warnings[0] and "writing the waterfall" in warnings[0]
    assert warnings[1].startswith("waterfall dropped after 3 rows: disk full")


# --- the rotator's serial line ---------------------------------------------------------------------------

@pytest.fixture
def rotator_station(tmp_path, monkeypatch):
    """A pass with the stand-in flowgraph and a GS-232B emulator behind a stable link (a by-id path)."""
    from firmware_bridge import open_rotator
    from firmware_bridge.emulators import start_emulator
    from firmware_bridge.emulators.rotator_model import RotatorModel
    from firmware_bridge.factory import rotator_from_config
    from groundseg.telemetry.wiring import attach_metrics

    child = tmp_path / "fake_child.py"
    child.write_text(FAKE_CHILD)
    made = []

    def make():
        ps = passes(20.0)[:2]
        windows = [(p.aos_unix_s - 60.0, p.aos_unix_s + 160.0) for p in ps]
        ex = {"lead_s": 20.0, "ready_timeout_s": 5.0, "heartbeat_timeout_s": 1.5, "stop_timeout_s": 1.0,
              "interrupt_timeout_s": 0.5, "rotator_threshold_deg": 0.5}  # a command about every second
        cfg = load(write_config(tmp_path, windows, executor=ex, iq=False))
        settings = dataclasses.replace(cfg.section("executor"), child_command=(sys.executable, str(child)))
        clock = SimClock(ps[0].aos_unix_s - 300.0, speed=30.0)
        rcfg = dict(cfg.rotators[0].bridge_config())
        probe = rotator_from_config(rcfg)
        model = RotatorModel(az_deg=0.0, el_deg=90.0, limits=probe.limits, az_rate_dps=30.0, el_rate_dps=30.0,
                             clock=clock.now)
        probe.close()
        link = str(tmp_path / "usb-rotator-by-id")
        emu = start_emulator("gs232b", model=model, link=link)
        rcfg["device"] = link
        opened = []  # the rotator objects of the passes (their device counters)

        def factory(name):
            opened.append(open_rotator(rcfg))
            return opened[-1]

        st = Station(cfg, clock, simulate=SimOptions(speed=30.0, drain_timeout_s=1.0),
                     signals=FakeSignals(), settings=settings, rotator_factory=factory)
        st.opened_rotators = opened
        st._emulators.append(emu)  # stopped with the station
        metrics = attach_metrics(st, serve=False)
        made.append((st, metrics))
        st.start()
        ids = [r.pass_id for r in st.store.passes([PassState.PLANNED])]
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({i: "ok" for i in ids}))
        monkeypatch.setenv("GS_FAKE_PLAN", str(plan))
        events = []
        st.events.subscribe(events.append)
        return st, ids, events, emu, metrics

    yield make
    for st, metrics in made:
        metrics.close(linger=False)
        st.close()


def _metric(text: str, name: str, **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError(f"no {name}{labels} in the metrics")


@pytest.mark.parametrize("fault", ["disconnect", "no_reply", "garbage"])
def test_a_failing_rotator_line_is_counted_and_the_pass_goes_on_receiving(rotator_station, fault):
    """The line fails a minute into the pass and comes back once tracking has stopped: the pass receives
    on without tracking, the failures show in the report, the status and the metrics; the link is
    reopened (a reconnect) or the replies come back, and the rotator parks at the end."""
    from prometheus_client import generate_latest

    st, ids, events, emu, metrics = rotator_station()
    seen = {}

    def on_event(ev):
        d = ev.data
        if ev.topic == "pass.state" and d["state"] == "in-pass" and d["pass_id"] == ids[0]:
            threading.Timer(0.5, emu.set_fault, args=(fault,)).start()
        if ev.topic == "warning" and d.get("where") == "rotator" and "without tracking" in d["message"] \
                and "status" not in seen:
            seen["status"] = st.status()
            seen["t"] = ev.t_unix_s
            seen["metrics"] = generate_latest(metrics.registry).decode()
            emu.set_fault(None)
            if fault == "disconnect":
                emu.replug()

    st.events.subscribe(on_event)
    reports = st.run(max_passes=1)
    rep = reports[0]
    rec = st.store.get_pass(ids[0])
    # the pass went on receiving after tracking stopped, and completed
    assert rec.state is PassState.COMPLETED, rec.reason
    assert "status" in seen, "tracking never stopped"
    frames = art.read_frames(st.config.artifacts_dir / ids[0])
    assert sum(1 for f in frames if f["t_unix_s"] > seen["t"] + 10.0) >= 2
    # counted: in the pass report, the station status (while it happened) and the metrics
    n = rep.counts["rotator_failures"]
    assert n >= 3 and rep.counts["rotator_commands"] >= 1  # it tracked before the fault
    cur = seen["status"]["current_pass"]
    assert cur["pass_id"] == ids[0] and cur["rotator"]["tracking"] is False
    assert seen["status"]["counters"]["rotator_failures"] >= 3
    assert st.status()["counters"]["rotator_failures"] == n
    text = seen["metrics"]
    assert _metric(text, "groundseg_rotator_errors_total", rotator="rot") >= 3
    assert _metric(text, "groundseg_rotator_tracking", rotator="rot") == 0
    # by kind: an unplug is one lost link, then a port that is absent at every retry until it is back
    kinds = {"disconnect": {"disconnects": 1, "port_errors": 3}, "no_reply": {"timeouts": 3},
             "garbage": {"malformed": 3}}[fault]
    for kind, least in kinds.items():
        assert _metric(text, "groundseg_device_faults_total", device="rot", fault=kind) >= least
    assert _metric(text, "groundseg_device_retries_total", device="rot") >= 3  # each command was retried
    final = generate_latest(metrics.registry).decode()
    assert _metric(final, "groundseg_rotator_errors_total", rotator="rot") == n
    # the line came back: the rotator parked at the end of the pass (reopening the link after an unplug)
    assert any(e.topic == "rotator" and e.data.get("kind") == "parked" and e.data["pass_id"] == ids[0]
               for e in events)
    counters = st.opened_rotators[0].counters
    assert counters["retries"] >= 3 and counters["failures"] >= 3
    if fault == "disconnect":  # the link was reopened through the stable path once the device was back
        assert emu.stats["unplugs"] == 1 and emu.stats["replugs"] == 1
        assert counters["reconnects"] == 1
        assert _metric(generate_latest(metrics.registry).decode(), "groundseg_device_reconnects_total",
                       device="rot") == 1
    assert st.gates["rot"].owner is None and emu.model.target() == (0.0, 90.0)


# --- clock steps ------------------------------------------------------------------------------------------

@pytest.fixture
def waiting_station(tmp_path, monkeypatch):
    """Two passes, the stand-in flowgraph, a station that waits in (simulated) real time before the first."""
    child = tmp_path / "fake_child.py"
    child.write_text(FAKE_CHILD)
    made = []

    def make():
        ps = passes(20.0)[:2]
        windows = [(p.aos_unix_s - 60.0, p.aos_unix_s + 120.0) for p in ps]
        ex = {"lead_s": 20.0, "ready_timeout_s": 5.0, "heartbeat_timeout_s": 1.5, "stop_timeout_s": 1.0,
              "interrupt_timeout_s": 0.5}
        cfg = load(write_config(tmp_path, windows, executor=ex, iq=False))
        settings = dataclasses.replace(cfg.section("executor"), child_command=(sys.executable, str(child)))
        clock = SimClock(ps[0].aos_unix_s - 400.0, speed=60.0)
        st = Station(cfg, clock, settings=settings, signals=FakeSignals(),
                     simulate=SimOptions(speed=60.0, drain_timeout_s=1.0, skip_idle=False))
        made.append(st)
        st.start()
        ids = [r.pass_id for r in st.store.passes([PassState.PLANNED])]
        assert len(ids) == 2
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({i: "ok" for i in ids}))
        monkeypatch.setenv("GS_FAKE_PLAN", str(plan))
        events = []
        st.events.subscribe(events.append)
        return st, ids, events, clock

    yield make
    for st in made:
        st.stop("test over")
        st.close()


def _run_in_thread(st, **kw):
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("reports", st.run(**kw)), daemon=True)
    th.start()
    th.join(90.0)
    assert not th.is_alive(), "the station hung"
    return out["reports"]


def _step_while_waiting(st, clock, events, dt_of):
    """Step the clock once the station waits for its first pass; then let idle time be jumped over."""
    done = []

    def on_event(ev):
        if ev.topic == "station.state" and ev.data["state"] == "waiting" and not done:
            done.append(True)
            threading.Timer(0.3, lambda: clock.step(dt_of(clock.now()))).start()
        if ev.topic == "warning" and "clock stepped" in ev.data.get("message", ""):
            st.sim.skip_idle = True  # after the step: jump over the idle time to keep the test short

    st.events.subscribe(on_event)


def test_a_clock_step_over_a_planned_pass_marks_it_missed_replans_and_flies_the_next(waiting_station):
    st, ids, events, clock = waiting_station()
    first_end = st.store.get_pass(ids[0]).end_unix_s
    _step_while_waiting(st, clock, events, lambda now: first_end + 60.0 - now)
    reports = _run_in_thread(st, max_passes=1)
    first, second = (st.store.get_pass(i) for i in ids)
    # the pass jumped over: failed as missed, with the step as the reason, never flown late
    assert first.state is PassState.FAILED
    assert first.reason.startswith("missed: the clock stepped forward by"), first.reason
    assert [e["to_state"] for e in st.store.events(ids[0])] == ["planned", "failed"]
    assert not (st.config.artifacts_dir / ids[0]).exists()
    warned = [e for e in events if e.topic == "warning" and "clock stepped forward" in e.data["message"]]
    assert len(warned) == 1
    # the plan was recomputed after the step, and the next pass was flown
    assert any(e.topic == "plan" and e.seq > warned[0].seq for e in events)
    assert [r.pass_id for r in reports] == [ids[1]] and second.state is PassState.COMPLETED
    assert st.status()["counters"]["passes_failed"] == 1


def test_a_backward_clock_step_while_waiting_replans_and_the_pass_is_flown_on_time(waiting_station):
    st, ids, events, clock = waiting_station()
    _step_while_waiting(st, clock, events, lambda now: -3 * 3600.0)
    reports = _run_in_thread(st, max_passes=1)
    first = st.store.get_pass(ids[0])
    warned = [e for e in events if e.topic == "warning" and "clock stepped back by 10800 s" in e.data["message"]]
    assert len(warned) == 1
    assert any(e.topic == "plan" and e.seq > warned[0].seq for e in events)
    # flown at its time (set-up at start - setup_s), not hours early or late
    assert [r.pass_id for r in reports] == [ids[0]] and first.state is PassState.COMPLETED
    pre = next(e for e in st.store.events(ids[0]) if e["to_state"] == "pre-pass")
    assert pre["t_unix_s"] == pytest.approx(first.start_unix_s - 90.0, abs=5.0)


def test_a_real_clock_step_is_seen_against_the_monotonic_clock(monkeypatch):
    import time as _time

    from groundseg.schedule.clock import RealClock

    c = RealClock()
    before = c.step_offset_s()
    real = _time.time
    monkeypatch.setattr(_time, "time", lambda: real() + 3600.0)
    assert c.step_offset_s() - before == pytest.approx(3600.0, abs=0.5)
