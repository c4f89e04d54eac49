"""The receive flowgraph: one source, one chain per transmitter, frames out."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from gnuradio import blocks, gr

from groundseg.blocks.deframer_sink import deframer_sink
from groundseg.blocks.sources import Source
from groundseg.catalog import Transmitter
from groundseg.dsp.modulation import MODULATIONS
from groundseg.errors import InputError
from groundseg.framing import load_all


@dataclass
class Chain:
    """One transmitter to decode, with what to stamp on its frames."""

    transmitter: Transmitter
    norad: int | None = None
    satellite: str | None = None
    extra: dict = field(default_factory=dict)

    def labels(self) -> dict:
        tx = self.transmitter
        d = {"norad": self.norad, "satellite": self.satellite, "transmitter": tx.name,
             "framing": tx.framing, "modulation": tx.modulation, "baud": tx.baud}
        d.update(self.extra)
        return {k: v for k, v in d.items() if v is not None}


def check_chain(tx: Transmitter, samp_rate_sps: float, iq: bool) -> None:
    """Refuse, with a clear message, what the sample rate cannot carry."""
    if samp_rate_sps < 2 * tx.baud:
        raise InputError(f"sample rate {samp_rate_sps:g} S/s is too low for {tx.baud:g} baud"
                         f" (needs at least {2 * tx.baud:g})")
    if not iq and tx.af_carrier_hz:
        top = tx.af_carrier_hz + abs(tx.deviation_hz or 0) + tx.baud / 2
        if top >= samp_rate_sps / 2:
            raise InputError(f"sample rate {samp_rate_sps:g} S/s is too low for an audio carrier"
                             f" at {tx.af_carrier_hz:g} Hz and {tx.baud:g} baud")


class ReceiveFlowgraph(gr.top_block):
    """Source -> [Doppler rotator] -> demodulators -> deframers -> ``deliver``.

    ``deliver(meta, data)`` is called for every frame of every chain (from
    GNU Radio's threads); metadata carries the chain's labels.
    """

    def __init__(self, source: Source, chains: list[Chain],
                 deliver: Callable[[dict, bytes], None], time_offset_s: float = 0.0):
        gr.top_block.__init__(self, "groundseg_receive", catch_exceptions=False)
        if not chains:
            raise InputError("nothing to decode: no transmitter with a supported framing")
        self.source = source
        self.samp_rate_sps = source.samp_rate_sps
        framings = load_all()
        head = source.block
        self.rotator = None
        if source.iq:
            # Doppler / LO correction applied to the whole band before the chains.
            self.rotator = blocks.rotator_cc(0.0)
            self.connect(source.block, self.rotator)
            head = self.rotator
        self.sinks: list[deframer_sink] = []
        demods: dict[tuple, gr.basic_block] = {}
        for ch in chains:
            tx = ch.transmitter
            check_chain(tx, source.samp_rate_sps, source.iq)
            key = (tx.modulation, float(tx.baud), tx.deviation_hz, tx.af_carrier_hz)
            demod = demods.get(key)
            if demod is None:
                demod = MODULATIONS.get(tx.modulation).make_demodulator(
                    source.samp_rate_sps, tx.baud, source.iq,
                    deviation_hz=tx.deviation_hz, af_carrier_hz=tx.af_carrier_hz)
                self.connect(head, demod)
                demods[key] = demod
            deframer = framings.get(tx.framing).make_deframer(**tx.options)
            sink = deframer_sink(deframer, tx.baud, ch.labels(), time_offset_s, deliver)
            self.connect(demod, sink)
            self.sinks.append(sink)
        self.demods = list(demods.values())

    def set_doppler_hz(self, doppler_hz: float) -> None:
        """Shift the band by ``-doppler_hz`` so the signal sits at its nominal frequency."""
        if self.rotator is None:
            raise InputError("Doppler correction needs an IQ source")
        self.rotator.set_phase_inc(-2.0 * math.pi * doppler_hz / self.samp_rate_sps)

    def progress_s(self) -> float:
        """Seconds of signal consumed so far (from the slowest chain)."""
        if not self.sinks:
            return 0.0
        return min(s.nitems_read(0) / s.baud for s in self.sinks)
