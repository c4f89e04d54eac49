"""Read CCSDS Orbit Mean-Elements Messages (OMM) in the forms Celestrak serves.

Forms: XML (CCSDS NDM/OMM, ``<ndm><omm>...`` or a bare ``<omm>``), JSON (a
list of flat objects keyed by the OMM keywords, or one object), KVN
(``KEYWORD = value`` lines, a new message at each ``CCSDS_OMM_VERS``) and CSV
(a header row of OMM keywords). ``parse_omm`` sniffs the form.

Only SGP4 mean elements are accepted (MEAN_ELEMENT_THEORY SGP4, REF_FRAME
TEME, CENTER_NAME EARTH, TIME_SYSTEM UTC when given). Every problem is one
line naming the message and keyword.
"""
from __future__ import annotations

import calendar
import csv
import io
import json
import math
import re

from ..errors import InputError
from .elements import ElementSet, check_propagates, check_ranges

REQUIRED = ("EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE",
            "ARG_OF_PERICENTER", "MEAN_ANOMALY", "NORAD_CAT_ID", "BSTAR",
            "MEAN_MOTION_DOT", "MEAN_MOTION_DDOT")
EXPECTED = {"MEAN_ELEMENT_THEORY": ("SGP4",), "REF_FRAME": ("TEME",), "CENTER_NAME": ("EARTH",),
            "TIME_SYSTEM": ("UTC",)}
_FLOATS = {"MEAN_MOTION": "mean_motion_rev_per_day", "ECCENTRICITY": "eccentricity",
           "INCLINATION": "inclination_deg", "RA_OF_ASC_NODE": "raan_deg",
           "ARG_OF_PERICENTER": "arg_perigee_deg", "MEAN_ANOMALY": "mean_anomaly_deg",
           "BSTAR": "bstar", "MEAN_MOTION_DOT": "ndot", "MEAN_MOTION_DDOT": "nddot"}
_INTS = {"EPHEMERIS_TYPE": ("ephemeris_type", 0), "ELEMENT_SET_NO": ("element_set_no", 999),
         "REV_AT_EPOCH": ("rev_at_epoch", 0)}
_EPOCH_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)Z?")
_EPOCH_DOY_RE = re.compile(r"(\d{4})-(\d{3})T(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)Z?")


def parse_epoch(text: str) -> float:
    """OMM epoch (ISO 8601 calendar or day-of-year form, UTC) -> Unix seconds."""
    s = text.strip()
    m = _EPOCH_RE.fullmatch(s)
    if m:
        y, mo, d, hh, mm = (int(x) for x in m.groups()[:5])
        sec = float(m.group(6))
        if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and hh < 24 and mm < 60
                and sec < 61):
            raise ValueError(f"epoch {s!r} is not a valid date and time")
        return calendar.timegm((y, mo, d, hh, mm, 0)) + sec
    m = _EPOCH_DOY_RE.fullmatch(s)
    if m:
        y, doy, hh, mm = (int(x) for x in m.groups()[:4])
        sec = float(m.group(5))
        if not (1 <= doy <= (366 if calendar.isleap(y) else 365) and hh < 24 and mm < 60 and sec < 61):
            raise ValueError(f"epoch {s!r} is not a valid date and time")
        return calendar.timegm((y, 1, 1, hh, mm, 0)) + (doy - 1) * 86400.0 + sec
    raise ValueError(f"epoch {s!r} is not an ISO 8601 UTC time (YYYY-MM-DDThh:mm:ss[.ffffff])")


def _num(v, key: str, where: str, errs: list[str], integer: bool = False):
    if isinstance(v, bool) or v is None:
        errs.append(f"{where}: {key}: expected a number, got {v!r}")
        return None
    if isinstance(v, (int, float)):
        x = v
    else:
        s = str(v).strip()
        try:
            x = int(s) if integer else float(s)
        except ValueError:
            errs.append(f"{where}: {key}: {s!r} is not {'an integer' if integer else 'a number'}")
            return None
    if integer and (not isinstance(x, int) and not float(x).is_integer()):
        errs.append(f"{where}: {key}: {x!r} is not an integer")
        return None
    try:
        finite = math.isfinite(float(x))
    except OverflowError:  # an integer beyond float range (JSON allows any number of digits)
        finite = False
    if not integer and not finite:
        errs.append(f"{where}: {key}: {_short_num(x)} is not finite")
        return None
    if integer and isinstance(x, float) and not finite:
        errs.append(f"{where}: {key}: {_short_num(x)} is not an integer")
        return None
    return int(x) if integer else float(x)


def _short_num(x) -> str:
    r = repr(x)
    return r if len(r) <= 24 else f"{r[:12]}...({len(r)} digits)"


def element_set_from_fields(fields: dict, where: str, source: str = "") -> tuple[ElementSet | None, list[str]]:
    """One OMM (keyword -> value) -> (ElementSet or None, errors)."""
    f = {str(k).strip().upper(): v for k, v in fields.items()}
    errs = [f"{where}: missing keyword {k}" for k in REQUIRED if f.get(k) in (None, "")]
    for key, allowed in EXPECTED.items():
        v = f.get(key)
        if v not in (None, "") and str(v).strip().upper() not in allowed:
            errs.append(f"{where}: {key} is {str(v).strip()!r}, only {'/'.join(allowed)} is supported")
    if errs:
        return None, errs
    vals = {}
    for key, attr in _FLOATS.items():
        vals[attr] = _num(f[key], key, where, errs)
    norad = _num(f["NORAD_CAT_ID"], "NORAD_CAT_ID", where, errs, integer=True)
    if norad is not None and not (0 < norad <= 999999999):
        errs.append(f"{where}: NORAD_CAT_ID {_short_num(norad)} is not a valid catalog number")
    for key, (attr, default) in _INTS.items():
        v = f.get(key)
        vals[attr] = default if v in (None, "") else _num(v, key, where, errs, integer=True)
    try:
        epoch = parse_epoch(str(f["EPOCH"]))
    except ValueError as e:
        errs.append(f"{where}: EPOCH: {e}")
        epoch = None
    cls = str(f.get("CLASSIFICATION_TYPE") or "U").strip()
    if cls not in ("U", "C", "S"):
        errs.append(f"{where}: CLASSIFICATION_TYPE {cls!r} is not U, C or S")
    if errs:
        return None, errs
    name = str(f.get("OBJECT_NAME") or "").strip()
    label = f"{where} (NORAD {norad}{', ' + name if name else ''})"
    errs = check_ranges(vals, label)
    if errs:
        return None, errs
    object_id = str(f.get("OBJECT_ID") or "").strip()
    if not all(" " <= c <= "~" for c in object_id):  # it goes into the SGP4 record and the TLE lines
        return None, [f"{label}: OBJECT_ID {object_id[:40]!r} is not printable ASCII"]
    intldesg = object_id[2:].replace("-", "") if re.fullmatch(r"\d{4}-\d{3}[A-Z]{0,3}", object_id) else object_id
    es = ElementSet(norad=norad, name=name, epoch_unix_s=epoch, intldesg=intldesg, classification=cls,
                    source=source, **vals)
    errs = check_propagates(es, label)
    return (None, errs) if errs else (es, [])


# --- the four forms -----------------------------------------------------------

def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def omm_fields_xml(text: str, where: str) -> tuple[list[dict], list[str]]:
    import xml.etree.ElementTree as ET

    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        return [], [f"{where}: XML with a DOCTYPE or ENTITY declaration is refused"]
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        return [], [f"{where}: not well-formed XML ({e})"]
    omms = [root] if _strip_ns(root.tag) == "omm" else [e for e in root.iter() if _strip_ns(e.tag) == "omm"]
    if not omms:
        return [], [f"{where}: XML holds no <omm> element"]
    out = []
    for omm in omms:
        segments = [e for e in omm.iter() if _strip_ns(e.tag) == "segment"] or [omm]
        for seg in segments:
            d = {}
            for e in seg.iter():
                if len(e) == 0 and _strip_ns(e.tag) not in ("COMMENT",):
                    d[_strip_ns(e.tag)] = (e.text or "").strip()
            out.append(d)
    return out, []


def omm_fields_json(text: str, where: str) -> tuple[list[dict], list[str]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        return [], [f"{where}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"]
    except RecursionError:
        return [], [f"{where}: not valid JSON for OMM (nested too deeply)"]
    items = doc if isinstance(doc, list) else [doc]
    out, errs = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errs.append(f"{where}[{i}]: expected an object of OMM keywords, got {type(item).__name__}")
            continue
        out.append(item)
    return out, errs


def omm_fields_kvn(text: str, where: str) -> tuple[list[dict], list[str]]:
    out: list[dict] = []
    errs: list[str] = []
    cur: dict | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("COMMENT"):
            continue
        if "=" not in line:
            errs.append(f"{where}:{n}: expected KEYWORD = value, got {line[:40]!r}")
            continue
        key, val = (s.strip() for s in line.split("=", 1))
        val = re.sub(r"\s*\[[^\]]*\]\s*$", "", val)  # trailing units: 12.3 [deg]
        if key.upper() == "CCSDS_OMM_VERS" or cur is None:
            cur = {}
            out.append(cur)
        cur[key.upper()] = val
    return out, errs


def omm_fields_csv(text: str, where: str) -> tuple[list[dict], list[str]]:
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as e:
        return [], [f"{where}: not valid CSV ({e})"]
    errs = []
    for i, r in enumerate(rows):
        if None in r:
            errs.append(f"{where}:{i + 2}: more values than header columns")
    return [r for r in rows if None not in r], errs


def sniff(text: str) -> str | None:
    s = text.lstrip("\ufeff \t\r\n")
    if s.startswith("<"):
        return "xml"
    if s.startswith("[") or s.startswith("{"):
        return "json"
    if re.match(r"(CCSDS_OMM_VERS|COMMENT|[A-Z_]+\s*=)", s):
        return "kvn"
    first = s.split("\n", 1)[0]
    if "," in first and "NORAD_CAT_ID" in first.upper():
        return "csv"
    return None


_READERS = {"xml": omm_fields_xml, "json": omm_fields_json, "kvn": omm_fields_kvn, "csv": omm_fields_csv}


def parse_omm(text: str, source: str = "", form: str | None = None) -> tuple[list[ElementSet], list[str]]:
    """Parse OMM text in any of the four forms: (valid sets, one error line per problem)."""
    where = source or "OMM"
    form = form or sniff(text)
    if form not in _READERS:
        return [], [f"{where}: not an OMM document (XML, JSON, KVN or CSV)"]
    records, errs = _READERS[form](text, where)
    if not records and not errs:
        errs.append(f"{where}: no element sets found")
    sets = []
    for i, rec in enumerate(records):
        label = f"{where}[{i}]" if len(records) > 1 else where
        es, e = element_set_from_fields(rec, label, source)
        errs += e
        if es is not None:
            sets.append(es)
    return sets, errs


def parse_omm_strict(text: str, source: str = "") -> list[ElementSet]:
    sets, errs = parse_omm(text, source)
    if errs:
        raise InputError("; ".join(errs))
    return sets
