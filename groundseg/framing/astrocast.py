"""Astrocast 0.1's FX.25: "Astrocast FX.25 NRZ-I" and "Astrocast FX.25 NRZ".

FX.25 (Stensat Group, 2006) wraps an HDLC/AX.25 frame in a Reed-Solomon
codeword announced by a 64-bit correlation tag that also names the code.
Astrocast 0.1 (Hochschule Luzern) sends it in a way of its own (public
description: Daniel Estévez, "Decoding Astrocast 0.1", December 2018, and
"New decoders for Astrocast 0.1", March 2019; gr-satellites'
``astrocast_fx25_deframer``; checked on the corpus recording)::

    correlation tag 0x75FAC1A358D06476 | 255-byte RS(255,223) codeword
    (as sent; FX.25 Tag_05            |  bytes sent LSB first: 0x7E, AX.25 frame,
     0x6E260B1AC5835FAE, LSB first)   |  FCS (CRC-16/X.25, low byte first), 0x7E,
                                      |  padding; then 32 parity bytes

Unlike the FX.25 specification, the AX.25 frame inside the codeword is not
bit-stuffed (it is plain bytes between two 0x7E), and the Reed-Solomon code is
the CCSDS (255,223) code in the dual basis (field 0x187, first root 112,
primitive element alpha^11) rather than FX.25's. The whole bit stream is
NRZ-I coded (a 0 is a transition, as AX.25) since a software update of
13 February 2019 ("Astrocast FX.25 NRZ-I"); before that, and in fail-safe
mode, it was plain NRZ ("Astrocast FX.25 NRZ": polarity from the tag).

Decoding: find the tag (NRZ-I decoded soft symbols for the NRZ-I variant,
up to ``max_sync_errors`` of 64 bits), take 2040 symbols, decode the RS word
(errors only, then with the least reliable bytes erased), then find the
AX.25 frame: it starts after the leading 0x7E and ends at the first later
0x7E for which the FCS checks (the frame itself may contain 0x7E bytes,
which the first-0x7E rule would cut).

Frames delivered: the AX.25 frame without FCS; ``crc_ok`` True (RS decoded
and FCS correct), ``corrected`` = RS byte errors, ``meta``: ``rs_errors``,
``rs_erasures`` (when used), ``ax25`` (parsed header).
"""
from __future__ import annotations

import inspect

import numpy as np

from ..dsp import fec, hdlc
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._softbits import bits_of, check_framer_options, rs_decode_soft, soft_bytes
from ._sync import SyncDeframer, bits_from_int
from .ax25 import parse_header

TAG = 0x75FAC1A358D06476            # FX.25 Tag_05 (RS(255,223)) as sent, first bit first
TAG_FX25 = 0x6E260B1AC5835FAE       # the same tag as the FX.25 specification writes it
CODEWORD_BYTES = 255
RS_PARITY = 32
DATA_BYTES = CODEWORD_BYTES - RS_PARITY
FLAG = 0x7E
FCS_BYTES = 2
MIN_AX25_BYTES = 15                 # two addresses and a control byte
MAX_AX25_BYTES = DATA_BYTES - 2 - FCS_BYTES
ERASURE_TRIALS = (4, 8, 12)


def find_ax25(data: bytes) -> tuple[bytes, int] | None:
    """(AX.25 frame without FCS, index of its closing flag) in a decoded codeword, or None."""
    if not data or data[0] != FLAG:
        return None
    end = data.find(bytes([FLAG]), 1 + MIN_AX25_BYTES + FCS_BYTES)
    while end != -1:
        body = data[1:end]
        if hdlc.check_fcs(body):
            return body[:-FCS_BYTES], end
        end = data.find(bytes([FLAG]), end + 1)
    return None


class AstrocastDeframer(SyncDeframer):
    sync_bits = bits_from_int(TAG, 64)
    max_frame_symbols = 8 * CODEWORD_BYTES

    def __init__(self, nrzi: bool = True, max_sync_errors: int = 8, erasures: bool = True,
                 keep_invalid: bool = False) -> None:
        if isinstance(max_sync_errors, bool) or not 0 <= int(max_sync_errors) <= 16:
            raise InputError(f"max_sync_errors must be 0..16, not {max_sync_errors}")
        self.nrzi = bool(nrzi)
        # NRZ-I hides the polarity: an inverted tag there is not a tag
        self.allow_inverted = not self.nrzi
        self.max_sync_errors = int(max_sync_errors)
        self.erasures = bool(erasures)
        self.keep_invalid = bool(keep_invalid)
        self._nrzi = fec.DifferentialDecoder(0, invert=True) if self.nrzi else None
        super().__init__()

    def process(self, soft: np.ndarray):
        if self._nrzi is not None:
            soft = self._nrzi.decode_soft(np.asarray(soft, dtype=np.float32))
        return super().process(soft)

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        data, rel = soft_bytes(soft, lsb_first=True)
        out, corrected, erased = rs_decode_soft(fec.ccsds_rs(dual_basis=True), data, rel,
                                                ERASURE_TRIALS if self.erasures else ())
        found = find_ax25(out.tobytes()) if out is not None else None
        if found is None:
            if self.keep_invalid:
                raw = (out if out is not None else data[:DATA_BYTES]).tobytes()
                return Frame(data=raw, end_symbol=0, crc_ok=False,
                             meta={"rs_errors": corrected})
            return None
        frame, _ = found
        meta = {"rs_errors": corrected}
        if erased:
            meta["rs_erasures"] = erased
        hdr = parse_header(frame)
        if hdr is not None:
            meta["ax25"] = hdr
        return Frame(data=frame, end_symbol=0, crc_ok=True, corrected=corrected, meta=meta)


class AstrocastFramer(Framer):
    """AX.25 frame (without FCS) -> [flags], tag, RS codeword (LSB-first bytes), [NRZ-I].

    ``preamble_flags`` HDLC flags (0x7E, LSB first) precede the tag; the
    codeword's spare room is filled with 0x7E. NRZ-I state carries across
    the frames of a burst.
    """

    def __init__(self, nrzi: bool = True, preamble_flags: int = 8, **deframer_options) -> None:
        check_framer_options("Astrocast FX.25", deframer_options, _DEFRAMER_OPTIONS)
        if preamble_flags < 0:
            raise InputError(f"preamble_flags must be >= 0, not {preamble_flags}")
        self.nrzi = bool(nrzi)
        self.preamble_flags = int(preamble_flags)
        self._enc = fec.DifferentialEncoder(0, invert=True) if self.nrzi else None

    def frame(self, payload: bytes) -> np.ndarray:
        payload = bytes(payload)
        if not MIN_AX25_BYTES <= len(payload) <= MAX_AX25_BYTES:
            raise InputError(f"Astrocast FX.25 carries an AX.25 frame of {MIN_AX25_BYTES}.."
                             f"{MAX_AX25_BYTES} bytes (without FCS), not {len(payload)}")
        inner = bytes([FLAG]) + hdlc.append_fcs(payload) + bytes([FLAG])
        inner += bytes([FLAG]) * (DATA_BYTES - len(inner))
        cw = fec.ccsds_rs(dual_basis=True).encode_codeword(np.frombuffer(inner, dtype=np.uint8))
        bits = np.concatenate([bits_of(bytes([FLAG]) * self.preamble_flags, lsb_first=True),
                               bits_from_int(TAG, 64), bits_of(cw.tobytes(), lsb_first=True)])
        return self._enc.encode(bits) if self._enc is not None else bits


def _deframer(nrzi: bool):
    def make(**options) -> AstrocastDeframer:
        return AstrocastDeframer(nrzi=nrzi, **options)
    return make


def _framer(nrzi: bool):
    def make(preamble_flags: int = 8, **options) -> AstrocastFramer:
        return AstrocastFramer(nrzi=nrzi, preamble_flags=preamble_flags, **options)
    return make


_OPTIONS = {
    "max_sync_errors": Option(int, 8, tuple(range(17)), "correlation tag bit errors tolerated"),
    "erasures": Option(bool, True, None, "retry RS with the least reliable bytes erased"),
}

_DEFRAMER_OPTIONS = tuple(inspect.signature(AstrocastDeframer.__init__).parameters)[1:]

register(FramingSpec(
    name="Astrocast FX.25 NRZ-I",
    description="Astrocast 0.1 FX.25: NRZ-I, tag 0x75FAC1A358D06476, RS(255,223) CCSDS dual "
                "basis over LSB-first bytes, unstuffed AX.25 between 0x7E flags",
    deframer=_deframer(True),
    framer=_framer(True),
    options=dict(_OPTIONS),
    module=__name__,
))

register(FramingSpec(
    name="Astrocast FX.25 NRZ",
    description="Astrocast 0.1 FX.25 as sent before 13 Feb 2019 and in fail-safe mode: as "
                "the NRZ-I variant without NRZ-I",
    deframer=_deframer(False),
    framer=_framer(False),
    options=dict(_OPTIONS),
    module=__name__,
))

__all__ = ["AstrocastDeframer", "AstrocastFramer", "TAG", "TAG_FX25", "find_ax25"]
