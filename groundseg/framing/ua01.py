"""UA01 (PolyITAN-2-SAU, QB50 UA01): "UA01" framing, AX.25 with one NRZI too many.

9600 baud BPSK downlink carrying AX.25 UI frames (source ``QBUA01``). The
satellite's line coding differs from standard "AX.25 G3RUH" by one more
differential (NRZI) encoding: the receive chain that decodes it is
NRZI decoding twice, then the G3RUH descrambler (x^17 + x^12 + 1), then HDLC
(flags, bit stuffing, CRC-16/X.25), as in gr-satellites' UA01 deframer.
NRZI decoding and the multiplicative descrambler are both linear and
time-invariant over GF(2) (NRZI up to a constant complement that passes
through the descrambler unchanged), so they commute: the transmit side is
standard AX.25 G3RUH (HDLC -> NRZI -> scrambler) followed by one more NRZI
encoding. The deframer therefore NRZI-decodes the soft symbols once
(sign of the product of neighbours, magnitude of the weaker) and hands them
to the AX.25 G3RUH deframer (``groundseg.framing.ax25``), soft repair
included. Polarity does not matter (NRZI).

Frames delivered: the AX.25 frame without its FCS, ``crc_ok`` True,
``meta["ax25"]`` with the parsed header, as for "AX.25 G3RUH".
"""
from __future__ import annotations

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Deframer, Frame, Framer, FramingSpec, register
from .ax25 import OPTIONS as AX25_OPTIONS
from .ax25 import AX25Deframer, AX25Framer


class UA01Deframer(Deframer):
    """Soft symbols -> soft NRZI decoding -> AX.25 G3RUH deframer."""

    def __init__(self, **ax25_options):
        self._nrzi = fec.DifferentialDecoder(invert=True)
        self.ax25 = AX25Deframer(g3ruh=True, **ax25_options)

    def process(self, soft: np.ndarray) -> list[Frame]:
        s = np.ascontiguousarray(soft, dtype=np.float32).reshape(-1)
        if not s.size:
            return []
        return self.ax25.process(self._nrzi.decode_soft(s))

    def flush(self) -> list[Frame]:
        return self.ax25.flush()


class UA01Framer(Framer):
    """AX.25 frame (without FCS) -> AX.25 G3RUH channel bits -> one more NRZI encoding."""

    def __init__(self, preamble_flags: int = 16, postamble_flags: int = 4, **deframer_options):
        # the catalog options are the deframer's: the framer has no use for them
        unknown = set(deframer_options) - set(AX25_OPTIONS)
        if unknown:
            raise InputError(f"unknown UA01 framer option(s): {', '.join(sorted(unknown))}")
        self.ax25 = AX25Framer(True, preamble_flags, postamble_flags)
        self._nrzi = fec.DifferentialEncoder(invert=True)

    def frame(self, payload: bytes) -> np.ndarray:
        return self._nrzi.encode(self.ax25.frame(payload))


register(FramingSpec(
    name="UA01",
    description="UA01: AX.25 G3RUH (HDLC, NRZI, x^17+x^12+1 scrambler) with one more "
                "NRZI encoding (9600 baud BPSK)",
    deframer=UA01Deframer,
    framer=UA01Framer,
    options=dict(AX25_OPTIONS),
    module=__name__,
))

__all__ = ["UA01Deframer", "UA01Framer"]
