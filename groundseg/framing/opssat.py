"""OPS-SAT (ESA): AX.25 UI frames whose information field is a Reed-Solomon codeword.

On the air (9k6 FSK, G3RUH scrambler + NRZ-I, HDLC; public description:
gr-satellites' ``ops_sat_deframer`` and OPS-SAT's telemetry notes, checked
on the corpus recording, whose one frame has a valid FCS and decodes with
no byte error)::

    HDLC flags | AX.25 header (DL0ESA <- DP0OPS, UI, PID 0xF0) | info | FCS | flags
                                                                   |
      CCSDS randomizer (x^8+x^7+x^5+x^3+1, all-ones seed) over a CCSDS (255,223)
      Reed-Solomon codeword (field 0x187, first root 112, alpha^11), shortened:
      n bytes = n - 32 data bytes + 32 parity bytes, conventional basis

The public decoder ignores the AX.25 FCS (the Reed-Solomon code is the
check); so does this one: any HDLC frame whose bytes assemble (FCS right or
wrong) is tried, its information field derandomized and RS decoded. HDLC
comes from the "AX.25 G3RUH" deframer (``ax25.AX25Deframer``), whose soft
repair also saves frames whose structure (a flag, a stuffed bit) a weak bit
error broke, when the FCS checks afterwards. The
code being cyclic, an information field with extra bytes after the codeword
(a closing flag hit by a bit error) would "decode" into the data plus some
parity bytes; such decodes (corrected trailing zeros that were not received
as zeros, ``_gomspace.shifted_codeword``) are refused, and the codeword
without the extra bytes is decoded instead. A bit error that breaks the
HDLC structure and that repair cannot undo still loses the frame: that, not
the RS code, limits the sensitivity (``bench_custom_sensitivity``).

Frames delivered: the RS data (n - 32 bytes); ``crc_ok`` True (RS
decoded), ``corrected`` = RS byte errors, ``meta``: ``ax25`` (the header),
``fcs_ok`` (whether the AX.25 FCS checked), ``rs_errors``; ``repaired_bits``
when HDLC soft repair flipped bits.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..dsp import fec, hdlc
from ..errors import InputError
from . import Deframer, Frame, Framer, FramingSpec, Option, register
from ._gomspace import shifted_codeword
from ._softbits import check_framer_options
from .ax25 import AX25Deframer, parse_header, ui_frame

RS_PARITY = 32
MIN_CODEWORD = RS_PARITY + 1
MAX_CODEWORD = 255
DST, SRC = "DL0ESA", "DP0OPS"


def info_field(frame: bytes) -> tuple[dict, bytes] | None:
    """(parsed header, information field) of an AX.25 UI/I frame without FCS."""
    hdr = parse_header(frame)
    if hdr is None or hdr["pid"] is None:
        return None
    start = 7 * (2 + len(hdr["digis"])) + 2
    return hdr, bytes(frame[start:])


class OpsSatDeframer(Deframer):
    """The AX.25 G3RUH deframer (with its soft repair), then derandomize and RS decode.

    ``AX25Deframer`` with ``keep_invalid`` returns frames failing the FCS
    (the RS code may still correct them) and repairs, by flipping weak bits,
    frames whose HDLC structure a bit error broke when the FCS then checks.
    """

    def __init__(self, repair_flips: int = 2, keep_invalid: bool = False) -> None:
        self.keep_invalid = bool(keep_invalid)
        self._ax25 = AX25Deframer(g3ruh=True, repair_flips=repair_flips, keep_invalid=True)
        self._rs = fec.ccsds_rs(dual_basis=False)
        self.stats = {"hdlc_frames": 0, "rs_failed": 0}

    def process(self, soft: np.ndarray) -> list[Frame]:
        out = []
        for f in self._ax25.process(soft):
            self.stats["hdlc_frames"] += 1
            fr = self._decode(f.data, f.end_symbol, bool(f.crc_ok), f.repaired_bits)
            if fr is not None:
                out.append(fr)
        return out

    def flush(self) -> list[Frame]:
        out = []
        for f in self._ax25.flush():
            fr = self._decode(f.data, f.end_symbol, bool(f.crc_ok), f.repaired_bits)
            if fr is not None:
                out.append(fr)
        return out

    def _decode(self, data: bytes, end: int, fcs_ok: bool, repaired: int = 0) -> Frame | None:
        got = info_field(data)
        if got is None:
            return None
        hdr, info = got
        if not MIN_CODEWORD <= len(info) <= MAX_CODEWORD:
            return None
        received = np.array(fec.ccsds_derandomize(np.frombuffer(info, np.uint8)), dtype=np.uint8)
        work = received.copy()
        n = self._rs.decode_inplace(work)
        if n >= 0 and shifted_codeword(work, received):
            # bytes after the codeword (a damaged closing flag): the code is cyclic,
            # so the longer word "decodes" with zeros in their place; decode the
            # codeword alone instead
            nz = np.flatnonzero(work)
            keep = int(nz[-1]) + 1 if nz.size else 0
            work = received[:keep].copy()
            n = self._rs.decode_inplace(work) if keep > MIN_CODEWORD else -1
            if n >= 0 and shifted_codeword(work, received[:keep]):
                n = -1
        meta = {"ax25": hdr, "fcs_ok": fcs_ok}
        if n < 0:
            self.stats["rs_failed"] += 1
            if self.keep_invalid:
                return Frame(data=work[:-RS_PARITY].tobytes(), end_symbol=end, crc_ok=False,
                             meta=meta)
            return None
        meta["rs_errors"] = int(n)
        return Frame(data=work[:-RS_PARITY].tobytes(), end_symbol=end, crc_ok=True,
                     corrected=int(n), repaired_bits=repaired, meta=meta)


class OpsSatFramer(Framer):
    """RS data (1..223 bytes) -> AX.25 UI frame with the randomized codeword -> HDLC G3RUH."""

    def __init__(self, dst: str = DST, src: str = SRC, preamble_flags: int = 16,
                 postamble_flags: int = 4, **deframer_options) -> None:
        check_framer_options("OPS-SAT", deframer_options, _DEFRAMER_OPTIONS)
        if preamble_flags < 1 or postamble_flags < 1:
            raise InputError("OPS-SAT frames need at least one flag before and after")
        ui_frame(dst, src, b"")                       # validates the callsigns
        self.dst, self.src = dst, src
        self.preamble_flags, self.postamble_flags = int(preamble_flags), int(postamble_flags)
        self._enc = hdlc.HdlcEncoder(True)

    def frame(self, payload: bytes) -> np.ndarray:
        payload = bytes(payload)
        if not 1 <= len(payload) <= MAX_CODEWORD - RS_PARITY:
            raise InputError(f"OPS-SAT RS data must be 1..{MAX_CODEWORD - RS_PARITY} bytes, "
                             f"not {len(payload)}")
        cw = fec.ccsds_rs(dual_basis=False).encode_codeword(np.frombuffer(payload, np.uint8))
        info = fec.ccsds_randomize(cw).tobytes()
        frame = ui_frame(self.dst, self.src, info)
        return self._enc.encode(hdlc.append_fcs(frame), self.preamble_flags, self.postamble_flags)


_DEFRAMER_OPTIONS = tuple(inspect.signature(OpsSatDeframer.__init__).parameters)[1:]

register(FramingSpec(
    name="OPS-SAT",
    description="OPS-SAT: AX.25 over G3RUH/NRZ-I HDLC whose information field is a CCSDS-"
                "randomized RS(255,223) codeword (conventional basis, shortened)",
    deframer=OpsSatDeframer,
    framer=OpsSatFramer,
    options={"repair_flips": Option(int, 2, (0, 1, 2, 3),
                                    "HDLC soft repair: most channel bits flipped (0: off)")},
    module=__name__,
))

__all__ = ["OpsSatDeframer", "OpsSatFramer", "info_field"]
