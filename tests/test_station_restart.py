"""Kill the station mid-pass (SIGKILL), restart it: no frame lost, the store is intact.

The station runs as ``groundseg station --simulate`` in a subprocess (simulated time at 30x,
synthetic FUNcube-1 IQ from the seed TLE, GS-232B emulator on a pty) with a control plane (plain, on
ipc://) and a gateway whose only sink, a file archive, cannot deliver during the first run (its
directory's parent is a regular file). The frames are read from the control plane's PUB socket, the
way an operator sees them. After SIGKILL mid-pass: every frame seen on the event stream is in the
pass's ``frames.jsonl``, in its ``frames.kiss`` and, pending, in the gateway outbox; both databases pass
``PRAGMA integrity_check``; the pass is left in-pass and the flowgraph it left is gone. Then the sink's
way is cleared and the station restarted on the same state: the pass is marked interrupted, the next
pass runs, and the outbox delivers every frame, each once (same idempotent ids on both sides).

The restart runs without the control plane: a daemon with one does not jump over idle simulated time
(``run_station``: no ``--skip-idle`` flag yet) and the next pass is an orbit away.
"""
from __future__ import annotations

import collections
import json
import os
import pathlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from groundseg.control.client import Subscriber
from groundseg.gateway.outbox import record_frame_id
from groundseg.schedule import PassState, ScheduleStore
from groundseg.storage import artifacts as art

from test_executor import passes, write_config

ROOT = pathlib.Path(__file__).resolve().parents[1]
STATION_ID = "test-warsaw"   # [station] name in write_config: part of every frame id
SINK = "archive"


def _station(config, workdir, start, passes_n, out=None):
    cmd = [sys.executable, "-m", "groundseg.cli", "station", "--config", str(config), "--simulate", "--speed", "30",
           "--start", repr(start), "--passes", str(passes_n), "--workdir", str(workdir), "--json",
           "--sim-samp-rate", "32000"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if out is None:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    return subprocess.Popen(cmd, stdout=out[0], stderr=out[1], text=True, env=env, cwd=ROOT)


def _gone(pid: int, timeout_s: float = 15.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _read_only(db: pathlib.Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    return con


def _outbox_rows(db: pathlib.Path) -> dict[str, dict]:
    """{frame id: {data, pass_id, state of the sink's delivery}} of the gateway outbox, opened read-only."""
    con = _read_only(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT f.id, f.data, f.pass_id, d.state FROM frames f "
                           "LEFT JOIN deliveries d ON d.seq = f.seq AND d.sink = ?", (SINK,)).fetchall()
    finally:
        con.close()
    return {r["id"]: {"data": bytes(r["data"]), "pass_id": r["pass_id"], "state": r["state"]} for r in rows}


def test_kill_mid_pass_and_restart(tmp_path):
    p1, p2 = passes(20.0)[:2]
    windows = [(p1.aos_unix_s - 60.0, p1.aos_unix_s + 125.0), (p2.aos_unix_s - 60.0, p2.aos_unix_s + 125.0)]
    # a remainder shorter than 120 s is not worth re-planning: after the restart the next pass is p2
    base = write_config(tmp_path, windows, min_pass_s=120.0, iq=False)
    blocker = tmp_path / "sink-blocker"           # a regular file: the sink cannot create <blocker>/frames
    blocker.write_text("not a directory\n")
    gateway = textwrap.dedent(f"""
        [gateway]
        fsync = "full"
        retry_initial_s = 0.2
        retry_max_s = 1.0

        [[gateway.sinks]]
        name = "{SINK}"
        kind = "file"
        url = "file://{blocker / 'frames'}"
        """)
    sock_dir = pathlib.Path(tempfile.mkdtemp(prefix="gs-rst-", dir="/tmp"))  # ipc:// paths are short
    control = textwrap.dedent(f"""
        [control]
        endpoint = "ipc://{sock_dir / 'ctl'}"
        pub_endpoint = "ipc://{sock_dir / 'pub'}"
        security = "plain"
        """)
    text = base.read_text() + gateway
    config = tmp_path / "station-control.toml"
    config.write_text(text + control)
    restart_config = tmp_path / "station-restart.toml"
    restart_config.write_text(text)
    work = tmp_path / "work"
    outbox_db = work / "state" / "gateway" / "outbox.sqlite"

    # --- first run: watched on the control plane's event stream, killed after two frames in-pass
    # (it starts 300 s before AOS: with a control plane idle simulated time passes at 30x)
    events, frames = [], []   # frames: (record, norad) as published
    killed_at = None
    with open(tmp_path / "run1.out", "w") as so, open(tmp_path / "run1.err", "w") as se:
        first = _station(config, work, p1.aos_unix_s - 300.0, 0, out=(so, se))
        sub = Subscriber(f"ipc://{sock_dir / 'pub'}", topics=[""])
        try:
            deadline = time.monotonic() + 240.0
            while time.monotonic() < deadline and first.poll() is None:
                ev = sub.recv(timeout_s=1.0)
                if ev is None:
                    continue
                events.append(ev)
                if ev["topic"].startswith("frame"):
                    frames.append((ev["data"]["record"], ev["data"]["norad"]))
                    if len(frames) >= 2 and any(e["topic"] == "pass.state" and e["data"]["state"] == "in-pass"
                                                for e in events):
                        first.send_signal(signal.SIGKILL)
                        killed_at = ev["data"]["record"]["t_unix_s"]
                        break
        finally:
            sub.close()
            if first.poll() is None and killed_at is None:
                first.kill()
            first.wait(timeout=30)
            shutil.rmtree(sock_dir, ignore_errors=True)
    assert killed_at is not None, (tmp_path / "run1.err").read_text()[-2000:]
    assert first.returncode == -signal.SIGKILL
    pass1 = next(e["data"]["pass_id"] for e in events if e["topic"] == "pass.state"
                 and e["data"]["state"] == "in-pass")
    assert all(e["data"]["pass_id"] == pass1 for e in events if e["topic"].startswith("frame"))

    # the flowgraph does not outlive the station (it holds the SDR)
    printed = [json.loads(line) for line in (tmp_path / "run1.out").read_text().splitlines() if line.strip()]
    child_pids = {e["pid"] for e in printed if e["topic"] == "radio" and e.get("state") == "starting"}
    child_pids |= {e["data"]["pid"] for e in events if e["topic"] == "radio" and e["data"].get("state") == "starting"}
    assert child_pids and all(_gone(pid) for pid in child_pids)

    # the schedule database survived the kill
    db = work / "state" / "schedule.sqlite3"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    store = ScheduleStore(db)
    assert store.get_pass(pass1).state is PassState.IN_PASS  # as the station left it
    assert {t.task_id for t in store.active_tasks()} == {"fc-0", "fc-1"}
    store.close()

    # every frame seen on the event stream is stored, in both files, in the order it was published
    d = work / "passes" / pass1
    stored = art.read_frames(d)
    assert [f["hex"] for f in stored][: len(frames)] == [r["hex"] for r, _ in frames]
    assert [bytes.fromhex(f["hex"]) for f in stored] == art.read_kiss_frames(d)

    # ... and in the outbox, durable, not delivered (the sink could not): the outbox takes each frame before
    # frames.jsonl does, so it holds every stored frame (and at most the one the kill cut short beyond)
    box = _outbox_rows(outbox_db)
    seen_ids = [record_frame_id(STATION_ID, r, n) for r, n in frames]
    for fid, (r, _) in zip(seen_ids, frames):
        assert fid in box, f"frame {r['hex'][:32]}... was published but is not in the outbox"
        assert box[fid]["data"].hex() == r["hex"] and box[fid]["pass_id"] == pass1
        assert box[fid]["state"] == "pending"
    stored_ids = {record_frame_id(STATION_ID, f, f.get("norad", frames[0][1])) for f in stored}
    assert stored_ids <= set(box) and len(box) <= len(stored_ids) + 1
    assert {v["state"] for v in box.values()} == {"pending"}
    assert not (blocker / "frames").exists()

    # --- restart where the station died, the sink's way cleared
    blocker.unlink()
    second = _station(restart_config, work, killed_at + 1.0, 1)
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

    # the outbox delivered everything it held, the first pass's frames and the second's, each once
    box2 = _outbox_rows(outbox_db)
    assert set(box) <= set(box2)
    assert {v["state"] for v in box2.values()} == {"done"}
    assert sum(v["pass_id"] == rec2.pass_id for v in box2.values()) == flown[0]["counts"]["frames"]
    archived = [json.loads(line) for p in sorted((blocker / "frames").glob("*.jsonl"))
                for line in p.read_text().splitlines()]
    ids = collections.Counter(m["id"] for m in archived)
    assert set(ids) == set(box2)            # every frame of the outbox, under the outbox's id
    assert max(ids.values()) == 1           # no crash during delivery: at-least-once came out exactly once
    by_id = {m["id"]: m for m in archived}
    for fid, (r, _) in zip(seen_ids, frames):
        assert by_id[fid]["hex"] == r["hex"] and by_id[fid]["pass_id"] == pass1
