"""Soak: the station daemon flying simulated pass after pass for many simulated hours under steady load.

The real daemon (``groundseg station --simulate``, a subprocess) with a control plane (plain, ipc://), the
metrics exporter (a free loopback port), a gateway (file sink) and several tasks on FUNcube-1 (real seed
TLE, synthetic IQ at 32 kS/s, GS-232B emulator), at ``SPEED`` x, jumping over the idle time between passes
(``--skip-idle``), until ``GROUNDSEG_SOAK_MINUTES`` (default 6) of wall time have passed
and at least ``MIN_PASSES`` (8, or ``GROUNDSEG_SOAK_PASSES``) passes have been flown. Meanwhile, all measured in the same run:

* a client thread sends read-only control requests at a steady ``GROUNDSEG_SOAK_RATE`` per second (5)
  (status, plan.show, task.list, pass.status, recording.list, tle.show, version, in turn), each with its
  latency from its scheduled send time; a subscriber takes every event (frames, pass reports; ``missed``
  counts gaps in the PUB sequence);
* another thread scrapes ``/metrics`` every ``SCRAPE_S`` seconds (the last scrape gives the chain's
  overrun and sample counters);
* the main thread samples the daemon's RSS (``/proc/PID/status`` VmRSS) and open file descriptors
  (``/proc/PID/fd``) every second.

Printed: passes flown / completed, simulated hours, frames, requests sent / answered / failed with latency
p50 / p99, RSS after the warm-up (until every task has flown a pass, at least 2 passes: the first
waterfall imports matplotlib) and at the end with the slope (MB per wall hour, least squares on the RSS at
each pass report after the warm-up), fd count at start / end / max, samples dropped (source overruns, and samples
the flowgraph had not taken from the source by the end of the planned pass, as in bench_control) and a
verdict line: memory flat (growth after the warm-up < 10 %), no fd growth, zero dropped samples, every
request answered. Figures also go to bench-out/soak.json, the RSS / fd curves to bench-out/soak.png.
"""
from __future__ import annotations

import collections
import json
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
NORAD = 39444                      # FUNcube-1: the seed TLE is recent
TX = "1k2 BPSK downlink"
SPEED = 40.0                       # simulated seconds per wall second while a pass runs
SAMP_RATE_SPS = 32000.0
MIN_PASSES = 8
SCRAPE_S = 5.0
COMMANDS = [("status", {}), ("plan.show", {}), ("task.list", {}), ("pass.status", {}), ("recording.list", {}),
            ("tle.show", {}), ("version", {})]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(d: pathlib.Path, sock_dir: pathlib.Path, port: int) -> pathlib.Path:
    tle = ROOT / "seeds" / "tle" / "catalog.tle"
    text = textwrap.dedent(f"""
        [station]
        name = "soak-warsaw"
        lat_deg = 52.2297
        lon_deg = 21.0122
        alt_m = 110.0

        [storage]
        state_dir = "{d / 'state'}"
        artifacts_dir = "{d / 'passes'}"

        [orbit]
        tle_files = ["{tle}"]

        [planner]
        horizon_hours = 12.0
        setup_s = 60.0
        teardown_s = 30.0
        min_pass_duration_s = 120.0

        [[rotators]]
        name = "rot"
        protocol = "gs232b"
        device = "/dev/null"
        max_az_deg = 450.0
        max_el_deg = 90.0
        park_az_deg = 0.0
        park_el_deg = 90.0
        timeout_s = 0.3
        retries = 1

        [[chains]]
        name = "vhf0"
        sdr_args = "driver=groundseg-soak-no-such-sdr"
        freq_min_hz = 144e6
        freq_max_hz = 146e6
        rotator = "rot"
        samp_rate_sps = {SAMP_RATE_SPS!r}

        [executor]
        lead_s = 60.0
        doppler_interval_s = 0.5
        ready_timeout_s = 60.0
        heartbeat_timeout_s = 30.0
        stop_timeout_s = 60.0
        interrupt_timeout_s = 3.0
        restarts = 1

        [control]
        endpoint = "ipc://{sock_dir / 'ctl'}"
        pub_endpoint = "ipc://{sock_dir / 'pub'}"
        security = "plain"

        [metrics]
        address = "127.0.0.1:{port}"

        [gateway]
        fsync = "normal"
        retention_s = 600.0

        [[gateway.sinks]]
        name = "archive"
        kind = "file"
        url = "file://{d / 'archive'}"

        [[tasks]]
        id = "fc-high"
        norad = {NORAD}
        transmitter = "{TX}"
        priority = 90
        min_el_deg = 30.0
        recording = {{ iq = false, waterfall = true }}

        [[tasks]]
        id = "fc-mid"
        norad = {NORAD}
        transmitter = "{TX}"
        priority = 50
        min_el_deg = 10.0
        recording = {{ iq = false, waterfall = true }}

        [[tasks]]
        id = "fc-low"
        norad = {NORAD}
        transmitter = "{TX}"
        priority = 10
        recording = {{ iq = false, waterfall = false }}
        """)
    p = d / "station.toml"
    p.write_text(text)
    return p


def _launcher() -> list[str]:
    """The daemon's command line up to the subcommand's arguments, jumping over idle simulated time.

    A daemon with a control plane keeps simulated time running at ``--speed`` between passes unless
    ``--skip-idle`` is given.
    """
    return [sys.executable, "-m", "groundseg.cli", "station", "--skip-idle"]


def _proc(pid: int) -> tuple[float, int] | None:
    """(RSS in MB, open fds) of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return kb / 1024.0, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration, ValueError):
        return None


def _wait_up(endpoint: str, daemon, timeout_s: float) -> float:
    """Seconds until the daemon's control plane answers ``version`` (it binds before planning)."""
    from groundseg.control.client import Client, ControlUnavailable

    t0 = time.monotonic()
    with Client(endpoint, None, timeout_s=1.0, retries=0) as c:
        while time.monotonic() - t0 < timeout_s and daemon.poll() is None:
            try:
                c.request("version")
                return time.monotonic() - t0
            except ControlUnavailable:
                time.sleep(0.2)
    raise RuntimeError(f"the daemon's control plane did not answer within {timeout_s:g} s")


def _fd_targets(pid: int) -> collections.Counter:
    """What a process's fds point to (paths; sockets, pipes and anon inodes by kind)."""
    out: collections.Counter = collections.Counter()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                t = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            out[t.split(":")[0] + ":" if t.startswith(("socket:", "pipe:", "anon_inode:")) else t] += 1
    except OSError:
        pass
    return out


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points (0 with fewer than 3)."""
    if len(points) < 3:
        return 0.0
    mx = statistics.fmean(p[0] for p in points)
    my = statistics.fmean(p[1] for p in points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


class Requests(threading.Thread):
    """Read-only control requests at a steady rate (open loop: a late one is sent at once, latency from due)."""

    def __init__(self, endpoint: str, rate: float):
        super().__init__(name="soak-requests", daemon=True)
        self.endpoint, self.period = endpoint, 1.0 / rate
        self.stop = threading.Event()
        self.sent = self.answered = self.failed = 0
        self.errors: collections.Counter = collections.Counter()
        self.lat_s: list[float] = []

    def run(self) -> None:
        from groundseg.control.client import Client, ControlUnavailable, RemoteError

        c = Client(self.endpoint, None, timeout_s=5.0, retries=0)
        t0 = time.monotonic()
        k = 0
        try:
            while not self.stop.is_set():
                due = t0 + k * self.period
                wait = due - time.monotonic()
                if wait > 0 and self.stop.wait(wait):
                    break
                cmd, args = COMMANDS[k % len(COMMANDS)]
                k += 1
                self.sent += 1
                try:
                    c.request(cmd, args)
                    self.answered += 1
                    self.lat_s.append(time.monotonic() - due)
                except (ControlUnavailable, RemoteError) as e:
                    self.failed += 1
                    self.errors[type(e).__name__ + (f" {e.code}" if isinstance(e, RemoteError) else "")] += 1
        finally:
            c.close()


class Events(threading.Thread):
    """Every event of the PUB socket: frames counted, pass reports kept."""

    def __init__(self, endpoint: str):
        super().__init__(name="soak-events", daemon=True)
        self.endpoint = endpoint
        self.stop = threading.Event()
        self.frames = 0
        self.reports: list[dict] = []
        self.report_event = threading.Event()
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.missed = 0
        self.count = 0

    def run(self) -> None:
        from groundseg.control.client import Subscriber

        sub = Subscriber(self.endpoint, topics=[""])
        try:
            while not self.stop.is_set():
                ev = sub.recv(timeout_s=0.5)
                if ev is None:
                    continue
                self.count += 1
                t = ev.get("t_unix_s")
                if isinstance(t, (int, float)):
                    self.first_t = t if self.first_t is None else self.first_t
                    self.last_t = t
                if ev["topic"].startswith("frame"):
                    self.frames += 1
                elif ev["topic"] == "pass.report":
                    self.reports.append(ev["data"])
                    self.report_event.set()
                self.missed = sub.missed
        finally:
            sub.close()


class Scraper(threading.Thread):
    def __init__(self, url: str):
        super().__init__(name="soak-scrape", daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.ok = self.failed = 0
        self.last = ""
        self.bytes: list[int] = []

    def run(self) -> None:
        while not self.stop.wait(SCRAPE_S):
            self.scrape()

    def scrape(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=5.0) as r:
                body = r.read().decode()
            self.ok += 1
            self.last = body
            self.bytes.append(len(body))
        except OSError:
            self.failed += 1


def _metric(text: str, name: str) -> float:
    """Sum of a metric's samples (every label set) in an exposition text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            try:
                total += float(line.rsplit(" ", 1)[1])
            except (ValueError, IndexError):
                pass
    return total


def _pass_figures(report_path: str) -> dict:
    r = json.loads(pathlib.Path(report_path).read_text())
    runs = r.get("flowgraph") or []
    samples = sum((run.get("done") or {}).get("samples", 0) for run in runs)
    overruns = sum((run.get("done") or {}).get("overruns", 0) for run in runs)
    missing = 0
    if runs and r["state"] == "completed":
        run = runs[-1]
        fs = run.get("samp_rate_sps") or SAMP_RATE_SPS
        end = (r.get("planned") or {}).get("end_unix_s")
        t0 = run.get("stream_t0_unix_s")
        if end is not None and t0 is not None and len(runs) == 1:
            missing = max(0, round((end - t0) * fs) - samples)
    sim = r.get("simulation") or {}
    return {"pass_id": r["pass_id"], "task_id": r.get("task_id"), "state": r["state"], "samples": samples,
            "overruns": overruns, "samples_not_taken": missing, "frames": r["counts"].get("frames", 0),
            "decoded_in_view": sim.get("decoded_in_view"), "in_view": sim.get("in_view"),
            "max_lag_s": (r.get("timings") or {}).get("max_lag_s"), "wall_s": r.get("wall_s"),
            "restarts": r["counts"].get("flowgraph_restarts", 0)}


def main() -> None:
    from groundseg.orbit.store import parse_elements

    minutes = float(os.environ.get("GROUNDSEG_SOAK_MINUTES", "6"))
    rate = float(os.environ.get("GROUNDSEG_SOAK_RATE", "5"))
    min_passes = int(os.environ.get("GROUNDSEG_SOAK_PASSES", str(MIN_PASSES)))
    sets, _ = parse_elements((ROOT / "seeds" / "tle" / "catalog.tle").read_text())
    start = {s.norad: s for s in sets}[NORAD].epoch_unix_s
    out_dir = ROOT / "bench-out"
    out_dir.mkdir(exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="gs-soak-", dir="/tmp"))  # short: ipc:// paths
    port = _free_port()
    config = _config(tmp, tmp, port)
    cmd = _launcher() + ["--config", str(config), "--simulate", "--speed", str(SPEED), "--start", repr(start),
                         "--passes", "0", "--workdir", str(tmp / "work"),
                         "--sim-samp-rate", str(SAMP_RATE_SPS)]
    print(f"soak: {minutes:g} min of wall time (GROUNDSEG_SOAK_MINUTES), at least {min_passes} passes, "
          f"{SPEED:g}x, {rate:g} requests/s, metrics scraped every {SCRAPE_S:g} s", flush=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    log_out, log_err = open(tmp / "daemon.out", "w"), open(tmp / "daemon.err", "w")
    daemon = subprocess.Popen(cmd, stdout=log_out, stderr=log_err, env=env, cwd=ROOT)
    events = Events(f"ipc://{tmp / 'pub'}")
    requests = Requests(f"ipc://{tmp / 'ctl'}", rate)
    scraper = Scraper(f"http://127.0.0.1:{port}/metrics")
    events.start()
    up = _wait_up(f"ipc://{tmp / 'ctl'}", daemon, 120.0)   # the load starts once the control plane answers
    t0 = time.monotonic()
    requests.start()
    scraper.start()
    samples: list[tuple[float, float, int]] = []     # (wall s, RSS MB, fds)
    at_reports: list[tuple[float, float, int]] = []  # a sample at each pass report
    fd_sets: list[collections.Counter] = []          # what the daemon's fds point to, at each pass report
    end_sample = None
    stop_reason = None
    seen_reports = 0
    try:
        while daemon.poll() is None:
            now = time.monotonic() - t0
            s = _proc(daemon.pid)
            if s is not None:
                samples.append((now, *s))
            n = len(events.reports)
            if n > seen_reports and s is not None:
                fds = _fd_targets(daemon.pid)
                for _ in range(n - seen_reports):   # the same phase of every pass cycle: comparable
                    at_reports.append(samples[-1])
                    fd_sets.append(fds)
                seen_reports = n
                if now >= minutes * 60.0 and n >= min_passes:
                    end_sample = samples[-1]
                    stop_reason = f"{minutes:g} min and {n} passes"
                    break
            if now > 3 * minutes * 60.0 + 600.0:
                end_sample = samples[-1] if samples else None
                stop_reason = f"time cap ({n} passes flown)"
                break
            events.report_event.wait(1.0)
            events.report_event.clear()
        requests.stop.set()         # no request in flight when the daemon goes
        requests.join(15)
        scraper.scrape()            # the final counters
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=120)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    finally:
        for th in (requests, scraper, events):
            th.stop.set()
        for th in (requests, scraper, events):
            th.join(15)
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log_out.close()
        log_err.close()
    wall_s = time.monotonic() - t0
    err_tail = (tmp / "daemon.err").read_text()[-2000:]
    if stop_reason is None:
        print(f"soak: the daemon ended by itself (exit {daemon.returncode}) after {wall_s:.0f} s:\n{err_tail}")

    passes = [_pass_figures(r["report"]) for r in events.reports if r.get("report")]
    completed = [p for p in passes if p["state"] == "completed"]
    frames = sum(p["frames"] for p in passes)
    overruns = sum(p["overruns"] for p in passes)
    not_taken = sum(p["samples_not_taken"] for p in passes)
    metric_overruns = _metric(scraper.last, "groundseg_chain_overruns_total")
    metric_samples = _metric(scraper.last, "groundseg_chain_samples_total")
    sim_hours = ((events.last_t - events.first_t) / 3600.0) if events.first_t is not None else 0.0
    # warm-up: until every task has flown once (a first waterfall imports matplotlib, ...), at least 2 passes,
    # at most half of them; then the RSS and fds at each pass report (the same phase of every cycle)
    firsts = [next(i for i, p in enumerate(passes) if p["task_id"] == t) for t in {p["task_id"] for p in passes}]
    warm_i = min(max([1] + firsts), max(0, len(at_reports) // 2 - 1)) if at_reports else 0
    warm = at_reports[warm_i] if at_reports else (samples[0] if samples else (0.0, 0.0, 0))
    steady = at_reports[warm_i:]
    after = [p for p in samples if p[0] >= warm[0]]
    end_sample = end_sample or (samples[-1] if samples else warm)
    rss_growth = (end_sample[1] - warm[1]) / warm[1] if warm[1] else float("nan")
    slope_mb_h = _slope([(t / 3600.0, rss) for t, rss, _ in steady])
    fds_after = [f for _, _, f in after] or [warm[2]]
    lat_ms = [x * 1000.0 for x in requests.lat_s]

    print(f"daemon: groundseg station (pid {daemon.pid}, control plane up after {up:.1f} s, exit "
          f"{daemon.returncode}); stopped: {stop_reason}")
    print(f"wall time {wall_s / 60:.1f} min, simulated {sim_hours:.1f} h ({sim_hours * 3600 / wall_s:.0f}x overall)")
    print(f"passes flown {len(passes)}, completed {len(completed)} "
          f"({', '.join(f'{k} {v}' for k, v in collections.Counter(p['task_id'] for p in passes).items())})")
    dec = sum(p["decoded_in_view"] or 0 for p in passes)
    inv = sum(p["in_view"] or 0 for p in passes)
    print(f"frames: {frames} stored, {events.frames} seen on the event stream; decoded {dec} of {inv} sent in view")
    print(f"requests: {requests.sent} sent, {requests.answered} answered, {requests.failed} failed "
          f"{dict(requests.errors) or ''}; latency p50 {_pct(lat_ms, 0.5):.1f} ms, p99 {_pct(lat_ms, 0.99):.1f} ms, "
          f"max {max(lat_ms) if lat_ms else float('nan'):.1f} ms")
    print(f"metrics scrapes: {scraper.ok} ok, {scraper.failed} failed; events: {events.count} received, "
          f"{events.missed} missed (PUB sequence gaps)")
    print(f"RSS: {samples[0][1] if samples else float('nan'):.1f} MB once up, {warm[1]:.1f} MB after the warm-up "
          f"({warm_i + 1} passes, {warm[0] / 60:.1f} min), {end_sample[1]:.1f} MB at the end ({100 * rss_growth:+.1f} %), max "
          f"{max((r for _, r, _ in samples), default=float('nan')):.1f} MB; slope {slope_mb_h:+.2f} MB/h of wall time "
          f"(least squares after the warm-up)\n"
          f"  RSS at each pass report: {', '.join(f'{r:.0f}' for _, r, _ in at_reports)} MB")
    print(f"fds: {warm[2]} after the warm-up, {end_sample[2]} at the end, max {max(fds_after)} "
          f"(at each pass report: {', '.join(str(f) for _, _, f in at_reports)})")
    if len(fd_sets) >= 2:
        grown = fd_sets[-1] - fd_sets[warm_i]
        gone = fd_sets[warm_i] - fd_sets[-1]
        print(f"  fds at the last report not after the warm-up: {dict(grown) or 'none'}; gone since: {dict(gone) or 'none'}")
    print(f"samples: {sum(p['samples'] for p in passes)} taken by the flowgraphs ({metric_samples:.0f} in the "
          f"metrics), overruns {overruns} (metrics {metric_overruns:.0f}), not taken by the end of the pass "
          f"{not_taken}; max lag {max((p['max_lag_s'] or 0 for p in passes), default=0):.2f} s")
    flat = rss_growth < 0.10
    # a leak of one per pass shows as >= MIN_PASSES - 1; allow 2 for what is open at that instant (a scrape,
    # the gateway's archive file, a flowgraph pipe not yet closed)
    no_fd_growth = end_sample[2] <= warm[2] + 2
    no_drops = overruns == 0 and metric_overruns == 0 and not_taken == 0
    all_answered = requests.failed == 0 and requests.answered == requests.sent
    enough = len(completed) >= min_passes and len(completed) == len(passes)
    ok = flat and no_fd_growth and no_drops and all_answered and enough
    print(f"verdict: {'OK' if ok else 'NOT OK'}: memory {'flat' if flat else 'GROWS'} "
          f"({100 * rss_growth:+.1f} % after the warm-up), fds {'steady' if no_fd_growth else 'GROW'} "
          f"({warm[2]} -> {end_sample[2]}), dropped samples {overruns + not_taken}, "
          f"requests failed {requests.failed}, passes completed {len(completed)} of {len(passes)}")

    result = {"minutes_target": minutes, "wall_s": round(wall_s, 1), "speed": SPEED, "sim_hours": round(sim_hours, 2),
              "stop_reason": stop_reason, "exit_code": daemon.returncode,
              "passes": passes, "passes_flown": len(passes), "passes_completed": len(completed),
              "frames": frames, "frames_seen": events.frames, "events": events.count, "events_missed": events.missed,
              "requests": {"rate_per_s": rate, "sent": requests.sent, "answered": requests.answered,
                           "failed": requests.failed, "errors": dict(requests.errors),
                           "p50_ms": _pct(lat_ms, 0.5), "p99_ms": _pct(lat_ms, 0.99),
                           "max_ms": max(lat_ms) if lat_ms else None},
              "scrapes": {"ok": scraper.ok, "failed": scraper.failed},
              "warmup_passes": warm_i + 1,
              "rss_mb": {"up": samples[0][1] if samples else None, "start": warm[1], "end": end_sample[1],
                         "growth": rss_growth, "slope_mb_per_wall_h": slope_mb_h,
                         "at_reports": [round(r, 2) for _, r, _ in at_reports]},
              "fds": {"start": warm[2], "end": end_sample[2], "max": max(fds_after),
                      "at_reports": [f for _, _, f in at_reports]},
              "samples": {"overruns": overruns, "metric_overruns": metric_overruns, "not_taken": not_taken,
                          "taken": sum(p["samples"] for p in passes), "metric_taken": metric_samples},
              "verdict": {"ok": ok, "memory_flat": flat, "no_fd_growth": no_fd_growth, "no_dropped_samples": no_drops,
                          "all_requests_answered": all_answered},
              "series": [[round(t, 1), round(r, 2), f] for t, r, f in samples]}
    (out_dir / "soak.json").write_text(json.dumps(result, indent=1))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot([t / 60 for t, _, _ in samples], [r for _, r, _ in samples], label="RSS (MB)")
        ax.set_xlabel("wall time (min)")
        ax.set_ylabel("RSS (MB)")
        ax2 = ax.twinx()
        ax2.plot([t / 60 for t, _, _ in samples], [f for _, _, f in samples], color="tab:orange", label="open fds")
        ax2.set_ylabel("open fds")
        if samples:
            ax.axvline(warm[0] / 60, color="grey", linestyle=":", label="end of the warm-up")
        ax.set_title(f"soak: {len(passes)} passes, {sim_hours:.1f} simulated h, {rate:g} requests/s")
        fig.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(out_dir / "soak.png", dpi=100)
        plt.close(fig)
    except ImportError:
        pass
    print(f"figures: {out_dir / 'soak.json'}, {out_dir / 'soak.png'}")
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept for inspection: {tmp}\n{err_tail[-800:]}")


if __name__ == "__main__":
    main()
