"""Control plane: request round-trip latency at a steady 500 requests/s while a replayed pass decodes.

Two runs of the same simulated daemon (CURVE on loopback TCP, speed 10x) flying the same replayed GOMX-1
pass (4k8 AFSK, synthesised by groundseg.sim), side by side:

* quiet: nobody talks to the control plane during the pass;
* loaded: a client sends ``status`` requests open-loop at RATE per second (each latency measured from its
  scheduled send time, so a stall counts fully), first while the station waits for the pass (idle), then
  from the start of the pass (its setup) to its report.

Printed per phase: requests sent and answered, the rate reached, latency median / p99 / max. Per run: what
the flowgraph did with the signal (seconds of signal it consumed against the seconds the pass's file
holds, i.e. whether samples were dropped; its largest lag behind the clock; frames decoded of those sent
while in view). A plot (latency over time, both phases) goes to bench-out/bench_control.png.
"""
from __future__ import annotations

import json
import pathlib
import shutil
import statistics
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
RATE = 500.0          # requests per second
HALF_WINDOW_S = 120.0  # the pass is observed this long either side of its culmination
SPEED = 10.0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


class Load:
    """Open-loop request generator on one DEALER socket, plus a subscriber that says when the pass ends."""

    def __init__(self, st):
        import zmq

        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 100000)
        self.sock.setsockopt(zmq.RCVHWM, 100000)
        st.credentials("ro").apply(self.sock)
        self.sock.connect(st.endpoint)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        st.credentials("ro").apply(self.sub)
        for t in (b"pass.", b"heartbeat"):
            self.sub.setsockopt(zmq.SUBSCRIBE, t)
        self.sub.connect(st.pub_endpoint)
        self.sent: dict[str, tuple[float, str]] = {}
        self.lat: dict[str, list[tuple[float, float]]] = {}
        self.errors = 0
        self.count: dict[str, int] = {}
        self.t_start = None

    def run(self, phase: str, until, max_s: float) -> None:
        """Send at RATE until ``until(event)`` says stop (or ``max_s`` passes), collecting replies."""
        import zmq

        from groundseg.control import protocol as P

        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        t0 = time.perf_counter()
        if self.t_start is None:
            self.t_start = t0
        i = 0
        self.lat.setdefault(phase, [])
        while True:
            now = time.perf_counter()
            if now - t0 > max_s:
                break
            due = t0 + i / RATE
            if now >= due:
                rid = f"{phase.replace(' ', '_')}-{i}"
                self.sock.send_multipart([b"", P.request("status", {}, rid)])
                self.sent[rid] = (due, phase)
                i += 1
                continue
            stop = False
            for s, _ in poller.poll(max(0, int((due - now) * 1000))):
                if s is self.sock:
                    self._drain()
                else:
                    while True:
                        try:
                            frames = self.sub.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        if until(json.loads(frames[1])):
                            stop = True
            if stop:
                break
        self.count[phase] = i
        end = time.perf_counter() + 5.0
        while time.perf_counter() < end and any(p == phase for _, p in self.sent.values()):
            if self.sock.poll(100):
                self._drain()

    def _drain(self) -> None:
        import zmq

        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            t = time.perf_counter()
            rep = json.loads(frames[-1])
            due, phase = self.sent.pop(rep["id"], (None, None))
            if due is None:
                self.errors += 1  # a reply to nothing we sent (e.g. an error reply without an id)
                continue
            if not rep["ok"]:
                self.errors += 1
            self.lat[phase].append((due - self.t_start, t - due))

    def close(self) -> None:
        self.sock.close(0)
        self.sub.close(0)
        self.ctx.term()


def _flowgraph_figures(st, report: dict) -> dict:
    rec_dir = st.dir / "work" / "passes" / report["pass_id"]
    r = json.loads((rec_dir / "report.json").read_text())
    run = (r.get("flowgraph") or [{}])[-1]
    done = run.get("done") or {}
    planned = r.get("planned") or {}
    expected_s = planned.get("end_unix_s", 0) - (run.get("stream_t0_unix_s") or 0)
    sim = r.get("simulation") or {}
    return {"state": r["state"], "signal_s": done.get("signal_s"), "expected_s": expected_s,
            "max_lag_s": (r.get("timings") or {}).get("max_lag_s"), "restarts": r["counts"].get("flowgraph_restarts", 0),
            "decoded": sim.get("decoded_in_view"), "in_view": sim.get("in_view"), "frames": r["counts"].get("frames")}


def _one_run(work: pathlib.Path, loaded: bool):
    from groundseg.control.testing import DEFAULT_SAT, SimStation, next_pass

    st = SimStation(work)
    norad, tx = DEFAULT_SAT
    p = next_pass(norad, time.time(), min_el_deg=40.0)
    st.write_config(task=st.pass_task(norad, tx, p, HALF_WINDOW_S), heartbeat_s=1.0)
    setup_unix_s = p.tca_unix_s - HALF_WINDOW_S - 60.0
    report = {}
    load = None
    try:
        st.start(setup_unix_s - 100.0, speed=SPEED)
        load = Load(st)
        if loaded:  # from the daemon's answer until the pass starts (its setup)
            load.run("idle", lambda ev: ev["topic"] == "pass.state", 120.0)

        def pass_over(ev):
            if ev["topic"] == "pass.report":
                report.update(ev["data"])
                return True
            return False

        if loaded:
            load.run("during pass", pass_over, 600.0)
        else:  # no requests: only wait for the report
            end = time.monotonic() + 600
            while not report and time.monotonic() < end:
                if load.sub.poll(500):
                    frames = load.sub.recv_multipart()
                    pass_over(json.loads(frames[1]))
    finally:
        if load is not None:
            load.close()
        st.stop()
    if not report:
        raise RuntimeError(f"the pass did not end:\n{st.daemon.log()[-2000:]}")
    return load, _flowgraph_figures(st, report)


def main() -> None:
    import os

    load_before = os.getloadavg()[0]
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-control-"))
    try:
        _, quiet = _one_run(tmp / "quiet", loaded=False)
        load, loaded = _one_run(tmp / "loaded", loaded=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"daemon: simulated, CURVE, loopback TCP, {SPEED:g}x; pass observed {2 * HALF_WINDOW_S:g} s "
          f"(GOMX-1 4k8 AFSK, synthesised); load: `status` open-loop at {RATE:g}/s")
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
          "(latency tails grow with other work on the machine)")
    print(f"\n{'phase':14} {'sent':>6} {'answered':>8} {'rate/s':>7} {'median ms':>9} {'p99 ms':>7} {'max ms':>7}")
    for phase, pts in load.lat.items():
        if not pts:
            continue
        lat_ms = [1e3 * x for _, x in pts]
        span = pts[-1][0] - pts[0][0]
        sent = load.count.get(phase, 0)
        print(f"{phase:14} {sent:6d} {len(lat_ms):8d} {len(lat_ms) / span if span > 0 else 0:7.0f} "
              f"{statistics.median(lat_ms):9.2f} {_pct(lat_ms, 0.99):7.2f} {max(lat_ms):7.1f}")
    print(f"unanswered: {len(load.sent)}, error replies: {load.errors}")
    print(f"\n{'run':8} {'state':10} {'signal s':>8} {'of s':>6} {'dropped s':>9} {'max lag s':>9} {'restarts':>8} "
          f"{'decoded':>11}")
    for name, f in (("quiet", quiet), ("loaded", loaded)):
        dropped = (f["expected_s"] or 0) - (f["signal_s"] or 0)
        print(f"{name:8} {f['state']:10} {f['signal_s'] or 0:8.1f} {f['expected_s']:6.1f} {dropped:9.2f} "
              f"{f['max_lag_s'] or 0:9.2f} {f['restarts']:8d} {f['decoded']:>4} of {f['in_view']:<4}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(9, 4))
    for phase, pts in load.lat.items():
        if pts:
            ax.plot([t for t, _ in pts], [1e3 * x for _, x in pts], ".", ms=2, label=phase)
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("round trip (ms)")
    ax.set_title(f"status requests at {RATE:g}/s, CURVE, while a replayed pass decodes")
    ax.legend()
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "bench_control.png", dpi=100)
    print(f"plot: {out / 'bench_control.png'}")


if __name__ == "__main__":
    main()
