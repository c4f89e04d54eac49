"""3CAT-1 (UPC NanoSat Lab): TI CC1101 packets with a Reed-Solomon codeword inside.

On the air (9k6 FSK; public description: Daniel Estévez, "Decoding 3CAT-1",
December 2018, and gr-satellites' ``sat_3cat_1_deframer``; checked on the
corpus recording, whose 8 packets all decode with no byte error)::

    preamble 0xAA.. | sync 0xD391D391 | 255 bytes, PN9-whitened, MSB first

The CC1101 runs in fixed-length mode without length, address or CRC fields,
so every packet is 255 bytes: one Reed-Solomon (255,223) codeword of the
"rscode" library (field polynomial 0x11D, first consecutive root alpha^1,
primitive element alpha, 32 parity bytes after the data) whitened with the
CC1101's PN9 sequence (x^9 + x^5 + 1, all-ones seed). NRZ, so the sync word
also gives the polarity.

Frames delivered: the 223 data bytes; ``crc_ok`` True (the RS word decoded),
``corrected`` = byte errors corrected, ``meta``: ``rs_errors`` and
``rs_erasures`` (when the errors-and-erasures retry on the least reliable
bytes was needed).
"""
from __future__ import annotations

import inspect

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._softbits import check_framer_options, pn9_dewhiten_soft, rs_decode_soft, soft_bytes
from ._sync import SyncDeframer, bits_from_bytes, bits_from_int

SYNC = 0xD391D391
PACKET_BYTES = 255
RS_PARITY = 32
DATA_BYTES = PACKET_BYTES - RS_PARITY
PREAMBLE_BYTE = 0xAA
ERASURE_TRIALS = (4, 8, 12)


def rs_code():
    """The rscode (255,223) code: GF(2^8) with 0x11D, roots alpha^1..alpha^32."""
    return _RS


_RS = fec.ReedSolomon(nroots=RS_PARITY, fcr=1, prim=1, gfpoly=0x11D)


class Tcat1Deframer(SyncDeframer):
    sync_bits = bits_from_int(SYNC, 32)
    max_frame_symbols = 8 * PACKET_BYTES

    def __init__(self, max_sync_errors: int = 4, erasures: bool = True,
                 keep_invalid: bool = False) -> None:
        if not 0 <= int(max_sync_errors) <= 8:
            raise InputError(f"max_sync_errors must be 0..8, not {max_sync_errors}")
        self.max_sync_errors = int(max_sync_errors)
        self.erasures = bool(erasures)
        self.keep_invalid = bool(keep_invalid)
        super().__init__()

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        data, rel = soft_bytes(pn9_dewhiten_soft(soft))
        out, corrected, erased = rs_decode_soft(_RS, data, rel,
                                                ERASURE_TRIALS if self.erasures else ())
        if out is None:
            if self.keep_invalid:
                return Frame(data=bytes(data[:DATA_BYTES]), end_symbol=0, crc_ok=False)
            return None
        meta = {"rs_errors": corrected}
        if erased:
            meta["rs_erasures"] = erased
        return Frame(data=out.tobytes(), end_symbol=0, crc_ok=True, corrected=corrected, meta=meta)


class Tcat1Framer(Framer):
    """223 data bytes -> preamble, sync, PN9-whitened RS(255,223) codeword."""

    def __init__(self, preamble_bytes: int = 8, **deframer_options) -> None:
        check_framer_options("3CAT-1", deframer_options, _DEFRAMER_OPTIONS)
        if preamble_bytes < 0:
            raise InputError(f"preamble_bytes must be >= 0, not {preamble_bytes}")
        self.preamble_bytes = int(preamble_bytes)

    def frame(self, payload: bytes) -> np.ndarray:
        payload = bytes(payload)
        if len(payload) != DATA_BYTES:
            raise InputError(f"a 3CAT-1 packet carries exactly {DATA_BYTES} bytes, not {len(payload)}")
        cw = _RS.encode_codeword(np.frombuffer(payload, dtype=np.uint8))
        body = fec.pn9_whiten(cw).tobytes()
        return bits_from_bytes(bytes([PREAMBLE_BYTE]) * self.preamble_bytes
                               + SYNC.to_bytes(4, "big") + body)


_DEFRAMER_OPTIONS = tuple(inspect.signature(Tcat1Deframer.__init__).parameters)[1:]

register(FramingSpec(
    name="3CAT-1",
    description="3CAT-1: CC1101 fixed 255-byte packets, sync 0xD391D391, PN9 whitening, "
                "RS(255,223) (rscode: 0x11D, roots from alpha^1)",
    deframer=Tcat1Deframer,
    framer=Tcat1Framer,
    options={"max_sync_errors": Option(int, 4, tuple(range(9)), "sync word bit errors tolerated"),
             "erasures": Option(bool, True, None, "retry RS with the least reliable bytes erased")},
    module=__name__,
))

__all__ = ["Tcat1Deframer", "Tcat1Framer", "SYNC", "DATA_BYTES", "rs_code"]
