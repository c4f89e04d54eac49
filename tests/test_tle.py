"""Element sets: TLE/3LE and OMM parsing, validation, the store; SGP4 against Vallado's vectors."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from groundseg.errors import InputError
from groundseg.orbit import TLEStore, parse_omm, parse_tle_lines, parse_tle_text
from groundseg.orbit.elements import satrec_from_fields
from groundseg.orbit.tle import checksum, parse_catalog_number

ROOT = pathlib.Path(__file__).resolve().parents[1]
SEED_TLE = ROOT / "seeds" / "tle" / "catalog.tle"

NAME = "FUNCUBE-1 (AO-73)"
L1 = "1 39444U 13066AE  26140.67569056  .00005251  00000-0  33102-3 0  9992"
L2 = "2 39444  97.8265 111.5579 0034836 298.9376  60.8360 15.09093359675511"
EPOCH_ISO = "2026-05-20T16:12:59.664384"


def fix(line: str) -> str:
    """Recompute the checksum after an edit (to test the other checks)."""
    return line[:68] + str(checksum(line))


def edit(line: str, col: int, text: str) -> str:
    """Overwrite 1-based column ``col`` onwards with ``text``."""
    return line[:col - 1] + text + line[col - 1 + len(text):]


# --- TLE -----------------------------------------------------------------------

def test_seed_tles_all_valid():
    sets, errs = parse_tle_text(SEED_TLE.read_text(), str(SEED_TLE))
    assert errs == []
    assert len(sets) >= 8
    by = {s.norad: s for s in sets}
    assert 44854 in by  # DUCHIFAT-3: 9600 bd AX.25 G3RUH
    assert by[39444].name == NAME


def test_parse_tle_fields():
    es = parse_tle_lines(L1, L2, NAME)
    assert es.norad == 39444 and es.intldesg == "13066AE" and es.classification == "U"
    assert es.epoch.isoformat() == EPOCH_ISO + "+00:00"
    assert es.inclination_deg == pytest.approx(97.8265)
    assert es.eccentricity == pytest.approx(0.0034836)
    assert es.mean_motion_rev_per_day == pytest.approx(15.09093359)
    assert es.bstar == pytest.approx(0.33102e-3)
    assert es.ndot == pytest.approx(0.00005251)
    assert es.rev_at_epoch == 67551 and es.element_set_no == 999
    assert es.period_s == pytest.approx(86400 / 15.09093359)


def test_3le_with_space_track_name_prefix_and_comments():
    text = f"# a comment\n\n0 {NAME}\n{L1}\n{L2}\n"
    sets, errs = parse_tle_text(text)
    assert errs == [] and sets[0].name == NAME


def test_alpha5_catalog_numbers():
    assert parse_catalog_number("A0000") == 100000
    assert parse_catalog_number("Z9999") == 339999
    assert parse_catalog_number("25544") == 25544
    with pytest.raises(ValueError):
        parse_catalog_number("I0000")  # I and O are not Alpha-5 letters


def test_checksum_counts_minus_signs():
    assert checksum(L1) == 2 and checksum(L2) == 1
    assert checksum("1 -" + "0" * 65) == 2


BAD_TLES = [
    ("bad checksum line 1", L1[:68] + "5", L2, "line 1 checksum is 5, computed 2"),
    ("bad checksum line 2", L1, L2[:68] + "0", "line 2 checksum is 0, computed 1"),
    ("checksum not a digit", L1[:68] + "X", L2, "checksum column holds 'X'"),
    ("short line", L1[:60], L2, "line 1 is 60 characters long, expected 69"),
    ("wrong line number", "3" + L1[1:], L2, "line 1 must start with '1 '"),
    ("garbled inclination", L1, fix(edit(L2, 9, "  ab.cde")), "columns 9-16 (inclination)"),
    ("garbled bstar", fix(edit(L1, 54, " 3x102-3")), L2, "columns 54-61 (B* drag term)"),
    ("garbled epoch day", fix(edit(L1, 19, "2614O.67569056")), L2, "columns 21-32 (epoch day): '14O.67569056'"),
    ("garbled epoch year", fix(edit(L1, 19, "2X")), L2, "columns 19-20 (epoch year)"),
    ("epoch day 400", fix(edit(L1, 21, "400.67569056")), L2, "epoch day 400.67569056 is outside"),
    ("catalog numbers differ", L1, fix(edit(L2, 3, "39445")), "line 1 is for catalog number 39444, line 2 for 39445"),
    ("inclination 200", L1, fix(edit(L2, 9, "200.0000")), "inclination_deg 200 is outside [0, 180]"),
    ("raan 360", L1, fix(edit(L2, 18, "360.0000")), "raan_deg 360 is outside [0, 360)"),
    ("mean anomaly 400", L1, fix(edit(L2, 44, "400.0000")), "mean_anomaly_deg 400 is outside"),
    ("mean motion 0", L1, fix(edit(L2, 53, " 0.00000000")), "mean motion 0.0 rev/day is outside"),
    ("mean motion 18", L1, fix(edit(L2, 53, "18.00000000")), "mean motion 18.0 rev/day is outside"),
    ("classification X", fix(edit(L1, 8, "X")), L2, "column 8 (classification) 'X'"),
]


@pytest.mark.parametrize("line1,line2,msg", [b[1:] for b in BAD_TLES], ids=[b[0] for b in BAD_TLES])
def test_malformed_tle_is_rejected_with_a_clear_line(line1, line2, msg):
    with pytest.raises(InputError) as ei:
        parse_tle_lines(line1, line2, where="t.tle:2")
    text = str(ei.value)
    assert msg in text
    assert "\n" not in text and "Traceback" not in text


BAD_FILES = [
    ("line 2 alone", f"{L2}\n", "t.tle:1: line 2 without a preceding line 1"),
    ("line 1 alone", f"{NAME}\n{L1}\n", "t.tle:2: line 1 without a following line 2"),
    ("two name lines", f"junk line\n{NAME}\n{L1}\n{L2}\n", "t.tle:1: 'junk line' is neither a TLE line"),
    ("trailing name", f"{L1}\n{L2}\nDANGLING\n", "t.tle:3: 'DANGLING' is neither"),
]


@pytest.mark.parametrize("text,msg", [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_malformed_tle_files_report_every_problem_by_line(text, msg):
    sets, errs = parse_tle_text(text, "t.tle")
    assert any(msg in e for e in errs), errs


def test_file_with_good_and_bad_sets_keeps_the_good_ones():
    text = f"{NAME}\n{L1}\n{L2}\nBROKEN\n{L1[:68]}0\n{L2}\n"
    sets, errs = parse_tle_text(text, "mix.tle")
    assert [s.norad for s in sets] == [39444]
    assert len(errs) == 1 and errs[0].startswith("mix.tle:5: line 1 checksum")


# --- Vallado's verification vectors (shipped with python-sgp4) -------------------

def _sgp4_data(name: str) -> pathlib.Path:
    import sgp4

    p = pathlib.Path(sgp4.__file__).parent / name
    assert p.is_file(), f"{name} missing from the installed sgp4 package"
    return p


def _tcppver() -> dict[int, list[list[float]]]:
    exp: dict[int, list[list[float]]] = {}
    cur = None
    for line in _sgp4_data("tcppver.out").read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[-1] == "xx":
            cur = int(parts[0])
            exp[cur] = []
        else:
            exp[cur].append([float(x) for x in parts[:7]])
    return exp


def test_vallado_verification_vectors():
    """Our parser + both satrec paths reproduce tcppver.out (Vallado 2006 verification)."""
    lines = [ln[:69] for ln in _sgp4_data("SGP4-VER.TLE").read_text().splitlines() if ln[:2] in ("1 ", "2 ")]
    sets, errs = parse_tle_text("\n".join(lines), "SGP4-VER.TLE")
    # The three deliberately broken cases (33333-33335) carry wrong checksums.
    assert len(errs) == 5 and all("checksum" in e for e in errs)
    assert len(sets) == 30
    expected = _tcppver()
    rows = 0
    for es in sets:
        assert es.norad in expected
        for sat, tol_km in ((es.satrec(), 1e-6), (satrec_from_fields(es), 2e-5)):
            for row in expected[es.norad]:
                e, r, v = sat.sgp4_tsince(row[0])
                assert e == 0, (es.norad, row[0])
                np.testing.assert_allclose(r, row[1:4], rtol=0, atol=tol_km)
                np.testing.assert_allclose(v, row[4:7], rtol=0, atol=tol_km * 1e-2)
                rows += 1
    assert rows > 1000


# --- OMM -------------------------------------------------------------------------

XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<ndm xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<omm id="CCSDS_OMM_VERS" version="2.0">
<header><CREATION_DATE/><ORIGINATOR/></header>
<body><segment><metadata>
<OBJECT_NAME>{NAME}</OBJECT_NAME><OBJECT_ID>2013-066AE</OBJECT_ID><CENTER_NAME>EARTH</CENTER_NAME>
<REF_FRAME>TEME</REF_FRAME><TIME_SYSTEM>UTC</TIME_SYSTEM><MEAN_ELEMENT_THEORY>SGP4</MEAN_ELEMENT_THEORY>
</metadata><data><meanElements>
<EPOCH>{EPOCH_ISO}</EPOCH><MEAN_MOTION>15.09093359</MEAN_MOTION><ECCENTRICITY>.0034836</ECCENTRICITY>
<INCLINATION>97.8265</INCLINATION><RA_OF_ASC_NODE>111.5579</RA_OF_ASC_NODE>
<ARG_OF_PERICENTER>298.9376</ARG_OF_PERICENTER><MEAN_ANOMALY>60.836</MEAN_ANOMALY>
</meanElements><tleParameters>
<EPHEMERIS_TYPE>0</EPHEMERIS_TYPE><CLASSIFICATION_TYPE>U</CLASSIFICATION_TYPE><NORAD_CAT_ID>39444</NORAD_CAT_ID>
<ELEMENT_SET_NO>999</ELEMENT_SET_NO><REV_AT_EPOCH>67551</REV_AT_EPOCH><BSTAR>.33102E-3</BSTAR>
<MEAN_MOTION_DOT>.5251E-4</MEAN_MOTION_DOT><MEAN_MOTION_DDOT>0</MEAN_MOTION_DDOT>
</tleParameters></data></segment></body></omm></ndm>
"""
FIELDS = {"OBJECT_NAME": NAME, "OBJECT_ID": "2013-066AE", "EPOCH": EPOCH_ISO, "MEAN_MOTION": 15.09093359,
          "ECCENTRICITY": 0.0034836, "INCLINATION": 97.8265, "RA_OF_ASC_NODE": 111.5579,
          "ARG_OF_PERICENTER": 298.9376, "MEAN_ANOMALY": 60.836, "EPHEMERIS_TYPE": 0,
          "CLASSIFICATION_TYPE": "U", "NORAD_CAT_ID": 39444, "ELEMENT_SET_NO": 999, "REV_AT_EPOCH": 67551,
          "BSTAR": 0.00033102, "MEAN_MOTION_DOT": 5.251e-5, "MEAN_MOTION_DDOT": 0}
JSON = json.dumps([FIELDS])
KVN = "CCSDS_OMM_VERS = 2.0\nCOMMENT made by hand\nMEAN_ELEMENT_THEORY = SGP4\n" + "\n".join(
    f"{k} = {v}" for k, v in FIELDS.items()) + "\nINCLINATION = 97.8265 [deg]\n"
CSV = ",".join(FIELDS) + "\n" + ",".join(str(v) for v in FIELDS.values()) + "\n"


@pytest.mark.parametrize("text", [XML, JSON, KVN, CSV], ids=["xml", "json", "kvn", "csv"])
def test_omm_forms_give_the_same_orbit_as_the_tle(text):
    sets, errs = parse_omm(text, "omm")
    assert errs == [] and len(sets) == 1
    es = sets[0]
    ref = parse_tle_lines(L1, L2, NAME)
    assert es.norad == 39444 and es.name == NAME and es.intldesg == "13066AE"
    assert es.epoch_unix_s == pytest.approx(ref.epoch_unix_s, abs=1e-5)
    assert es.line1 is None  # built through sgp4init from the values
    for minutes in (0.0, 720.0, 1440.0):
        _, r1, _ = es.satrec().sgp4_tsince(minutes)
        _, r2, _ = ref.satrec().sgp4_tsince(minutes)
        assert np.linalg.norm(np.subtract(r1, r2)) < 1e-3  # km


def _json_with(**changes):
    d = dict(FIELDS)
    for k, v in changes.items():
        if v is KeyError:
            d.pop(k)
        else:
            d[k] = v
    return json.dumps([d])


BAD_OMM = [
    ("missing epoch", _json_with(EPOCH=KeyError), "missing keyword EPOCH"),
    ("mean motion text", _json_with(MEAN_MOTION="fast"), "MEAN_MOTION: 'fast' is not a number"),
    ("boolean", _json_with(BSTAR=True), "BSTAR: expected a number, got True"),
    ("bad epoch", _json_with(EPOCH="2026-13-40T00:00:00"), "EPOCH: epoch '2026-13-40T00:00:00' is not a valid"),
    ("epoch garbage", _json_with(EPOCH="yesterday"), "is not an ISO 8601 UTC time"),
    ("theory SGP4-XP", _json_with(MEAN_ELEMENT_THEORY="SGP4-XP"), "MEAN_ELEMENT_THEORY is 'SGP4-XP', only SGP4"),
    ("frame", _json_with(REF_FRAME="GCRF"), "REF_FRAME is 'GCRF'"),
    ("eccentricity 1.5", _json_with(ECCENTRICITY=1.5), "eccentricity 1.5 is outside [0, 1)"),
    ("norad text", _json_with(NORAD_CAT_ID="abc"), "NORAD_CAT_ID: 'abc' is not an integer"),
    ("norad fraction", _json_with(NORAD_CAT_ID=3.5), "NORAD_CAT_ID: 3.5 is not an integer"),
    # JSON allows 400-digit integers: float() of one overflowed out of the parser (found by bench_fuzz)
    ("huge integer", _json_with(ARG_OF_PERICENTER=10 ** 400), "ARG_OF_PERICENTER: 100000000000...(401 digits) "
                                                              "is not finite"),
    ("huge norad", _json_with(NORAD_CAT_ID=10 ** 400), "NORAD_CAT_ID 100000000000...(401 digits) is not a valid"),
    ("json syntax", "[{\"EPOCH\": }]", "not valid JSON"),
    ("json not objects", "[1, 2]", "expected an object of OMM keywords"),
    ("xml broken", XML.replace("</omm>", ""), "not well-formed XML"),
    ("xml entity", "<!DOCTYPE x [<!ENTITY a 'b'>]>" + XML.split("?>", 1)[1], "DOCTYPE or ENTITY"),
    ("xml no omm", "<ndm><nothing/></ndm>", "XML holds no <omm> element"),
    ("kvn garbage", "CCSDS_OMM_VERS = 2.0\nthis is not kvn\n", "expected KEYWORD = value"),
    ("not omm at all", "hello", "not an OMM document"),
]


@pytest.mark.parametrize("text,msg", [b[1:] for b in BAD_OMM], ids=[b[0] for b in BAD_OMM])
def test_malformed_omm_is_rejected_with_a_clear_line(text, msg):
    sets, errs = parse_omm(text, "in.omm")
    assert sets == []
    assert any(msg in e for e in errs), errs
    assert all("\n" not in e for e in errs)


# --- the store --------------------------------------------------------------------

def _older_l1(day: str) -> str:
    return fix(edit(L1, 21, day))


def test_store_keeps_the_newest_set_and_reports_the_rest(tmp_path):
    st = TLEStore()
    seen = []
    st.subscribe(seen.append)
    now = parse_tle_lines(L1, L2).epoch_unix_s + 86400
    rep = st.update_from_text(f"{NAME}\n{L1}\n{L2}\n", now, "a")
    assert rep.added == [39444] and seen == [[39444]]
    rep = st.update_from_text(f"{NAME}\n{_older_l1('140.00000000')}\n{L2}\n", now, "b")
    assert rep.changed == [] and "older than the stored" in rep.ignored[0]
    rep = st.update_from_text(f"{NAME}\n{L1}\n{L2}\n", now, "c")
    assert rep.changed == [] and "same epoch" in rep.ignored[0]
    newer = _older_l1("141.00000000")
    rep = st.update_from_text(f"{NAME}\n{newer}\n{L2}\n", now, "d")
    assert rep.updated == [39444] and seen == [[39444], [39444]]
    assert st.get(39444).line1 == newer and st.get(39444).source == "d"


def test_store_age_and_stale_flag():
    st = TLEStore(stale_after_s=3 * 86400)
    es = parse_tle_lines(L1, L2)
    st.update([es], es.epoch_unix_s)
    assert st.age_s(39444, es.epoch_unix_s + 86400) == pytest.approx(86400)
    assert not st.is_stale(39444, es.epoch_unix_s + 2 * 86400)
    assert st.is_stale(39444, es.epoch_unix_s + 4 * 86400)
    assert st.stale(es.epoch_unix_s + 4 * 86400) == [(39444, pytest.approx(4.0))]
    row = st.status(es.epoch_unix_s + 4 * 86400)[0]
    assert row["stale"] is True and row["age_days"] == pytest.approx(4.0)


def test_store_strict_update_applies_nothing_on_any_error():
    st = TLEStore()
    text = f"{NAME}\n{L1}\n{L2}\nBAD\n{L1[:68]}0\n{L2}\n"
    with pytest.raises(InputError, match="1 problem.*nothing applied.*checksum"):
        st.update_from_text(text, 0.0, strict=True)
    assert len(st) == 0
    rep = st.update_from_text(text, 0.0, strict=False)
    assert rep.added == [39444] and len(rep.errors) == 1


def test_store_persists_across_restarts(tmp_path):
    path = tmp_path / "state" / "tle.json"
    st = TLEStore(path)
    st.update_from_file(SEED_TLE, 1.8e9)
    st.update_from_text(XML, 1.8e9 + 5, "omm")  # same epoch as the TLE set: ignored
    again = TLEStore(path)
    assert again.norads() == st.norads()
    a, b = st.get(44854), again.get(44854)
    assert a == b and b.line1 == a.line1
    assert again.stored(44854).received_unix_s == 1.8e9
    _, r1, _ = a.satrec().sgp4_tsince(100.0)
    _, r2, _ = b.satrec().sgp4_tsince(100.0)
    assert r1 == r2


def test_store_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "garbage.tle"
    bad.write_text("just\nsome\ntext\n")
    with pytest.raises(InputError, match="garbage.tle: no usable element set"):
        TLEStore().update_from_file(bad, 0.0)
    with pytest.raises(InputError, match="cannot read"):
        TLEStore().update_from_file(tmp_path / "missing.tle", 0.0)
    corrupt = tmp_path / "tle.json"
    corrupt.write_text("{not json")
    with pytest.raises(InputError, match="element-set store is unreadable"):
        TLEStore(corrupt)
    with pytest.raises(InputError, match="no element set for NORAD 1"):
        TLEStore().get(1)
