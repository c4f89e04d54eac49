"""``groundseg station``: the one daemon, every component composed, started in order, closed in reverse order.

* A component that cannot start (control plane without keys, an endpoint or metrics port taken, an outbox
  that cannot be created) is one error line and a non-zero exit, and what started before it is closed
  again (its port is free afterwards).
* A component whose section is absent is not started (no outbox, no uplink queue, no port).
* With everything on (control plane, metrics, gateway, uplink), a SIGTERM in the middle of a pass stops it
  cleanly: the pass ends interrupted, the flowgraph stopped, the rotator parked; the outbox is closed
  (its WAL checkpointed away), the metrics port released, exit status 0.
"""
from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from groundseg.control.testing import DEFAULT_SAT, ROOT, SEED_TLE, STATION, SimStation, iso, next_pass

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nobody listens on it (connections of ours in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def base_toml(d: pathlib.Path, extra: str = "") -> str:
    return "\n".join([
        "[station]", f'name = "{STATION["name"]}"', f'lat_deg = {STATION["lat_deg"]}',
        f'lon_deg = {STATION["lon_deg"]}', f'alt_m = {STATION["alt_m"]}',
        "[storage]", 'state_dir = "state"', 'artifacts_dir = "passes"',
        "[orbit]", f'tle_files = ["{SEED_TLE}"]',
        "[[chains]]", 'name = "uhf0"', 'sdr_args = "driver=rtlsdr"', "freq_min_hz = 430e6", "freq_max_hz = 440e6",
        "samp_rate_sps = 1.024e6", extra]) + "\n"


def run_station(d: pathlib.Path, toml: str, *args: str, timeout_s: float = 180.0) -> subprocess.CompletedProcess:
    cfg = d / "station.toml"
    cfg.write_text(toml)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "groundseg.cli", "station", "--config", str(cfg), "--simulate",
                           "--workdir", str(d / "work"), *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout_s)


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [ln for ln in stderr.splitlines() if ln.startswith("groundseg: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


# --- start-up failures ---------------------------------------------------------------------------------

def test_a_control_plane_without_keys_stops_the_start_with_one_line_and_releases_the_metrics_port(tmp_path):
    mport = free_port()
    extra = "\n".join(["[metrics]", f'address = "127.0.0.1:{mport}"',
                       "[control]", f'endpoint = "tcp://127.0.0.1:{free_port()}"',
                       f'pub_endpoint = "tcp://127.0.0.1:{free_port()}"'])
    r = run_station(tmp_path, base_toml(tmp_path, extra))
    assert r.returncode == 2
    line = one_error_line(r.stderr)
    assert line.startswith("groundseg: error: control plane: ") and "no CURVE keypair" in line
    assert "groundseg keys init" in line
    assert port_is_free(mport)  # the exporter that started before it was closed again


def test_a_taken_metrics_port_is_one_line_and_exit_3(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run_station(tmp_path, base_toml(tmp_path, f'[metrics]\naddress = "127.0.0.1:{port}"'))
    assert r.returncode == 3
    assert one_error_line(r.stderr).startswith("groundseg: error: metrics: ")


def test_a_taken_control_endpoint_is_one_line_and_exit_3(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        extra = "\n".join(["[control]", 'security = "plain"', f'endpoint = "tcp://127.0.0.1:{port}"',
                           f'pub_endpoint = "tcp://127.0.0.1:{free_port()}"'])
        r = run_station(tmp_path, base_toml(tmp_path, extra))
    assert r.returncode == 3
    assert one_error_line(r.stderr).startswith("groundseg: error: control plane: ")


def test_an_outbox_that_cannot_be_created_is_one_line(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the outbox directory should be")
    extra = "\n".join(["[gateway]", f'outbox = "{blocker}/outbox.sqlite"', "[[gateway.sinks]]", 'name = "a"',
                       'kind = "file"', f'url = "file://{tmp_path}/archive"'])
    r = run_station(tmp_path, base_toml(tmp_path, extra))
    assert r.returncode == 1
    assert one_error_line(r.stderr).startswith("groundseg: error: gateway: cannot start: ")


def test_a_bad_configuration_exits_2_before_anything_starts(tmp_path):
    r = run_station(tmp_path, base_toml(tmp_path, "[uplink]\nmin_el_deg = 120.0\n[gateway]\nfsync = \"maybe\""))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "uplink.min_el_deg" in r.stderr and "gateway.fsync" in r.stderr
    assert not (tmp_path / "work").exists()


def test_components_without_a_section_are_not_started(tmp_path):
    r = run_station(tmp_path, base_toml(tmp_path), "--passes", "1")
    assert r.returncode == 1 and "no pass was flown" in r.stderr, r.stderr  # no task: nothing to fly
    state = tmp_path / "work" / "state"
    assert (state / "schedule.sqlite3").exists()
    assert not (state / "gateway").exists() and not (state / "uplink").exists() and not (state / "keys").exists()
    assert "metrics: serving" not in r.stderr and "control plane: requests" not in r.stderr


# --- everything on, SIGTERM mid-pass ---------------------------------------------------------------------

def test_sigterm_mid_pass_stops_the_pass_parks_the_rotator_and_closes_everything(tmp_path):
    from groundseg.control.client import Client
    from groundseg.schedule import PassState, ScheduleStore

    mport = free_port()
    extra = "\n".join([
        "[metrics]", f'address = "127.0.0.1:{mport}"',
        "[gateway]", 'fsync = "normal"', "[[gateway.sinks]]", 'name = "archive"', 'kind = "file"',
        f'url = "file://{tmp_path}/archive"',
        "[uplink]", "transmit_enabled = false",
        "[uplink.sdr]", 'kind = "file"', f'path = "{tmp_path}/uplink-iq"'])
    st = SimStation(tmp_path, security="plain", extra_sections=extra)
    norad, tx = DEFAULT_SAT
    p = next_pass(norad, time.time(), min_el_deg=40.0)
    st.write_config(task=st.pass_task(norad, tx, p, 90.0))
    setup = p.tca_unix_s - 90.0 - 60.0
    from groundseg.control.testing import DaemonProcess

    st.daemon = DaemonProcess(st.config, tmp_path / "work", tmp_path / "daemon.log", start_unix_s=setup - 30.0,
                              speed=10.0, extra=("--json",))
    try:
        with Client(st.endpoint, None, timeout_s=2.0, retries=0) as c:
            st.daemon.wait_ready(c, 180.0)
            assert c.request("gateway.status")["sinks"]["archive"]["kind"] == "file"
            assert c.request("uplink.list") == {"telecommands": []}
        text = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10).read().decode()
        assert 'groundseg_gateway_queue_depth{sink="archive"}' in text
        assert "groundseg_control_replies_total" in text   # the control plane's counters, through the metrics

        def events():
            out = []
            for line in st.daemon.log().splitlines():
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
            return out

        end = time.monotonic() + 180
        while time.monotonic() < end:
            evs = events()
            if sum(1 for e in evs if e["topic"] == "frame") >= 1 and any(
                    e["topic"] == "pass.state" and e["state"] == "in-pass" for e in evs):
                break
            assert st.daemon.alive(), st.daemon.log()[-3000:]
            time.sleep(0.2)
        else:
            pytest.fail("the pass never got under way:\n" + st.daemon.log()[-3000:])
        st.daemon.proc.send_signal(signal.SIGTERM)
        rc = st.daemon.proc.wait(120)
    finally:
        st.stop()
    log = st.daemon.log()
    assert rc == 0, log[-3000:]
    evs = events()
    pid = next(e["pass_id"] for e in evs if e["topic"] == "pass.state" and e["state"] == "in-pass")
    assert any(e["topic"] == "rotator" and e.get("kind") == "parked" and e["pass_id"] == pid for e in evs)
    assert any(e["topic"] == "radio" and e.get("state") == "stopped" and e["pass_id"] == pid for e in evs)
    report = next(e for e in evs if e["topic"] == "pass.report" and e["pass_id"] == pid)
    assert report["state"] == "interrupted" and report["reason"] == "received SIGTERM"
    assert [e["state"] for e in evs if e["topic"] == "station.state"][-2:] == ["stopping", "stopped"]
    store = ScheduleStore(tmp_path / "work" / "state" / "schedule.sqlite3")
    try:
        rec = store.get_pass(pid)
        assert rec.state is PassState.INTERRUPTED and store.no_replan_passes() == []  # a stop, not an abort
    finally:
        store.close()
    # every frame of the pass reached the outbox; the outbox was closed (WAL checkpointed into the database)
    outbox = tmp_path / "work" / "state" / "gateway" / "outbox.sqlite"
    assert outbox.exists() and not pathlib.Path(str(outbox) + "-wal").exists()
    db = sqlite3.connect(outbox)
    try:
        n_outbox = db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    finally:
        db.close()
    stored = (tmp_path / "work" / "passes" / pid / "frames.jsonl").read_text().splitlines()
    assert n_outbox == len(stored) >= 1
    assert port_is_free(mport)
