"""AAUSAT-4 (Aalborg University): CSP packets, convolutional code + randomizer + Reed-Solomon.

On the air (2k4 or 9k6 FSK; public description: AAUSAT-4's web pages and
Daniel Estévez, "A bunch of data from AAUSAT-4", May 2016, gr-aausat /
gr-satellites' ``aausat4_deframer``; checked on the corpus recording)::

    sync 0x4F5A34435542 (48 bits) | FSM byte | convolutionally coded block

* The frame size marker (FSM, 8 symbols, uncoded) says the size: 0x59 a
  long frame, 0xA6 (its complement) a short one.
* Long: 1996 coded symbols = 998 bits through the K=7 r=1/2 code, CCSDS
  convention (0o171 then 0o133 inverted), terminated with 6 zero bits: 124
  bytes = RS codeword of 92 data + 32 parity bytes. Short: 1020 symbols,
  63 bytes = 31 + 32. (A few padding symbols follow: 250 and 128 bytes on
  the air in all.)
* The 124/63 bytes are XORed with the CCSDS randomizer (h(x) = x^8 + x^7 +
  x^5 + x^3 + 1, all-ones seed) and are a CCSDS (255,223) RS codeword
  (field 0x187, first root 112, alpha^11) shortened, in the *conventional*
  basis (checked: the dual basis does not decode the recording).
* The 92/31 data bytes: the CSP packet length n without its header (16
  bits, big-endian), then the CSP v1 packet (4-byte header, big-endian, then
  n bytes, whose last 2 are a truncated HMAC-SHA1), then zero padding.

Decoding: the FSM is read by correlation; if the block of the size it says
fails to decode, the other size is tried. FSK polarity comes from the sync
word.

Frames delivered: the CSP packet (header and data, HMAC included);
``crc_ok`` True (RS decoded), ``corrected`` = RS byte errors, ``meta``:
``long`` (frame size), ``csp`` (parsed header), ``rs_errors``, and
``length_field`` when it does not fit the frame (the whole 90/29 bytes are
then delivered).
"""
from __future__ import annotations

import inspect

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._gomspace import CSP_HEADER_BYTES, parse_csp_header
from ._softbits import check_framer_options
from ._sync import SyncDeframer, bits_from_bytes, bits_from_int

SYNC = 0x4F5A34435542
SYNC_BITS = 48
FSM_LONG = 0x59
FSM_SHORT = 0xA6
CONVENTION = "CCSDS"
RS_PARITY = 32
# (coded symbols, RS codeword bytes, padding symbols after the code)
LONG = (1996, 124, 4)
SHORT = (1020, 63, 4)
LENGTH_BYTES = 2

_FSM_PM = 2.0 * bits_from_int(FSM_LONG, 8).astype(np.float32) - 1.0


def data_bytes(long: bool) -> int:
    return (LONG if long else SHORT)[1] - RS_PARITY


class Aausat4Deframer(SyncDeframer):
    sync_bits = bits_from_int(SYNC, SYNC_BITS)
    max_frame_symbols = 8 + LONG[0]
    decode_short_at_end = True

    def __init__(self, max_sync_errors: int = 12, keep_invalid: bool = False) -> None:
        if isinstance(max_sync_errors, bool) or not 0 <= int(max_sync_errors) <= 16:
            raise InputError(f"max_sync_errors must be 0..16, not {max_sync_errors}")
        self.max_sync_errors = int(max_sync_errors)
        self.keep_invalid = bool(keep_invalid)
        self._rs = fec.ccsds_rs(dual_basis=False)
        super().__init__()

    def frame_symbols(self, head: np.ndarray) -> int | None:
        # wait for a long frame's worth whatever the FSM says, so that both
        # sizes can be tried (a short frame reports its own, shorter end)
        return self.max_frame_symbols

    def _decode(self, coded: np.ndarray, long: bool):
        nsym, nbytes, _ = LONG if long else SHORT
        if len(coded) < nsym:
            return None
        bits = fec.viterbi_decode(np.ascontiguousarray(coded[:nsym]), CONVENTION, terminated=True)
        cw = fec.ccsds_derandomize(np.packbits(bits[:8 * nbytes]))
        work = np.array(cw, dtype=np.uint8)
        n = self._rs.decode_inplace(work)
        if n < 0:
            return None
        return work[:-RS_PARITY].tobytes(), int(n)

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        says_long = float(soft[:8] @ _FSM_PM) > 0
        for long in (says_long, not says_long):
            got = self._decode(soft[8:], long)
            if got is not None:
                return self._frame(got[0], got[1], long)
        if self.keep_invalid and len(soft) >= 8 + (LONG if says_long else SHORT)[0]:
            return Frame(data=b"", end_symbol=0, crc_ok=False, meta={"long": says_long})
        return None

    @staticmethod
    def _frame(data: bytes, corrected: int, long: bool) -> Frame:
        n = int.from_bytes(data[:LENGTH_BYTES], "big")
        meta = {"long": long, "rs_errors": corrected}
        end = LENGTH_BYTES + CSP_HEADER_BYTES + n
        if end <= len(data):
            packet = data[LENGTH_BYTES:end]
        else:
            packet = data[LENGTH_BYTES:]
            meta["length_field"] = n
        meta["csp"] = parse_csp_header(packet) if len(packet) >= CSP_HEADER_BYTES else None
        nsym = 8 + (LONG if long else SHORT)[0]
        return Frame(data=packet, end_symbol=nsym, crc_ok=True, corrected=corrected, meta=meta)


class Aausat4Framer(Framer):
    """CSP packet (4-byte header + data) -> sync, FSM, coded block (short when it fits)."""

    def __init__(self, size: str = "auto", preamble_bytes: int = 8, **deframer_options) -> None:
        check_framer_options("AAUSAT-4", deframer_options, _DEFRAMER_OPTIONS)
        if size not in ("auto", "short", "long"):
            raise InputError(f"size must be auto, short or long, not {size!r}")
        if preamble_bytes < 0:
            raise InputError(f"preamble_bytes must be >= 0, not {preamble_bytes}")
        self.size = size
        self.preamble_bytes = int(preamble_bytes)

    def frame(self, payload: bytes) -> np.ndarray:
        packet = bytes(payload)
        room_short = data_bytes(False) - LENGTH_BYTES
        room_long = data_bytes(True) - LENGTH_BYTES
        if not CSP_HEADER_BYTES <= len(packet) <= room_long:
            raise InputError(f"an AAUSAT-4 frame carries a CSP packet of {CSP_HEADER_BYTES}.."
                             f"{room_long} bytes, not {len(packet)}")
        long = self.size == "long" or (self.size == "auto" and len(packet) > room_short)
        if not long and len(packet) > room_short:
            raise InputError(f"a short AAUSAT-4 frame carries at most {room_short} bytes")
        nsym, nbytes, pad = LONG if long else SHORT
        data = (len(packet) - CSP_HEADER_BYTES).to_bytes(2, "big") + packet
        data += bytes(nbytes - RS_PARITY - len(data))
        cw = fec.ccsds_rs(dual_basis=False).encode_codeword(np.frombuffer(data, np.uint8))
        bits = np.unpackbits(fec.ccsds_randomize(cw))
        coded = fec.conv_encode(bits, CONVENTION, terminate=True)
        assert len(coded) == nsym
        head = bits_from_bytes(b"\xaa" * self.preamble_bytes + SYNC.to_bytes(6, "big")
                               + bytes([FSM_LONG if long else FSM_SHORT]))
        return np.concatenate([head, coded, np.zeros(pad, np.uint8)]).astype(np.uint8)


_DEFRAMER_OPTIONS = tuple(inspect.signature(Aausat4Deframer.__init__).parameters)[1:]

register(FramingSpec(
    name="AAUSAT-4",
    description="AAUSAT-4: sync 0x4F5A34435542, FSM byte (long/short), CCSDS K=7 r=1/2 "
                "terminated, CCSDS randomizer, RS(255,223) conventional basis shortened; CSP",
    deframer=Aausat4Deframer,
    framer=Aausat4Framer,
    options={"max_sync_errors": Option(int, 12, tuple(range(17)),
                                       "sync word bit errors tolerated")},
    module=__name__,
))

__all__ = ["Aausat4Deframer", "Aausat4Framer", "SYNC", "data_bytes"]
