"""Faults against the daemon process itself (``groundseg station --simulate`` as a subprocess).

The in-process fault tests (``test_faults.py``) reach inside the flowgraph; this one only uses what an
operator has: the command line, its JSON event stream and exit code, the state directory.

A recording shorter than every pass (20 s of IQ played for passes of several minutes): each pass
ends its signal early, is completed with that reason, parks the rotator and releases its flowgraph, and
the next pass still runs; the daemon exits 0 after the passes asked for.
"""
from __future__ import annotations

import json
import os
import re
import pathlib
import subprocess
import sys

import numpy as np

from groundseg.schedule import PassState, ScheduleStore
from groundseg.storage.recording import Capture, write_sigmf_meta

from test_executor import passes, write_config

ROOT = pathlib.Path(__file__).resolve().parents[1]
FS = 32000.0
RECORDING_S = 20.0
LEAD_S = 60.0        # write_config's [executor] lead_s


def test_a_recording_shorter_than_the_passes_ends_each_pass_with_the_reason_and_the_next_runs(tmp_path):
    p1, p2 = passes(20.0)[:2]
    windows = [(p.aos_unix_s - 60.0, p.aos_unix_s + 90.0) for p in (p1, p2)]
    config = write_config(tmp_path, windows, iq=False)
    rng = np.random.default_rng(3)
    n = int(RECORDING_S * FS)
    iq = (0.05 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(np.complex64)
    data = tmp_path / "short.sigmf-data"
    iq.tofile(data)
    write_sigmf_meta(data, samp_rate_sps=FS, captures=[Capture(0, p1.aos_unix_s, 145.935e6)])

    cmd = [sys.executable, "-m", "groundseg.cli", "station", "--config", str(config), "--simulate",
           "--speed", "30", "--start", repr(p1.aos_unix_s - 300.0), "--passes", "2",
           "--workdir", str(tmp_path / "work"), "--recording", str(tmp_path / "short.sigmf-meta"), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=500, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr[-3000:]
    events = [json.loads(line) for line in out.stdout.splitlines()]
    summaries = [e for e in events if e["topic"] == "summary"]
    assert len(summaries) == 2 and summaries[0]["pass_id"] != summaries[1]["pass_id"]

    store = ScheduleStore(tmp_path / "work" / "state" / "schedule.sqlite3")
    try:
        for s in summaries:
            pid = s["pass_id"]
            rec = store.get_pass(pid)
            assert rec.state is PassState.COMPLETED, (pid, rec.reason)
            # the reason says the signal ended early, and by how much (about the pass minus 20 s)
            m = re.search(r"the signal \(a file\) ended (\d+) s before the pass did", rec.reason)
            assert m, rec.reason
            # the file starts with the flowgraph, LEAD_S before the observed span
            assert abs(int(m.group(1)) - (rec.end_unix_s - rec.start_unix_s + LEAD_S - RECORDING_S)) < 10, rec.reason
            mine = [e for e in events if e.get("pass_id") == pid]
            assert any(e["topic"] == "rotator" and e.get("kind") == "parked" for e in mine)
            radio = [e for e in mine if e["topic"] == "radio"]
            started = [e["pid"] for e in radio if e.get("state") == "starting"]
            assert started and radio[-1].get("state") in ("stopped", "done")
            for child in started:  # the flowgraph that held the "SDR" is gone
                assert not pathlib.Path(f"/proc/{child}").exists() or \
                    pathlib.Path(f"/proc/{child}/status").read_text().find("State:\tZ") >= 0
    finally:
        store.close()
