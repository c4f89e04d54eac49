"""FSK and GFSK demodulators: FM receiver audio or complex IQ in, soft symbols out.

Audio chain (``iq=False``; float32 FM-demodulated audio, a 1 is positive):

1. Rate change to a few samples per symbol, with the matched filter folded in
   (GNU Radio C++/VOLK FIR filters): a low-pass at ``0.6 x baud`` (transition
   ``0.4 x baud``), decimating to 5..10 samples per symbol, or interpolating
   (``rational_resampler_fff``) when the input has fewer than 4 samples per
   symbol (19200 baud at 48 kHz is 2.5). Measured on FM-demodulated noise
   (whose spectrum rises with frequency) this low-pass beats the
   integrate-and-dump filter matched to rectangular NRZ by about 0.5 dB at
   9600 baud and equals it at 1200 baud.
2. Symbol recovery, one Cython kernel (``groundseg.dsp.fsk_symbols``, see
   its reference ``fsk_symbols_ref.py`` for the exact definition):

   * two-level tracking: the levels of a 1 and of a 0 are followed
     separately (time constant 32 symbols), so the frequency offset (DC) is
     removed and the amplitude normalised without a high-pass filter, which
     would drag the slicing level in runs of equal symbols and unbalanced
     preambles (AX.25 flags through NRZI: 7 symbols of one level, 1 of the
     other); a level no sample visits any more (a burst starting further
     off frequency than its deviation) is pulled toward the signal;
   * symbol timing: an overdamped second-order loop (bandwidth 0.015 per
     symbol, damping 2) with the zero-crossing detector (decision directed;
     unlike Gardner's detector it is not thrown off by the clicks of an FM
     receiver near threshold), cubic interpolation, the clock period held
     within 2 % of nominal (UPMSat-2's 1200 baud runs 0.55 % fast) so that
     the noise before a burst cannot walk it away;
   * soft symbols: a second level tracker at one sample per symbol scales a
     clean signal to +/-1 and estimates the symbol SNR, tagged ``snr_db``
     every 256 symbols (``-10 log10`` of the variance of the soft symbols
     around +/-1); magnitudes are not clipped, but a symbol beyond 1.5 (an
     FM click, several times the signal's amplitude, of random sign) is
     given less confidence the further out it is.

   GNU Radio's ``digital.symbol_sync_ff`` (zero-crossing detector) was the
   first version of this step: it costs about 29 ns of CPU per input sample
   here against about 7 ns for the whole kernel, and the 9600-baud demodulator
   ran at 106x real time with it against 420x with the kernel (loaded
   machine, same bit error rates within the measurement: 5.8e-3 vs 6.0e-3 at
   Eb/N0 10 dB).

IQ chain (``iq=True``): a low-pass channel filter wide enough for the signal
(``deviation_hz + 0.6 x baud``) plus the frequency offset range
(``max_offset_hz``, default 3000 Hz) decimates to a few samples per symbol;
coarse frequency acquisition (``groundseg.dsp.fsk_afc``: the FSK band found
in an averaged spectrum, removed with an NCO, held between bursts) lets a
second low-pass narrow the band to the signal plus a margin (for 1200 baud
at +/-3 kHz this takes the bit error rate at Eb/N0 12 dB from 3e-2 to 5e-4);
``analog.quadrature_demod_cf`` scaled so that +/-deviation gives +/-1, then
the audio chain. The offset (acquisition plus the DC the level tracker
removes) is tagged ``freq_offset_hz`` while the SNR shows a signal.

Polarity: a 1 is the higher frequency (positive FM audio), the convention of
``groundseg.dsp.fsk_mod``. Receivers that invert their audio give inverted
soft symbols: the framings handle either polarity.

``deviation_hz=None`` means modulation index 0.5 (``baud / 4``); it only
sets the IQ channel filter and the discriminator scale (audio levels are
measured, not assumed).

GFSK is demodulated by the same chain (the low-pass is close to matched to a
Gaussian-filtered pulse of BT >= 0.3 as well).
"""
from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import analog, filter, gr
from gnuradio.filter import firdes

try:
    from ..dsp.fsk_symbols import SymbolRecovery
except ImportError:  # kernels not built (``make setup``): the reference gives the same output
    import warnings

    warnings.warn("groundseg.dsp.fsk_symbols: Cython kernel not built; using the slow pure-Python"
                  " reference (run `make setup`)", RuntimeWarning, stacklevel=2)
    from ..dsp.fsk_symbols_ref import SymbolRecovery
from ..dsp.fsk_afc import FrequencyAcquirer
from ..dsp.fsk_mod import default_deviation_hz
from ..errors import InputError

MIN_SPS = 4.0                  # interpolate below this many samples per symbol
TARGET_SPS = 5.0               # decimate toward (not below) this
LOWPASS_CUTOFF_BAUD = 0.6      # matched low-pass cutoff, times the baud rate
LOWPASS_TRANSITION_BAUD = 0.4
LEVEL_TIME_SYMBOLS = 32.0      # level tracker time constants, in symbols
LEVEL_LEAK = 0.5
STUCK_TIME_SYMBOLS = 64.0      # time constant of the "a level no sample visits" detector
NOISE_TIME_SYMBOLS = 64.0
TIMING_LOOP_BW = 0.015
TIMING_DAMPING = 2.0
MAX_CLOCK_DEVIATION = 0.02     # fraction of the nominal symbol period
DEFAULT_MAX_OFFSET_HZ = 3000.0  # IQ: frequency offsets searched for and removed
AFC_MARGIN = 0.2               # IQ: channel filter margin after the coarse correction,
                               # times (deviation + baud), at least the deviation
TAG_INTERVAL_SYMBOLS = 256
MIN_SNR_FOR_OFFSET_DB = 4.0    # no freq_offset_hz tag from noise

SNR_TAG = pmt.intern("snr_db")
FREQ_TAG = pmt.intern("freq_offset_hz")


def _check_rates(samp_rate_sps: float, baud: float) -> None:
    if not baud or baud <= 0:
        raise InputError(f"baud rate must be positive, not {baud}")
    if not samp_rate_sps or samp_rate_sps <= 0:
        raise InputError(f"sample rate must be positive, not {samp_rate_sps}")
    if samp_rate_sps < 2.0 * baud:
        raise InputError(f"sample rate {samp_rate_sps:g} S/s is too low for {baud:g} baud"
                         f" (needs at least {2 * baud:g})")


class symbol_recovery_ff(gr.basic_block):
    """``SymbolRecovery`` as a block: matched-filtered NRZ in, soft symbols out.

    Tags ``snr_db`` every ``tag_interval`` symbols, and ``freq_offset_hz``
    (the tracked DC times ``offset_scale_hz``, plus ``offset_base_hz()``, the
    correction applied upstream, when given) when that scale is given and the
    SNR shows a signal (at least ``MIN_SNR_FOR_OFFSET_DB``).
    """

    def __init__(self, sps: float, offset_scale_hz: float | None = None,
                 tag_interval: int = TAG_INTERVAL_SYMBOLS, offset_base_hz=None):
        gr.basic_block.__init__(self, name="groundseg_fsk_symbols", in_sig=[np.float32],
                                out_sig=[np.float32])
        self.kernel = SymbolRecovery(
            sps, TIMING_LOOP_BW, TIMING_DAMPING, MAX_CLOCK_DEVIATION, 1.0 / LEVEL_TIME_SYMBOLS,
            LEVEL_LEAK, 1.0 / LEVEL_TIME_SYMBOLS, 1.0 / NOISE_TIME_SYMBOLS,
            1.0 / STUCK_TIME_SYMBOLS)
        self.sps = float(sps)
        self._min_period = self.sps * (1.0 - MAX_CLOCK_DEVIATION) - 1.0
        self.offset_scale_hz = offset_scale_hz
        self.offset_base_hz = offset_base_hz
        self.tag_interval = max(1, int(tag_interval))
        self._next_tag = self.tag_interval
        self.set_relative_rate(1.0 / self.sps)

    def forecast(self, noutput_items, ninputs):
        return [max(1, int(noutput_items * self._min_period))] * ninputs

    def general_work(self, input_items, output_items):
        x = input_items[0]
        out = output_items[0]
        written = self.nitems_written(0)
        consumed = produced = 0
        while consumed < len(x) and produced < len(out):
            # stop at the next tag position so the tag carries the state there
            room = min(len(out), self._next_tag - written) - produced
            c, p = self.kernel.process(x[consumed:], out[produced:produced + room])
            consumed += c
            produced += p
            if written + produced >= self._next_tag:
                self._tag(self._next_tag - 1)
                self._next_tag += self.tag_interval
        self.consume(0, consumed)
        return produced

    def _tag(self, offset: int) -> None:
        k = self.kernel
        self.add_item_tag(0, offset, SNR_TAG, pmt.from_double(round(float(k.snr_db), 2)))
        if self.offset_scale_hz and k.snr_db >= MIN_SNR_FOR_OFFSET_DB:
            hz = k.dc * self.offset_scale_hz
            if self.offset_base_hz is not None:
                hz += self.offset_base_hz()
            self.add_item_tag(0, offset, FREQ_TAG, pmt.from_double(round(float(hz), 1)))


class nrz_soft_symbols(gr.hier_block2):
    """Baseband NRZ (FM audio, discriminator output) in, soft symbols out.

    Steps 1 and 2 of the module docstring. ``offset_scale_hz``: Hz per unit
    of input level, to tag the measured DC as ``freq_offset_hz`` (IQ chains,
    where the discriminator scale is known).
    """

    def __init__(self, samp_rate_sps: float, baud: float, offset_scale_hz: float | None = None,
                 offset_base_hz=None, cutoff_baud: float | None = None):
        gr.hier_block2.__init__(self, "groundseg_nrz_soft_symbols",
                                gr.io_signature(1, 1, gr.sizeof_float),
                                gr.io_signature(1, 1, gr.sizeof_float))
        _check_rates(samp_rate_sps, baud)
        cutoff = (cutoff_baud or LOWPASS_CUTOFF_BAUD) * baud
        fs = float(samp_rate_sps)
        sps = fs / baud
        if sps < MIN_SPS:
            interp = int(math.ceil(TARGET_SPS / sps))
            taps = firdes.low_pass(float(interp), fs * interp, cutoff,
                                   LOWPASS_TRANSITION_BAUD * baud)
            self.matched = filter.rational_resampler_fff(interp, 1, taps)
            sps *= interp
        else:
            decim = max(1, int(sps // TARGET_SPS))
            taps = firdes.low_pass(1.0, fs, cutoff, LOWPASS_TRANSITION_BAUD * baud)
            self.matched = filter.fir_filter_fff(decim, taps)
            sps /= decim
        self.sps = sps
        self.recovery = symbol_recovery_ff(sps, offset_scale_hz, offset_base_hz=offset_base_hz)
        self.connect(self, self.matched, self.recovery, self)


class fm_discriminator(gr.hier_block2):
    """Complex baseband in, FM audio out: channel filter, decimation, quadrature demod.

    The channel low-pass passes ``+/-passband_hz``; the output is scaled so
    that a frequency of ``scale_hz`` gives 1.0. ``self.samp_rate_sps`` is the
    output rate (at least ``min_rate_sps``).
    """

    def __init__(self, samp_rate_sps: float, passband_hz: float, scale_hz: float,
                 min_rate_sps: float):
        gr.hier_block2.__init__(self, "groundseg_fm_discriminator",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_float))
        fs = float(samp_rate_sps)
        transition = 0.25 * passband_hz
        cutoff = min(passband_hz, 0.45 * fs - transition / 2)
        need = max(2.0 * (cutoff + transition), min_rate_sps)
        decim = max(1, int(fs // need))
        self.samp_rate_sps = fs / decim
        if cutoff + transition / 2 < fs / 2 * 0.98:
            taps = firdes.low_pass(1.0, fs, cutoff, transition)
            self.channel = filter.fir_filter_ccf(decim, taps)
        else:  # the band is as wide as the input: nothing to filter
            self.channel = filter.fir_filter_ccf(decim, [1.0])
        self.demod = analog.quadrature_demod_cf(self.samp_rate_sps / (2.0 * math.pi * scale_hz))
        self.connect(self, self.channel, self.demod, self)


class frequency_acquirer_cc(gr.sync_block):
    """``groundseg.dsp.fsk_afc.FrequencyAcquirer`` as a block (complex in, complex out).

    Window: at least 32 symbols (a power of two), hop a quarter of it. The
    output is delayed by ``self.afc.delay`` samples; the last partial hop of
    a stream (under a quarter window) is not processed.
    """

    def __init__(self, samp_rate_sps: float, baud: float, range_hz: float,
                 signal_half_bw_hz: float, deviation_hz: float | None = None,
                 acquire_hz: float | None = None):
        gr.sync_block.__init__(self, name="groundseg_fsk_afc", in_sig=[np.complex64],
                               out_sig=[np.complex64])
        window = 64
        while window < 32 * samp_rate_sps / baud:
            window *= 2
        self.afc = FrequencyAcquirer(samp_rate_sps, range_hz, signal_half_bw_hz, window,
                                     window // 4, deviation_hz=deviation_hz,
                                     acquire_hz=acquire_hz)
        self.set_output_multiple(window // 4)

    def offset_hz(self) -> float:
        return self.afc.freq_hz

    def work(self, input_items, output_items):
        out = output_items[0]
        n = len(out)
        self.afc.process(input_items[0][:n], out)
        return n


class fsk_iq_discriminator(gr.hier_block2):
    """Complex FSK baseband in, FM audio out (+/-1 at +/-deviation), offsets removed.

    A channel filter passing the signal plus the offset range decimates;
    ``frequency_acquirer_cc`` measures and removes the offset (when
    ``max_offset_hz`` > 0); a second low-pass narrowed to the signal (plus a
    margin for what the coarse estimate leaves) improves the FM threshold;
    ``quadrature_demod_cf`` follows. ``offset_hz()`` is the correction applied.
    """

    def __init__(self, samp_rate_sps: float, baud: float, deviation_hz: float,
                 max_offset_hz: float):
        gr.hier_block2.__init__(self, "groundseg_fsk_iq_discriminator",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_float))
        fs = float(samp_rate_sps)
        signal = deviation_hz + LOWPASS_CUTOFF_BAUD * baud
        wide = signal + max_offset_hz
        transition = 0.25 * wide
        cutoff = min(wide, 0.45 * fs - transition / 2)
        decim = max(1, int(fs // max(2.0 * (cutoff + transition), MIN_SPS * baud)))
        self.samp_rate_sps = fs / decim
        chain = [filter.fir_filter_ccf(decim, firdes.low_pass(1.0, fs, cutoff, transition))]
        self.afc = None
        if max_offset_hz > 0:
            # what the coarse estimate may leave: a data-dependent scatter, and up
            # to 0.75 x the deviation on a long unbalanced preamble
            margin = max(AFC_MARGIN * (deviation_hz + baud), deviation_hz)
            self.afc = frequency_acquirer_cc(self.samp_rate_sps, baud, max_offset_hz,
                                             deviation_hz + 0.5 * baud, deviation_hz, margin)
            narrow = signal + margin
            fs1 = self.samp_rate_sps
            if narrow + 0.125 * narrow < 0.45 * fs1:
                chain += [self.afc, filter.fir_filter_ccf(
                    1, firdes.low_pass(1.0, fs1, narrow, 0.25 * narrow))]
            else:
                chain.append(self.afc)
        chain.append(analog.quadrature_demod_cf(self.samp_rate_sps / (2.0 * math.pi * deviation_hz)))
        self.chain = chain
        self.connect(self, *chain, self)

    def offset_hz(self) -> float:
        return self.afc.offset_hz() if self.afc is not None else 0.0


class fsk_demod(gr.hier_block2):
    """2-FSK demodulator (see the module docstring); float or complex in, soft symbols out."""

    def __init__(self, samp_rate_sps: float, baud: float, iq: bool = False,
                 deviation_hz: float | None = None, max_offset_hz: float = DEFAULT_MAX_OFFSET_HZ):
        _check_rates(samp_rate_sps, baud)
        item = gr.sizeof_gr_complex if iq else gr.sizeof_float
        gr.hier_block2.__init__(self, "groundseg_fsk_demod", gr.io_signature(1, 1, item),
                                gr.io_signature(1, 1, gr.sizeof_float))
        dev = abs(float(deviation_hz)) if deviation_hz else default_deviation_hz(baud)
        if max_offset_hz is None or max_offset_hz < 0:
            raise InputError(f"max_offset_hz must be a non-negative number, not {max_offset_hz}")
        self.deviation_hz = dev
        if iq:
            self.front = fsk_iq_discriminator(samp_rate_sps, baud, dev, float(max_offset_hz))
            self.symbols = nrz_soft_symbols(self.front.samp_rate_sps, baud, offset_scale_hz=dev,
                                            offset_base_hz=self.front.offset_hz)
            self.connect(self, self.front, self.symbols, self)
        else:
            self.front = None
            self.symbols = nrz_soft_symbols(samp_rate_sps, baud)
            self.connect(self, self.symbols, self)


def fsk_demodulator(samp_rate_sps, baud, iq, deviation_hz=None, max_offset_hz=DEFAULT_MAX_OFFSET_HZ,
                    **ignored) -> gr.hier_block2:
    """2-FSK from FM receiver audio (``iq=False``) or complex baseband: soft symbols, > 0 for a 1."""
    return fsk_demod(samp_rate_sps, baud, bool(iq), deviation_hz, max_offset_hz)


def gfsk_demodulator(samp_rate_sps, baud, iq, deviation_hz=None, bt=0.5,
                     max_offset_hz=DEFAULT_MAX_OFFSET_HZ, **ignored) -> gr.hier_block2:
    """Gaussian-filtered FSK (any ``bt``): demodulated by the FSK chain."""
    if bt is not None and bt <= 0:
        raise InputError(f"GFSK bt must be positive, not {bt}")
    return fsk_demod(samp_rate_sps, baud, bool(iq), deviation_hz, max_offset_hz)
