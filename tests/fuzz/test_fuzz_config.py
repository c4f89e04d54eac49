"""Fuzz the station configuration: documents, files, and `groundseg config check`.

Boundaries:

* ``config.doc``: ``parse_config`` of the production example (and the demo
  station) as parsed TOML with keys removed, values replaced by values of
  every TOML type (and out of range), unknown keys and sections added, arrays
  of tables emptied or duplicated: a ``StationConfig`` or one ``InputError``
  listing the problems; an accepted configuration answers everything the
  station asks of it (paths, ground station, horizon mask, sections);
* ``config.file``: ``load_config`` of the example file's text mutated
  (bytes that are not UTF-8, broken TOML): the same;
* ``config.check``: ``groundseg config check`` (``cmd_config_check``: the
  tasks against the catalog, the element-set files) on mutated demo files
  with their element sets beside them: exit 0 or ``InputError``.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import pathlib
import shutil
import tempfile
import tomllib

import pytest
from hypothesis import given, strategies as st

from groundseg.config import cmd_config_check, load_config, parse_config
from groundseg.errors import InputError

from . import _seeds
from ._harness import attempt, fuzz_settings
from ._mutate import apply_bytes, apply_text, byte_ops, text_ops

EXAMPLE_TEXT = _seeds.EXAMPLE_CONFIG.read_text()
DEMO_TEXT = _seeds.DEMO_CONFIG.read_text()
DOCS = {"example": tomllib.loads(EXAMPLE_TEXT), "demo": tomllib.loads(DEMO_TEXT)}

_UTC = _dt.timezone.utc
TOML_SCALARS = st.one_of(
    st.text(max_size=20), st.integers(-2 ** 64, 2 ** 64), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([0, -1, 1, 65535, 65536, 1e-300, 1e300, "", " ", "0.0.0.0:0", "127.0.0.1:99999", "tcp://",
                     "ipc:///tmp/x", "~nosuchuser/x", "/", ".", "..", "*", "[", "\x00", "rtl=0", "gs232b",
                     "rotctld", "curve", "plain", "kv", "json", "debug", "all", "once", "sids", "mqtt",
                     "mqtts://h:1", "https://x/y", _dt.datetime(2030, 1, 1, tzinfo=_UTC), _dt.datetime(2030, 1, 1),
                     _dt.date(2030, 1, 1), _dt.time(12, 0), "2030-01-01T00:00:00Z", "2020-01-01"]))
TOML_VALUES = st.recursive(TOML_SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(
    st.text(max_size=8), c, max_size=3), max_leaves=8)


def _paths(doc, prefix=()):
    """Every (path, container) of the document: tables, arrays and the keys in them."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


@st.composite
def config_docs(draw) -> dict:
    doc = copy.deepcopy(DOCS[draw(st.sampled_from(sorted(DOCS)))])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(doc, path[:-1]), path[-1]
        op = draw(st.integers(0, 13))
        if op >= 9:  # a value of the same type from elsewhere in the file: often still valid
            same = [_get(doc, q) for q in paths if type(_get(doc, q)) is type(parent[key])]
            parent[key] = copy.deepcopy(draw(st.sampled_from(same)))
        elif op <= 3:
            parent[key] = draw(TOML_VALUES)
        elif op == 4:
            del parent[key]
        elif op == 5 and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(TOML_VALUES)
        elif op == 6 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))  # a duplicate [[table]]
        elif op == 7 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
            parent[key] = draw(st.sampled_from([-1, 0, 1e9, -1e9, float("nan"), parent[key] * 1000 + 1,
                                                -parent[key], parent[key] / 2, parent[key] + 1]))
        else:
            doc[draw(st.text(max_size=10))] = draw(TOML_VALUES)
    return doc


def check_accepted(cfg) -> None:
    """What the station and its components read from an accepted configuration."""
    assert cfg.station is not None and cfg.station.name.strip()
    cfg.state_dir, cfg.artifacts_dir
    cfg.tle_paths()
    cfg.ground_station()
    cfg.horizon_mask()
    for c in cfg.chains:
        assert c.freq_min_hz < c.freq_max_hz
        c.covers(c.freq_min_hz)
        cfg.chain(c.name)
    for name in ("control", "gateway", "uplink", "logging", "executor"):
        cfg.section(name)


@fuzz_settings(400)
@given(config_docs())
def test_config_document(doc):
    attempt("config.doc", parse_config, doc, pathlib.Path("/nonexistent/station.toml"), check=check_accepted,
            show=doc, allowed=(InputError,))


def _load_text(data: bytes):
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "station.toml"
        p.write_bytes(data)
        cfg = load_config(p)
        check_accepted(cfg)
        return cfg


@fuzz_settings(150)
@given(st.sampled_from([EXAMPLE_TEXT, DEMO_TEXT]), text_ops(), byte_ops(3), st.booleans())
def test_config_file(text, tops, bops, as_bytes):
    data = apply_text(text, tops).encode("utf-8", "surrogatepass")
    if as_bytes:
        data = apply_bytes(data, bops)
    attempt("config.file", _load_text, data, show=data, allowed=(InputError,))


_TLE_DIR = _seeds.DEMO_CONFIG.parent / "tle"


def _check_command(data: bytes):
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(_TLE_DIR, pathlib.Path(d) / "tle")
        p = pathlib.Path(d) / "station.toml"
        p.write_bytes(data)
        rc = cmd_config_check(argparse.Namespace(file=str(p), catalog=None))
        assert rc == 0
        return rc


@fuzz_settings(60)
@given(tops=text_ops(4))
def test_config_check_command(capsys, tops):
    data = apply_text(DEMO_TEXT, tops).encode("utf-8", "surrogatepass")
    attempt("config.check", _check_command, data, show=data, allowed=(InputError,))
    capsys.readouterr()


def test_demo_station_passes_the_check(capsys):
    assert _check_command(DEMO_TEXT.encode()) == 0
    assert "ok: station" in capsys.readouterr().out


@pytest.mark.parametrize("baud", [0, -9600, True, 9600.0])
def test_rotator_with_a_bad_baud_is_a_config_error_line(baud, tmp_path):
    """The serial link refused a bad baud with PortAbsent (a HardwareError): it escaped parse_config."""
    doc = copy.deepcopy(DOCS["demo"])
    doc["rotators"][0]["baud"] = baud
    with pytest.raises(InputError) as ei:
        parse_config(doc, tmp_path / "station.toml")
    assert "rotators[0]" in str(ei.value) and "baud" in str(ei.value)


@pytest.mark.parametrize("key", ["state_dir", "artifacts_dir"])
def test_home_of_an_unknown_user_in_a_path(key, tmp_path):
    """``~user/...`` for a user that does not exist: an error line when the file is loaded or used, not a
    RuntimeError from the path expansion (found by this fuzzing; fixed in config.py by its owner)."""
    doc = copy.deepcopy(DOCS["demo"])
    doc["storage"][key] = "~nosuchuser-groundseg/x"
    try:
        cfg = parse_config(doc, tmp_path / "station.toml")
    except Exception as e:  # noqa: BLE001
        assert type(e).__name__ == "InputError", repr(e)
        return
    try:
        getattr(cfg, key)
    except Exception as e:  # noqa: BLE001
        assert type(e).__name__ == "InputError", repr(e)
