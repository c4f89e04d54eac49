"""The pass simulator: Doppler, path loss, visibility and frames of a synthetic pass, from a real TLE."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from groundseg.catalog import Transmitter, load_catalog
from groundseg.errors import InputError
from groundseg.orbit import DopplerModel, GroundStation, HorizonMask, find_passes, look_angles
from groundseg.orbit.store import parse_elements
from groundseg.sim import LinkBudget, SimSettings, fspl_db, simulate_pass
from groundseg.sim.payloads import beacon_payload, parse_beacon
from groundseg.sim.signal import resample_fft
from groundseg.storage.recording import read_sigmf_meta

ROOT = pathlib.Path(__file__).resolve().parents[1]
STATION = GroundStation(52.2297, 21.0122, 110.0)
FS = 32000.0


def _elements(norad: int):
    sets, _ = parse_elements((ROOT / "seeds" / "tle" / "catalog.tle").read_text())
    return {s.norad: s for s in sets}[norad]


@pytest.fixture(scope="module")
def funcube_pass():
    es = _elements(39444)
    res = find_passes([es], STATION, es.epoch_unix_s, es.epoch_unix_s + 86400)
    return es, next(p for p in res.passes if p.max_el_deg > 30)


@pytest.fixture(scope="module")
def sim(funcube_pass, tmp_path_factory):
    """BPSK beacons (without the noise) from 40 s before AOS to 80 s after."""
    es, p = funcube_pass
    tx = load_catalog().by_norad(39444).transmitters[0]
    out = tmp_path_factory.mktemp("sim") / "pass"
    s = SimSettings(samp_rate_sps=FS, add_noise=False, beacon_interval_s=6.0, first_beacon_s=0.5)
    sp = simulate_pass(es, STATION, tx, p.aos_unix_s - 40.0, p.aos_unix_s + 80.0, out, satellite="FUNcube-1",
                       settings=s)
    return es, p, tx, sp, np.fromfile(sp.data_path, np.complex64), s


def test_the_file_and_its_metadata(sim):
    es, p, tx, sp, x, s = sim
    assert x.size == sp.n_samples == int(120.0 * FS)
    m = read_sigmf_meta(sp.meta_path)
    assert m["global"]["core:sample_rate"] == FS
    assert m["global"]["groundseg:norad"] == 39444
    assert m["captures"][0]["core:frequency"] == tx.frequency_hz
    assert len(m["annotations"]) == len(sp.frames)
    assert [a["core:sample_start"] for a in m["annotations"]] == [f.sample_start for f in sp.frames]


def test_nothing_is_heard_before_aos(sim):
    es, p, tx, sp, x, s = sim
    before = [f for f in sp.frames if f.end_unix_s < p.aos_unix_s]
    after = [f for f in sp.frames if f.t_unix_s > p.aos_unix_s]
    assert before and after
    for f in before:
        assert not f.in_view
        seg = x[f.sample_start:f.sample_start + f.sample_count]
        assert np.all(seg == 0)  # the Earth is in the way: nothing arrives
    assert all(f.in_view for f in after)


def test_the_carrier_follows_the_doppler_model(sim):
    """BPSK squared is a tone at twice the carrier: its frequency, halved, is the Doppler shift."""
    es, p, tx, sp, x, s = sim
    model = DopplerModel(es, STATION)
    checked = 0
    for f in sp.frames:
        if not f.in_view:
            continue
        seg = x[f.sample_start:f.sample_start + f.sample_count].astype(np.complex128)
        mid = seg[seg.size // 4: 3 * seg.size // 4]  # avoid the pulse tails
        sq = mid ** 2
        n = 1 << 20
        spec = np.abs(np.fft.fft(sq, n))
        freqs = np.fft.fftfreq(n, 1.0 / FS)
        measured = freqs[np.argmax(spec)] / 2.0
        t_mid = sp.t0_unix_s + (f.sample_start + seg.size / 2) / FS
        want = float(model.offset_hz(tx.frequency_hz, t_mid)[0])
        assert abs(measured - want) < 3.0, (measured, want)
        checked += 1
    assert checked >= 8


def test_the_power_follows_free_space_path_loss(sim):
    es, p, tx, sp, x, s = sim
    seen = [f for f in sp.frames if f.in_view]
    pw = []
    for f in seen:
        seg = x[f.sample_start:f.sample_start + f.sample_count]
        pw.append(10 * np.log10(np.mean(np.abs(seg) ** 2)))
    pw = np.array(pw)
    rng = np.array([f.range_m for f in seen])
    assert np.ptp(rng) > 300e3  # the satellite closes in noticeably over the span
    # received power (dB) + 20 log10(range) is constant: the 1/r^2 law
    np.testing.assert_allclose(pw + 20 * np.log10(rng), (pw + 20 * np.log10(rng))[0], atol=0.3)
    # and its absolute level is the link budget's C over the noise density
    n0 = 2 * s.noise_rms ** 2 / FS
    want = s.link.cn0_dbhz(rng, tx.frequency_hz) + 10 * np.log10(n0)
    np.testing.assert_allclose(pw, want, atol=0.3)
    # with the noise, before AOS: the noise floor, at the set power
    noisy = simulate_pass(es, STATION, tx, sp.t0_unix_s, sp.t0_unix_s + 10.0, sp.data_path.parent / "noisy",
                          settings=SimSettings(samp_rate_sps=FS))
    y = np.fromfile(noisy.data_path, np.complex64)
    assert np.mean(np.abs(y) ** 2) == pytest.approx(2 * SimSettings().noise_rms ** 2, rel=0.02)


def test_frames_behind_the_horizon_mask_are_attenuated_and_not_in_view(funcube_pass, tmp_path):
    es, p = funcube_pass
    tx = load_catalog().by_norad(39444).transmitters[0]
    t = p.aos_unix_s + 30.0
    # an 80-degree wall all round (buildings): the satellite is behind it 30 s after AOS
    s = SimSettings(samp_rate_sps=FS, add_noise=False, beacon_interval_s=10.0, first_beacon_s=0.0,
                    obstruction_db=20.0)
    mask = HorizonMask(((0.0, 80.0), (90.0, 80.0), (180.0, 80.0), (270.0, 80.0)))
    assert look_angles(es, STATION, t).el_deg[0] < 80.0
    free = simulate_pass(es, STATION, tx, t - 5, t + 10, tmp_path / "a", settings=s)
    walled = simulate_pass(es, STATION, tx, t - 5, t + 10, tmp_path / "b", settings=s, mask=mask)
    assert [f.in_view for f in free.frames] == [True, True]
    assert [f.in_view for f in walled.frames] == [False, False]
    xa = np.fromfile(free.data_path, np.complex64)
    xb = np.fromfile(walled.data_path, np.complex64)
    f = free.frames[0]
    sl = slice(f.sample_start, f.sample_start + f.sample_count)
    ratio_db = 10 * np.log10(np.mean(np.abs(xa[sl]) ** 2) / np.mean(np.abs(xb[sl]) ** 2))
    assert ratio_db == pytest.approx(20.0, abs=0.3)


def test_link_budget_figures():
    # 1000 km at 437 MHz: 20 log10(4 pi d f / c)
    assert fspl_db(1.0e6, 437e6) == pytest.approx(145.26, abs=0.01)
    lb = LinkBudget(eirp_dbw=0.0, g_over_t_dbk=-16.0, other_losses_db=3.0)
    assert lb.ebn0_db(1.0e6, 437e6, 9600) == pytest.approx(24.5, abs=0.1)
    # doubling the range costs 6.02 dB
    assert float(lb.cn0_dbhz(2e6, 437e6) - lb.cn0_dbhz(1e6, 437e6)) == pytest.approx(-6.02, abs=0.01)
    with pytest.raises(InputError):
        fspl_db(0.0, 437e6)


def test_beacons_are_recognisable():
    p = beacon_payload("AX.25 G3RUH", "SAT", 17, 1.7e9)
    assert parse_beacon(p) == 17 and b"SAT sim beacon 0017" in p
    q = beacon_payload("AX100 ASM+Golay", "SAT", 4242, 1.7e9, size=64)
    assert len(q) == 64 and parse_beacon(q) == 4242
    assert parse_beacon(b"something else") is None


def test_band_limited_interpolation_is_exact_for_a_band_limited_burst():
    n = 4000
    t = np.arange(n)
    win = np.hanning(n)
    x = (win * np.exp(2j * np.pi * 0.05 * t)).astype(np.complex64)
    y = resample_fft(x, 3 * n)
    t3 = np.arange(3 * n) / 3.0
    want = np.interp(t3, t, win) * np.exp(2j * np.pi * 0.05 * t3)
    assert np.max(np.abs(y - want)) < 2e-3


def test_a_framing_without_framer_gives_noise_only(funcube_pass, tmp_path):
    es, p = funcube_pass
    tx = Transmitter("odd", 145.9e6, "FSK", 1200, "No Such Framing")
    sp = simulate_pass(es, STATION, tx, p.aos_unix_s, p.aos_unix_s + 5, tmp_path / "n",
                       settings=SimSettings(samp_rate_sps=8000.0))
    assert sp.frames == [] and sp.n_samples == 40000
    assert "noise only" in read_sigmf_meta(sp.meta_path)["global"]["core:description"]


def test_bad_settings_are_refused(funcube_pass, tmp_path):
    es, p = funcube_pass
    tx = load_catalog().by_norad(39444).transmitters[0]
    with pytest.raises(InputError):
        simulate_pass(es, STATION, tx, p.aos_unix_s, p.aos_unix_s - 1, tmp_path / "x")
    for bad in (SimSettings(samp_rate_sps=10.0), SimSettings(noise_rms=0.0), SimSettings(beacon_interval_s=0)):
        with pytest.raises(InputError):
            simulate_pass(es, STATION, tx, p.aos_unix_s, p.aos_unix_s + 1, tmp_path / "x", settings=bad)
