"""A real Prometheus (Debian's ``prometheus``) scrapes a real ``groundseg station --simulate``.

The test starts Prometheus on a free loopback port with a temporary
configuration (scrape every second) and storage directory, then runs the
station daemon as a subprocess: two minutes around the culmination of a
GOMX-1 pass from the seed TLE over Warsaw, simulated at 30x (synthesised IQ,
the real flowgraph process, a GS-232B emulator for the rotator), metrics on
another free port, lingering a
few seconds after the pass so the last values are scraped. Then it asks
Prometheus's HTTP API what it saw and compares with what the station
stored: frames decoded (frames.jsonl), pass counters (the final state),
Doppler corrections and rotator commands (the pass report's counts).
"""
from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import need_program
from groundseg.orbit import GroundStation, find_passes
from groundseg.orbit.elements import iso_utc
from groundseg.orbit.store import parse_elements

ROOT = pathlib.Path(__file__).resolve().parents[1]
TLE = ROOT / "seeds" / "tle" / "catalog.tle"
NORAD = 39430  # GOMX-1: 4k8 AFSK, U482C frames (Golay, Reed-Solomon)
TX = "4k8 AFSK downlink"
STATION = GroundStation(52.2297, 21.0122, 110.0)
SPEED = 30.0
STATION_CMD = [sys.executable, "-m", "groundseg.cli", "station"]
# Start this long before the window: simulated time stands still while the station plans and synthesises
# the pass's IQ (SimClock.paused), so only the daemon's own start-up runs at SPEED before the set-up; the
# idle rest is skipped.
LEAD_S = 600.0

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_time(t: float) -> str:
    return iso_utc(t).replace(" ", "T") + "Z"


def a_pass():
    sets, _ = parse_elements(TLE.read_text())
    es = {s.norad: s for s in sets}[NORAD]
    res = find_passes([es], STATION, es.epoch_unix_s, es.epoch_unix_s + 86400)
    return [p for p in res.passes if p.max_el_deg >= 30.0][0]


def station_config(d: pathlib.Path, window: tuple[float, float], metrics_port: int) -> pathlib.Path:
    text = textwrap.dedent(f"""
        [station]
        name = "itest-warsaw"
        lat_deg = {STATION.lat_deg}
        lon_deg = {STATION.lon_deg}
        alt_m = {STATION.alt_m}

        [orbit]
        tle_files = ["{TLE}"]

        [planner]
        horizon_hours = 6.0
        setup_s = 30.0
        teardown_s = 30.0
        min_pass_duration_s = 30.0

        [[rotators]]
        name = "rot"
        protocol = "gs232b"
        device = "/dev/null"
        max_az_deg = 450.0
        max_el_deg = 90.0
        park_az_deg = 0.0
        park_el_deg = 90.0
        timeout_s = 0.5
        retries = 1

        [[chains]]
        name = "uhf0"
        sdr_args = "driver=groundseg-test-no-such-sdr"
        freq_min_hz = 430e6
        freq_max_hz = 440e6
        rotator = "rot"

        [metrics]
        address = "127.0.0.1:{metrics_port}"
        linger_s = 4.0

        [executor]
        lead_s = 10.0
        ready_timeout_s = 60.0
        heartbeat_timeout_s = 30.0
        stop_timeout_s = 60.0
        restarts = 0

        [[tasks]]
        id = "fc"
        norad = {NORAD}
        transmitter = "{TX}"
        window_start = {toml_time(window[0])}
        window_end = {toml_time(window[1])}
        """)
    p = d / "station.toml"
    p.write_text(text)
    return p


def prometheus_config(d: pathlib.Path, metrics_port: int) -> pathlib.Path:
    p = d / "prometheus.yml"
    p.write_text(textwrap.dedent(f"""
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: groundseg
            scrape_timeout: 1s
            static_configs:
              - targets: ["127.0.0.1:{metrics_port}"]
        """))
    return p


def http_get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def wait_until(what: str, fn, timeout_s: float, proc: subprocess.Popen | None = None, log: pathlib.Path | None = None):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if fn():
                return
        except (OSError, urllib.error.URLError):
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    out = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    how = f"the process exited with {proc.returncode}" if proc is not None and proc.poll() is not None \
        else f"waited {timeout_s:g} s"
    pytest.fail(f"{what} ({how})\n{out}")


class Prometheus:
    def __init__(self, binary: str, d: pathlib.Path, metrics_port: int):
        self.port = free_port()
        self.log = d / "prometheus.log"
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [binary, f"--config.file={prometheus_config(d, metrics_port)}", f"--storage.tsdb.path={d / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=(out := self.log.open("wb")), stderr=subprocess.STDOUT, cwd=d)
        out.close()  # the child has its own copy
        wait_until("Prometheus did not become ready", lambda: http_get(self.base + "/-/ready")[0] == 200, 60,
                   self.proc, self.log)

    def query(self, expr: str) -> list[dict]:
        url = f"{self.base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        code, body = http_get(url)
        doc = json.loads(body)
        assert code == 200 and doc["status"] == "success", doc
        return doc["data"]["result"]

    def value(self, expr: str) -> float | None:
        res = self.query(expr)
        assert len(res) <= 1, res
        return float(res[0]["value"][1]) if res else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    binary = need_program("prometheus")
    d = tmp_path_factory.mktemp("prometheus-itest")
    metrics_port = free_port()
    p = a_pass()
    window = (p.tca_unix_s - 60.0, p.tca_unix_s + 60.0)  # the strong middle of the pass: frames, short IQ
    cfg = station_config(d, window, metrics_port)
    prom = Prometheus(binary, d, metrics_port)
    log = d / "station.log"
    try:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        with log.open("wb") as out:
            station = subprocess.Popen(
                STATION_CMD + ["--config", str(cfg), "--simulate", "--speed", str(SPEED),
                               "--start", toml_time(window[0] - LEAD_S), "--workdir", str(d / "work"),
                               "--passes", "1", "--json"],
                stdout=out, stderr=subprocess.STDOUT, cwd=d, env=env)
            try:
                wait_until("the station never served /metrics (is attach_metrics hooked into `groundseg station`?)",
                           lambda: http_get(f"http://127.0.0.1:{metrics_port}/metrics")[0] == 200, 60, station, log)
                rc = station.wait(timeout=240)
            finally:
                if station.poll() is None:
                    station.kill()
                    station.wait(10)
        # the samples stay in Prometheus after the target has gone
        wait_until("Prometheus never scraped the station",
                   lambda: prom.value('max_over_time(up{job="groundseg"}[5m])') == 1.0, 15, None, prom.log)
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        yield {"prom": prom, "rc": rc, "events": lines, "work": d / "work", "log": log}
    finally:
        prom.stop()


def last(metric_expr: str) -> str:
    """The last scraped value (the target is gone: range functions skip the staleness markers)."""
    return f"max_over_time({metric_expr}[10m])"


def summary(scraped) -> dict:
    s = [e for e in scraped["events"] if e.get("topic") == "summary"]
    assert len(s) == 1, scraped["log"].read_text()[-3000:]
    return s[0]


def test_the_station_flew_the_pass(scraped):
    s = summary(scraped)
    assert scraped["rc"] == 0 and s["state"] == "completed", s


def test_the_frame_counter_equals_the_frames_decoded(scraped):
    s = summary(scraped)
    records = [json.loads(x) for x in (pathlib.Path(s["dir"]) / "frames.jsonl").read_text().splitlines() if x]
    decoded = sum(1 for r in records if r.get("crc_ok") is not False)
    assert decoded > 0, "the simulated pass decoded nothing: nothing to compare"
    prom = scraped["prom"]
    assert prom.value("sum(" + last('groundseg_frames_decoded_total{job="groundseg"}') + ")") == decoded
    assert prom.value(last('groundseg_frames_decoded_total{job="groundseg", chain="uhf0", '
                           f'transmitter="{TX}"}}')) == decoded


def test_the_pass_counters_moved(scraped):
    prom = scraped["prom"]
    uhf = 'job="groundseg", chain="uhf0"'
    assert prom.value(last(f"groundseg_passes_started_total{{{uhf}}}")) == 1
    assert prom.value(last(f"groundseg_passes_completed_total{{{uhf}}}")) == 1
    assert prom.value(f"sum({last(f'groundseg_passes_failed_total{{{uhf}}}')})") == 0
    assert prom.value(last('groundseg_passes_planned_total{job="groundseg"}')) >= 1
    # the pass ran and ended: seen in progress, then not
    assert prom.value(f"max_over_time(groundseg_pass_in_progress{{{uhf}}}[10m])") == 1
    assert prom.value(f"min_over_time(groundseg_pass_in_progress{{{uhf}}}[10m])") == 0
    assert prom.value(last(f"groundseg_chain_consecutive_passes_without_frames{{{uhf}}}")) == 0


def test_doppler_and_rotator_counters_match_the_report(scraped):
    counts = summary(scraped)["counts"]
    prom = scraped["prom"]
    assert counts["doppler_sent"] > 0 and counts["rotator_commands"] > 0
    assert prom.value(last('groundseg_doppler_corrections_sent_total{job="groundseg", chain="uhf0"}')) == \
        counts["doppler_sent"]
    assert prom.value(last('groundseg_rotator_commands_total{job="groundseg", rotator="rot"}')) == \
        counts["rotator_commands"]
    assert prom.value(last('groundseg_doppler_corrections_applied_total{job="groundseg", chain="uhf0"}')) == \
        counts["doppler_applied"]


def test_the_process_and_station_metadata_were_scraped(scraped):
    prom = scraped["prom"]
    assert prom.value(last('process_resident_memory_bytes{job="groundseg"}')) > 10e6
    assert prom.value(last('process_cpu_seconds_total{job="groundseg"}')) > 0
    info = prom.query(last('groundseg_station_info{job="groundseg"}'))
    assert [r["metric"]["station"] for r in info] == ["itest-warsaw"]
    assert info[0]["metric"]["simulated"] == "true"
    assert prom.value(last('groundseg_tle_sets{job="groundseg"}')) >= 1
