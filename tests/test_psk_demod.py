"""BPSK/DBPSK: modulators, the demodulator blocks end to end, and the PSK kernels.

Bit error rates are measured through the real GNU Radio blocks (vector source ->
demodulator -> vector sink) on RRC BPSK from ``groundseg.dsp.psk_mod`` with
white noise at a given Eb/N0. Bounds sit between what the demodulator does
(within ~0.5 dB of coherent BPSK theory) and what a broken one gives (~0.5).
"""
from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

from groundseg.dsp import channel
from groundseg.dsp.psk_carrier import CarrierAcquirer
from groundseg.dsp.psk_mod import (bpsk_modulate, dbpsk_modulate, default_af_carrier_hz,
                                   differential_encode, rrc_pulse)
from groundseg.dsp.psk_softnorm_ref import SoftNormalizer as SoftNormRef
from groundseg.errors import InputError

from conftest import need

VECTORS = pathlib.Path(__file__).parent / "vectors"
FS = 48000.0


def awgn(x: np.ndarray, ebn0_db: float, fs: float, baud: float, rng) -> np.ndarray:
    """White noise for ``ebn0_db`` with Eb = mean power x samples per bit.

    Per real dimension sigma**2 = N0 / 2 in sample units (real audio or complex
    baseband alike), as ``channel.awgn`` does, but with the power averaged over
    every sample: ``channel.signal_power`` leaves out zero samples as silence,
    and a carrier at fs/4 (12 kHz at 48 kHz) is exactly 0 every other sample.
    """
    p = float(np.mean(np.abs(x) ** 2))
    sigma = math.sqrt(p * fs / baud / (2.0 * 10.0 ** (ebn0_db / 10.0)))
    return channel.add_noise_floor(x, sigma, rng)


def run_block(block, x: np.ndarray, tags: bool = False):
    from gnuradio import blocks, gr

    tb = gr.top_block()
    src = blocks.vector_source_c(x) if np.iscomplexobj(x) else blocks.vector_source_f(x)
    snk = blocks.vector_sink_f()
    tb.connect(src, block, snk)
    tb.run()
    out = np.array(snk.data(), dtype=np.float32)
    if not tags:
        return out
    import pmt
    return out, [(t.offset, pmt.symbol_to_string(t.key), pmt.to_double(t.value)) for t in snk.tags()]


def align(soft: np.ndarray, bits: np.ndarray, probe: int = 600, skip: int = 100):
    """(lag, polarity): soft[lag + i] carries bits[i]; found by correlation."""
    s = np.where(soft > 0, 1.0, -1.0)
    ref = 2.0 * bits[skip:skip + probe] - 1.0
    c = np.correlate(s, ref, mode="valid")
    k = int(np.argmax(np.abs(c)))
    return k - skip, (1 if c[k] > 0 else -1)


def bit_errors(soft: np.ndarray, bits: np.ndarray, polarity_free: bool, skip: int = 64):
    """BER over the bits after ``skip`` (acquisition), aligned by correlation."""
    lag, pol = align(soft, bits)
    if not polarity_free:
        assert pol == 1, "output polarity is fixed for this modulation and came out inverted"
    n = min(bits.size, soft.size - lag)
    assert n > 0.9 * bits.size, "demodulator lost symbols"
    hard = (pol * soft[lag + skip:lag + n] > 0).astype(np.uint8)
    return float(np.mean(hard != bits[skip:n])), lag, pol


def signal(rng, n_bits, baud, iq, carrier_hz=None, offset_hz=0.0, ebn0_db=None, dbpsk=False):
    bits = rng.integers(0, 2, n_bits).astype(np.uint8)
    mod = dbpsk_modulate if dbpsk else bpsk_modulate
    x = mod(bits, FS, baud, iq, af_carrier_hz=carrier_hz)
    if iq:
        x = channel.freq_shift(x, offset_hz, FS, phase0=float(rng.uniform(0, 2 * np.pi)))
    if ebn0_db is not None:
        x = awgn(x, ebn0_db, FS, baud, rng)
    # quiet before and after the burst (the demodulator looks ~370 symbols ahead:
    # the last symbols of a stream come out when that much more input follows)
    lead = np.zeros(int(0.02 * FS), x.dtype)
    tail = np.zeros(int(400 * FS / baud), x.dtype)
    if ebn0_db is not None:
        floor = float(np.std(x - np.mean(x)) * 0.5)
        lead = channel.add_noise_floor(lead, floor, rng)
        tail = channel.add_noise_floor(tail, floor, rng)
    return bits, np.concatenate([lead, x, tail])


# --- modulators ------------------------------------------------------------------

def test_rrc_pulse_is_nyquist_and_unit_energy():
    t = np.arange(-480, 481) / 40.0
    p = rrc_pulse(t, 0.5)
    assert abs(np.sum(p ** 2) / 40.0 - 1.0) < 1e-3
    rc = np.convolve(p, p) / 40.0
    centre = rc.size // 2
    assert abs(rc[centre] - 1.0) < 1e-3
    assert max(abs(rc[centre + 40 * k]) for k in (1, 2, 3, -1, -2)) < 2e-3


@pytest.mark.parametrize("baud,iq", [(1200, False), (9600, False), (1200, True), (2400, True)])
def test_bpsk_modulator_power_and_carrier(rng, baud, iq):
    bits = rng.integers(0, 2, 2000).astype(np.uint8)
    x = bpsk_modulate(bits, FS, baud, iq)
    assert x.dtype == (np.complex64 if iq else np.float32)
    assert abs(x.size - bits.size * FS / baud) < 20 * FS / baud
    spec = np.abs(np.fft.fft(x)) ** 2
    f = np.fft.fftfreq(x.size, 1 / FS)
    if iq:
        assert abs(np.mean(np.abs(x) ** 2) - 1.0) < 0.01
        centroid = np.sum(f * spec) / np.sum(spec)
        assert abs(centroid) < 0.05 * baud
    else:
        fc = default_af_carrier_hz(baud)
        pos = f > 0
        centroid = np.sum(f[pos] * spec[pos]) / np.sum(spec[pos])
        assert abs(centroid - fc) < 0.05 * baud
        # nothing beyond the RRC band (roll-off 0.5) around the carrier
        outside = pos & (np.abs(f - fc) > 0.8 * baud)
        assert spec[outside].sum() < 1e-3 * spec[pos].sum()


def test_bpsk_symbols_carry_the_bits_at_symbol_centres(rng):
    bits = rng.integers(0, 2, 500).astype(np.uint8)
    sps = 8
    x = bpsk_modulate(bits, 1200.0 * sps, 1200.0, True)
    from groundseg.dsp.psk_mod import SPAN_SYMBOLS
    centres = x.real[(np.arange(bits.size) + SPAN_SYMBOLS // 2) * sps]
    assert np.array_equal(centres > 0, bits == 1)


def test_differential_encoding_follows_funcube():
    # 1 = no phase change, 0 = change, reference level 1 before the first bit
    assert differential_encode([1, 1, 0, 1, 0, 0]).tolist() == [1, 1, 0, 0, 1, 0]
    bits = np.random.default_rng(3).integers(0, 2, 300).astype(np.uint8)
    lv = np.concatenate([[1], differential_encode(bits)])
    assert np.array_equal((lv[1:] == lv[:-1]).astype(np.uint8), bits)


@pytest.mark.parametrize("bad", [[0, 2, 1], [[0, 1]], [-1]])
def test_modulator_rejects_bad_bits(bad):
    with pytest.raises(InputError):
        bpsk_modulate(bad, FS, 1200, True)


def test_modulator_rejects_impossible_rates():
    with pytest.raises(InputError):
        bpsk_modulate([0, 1], 4000.0, 9600, True)
    with pytest.raises(InputError):
        bpsk_modulate([0, 1], FS, 9600, False, af_carrier_hz=3000)


# --- demodulators through GNU Radio --------------------------------------------------

BER_CASES = [
    # id, baud, iq, transmitted audio carrier, IQ offset
    ("1k2-audio-1500", 1200, False, 1500.0, 0.0),
    ("1k2-audio-plus200", 1200, False, 1700.0, 0.0),
    ("1k2-audio-minus200", 1200, False, 1300.0, 0.0),
    ("9k6-audio-12k", 9600, False, 12000.0, 0.0),
    ("1k2-iq-plus3k", 1200, True, None, 3000.0),
    ("1k2-iq-minus3k", 1200, True, None, -3000.0),
    ("9k6-iq-minus3k", 9600, True, None, -3000.0),
]


@pytest.mark.parametrize("case", BER_CASES, ids=[c[0] for c in BER_CASES])
def test_bpsk_demodulator_ber(case):
    from groundseg.blocks.psk_demod import bpsk_demodulator

    _, baud, iq, carrier, offset = case
    rng = np.random.default_rng(2024)
    n_bits = 6000 if baud < 5000 else 20000
    ebn0 = 6.0        # coherent BPSK theory: 2.4e-3
    bits, x = signal(rng, n_bits, baud, iq, carrier, offset, ebn0)
    # the demodulator is given the nominal carrier only (1500 Hz / 12 kHz)
    soft = run_block(bpsk_demodulator(FS, baud, iq), x)
    ber, _, _ = bit_errors(soft, bits, polarity_free=True)
    assert ber < 6e-3, f"BER {ber:.4f} at Eb/N0 {ebn0} dB"


def test_dbpsk_demodulator_gives_data_bits_with_fixed_polarity():
    from groundseg.blocks.psk_demod import dbpsk_demodulator

    rng = np.random.default_rng(7)
    bits, x = signal(rng, 6000, 1200, False, 1500.0, 0.0, 6.0, dbpsk=True)
    soft = run_block(dbpsk_demodulator(FS, 1200, False), x)
    ber, _, _ = bit_errors(soft, bits, polarity_free=False)
    # coherent detection + differential decoding: about twice the BPSK BER (4.8e-3)
    assert ber < 1.2e-2


@pytest.mark.parametrize("dbpsk", [False, True])
def test_clean_signal_gives_unit_soft_symbols(dbpsk):
    from groundseg.blocks.psk_demod import bpsk_demodulator, dbpsk_demodulator

    rng = np.random.default_rng(11)
    bits, x = signal(rng, 3000, 9600, True, None, 500.0, 30.0, dbpsk=dbpsk)
    demod = (dbpsk_demodulator if dbpsk else bpsk_demodulator)(FS, 9600, True)
    soft = run_block(demod, x)
    lag, pol = align(soft, bits)
    mag = np.abs(soft[lag + 200:lag + bits.size - 50])
    assert 0.85 < np.median(mag) < 1.15
    assert np.percentile(mag, 1) > 0.5          # no symbol near zero on a clean signal
    ber, _, _ = bit_errors(soft, bits, polarity_free=not dbpsk)
    assert ber == 0.0


def test_noise_only_gives_small_soft_symbols():
    from groundseg.blocks.psk_demod import bpsk_demodulator

    rng = np.random.default_rng(5)
    bits, x = signal(rng, 4000, 1200, False, 1500.0, 0.0, 20.0)
    noise = channel.add_noise_floor(np.zeros(x.size, np.float32), float(np.std(x)) / 10, rng)
    soft = run_block(bpsk_demodulator(FS, 1200, False), np.concatenate([x, noise]))
    lag, _ = align(soft, bits)
    burst = np.abs(soft[lag + 200:lag + bits.size - 100])
    tail = np.abs(soft[lag + bits.size + 300:])
    assert tail.size > 2000
    assert np.median(tail) < 0.3 * np.median(burst)


def test_demodulator_tags_offset_and_snr():
    from groundseg.blocks.psk_demod import bpsk_demodulator

    rng = np.random.default_rng(9)
    _, x = signal(rng, 8000, 1200, True, None, -2200.0, 10.0)
    soft, tags = run_block(bpsk_demodulator(FS, 1200, True), x, tags=True)
    offsets = [v for o, k, v in tags if k == "freq_offset_hz"]
    snrs = [v for o, k, v in tags if k == "snr_db" and o > 1000]
    assert offsets and all(abs(v + 2200.0) < 10.0 for v in offsets)
    assert snrs and abs(np.median(snrs) - 10.0) < 1.5


def test_demodulators_come_from_the_registry():
    from gnuradio import gr

    from groundseg.dsp.modulation import MODULATIONS

    for name in ("BPSK", "DBPSK"):
        spec = MODULATIONS.get(name)
        blk = spec.make_demodulator(FS, 1200, False, deviation_hz=None, af_carrier_hz=None)
        assert isinstance(blk, gr.hier_block2)
        x = spec.modulate(np.array([0, 1, 1, 0], np.uint8), FS, 1200, True)
        assert x.dtype == np.complex64


@pytest.mark.parametrize("kw", [dict(samp_rate_sps=2000.0, baud=1200, iq=True),
                                dict(samp_rate_sps=FS, baud=1200, iq=False, af_carrier_hz=600),
                                dict(samp_rate_sps=FS, baud=-5, iq=True)])
def test_demodulator_rejects_what_cannot_work(kw):
    from groundseg.blocks.psk_demod import bpsk_demodulator

    with pytest.raises(InputError):
        bpsk_demodulator(**kw)


# --- coarse acquisition (numpy) ------------------------------------------------------

@pytest.mark.parametrize("offset_hz", [-3000.0, -740.0, 0.0, 1234.5, 3300.0])
def test_carrier_acquirer_finds_the_offset_and_holds_it_in_noise(offset_hz):
    rng = np.random.default_rng(1)
    fs, baud = 16000.0, 1200.0
    bits = rng.integers(0, 2, 1500).astype(np.uint8)
    x = channel.freq_shift(bpsk_modulate(bits, fs, baud, True), offset_hz, fs)
    x = awgn(x, 8.0, fs, baud, rng)
    noise = channel.add_noise_floor(np.zeros(8192, np.complex64), float(np.std(x)), rng)
    acq = CarrierAcquirer(fs, 3500.0, window=2048, hop=512)
    z = np.concatenate([x, noise])
    z = z[:z.size // 512 * 512]
    out = np.empty_like(z)
    acq.process(z, out)
    assert abs(acq.freq_hz - offset_hz) < 6.0          # 0.5 % of the baud rate
    assert not acq.detected                     # last window is noise: estimate kept
    # the corrected burst has no offset left (its squared spectrum peaks at 0 Hz)
    seg = out[acq.delay + 2048:acq.delay + 2048 * 2]
    residual_hz, ratio = CarrierAcquirer(fs, 3500.0, window=2048, hop=512).estimate(seg)
    assert ratio > 25 and abs(residual_hz) < 6.0


def test_carrier_acquirer_rejects_a_range_the_rate_cannot_hold():
    with pytest.raises(ValueError):
        CarrierAcquirer(8000.0, 2500.0, 1024, 256)
    with pytest.raises(ValueError):
        CarrierAcquirer(48000.0, 1000.0, 1000, 300)


# --- soft-symbol normaliser: kernel vs reference ----------------------------------

def _kernel():
    try:
        from groundseg.dsp import psk_softnorm
    except ImportError:
        psk_softnorm = None
    need(psk_softnorm is not None, "Cython kernel psk_softnorm not built (make setup)")
    return psk_softnorm.SoftNormalizer


def _bpsk_symbols(rng, n, snr_db, fade=None):
    a = (2.0 * rng.integers(0, 2, n) - 1.0)
    sigma = math.sqrt(10 ** (-snr_db / 10) / 2)
    s = a + sigma * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    if fade is not None:
        s = s * fade
    return s.astype(np.complex64)


@pytest.mark.parametrize("window", [2, 16, 64])
def test_softnorm_kernel_matches_reference_in_any_chunking(window):
    Kernel = _kernel()
    rng = np.random.default_rng(window)
    x = _bpsk_symbols(rng, 20000, 6.0, fade=np.linspace(0.05, 3.0, 20000))
    x[5000:6000] = 0
    ref_out = np.empty(x.size, np.float32)
    ref = SoftNormRef(window)
    ref.process(x, ref_out)
    k = Kernel(window)
    out = np.empty(x.size, np.float32)
    i = 0
    for n in rng.integers(1, 3000, 200):
        if i >= x.size:
            break
        k.process(x[i:i + n], out[i:i + n])
        i += n
    assert i >= x.size
    np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-6)
    assert k.delay == ref.delay == window // 2
    assert abs(k.snr_db - ref.snr_db) < 1e-6


def test_softnorm_reference_scales_to_unit_and_reports_snr():
    rng = np.random.default_rng(2)
    for snr in (3.0, 10.0, 20.0):
        x = _bpsk_symbols(rng, 40000, snr)
        out = np.empty(x.size, np.float32)
        sn = SoftNormRef(64)
        sn.process(x, out)
        if snr >= 20:
            assert abs(np.median(np.abs(out[100:])) - 1.0) < 0.05
        assert abs(sn.snr_db - snr) < 2.5            # one 64-symbol window
        # the sign is the symbol's (delayed by window // 2)
        d = sn.delay
        agree = np.mean(np.sign(out[d:]) == np.sign(x.real[:-d]))
        assert agree > 0.9
    silent = np.zeros(1000, np.complex64)
    out = np.empty(1000, np.float32)
    sn = SoftNormRef(16)
    sn.process(silent, out)
    assert not np.any(out) and sn.snr_db == -math.inf


def test_softnorm_weights_a_fade_down():
    rng = np.random.default_rng(4)
    fade = np.ones(6000)
    fade[3000:4000] = 0.3                      # the noise stays, the signal drops 10 dB
    a = 2.0 * rng.integers(0, 2, 6000) - 1.0
    noise = 0.2 * (rng.standard_normal(6000) + 1j * rng.standard_normal(6000))
    x = (a * fade + noise).astype(np.complex64)
    x *= 1.0 / np.sqrt(np.convolve(np.abs(x) ** 2, np.ones(32) / 32, "same"))   # an AGC
    out = np.empty(x.size, np.float32)
    SoftNormRef(32).process(x, out)
    strong = np.median(np.abs(out[1100:2900]))
    faded = np.median(np.abs(out[3100:3900]))
    assert faded < 0.75 * strong


def test_softnorm_golden_vectors():
    Kernel = _kernel()
    path = VECTORS / "psk_softnorm.npz"
    need(path.is_file(), f"{path} missing (python tools/make_psk_vectors.py)")
    v = np.load(path)
    for impl in (SoftNormRef, Kernel):
        sn = impl(int(v["window"]))
        out = np.empty(v["x"].size, np.float32)
        sn.process(v["x"], out)
        np.testing.assert_allclose(out, v["out"], rtol=1e-5, atol=1e-6)
        assert abs(sn.snr_db - float(v["snr_db"])) < 1e-4


# --- GNU Radio Companion -------------------------------------------------------------

def _grc_env() -> dict:
    import os

    from conftest import ROOT
    env = dict(os.environ)
    env["GRC_BLOCKS_PATH"] = str(ROOT / "flowgraphs" / "grc")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _grcc(grc: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    import subprocess

    from conftest import need_program
    grcc = need_program("grcc")
    res = subprocess.run([grcc, "-o", str(out), str(grc)], env=_grc_env(), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return out / (grc.stem + ".py")


def _pdus(stdout: str) -> set[bytes]:
    found = set()
    for d in stdout.split("***** VERBOSE PDU DEBUG PRINT ******")[1:]:
        rows = [ln.split(":", 1)[1] for ln in d.splitlines() if ln[:4].isalnum() and ln[4:5] == ":"]
        found.add(bytes.fromhex("".join(rows).replace(" ", "")))
    return found


@pytest.mark.parametrize("modulation", ["BPSK", "DBPSK"])
def test_rx_bpsk_flowgraph_prints_the_frames(modulation, tmp_path):
    import subprocess
    import sys
    import wave

    from conftest import ROOT
    from groundseg.framing import get
    from groundseg.framing.ax25 import ui_frame

    grc = ROOT / "flowgraphs" / "rx_bpsk.grc"
    if modulation == "DBPSK":       # the same flowgraph with the DBPSK block: its YAML works too
        text = grc.read_text().replace("id: groundseg_bpsk_demod", "id: groundseg_dbpsk_demod")
        grc = tmp_path / "rx_dbpsk.grc"
        grc.write_text(text.replace("id: rx_bpsk", "id: rx_dbpsk"))
    rng = np.random.default_rng(3)
    payloads = [ui_frame("CQ", "GS0TST", f"groundseg psk grc test {i} ".encode() * 3) for i in range(3)]
    bits = get("AX.25 G3RUH").make_framer().frames(payloads, gap_bits=200)
    # DBPSK: the data bits go through the differential encoder, AX.25 decodes them as usual
    mod = dbpsk_modulate if modulation == "DBPSK" else bpsk_modulate
    audio = np.concatenate([np.zeros(12000, np.float32), mod(bits, FS, 9600, False),
                            np.zeros(12000, np.float32)])
    audio = audio + 0.02 * rng.standard_normal(audio.size).astype(np.float32)
    wav = tmp_path / "signal.wav"
    pcm = np.clip(audio / np.max(np.abs(audio)) * 0.7 * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(FS))
        w.writeframes(pcm.tobytes())
    py = _grcc(grc, tmp_path)
    res = subprocess.run([sys.executable, str(py), "-f", str(wav), "-b", "9600", "-F", "AX.25 G3RUH"],
                         env=_grc_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert set(payloads) <= _pdus(res.stdout), res.stdout[-2000:]


# --- feed-forward timing and phase: kernel vs reference, behaviour --------------------

def _sync_kernel():
    try:
        from groundseg.dsp import psk_sync
    except ImportError:
        psk_sync = None
    need(psk_sync is not None, "Cython kernel psk_sync not built (make setup)")
    return psk_sync.SymbolSync


def _matched(x: np.ndarray, sps: float) -> np.ndarray:
    t = np.arange(-int(5 * sps), int(5 * sps) + 1) / sps
    return np.convolve(x, rrc_pulse(t, 0.5) / sps, "same").astype(np.complex64)


def _burst(rng, n_bits, sps, clock=1.0, offset_hz=0.0, snr_sigma=0.1, baud=1000.0):
    bits = rng.integers(0, 2, n_bits).astype(np.uint8)
    x = bpsk_modulate(bits, sps * baud * clock, baud, True).astype(np.complex128)
    x *= np.exp(1j * (rng.uniform(0, 2 * np.pi) + 2 * np.pi * offset_hz / (sps * baud) * np.arange(x.size)))
    x += snr_sigma * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    return bits, x


def test_sync_kernel_matches_reference_in_any_chunking():
    from groundseg.dsp.psk_sync_ref import SymbolSync as Ref
    Kernel = _sync_kernel()
    rng = np.random.default_rng(8)
    parts = []
    for sps, clock in ((5.0, 0.997), (5.0, 1.0)):
        _, x = _burst(rng, 800, sps, clock, 4.0)
        parts += [np.zeros(333, np.complex64), _matched(x, sps)]
    y = np.concatenate(parts)
    ref = Ref(5.0, 64, 16).process(y)
    k = Kernel(5.0, 64, 16)
    got, i = [], 0
    for n in rng.integers(1, 900, 100):
        got.append(k.process(y[i:i + n]))
        i += n
        if i >= y.size:
            break
    got = np.concatenate(got)
    assert got.size == ref.size > 1500
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", ["ref", "kernel"])
def test_sync_golden_vectors(impl):
    from groundseg.dsp.psk_sync_ref import SymbolSync as Ref
    path = VECTORS / "psk_sync.npz"
    need(path.is_file(), f"{path} missing (python tools/make_psk_vectors.py)")
    v = np.load(path)
    cls = Ref if impl == "ref" else _sync_kernel()
    s = cls(float(v["sps"]), int(v["timing_window"]), int(v["phase_window"]))
    x = v["x"]
    out = np.concatenate([s.process(x[:1234]), s.process(x[1234:])])
    np.testing.assert_allclose(out, v["out"], rtol=1e-4, atol=1e-5)
    assert abs(s.eps - float(v["eps"])) < 1e-6 and abs(s.drift - float(v["drift"])) < 1e-7


@pytest.mark.parametrize("sps,clock", [(5.0, 1.003), (8.0, 0.997), (13.3333, 1.0)])
def test_sync_samples_a_burst_right_from_its_first_symbols_and_learns_the_clock(sps, clock):
    from groundseg.dsp.psk_sync_ref import SymbolSync as Ref
    rng = np.random.default_rng(int(sps * 10))
    bits, x = _burst(rng, 1500, sps, clock, 2.0, snr_sigma=0.05)
    lead = int(rng.integers(300, 400) + rng.random() * sps)      # any timing phase
    y = _matched(np.concatenate([np.zeros(lead), x, np.zeros(int(300 * sps))]), sps)
    out = Ref(sps).process(y)
    lag, pol = align(out.real, bits)
    first = pol * out.real[lag:lag + 40]
    assert np.all((first > 0) == (bits[:40] == 1))             # no pull-in: the first symbols are right
    assert np.all(np.abs(first[5:]) > 0.5 * np.median(np.abs(first)))
    ber, _, _ = bit_errors(out.real, bits, polarity_free=True, skip=0)
    assert ber == 0.0
    s = Ref(sps)
    s.process(_matched(np.tile(x, 3), sps))
    # symbols 0.3 % longer than nominal (a slow transmitter clock): +0.003 symbol per symbol
    assert abs(s.drift - (clock - 1.0)) < 5e-4


# --- real recordings -------------------------------------------------------------------

def _psk_ax25_recordings():
    import json

    from conftest import corpus_dir
    path = corpus_dir() / "manifest.json"
    if not path.is_file():
        return [pytest.param(None, marks=pytest.mark.corpus, id="psk-no-corpus")]
    recs = json.loads(path.read_text())["recordings"]
    return [pytest.param(r, id=r["file"], marks=pytest.mark.corpus) for r in recs
            if r.get("transmitters") and all(t.get("modulation") == "BPSK"
                                             and str(t.get("framing", "")).startswith("AX.25")
                                             for t in r["transmitters"])]


@pytest.mark.parametrize("rec", _psk_ax25_recordings())
def test_corpus_bpsk_ax25_recording(corpus, rec):
    """At least gr-satellites' count, and at least one frame (it has none on some of them)."""
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import chains_for_norad, decode
    assert rec is not None
    chains, _ = chains_for_norad(int(rec["norad"]))
    res = decode(SourceSpec(kind="wav", path=str(corpus / rec["file"])), chains)
    assert all(f["crc_ok"] is True for f in res.frames)
    assert all(f["framing"].startswith("AX.25") for f in res.frames)
    want = max(1, int(rec["reference_frames"]))
    assert len(res.frames) >= want, f"{rec['file']}: {len(res.frames)} frames, want {want}"
