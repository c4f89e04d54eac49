"""The pass executor: a simulated pass flown end to end, and every way a pass can go wrong.

The end-to-end flight (module fixture ``flown``): the station plans a real
FUNcube-1 pass from the seed TLE over Warsaw, synthesises its IQ (our DBPSK
modulator, AO-40 FEC frames, Doppler from the TLE, path loss, noise) at
32 kS/s, flies it in simulated time at 30x with the real flowgraph process
and a GS-232B emulator on a pty, and the tests check what it did.

The fault tests use a stand-in flowgraph program (``FAKE_CHILD``) that
speaks the flowgraph protocol and misbehaves on demand (crash, hang, never
start, ignore the stop), so they run in about a second each.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import sys
import textwrap
import threading

import numpy as np
import pytest

from groundseg.errors import InputError
from groundseg.orbit import DopplerModel, GroundStation, find_passes, look_angles
from groundseg.orbit.elements import iso_utc
from groundseg.orbit.store import parse_elements
from groundseg.schedule import PassState, SimClock
from groundseg.schedule.executor import (ExecutorSettings, RotatorTracker, SkyTrack, SourcePlan,
                                         angular_separation_deg)
from groundseg.station import SimOptions, Station
from groundseg.storage import artifacts as art

ROOT = pathlib.Path(__file__).resolve().parents[1]
TLE = ROOT / "seeds" / "tle" / "catalog.tle"
NORAD = 39444  # FUNcube-1: fresh seed TLE, VHF (small Doppler span: a low sample rate will do)
TX = "1k2 BPSK downlink"
STATION = GroundStation(52.2297, 21.0122, 110.0)
FS = 32000.0


def elements():
    sets, _ = parse_elements(TLE.read_text())
    return {s.norad: s for s in sets}[NORAD]


def passes(min_el: float = 20.0):
    es = elements()
    res = find_passes([es], STATION, es.epoch_unix_s, es.epoch_unix_s + 86400)
    return [p for p in res.passes if p.max_el_deg >= min_el]


def toml_time(t: float) -> str:
    return iso_utc(t).replace(" ", "T") + "Z"


def write_config(d: pathlib.Path, windows: list[tuple[float, float]], *, executor: dict | None = None,
                 iq: bool = True, min_pass_s: float = 30.0, rotator: dict | None = None) -> pathlib.Path:
    ex = {"lead_s": 60.0, "doppler_interval_s": 0.5, "ready_timeout_s": 60.0, "heartbeat_timeout_s": 30.0,
          "stop_timeout_s": 60.0, "interrupt_timeout_s": 3.0, "restarts": 0, "rotator_threshold_deg": 2.0,
          "rotator_lead_s": 2.0, "rotator_update_s": 1.0}
    ex.update(executor or {})
    rot = {"max_az_deg": 450.0, "max_el_deg": 90.0, "park_az_deg": 0.0, "park_el_deg": 90.0, "timeout_s": 0.3,
           "retries": 1}
    rot.update(rotator or {})

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v) if not isinstance(v, str) else json.dumps(v)

    tasks = "\n".join(textwrap.dedent(f"""
        [[tasks]]
        id = "fc-{i}"
        norad = {NORAD}
        transmitter = "{TX}"
        window_start = {toml_time(a)}
        window_end = {toml_time(b)}
        recording = {{ iq = {val(iq)}, waterfall = true }}
        """) for i, (a, b) in enumerate(windows))
    text = textwrap.dedent(f"""
        [station]
        name = "test-warsaw"
        lat_deg = {STATION.lat_deg}
        lon_deg = {STATION.lon_deg}
        alt_m = {STATION.alt_m}

        [storage]
        state_dir = "{d / 'state'}"
        artifacts_dir = "{d / 'passes'}"

        [orbit]
        tle_files = ["{TLE}"]

        [planner]
        horizon_hours = 6.0
        setup_s = 90.0
        teardown_s = 30.0
        min_pass_duration_s = {min_pass_s}

        [[rotators]]
        name = "rot"
        protocol = "gs232b"
        device = "/dev/null"
        """) + "".join(f"{k} = {val(v)}\n" for k, v in rot.items()) + textwrap.dedent("""
        [[chains]]
        name = "vhf0"
        sdr_args = "driver=groundseg-test-no-such-sdr"
        freq_min_hz = 144e6
        freq_max_hz = 146e6
        rotator = "rot"
        samp_rate_sps = 32000

        [executor]
        """) + "".join(f"{k} = {val(v)}\n" for k, v in ex.items()) + tasks
    p = d / "station.toml"
    p.write_text(text)
    return p


def load(path):
    from groundseg.config import load_config

    return load_config(path)


# --- the end-to-end flight ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flown(tmp_path_factory):
    from groundseg.sim import SimSettings

    d = tmp_path_factory.mktemp("flight")
    p = passes(30.0)[0]
    window = (p.aos_unix_s - 60.0, p.aos_unix_s + 180.0)
    cfg = load(write_config(d, [window]))
    # 2 s of station time before the set-up (setup_s 90 before AOS): enough because simulated time stands
    # still while the station synthesises the pass's IQ (SimClock.paused; the test holds it while it builds
    # the station and plans, as `groundseg station` does during its start-up)
    clock = SimClock(p.aos_unix_s - 92.0, speed=30.0)
    clock.pause()
    sim = SimOptions(speed=30.0, settings=SimSettings(samp_rate_sps=FS), drain_timeout_s=120.0)
    station = Station(cfg, clock, simulate=sim)
    events: list = []
    samples: list = []  # (t, emulator az, el) while the pass runs
    gate_owner: list = []
    emu = station.emulators["rot"]

    def on_event(ev):
        events.append(ev)
        if ev.topic == "doppler":
            az, el = emu.model.position()
            samples.append((ev.t_unix_s, az, el))
        if ev.topic == "pass.state" and ev.data["state"] == "in-pass":
            gate_owner.append(station.gates["rot"].owner)

    station.events.subscribe(on_event)
    try:
        plan_snapshot = None
        station.start()
        plan_snapshot = station.store.passes()
        clock.resume()
        reports = station.run(max_passes=1)
        emu_target = emu.model.target()
        received = [c.decode() for c in emu.received]
        rec = station.store.get_pass(reports[0].pass_id)
        history = station.store.events(rec.pass_id)
        gate_after = station.gates["rot"].owner
    finally:
        station.close()
    return {"pass": p, "window": window, "report": reports[0], "rec": rec, "history": history, "events": events,
            "samples": samples, "emu_target": emu_target, "received": received, "plan": plan_snapshot,
            "gate_owner": gate_owner, "gate_after": gate_after, "dir": cfg.artifacts_dir / rec.pass_id,
            "config": cfg}


def test_the_plan_contains_the_pass(flown):
    p = flown["pass"]
    planned = [r for r in flown["plan"] if r.norad == NORAD]
    assert len(planned) == 1
    r = planned[0]
    assert abs(r.aos_unix_s - p.aos_unix_s) < 1.0
    assert r.start_unix_s == pytest.approx(p.aos_unix_s, abs=1.0)
    assert r.pass_id == flown["rec"].pass_id


def test_the_pass_completes_through_every_state(flown):
    assert flown["rec"].state is PassState.COMPLETED, flown["rec"].reason
    states = [e["to_state"] for e in flown["history"]]
    assert states == ["planned", "pre-pass", "in-pass", "post-pass", "completed"]
    # set up on time although the clock ran from 2 s before: synthesising the IQ took no station time
    pre = next(e for e in flown["history"] if e["to_state"] == "pre-pass")
    assert pre["t_unix_s"] <= flown["rec"].start_unix_s - 90.0 + 5.0  # [planner] setup_s
    assert flown["report"].state == "completed"
    assert flown["report"].errors == []


def test_the_flowgraph_starts_before_aos_and_is_released(flown):
    rep, p = flown["report"], flown["pass"]
    assert rep.timings["flowgraph_started"] < p.aos_unix_s
    assert rep.timings["flowgraph_started"] >= p.aos_unix_s - 60.0 - 1.0  # lead_s
    runs = rep.flowgraph
    assert len(runs) == 1 and runs[0]["exit"]["returncode"] == 0 and runs[0]["exit"]["how"] == "stopped"
    pid = runs[0]["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_doppler_sent_follows_the_predicted_curve(flown):
    rep, rec = flown["report"], flown["rec"]
    d = np.array(rep.doppler)
    assert len(d) > 100
    model = DopplerModel(elements(), STATION).offset_hz(rec.freq_hz, d[:, 0])
    assert np.max(np.abs(d[:, 1] - model)) < 10.0
    assert np.max(np.diff(d[:, 0])) <= 1.0  # at least once a second of simulated time
    assert d[0, 0] <= rep.timings["flowgraph_started"] + 1.0 and d[-1, 0] >= rec.end_unix_s - 1e-6
    # the span covers a real Doppler swing (the test is not trivially satisfied by a constant)
    assert np.ptp(d[:, 1]) > 200.0
    # what the flowgraph applied is what was sent
    assert rep.counts["doppler_applied"] >= 0.95 * rep.counts["doppler_sent"]


def test_the_rotator_follows_the_track(flown):
    rep, rec, s = flown["report"], flown["rec"], flown["config"].section("executor")
    cmds = np.array(rep.rotator_commands)
    assert len(cmds) >= 5
    es = elements()
    # every command points where the satellite is rotator_lead_s later (clipped to the observed span)
    t_aim = np.clip(cmds[:, 0] + s.rotator_lead_s, rec.start_unix_s, rec.end_unix_s)
    la = look_angles(es, STATION, t_aim)
    sep = angular_separation_deg(cmds[:, 1], np.maximum(cmds[:, 2], 0.0), la.az_deg, np.maximum(la.el_deg, 0.0))
    assert np.max(sep) < 0.5
    # commands only when the move exceeds the threshold
    steps = np.max(np.abs(np.diff(cmds[:, 3:5], axis=0)), axis=1)
    assert np.all(steps >= s.rotator_threshold_deg - 1e-9)
    # the emulator received them (whole degrees, GS-232B W command)
    w = [c for c in flown["received"] if c.startswith("W")]
    assert len(w) >= len(cmds)
    got = {tuple(int(x) for x in c[1:].split()) for c in w}
    want = {(int(np.floor(a + 0.5)), int(np.floor(e + 0.5))) for a, e in cmds[:, 3:5]}
    assert want <= got
    # and the antenna was along the track while the satellite was up
    smp = np.array([x for x in flown["samples"] if rec.start_unix_s + 30 <= x[0] <= rec.end_unix_s])
    la = look_angles(es, STATION, smp[:, 0])
    sep = angular_separation_deg(smp[:, 1] % 360.0, smp[:, 2], la.az_deg, la.el_deg)
    assert np.median(sep) < 3.0 and np.max(sep) < 8.0
    # parked after the pass, and manual control was locked during it
    assert flown["emu_target"] == (0.0, 90.0)
    assert flown["gate_owner"] == [f"pass {rec.pass_id}"]
    assert flown["gate_after"] is None


def test_the_frames_sent_come_out_decoded(flown):
    rep = flown["report"]
    sim = rep.simulation
    assert sim["in_view"] >= 20
    assert sim["decoded_in_view"] >= 0.9 * sim["in_view"]
    assert sim["decoded_not_sent"] == 0
    sent = {f["hex"] for f in sim["frames"]}
    frames = art.read_frames(flown["dir"])
    assert len(frames) == rep.counts["frames"]
    assert all(f["hex"] in sent for f in frames)
    frame_events = [e for e in flown["events"] if e.topic == "frame"]
    assert [e.data["record"]["hex"] for e in frame_events] == [f["hex"] for f in frames]
    # frame times: within the pass, in order, and near the time the beacon was sent
    sent_t = {f["hex"]: f["end_unix_s"] for f in sim["frames"]}
    for f in frames:
        assert abs(f["t_unix_s"] - sent_t[f["hex"]]) < 1.0


def test_the_flowgraph_counts_every_sample_it_took(flown):
    """The done line's cumulative counts: every sample of the source (the IQ file has the same number), no
    overrun from a file; the done line also went out as a radio event."""
    rep = flown["report"]
    done = rep.flowgraph[0]["done"]
    n = (flown["dir"] / art.IQ_DATA).stat().st_size // 8
    assert done["samples"] == done["iq_samples"] == n > 0
    assert done["overruns"] == 0 and done["underruns"] == 0
    ev = [e.data for e in flown["events"] if e.topic == "radio" and e.data.get("state") == "done"]
    assert len(ev) == 1 and ev[0]["samples"] == n and ev[0]["chain"] == flown["rec"].chain


def test_the_sample_counter_counts_overruns_from_time_tags():
    import pmt
    from gnuradio import blocks, gr

    from flowgraphs.pass_runner import _make_blocks

    _, _, sample_counter = _make_blocks()
    tags = [gr.tag_utils.python_to_tag((k, pmt.intern("rx_time"), pmt.make_tuple(pmt.from_uint64(k), pmt.from_double(0.0)),
                                        pmt.intern("src"))) for k in (0, 5000, 9000)]
    tags.append(gr.tag_utils.python_to_tag((7000, pmt.intern("rx_freq"), pmt.from_double(1.0), pmt.intern("src"))))
    tb = gr.top_block()
    src = blocks.vector_source_c(np.zeros(12345, np.complex64), False, 1, tags)
    counter = sample_counter()
    tb.connect(src, counter)
    tb.run()
    assert counter.samples == 12345 and counter.time_tags == 3 and counter.overruns == 2


def test_the_artifacts_exist(flown):
    d, rep, rec = flown["dir"], flown["report"], flown["rec"]
    assert [bytes.fromhex(f["hex"]) for f in art.read_frames(d)] == art.read_kiss_frames(d)
    png = (d / art.WATERFALL_PNG).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = json.loads((d / art.REPORT).read_text())
    assert loaded["state"] == "completed" and loaded["counts"]["frames"] == rep.counts["frames"]
    from groundseg.storage.recording import read_sigmf_meta

    meta = read_sigmf_meta(d / art.IQ_META)
    assert meta["global"]["core:sample_rate"] == FS
    assert meta["global"]["groundseg:norad"] == NORAD
    cap = meta["captures"][0]
    assert cap["core:frequency"] == rec.freq_hz
    n = (d / art.IQ_DATA).stat().st_size // 8
    # the recording covers the flowgraph's run: from its start (lead before AOS) to the end
    assert n / FS == pytest.approx(rec.end_unix_s - (rec.start_unix_s - 60.0), abs=2.0)
    assert len(meta["annotations"]) == rep.counts["frames"]
    from groundseg.storage.waterfall import read_waterfall

    t, db, lay = read_waterfall(d)
    assert len(t) >= 0.9 * (n / FS) and lay.samp_rate_sps == FS


# --- faults, with a stand-in flowgraph ----------------------------------------------------------------

FAKE_CHILD = r'''
import json, os, signal, sys, time
import zmq
spec = json.load(open(sys.argv[1]))
plan = json.load(open(os.environ["GS_FAKE_PLAN"]))
behaviour = plan.get(spec["pass_id"], "ok")
if behaviour == "crash-once":
    marker = os.environ["GS_FAKE_PLAN"] + "." + spec["pass_id"] + ".crashed"
    behaviour = "ok" if os.path.exists(marker) else "crash"
    open(marker, "w").close()
def send(msg_type, **d):
    sys.stdout.write(json.dumps({"type": msg_type, **d}) + "\n"); sys.stdout.flush()
ctx = zmq.Context(); sock = ctx.socket(zmq.PULL); sock.bind(spec["control"])
if behaviour == "never-ready":
    time.sleep(3600)
if behaviour == "sdr-missing":
    send("error", kind="hardware", message="no SDR found for 'driver=none'")
    sys.exit(3)
c = spec["stream"]["clock"]
now = lambda: c["sim_unix_s"] + (time.monotonic() - c["monotonic_s"]) * c["speed"]
send("ready", pid=os.getpid(), samp_rate_sps=12000.0, stream_t0_unix_s=now(), decoders=["fake"], skipped=[])
applied = 0; n = 0; frames = 0
if behaviour in ("hang", "ignore-stop"):
    signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    n += 1
    while sock.poll(0):
        m = json.loads(sock.recv())
        if "doppler_hz" in m:
            applied += 1
        if m.get("stop") and behaviour != "ignore-stop":
            send("done", reason="stopped", doppler_applied=applied, frames=frames)
            sys.exit(0)
    late = now() > spec["stream"]["t0_unix_s"] + 60.0  # a minute of station time into the run
    if behaviour == "crash" and late:
        send("error", kind="internal", message="simulated crash")
        os._exit(1)
    if behaviour == "hang" and late:
        time.sleep(3600)
    if n % 10 == 1:
        frames += 1
        send("frame", record={"hex": "c0ffee%04x" % frames, "t_unix_s": now(), "crc_ok": True,
                              "transmitter": "fake"})
    send("status", t_unix_s=now(), signal_s=0.0, lag_s=0.0, doppler_applied=applied, frames=frames)
    time.sleep(0.05)
'''


class FakeSignals:
    def prepare(self, req):
        return SourcePlan({"kind": "sdr", "sdr_args": "fake"}, t0_unix_s=req.start_unix_s, throttle=True)


class FailingSignals:
    def prepare(self, req):
        raise RuntimeError("signal provider bug")


@pytest.fixture
def fault_station(tmp_path, monkeypatch):
    """A station flying two short passes with the stand-in flowgraph; returns a factory."""
    child = tmp_path / "fake_child.py"
    child.write_text(FAKE_CHILD)
    plan_file = tmp_path / "plan.json"
    made = []

    def make(behaviours: list[str], executor: dict | None = None, signals=None, rotator: dict | None = None,
             emulate=True):
        ps = passes(20.0)[:2]
        windows = [(p.aos_unix_s - 60.0, p.aos_unix_s + 240.0) for p in ps]
        ex = {"lead_s": 20.0, "ready_timeout_s": 5.0, "heartbeat_timeout_s": 1.5, "stop_timeout_s": 1.0,
              "interrupt_timeout_s": 0.5}
        ex.update(executor or {})
        cfg = load(write_config(tmp_path, windows, executor=ex, iq=False, rotator=rotator))
        settings = dataclasses.replace(cfg.section("executor"), child_command=(sys.executable, str(child)))
        clock = SimClock(ps[0].aos_unix_s - 300.0, speed=120.0)
        st = Station(cfg, clock, simulate=SimOptions(speed=120.0, drain_timeout_s=1.0, emulate_rotators=emulate),
                     signals=signals or FakeSignals(), settings=settings)
        st.start()
        ids = [r.pass_id for r in st.store.passes([PassState.PLANNED])]
        assert len(ids) == 2
        plan_file.write_text(json.dumps(dict(zip(ids, behaviours))))
        monkeypatch.setenv("GS_FAKE_PLAN", str(plan_file))
        events = []
        st.events.subscribe(events.append)
        made.append(st)
        return st, ids, events

    yield make
    for st in made:
        st.close()


def _pids(report):
    return [r["pid"] for r in report.flowgraph]


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_crashing_flowgraph_fails_the_pass_and_the_next_pass_runs(fault_station):
    st, ids, events = fault_station(["crash", "ok"])
    reports = st.run(max_passes=2)
    assert [r.pass_id for r in reports] == ids
    first, second = (st.store.get_pass(i) for i in ids)
    assert first.state is PassState.FAILED
    assert "exited" in first.reason and "simulated crash" in first.reason
    assert second.state is PassState.COMPLETED
    n = reports[0].counts["frames"]
    assert n >= 1  # frames sent before the crash are kept
    assert len(art.read_frames(st.config.artifacts_dir / ids[0])) == n
    assert all(_gone(p) for r in reports for p in _pids(r))
    # the rotator was released after the failed pass too
    parks = [e for e in events if e.topic == "rotator" and e.data.get("kind") == "parked"]
    assert [e.data["pass_id"] for e in parks] == ids
    assert st.gates["rot"].owner is None


def test_a_crashed_flowgraph_is_restarted_when_allowed(fault_station):
    st, ids, events = fault_station(["crash-once", "ok"], executor={"restarts": 1, "min_restart_s": 10.0})
    reports = st.run(max_passes=1)
    rep = reports[0]
    assert st.store.get_pass(ids[0]).state is PassState.COMPLETED
    assert rep.counts["flowgraph_restarts"] == 1 and len(rep.flowgraph) == 2
    assert rep.flowgraph[0]["exit"]["how"] == "crashed" and rep.flowgraph[1]["exit"]["how"] == "stopped"
    assert rep.flowgraph[1]["skip_s"] > 0  # the second run picks up where the first stopped
    assert any("simulated crash" in e["message"] for e in rep.errors)


def test_a_hung_flowgraph_is_killed_and_the_next_pass_runs(fault_station):
    st, ids, events = fault_station(["hang", "ok"])
    reports = st.run(max_passes=2)
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.FAILED and "stopped responding" in first.reason
    assert reports[0].flowgraph[0]["exit"]["how"] == "killed"
    assert reports[0].flowgraph[0]["exit"]["signal"] == "SIGKILL"
    assert st.store.get_pass(ids[1]).state is PassState.COMPLETED
    assert all(_gone(p) for r in reports for p in _pids(r))


def test_a_flowgraph_ignoring_the_stop_is_killed_at_the_deadline(fault_station):
    st, ids, events = fault_station(["ignore-stop", "ok"])
    reports = st.run(max_passes=1)
    ex = reports[0].flowgraph[0]["exit"]
    assert ex["how"] == "killed" and ex["requested"] is True
    assert _gone(reports[0].flowgraph[0]["pid"])
    # the frames were delivered: the pass completes, with the unclean stop recorded
    assert st.store.get_pass(ids[0]).state is PassState.COMPLETED
    assert any("did not stop cleanly" in w["message"] for w in reports[0].warnings)


def test_a_flowgraph_that_never_starts_fails_the_pass(fault_station):
    st, ids, events = fault_station(["never-ready", "ok"], executor={"ready_timeout_s": 1.0})
    reports = st.run(max_passes=2)
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.FAILED and "did not start" in first.reason
    assert st.store.get_pass(ids[1]).state is PassState.COMPLETED
    assert _gone(reports[0].flowgraph[0]["pid"])


def test_a_missing_sdr_fails_the_pass_with_the_reason(fault_station):
    st, ids, events = fault_station(["sdr-missing", "ok"])
    reports = st.run(max_passes=2)
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.FAILED and "no SDR found" in first.reason
    assert st.store.get_pass(ids[1]).state is PassState.COMPLETED
    assert any(e.topic == "rotator" and e.data.get("kind") == "parked" and e.data["pass_id"] == ids[0]
               for e in events)


def test_the_real_flowgraph_reports_a_missing_sdr(fault_station):
    """The flowgraph process itself, asked for an SDR that is not there: one clear error, pass failed."""
    from groundseg.schedule.executor import HardwareSignals

    st, ids, events = fault_station(["ok", "ok"], signals=HardwareSignals())
    st.executor.settings = dataclasses.replace(st.executor.settings, child_command=(), ready_timeout_s=60.0)
    reports = st.run(max_passes=1)
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.FAILED
    assert "groundseg-test-no-such-sdr" in first.reason or "SoapySDR" in first.reason or "SDR" in first.reason
    assert reports[0].flowgraph[0]["exit"]["returncode"] == 3  # HardwareError
    assert st.gates["rot"].owner is None


def test_an_executor_error_fails_the_pass_and_releases(fault_station):
    st, ids, events = fault_station(["ok", "ok"], signals=FailingSignals())
    reports = st.run(max_passes=1)
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.FAILED and "signal provider bug" in first.reason
    assert reports[0].flowgraph == []  # never started
    assert st.gates["rot"].owner is None
    assert any(e.topic == "rotator" and e.data.get("kind") == "parked" for e in events)


def test_a_silent_rotator_does_not_stop_the_pass(fault_station):
    st, ids, events = fault_station(["ok", "ok"])
    st.emulators["rot"].set_fault("no_reply")
    reports = st.run(max_passes=1)
    rep = reports[0]
    assert st.store.get_pass(ids[0]).state is PassState.COMPLETED
    assert rep.counts["rotator_commands"] == 0 and rep.counts["rotator_failures"] >= 1
    assert any("without tracking" in w["message"] for w in rep.warnings)
    assert any("park failed" in w["message"] for w in rep.warnings)
    # Doppler kept flowing while the rotator timed out
    d = np.array(rep.doppler)
    assert np.max(np.diff(d[:, 0])) <= 1.0 and d[-1, 0] >= st.store.get_pass(ids[0]).end_unix_s - 1e-6
    assert st.gates["rot"].owner is None


def test_an_absent_rotator_does_not_stop_the_pass(fault_station):
    def no_rotator(name):
        from firmware_bridge import open_rotator

        return open_rotator({"protocol": "gs232b", "device": "/nonexistent/groundseg-test-tty"})

    st, ids, events = fault_station(["ok", "ok"], emulate=False)
    st.executor.rotator_factory = no_rotator
    reports = st.run(max_passes=1)
    assert st.store.get_pass(ids[0]).state is PassState.COMPLETED
    assert any("cannot open the rotator" in w["message"] for w in reports[0].warnings)


def test_stopping_the_station_interrupts_the_pass(fault_station):
    st, ids, events = fault_station(["ok", "ok"])

    def stop_in_pass(ev):
        if ev.topic == "pass.state" and ev.data["state"] == "in-pass":
            threading.Timer(0.3, st.stop, args=("operator stop",)).start()

    st.events.subscribe(stop_in_pass)
    reports = st.run(max_passes=2)
    assert len(reports) == 1
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.INTERRUPTED and first.reason == "operator stop"
    assert st.store.get_pass(ids[1]).state is PassState.PLANNED
    assert _gone(reports[0].flowgraph[0]["pid"])
    assert st.gates["rot"].owner is None


def test_an_aborted_pass_ends_at_once_the_station_flies_on_and_the_rest_is_not_replanned(fault_station):
    st, ids, events = fault_station(["ok", "ok"])
    aborted, replans = [], []

    def on_event(ev):
        if ev.topic == "pass.state" and ev.data["state"] == "in-pass" and ev.data["pass_id"] == ids[0]:
            threading.Timer(0.3, lambda: aborted.append(st.abort_pass("aborted by op: test"))).start()
        if ev.topic == "pass.report" and ev.data["pass_id"] == ids[0]:
            # what a replan right after the abort would plan (compute_plan writes nothing)
            replans.append((ev.t_unix_s, st.planning.compute_plan(ev.t_unix_s)[0]))

    st.events.subscribe(on_event)
    reports = st.run(max_passes=2)
    assert aborted == [True]
    assert [r.pass_id for r in reports] == ids            # the station went on to the next pass
    first = st.store.get_pass(ids[0])
    assert first.state is PassState.INTERRUPTED and first.reason == "aborted by op: test"
    assert st.store.get_pass(ids[1]).state is PassState.COMPLETED
    assert not st._stop.is_set() and st.stop_reason == ""
    # the flowgraph was stopped then, not drained to the end of the pass
    assert reports[0].flowgraph[0]["ended_unix_s"] < first.end_unix_s - 60.0
    assert _gone(reports[0].flowgraph[0]["pid"]) and st.gates["rot"].owner is None
    # recorded: a replan does not plan the rest of the aborted pass again, and says why
    assert [p.pass_id for p in st.store.no_replan_passes()] == [ids[0]]
    (t, plan), = replans
    assert t < first.end_unix_s - 60.0                    # plenty of the pass was left to re-plan
    assert [p for p in plan.planned if p.task_id == first.task_id and not p.locked] == []
    assert any("operator aborted" in d.reason and d.task_id == first.task_id for d in plan.dropped)


def test_a_pass_interrupted_by_a_stop_may_be_replanned(fault_station):
    """A station stop is not an operator's abort: after a restart the rest of the pass may be flown."""
    st, ids, events = fault_station(["ok", "ok"])

    def stop_in_pass(ev):
        if ev.topic == "pass.state" and ev.data["state"] == "in-pass":
            threading.Timer(0.3, st.stop, args=("operator stop",)).start()

    st.events.subscribe(stop_in_pass)
    st.run(max_passes=2)
    assert st.store.get_pass(ids[0]).state is PassState.INTERRUPTED
    assert st.store.no_replan_passes() == []


def test_frames_go_to_the_frame_hook_before_the_artifacts_and_the_events(fault_station):
    st, ids, events = fault_station(["ok", "ok"])
    seen = []

    def hook(record, pass_id, norad):
        stored = [f["hex"] for f in art.read_frames(st.config.artifacts_dir / pass_id)]
        published = [e.data["record"]["hex"] for e in events if e.topic == "frame"]
        seen.append((record["hex"], record["hex"] in stored, record["hex"] in published, norad))

    st.executor.frame_hook = hook
    reports = st.run(max_passes=1)
    frames = art.read_frames(st.config.artifacts_dir / ids[0])
    assert len(seen) == len(frames) == reports[0].counts["frames"] >= 3
    assert [s[0] for s in seen] == [f["hex"] for f in frames]
    assert all(not in_file and not in_events and norad == NORAD for _, in_file, in_events, norad in seen)


def test_a_failing_frame_hook_loses_no_frame(fault_station):
    st, ids, events = fault_station(["ok", "ok"])

    def hook(record, pass_id, norad):
        raise RuntimeError("outbox bug")

    st.executor.frame_hook = hook
    reports = st.run(max_passes=1)
    n = reports[0].counts["frames"]
    assert n >= 1 and len(art.read_frames(st.config.artifacts_dir / ids[0])) == n
    assert any(e.topic == "error" and e.data["where"] == "gateway" and "outbox bug" in e.data["message"]
               for e in events)


def test_each_flowgraph_run_ends_with_a_done_radio_event(fault_station):
    st, ids, events = fault_station(["ok", "ok"])
    reports = st.run(max_passes=1)
    done = [e.data for e in events if e.topic == "radio" and e.data.get("state") == "done"]
    assert len(done) == 1 and done[0]["pass_id"] == ids[0] and done[0]["chain"] == "vhf0"
    assert done[0]["reason"] == "stopped" and done[0]["frames"] == reports[0].counts["frames"]
    assert done[0]["doppler_applied"] == reports[0].flowgraph[0]["done"]["doppler_applied"] > 0


def test_the_station_loop_applies_retention_and_spares_the_new_pass(fault_station):
    import time as _time

    st, ids, events = fault_station(["ok", "ok"])
    st.config = dataclasses.replace(st.config, sections={**st.config.sections, "storage": dataclasses.replace(
        st.config.storage, retention_days=30.0, iq_retention_days=0.0, min_free_mb=0.0)})
    old = st.config.artifacts_dir / "fc-0-39444-20200101T000000"
    old.mkdir(parents=True)
    (old / art.FRAMES_JSONL).write_text('{"hex": "00"}\n')
    t = _time.time() - 100 * 86400.0
    os.utime(old / art.FRAMES_JSONL, (t, t))
    reports = st.run(max_passes=1)
    assert not old.exists()
    assert (st.config.artifacts_dir / ids[0] / art.REPORT).exists()
    assert reports[0].pass_id == ids[0] and st.retention_reports
    assert any(r.passes_deleted == [old.name] for r in st.retention_reports)


@pytest.mark.parametrize("free_mb,records", [(100.0, False), (10_000.0, True)])
def test_a_pass_records_no_iq_when_the_disk_is_short_of_space(fault_station, monkeypatch, free_mb, records):
    from groundseg.storage import retention

    st, ids, events = fault_station(["ok", "ok"])
    tr = st.store.get_task("fc-0")
    st.store.add_task(dataclasses.replace(tr.task, recording=dataclasses.replace(tr.task.recording, iq=True)),
                      st.clock.now(), replace=True)
    monkeypatch.setattr(retention, "free_bytes", lambda path: int(free_mb * 1e6))  # [storage] min_free_mb 500
    reports = st.run(max_passes=1)
    spec = json.loads((st.config.artifacts_dir / ids[0] / art.SPEC).read_text())
    assert (spec["record_iq"] is not None) is records
    warned = [w["message"] for w in reports[0].warnings if w["where"] == "storage"]
    assert bool(warned) is not records and st.store.get_pass(ids[0]).state is PassState.COMPLETED
    if not records:
        assert "100 MB free" in warned[0] and "not recorded" in warned[0]
        assert any(e.topic == "warning" and e.data["where"] == "storage" for e in events)


def test_lead_longer_than_setup_is_refused(tmp_path):
    from groundseg.schedule.executor import PassExecutor

    cfg = load(write_config(tmp_path, [(1.0e9, 1.0e9 + 600)], executor={"lead_s": 120.0}))
    with pytest.raises(InputError, match="lead_s"):
        PassExecutor(cfg, None, None, None, SimClock(0.0, 1.0))


def test_bad_executor_sections_are_rejected(tmp_path):
    for bad in ({"doppler_interval_s": 2.0}, {"restarts": -1}, {"waterfall_nfft": 300}, {"lead_s": "x"}):
        with pytest.raises(InputError, match="executor"):
            load(write_config(tmp_path, [(1.0e9, 1.0e9 + 600)], executor=bad))


# --- rotator tracking on its own -------------------------------------------------------------------


class FakeRotator:
    """A rotator that records what it is told (the Rotator interface, no device)."""

    def __init__(self, limits, fail: bool = False):
        from firmware_bridge.rotator import Position

        self.limits = limits
        self.name = "fake"
        self.timeout_s, self.retries = 0.1, 0
        self.commands: list[tuple[float, float]] = []
        self.parked = False
        self.fail = fail
        self._pos = Position

    def point(self, az, el):
        from groundseg.errors import HardwareError

        if self.fail:
            raise HardwareError("fake rotator: no reply")
        self.limits.check(az, el)
        self.commands.append((az, el))
        return self._pos(az, el)

    def park(self):
        self.parked = True
        return self._pos(0.0, 90.0)

    def stop(self):
        pass


def _track_commands(limits, p, threshold=2.0):
    from firmware_bridge.pointing import plan_pass
    from groundseg.storage.report import PassReport

    es = elements()
    t = np.arange(p.aos_unix_s, p.los_unix_s, 1.0)
    la = look_angles(es, STATION, t)
    track = SkyTrack(t, la.az_deg, la.el_deg)
    pointing = plan_pass([(a, max(e, 0.0)) for a, e in track.points()], limits)
    rot = FakeRotator(limits)
    clock = SimClock(p.aos_unix_s - 300.0, speed=500.0)  # it pre-positions before AOS
    s = ExecutorSettings(rotator_threshold_deg=threshold, rotator_update_s=1.0, rotator_lead_s=2.0)
    tr = RotatorTracker(rot, pointing, track, clock, s, PassReport("x"), lambda *a, **k: None, "x").start()
    clock.sleep_until(p.los_unix_s + 5.0)
    tr.finish(True, clock.now)
    return pointing, rot


def crosses_north(p) -> bool:
    t = np.arange(p.aos_unix_s, p.los_unix_s, 1.0)
    az = np.degrees(np.unwrap(np.radians(look_angles(elements(), STATION, t).az_deg)))
    return np.floor(az.min() / 360.0) != np.floor(az.max() / 360.0)


def test_a_pass_across_north_uses_the_overlap_of_a_450_degree_rotator():
    from firmware_bridge.limits import Limits

    p = next(p for p in passes(10.0) if crosses_north(p))
    pointing, rot = _track_commands(Limits(0.0, 450.0, 0.0, 90.0), p)
    az = np.array([c[0] for c in rot.commands])
    assert len(az) > 10 and rot.parked
    assert np.max(np.abs(np.diff(az))) < 20.0  # no unwinding jump through the stop
    assert not pointing.flip and pointing.continuous
    assert az[0] > 360.0  # it starts in the overlap and runs back past north without a jump
    sky = np.array([pointing.to_sky(a, e)[0] for a, e in rot.commands])
    assert np.all(np.abs(((az - sky) + 180) % 360 - 180) < 1e-6)


def test_a_flip_rotator_flips_for_a_pass_across_north():
    from firmware_bridge.limits import Limits

    p = next(p for p in passes(10.0) if crosses_north(p))
    pointing, rot = _track_commands(Limits(0.0, 360.0, 0.0, 180.0), p)
    el = np.array([c[1] for c in rot.commands])
    az = np.array([c[0] for c in rot.commands])
    assert len(az) > 10
    assert pointing.flip and pointing.continuous
    assert np.all(el >= 90.0 - 1e-6)  # pointed over the zenith from the other side
    assert np.max(np.abs(np.diff(az))) < 20.0


def test_tracking_commands_only_moves_above_the_threshold():
    from firmware_bridge.limits import Limits

    p = passes(30.0)[0]
    _, fine = _track_commands(Limits(0.0, 450.0, 0.0, 90.0), p, threshold=0.5)
    _, coarse = _track_commands(Limits(0.0, 450.0, 0.0, 90.0), p, threshold=5.0)
    assert len(coarse.commands) < len(fine.commands) / 3
    steps = np.max(np.abs(np.diff(np.array(coarse.commands), axis=0)), axis=1)
    assert np.all(steps >= 5.0 - 1e-9)


# --- the station's hooks for the control plane and metrics ---------------------------------------------

def test_event_bus_delivers_filters_and_survives_bad_subscribers():
    from groundseg.station import EventBus

    bus = EventBus(SimClock(1000.0))
    got, frames_only = [], []

    def bad(ev):
        raise RuntimeError("subscriber bug")

    order = []
    bus.subscribe(bad)
    unsub = bus.subscribe(got.append)
    bus.subscribe(frames_only.append, topics=["frame"])
    bus.subscribe(lambda ev: order.append("later"), topics=["frame"])
    bus.subscribe(lambda ev: order.append("first"), topics=["frame"], first=True)
    e1 = bus.publish("pass.state", pass_id="p", state="pre-pass")
    e2 = bus.publish("frame", pass_id="p", record={"hex": "00"})
    unsub()
    bus.publish("frame", pass_id="p", record={"hex": "01"})
    assert [e.seq for e in got] == [e1.seq, e2.seq] and e2.seq > e1.seq
    assert [e.data["record"]["hex"] for e in frames_only] == ["00", "01"]
    assert order == ["first", "later", "first", "later"]  # subscribed last, called first
    assert bus.errors == 3
    assert e2.to_dict() == {"topic": "frame", "t_unix_s": 1000.0, "seq": e2.seq, "pass_id": "p",
                            "record": {"hex": "00"}}
    with pytest.raises(InputError):
        bus.publish("nonsense")
    with pytest.raises(InputError):
        bus.subscribe(got.append, topics=["frame", "nonsense"])


def test_station_status_and_counters(fault_station):
    st, ids, events = fault_station(["ok", "ok"])
    seen = []

    def snap(ev):
        if ev.topic == "radio" and ev.data.get("state") == "ready":
            seen.append(st.status())

    st.events.subscribe(snap)
    before = st.status()
    assert before["current_pass"] is None and before["next_passes"][0]["pass_id"] == ids[0]
    st.run(max_passes=1)
    s = seen[0]
    assert s["state"] == "running" and s["simulated"] is True
    cur = s["current_pass"]
    assert cur["pass_id"] == ids[0] and cur["flowgraph"]["ready"] and cur["flowgraph"]["pid"]
    assert s["rotators"]["rot"]["held_by"] == f"pass {ids[0]}"
    json.dumps(s)  # JSON-ready
    after = st.status()
    assert after["current_pass"] is None and after["rotators"]["rot"]["held_by"] is None
    c = after["counters"]
    assert c["passes_completed"] == 1 and c["frames"] >= 1 and c["doppler_sent"] > 100
    assert c["rotator_commands"] >= 1 and after["next_passes"][0]["pass_id"] == ids[1]
