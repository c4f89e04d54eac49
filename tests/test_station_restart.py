"""Kill the station mid-pass (SIGKILL), restart it: the store is intact, the pass is marked
interrupted, the flowgraph it left is gone, the frames it reported are kept, and the next pass runs.

The station runs as ``groundseg station --simulate`` in a subprocess (simulated time at 30x,
synthetic FUNcube-1 IQ from the seed TLE, GS-232B emulator on a pty), printing its events as JSON.
"""
from __future__ import annotations

import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from groundseg.schedule import PassState, ScheduleStore
from groundseg.storage import artifacts as art

from test_executor import passes, write_config

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _station(config, workdir, start, passes_n):
    cmd = [sys.executable, "-m", "groundseg.cli", "station", "--config", str(config), "--simulate", "--speed", "30",
           "--start", repr(start), "--passes", str(passes_n), "--workdir", str(workdir), "--json",
           "--sim-samp-rate", "32000"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _gone(pid: int, timeout_s: float = 15.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_kill_mid_pass_and_restart(tmp_path):
    p1, p2 = passes(20.0)[:2]
    windows = [(p1.aos_unix_s - 60.0, p1.aos_unix_s + 125.0), (p2.aos_unix_s - 60.0, p2.aos_unix_s + 125.0)]
    # a remainder shorter than 120 s is not worth re-planning: after the restart the next pass is p2
    config = write_config(tmp_path, windows, min_pass_s=120.0, iq=False)
    work = tmp_path / "work"

    first = _station(config, work, p1.aos_unix_s - 1800.0, 0)
    events, frames, child_pids = [], [], []
    killed_at = None
    watchdog = threading.Timer(240.0, first.kill)
    watchdog.start()
    try:
        for line in first.stdout:
            ev = json.loads(line)
            events.append(ev)
            if ev["topic"] == "radio" and ev.get("state") == "starting":
                child_pids.append(ev["pid"])
            if ev["topic"] == "frame":
                frames.append(ev["record"])
                if len(frames) >= 2 and any(e["topic"] == "pass.state" and e["state"] == "in-pass" for e in events):
                    first.send_signal(signal.SIGKILL)
                    killed_at = ev["t_unix_s"]
                    break
    finally:
        watchdog.cancel()
        first.wait(timeout=30)
    assert killed_at is not None, first.stderr.read()[-2000:]
    assert first.returncode == -signal.SIGKILL
    pass1 = next(e["pass_id"] for e in events if e["topic"] == "pass.state" and e["state"] == "in-pass")

    # the flowgraph does not outlive the station (it holds the SDR)
    assert child_pids and all(_gone(pid) for pid in child_pids)

    # the database survived the kill
    db = work / "state" / "schedule.sqlite3"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    store = ScheduleStore(db)
    assert store.get_pass(pass1).state is PassState.IN_PASS  # as the station left it
    assert {t.task_id for t in store.active_tasks()} == {"fc-0", "fc-1"}
    store.close()

    # every frame reported before the kill is stored, in both files
    d = work / "passes" / pass1
    stored = art.read_frames(d)
    assert [f["hex"] for f in stored][: len(frames)] == [f["hex"] for f in frames]
    assert [bytes.fromhex(f["hex"]) for f in stored] == art.read_kiss_frames(d)

    # restart where the station died
    second = _station(config, work, killed_at + 1.0, 1)
    try:
        out, err = second.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        second.kill()
        out, err = second.communicate()
        pytest.fail("the restarted station did not finish: " + err[-2000:])
    assert second.returncode == 0, err[-3000:]
    evs = [json.loads(line) for line in out.splitlines()]

    store = ScheduleStore(db)
    try:
        rec1 = store.get_pass(pass1)
        assert rec1.state is PassState.INTERRUPTED
        assert "restarted" in rec1.reason and "in-pass" in rec1.reason
        assert [e["to_state"] for e in store.events(pass1)] == ["planned", "pre-pass", "in-pass", "interrupted"]
        flown = [e for e in evs if e["topic"] == "summary"]
        assert len(flown) == 1 and flown[0]["pass_id"] != pass1
        rec2 = store.get_pass(flown[0]["pass_id"])
        assert rec2.task_id == "fc-1" and rec2.state is PassState.COMPLETED
        assert [e["to_state"] for e in store.events(rec2.pass_id)] == [
            "planned", "pre-pass", "in-pass", "post-pass", "completed"]
        assert flown[0]["counts"]["frames"] >= 10
        assert flown[0]["simulation"]["decoded_in_view"] >= 0.9 * flown[0]["simulation"]["in_view"]
        # nothing of the interrupted pass was re-planned or re-flown
        assert [p.task_id for p in store.passes() if p.state is PassState.COMPLETED] == ["fc-1"]
    finally:
        store.close()
    assert any(e["topic"] == "pass.state" and e["pass_id"] == pass1 and e["state"] == "interrupted" for e in evs)
