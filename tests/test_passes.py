"""Pass prediction against skyfield (an independent search) and as properties."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundseg.errors import InputError
from groundseg.orbit import GroundStation, HorizonMask, find_passes, look_angles, parse_tle_text, pass_track
from groundseg.orbit.frames import skyfield_time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SETS, _ = parse_tle_text((ROOT / "seeds" / "tle" / "catalog.tle").read_text())
BY_NORAD = {s.norad: s for s in SETS}
WARSAW = GroundStation(52.2297, 21.0122, 110.0)
MASK = HorizonMask(((0.0, 4.0), (60.0, 12.0), (120.0, 2.0), (200.0, 15.0), (300.0, 6.0)), min_el_deg=1.0)


def _skyfield_sat(es):
    from skyfield.api import EarthSatellite

    from groundseg.orbit.frames import _timescale

    return EarthSatellite(es.line1, es.line2, ts=_timescale())


def _unix(t) -> np.ndarray:
    """skyfield Time(s) -> UTC Unix seconds."""
    return np.array([d.timestamp() for d in np.atleast_1d(t.utc_datetime())])


def _skyfield_topos(station):
    from skyfield.api import wgs84

    return wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)


@pytest.mark.parametrize("norad", sorted(BY_NORAD))
def test_passes_match_skyfield_find_events(norad):
    es = BY_NORAD[norad]
    t0, t1 = es.epoch_unix_s, es.epoch_unix_s + 2 * 86400
    ours = [p for p in find_passes([es], WARSAW, t0, t1, mask=HorizonMask(min_el_deg=5.0)).passes
            if p.aos_unix_s > t0 and p.los_unix_s < t1]
    times, kinds = _skyfield_sat(es).find_events(_skyfield_topos(WARSAW), skyfield_time(t0), skyfield_time(t1),
                                                 altitude_degrees=5.0)
    t = _unix(times)
    rises, culms, sets_ = t[kinds == 0], t[kinds == 1], t[kinds == 2]
    assert len(ours) == len(rises) == len(sets_) and len(ours) > 0
    for p, r, c, s in zip(ours, rises, culms, sets_):
        assert abs(p.aos_unix_s - r) < 1.0
        assert abs(p.los_unix_s - s) < 1.0
        assert abs(p.tca_unix_s - c) < 5.0  # the maximum is flat: time is loosely defined there
        assert p.aos_unix_s < p.tca_unix_s < p.los_unix_s


def test_masked_passes_match_brute_force_sampling():
    """With a horizon mask: skyfield's alt/az sampled every 5 s, crossings refined at 50 ms."""
    es = BY_NORAD[44878]
    t0 = es.epoch_unix_s
    t1 = t0 + 86400.0
    ours = [p for p in find_passes([es], WARSAW, t0, t1, mask=MASK).passes
            if p.aos_unix_s > t0 + 10 and p.los_unix_s < t1 - 10]
    topo = _skyfield_sat(es) - _skyfield_topos(WARSAW)

    def margin(t):
        alt, az, _ = topo.at(skyfield_time(t)).altaz()
        return alt.degrees - MASK.limit_deg(az.degrees), alt.degrees

    grid = np.arange(t0, t1, 5.0)
    f, alt = margin(grid)
    up = f >= 0
    crossings = {}
    for kind, where in (("rise", ~up[:-1] & up[1:]), ("set", up[:-1] & ~up[1:])):
        found = []
        for i in np.flatnonzero(where):
            fine = np.arange(grid[i], grid[i + 1] + 0.05, 0.05)
            ff, _ = margin(fine)
            j = np.flatnonzero((ff[:-1] >= 0) != (ff[1:] >= 0))[0]
            found.append(fine[j + 1])
        crossings[kind] = np.array(found)
    rises, sets_ = crossings["rise"], crossings["set"]
    assert len(ours) == len(rises) == len(sets_) and len(ours) >= 3
    for p, r, s in zip(ours, rises, sets_):
        assert abs(p.aos_unix_s - r) <= 0.1
        assert abs(p.los_unix_s - s) <= 0.1
        sampled = alt[(grid >= r) & (grid < s)].max()
        assert sampled - 0.005 <= p.max_el_deg <= sampled + 0.3  # 5 s samples miss the very top


def test_look_angles_match_skyfield():
    es = BY_NORAD[39444]
    t = es.epoch_unix_s + np.linspace(0, 86400, 2000)
    ours = look_angles(es, WARSAW, t)
    topo = (_skyfield_sat(es) - _skyfield_topos(WARSAW)).at(skyfield_time(t))
    alt, az, dist, _, _, rr = topo.frame_latlon_and_rates(_skyfield_topos(WARSAW))
    np.testing.assert_allclose(ours.el_deg, alt.degrees, atol=2e-3)
    visible = alt.degrees < 85  # azimuth is ill-conditioned at the zenith
    daz = (ours.az_deg - az.degrees + 180) % 360 - 180
    assert np.max(np.abs(daz[visible])) < 5e-3
    np.testing.assert_allclose(ours.range_m, dist.m, atol=30.0)
    np.testing.assert_allclose(ours.range_rate_mps, rr.km_per_s * 1e3, atol=0.05)


def test_pass_already_under_way_gets_its_real_aos():
    es = BY_NORAD[43804]
    day = find_passes([es], WARSAW, es.epoch_unix_s, es.epoch_unix_s + 86400).passes
    p = max(day, key=lambda q: q.duration_s)
    mid = p.tca_unix_s
    again = find_passes([es], WARSAW, mid, mid + 3600).passes[0]
    assert again.aos_unix_s == pytest.approx(p.aos_unix_s, abs=1e-2) and not again.aos_truncated
    clipped = find_passes([es], WARSAW, mid, mid + 3600, lookaround_s=0).passes[0]
    assert clipped.aos_truncated and clipped.aos_unix_s == mid
    assert clipped.los_unix_s == pytest.approx(p.los_unix_s, abs=1e-2)


def test_decayed_sets_are_reported_not_raised():
    es = BY_NORAD[41909]  # BY70-1, 2017 elements: SGP4 gives up years later
    res = find_passes([es, BY_NORAD[39444]], WARSAW, 1.795e9, 1.795e9 + 86400)
    assert "SGP4 error" in res.problems[41909]
    assert res.passes and all(p.norad == 39444 for p in res.passes)
    with pytest.raises(InputError, match="NORAD 41909: SGP4 error"):
        look_angles(es, WARSAW, [1.795e9])


def test_pass_track_runs_from_horizon_to_horizon():
    es = BY_NORAD[44854]
    p = max(find_passes([es], WARSAW, es.epoch_unix_s, es.epoch_unix_s + 86400).passes,
            key=lambda q: q.max_el_deg)
    tr = pass_track(p, es, WARSAW, step_s=1.0)
    assert tr.t_unix_s[0] == p.aos_unix_s and tr.t_unix_s[-1] == p.los_unix_s
    assert abs(tr.el_deg[0]) < 0.01 and abs(tr.el_deg[-1]) < 0.01
    assert tr.el_deg.max() == pytest.approx(p.max_el_deg, abs=0.01)
    assert np.all(tr.el_deg > -0.01)
    assert tr.range_rate_mps[0] < 0 < tr.range_rate_mps[-1]  # approaching, then receding


BAD_MASKS = [
    (dict(points=((400.0, 5.0),)), "azimuth 400.0 is outside"),
    (dict(points=((10.0, 95.0),)), "elevation 95.0 is outside"),
    (dict(points=((10.0, 5.0), (10.0, 6.0))), "same azimuth"),
    (dict(points=(("a", 5.0),)), "expected [az_deg, el_deg]"),
    (dict(min_el_deg=90.0), "min_el_deg 90.0 is outside"),
]


@pytest.mark.parametrize("kwargs,msg", BAD_MASKS)
def test_bad_horizon_masks_are_rejected(kwargs, msg):
    with pytest.raises(InputError, match="horizon mask: .*" + msg.replace("[", r"\[").replace(".", r"\.")):
        HorizonMask(**kwargs)


def test_mask_interpolates_around_north():
    m = HorizonMask(((10.0, 10.0), (350.0, 20.0)))
    assert m.limit_deg(0.0) == pytest.approx(15.0)
    assert m.limit_deg(180.0) == pytest.approx(15.0)
    assert m.limit_deg(10.0) == pytest.approx(10.0)


@pytest.mark.parametrize("args,msg", [((100.0, 50.0), "is not after start"), ((0.0, 2 * 366 * 86400.0), "longer"),
                                      ((0.0, 100.0, None, 0.1), "step_s 0.1")])
def test_bad_search_arguments(args, msg):
    with pytest.raises(InputError, match=msg):
        find_passes([SETS[0]], WARSAW, *args)


# --- properties ------------------------------------------------------------------

masks = st.lists(st.tuples(st.floats(0, 359.9), st.floats(0, 30)), max_size=6,
                 unique_by=lambda p: round(p[0], 3)).map(lambda pts: HorizonMask(tuple(pts)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(norad=st.sampled_from(sorted(n for n in BY_NORAD if n != 41909)),
       lat=st.floats(-75, 75), lon=st.floats(-180, 180), offset_days=st.floats(0, 3), mask=masks)
def test_pass_properties(norad, lat, lon, offset_days, mask):
    es = BY_NORAD[norad]
    station = GroundStation(lat, lon, 0.0)
    t0 = es.epoch_unix_s + offset_days * 86400
    res = find_passes([es], station, t0, t0 + 86400, mask=mask)
    passes = res.passes
    for p in passes:
        assert p.los_unix_s > p.aos_unix_s  # LOS after AOS
        assert p.aos_unix_s <= p.tca_unix_s <= p.los_unix_s
    for a, b in zip(passes, passes[1:]):
        assert b.aos_unix_s > a.los_unix_s  # no two rises in a row
    rises = [p for p in passes if not p.aos_truncated and p.duration_s > 2]
    if rises:
        # Every rise goes upward and every set goes downward, through the mask.
        t_aos = np.array([p.aos_unix_s for p in rises])
        t_los = np.array([p.los_unix_s for p in rises])
        for t, sign in ((t_aos, 1), (t_los, -1)):
            before = look_angles(es, station, t - 0.5)
            after = look_angles(es, station, t + 0.5)
            fb = before.el_deg - mask.limit_deg(before.az_deg)
            fa = after.el_deg - mask.limit_deg(after.az_deg)
            assert np.all(sign * fb < 0) and np.all(sign * fa > 0)
        # The culmination is the highest point of the pass.
        for p in rises:
            tr = pass_track(p, es, station, step_s=max(p.duration_s / 50, 0.5))
            assert p.max_el_deg >= tr.el_deg.max() - 1e-3


def test_many_satellites_give_the_same_passes_as_one_by_one():
    start = max(s.epoch_unix_s for s in SETS if s.norad != 41909)
    sets = [s for s in SETS if s.norad not in (41909,)]
    together = find_passes(sets, WARSAW, start, start + 86400).passes
    alone = [p for s in sets for p in find_passes([s], WARSAW, start, start + 86400).passes]
    key = lambda p: (p.norad, round(p.aos_unix_s, 2), round(p.los_unix_s, 2))  # noqa: E731
    assert sorted(map(key, together)) == sorted(map(key, alone))
    assert together == sorted(together, key=lambda p: (p.aos_unix_s, p.norad))


# --- the `groundseg passes` command --------------------------------------------------

def _station_file(tmp_path):
    text = (ROOT / "seeds" / "station.toml").read_text()
    text = text.replace('state_dir = "~/.local/state/groundseg/demo"', 'state_dir = "state"')
    text = text.replace('tle_files = ["tle/*.tle"]', f'tle_files = ["{ROOT / "seeds" / "tle" / "catalog.tle"}"]')
    p = tmp_path / "station.toml"
    p.write_text(text)
    return p


def test_passes_command(tmp_path, capsys):
    import json

    from groundseg.cli import main
    from groundseg.config import load_config

    path = _station_file(tmp_path)
    start = BY_NORAD[44854].epoch_unix_s
    rc = main(["passes", "--station", str(path), "--norad", "44854", "--start", "2020-01-31T11:27:53Z",
               "--hours", "24", "--json"])
    out = capsys.readouterr()
    assert rc == 0
    rows = [json.loads(line) for line in out.out.splitlines()]
    cfg = load_config(path)
    expected = find_passes([BY_NORAD[44854]], cfg.ground_station(), start, start + 86400,
                           mask=cfg.horizon_mask()).passes
    assert [r["aos_unix_s"] for r in rows] == pytest.approx([p.aos_unix_s for p in expected], abs=1e-3)
    assert rows and all(r["norad"] == 44854 and r["name"] == "DUCHIFAT-3" for r in rows)
    assert "stale" not in out.err  # the prediction starts at the epoch of the set
    assert not (tmp_path / "state").exists()  # listing writes nothing
    rc = main(["passes", "--station", str(path), "--start", "2020-01-31T11:27:53Z", "--hours", "24"])
    out = capsys.readouterr()
    assert rc == 0 and "AOS (UTC)" in out.out and "DUCHIFAT-3" in out.out
    assert "element set of NORAD 39444 has its epoch 2301.2 days later (stale)" in out.err
    rc = main(["passes", "--station", str(path), "--norad", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "no element set for NORAD 1" in err and "Traceback" not in err
