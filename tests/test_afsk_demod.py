"""AFSK demodulator through GNU Radio, and the AFSK modulator.

Channel: AFSK audio FM-modulated (3 kHz deviation, unit-power carrier),
white noise at the given Eb/N0, then a receiver (IF low-pass, FM
discriminator); IQ tests feed the noisy baseband, shifted in frequency.
Bounds are several times the error rates measured at these Eb/N0 and far
below the 0.5 of a broken demodulator.
"""
from __future__ import annotations

import numpy as np
import pytest

from groundseg.dsp.afsk_mod import afsk_modulate, tone_frequencies
from groundseg.dsp.channel import freq_shift, pad
from groundseg.errors import InputError
from test_fsk_demod import FS, align, awgn, demod, fm_receiver, run_block

FM_DEV = 3000.0


def afsk_channel(bits, baud, carrier, deviation, ebn0_db, rng, iq=False, offset_hz=0.0):
    x = pad(afsk_modulate(bits, FS, baud, True, af_carrier_hz=carrier, deviation_hz=deviation,
                          fm_deviation_hz=FM_DEV), 4000, 4000)
    if offset_hz:
        x = freq_shift(x, offset_hz, FS)
    x = awgn(x, ebn0_db, FS, baud, rng)
    if iq:
        return x
    return fm_receiver(x, FS, FM_DEV + carrier + abs(deviation) + baud / 2, FM_DEV)


# --- modulator -------------------------------------------------------------------------------

@pytest.mark.parametrize("carrier,deviation", [(1700.0, 500.0), (1700.0, -500.0), (3600.0, -1200.0)])
def test_tones_follow_the_convention(carrier, deviation):
    one, zero = tone_frequencies(carrier, deviation)
    assert one == carrier + deviation and zero == carrier - deviation
    for bit, tone in ((1, one), (0, zero)):
        a = afsk_modulate(np.full(600, bit, np.uint8), FS, 1200, False, af_carrier_hz=carrier,
                          deviation_hz=deviation)
        spec = np.abs(np.fft.rfft(a * np.hanning(a.size)))
        peak = np.fft.rfftfreq(a.size, 1 / FS)[np.argmax(spec)]
        assert abs(peak - tone) < 5


def test_afsk_is_phase_continuous_and_unit_amplitude():
    bits = np.random.default_rng(1).integers(0, 2, 300).astype(np.uint8)
    a = afsk_modulate(bits, FS, 1200, False)
    assert a.dtype == np.float32 and np.max(np.abs(a)) <= 1.0 + 1e-6
    assert np.max(np.abs(np.diff(a))) < 2 * np.pi * 2200 / FS * 1.01    # no phase jumps
    iq = afsk_modulate(bits, FS, 1200, True)
    assert iq.dtype == np.complex64 and np.allclose(np.abs(iq), 1, atol=1e-5)
    f = np.angle(iq[1:] * np.conj(iq[:-1])) * FS / (2 * np.pi)
    assert np.max(np.abs(f)) <= FM_DEV * 1.01      # FM deviation is 3 kHz by default


@pytest.mark.parametrize("kwargs", [dict(af_carrier_hz=500, deviation_hz=600),
                                    dict(af_carrier_hz=1700, deviation_hz=0),
                                    dict(af_carrier_hz=23800, deviation_hz=500)])
def test_afsk_modulator_rejects_bad_tones(kwargs):
    with pytest.raises(ValueError):
        afsk_modulate(np.ones(10, np.uint8), FS, 1200, False, **kwargs)


# --- demodulator ---------------------------------------------------------------------------

@pytest.mark.parametrize("baud,carrier,deviation,ebn0_db,bound", [
    (1200, 1700.0, 500.0, 19.0, 5e-3),     # Bell 202; measured ~1e-3 at 18 dB, 0 at 20 dB
    (1200, 1500.0, -600.0, 19.0, 5e-3),    # S-NET's tones
    (4800, 3600.0, -1200.0, 18.0, 3e-3),   # GOMspace U482C; measured ~4e-4
])
def test_afsk_from_audio_bit_errors(baud, carrier, deviation, ebn0_db, bound):
    rng = np.random.default_rng(baud + int(carrier))
    bits = rng.integers(0, 2, 4000).astype(np.uint8)
    soft, tags = run_block(demod(False, baud, modulation="AFSK", af_carrier_hz=carrier,
                                 deviation_hz=deviation),
                           afsk_channel(bits, baud, carrier, deviation, ebn0_db, rng))
    errors, total, polarity = align(soft, bits)
    assert polarity == 1, "the tone at carrier + deviation must give positive soft symbols"
    assert total >= 3000 and errors / total < bound
    assert any(k == "snr_db" for _, k, _ in tags)


def test_swapping_the_deviation_sign_inverts_the_soft_symbols():
    rng = np.random.default_rng(4)
    bits = rng.integers(0, 2, 3000).astype(np.uint8)
    audio = afsk_channel(bits, 1200, 1700.0, 500.0, 25.0, rng)
    soft, _ = run_block(demod(False, 1200, modulation="AFSK", af_carrier_hz=1700, deviation_hz=-500),
                        audio)
    errors, total, polarity = align(soft, bits)
    assert polarity == -1 and errors == 0


def test_afsk_with_receiver_deemphasis_twist():
    """A first-order de-emphasis at 300 Hz makes 2200 Hz 5 dB weaker than 1200 Hz."""
    rng = np.random.default_rng(8)
    bits = rng.integers(0, 2, 3000).astype(np.uint8)
    audio = afsk_channel(bits, 1200, 1700.0, 500.0, 24.0, rng)
    from gnuradio import filter as gr_filter

    a = np.exp(-2 * np.pi * 300 / FS)          # y[n] = (1 - a) x[n] + a y[n-1]
    y, _ = run_block(gr_filter.iir_filter_ffd([1 - a], [1.0, -a], False), audio)
    tones = np.abs(np.fft.rfft(y[8000:30000]))
    f = np.fft.rfftfreq(22000, 1 / FS)
    twist_db = 20 * np.log10(tones[np.abs(f - 1200) < 100].max() / tones[np.abs(f - 2200) < 100].max())
    assert twist_db > 4.0                       # the fixture does make a twist
    soft, _ = run_block(demod(False, 1200, modulation="AFSK"), 20 * y)
    # the first 300 symbols stand for a preamble: the levels settle on them
    errors, total, polarity = align(soft, bits, skip=300)
    assert polarity == 1 and errors / total < 5e-3


@pytest.mark.parametrize("baud,carrier,deviation", [(1200, 1700.0, 500.0), (4800, 3600.0, -1200.0)])
@pytest.mark.parametrize("offset_hz", [3000.0, -3000.0])
def test_afsk_from_iq_with_frequency_offset(baud, carrier, deviation, offset_hz):
    rng = np.random.default_rng(21)
    bits = rng.integers(0, 2, 3000).astype(np.uint8)
    x = afsk_channel(bits, baud, carrier, deviation, 21.0, rng, iq=True, offset_hz=offset_hz)
    soft, _ = run_block(demod(True, baud, modulation="AFSK", af_carrier_hz=carrier,
                              deviation_hz=deviation), x)
    errors, total, polarity = align(soft, bits)
    assert polarity == 1 and errors / total < 1e-2     # measured ~1e-3


def test_afsk_demodulator_rejects_what_does_not_fit():
    from groundseg.blocks.afsk_demod import afsk_demodulator
    with pytest.raises(InputError):
        afsk_demodulator(8000, 1200, False, af_carrier_hz=3600, deviation_hz=1200)
    with pytest.raises(InputError):
        afsk_demodulator(48000, 1200, False, af_carrier_hz=1000, deviation_hz=1000)
