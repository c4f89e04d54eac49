"""Synthesise the IQ of one pass: beacons, Doppler, path loss and noise, written as SigMF.

Model (see the package docstring for the contract):

* The satellite sends a beacon every ``beacon_interval_s`` (the first
  ``first_beacon_s`` after the span starts) whether or not the station
  sees it; each is framed by the transmitter's framer and modulated at unit
  power by our modulator for its modulation, ``iq=True``.
* Geometry comes from SGP4 (``orbit.look_angles``) on a grid of
  ``grid_step_s`` and is interpolated linearly per sample: slant range
  (path loss) and range rate (Doppler). The carrier phase is the running
  integral of the Doppler offset, so it is continuous across chunks.
* Amplitude: ``sqrt(C)`` with C from the link budget's C/N0 and the noise
  density of the floor (complex white noise of ``noise_rms`` per
  dimension): C = C/N0 * N0, N0 = 2 noise_rms^2 / samp_rate_sps. Zero
  while the satellite is below the geometric horizon; ``obstruction_db``
  weaker while it is below the horizon mask.
* A frame counts as *in view* when the satellite is above the mask at both
  ends of its burst: those are the frames a station should decode.

Output: ``<base>.sigmf-data`` (cf32_le) and ``<base>.sigmf-meta``, written in
chunks of one second (memory does not grow with the pass length).
"""
from __future__ import annotations

import math
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..orbit.doppler import doppler_hz
from ..orbit.elements import ElementSet
from ..orbit.frames import GroundStation
from ..orbit.passes import HorizonMask, look_angles
from .link import LinkBudget
from .payloads import beacon_payload


@dataclass(frozen=True)
class SimSettings:
    samp_rate_sps: float = 48000.0
    beacon_interval_s: float = 5.0
    first_beacon_s: float = 1.0
    payload_bytes: int = 48
    noise_rms: float = 0.05          # per real dimension: sets the noise density, hence the signal scale
    add_noise: bool = True           # False: the same signal, without the noise (for measurements)
    link: LinkBudget = field(default_factory=LinkBudget)
    obstruction_db: float = 20.0
    grid_step_s: float = 0.5
    seed: int = 1

    def check(self) -> None:
        errs = []
        if not self.samp_rate_sps >= 1000:
            errs.append(f"samp_rate_sps {self.samp_rate_sps} must be >= 1000")
        if not self.beacon_interval_s > 0:
            errs.append(f"beacon_interval_s {self.beacon_interval_s} must be > 0")
        if not self.noise_rms > 0:
            errs.append(f"noise_rms {self.noise_rms} must be > 0")
        if not 0 < self.grid_step_s <= 5:
            errs.append(f"grid_step_s {self.grid_step_s} must be in (0, 5]")
        if errs:
            raise InputError("simulation settings: " + "; ".join(errs))


@dataclass
class SentFrame:
    seq: int
    t_unix_s: float            # start of the burst
    end_unix_s: float
    payload: bytes
    el_deg: float              # at the middle of the burst
    range_m: float
    doppler_hz: float
    ebn0_db: float             # link budget at the middle of the burst (before obstruction)
    in_view: bool
    sample_start: int
    sample_count: int

    def to_dict(self) -> dict:
        return {"seq": self.seq, "t_unix_s": self.t_unix_s, "end_unix_s": self.end_unix_s,
                "hex": self.payload.hex(), "el_deg": round(self.el_deg, 3), "range_m": round(self.range_m, 1),
                "doppler_hz": round(self.doppler_hz, 2), "ebn0_db": round(self.ebn0_db, 2),
                "in_view": self.in_view}


@dataclass
class SimulatedPass:
    data_path: pathlib.Path
    meta_path: pathlib.Path
    t0_unix_s: float
    samp_rate_sps: float
    n_samples: int
    freq_hz: float
    frames: list[SentFrame]

    @property
    def in_view(self) -> list[SentFrame]:
        return [f for f in self.frames if f.in_view]

    @property
    def seconds(self) -> float:
        return self.n_samples / self.samp_rate_sps


# Modulations whose complex baseband is confined to +/- baud: modulated at a few samples per
# symbol and brought to the output rate by band-limited (FFT) interpolation, which is exact
# for such a signal and far cheaper than evaluating their pulse shape at every output sample.
_NARROW = {"BPSK": 8, "DBPSK": 8}


def _modulate_burst(tx, bits: np.ndarray, fs: float) -> np.ndarray:
    from ..dsp.modulation import MODULATIONS

    params = {"deviation_hz": tx.deviation_hz, "af_carrier_hz": tx.af_carrier_hz}
    sps = _NARROW.get(tx.modulation.upper())
    rate = float(sps * tx.baud) if sps and sps * tx.baud < fs else fs
    iq = np.asarray(MODULATIONS.get(tx.modulation).modulate(bits, rate, tx.baud, True, **params), np.complex64)
    if rate != fs and iq.size:
        iq = resample_fft(iq, int(round(iq.size * fs / rate)))
    p = float(np.mean(np.abs(iq) ** 2)) if iq.size else 1.0
    return (iq / np.float32(math.sqrt(p))).astype(np.complex64) if p > 0 else iq


def resample_fft(x: np.ndarray, n_out: int) -> np.ndarray:
    """Band-limited interpolation of ``x`` to ``n_out`` samples (zero-padding its spectrum)."""
    n = x.size
    if n_out == n:
        return x
    spec = np.fft.fft(x)
    out = np.zeros(n_out, np.complex128)
    h = min(n, n_out) // 2
    out[:h] = spec[:h]
    out[n_out - (min(n, n_out) - h):] = spec[n - (min(n, n_out) - h):]
    return (np.fft.ifft(out) * (n_out / n)).astype(np.complex64)


def make_framer(transmitter):
    """The transmitter's framer, or None when its framing has none (the pass is then noise only)."""
    from ..framing import load_all

    framings = load_all()
    if transmitter.framing not in framings:
        return None
    try:
        return framings.get(transmitter.framing).make_framer(**dict(transmitter.options or {}))
    except NotImplementedError:
        return None


_SIZES = (256, 255, 223, 128, 64, 32, 16, 8)


def fitting_payload_size(framer, framing: str, wanted: int) -> int:
    """``wanted`` if the framer takes payloads of that size, else the first common size it takes."""
    for n in (wanted, *_SIZES):
        try:
            framer.frame(beacon_payload(framing, "probe", 0, 0.0, n))
            return n
        except (InputError, ValueError):
            continue
    raise InputError(f"framing {framing!r}: no payload size the simulator tries is accepted")


def simulate_pass(elements: ElementSet, station: GroundStation, transmitter, start_unix_s: float,
                  end_unix_s: float, out_base: str | os.PathLike, *, satellite: str = "",
                  mask: HorizonMask | None = None, settings: SimSettings | None = None) -> SimulatedPass:
    """Write the IQ of ``transmitter`` on ``elements`` over [start, end] as seen from ``station``.

    A transmitter whose framing has no framer gives a noise-only file (no frames).
    """
    from ..storage.recording import Annotation, Capture, write_sigmf_meta

    s = settings or SimSettings()
    s.check()
    if not end_unix_s > start_unix_s:
        raise InputError("simulation span: end is not after start")
    if transmitter.uplink:
        raise InputError(f"{transmitter.name} is an uplink")
    framer = make_framer(transmitter)
    fs = float(s.samp_rate_sps)
    freq = float(transmitter.frequency_hz)
    mask = mask or HorizonMask()
    rng = np.random.default_rng(s.seed)
    n_total = int(math.floor((end_unix_s - start_unix_s) * fs))

    # Geometry on a grid, interpolated per sample.
    n_grid = int(math.ceil((end_unix_s - start_unix_s) / s.grid_step_s)) + 2
    tg = start_unix_s + s.grid_step_s * np.arange(n_grid)
    tr = look_angles(elements, station, tg)
    dop = doppler_hz(freq, tr.range_rate_mps)
    limit = mask.limit_deg(tr.az_deg)
    cn0 = s.link.cn0_dbhz(tr.range_m, freq)
    n0 = 2.0 * s.noise_rms ** 2 / fs
    amp = np.sqrt(10.0 ** (cn0 / 10.0) * n0)
    amp = np.where(tr.el_deg < 0.0, 0.0, np.where(tr.el_deg < limit, amp * 10 ** (-s.obstruction_db / 20.0), amp))
    ebn0 = s.link.ebn0_db(tr.range_m, freq, transmitter.baud)

    def at(t, arr):
        return np.interp(t, tg, arr)

    # Beacons.
    frames: list[SentFrame] = []
    bursts: list[tuple[int, np.ndarray]] = []
    seq = 0
    t = start_unix_s + s.first_beacon_s
    name = satellite or getattr(transmitter, "name", "")
    size = fitting_payload_size(framer, transmitter.framing, s.payload_bytes) if framer is not None else None
    while framer is not None and t < end_unix_s:
        payload = beacon_payload(transmitter.framing, name, seq, t, size)
        iq = _modulate_burst(transmitter, framer.frame(payload), fs)
        i0 = int(round((t - start_unix_s) * fs))
        if i0 + iq.size > n_total:
            break
        t_end = start_unix_s + (i0 + iq.size) / fs
        tm = (t + t_end) / 2.0
        el_a, el_b = at(t, tr.el_deg), at(t_end, tr.el_deg)
        lim_a, lim_b = at(t, limit), at(t_end, limit)
        frames.append(SentFrame(seq, t, t_end, payload, float(at(tm, tr.el_deg)), float(at(tm, tr.range_m)),
                                float(at(tm, dop)), float(at(tm, ebn0)),
                                bool(el_a >= lim_a and el_b >= lim_b and min(el_a, el_b) >= 0.0), i0, iq.size))
        bursts.append((i0, iq))
        seq += 1
        t += s.beacon_interval_s

    base = pathlib.Path(out_base)
    base.parent.mkdir(parents=True, exist_ok=True)
    data_path = pathlib.Path(str(base) + ".sigmf-data")
    chunk = int(fs)
    phase = 0.0
    b = 0  # first burst that may still overlap
    with open(data_path, "wb") as f:
        for c0 in range(0, n_total, chunk):
            n = min(chunk, n_total - c0)
            sig = np.zeros(n, np.complex64)
            while b < len(bursts) and bursts[b][0] + bursts[b][1].size <= c0:
                b += 1
            k = b
            while k < len(bursts) and bursts[k][0] < c0 + n:
                i0, iq = bursts[k]
                lo, hi = max(i0, c0), min(i0 + iq.size, c0 + n)
                sig[lo - c0:hi - c0] += iq[lo - i0:hi - i0]
                k += 1
            ts = start_unix_s + (c0 + np.arange(n)) / fs
            f_inst = at(ts, dop)
            ph = phase + 2.0 * np.pi * np.cumsum(f_inst) / fs
            phase = float(ph[-1] % (2.0 * np.pi))
            x = sig * (at(ts, amp) * np.exp(1j * ph)).astype(np.complex64)
            if s.add_noise:
                x.real += s.noise_rms * rng.standard_normal(n, dtype=np.float32)
                x.imag += s.noise_rms * rng.standard_normal(n, dtype=np.float32)
            f.write(x.astype(np.complex64).tobytes())

    annotations = [Annotation(fr.sample_start, fr.sample_count, f"beacon {fr.seq}",
                              fr.payload.hex(), {"in_view": fr.in_view, "el_deg": round(fr.el_deg, 2),
                                                 "ebn0_db": round(fr.ebn0_db, 2)}) for fr in frames]
    meta_path = write_sigmf_meta(
        data_path, samp_rate_sps=fs, captures=[Capture(0, start_unix_s, freq)],
        description=(f"simulated pass of {name} (NORAD {elements.norad}), {transmitter.name}"
                     + ("" if framer is not None else ": noise only (no framer for this framing)")),
        recorder="groundseg-sim", position=(station.lat_deg, station.lon_deg, station.alt_m),
        extra={"simulated": True, "norad": elements.norad, "transmitter": transmitter.name,
               "modulation": transmitter.modulation, "baud": transmitter.baud, "framing": transmitter.framing,
               "tle_epoch_unix_s": elements.epoch_unix_s, "eirp_dbw": s.link.eirp_dbw,
               "g_over_t_dbk": s.link.g_over_t_dbk, "noise_rms": s.noise_rms},
        annotations=annotations, checksum=False)
    return SimulatedPass(data_path, meta_path, float(start_unix_s), fs, n_total, freq, frames)
