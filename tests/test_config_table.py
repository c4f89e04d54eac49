"""`groundseg config check` on the production example and on a table of broken variants of it.

Each broken variant must be rejected with exit code 2 and one line per
problem, each naming its key path; never a traceback. The command is run as
an operator runs it (a process of its own), so the check sees exactly the
sections the installed command registers.
"""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "groundseg.example.toml"
TEXT = EXAMPLE.read_text()


def check(path: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable, "-m", "groundseg.cli", "config", "check", str(path)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def variant(*edits: tuple[str, str]) -> str:
    """The example with each (old, new) replaced exactly once."""
    text = TEXT
    for old, new in edits:
        assert text.count(old) == 1, f"the example no longer contains exactly one {old!r}"
        text = text.replace(old, new)
    return text


def test_the_production_example_passes_and_is_documented():
    r = check(EXAMPLE)
    assert r.returncode == 0, r.stderr
    assert "ok: station 'gs-example-1'" in r.stdout and "2 chain(s), 1 rotator(s), 2 task(s)" in r.stdout
    doc = tomllib.loads(TEXT)
    # what a real station needs is all there
    assert {"station", "storage", "orbit", "planner", "executor", "rotators", "chains", "control", "metrics",
            "gateway", "logging", "tasks"} <= set(doc)
    assert doc["rotators"][0]["device"].startswith("/dev/serial/by-id/")
    assert doc["control"]["security"] == "curve" and doc["control"]["keys_dir"].startswith("/etc/groundseg/")
    assert doc["storage"]["retention_days"] > doc["storage"]["iq_retention_days"] > 0
    assert doc["storage"]["state_dir"] == "/var/lib/groundseg"          # the unit's StateDirectory=
    assert {s["kind"] for s in doc["gateway"]["sinks"]} == {"sids", "mqtt"}
    # the sink kinds it lists are the registry's, every one of them
    from groundseg.gateway.sinks import SINKS

    listed = re.search(r"# one of: ([a-z_, ]+)", TEXT).group(1).split(", ")
    assert listed == sorted(SINKS.names())
    assert doc["storage"]["min_free_mb"] > 0
    # fully commented: each key line has a comment of its own or sits under a comment paragraph
    lines = TEXT.splitlines()
    key = re.compile(r"^[a-z_]+ = ")
    for i, line in enumerate(lines):
        if key.match(line) and "#" not in line:
            j = i - 1
            while j >= 0 and key.match(lines[j]):
                j -= 1
            assert j >= 0 and lines[j].startswith("#"), f"line {i + 1} has no comment: {line}"


# (id, broken example, [(key path, message) ...]): every problem one line
BAD = [
    ("latitude out of range", variant(("lat_deg = 49.73145", "lat_deg = 97.5")),
     [("station.lat_deg", "97.5 is outside [-90, 90]")]),
    ("longitude as text", variant(("lon_deg = 8.95564", 'lon_deg = "8.95564E"')),
     [("station.lon_deg", "expected a number, got a string '8.95564E'")]),
    ("station name missing", variant(('\nname = "gs-example-1"', "\n")),
     [("station.name", "missing (required)")]),
    ("horizon mask point", variant(("[300.0, 8.0]", "[300.0]")),
     [("station.horizon_mask[5]", "expected [az_deg, el_deg], got [300.0]")]),
    ("chain frequency range reversed", variant(("freq_max_hz = 438.0e6", "freq_max_hz = 433.0e6")),
     [("chains[0].freq_max_hz", "4.33e+08 is not above freq_min_hz 4.35e+08")]),
    ("chain without SDR arguments", variant(('sdr_args = "rtl=GS1-UHF0"', 'sdr_args = "  "')),
     [("chains[0].sdr_args", "must not be empty")]),
    ("chain on an unknown rotator", variant(('rotator = "az-el-1"           # on the tracked UHF yagi',
                                             'rotator = "az-el-2"')),
     [("chains[0].rotator", "'az-el-2' is not a [[rotators]] name (az-el-1)")]),
    ("rotator protocol", variant(('protocol = "gs232b"', 'protocol = "gs-232b"')),
     [("rotators[0]", "unknown rotator protocol 'gs-232b'")]),
    ("rotator key typo", variant(("baud = 9600", "baudrate = 9600")),
     [("rotators[0]", "unknown key(s) baudrate")]),
    ("control endpoint", variant(('endpoint = "tcp://0.0.0.0:5555"', 'endpoint = "0.0.0.0:5555"')),
     [("control.endpoint", "'0.0.0.0:5555' is not a ZeroMQ endpoint")]),
    ("plain control off loopback", variant(('security = "curve"', 'security = "plain"')),
     [("control.endpoint", "plain (unauthenticated) mode is only allowed on ipc:// or loopback"),
      ("control.pub_endpoint", "plain (unauthenticated) mode is only allowed on ipc:// or loopback")]),
    ("metrics address", variant(('address = "127.0.0.1:9108"', 'address = "9108"')),
     [("metrics.address", "'9108' is not host:port")]),
    ("sink without a kind", variant(('kind = "sids"                 # one of: file, kiss_server, mqtt, sids, zmq_pub\n', "")),
     [("gateway.sinks[0].kind", "missing (required)")]),
    ("retention negative", variant(("retention_days = 90", "retention_days = -1")),
     [("storage.retention_days", "-1 is outside [0, 36500]")]),
    ("IQ kept longer than its pass", variant(("iq_retention_days = 7", "iq_retention_days = 120")),
     [("storage.iq_retention_days", "120 is longer than retention_days 90")]),
    ("storage path type", variant(('state_dir = "/var/lib/groundseg"', "state_dir = 1")),
     [("storage.state_dir", "expected a string, got an integer 1")]),
    ("executor Doppler period", variant(("doppler_interval_s = 0.5", "doppler_interval_s = 2.0")),
     [("executor.doppler_interval_s", "2 is outside [0.05, 1]")]),
    ("log level", variant(('level = "info"', 'level = "verbose"')),
     [("logging.level", "'verbose' is not one of debug, info, warning, error")]),
    ("unknown section", TEXT + "\n[weather]\nrain = true\n",
     [("weather", "unknown section")]),
    ("task window in local time", variant(('id = "duchifat-3"', 'id = "duchifat-3"\nwindow_start = 2026-01-01T00:00:00')),
     [("tasks[1].window_start", "expected a UTC date-time, got a local date-time (add Z for UTC)")]),
    ("many problems at once", variant(("lat_deg = 49.73145", "lat_deg = 97.5"),
                                      ("freq_max_hz = 438.0e6", "freq_max_hz = 433.0e6"),
                                      ('address = "127.0.0.1:9108"', 'address = "9108"'),
                                      ("baud = 9600", "baudrate = 9600"),
                                      ("retention_days = 90", "retention_days = -1"),
                                      ('level = "info"', 'level = "verbose"'),
                                      ("min_pass_duration_s = 120.0", "min_pass_duration_s = 120.0\nmin_pass_s = 1")),
     [("station.lat_deg", "97.5 is outside"), ("chains[0].freq_max_hz", "is not above freq_min_hz"),
      ("metrics.address", "is not host:port"), ("rotators[0]", "unknown key(s) baudrate"),
      ("storage.retention_days", "-1 is outside"), ("logging.level", "'verbose' is not one of"),
      ("planner.min_pass_s", "unknown key")]),
]


@pytest.mark.parametrize("text,expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_configurations_are_rejected_one_line_per_problem(tmp_path, text, expected):
    p = tmp_path / "station.toml"
    p.write_text(text)
    r = check(p)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.rstrip("\n").split("\n")
    n = len(expected)
    assert lines[0] == f"groundseg: error: {p}: {n} problem{'s' if n > 1 else ''}:", r.stderr
    problems = [ln.strip() for ln in lines[1:]]
    assert len(problems) == n, r.stderr                  # one line per problem, nothing else
    for key, msg in expected:
        hits = [ln for ln in problems if ln.startswith(f"{key}: ") and msg in ln]
        assert len(hits) == 1, (key, msg, r.stderr)       # each problem once, with its key path


def test_syntax_error_is_one_line_with_its_position(tmp_path):
    p = tmp_path / "station.toml"
    p.write_text(TEXT.replace('[metrics]', '[metrics', 1))
    r = check(p)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"groundseg: error: {p}: not valid TOML: ") and "line" in r.stderr


def test_missing_file(tmp_path):
    r = check(tmp_path / "nope.toml")
    assert r.returncode == 2 and r.stderr.strip() == f"groundseg: error: {tmp_path / 'nope.toml'}: cannot read: " \
                                                      "No such file or directory"
