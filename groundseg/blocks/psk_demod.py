"""BPSK and DBPSK demodulators: SSB audio or IQ in, soft symbols out.

Chain (GNU Radio C++ blocks for filtering; numpy per hop and Cython kernels
for the steps GNU Radio's loops do poorly on short bursts):

1. ``freq_xlating_fir_filter``: shift the nominal carrier to 0 Hz (audio:
   ``af_carrier_hz``, default 1500 Hz up to 2400 baud and 12 kHz above; IQ:
   0 Hz), low-pass to the signal plus the search range, decimate to about 8
   samples per symbol where the input allows.
2. ``psk_acquire`` (numpy per hop, ``groundseg.dsp.psk_carrier``): the
   carrier offset from the squared signal's spectrum over 512 symbols centred
   on each hop, removed with a phase-continuous NCO; search range audio
   +/-600 Hz (<= 2400 baud) or +/-1500 Hz (above), IQ +/-3500 Hz (or
   ``freq_range_hz``). Squelch: where no carrier line stands out (noise
   between bursts) the output is 0, so nothing downstream drifts on noise.
3. ``fir_filter_ccf``: root-raised-cosine matched filter (roll-off ``rolloff``).
4. ``psk_sync`` (Cython kernel ``groundseg.dsp.psk_sync``): feed-forward symbol
   timing (square-law clock line over 256 symbols centred on each symbol,
   with the symbol-clock drift learnt and compensated) and carrier phase
   (squared symbols over 32 symbols): a burst is sampled and phased right
   from its first symbols, no loop to pull in.
5. ``psk_softnorm`` (Cython kernel ``groundseg.dsp.psk_softnorm``): the real
   part scaled by the local signal amplitude and noise, about +/-1 for a
   clean signal, near 0 for noise, lower in a fade (not clipped); tags
   ``snr_db`` (Es/N0 estimate) every 128 symbols.

``sync="loops"`` replaces 4. by GNU Radio's ``symbol_sync_cc`` (Gardner) and
``costas_loop_cc`` with centred level normalisation in front of each (kept to
measure the kernel against: ``tests/benchmarks/bench_ax25_sensitivity_psk.py``).

Latency: 370 to 500 symbols (acquisition 192 plus up to a 128-symbol hop,
timing 128, phase 16, scaling 32): the last symbols of a stream come out
only if that much input follows (0.4 s at 1200 baud, 50 ms at 9600 baud).

BPSK polarity: the phase estimate (like a Costas loop) settles at 0 or 180
degrees, so the output has either polarity and may flip after a deep fade.
Framings resolve it (AX.25: NRZI; CCSDS: sync-word correlation checks both
polarities).

DBPSK: the same chain followed by soft differential decoding,
``out[n] = x[n] * x[n-1]`` on the real soft symbols (coherent detection,
then differential decoding: the quadrature noise is not used, and a phase
slip costs one symbol). ``out > 0`` means "no phase change", which is a 1 in
FUNcube/AO-73's convention (phase change -> 0, no change -> 1), so the
AO-40 FEC deframer gets data bits directly.

The soft-symbol stream is also tagged ``freq_offset_hz`` (carrier offset from
the nominal carrier, from the acquisition step) when the estimate moves.
"""
from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import blocks, digital, filter, gr
from gnuradio.fft import window
from gnuradio.filter import firdes

from ..dsp.psk_carrier import CarrierAcquirer
from ..dsp.psk_mod import default_af_carrier_hz
from ..errors import InputError

try:
    from ..dsp.psk_softnorm import SoftNormalizer
    from ..dsp.psk_sync import SymbolSync
except ImportError:  # kernels not built (``make setup``): the numpy references give the same output
    from ..dsp.psk_softnorm_ref import SoftNormalizer
    from ..dsp.psk_sync_ref import SymbolSync

DEFAULT_ROLLOFF = 0.5
MIN_SPS = 8                 # decimate no further than this many samples per symbol
MAX_CLOCK_DEVIATION = 0.02  # symbol clock search range (fraction of the nominal period)
# Slope of the Gardner detector's S-curve behind the RRC polyphase matched filter
# for a unit-RMS input (what the AGC delivers), per symbol of timing error;
# measured by simulation (timing offsets of +/-0.1 symbol, sps 5 to 13).
GARDNER_GAIN_PER_SYMBOL = 1.45
AGC_HALF_SYMBOLS = 8        # level normalisation window: +/- this many symbols


def default_range_hz(baud: float, iq: bool) -> float:
    """Carrier search range: how far from nominal the carrier may be."""
    if iq:
        return 3500.0
    return 600.0 if baud <= 2400 else 1500.0


class psk_acquire(gr.sync_block):
    """Coarse carrier offset removal (complex in, complex out, delayed by ``delay`` samples)."""

    def __init__(self, samp_rate_sps: float, baud: float, range_hz: float,
                 window_symbols: int = 512, hops: int = 4, threshold: float = 25.0,
                 offset_hz: float = 0.0, squelch: bool = True):
        gr.sync_block.__init__(self, name="groundseg_psk_acquire",
                               in_sig=[np.complex64], out_sig=[np.complex64])
        sps = samp_rate_sps / baud
        hop = max(16, int(round(window_symbols * sps / hops)))
        self.core = CarrierAcquirer(samp_rate_sps, range_hz, hop * hops, hop, threshold,
                                    squelch=squelch)
        self.offset_hz = float(offset_hz)      # reported offsets are relative to this
        self.tag_step_hz = max(2.0, baud / 200.0)
        self._tagged = None
        self.set_output_multiple(hop)

    @property
    def delay(self) -> int:
        return self.core.delay

    def work(self, input_items, output_items):
        x = input_items[0]
        out = output_items[0]
        n = (len(out) // self.core.hop) * self.core.hop
        changes = self.core.process(x[:n], out[:n])
        base = self.nitems_written(0)
        for idx, f in changes:
            if self._tagged is None or abs(f - self._tagged) >= self.tag_step_hz:
                self._tagged = f
                self.add_item_tag(0, base + idx, pmt.intern("freq_offset_hz"),
                                  pmt.from_double(round(f + self.offset_hz, 1)))
        return n


class psk_sync(gr.basic_block):
    """Feed-forward symbol timing and carrier phase (``groundseg.dsp.psk_sync_ref``).

    Matched-filtered complex baseband at ``sps`` samples per symbol in, one
    phase-aligned complex symbol per symbol out.
    """

    def __init__(self, sps: float, timing_window: int = 256, phase_window: int = 32):
        gr.basic_block.__init__(self, name="groundseg_psk_sync",
                                in_sig=[np.complex64], out_sig=[np.complex64])
        self.sps = float(sps)
        self.core = SymbolSync(self.sps, timing_window, phase_window)
        self.set_relative_rate(1.0 / self.sps)
        # symbols made but not yet written (the kernel takes whole chunks; the
        # output buffer may have less room than the chunk makes symbols)
        self._pending = np.zeros(0, np.complex64)

    def forecast(self, noutput_items, ninputs):
        missing = noutput_items - self._pending.size
        return [max(0, int(np.ceil(missing * self.sps)))] * ninputs

    def general_work(self, input_items, output_items):
        x = input_items[0]
        out = output_items[0]
        if self._pending.size < len(out) and len(x):
            self._pending = np.concatenate([self._pending, self.core.process(x)])
            self.consume(0, len(x))
        n = min(len(out), self._pending.size)
        out[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class psk_softnorm(gr.sync_block):
    """Carrier-locked BPSK symbols (complex) in, scaled soft symbols (float) out.

    See ``groundseg.dsp.psk_softnorm_ref``: ``Re(s) * A / mean(Re(s)**2)`` over a
    centred window, so a clean signal gives +/-1 and noise gives values near
    0. Tags the output with ``snr_db`` (Es/N0 estimate) every ``tag_every`` symbols.
    """

    def __init__(self, window: int = 64, tag_every: int = 128):
        gr.sync_block.__init__(self, name="groundseg_psk_softnorm",
                               in_sig=[np.complex64], out_sig=[np.float32])
        self.core = SoftNormalizer(window)
        self.tag_every = int(tag_every)
        self._next_tag = self.tag_every

    def work(self, input_items, output_items):
        x = input_items[0]
        out = output_items[0]
        n = len(out)
        start = self.nitems_written(0)
        i = 0
        while i < n:
            # up to the next tag position, so that each tag has the SNR of its own window
            j = min(n, max(i + 1, self._next_tag - start))
            self.core.process(x[i:j], out[i:j])
            if start + j >= self._next_tag:
                snr = self.core.snr_db
                if math.isfinite(snr):
                    self.add_item_tag(0, start + j - 1, pmt.intern("snr_db"),
                                      pmt.from_double(round(snr, 1)))
                self._next_tag += self.tag_every
            i = j
        return n


class centred_agc(gr.hier_block2):
    """Level normalisation without start-up transients (complex in, complex out).

    ``out[n] = x[n - half] / sqrt(mean(|x|**2) over x[n - 2 half .. n])``: the
    window is centred on the sample it scales (the output is delayed by
    ``half`` samples), so the first samples of a burst after silence are not
    blown up as a feedback AGC that had raised its gain on the silence would
    (GNU Radio's symbol_sync_cc stalls on such a spike). Silence stays 0.
    """

    def __init__(self, half: int):
        gr.hier_block2.__init__(self, "groundseg_centred_agc",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        n = 2 * int(half) + 1
        dly = blocks.delay(gr.sizeof_gr_complex, int(half))
        mag2 = blocks.complex_to_mag_squared(1)
        avg = blocks.moving_average_ff(n, 1.0 / n, 4000, 1)
        # the running sum of the moving average can round to slightly below 0
        # after loud samples: abs() keeps sqrt() away from NaN
        fabs = blocks.abs_ff(1)
        floor = blocks.add_const_ff(1e-30)
        root = blocks.transcendental("sqrt", "float")
        f2c = blocks.float_to_complex(1)
        div = blocks.divide_cc(1)
        self.connect(self, dly, (div, 0))
        self.connect(self, mag2, avg, fabs, floor, root, f2c, (div, 1))
        self.connect(div, self)
        self._keep = [dly, mag2, avg, fabs, floor, root, f2c, div]


def _front_end(samp_rate_sps: float, baud: float, iq: bool, af_carrier_hz, range_hz: float,
               rolloff: float):
    """Translating low-pass filter: (block, output rate, carrier shifted out, usable search range)."""
    fc = 0.0 if iq else (default_af_carrier_hz(baud) if af_carrier_hz is None else float(af_carrier_hz))
    half_bw = baud * (1 + rolloff) / 2
    if not iq:
        if fc - half_bw <= 0 or fc + half_bw >= samp_rate_sps / 2:
            raise InputError(f"audio carrier {fc:g} Hz cannot carry {baud:g} baud BPSK in "
                             f"{samp_rate_sps:g} S/s audio")
        # the image of the real audio lands at -2 fc after the shift: the pass band
        # (signal + search range) and a transition band must stay clear of it
        range_hz = min(range_hz, 2 * fc - 2 * half_bw - 0.2 * baud)
        if range_hz < 0.05 * baud:
            raise InputError(f"audio carrier {fc:g} Hz is too low for {baud:g} baud BPSK")
    need = max(MIN_SPS * baud, 2.5 * (half_bw + range_hz), 4.4 * range_hz)
    decim = max(1, int(samp_rate_sps // need))
    out_rate = samp_rate_sps / decim
    cutoff = min(half_bw + range_hz, 0.45 * out_rate)
    trans = max(0.2 * baud, 0.1 * cutoff)
    if decim > 1:
        # a wide input (an SDR at Msps) decimated a lot: a transition band up to
        # where aliases would reach the pass band keeps the filter short
        trans = max(trans, 0.25 * (out_rate - 2 * cutoff))
    if not iq:
        trans = min(trans, 2 * fc - half_bw - cutoff)
    taps = firdes.low_pass(1.0, samp_rate_sps, cutoff, trans, window.WIN_BLACKMAN_HARRIS)
    if iq:
        blk = filter.freq_xlating_fir_filter_ccf(decim, taps, 0.0, samp_rate_sps)
    else:
        # real input at unit amplitude cos() becomes 1/2 at baseband: the AGC takes care of it
        blk = filter.freq_xlating_fir_filter_fcc(decim, taps, fc, samp_rate_sps)
    return blk, out_rate, fc, range_hz


class _PskDemod(gr.hier_block2):
    def __init__(self, name: str, samp_rate_sps: float, baud: float, iq: bool, differential: bool,
                 af_carrier_hz=None, rolloff: float = DEFAULT_ROLLOFF, freq_range_hz=None,
                 clock_bw: float = 0.01, costas_bw: float = 0.02, acquire: bool = True,
                 mf_first: bool = True, acq_window: int = 512, acq_threshold: float = 25.0,
                 squelch: bool = True, sync: str = "ff", timing_window: int = 256,
                 phase_window: int = 32):
        gr.hier_block2.__init__(
            self, name,
            gr.io_signature(1, 1, gr.sizeof_gr_complex if iq else gr.sizeof_float),
            gr.io_signature(1, 1, gr.sizeof_float))
        if baud <= 0 or samp_rate_sps <= 0:
            raise InputError(f"baud ({baud:g}) and sample rate ({samp_rate_sps:g}) must be positive")
        if samp_rate_sps < 2.5 * baud:
            raise InputError(f"sample rate {samp_rate_sps:g} S/s is too low for {baud:g} baud BPSK")
        range_hz = float(freq_range_hz) if freq_range_hz else default_range_hz(baud, iq)
        self.baud = float(baud)
        self.iq = iq
        chain = []
        fe, fs1, fc, range_hz = _front_end(samp_rate_sps, baud, iq, af_carrier_hz, range_hz, rolloff)
        self.range_hz = range_hz
        self.samp_rate_sps = fs1
        self.af_carrier_hz = None if iq else fc
        chain.append(fe)
        sps = fs1 / baud
        self.sps = sps
        if acquire:
            self.acquire = psk_acquire(fs1, baud, range_hz, int(acq_window), threshold=acq_threshold,
                                       squelch=squelch)
            chain.append(self.acquire)
        else:
            self.acquire = None
        nfilts = 32
        self.costas = None
        if sync == "ff":
            mf = filter.fir_filter_ccf(1, firdes.root_raised_cosine(1.0, sps, 1.0, rolloff,
                                                                     int(sps * 11) | 1))
            self.clock = psk_sync(sps, int(timing_window), int(phase_window))
            chain += [mf, self.clock]
        else:
            chain += self._loops(sps, rolloff, clock_bw, costas_bw, mf_first)
        c2r = psk_softnorm()
        chain.append(c2r)
        self._finish(chain, differential)

    def _loops(self, sps, rolloff, clock_bw, costas_bw, mf_first):
        """The feedback alternative: GNU Radio's symbol_sync_cc and costas_loop_cc."""
        chain = []
        nfilts = 32
        if mf_first:
            # matched filter first, so that the AGC sees the signal band only
            mf = filter.fir_filter_ccf(1, firdes.root_raised_cosine(1.0, sps, 1.0, rolloff,
                                                                     int(sps * 11) | 1))
            chain.append(mf)
        chain.append(centred_agc(int(round(AGC_HALF_SYMBOLS * sps))))
        if mf_first:
            self.clock = digital.symbol_sync_cc(
                digital.TED_GARDNER, sps, clock_bw, 1.0, GARDNER_GAIN_PER_SYMBOL / sps,
                MAX_CLOCK_DEVIATION * sps, 1,
                digital.constellation_bpsk().base(), digital.IR_MMSE_8TAP, nfilts, [])
        else:
            rrc = firdes.root_raised_cosine(nfilts, nfilts * sps, 1.0, rolloff, int(nfilts * sps * 11) | 1)
            self.clock = digital.symbol_sync_cc(
                digital.TED_GARDNER, sps, clock_bw, 1.0, GARDNER_GAIN_PER_SYMBOL / sps,
                MAX_CLOCK_DEVIATION * sps, 1,
                digital.constellation_bpsk().base(), digital.IR_PFB_MF, nfilts, rrc)
        chain.append(self.clock)
        chain.append(centred_agc(AGC_HALF_SYMBOLS))
        self.costas = digital.costas_loop_cc(costas_bw, 2, False)
        max_w = 2 * math.pi * 0.05
        self.costas.set_max_freq(max_w)
        self.costas.set_min_freq(-max_w)
        chain.append(self.costas)
        return chain

    def _finish(self, chain, differential):
        c2r = chain[-1]
        if differential:
            dly = blocks.delay(gr.sizeof_float, 1)
            mul = blocks.multiply_ff(1)
            self.connect(self, *chain)
            self.connect(c2r, (mul, 0))
            self.connect(c2r, dly, (mul, 1))
            self.connect(mul, self)
            chain += [dly, mul]
        else:
            self.connect(self, *chain, self)
        self._keep = chain


_TUNING = ("rolloff", "freq_range_hz", "clock_bw", "costas_bw", "acquire", "mf_first",
           "acq_window", "acq_threshold", "squelch",
           "sync", "timing_window", "phase_window")


def _tuning(params: dict) -> dict:
    return {k: v for k, v in params.items() if k in _TUNING and v is not None}


def bpsk_demodulator(samp_rate_sps: float, baud: float, iq: bool, af_carrier_hz=None,
                     **params) -> gr.hier_block2:
    """Coherent BPSK demodulator (see the module docstring); either output polarity.

    Optional ``params``: ``rolloff`` (matched filter, default 0.5),
    ``freq_range_hz`` (carrier search range), ``sync`` ("ff" or "loops"),
    ``timing_window`` / ``phase_window`` (symbols, feed-forward sync),
    ``clock_bw`` / ``costas_bw`` / ``mf_first`` (loops), ``acquire`` /
    ``squelch`` / ``acq_window`` / ``acq_threshold`` (step 2). Other catalog
    parameters (``deviation_hz``...) are ignored.
    """
    return _PskDemod("groundseg_bpsk_demod", samp_rate_sps, baud, iq, False, af_carrier_hz,
                     **_tuning(params))


def dbpsk_demodulator(samp_rate_sps: float, baud: float, iq: bool, af_carrier_hz=None,
                      **params) -> gr.hier_block2:
    """DBPSK: coherent BPSK then soft differential decoding; > 0 means no phase change."""
    return _PskDemod("groundseg_dbpsk_demod", samp_rate_sps, baud, iq, True, af_carrier_hz,
                     **_tuning(params))
