"""AFSK demodulator: two audio tones on an FM channel in, soft symbols out.

Audio chain (``iq=False``, FM receiver audio):

1. ``filter.freq_xlating_fir_filter_fcc`` moves the audio carrier
   ``af_carrier_hz`` to 0 Hz and low-passes to the two tones and their
   keying sidebands (``|deviation_hz| + 0.6 x baud``), decimating. Everything
   else in the audio (voice-band noise, sub-audible DC of a frequency offset,
   CTCSS) is gone. Wide AFSK whose band reaches 0 Hz (4800 baud on 3600 Hz)
   has the audio's DC removed first (``filter.dc_blocker_ff``, a notch about
   100 Hz wide, settling in about 20 ms).
2. ``analog.quadrature_demod_cf`` measures the instantaneous frequency,
   scaled so that the tone of a 1 (``af_carrier_hz + deviation_hz``) gives
   +1 and the other tone -1. A frequency discriminator ignores the amplitude
   ratio of the two tones, which an FM receiver's de-emphasis and audio
   filters change by several dB ("twist").
3. The FSK soft-symbol chain of ``groundseg.blocks.fsk_demod``
   (``nrz_soft_symbols``: low-pass, two-level DC/level tracking,
   zero-crossing symbol timing, normalised soft symbols with ``snr_db``
   tags), with the low-pass at ``0.8 x baud`` rather than FSK's 0.6: the
   tone filter already limits the noise, and a lone symbol among seven of
   the other level (AX.25 flags through NRZI) must still reach its level,
   or the symbol timing can settle half a symbol off on a flag preamble
   (measured: 10 % of Bell 202 frames lost at any Eb/N0 with 0.6, none
   with 0.8, ``tests/benchmarks/bench_ax25_sensitivity.py``).

IQ chain: the FM channel is demodulated first (channel filter for the FM
deviation ``fm_deviation_hz`` (default 3000 Hz) plus the highest tone plus
``max_offset_hz``, ``quadrature_demod_cf``), then the audio chain.

Tone convention (see ``groundseg.dsp.afsk_mod``): a 1 is the tone at
``af_carrier_hz + deviation_hz``; negative deviation swaps the tones. Bell
202 (1200 baud, 1200/2200 Hz): ``af_carrier_hz=1700``; the mark (1200 Hz)
is a 1 with ``deviation_hz=-500``.
"""
from __future__ import annotations

import math

from gnuradio import analog, filter, gr
from gnuradio.filter import firdes

from ..errors import InputError
from .fsk_demod import (DEFAULT_MAX_OFFSET_HZ, LOWPASS_CUTOFF_BAUD, MIN_SPS, _check_rates,
                        fm_discriminator, nrz_soft_symbols)

DEFAULT_FM_DEVIATION_HZ = 3000.0
TARGET_SPS = 5.0               # the tone discriminator runs at no less than this
TONE_BW_BAUD = 0.6             # tone filter: +/-(|deviation| + this x baud) around the carrier
SYMBOL_CUTOFF_BAUD = 0.8       # low-pass after the tone discriminator, times the baud rate
DC_BLOCK_HZ = 100.0            # audio DC notch (only when the tones' band reaches 0 Hz)


class afsk_tone_discriminator(gr.hier_block2):
    """Audio in, the tone frequency out (+1 at the tone of a 1, -1 at the other)."""

    def __init__(self, samp_rate_sps: float, baud: float, af_carrier_hz: float, deviation_hz: float):
        gr.hier_block2.__init__(self, "groundseg_afsk_tone_discriminator",
                                gr.io_signature(1, 1, gr.sizeof_float),
                                gr.io_signature(1, 1, gr.sizeof_float))
        fs = float(samp_rate_sps)
        half_bw = abs(deviation_hz) + TONE_BW_BAUD * baud
        transition = 0.3 * baud
        if af_carrier_hz + half_bw >= fs / 2:
            raise InputError(f"AFSK at {af_carrier_hz:g} Hz +/- {abs(deviation_hz):g} Hz and"
                             f" {baud:g} baud does not fit in audio sampled at {fs:g} S/s")
        need = max(2.0 * (half_bw + transition), TARGET_SPS * baud)
        decim = max(1, int(fs // need))
        self.samp_rate_sps = fs / decim
        taps = firdes.low_pass(1.0, fs, half_bw, transition)
        chain = []
        self.dc_block = None
        if af_carrier_hz - half_bw - transition < DC_BLOCK_HZ:
            # the band reaches down to 0 Hz: the audio's DC (a frequency offset
            # of the FM channel) would land in it
            self.dc_block = filter.dc_blocker_ff(max(2, int(fs / DC_BLOCK_HZ)), True)
            chain.append(self.dc_block)
        self.xlate = filter.freq_xlating_fir_filter_fcc(decim, taps, float(af_carrier_hz), fs)
        self.demod = analog.quadrature_demod_cf(self.samp_rate_sps / (2.0 * math.pi * deviation_hz))
        chain += [self.xlate, self.demod]
        self.connect(self, *chain, self)


class afsk_demod(gr.hier_block2):
    """AFSK demodulator (see the module docstring); float or complex in, soft symbols out."""

    def __init__(self, samp_rate_sps: float, baud: float, iq: bool = False,
                 af_carrier_hz: float = 1700.0, deviation_hz: float = 500.0,
                 fm_deviation_hz: float = DEFAULT_FM_DEVIATION_HZ,
                 max_offset_hz: float = DEFAULT_MAX_OFFSET_HZ):
        _check_rates(samp_rate_sps, baud)
        fc, dev = float(af_carrier_hz), float(deviation_hz)
        if fc <= 0 or dev == 0 or abs(dev) >= fc:
            raise InputError(f"AFSK needs 0 < |deviation| < carrier, not carrier {fc:g} Hz,"
                             f" deviation {dev:g} Hz")
        item = gr.sizeof_gr_complex if iq else gr.sizeof_float
        gr.hier_block2.__init__(self, "groundseg_afsk_demod", gr.io_signature(1, 1, item),
                                gr.io_signature(1, 1, gr.sizeof_float))
        blocks_ = []
        rate = float(samp_rate_sps)
        if iq:
            top = fc + abs(dev) + LOWPASS_CUTOFF_BAUD * baud
            self.front = fm_discriminator(rate, fm_deviation_hz + top + max_offset_hz,
                                          fm_deviation_hz, max(2.2 * top, MIN_SPS * baud))
            rate = self.front.samp_rate_sps
            blocks_.append(self.front)
        else:
            self.front = None
        self.tones = afsk_tone_discriminator(rate, baud, fc, dev)
        self.symbols = nrz_soft_symbols(self.tones.samp_rate_sps, baud,
                                        cutoff_baud=SYMBOL_CUTOFF_BAUD)
        blocks_ += [self.tones, self.symbols]
        self.connect(self, *blocks_, self)


def afsk_demodulator(samp_rate_sps, baud, iq, af_carrier_hz=1700.0, deviation_hz=500.0,
                     fm_deviation_hz=DEFAULT_FM_DEVIATION_HZ, max_offset_hz=DEFAULT_MAX_OFFSET_HZ,
                     **ignored) -> gr.hier_block2:
    """AFSK from FM receiver audio (``iq=False``) or complex baseband: soft symbols, > 0 for a 1."""
    return afsk_demod(samp_rate_sps, baud, bool(iq), af_carrier_hz, deviation_hz,
                      fm_deviation_hz, max_offset_hz)
