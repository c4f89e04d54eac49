"""Valid inputs per boundary: what the mutations start from, and the atheris seed corpora.

Fuzzing from valid inputs gets past the first check (a checksum, a magic
number, a required key) to the code behind it; the mutations in each test
module then break them in every way.
"""
from __future__ import annotations

import csv
import datetime as _dt
import functools
import io
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED_TLE = ROOT / "seeds" / "tle" / "catalog.tle"
EXAMPLE_CONFIG = ROOT / "deploy" / "groundseg.example.toml"
DEMO_CONFIG = ROOT / "seeds" / "station.toml"


@functools.lru_cache(maxsize=None)
def tle_triples(n: int = 8) -> tuple[tuple[str, str, str], ...]:
    """(name, line 1, line 2) of the first ``n`` sets of the seed catalog."""
    lines = [ln.rstrip("\r\n") for ln in SEED_TLE.read_text().splitlines() if ln.strip()]
    out = []
    i = 0
    while i + 2 < len(lines) and len(out) < n:
        if lines[i + 1].startswith("1 ") and lines[i + 2].startswith("2 "):
            out.append((lines[i], lines[i + 1], lines[i + 2]))
            i += 3
        else:
            i += 1
    return tuple(out)


def fix_checksum(line: str) -> str:
    from groundseg.orbit.tle import checksum

    if len(line) < 69:
        return line
    return line[:68] + str(checksum(line)) + line[69:]


def _iso(t_unix_s: float) -> str:
    return _dt.datetime.fromtimestamp(t_unix_s, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


@functools.lru_cache(maxsize=None)
def omm_records(n: int = 4) -> tuple[dict, ...]:
    """OMM keyword dicts (as Celestrak's JSON gives them) for seed catalog sets."""
    from groundseg.orbit.tle import parse_tle_text

    text = "\n".join("\n".join(t) for t in tle_triples(n)) + "\n"
    sets, errs = parse_tle_text(text)
    assert sets and not errs, errs
    out = []
    for es in sets:
        out.append({
            "OBJECT_NAME": es.name, "OBJECT_ID": "2013-066Q", "EPOCH": _iso(es.epoch_unix_s),
            "MEAN_MOTION": es.mean_motion_rev_per_day, "ECCENTRICITY": es.eccentricity,
            "INCLINATION": es.inclination_deg, "RA_OF_ASC_NODE": es.raan_deg,
            "ARG_OF_PERICENTER": es.arg_perigee_deg, "MEAN_ANOMALY": es.mean_anomaly_deg,
            "EPHEMERIS_TYPE": 0, "CLASSIFICATION_TYPE": "U", "NORAD_CAT_ID": es.norad,
            "ELEMENT_SET_NO": 999, "REV_AT_EPOCH": es.rev_at_epoch, "BSTAR": es.bstar,
            "MEAN_MOTION_DOT": es.ndot, "MEAN_MOTION_DDOT": es.nddot,
        })
    return tuple(out)


OMM_FORMS = ("json", "kvn", "xml", "csv")


def render_omm(records: list[dict], form: str) -> str:
    """OMM records in one of the four forms Celestrak serves (values rendered with ``str``)."""
    if form == "json":
        return json.dumps(records if len(records) != 1 else records[0], allow_nan=True, default=str)
    if form == "kvn":
        parts = []
        for r in records:
            parts.append("CCSDS_OMM_VERS = 2.0\nMEAN_ELEMENT_THEORY = SGP4\nREF_FRAME = TEME\n"
                         "CENTER_NAME = EARTH\nTIME_SYSTEM = UTC\n")
            parts.append("".join(f"{k} = {v}\n" for k, v in r.items()))
        return "".join(parts)
    if form == "xml":
        def esc(v) -> str:
            return str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        body = []
        for r in records:
            fields = "".join(f"<{k}>{esc(v)}</{k}>" for k, v in r.items() if k.replace("_", "").isalnum())
            body.append('<omm id="CCSDS_OMM_VERS" version="2.0"><header><CREATION_DATE/><ORIGINATOR/></header>'
                        "<body><segment><metadata><MEAN_ELEMENT_THEORY>SGP4</MEAN_ELEMENT_THEORY>"
                        "<REF_FRAME>TEME</REF_FRAME></metadata><data>" + fields + "</data></segment></body></omm>")
        return '<?xml version="1.0" encoding="UTF-8"?>\n<ndm>' + "".join(body) + "</ndm>\n"
    if form == "csv":
        keys: list[str] = []
        for r in records:
            keys += [k for k in r if k not in keys]
        if "NORAD_CAT_ID" not in keys:
            keys.append("NORAD_CAT_ID")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(keys)
        for r in records:
            w.writerow([r.get(k, "") for k in keys])
        return buf.getvalue()
    raise ValueError(form)


def kiss_stream() -> bytes:
    from groundseg.storage import kiss

    return b"".join(kiss.encode(f, port=p) for p, f in ((0, b"hello"), (3, bytes(range(256))),
                                                          (0, b"\xc0\xdb\xc0"), (15, b"x")))


def control_requests() -> list[bytes]:
    from groundseg.control import protocol as P

    return [P.request("status"), P.request("task.list", {"state": "all"}, rid="abc"),
            P.request("passes.predict", {"norad": 39430, "hours": 12.0}, rid=7),
            P.request("blackout.add", {"id": "b1", "start": "2030-01-01T00:00:00Z", "end": 1.9e9})]
