import numpy as np
import pytest

from groundseg.dsp import channel


@pytest.mark.parametrize("complex_", [True, False])
def test_awgn_gives_the_requested_ebn0(rng, complex_):
    fs, baud = 48000.0, 9600.0
    n = 400_000
    x = np.ones(n, np.complex64) if complex_ else np.ones(n, np.float32)
    for ebn0 in (0.0, 6.0, 12.0):
        y = channel.awgn(x, ebn0, fs, baud, rng)
        noise = y - x
        # per-dimension variance, N0 = 2 sigma^2 (independent of the formula under test)
        var = np.var(noise.real) if not complex_ else (np.var(noise.real) + np.var(noise.imag)) / 2
        n0 = 2 * var
        eb = 1.0 * fs / baud          # unit power for fs/baud samples per bit
        measured = 10 * np.log10(eb / n0)
        assert abs(measured - ebn0) < 0.1


def test_freq_shift_moves_a_tone(rng):
    fs = 48000.0
    x = np.ones(48000, np.complex64)
    y = channel.freq_shift(x, 1234.0, fs)
    spec = np.abs(np.fft.fft(y))
    assert np.argmax(spec) == 1234
    ramp = np.linspace(-1000, 1000, 48000)
    z = channel.freq_shift(x, ramp, fs)
    inst = np.angle(z[1:] * np.conj(z[:-1])) * fs / (2 * np.pi)
    assert np.max(np.abs(inst - ramp[1:])) < 0.5


def test_bpsk_hard_decisions_follow_theory(rng):
    """Matched-filter BPSK at the set Eb/N0 has the textbook error rate Q(sqrt(2 Eb/N0))."""
    from math import erfc, sqrt
    sps, n = 8, 200_000
    bits = rng.integers(0, 2, n)
    x = np.repeat(2.0 * bits - 1.0, sps).astype(np.complex64)
    for ebn0_db in (2.0, 5.0):
        y = channel.awgn(x, ebn0_db, 8 * 1200.0, 1200.0, rng)
        decided = y.real.reshape(n, sps).sum(axis=1) > 0
        ber = np.mean(decided != bits.astype(bool))
        theory = 0.5 * erfc(sqrt(10 ** (ebn0_db / 10)))
        assert abs(ber - theory) < 0.15 * theory


def test_signal_power_ignores_silence_not_zero_crossings():
    t = np.arange(48000)
    carrier = np.cos(2 * np.pi * 12000 * t / 48000).astype(np.float32)   # 1, 0, -1, 0, ...
    assert abs(channel.signal_power(carrier) - 0.5) < 1e-3
    burst = channel.pad(carrier, 48000, 48000)
    assert abs(channel.signal_power(burst) - 0.5) < 0.01
