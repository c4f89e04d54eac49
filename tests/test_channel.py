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
        n0 = np.mean(np.abs(noise) ** 2) / fs * (1 if complex_ else 2)
        eb = 1.0 * fs / baud
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
