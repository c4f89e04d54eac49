"""Read and validate TLE / 3LE text (two-line element sets, optionally with a name line).

The format is fixed-column (NORAD/Space-Track "two-line element set"): each
line is 69 characters, the last one a modulo-10 checksum of the first 68
(digits count their value, a minus sign counts 1). Every problem becomes one
line of text naming the file and line; nothing is clamped or guessed.

    sets, errors = parse_tle_text(text, source="cubesats.txt")
    es = parse_tle_lines(line1, line2, name="FUNCUBE-1")   # raises InputError
"""
from __future__ import annotations

import calendar
import math
import re

from ..errors import InputError
from .elements import UNIX_EPOCH_JD, ElementSet, check_propagates, check_ranges

TLE_LINE_LEN = 69
_ALPHA5 = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are not used


def checksum(line: str) -> int:
    """Modulo-10 checksum of columns 1-68."""
    total = 0
    for c in line[:68]:
        if c.isdigit():
            total += ord(c) - 48
        elif c == "-":
            total += 1
    return total % 10


def parse_catalog_number(text: str) -> int:
    """A 5-character catalog number, plain digits or Alpha-5 (A0000 = 100000)."""
    s = text.strip()
    if len(s) == 5 and s[0] in _ALPHA5 and s[1:].isdigit():
        return (_ALPHA5.index(s[0]) + 10) * 10000 + int(s[1:])
    if not s.isdigit():
        raise ValueError(f"catalog number {text!r} is neither digits nor Alpha-5")
    return int(s)


def _implied_decimal(field: str) -> float:
    """TLE 'assumed decimal point' exponent notation: ' 12345-3' = 0.12345e-3."""
    s = field.strip()
    if not s:
        return 0.0
    m = re.fullmatch(r"([+-]?)(\d{1,5})([+-])(\d)", s.replace(" ", ""))
    if not m:
        raise ValueError(f"{field.strip()!r} is not in TLE exponent notation (e.g. 12345-3)")
    sign, mant, esign, exp = m.groups()
    val = float("0." + mant) * 10.0 ** (int(exp) if esign == "+" else -int(exp))
    return -val if sign == "-" else val


class _Fields:
    """Collects field errors of one line instead of stopping at the first."""

    def __init__(self, line: str, label: str, where: str):
        self.line, self.label, self.where, self.errors = line, label, where, []

    def get(self, a: int, b: int, what: str, conv):
        raw = self.line[a - 1:b]
        try:
            return conv(raw)
        except (ValueError, OverflowError) as e:
            why = str(e) if isinstance(e, ValueError) and "TLE" in str(e) else f"{raw.strip()!r} is not valid"
            self.errors.append(f"{self.where}: {self.label} columns {a}-{b} ({what}): {why}")
            return None


def _float(raw: str) -> float:
    s = raw.strip()
    if not s or not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", s):
        raise ValueError(raw)
    return float(s)


def _int(raw: str) -> int:
    s = raw.strip()
    if not s:
        return 0
    if not re.fullmatch(r"[+-]?\d+", s):
        raise ValueError(raw)
    return int(s)


def _check_line(line: str, number: str, where: str) -> list[str]:
    errs = []
    if len(line) != TLE_LINE_LEN:
        return [f"{where}: line {number} is {len(line)} characters long, expected {TLE_LINE_LEN}"]
    if line[0] != number or line[1] != " ":
        errs.append(f"{where}: line {number} must start with '{number} '")
    bad = next((i for i, c in enumerate(line) if not " " <= c <= "~"), None)
    if bad is not None:  # a tab or control character shifts the fields the SGP4 library reads
        errs.append(f"{where}: line {number} column {bad + 1} holds {line[bad]!r}, not a printable ASCII character")
    if not line[68].isdigit():
        errs.append(f"{where}: line {number} checksum column holds {line[68]!r}, not a digit")
    elif int(line[68]) != checksum(line):
        errs.append(f"{where}: line {number} checksum is {line[68]}, computed {checksum(line)}")
    return errs


def _epoch_unix_s(yy: int, day: float) -> float:
    year = 1900 + yy if yy >= 57 else 2000 + yy
    days_in_year = 366 if calendar.isleap(year) else 365
    if not (1.0 <= day < days_in_year + 1.0):
        raise ValueError(f"epoch day {day} is outside 1..{days_in_year}")
    return calendar.timegm((year, 1, 1, 0, 0, 0)) + (day - 1.0) * 86400.0


def parse_tle_lines(line1: str, line2: str, name: str = "", where: str = "TLE",
                    source: str = "") -> ElementSet:
    """Validate one TLE and return its ``ElementSet``; ``InputError`` lists every problem."""
    es, errs = _parse_pair(line1, line2, name, where, source)
    if errs:
        raise InputError("; ".join(errs))
    return es


def _parse_pair(line1: str, line2: str, name: str, where: str, source: str):
    line1 = line1.rstrip("\r\n").rstrip()
    line2 = line2.rstrip("\r\n").rstrip()
    errs = _check_line(line1, "1", where) + _check_line(line2, "2", where)
    if any("characters long" in e or "must start" in e for e in errs):
        return None, errs
    f1 = _Fields(line1, "line 1", where)
    f2 = _Fields(line2, "line 2", where)
    norad1 = f1.get(3, 7, "catalog number", parse_catalog_number)
    norad2 = f2.get(3, 7, "catalog number", parse_catalog_number)
    if norad1 is not None and norad2 is not None and norad1 != norad2:
        errs.append(f"{where}: line 1 is for catalog number {norad1}, line 2 for {norad2}")
    cls = line1[7]
    if cls not in "USC ":
        errs.append(f"{where}: line 1 column 8 (classification) {cls!r} is not U, C or S")
    yy = f1.get(19, 20, "epoch year", lambda s: int(s) if s.strip().isdigit() and len(s.strip()) == 2 else _bad(s))
    day = f1.get(21, 32, "epoch day", _float)
    epoch = None
    if yy is not None and day is not None:
        try:
            epoch = _epoch_unix_s(yy, day)
        except ValueError as e:
            errs.append(f"{where}: line 1 columns 21-32: {e}")
    ndot = f1.get(34, 43, "mean motion derivative", _float)
    nddot = f1.get(45, 52, "mean motion second derivative", _implied_decimal)
    bstar = f1.get(54, 61, "B* drag term", _implied_decimal)
    ephtype = f1.get(63, 63, "ephemeris type", _int)
    elnum = f1.get(65, 68, "element set number", _int)
    incl = f2.get(9, 16, "inclination", _float)
    raan = f2.get(18, 25, "right ascension of the ascending node", _float)
    ecc = f2.get(27, 33, "eccentricity", lambda s: _float("0." + s.strip()) if s.strip().isdigit() else _bad(s))
    argp = f2.get(35, 42, "argument of perigee", _float)
    ma = f2.get(44, 51, "mean anomaly", _float)
    n = f2.get(53, 63, "mean motion", _float)
    revnum = f2.get(64, 68, "revolution number", _int)
    errs += f1.errors + f2.errors
    if errs:
        return None, errs
    vals = dict(inclination_deg=incl, raan_deg=raan, eccentricity=ecc, arg_perigee_deg=argp,
                mean_anomaly_deg=ma, mean_motion_rev_per_day=n, bstar=bstar, ndot=ndot, nddot=nddot)
    label = f"{where} (NORAD {norad1})"
    errs = check_ranges(vals, label)
    if errs:
        return None, errs
    es = ElementSet(norad=norad1, name=name.strip(), epoch_unix_s=epoch, intldesg=line1[9:17].strip(),
                    classification=cls.strip() or "U", element_set_no=elnum, rev_at_epoch=revnum,
                    ephemeris_type=ephtype, source=source, line1=line1, line2=line2, **vals)
    errs = check_propagates(es, label) or _sgp4_reads_the_same(es, label)
    return (None, errs) if errs else (es, [])


def _sgp4_reads_the_same(es: ElementSet, label: str) -> list[str]:
    """The SGP4 library parses the lines itself: it must find the values this parser validated."""
    sat = es.satrec()
    epoch_unix_s = (sat.jdsatepoch + sat.jdsatepochF - UNIX_EPOCH_JD) * 86400.0
    checks = (("epoch", epoch_unix_s, es.epoch_unix_s, 1e-3),
              ("inclination", math.degrees(sat.inclo), es.inclination_deg, 1e-6),
              ("eccentricity", sat.ecco, es.eccentricity, 1e-9),
              ("mean motion", sat.no_kozai * 1440.0 / (2.0 * math.pi), es.mean_motion_rev_per_day, 1e-7),
              ("B* drag term", sat.bstar, es.bstar, 1e-12 + 1e-9 * abs(es.bstar)))
    bad = [name for name, got, want, tol in checks if not abs(got - want) <= tol]
    if bad:
        return [f"{label}: the SGP4 library reads the {', '.join(bad)} of these lines differently "
                "(misplaced field or stray character)"]
    return []


def _bad(s):
    raise ValueError(s)


def _clean_name(line: str) -> str:
    s = line.strip()
    if s.startswith("0 "):  # Space-Track 3LE name lines start with "0 "
        s = s[2:]
    return s.strip()


def parse_tle_text(text: str, source: str = "") -> tuple[list[ElementSet], list[str]]:
    """Parse TLE or 3LE text: (valid sets, one error line per problem).

    Blank lines and lines starting with ``#`` are ignored. A name line is any
    other line directly followed by a line 1.
    """
    where0 = source or "TLE text"
    lines = text.splitlines()
    sets: list[ElementSet] = []
    errors: list[str] = []
    i = 0
    pending_name: tuple[int, str] | None = None

    def is_l1(s: str) -> bool:
        return s.startswith("1 ")

    def is_l2(s: str) -> bool:
        return s.startswith("2 ")

    while i < len(lines):
        raw = lines[i].rstrip("\r\n")
        s = raw.strip()
        if not s or s.startswith("#"):
            i += 1
            continue
        if is_l1(s):
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if not is_l2(nxt):
                errors.append(f"{where0}:{i + 1}: line 1 without a following line 2")
                pending_name = None
                i += 1
                continue
            name = pending_name[1] if pending_name else ""
            es, errs = _parse_pair(raw.strip(), lines[i + 1].strip(), name, f"{where0}:{i + 1}", source)
            errors += errs
            if es is not None:
                sets.append(es)
            pending_name = None
            i += 2
            continue
        if is_l2(s):
            errors.append(f"{where0}:{i + 1}: line 2 without a preceding line 1")
            pending_name = None
            i += 1
            continue
        if pending_name is not None:
            errors.append(f"{where0}:{pending_name[0]}: {pending_name[1][:40]!r} is neither a TLE line "
                          f"nor a name followed by one")
        pending_name = (i + 1, _clean_name(s))
        i += 1
    if pending_name is not None:
        errors.append(f"{where0}:{pending_name[0]}: {pending_name[1][:40]!r} is neither a TLE line "
                      f"nor a name followed by one")
    return sets, errors


def format_3le(es: ElementSet) -> str:
    l1, l2 = es.tle_lines()
    return f"{es.name or es.norad}\n{l1}\n{l2}\n"
