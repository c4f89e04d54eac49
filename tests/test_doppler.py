"""Doppler: signs, uplink/downlink consistency, and curves from the orbit."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from groundseg.errors import InputError
from groundseg.orbit import (C_MPS, DopplerModel, GroundStation, doppler_curve, doppler_hz, downlink_freq_hz,
                             find_passes, look_angles, parse_tle_text, pass_doppler, uplink_correction_hz,
                             uplink_freq_hz)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SETS = {s.norad: s for s in parse_tle_text((ROOT / "seeds" / "tle" / "catalog.tle").read_text())[0]}
STATION = GroundStation(52.2297, 21.0122, 110.0)
F0 = 435.5e6


def test_downlink_shift_sign_and_size():
    # Approaching at 7 km/s: heard 10.17 kHz high at 435.5 MHz.
    assert doppler_hz(F0, -7000.0) == pytest.approx(F0 * 7000.0 / 299792458.0)
    assert doppler_hz(F0, -7000.0) == pytest.approx(10168.8, abs=0.1)
    assert doppler_hz(F0, 7000.0) < 0  # receding: lower
    assert downlink_freq_hz(F0, 7000.0) == pytest.approx(F0 + doppler_hz(F0, 7000.0))
    assert doppler_hz(F0, 0.0) == 0.0


@pytest.mark.parametrize("rr", [-7500.0, -1234.5, 0.0, 3000.0, 7500.0])
def test_uplink_precompensation_is_heard_on_frequency(rr):
    tx = uplink_freq_hz(F0, rr)
    heard_by_satellite = tx * (1.0 - rr / C_MPS)  # the satellite moves relative to the wave
    assert heard_by_satellite == pytest.approx(F0, rel=1e-15)
    # Opposite sign to the downlink shift, equal to first order.
    assert uplink_correction_hz(F0, rr) == pytest.approx(-doppler_hz(F0, rr), rel=1e-4)


def test_arrays_broadcast():
    rr = np.array([-7000.0, 0.0, 7000.0])
    out = doppler_hz(np.array([145.9e6, 435.5e6, 2.4e9])[:, None], rr[None, :])
    assert out.shape == (3, 3)
    assert np.all(np.diff(out, axis=1) < 0)


def test_range_rate_is_the_derivative_of_range():
    es = SETS[39444]
    t = es.epoch_unix_s + np.linspace(0, 6000, 50)
    dt = 0.1
    la = look_angles(es, STATION, t)
    numeric = (look_angles(es, STATION, t + dt).range_m - look_angles(es, STATION, t - dt).range_m) / (2 * dt)
    # SGP4's analytic velocity differs from the derivative of its own position by ~1-3 cm/s.
    np.testing.assert_allclose(la.range_rate_mps, numeric, atol=0.05)


def test_pass_doppler_curve_shape():
    es = SETS[44854]
    p = max(find_passes([es], STATION, es.epoch_unix_s, es.epoch_unix_s + 86400).passes, key=lambda q: q.max_el_deg)
    t, off = pass_doppler(p, es, STATION, F0, step_s=1.0)
    assert t[0] == p.aos_unix_s and t[-1] == p.los_unix_s
    assert off[0] > 5000 and off[-1] < -5000  # approaching at AOS, receding at LOS
    assert np.all(np.diff(off) < 0)  # falls monotonically through the pass
    assert np.max(np.abs(off)) < F0 * 8000.0 / C_MPS  # bounded by the orbital speed
    t_zero = np.interp(0.0, -off, t)
    assert abs(t_zero - p.tca_unix_s) < 10.0  # closest approach ~ culmination


def test_doppler_at_any_time_resolution():
    es = SETS[44854]
    t0 = es.epoch_unix_s + 3600
    t_coarse, coarse = doppler_curve(es, STATION, F0, t0, t0 + 600, step_s=10.0)
    t_fine, fine = doppler_curve(es, STATION, F0, t0, t0 + 600, step_s=0.1)
    assert len(t_coarse) == 61 and len(t_fine) == 6001
    np.testing.assert_allclose(fine[::100], coarse, atol=1e-6)
    model = DopplerModel(es, STATION)
    assert model.offset_hz(F0, t0 + 123.456) == pytest.approx(
        doppler_hz(F0, look_angles(es, STATION, t0 + 123.456).range_rate_mps[0]))
    up = model.offset_hz(F0, t_coarse, "uplink")
    np.testing.assert_allclose(up, -coarse, rtol=1e-4)


@pytest.mark.parametrize("call,msg", [
    (lambda m: m.offset_hz(0.0, 0.0), "outside 1 MHz"),
    (lambda m: m.offset_hz(F0, 0.0, "sideways"), "direction 'sideways'"),
    (lambda m: doppler_curve(m.elements, m.station, F0, 10.0, 20.0, step_s=0.0), "must be > 0"),
    (lambda m: doppler_curve(m.elements, m.station, F0, 20.0, 10.0), "end before start"),
])
def test_bad_doppler_arguments(call, msg):
    with pytest.raises(InputError, match=msg):
        call(DopplerModel(SETS[44854], STATION))
