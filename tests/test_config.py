"""Station configuration: the seed file, every error at once, malformed inputs, new sections."""
from __future__ import annotations

import dataclasses
import pathlib
import tomllib

import pytest

from groundseg import config as C
from groundseg.errors import InputError
from groundseg.registry import DuplicateRegistration, Registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "station.toml"

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


def load_text(tmp_path, text: str) -> C.StationConfig:
    p = tmp_path / "station.toml"
    p.write_text(text)
    return C.load_config(p)


def test_seed_station_file_is_valid():
    cfg = C.load_config(SEED)
    assert cfg.station.name == "demo-warsaw"
    assert [c.name for c in cfg.chains] == ["uhf0", "uhf1", "vhf0"]
    assert cfg.chain("vhf0").covers(145.935e6) and cfg.chain("vhf0").rotator is None
    assert cfg.rotators[0].name == "az-el-1"
    assert cfg.tle_paths() == [ROOT / "seeds" / "tle" / "catalog.tle"]
    gs, mask = cfg.ground_station(), cfg.horizon_mask()
    assert (gs.lat_deg, gs.lon_deg, gs.alt_m) == (52.2297, 21.0122, 110.0)
    assert mask.limit_deg(95.0) == pytest.approx(14.0) and mask.limit_deg(300.0) >= 3.0
    assert {t.task_id for t in cfg.tasks} >= {"duchifat-3", "funcube-1"}
    assert cfg.metrics.port == 9108 and cfg.control.endpoint.startswith("tcp://")


def test_defaults_and_relative_paths(tmp_path):
    cfg = load_text(tmp_path, MINIMAL)
    assert cfg.state_dir == tmp_path / "state" and cfg.artifacts_dir == tmp_path / "artifacts"
    assert cfg.planner.horizon_hours == 48.0 and cfg.orbit.stale_after_days == 7.0
    assert cfg.tasks == () and cfg.rotators == () and cfg.gateway.sinks == ()


def test_every_problem_is_reported_at_once(tmp_path):
    text = MINIMAL.replace("lat_deg = 10.0", 'lat_deg = "north"').replace("freq_max_hz = 440e6", "freq_max_hz = 1e5")
    text += '\n[metrics]\naddress = "nowhere"\n[orbit]\nstale_after_days = -1\ncolour = "red"\n[weather]\nrain = true\n'
    with pytest.raises(InputError) as ei:
        load_text(tmp_path, text)
    msg = str(ei.value)
    lines = msg.splitlines()
    assert lines[0].endswith("station.toml: 6 problems:")
    expected = ["station.lat_deg: expected a number, got a string 'north'",
                "chains[0].freq_max_hz: 100000 is outside [1e+06, 3e+11]",
                "metrics.address: 'nowhere' is not host:port",
                "orbit.stale_after_days: -1 is outside (0, 365]",
                "orbit.colour: unknown key",
                "weather: unknown section"]
    for e in expected:
        assert any(line.strip().startswith(e) for line in lines[1:]), (e, msg)


def _variant(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


BAD = [
    ("toml syntax", MINIMAL + "\n[station\n", "not valid TOML"),
    ("home of an unknown user", MINIMAL + '[storage]\nartifacts_dir = "~nosuchuser-groundseg/passes"\n',
     "storage.artifacts_dir: '~nosuchuser-groundseg/passes': ~nosuchuser-groundseg is not a user"),
    ("missing station", MINIMAL.split("[[chains]]")[0].replace("[station]", "[stationx]"), "station: missing section"),
    ("missing chains", MINIMAL.split("[[chains]]")[0], "chains: missing section"),
    ("chains not an array", "chains = 3\n" + MINIMAL.split("[[chains]]")[0], "chains: expected an array of tables"),
    ("missing name", _variant('name = "s"\n', ""), "station.name: missing (required)"),
    ("bool as number", _variant("lon_deg = 20.0", "lon_deg = true"), "station.lon_deg: expected a number, got a boolean"),
    ("latitude range", _variant("lat_deg = 10.0", "lat_deg = 91.0"), "station.lat_deg: 91 is outside [-90, 90]"),
    ("mask point shape", _variant('lon_deg = 20.0', 'lon_deg = 20.0\nhorizon_mask = [[10.0]]'),
     "station.horizon_mask[0]: expected [az_deg, el_deg]"),
    ("mask azimuth", _variant('lon_deg = 20.0', 'lon_deg = 20.0\nhorizon_mask = [[360.0, 5.0]]'),
     "station.horizon_mask[0]: azimuth 360 is outside [0, 360)"),
    ("mask duplicate", _variant('lon_deg = 20.0', 'lon_deg = 20.0\nhorizon_mask = [[10.0, 5.0], [10.0, 6.0]]'),
     "station.horizon_mask[1]: azimuth 10 appears twice"),
    ("freq order", _variant("freq_max_hz = 440e6", "freq_max_hz = 420e6"),
     "chains[0].freq_max_hz: 4.2e+08 is not above freq_min_hz 4.3e+08"),
    ("duplicate chain", MINIMAL + MINIMAL.split("\n[[chains]]")[1].join(["\n[[chains]]", ""]),
     "chains[1].name: chain 'uhf0' is defined twice"),
    ("chain name", _variant('name = "uhf0"', 'name = "uhf 0"'), "chains[0].name: 'uhf 0' is not a name"),
    ("unknown rotator", _variant('sdr_args = "rtl=0"', 'sdr_args = "rtl=0"\nrotator = "r9"'),
     "chains[0].rotator: 'r9' is not a [[rotators]] name (none defined)"),
    ("rotator name", MINIMAL + '[[rotators]]\nname = "r 1"\nprotocol = "gs232b"\n', "rotators[0].name: 'r 1' is not"),
    ("rotator protocol", MINIMAL + '[[rotators]]\nname = "r"\n', "rotators[0].protocol: missing (required)"),
    ("zmq endpoint", MINIMAL + '[control]\nendpoint = "localhost:5555"\n',
     "control.endpoint: 'localhost:5555' is not a ZeroMQ endpoint"),
    ("same endpoints", MINIMAL + '[control]\nendpoint = "tcp://a:1"\npub_endpoint = "tcp://a:1"\n',
     "control.pub_endpoint: same as endpoint"),
    ("sink without kind", MINIMAL + '[[gateway.sinks]]\nname = "x"\n', "gateway.sinks[0].kind: missing (required)"),
    ("task local time", MINIMAL + '[[tasks]]\nid = "t"\nnorad = 1\ntransmitter = "x"\n'
     'window_start = 2026-01-01T00:00:00\n', "tasks[0].window_start: expected a UTC date-time, got a local date-time (add Z for UTC) 2026-01-01T00:00:00"),
    ("task mode", MINIMAL + '[[tasks]]\nid = "t"\nnorad = 1\ntransmitter = "x"\nmode = "twice"\n',
     "tasks[0].mode: 'twice' is not 'all' or 'once'"),
    ("task window order", MINIMAL + '[[tasks]]\nid = "t"\nnorad = 1\ntransmitter = "x"\n'
     'window_start = 2026-01-02T00:00:00Z\nwindow_end = 2026-01-01T00:00:00Z\n', "tasks[0].window_end: not after"),
    ("planner range", MINIMAL + "[planner]\nhorizon_hours = 1000\n", "planner.horizon_hours: 1000 is outside (0, 336]"),
    ("storage type", MINIMAL + "[storage]\nstate_dir = 5\n", "storage.state_dir: expected a string, got an integer 5"),
    ("section not a table", 'metrics = "x"\n' + MINIMAL, "metrics: expected a table, got a string"),
]


@pytest.mark.parametrize("text,msg", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_malformed_configs_are_rejected_with_their_key_path(tmp_path, text, msg):
    with pytest.raises(InputError) as ei:
        load_text(tmp_path, text)
    assert msg in str(ei.value)
    assert "Traceback" not in str(ei.value)


def test_rotators_are_checked_by_the_hardware_bridge(tmp_path):
    import importlib.util

    from conftest import need

    need(importlib.util.find_spec("firmware_bridge") is not None, "firmware_bridge not importable")
    cfg = C.load_config(SEED)
    bc = cfg.rotators[0].bridge_config()
    assert bc["protocol"] == "gs232b" and bc["name"] == "az-el-1" and bc["max_az_deg"] == 450.0
    bad = MINIMAL + ('[[rotators]]\nname = "r"\nprotocol = "gs999"\n'
                     '[[rotators]]\nname = "s"\nprotocol = "gs232b"\ndevice = "/dev/x"\ncolour = 1\n')
    with pytest.raises(InputError) as ei:
        load_text(tmp_path, bad)
    msg = str(ei.value)
    assert "2 problems" in msg and "rotators[0]: unknown rotator protocol 'gs999'" in msg
    assert "rotators[1]: rotator config (gs232b): unknown key(s) colour" in msg


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        C.load_config(tmp_path / "missing.toml")
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        C.load_config(p)


def test_later_features_add_sections(monkeypatch, tmp_path):
    reg = Registry("config section")
    for name, sec in C.SECTIONS.items():
        reg.add(name, sec)
    monkeypatch.setattr(C, "SECTIONS", reg)

    @C.register_section("telescope", doc="test")
    def _parse(value, path, errs):
        t = C.Table(value, path, errs)
        n = t.get("mirrors", "integer", 1, check=C.between(1, 4))
        t.done()
        return n

    cfg = load_text(tmp_path, MINIMAL + "[telescope]\nmirrors = 3\n")
    assert cfg.section("telescope") == 3
    with pytest.raises(InputError, match="telescope.mirrors: 9 is outside"):
        load_text(tmp_path, MINIMAL + "[telescope]\nmirrors = 9\n")
    with pytest.raises(DuplicateRegistration):
        C.register_section("telescope")(_parse)
    with pytest.raises(InputError, match="unknown config section 'nope'"):
        cfg.section("nope")


def test_every_section_is_known_whoever_reads_the_file(tmp_path):
    """In a fresh process that imported nothing but groundseg.config, the file is checked against every
    section the station reads (registered by their own modules), and ``has`` tells which ones it has."""
    import subprocess
    import sys

    p = tmp_path / "station.toml"
    p.write_text(MINIMAL + '[executor]\nlead_s = 20.0\n[control]\nsecurity = "plain"\n'
                 'endpoint = "ipc:///tmp/x"\npub_endpoint = "ipc:///tmp/y"\n[uplink]\nmin_el_deg = 15.0\n'
                 '[logging]\nlevel = "debug"\n[gateway]\nfsync = "normal"\n')
    code = f"""
import sys
from groundseg import config as C
assert "groundseg.uplink.settings" not in sys.modules
cfg = C.load_config({str(p)!r})
print(cfg.section("executor").lead_s, cfg.control.plain, cfg.uplink.min_el_deg, cfg.section("logging").level,
      cfg.gateway.fsync, cfg.has("uplink"), cfg.has("metrics"), sorted(C.SECTIONS.names()))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split(" ", 7)
    assert out[:7] == ["20.0", "True", "15.0", "debug", "normal", "True", "False"]
    assert all(n in out[7] for n in ("'control'", "'executor'", "'gateway'", "'logging'", "'metrics'", "'uplink'"))
    # the sections are registered once, by their owners (no takeover of an earlier parser)
    from groundseg.control.settings import parse_control
    from groundseg.gateway.settings import parse_gateway
    from groundseg.uplink.settings import parse_uplink

    assert C.SECTIONS.get("control").parse is parse_control and C.SECTIONS.get("gateway").parse is parse_gateway
    assert C.SECTIONS.get("uplink").parse is parse_uplink
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "[uplink]\nmin_el_deg = 95.0\n[control]\nsecurity = \"none\"\n")
    with pytest.raises(InputError) as ei:
        C.load_config(bad)
    assert "uplink.min_el_deg" in str(ei.value) and "control.security" in str(ei.value)


def test_has_names_the_sections_the_file_has(tmp_path):
    cfg = load_text(tmp_path, MINIMAL + "[metrics]\nenabled = false\n")
    assert cfg.has("station") and cfg.has("chains") and cfg.has("metrics")
    assert not cfg.has("gateway") and not cfg.has("control") and not cfg.has("uplink")
    assert cfg.gateway.sinks == () and cfg.control.enabled is False  # absent: the parser's defaults
    with pytest.raises(InputError, match="unknown config section"):
        cfg.has("nope")
    moved = dataclasses.replace(cfg, sections={**cfg.sections})
    assert moved.has("metrics") and not moved.has("gateway")


def test_storage_free_space_floor(tmp_path):
    assert load_text(tmp_path, MINIMAL).storage.min_free_mb == 500.0
    assert load_text(tmp_path, MINIMAL + "[storage]\nmin_free_mb = 0\n").storage.min_free_mb == 0.0
    with pytest.raises(InputError, match="storage.min_free_mb: -5 is outside"):
        load_text(tmp_path, MINIMAL + "[storage]\nmin_free_mb = -5\n")


def test_config_check_command(tmp_path, capsys):
    from groundseg.cli import main

    assert main(["config", "check", str(SEED)]) == 0
    assert "ok: station 'demo-warsaw'" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace("lat_deg = 10.0", "lat_deg = 100.0") + "[x]\n")
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "station.lat_deg: 100 is outside" in err and "x: unknown section" in err
    assert "Traceback" not in err
    # Tasks are checked against the catalog and the chains.
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(MINIMAL + '[[tasks]]\nid = "a"\nnorad = 44426\ntransmitter = "nope"\n'
                     '[[tasks]]\nid = "b"\nnorad = 39444\ntransmitter = "1k2 BPSK downlink"\n')
    assert main(["config", "check", str(tasks)]) == 2
    err = capsys.readouterr().err
    assert "tasks[0].transmitter: Swiatowid has no transmitter 'nope'" in err
    assert "tasks[1]: no chain covers 145.9350 MHz" in err


def test_seed_file_is_plain_toml_with_comments():
    text = SEED.read_text()
    doc = tomllib.loads(text)
    assert set(doc) <= set(C.SECTIONS.names())
    assert text.count("#") > 30  # documented for the operator
