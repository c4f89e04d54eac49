"""Fuzz the element-set readers: TLE/3LE text, OMM in its four forms, and the store's update from text.

Boundaries:

* ``tle.text``: ``parse_tle_text`` never raises; it returns valid sets and one
  error line per problem. Inputs: real TLEs mutated column by column (the
  checksum recomputed most of the time, so the mutation reaches the field
  parsers), lines dropped, swapped, names and comments added, and raw text;
* ``tle.lines``: ``parse_tle_lines`` gives an ``ElementSet`` or ``InputError``;
* ``omm``: ``parse_omm`` (sniffed form, and each form forced) never raises;
  inputs: real element sets as OMM keyword records with values replaced,
  removed or added, rendered as JSON, KVN, XML or CSV, then mutated as text;
* ``elements.store``: ``TLEStore.update_from_text`` (what ``tle.upload`` and
  the element-set files go through) gives a report or ``InputError``.

Every set that comes out is checked: finite elements inside their ranges,
SGP4 propagates it at its epoch, and its TLE lines (what ``tle.show``
returns) can be produced.
"""
from __future__ import annotations

import math

from hypothesis import given, strategies as st

from groundseg.orbit.elements import ElementSet, check_ranges
from groundseg.orbit.omm import parse_omm
from groundseg.orbit.store import TLEStore
from groundseg.orbit.tle import parse_tle_lines, parse_tle_text

from . import _seeds
from ._harness import attempt, fuzz_settings
from ._mutate import PAYLOAD_TEXT, apply_text, text_ops

NOW_UNIX_S = 1.75e9

# --- checks ----------------------------------------------------------------------------------------


def check_element_set(es: ElementSet) -> None:
    assert isinstance(es, ElementSet)
    assert isinstance(es.norad, int) and es.norad > 0
    vals = dict(inclination_deg=es.inclination_deg, raan_deg=es.raan_deg, eccentricity=es.eccentricity,
                arg_perigee_deg=es.arg_perigee_deg, mean_anomaly_deg=es.mean_anomaly_deg,
                mean_motion_rev_per_day=es.mean_motion_rev_per_day, bstar=es.bstar, ndot=es.ndot, nddot=es.nddot)
    assert check_ranges(vals, "set") == [], vals
    assert math.isfinite(es.epoch_unix_s)
    err, r, _v = es.satrec().sgp4_tsince(0.0)
    assert err == 0 and all(math.isfinite(x) for x in r)
    l1, l2 = es.tle_lines()
    assert isinstance(l1, str) and isinstance(l2, str)


def check_parsed(result) -> None:
    sets, errs = result
    assert isinstance(sets, list) and isinstance(errs, list)
    assert all(isinstance(e, str) and e.strip() for e in errs)
    for es in sets:
        check_element_set(es)


# --- TLE ----------------------------------------------------------------------------------------------

_TLE_CHARS = st.sampled_from(list("0123456789 +-.eEUCSXAZ\t") + ["", "\x00", "é"])


@st.composite
def mutated_tle_line(draw, line: str) -> str:
    chars = list(line)
    for _ in range(draw(st.integers(0, 4))):
        if not chars:
            break
        i = draw(st.integers(0, len(chars) - 1))
        chars[i] = draw(_TLE_CHARS)
    out = "".join(chars)
    kind = draw(st.integers(0, 9))
    if kind == 0:
        out = out[:draw(st.integers(0, len(out)))]
    elif kind == 1:
        out = out + draw(PAYLOAD_TEXT)
    if draw(st.integers(0, 4)):
        out = _seeds.fix_checksum(out)
    return out


@st.composite
def tle_texts(draw) -> str:
    triples = _seeds.tle_triples()
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        name, l1, l2 = draw(st.sampled_from(triples))
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from([name, "0 " + name, "", "# comment", draw(PAYLOAD_TEXT)])))
        lines.append(draw(mutated_tle_line(l1)) if draw(st.integers(0, 2)) else l1)
        lines.append(draw(mutated_tle_line(l2)) if draw(st.integers(0, 2)) else l2)
    if draw(st.integers(0, 5)) == 0:
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    if draw(st.integers(0, 5)) == 0:
        del lines[draw(st.integers(0, len(lines) - 1))]
    eol = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\u2028"]))
    text = eol.join(lines) + draw(st.sampled_from(["", eol]))
    if draw(st.integers(0, 4)) == 0:
        text = apply_text(text, draw(text_ops()))
    return text


@fuzz_settings(300)
@given(tle_texts())
def test_tle_text(text):
    attempt("tle.text", parse_tle_text, text, check=check_parsed, allowed=())


@fuzz_settings(100)
@given(st.text(max_size=400))
def test_tle_text_any_text(text):
    attempt("tle.text", parse_tle_text, text, check=check_parsed, allowed=())


@st.composite
def tle_pairs(draw):
    _name, l1, l2 = draw(st.sampled_from(_seeds.tle_triples()))
    return draw(mutated_tle_line(l1)), draw(mutated_tle_line(l2))


@fuzz_settings(200)
@given(tle_pairs())
def test_tle_lines(pair):
    attempt("tle.lines", parse_tle_lines, *pair, check=check_element_set, show=pair)


# --- OMM ------------------------------------------------------------------------------------------------

_OMM_VALUES = st.one_of(
    PAYLOAD_TEXT, st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
    st.sampled_from(["2024-02-30T00:00:00", "2024-060T12:00:00Z", "1999-12-31T23:59:60.5", "0000-01-01T00:00:00",
                     "9999-12-31T23:59:59.999999", "SGP4", "SGP", "TEME", "GCRF", "EARTH", "MOON", "UTC", "TAI",
                     "U", "S", "X", 999999999, 1000000000, 0, -1, 17.5, 17.6, 180.0, 180.1, 360.0, 1.0, 0.999999,
                     "2013-066Q\u00e9\u00e9\u00e9", "\u00e9" * 9, "2013-066QQQQ", "\U0001f6f0" * 4,
                     "1e400", 10 ** 400, [], {}, [1, 2], {"a": 1}]))
_OMM_KEYS = st.sampled_from(["EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE",
                             "ARG_OF_PERICENTER", "MEAN_ANOMALY", "NORAD_CAT_ID", "BSTAR", "MEAN_MOTION_DOT",
                             "MEAN_MOTION_DDOT", "EPHEMERIS_TYPE", "ELEMENT_SET_NO", "REV_AT_EPOCH",
                             "CLASSIFICATION_TYPE", "OBJECT_NAME", "OBJECT_ID", "MEAN_ELEMENT_THEORY", "REF_FRAME",
                             "CENTER_NAME", "TIME_SYSTEM", "norad_cat_id", " EPOCH "]) | st.text(max_size=10)


@st.composite
def omm_records(draw) -> list[dict]:
    base = _seeds.omm_records()
    recs = [dict(draw(st.sampled_from(base))) for _ in range(draw(st.integers(1, 3)))]
    for r in recs:
        for _ in range(draw(st.integers(0, 4))):
            op = draw(st.integers(0, 2))
            key = draw(_OMM_KEYS)
            if op == 0:
                r[key] = draw(_OMM_VALUES)
            elif op == 1:
                r.pop(key, None)
            else:
                r[draw(st.sampled_from(sorted(r)))] = draw(_OMM_VALUES)
    return recs


@st.composite
def omm_texts(draw) -> tuple[str, str]:
    form = draw(st.sampled_from(_seeds.OMM_FORMS))
    text = _seeds.render_omm(draw(omm_records()), form)
    if draw(st.integers(0, 3)) == 0:
        text = apply_text(text, draw(text_ops()))
    return form, text


def _parse_omm_both_ways(form_text):
    form, text = form_text
    res = parse_omm(text)
    check_parsed(res)
    return parse_omm(text, form=form)


@fuzz_settings(400)
@given(omm_texts())
def test_omm(form_text):
    attempt("omm", _parse_omm_both_ways, form_text, check=check_parsed, allowed=())


@fuzz_settings(100)
@given(st.sampled_from(_seeds.OMM_FORMS), st.text(max_size=400))
def test_omm_any_text(form, text):
    attempt("omm", _parse_omm_both_ways, (form, text), check=check_parsed, allowed=())


# --- the store ----------------------------------------------------------------------------------------------


def _store_update(text_strict):
    text, strict = text_strict
    store = TLEStore()
    rep = store.update_from_text(text, NOW_UNIX_S, source="fuzz", strict=strict)
    for es in store.all():
        check_element_set(es)
    store.status(NOW_UNIX_S)
    return rep


@fuzz_settings(150)
@given(st.one_of(tle_texts(), omm_texts().map(lambda ft: ft[1])), st.booleans())
def test_store_update_from_text(text, strict):
    attempt("elements.store", _store_update, (text, strict))


# --- regressions found by this fuzzing -----------------------------------------------------------------------

def test_omm_json_nested_too_deep_is_an_error_line_not_a_recursion_error():
    sets, errs = parse_omm("[" * 100000)
    assert sets == [] and len(errs) == 1 and "not valid JSON" in errs[0]


def test_omm_csv_field_over_the_csv_limit_is_an_error_line():
    sets, errs = parse_omm("NORAD_CAT_ID,OBJECT_NAME\n1," + "a" * 200000 + "\n")
    assert sets == [] and errs and "CSV" in errs[0]


def test_tle_with_a_tab_in_a_column_is_refused_not_given_a_nan_orbit():
    """A tab in the international designator shifted the fields the SGP4 library reads: it propagated to NaN."""
    _name, l1, l2 = _seeds.tle_triples()[0]
    bad = _seeds.fix_checksum(l1[:11] + "\t" + l1[12:])
    sets, errs = parse_tle_text(bad + "\n" + l2 + "\n")
    assert sets == [] and any("column 12" in e and "printable" in e for e in errs), errs


def test_sgp4_must_read_the_values_the_parser_validated():
    """Should the SGP4 library ever read a field differently from the column parser, the set is refused."""
    import dataclasses

    from groundseg.orbit import tle as T

    _name, l1, l2 = _seeds.tle_triples()[0]
    es = parse_tle_lines(l1, l2)
    assert T._sgp4_reads_the_same(es, "x") == []
    other = dataclasses.replace(es, eccentricity=es.eccentricity + 0.01)  # same lines, another value
    errs = T._sgp4_reads_the_same(other, "x")
    assert errs and "eccentricity" in errs[0]


def test_omm_object_id_that_is_not_ascii_is_an_error_line():
    """Found by atheris: a non-ASCII OBJECT_ID went into the SGP4 record cut at 8 characters; reading it
    back (tle.show, the TLE export) raised UnicodeDecodeError."""
    rec = dict(_seeds.omm_records()[0], OBJECT_ID="1998-067Aéééé")
    sets, errs = parse_omm(_seeds.render_omm([rec], "json"))
    assert sets == [] and any("OBJECT_ID" in e and "ASCII" in e for e in errs), errs
    rec = dict(_seeds.omm_records()[0], OBJECT_ID="1998-067A")
    sets, errs = parse_omm(_seeds.render_omm([rec], "json"))
    assert errs == [] and sets[0].tle_lines()[0].startswith("1 ")
