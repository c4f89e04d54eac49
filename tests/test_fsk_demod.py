"""FSK/GFSK demodulators through GNU Radio, their modulators, and the Cython kernel.

Channel for the bit-error tests: the modulator's complex FM baseband, white
noise at the given Eb/N0 (Eb = carrier power x bit time), then a receiver
(IF low-pass of Carson-like width, FM discriminator) giving the audio the
demodulator gets; IQ tests feed the noisy (frequency-shifted) baseband
directly. Bounds are about ten times the error rates measured at these
Eb/N0 (a working demodulator) and far below the 0.5 of a broken one.
"""
from __future__ import annotations

import math

import numpy as np
import pmt
import pytest

from conftest import ROOT
from groundseg.dsp import fsk_mod, fsk_symbols_ref
from groundseg.dsp.channel import freq_shift, pad
from groundseg.dsp.fsk_afc import FrequencyAcquirer
from groundseg.errors import InputError

FS = 48000.0

try:
    from groundseg.dsp import fsk_symbols as fsk_symbols_c
except ImportError:  # pragma: no cover - kernels not built
    fsk_symbols_c = None


# --- helpers (also imported by test_afsk_demod.py) --------------------------------------

def awgn(x: np.ndarray, ebn0_db: float, samp_rate_sps: float, baud: float,
         rng: np.random.Generator) -> np.ndarray:
    """Complex white noise at ``ebn0_db`` for a unit-power carrier (Eb = sps sample energies)."""
    sigma = math.sqrt(samp_rate_sps / baud / 10.0 ** (ebn0_db / 10.0) / 2.0)
    n = rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)
    return (x + sigma * n).astype(np.complex64)


def fm_receiver(iq: np.ndarray, samp_rate_sps: float, half_bw_hz: float, scale_hz: float) -> np.ndarray:
    """IF low-pass (Hamming-windowed sinc) and FM discriminator: audio in units of ``scale_hz``."""
    ntaps = int(3.3 * samp_rate_sps / (0.3 * half_bw_hz)) | 1
    t = np.arange(ntaps) - ntaps // 2
    h = np.sinc(2 * half_bw_hz / samp_rate_sps * t) * np.hamming(ntaps)
    y = np.convolve(iq, h / h.sum(), "same")
    d = np.angle(y[1:] * np.conj(y[:-1])) * samp_rate_sps / (2 * np.pi * scale_hz)
    return np.concatenate([[0.0], d]).astype(np.float32)


def run_block(block, x: np.ndarray):
    """Stream ``x`` through a GNU Radio block; return (output, tags as (offset, key, value))."""
    from gnuradio import blocks, gr

    tb = gr.top_block()
    src = (blocks.vector_source_c if np.iscomplexobj(x) else blocks.vector_source_f)(x.tolist())
    snk = blocks.vector_sink_f()
    tb.connect(src, block, snk)
    tb.run()
    tags = [(t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value)) for t in snk.tags()]
    return np.array(snk.data(), np.float32), tags


def align(soft: np.ndarray, bits: np.ndarray, skip: int = 100, block: int = 500,
          search: int = 40) -> tuple[int, int, int]:
    """Compare soft symbols with known bits, per block at the best lag (slips tracked).

    Returns (bit errors, bits compared, polarity): polarity +1 when the soft
    symbols follow the convention (> 0 for a 1), -1 when inverted.
    """
    sgn = np.sign(soft).astype(np.float64)
    ref = 2.0 * bits.astype(np.float64) - 1.0
    c = np.correlate(sgn, ref[skip:skip + block], "valid")
    lag = int(np.argmax(np.abs(c))) - skip
    polarity = 1 if c[lag + skip] > 0 else -1
    errors = total = 0
    for start in range(skip, ref.size - block + 1, block):
        lo = max(0, start + lag - search)
        hi = min(sgn.size - block, start + lag + search)
        if hi < lo:
            break
        cc = np.correlate(sgn[lo:hi + block], ref[start:start + block], "valid") * polarity
        k = int(np.argmax(cc))
        lag = lo + k - start
        errors += int(round((block - cc[k]) / 2))
        total += block
    return errors, total, polarity


def channel_audio(bits, baud, ebn0_db, rng, deviation_hz, gfsk=False):
    mod = fsk_mod.gfsk_modulate if gfsk else fsk_mod.fsk_modulate
    iq = pad(mod(bits, FS, baud, True, deviation_hz=deviation_hz), 2000, 2000)
    return fm_receiver(awgn(iq, ebn0_db, FS, baud, rng), FS, deviation_hz + baud, deviation_hz)


def demod(iq: bool, baud: float, **params):
    from groundseg.dsp.modulation import MODULATIONS
    return MODULATIONS.get(params.pop("modulation", "FSK")).make_demodulator(FS, baud, iq, **params)


# --- modulators --------------------------------------------------------------------------

def test_fsk_modulator_levels_and_length():
    bits = np.array([1, 0, 0, 1, 1, 1, 0], np.uint8)
    a = fsk_mod.fsk_modulate(bits, FS, 9600, False)
    assert a.dtype == np.float32 and a.size == 35
    assert np.allclose(a.reshape(7, 5).mean(axis=1), 2.0 * bits - 1)
    # fractional samples per symbol: a sample straddling two symbols averages them
    b = fsk_mod.fsk_modulate(np.array([1, 0], np.uint8), FS, 19200, False)
    assert b.size == 5 and np.allclose(b, [1, 1, 0, -1, -1])


def test_fsk_iq_is_unit_amplitude_fm_at_the_deviation():
    bits = np.array([1] * 20 + [0] * 20, np.uint8)
    iq = fsk_mod.fsk_modulate(bits, FS, 1200, True, deviation_hz=600)
    assert iq.dtype == np.complex64 and np.allclose(np.abs(iq), 1.0, atol=1e-5)
    f = np.angle(iq[1:] * np.conj(iq[:-1])) * FS / (2 * np.pi)
    assert abs(np.median(f[:700]) - 600) < 1 and abs(np.median(f[-700:]) + 600) < 1
    # default deviation: modulation index 0.5
    iq = fsk_mod.fsk_modulate(bits, FS, 9600, True)
    f = np.angle(iq[1:] * np.conj(iq[:-1])) * FS / (2 * np.pi)
    assert abs(np.median(f[:80]) - 2400) < 1 and fsk_mod.default_deviation_hz(9600) == 2400


def test_gfsk_is_smoother_than_fsk_and_keeps_the_levels():
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, 400).astype(np.uint8)
    f = fsk_mod.fsk_modulate(bits, FS, 4800, False)
    g = fsk_mod.gfsk_modulate(bits, FS, 4800, False, bt=0.5)
    assert np.max(np.abs(np.diff(g))) < 0.6 * np.max(np.abs(np.diff(f)))
    steady = np.flatnonzero(np.convolve(np.abs(np.diff(bits.astype(int))), [1, 1, 1], "same") == 0)
    centres = (steady * 10 + 5).clip(0, g.size - 1)
    assert np.allclose(np.sign(g[centres]), 2.0 * bits[steady] - 1)


@pytest.mark.parametrize("bad", [np.array([0, 2, 1]), np.zeros((2, 2))])
def test_modulator_rejects_bad_bits(bad):
    with pytest.raises(ValueError):
        fsk_mod.fsk_modulate(bad, FS, 9600, False)


def test_modulator_rejects_too_few_samples_per_symbol():
    with pytest.raises(ValueError):
        fsk_mod.fsk_modulate(np.ones(10, np.uint8), FS, 30000, False)


# --- demodulator through GNU Radio --------------------------------------------------------

@pytest.mark.parametrize("baud,ebn0_db,bound", [
    (1200, 12.0, 1.5e-2),     # measured ~2e-3
    (4800, 12.0, 5e-3),       # measured ~4e-4
    (9600, 12.0, 5e-3),       # measured ~4e-4
    (19200, 12.0, 5e-3),      # 2.5 samples per symbol at 48 kHz; measured ~3e-4
])
def test_fsk_from_audio_bit_errors(baud, ebn0_db, bound):
    rng = np.random.default_rng(int(baud))
    bits = rng.integers(0, 2, 8000).astype(np.uint8)
    dev = baud / 4
    soft, tags = run_block(demod(False, baud, deviation_hz=dev),
                           channel_audio(bits, baud, ebn0_db, rng, dev))
    errors, total, polarity = align(soft, bits)
    assert polarity == 1, "a 1 (higher frequency, positive audio) must give a positive soft symbol"
    assert total >= 7000
    assert errors / total < bound
    snr = [v for _, k, v in tags if k == "snr_db"]
    assert len(snr) >= 4 and 5.0 < np.median(snr[1:-1]) < 30.0


def test_fsk_audio_with_dc_offset_gain_and_unbalanced_preamble():
    """DC (receiver frequency offset) of 1.5 x the deviation, odd gain, and a preamble of
    AX.25 flags through NRZI: seven symbols of one level for one of the other."""
    rng = np.random.default_rng(3)
    flags = np.tile(np.array([1, 1, 1, 1, 1, 1, 1, 0], np.uint8), 50)
    bits = np.concatenate([flags, rng.integers(0, 2, 6000).astype(np.uint8)])
    audio = pad(fsk_mod.fsk_modulate(bits, FS, 9600, False), 3000, 3000)
    audio = 0.07 * (audio + 1.5) + 0.02 * rng.standard_normal(audio.size).astype(np.float32)
    soft, _ = run_block(demod(False, 9600), audio.astype(np.float32))
    errors, total, polarity = align(soft, bits, skip=400)
    assert polarity == 1 and errors == 0 and total >= 5500
    # the preamble comes out right too, after its first 100 symbols
    lag = int(np.argmax(np.correlate(np.sign(soft), 2.0 * bits[400:900] - 1.0, "valid"))) - 400
    assert np.array_equal(soft[lag + 100:lag + 400] > 0, bits[100:400] == 1)
    body = np.abs(soft[-3000:-1000])
    assert 0.8 < np.median(body) < 1.25       # normalised to about unit magnitude


def test_fsk_audio_burst_starting_far_off_frequency():
    """After silence, a burst whose DC is three times its deviation: the levels must
    unstick (no sample falls on the old midpoint's other side) within the preamble."""
    rng = np.random.default_rng(9)
    bits = rng.integers(0, 2, 3000).astype(np.uint8)
    audio = fsk_mod.fsk_modulate(bits, FS, 4800, False) + 3.0
    audio = pad(audio, 20000, 2000) + 0.1 * rng.standard_normal(audio.size + 22000)
    soft, _ = run_block(demod(False, 4800), audio.astype(np.float32))
    errors, total, polarity = align(soft, bits, skip=500)
    assert polarity == 1 and errors == 0 and total >= 2000


@pytest.mark.parametrize("offset_hz", [3000.0, -3000.0])
@pytest.mark.parametrize("baud", [1200, 9600])
def test_fsk_from_iq_with_frequency_offset(baud, offset_hz):
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2, 6000).astype(np.uint8)
    dev = baud / 4 if baud > 1200 else 600.0
    iq = pad(fsk_mod.fsk_modulate(bits, FS, baud, True, deviation_hz=dev), 4000, 4000)
    x = awgn(freq_shift(iq, offset_hz, FS), 12.0, FS, baud, rng)
    soft, tags = run_block(demod(True, baud, deviation_hz=dev), x)
    errors, total, polarity = align(soft, bits)
    assert polarity == 1
    assert errors / total < 1e-2          # measured ~1e-3
    sps = FS / baud
    burst = (4000 / sps + 1000, (4000 + iq.size - 8000) / sps - 200)   # well inside the burst
    est = [v for o, k, v in tags if k == "freq_offset_hz" and burst[0] < o < burst[1]]
    assert est and abs(np.median(est) - offset_hz) < 400


def test_gfsk_from_audio_and_iq():
    rng = np.random.default_rng(11)
    bits = rng.integers(0, 2, 6000).astype(np.uint8)
    soft, _ = run_block(demod(False, 9600, modulation="GFSK", deviation_hz=2400),
                        channel_audio(bits, 9600, 12.0, rng, 2400, gfsk=True))
    errors, total, polarity = align(soft, bits)
    assert polarity == 1 and errors / total < 5e-3
    iq = pad(fsk_mod.gfsk_modulate(bits, FS, 4800, True, bt=0.5), 2000, 2000)
    soft, _ = run_block(demod(True, 4800, modulation="GFSK", bt=0.5),
                        awgn(freq_shift(iq, 1500.0, FS), 12.0, FS, 4800, rng))
    errors, total, polarity = align(soft, bits)
    assert polarity == 1 and errors / total < 1e-2


def test_soft_magnitude_is_confidence():
    """At a low Eb/N0 the wrong decisions carry much smaller magnitudes than the right ones."""
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2, 8000).astype(np.uint8)
    soft, _ = run_block(demod(False, 9600, deviation_hz=2400),
                        channel_audio(bits, 9600, 7.0, rng, 2400))
    errors, total, _ = align(soft, bits)
    assert errors > 50                    # the test needs errors to look at
    # locate the symbols: global lag of the aligned stream
    ref = 2.0 * bits - 1.0
    c = np.correlate(np.sign(soft), ref[100:600], "valid")
    lag = int(np.argmax(c)) - 100
    s = soft[lag + 100:lag + 100 + 4000]
    r = ref[100:100 + s.size]
    wrong = np.sign(s) != r
    assert wrong.any()
    assert np.mean(np.abs(s[wrong])) < 0.6 * np.mean(np.abs(s[~wrong]))
    assert np.mean(np.abs(s) > 1.1) > 0.05   # not clipped at 1


def test_demodulator_rejects_impossible_rates():
    from groundseg.blocks.fsk_demod import fsk_demodulator
    with pytest.raises(InputError):
        fsk_demodulator(48000, 30000, False)
    with pytest.raises(InputError):
        fsk_demodulator(48000, 0, False)
    with pytest.raises(InputError):
        fsk_demodulator(48000, 9600, True, max_offset_hz=-5)


# --- frequency acquisition ----------------------------------------------------------------

def test_frequency_acquirer_finds_the_offset_and_holds_it_through_noise():
    rng = np.random.default_rng(2)
    fs, baud = 24000.0, 2400.0
    bits = rng.integers(0, 2, 3000).astype(np.uint8)
    burst = freq_shift(fsk_mod.fsk_modulate(bits, fs, baud, True, deviation_hz=1200), -2300.0, fs)
    x = np.concatenate([burst, np.zeros(12000, np.complex64)])
    x = awgn(x, 15.0, fs, baud, rng)
    afc = FrequencyAcquirer(fs, 3000.0, 1200 + baud / 2, 512, 128)   # 51 symbols, as the block
    n = x.size // 128 * 128
    x = x[:n]
    out = np.zeros(n, np.complex64)
    estimates = []
    for s in range(0, n, 1280):
        afc.process(x[s:s + 1280], out[s:s + 1280])
        estimates.append((afc.freq_hz, afc.detected))
    during = [f for f, d in estimates[3:20] if d]
    assert during and abs(np.median(during) + 2300) < 100
    # held in the noise (within the margin the demodulator's narrowed filter leaves)
    assert not estimates[-1][1] and abs(estimates[-1][0] + 2300) < 0.1 * (1200 + baud)
    # the corrected burst is centred: mean instantaneous frequency near 0
    y = out[afc.delay + 2000:afc.delay + burst.size - 500]
    f = np.angle(y[1:] * np.conj(y[:-1])) * fs / (2 * np.pi)
    assert abs(np.mean(f)) < 200


# --- kernel: Cython vs reference -------------------------------------------------------------

def _run_kernel(cls, sps, x, chunk_in=None, chunk_out=None):
    k = cls(sps)
    outs = []
    pos = 0
    while pos < x.size:
        buf = np.zeros(chunk_out or k.max_output(x.size), np.float32)
        c, p = k.process(x[pos:pos + (chunk_in or x.size)], buf)
        pos += c
        outs.append(buf[:p].copy())
    return np.concatenate(outs), k


def test_kernel_matches_golden_vectors():
    v = np.load(ROOT / "tests" / "vectors" / "fsk_symbols.npz")
    impls = [fsk_symbols_ref.SymbolRecovery]
    if fsk_symbols_c is not None:
        impls.append(fsk_symbols_c.SymbolRecovery)
    for i, sps in enumerate(v["sps"]):
        for cls in impls:
            y, k = _run_kernel(cls, float(sps), v[f"x{i}"])
            assert y.size == v[f"y{i}"].size
            np.testing.assert_allclose(y, v[f"y{i}"], atol=1e-4)
            np.testing.assert_allclose([k.dc, k.amplitude, k.period, k.snr_db], v[f"state{i}"],
                                       rtol=1e-6, atol=1e-9)


@pytest.mark.skipif(fsk_symbols_c is None, reason="Cython kernels not built (make setup)")
@pytest.mark.parametrize("sps", [2.0, 3.3, 5.0, 8.7])
def test_kernel_equals_reference_in_any_chunking(sps):
    rng = np.random.default_rng(int(sps * 10))
    bits = rng.integers(0, 2, 700)
    n = int(700 * sps)
    x = ((2.0 * bits[(np.arange(n) / sps).astype(int)] - 1) * 0.3 - 0.8
         + 0.2 * rng.standard_normal(n)).astype(np.float32)
    ref, kr = _run_kernel(fsk_symbols_ref.SymbolRecovery, sps, x)
    got, kc = _run_kernel(fsk_symbols_c.SymbolRecovery, sps, x, chunk_in=37, chunk_out=11)
    assert got.size == ref.size
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert kc.period == pytest.approx(kr.period, rel=1e-9)
    assert kc.n == kr.n == n


@pytest.mark.parametrize("kwargs", [dict(sps=1.5), dict(sps=5, loop_bw=0), dict(sps=5, max_dev=0.6),
                                    dict(sps=5, leak=1.0), dict(sps=5, level_rate=0),
                                    dict(sps=5, stuck_rate=0)])
def test_kernel_rejects_bad_parameters(kwargs):
    sps = kwargs.pop("sps")
    impls = [fsk_symbols_ref.SymbolRecovery] + ([fsk_symbols_c.SymbolRecovery] if fsk_symbols_c else [])
    for cls in impls:
        with pytest.raises(ValueError):
            cls(sps, **kwargs)


@pytest.mark.parametrize("lead_s", [0.0, 0.5])
@pytest.mark.parametrize("dc", [0.0, 2.5])
def test_a_recording_cut_in_the_preamble_decodes_its_first_frame(dc, lead_s):
    """A file that starts 40 symbols before the sync word (FloripaSat-1's recording does), with a DC offset
    larger than the signal (a receiver off frequency) and maybe digital silence first: the level tracker
    acquires within the preamble and the first frame decodes (it needed hundreds of symbols before)."""
    from groundseg.framing import get

    rng = np.random.default_rng(7)
    spec = get("NGHam no Reed Solomon")
    payload = bytes(rng.integers(0, 256, 40, dtype=np.uint8))
    bits = spec.make_framer(preamble_bytes=5).frame(payload)
    audio = fsk_mod.fsk_modulate(bits, FS, 1200, False) * 0.05 + dc * 0.05
    audio = audio + 0.005 * rng.standard_normal(audio.size).astype(np.float32)
    tail = np.zeros(int(FS) // 2, np.float32)
    x = np.concatenate([np.zeros(int(lead_s * FS), np.float32), audio, tail]).astype(np.float32)
    soft, _ = run_block(demod(False, 1200), x)
    frames = spec.make_deframer().process(soft)
    assert [f.data for f in frames] == [payload]
