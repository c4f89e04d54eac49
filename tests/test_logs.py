"""Structured logs: one line per event, key=value or JSON, pass/task ids, journald mode, station events."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import pathlib
from dataclasses import dataclass, field

import pytest

from groundseg import config as C
from groundseg import logs as L
from groundseg.errors import InputError

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    logging.captureWarnings(False)


def capture(level="debug", fmt="kv", journal=False) -> io.StringIO:
    buf = io.StringIO()
    L.setup_logging(level, fmt, stream=buf, journal=journal)
    return buf


_KV = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?:\s+|$)')


def kv_parse(line: str) -> dict[str, str]:
    """Parse one key=value line (values bare or JSON-quoted) back into a dict; the whole line must parse."""
    out, pos = {}, 0
    while pos < len(line):
        m = _KV.match(line, pos)
        assert m, f"not key=value at {pos}: {line!r}"
        k, v = m.groups()
        out[k] = json.loads(v) if v.startswith('"') else v
        pos = m.end()
    return out


def test_one_line_per_event_with_fields_and_context():
    buf = capture()
    lg = logging.getLogger("groundseg.test")
    with L.log_context(pass_id="p-39444-0001", task_id="funcube-1"):
        lg.info("pass %s started", "p-39444-0001", extra={"freq_hz": 145935000.0, "note": 'a "quoted" = b'})
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            lg.exception("decoder failed\non two lines")
    lg.warning("outside any pass")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3                      # a traceback and a newline never split an event
    first = kv_parse(lines[0])
    assert list(first)[:6] == ["ts", "level", "logger", "msg", "pass_id", "task_id"]
    assert first["level"] == "info" and first["logger"] == "groundseg.test"
    assert first["msg"] == "pass p-39444-0001 started"
    assert first["pass_id"] == "p-39444-0001" and first["task_id"] == "funcube-1"
    assert first["freq_hz"] == "145935000.0" and first["note"] == 'a "quoted" = b'
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    second = kv_parse(lines[1])
    assert second["level"] == "error" and second["msg"] == "decoder failed\non two lines"
    assert second["exc"].startswith("Traceback") and "ValueError: bad\nthing" in second["exc"]
    third = kv_parse(lines[2])
    assert "pass_id" not in third and "task_id" not in third   # the context ended


def test_bound_logger_and_extra_ids_work_across_threads():
    import threading

    buf = capture()
    lg = L.bind("groundseg.test", pass_id="p-2", task_id="t-2")
    t = threading.Thread(target=lambda: lg.info("from the rotator thread", extra={"az_deg": 181.5}))
    t.start()
    t.join()
    logging.getLogger("groundseg.test").info("explicit", extra={"pass_id": "p-3"})
    a, b = (kv_parse(x) for x in buf.getvalue().splitlines())
    assert (a["pass_id"], a["task_id"], a["az_deg"]) == ("p-2", "t-2", "181.5")
    assert b["pass_id"] == "p-3" and "task_id" not in b


def test_json_lines():
    buf = capture(fmt="json")
    with L.log_context(pass_id="p-1"):
        logging.getLogger("groundseg.x").warning("über %d", 3, extra={"counts": {"frames": 4}})
    rec = json.loads(buf.getvalue())
    assert buf.getvalue().count("\n") == 1
    assert rec == {**{k: rec[k] for k in ("ts",)}, "level": "warning", "logger": "groundseg.x", "msg": "über 3",
                   "pass_id": "p-1", "counts": {"frames": 4}}


def test_journal_mode_has_priorities_and_no_timestamps():
    buf = capture(journal=True)
    lg = logging.getLogger("groundseg.j")
    lg.debug("d")
    lg.info("i")
    lg.warning("w")
    lg.error("e")
    lg.critical("c")
    lines = buf.getvalue().splitlines()
    assert [ln[:3] for ln in lines] == ["<7>", "<6>", "<4>", "<3>", "<2>"]
    assert all("ts=" not in ln for ln in lines)
    assert kv_parse(lines[2][3:])["msg"] == "w"


def test_level_filtering_and_bad_settings():
    buf = capture(level="warning")
    logging.getLogger("groundseg.f").info("hidden")
    logging.getLogger("groundseg.f").warning("shown")
    assert [kv_parse(x)["msg"] for x in buf.getvalue().splitlines()] == ["shown"]
    with pytest.raises(InputError, match="log level 'loud' is not one of debug, info, warning, error"):
        L.setup_logging("loud")
    with pytest.raises(InputError, match="log format 'xml' is not one of kv, json"):
        L.setup_logging("info", "xml")


def test_setup_twice_keeps_one_handler(monkeypatch):
    a, b = io.StringIO(), io.StringIO()
    L.setup_logging("info", stream=a, journal=False)
    L.setup_logging("info", stream=b, journal=False)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_groundseg", False)]
    assert len(ours) == 1
    logging.getLogger("groundseg.t").info("once")
    assert a.getvalue() == "" and b.getvalue().count("msg=once") == 1


def test_environment_defaults(monkeypatch):
    monkeypatch.setenv("GROUNDSEG_LOG_LEVEL", "error")
    monkeypatch.setenv("GROUNDSEG_LOG_FORMAT", "json")
    buf = io.StringIO()
    L.setup_logging(L.LoggingSection(), stream=buf, journal=False)   # a [logging] section without keys
    logging.getLogger("groundseg.e").warning("no")
    logging.getLogger("groundseg.e").error("yes")
    assert [json.loads(x)["msg"] for x in buf.getvalue().splitlines()] == ["yes"]
    buf2 = io.StringIO()
    L.setup_logging(L.LoggingSection(level="info", format="kv"), stream=buf2, journal=False)  # the file wins
    logging.getLogger("groundseg.e").info("kv line")
    assert kv_parse(buf2.getvalue())["msg"] == "kv line"


def test_journal_stream_is_detected_only_for_the_named_stream(tmp_path):
    f = open(tmp_path / "stream", "w")
    other = open(tmp_path / "other", "w")
    try:
        st = os.fstat(f.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert L.under_journal(f, env)
        assert not L.under_journal(other, env)       # stderr redirected elsewhere: not the journal
        assert not L.under_journal(f, {})
        assert not L.under_journal(f, {"JOURNAL_STREAM": "garbage"})
        assert not L.under_journal(io.StringIO(), env)
    finally:
        f.close()
        other.close()


def test_a_process_started_by_systemd_logs_for_the_journal():
    """stderr is the stream systemd named in JOURNAL_STREAM: no timestamps, <N> priorities."""
    r, w = os.pipe()
    st = os.fstat(w)
    env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    env.pop("GROUNDSEG_LOG_FORMAT", None)
    env.pop("GROUNDSEG_LOG_LEVEL", None)
    code = ("import logging; from groundseg.logs import setup_logging, log_context; setup_logging()\n"
            "with log_context(pass_id='p-9', task_id='t-9'):\n"
            "    logging.getLogger('groundseg.station').warning('rotator slow')\n")
    p = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, stderr=w, timeout=120)
    os.close(w)
    with os.fdopen(r) as fh:
        out = fh.read()
    assert p.returncode == 0
    assert out == "<4>level=warning logger=groundseg.station msg=\"rotator slow\" pass_id=p-9 task_id=t-9\n"


# --- the [logging] section -------------------------------------------------------------------------

MINIMAL = """
[station]
name = "s"
lat_deg = 10.0
lon_deg = 20.0

[[chains]]
name = "uhf0"
sdr_args = "rtl=0"
freq_min_hz = 430e6
freq_max_hz = 440e6
"""


def test_logging_section(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(MINIMAL + '[logging]\nlevel = "debug"\nformat = "json"\n')
    assert C.load_config(p).section("logging") == L.LoggingSection("debug", "json")
    p.write_text(MINIMAL)
    assert C.load_config(p).section("logging") == L.LoggingSection(None, None)
    p.write_text(MINIMAL + '[logging]\nlevel = "loud"\nformat = 1\ncolour = true\n')
    with pytest.raises(InputError) as ei:
        C.load_config(p)
    msg = str(ei.value)
    assert "3 problems" in msg
    assert "logging.level: 'loud' is not one of debug, info, warning, error" in msg
    assert "logging.format: expected a string, got an integer 1" in msg
    assert "logging.colour: unknown key" in msg


# --- station events --------------------------------------------------------------------------------------

@dataclass
class Ev:
    topic: str
    data: dict = field(default_factory=dict)
    seq: int = 1
    t_unix_s: float = 0.0


def test_station_events_become_log_lines():
    buf = capture(level="info")
    looked_up = []

    def task_of(pid):
        looked_up.append(pid)
        if pid == "p-bad":
            raise KeyError(pid)
        return {"p-1": "funcube-1"}.get(pid)

    on = L.event_logger(task_of=task_of)
    on(Ev("pass.state", {"pass_id": "p-1", "state": "running", "reason": "", "norad": 39444}, seq=5))
    on(Ev("frame", {"pass_id": "p-1", "norad": 39444,
                    "record": {"hex": "c0ffee00", "crc_ok": True, "transmitter": "1k2 BPSK downlink",
                               "info": "long text", "ax25": {"src": "X"}}}, seq=6))
    on(Ev("doppler", {"pass_id": "p-1", "doppler_hz": -1234.5}, seq=7))          # debug: filtered at info
    on(Ev("rotator", {"pass_id": "p-1", "kind": "failure", "rotator": "az-el-1"}, seq=8))
    on(Ev("error", {"pass_id": "p-bad", "where": "executor", "message": "boom\nline 2"}, seq=9))
    on(Ev("plan", {"plan_rev": 3, "planned": 7, "next": [{"pass_id": "p-2"}]}, seq=10))
    lines = [kv_parse(x) for x in buf.getvalue().splitlines()]
    assert [ln["msg"] for ln in lines] == ["pass.state", "frame", "rotator", "error", "plan"]
    assert [ln["level"] for ln in lines] == ["info", "info", "warning", "error", "info"]
    st, fr, rot, err, plan = lines
    assert (st["pass_id"], st["task_id"], st["state"], st["seq"]) == ("p-1", "funcube-1", "running", "5")
    assert fr["bytes"] == "4" and fr["crc_ok"] == "true" and "hex" not in fr and "info" not in fr
    assert fr["task_id"] == "funcube-1" and "ax25" not in fr
    assert rot["rotator"] == "az-el-1"
    assert err["pass_id"] == "p-bad" and "task_id" not in err and err["message"] == "boom\nline 2"
    assert plan["planned"] == "7" and "next" not in plan
    assert looked_up == ["p-1", "p-bad"]       # once per pass
