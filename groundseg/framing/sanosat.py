"""SanoSat-1 (NEPAL-PQ1, AMSAT-NP): "SanoSat" framing, 500 baud GFSK packets with two CRCs.

From AMSAT-NP's "SanoSat-1 communication protocols" page and the corpus
recording (which fixes what the page leaves open: the sync word's bit
order and the CRC byte order)::

    preamble | sync 0xB42B | L | CRC1 (2) | FF FF 00 00 | data (L - 4 bytes) | CRC2 (2)

``L`` counts CRC1 + data + CRC2. Both CRCs are CRC-16/CCITT-FALSE (0x1021,
init 0xFFFF, not reflected), sent low byte first: CRC1 over the length
byte, CRC2 over the length byte, the delimiter FF FF 00 00 and the data.
(The page writes the sync word 0x2D 0xD4; on the air its bytes come LSB
first, 0xB4 0x2B, and the rest MSB first.)

The length byte and CRC1 form a 24-bit code of 256 words; it is decoded by
soft maximum likelihood, which both protects the length and rejects most
false syncs before CRC2 is looked at. Frames delivered: the data (the
telemetry starts with the callsign "AM9NPQ"), ``crc_ok`` True, ``meta``:
``length_errors`` (bit errors in length + CRC1), ``sync_errors``.
"""
from __future__ import annotations

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._sync import SyncDeframer, bits_from_bytes, bits_from_int

SYNC = 0xB42B
DELIMITER = b"\xff\xff\x00\x00"
PREAMBLE = 0xAA
MIN_LENGTH = 4                 # CRC1 + CRC2, no data
MAX_LENGTH = 130               # the longest gr-satellites accepts (135-byte packets)


def _crc(data: bytes) -> bytes:
    return fec.crc16_ccitt_false(data).to_bytes(2, "little")


# every (length byte, CRC1) word as +-1, for soft maximum-likelihood decoding
_LEN_WORDS = np.array([bits_from_bytes(bytes((n,)) + _crc(bytes((n,)))) for n in range(256)],
                      dtype=np.uint8)
_LEN_PM = 2.0 * _LEN_WORDS.astype(np.float32) - 1.0


def decode_length(soft: np.ndarray) -> tuple[int, int]:
    """(length, hard bit errors) of the most likely length + CRC1 word (24 soft symbols)."""
    n = int(np.argmax(_LEN_PM @ np.asarray(soft[:24], dtype=np.float32)))
    return n, int(np.count_nonzero((soft[:24] > 0) != _LEN_WORDS[n].astype(bool)))


class SanoSatDeframer(SyncDeframer):
    sync_bits = bits_from_int(SYNC, 16)
    allow_inverted = True
    max_frame_symbols = 8 * (1 + len(DELIMITER) + MAX_LENGTH)

    def __init__(self, max_sync_errors: int = 1, max_length_errors: int = 3,
                 keep_invalid: bool = False):
        for name, v, hi in (("max_sync_errors", max_sync_errors, 4),
                            ("max_length_errors", max_length_errors, 6)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                raise InputError(f"SanoSat {name} must be an integer 0..{hi}, not {v!r}")
        self.max_sync_errors = max_sync_errors
        self.max_length_errors = max_length_errors
        self.keep_invalid = bool(keep_invalid)
        super().__init__()

    def frame_symbols(self, head: np.ndarray) -> int | None:
        if len(head) < 24:
            return None
        n, errors = decode_length(head)
        if errors > self.max_length_errors or not MIN_LENGTH <= n <= MAX_LENGTH:
            return 0
        return 8 * (1 + len(DELIMITER) + n)

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        n, length_errors = decode_length(soft)
        pkt = np.packbits(soft > 0).tobytes()
        delim, data, crc2 = pkt[3:7], pkt[7:3 + n], pkt[3 + n:5 + n]
        ok = _crc(bytes((n,)) + delim + data) == crc2
        if not ok and not self.keep_invalid:
            return None
        return Frame(data=data, end_symbol=0, crc_ok=ok,
                     meta={"length_errors": length_errors, "sync_errors": int(self.sync_errors)})


class SanoSatFramer(Framer):
    def __init__(self, preamble_bytes: int = 8, **deframer_options):
        unknown = set(deframer_options) - set(OPTIONS)
        if unknown:
            raise InputError(f"unknown SanoSat framer option(s): {', '.join(sorted(unknown))}")
        if isinstance(preamble_bytes, bool) or not isinstance(preamble_bytes, int) \
                or not 0 <= preamble_bytes <= 64:
            raise InputError(f"SanoSat preamble_bytes must be 0..64, not {preamble_bytes!r}")
        self.preamble_bytes = preamble_bytes

    def frame(self, payload: bytes) -> np.ndarray:
        data = bytes(payload)
        n = len(data) + MIN_LENGTH
        if n > MAX_LENGTH:
            raise InputError(f"a SanoSat packet holds at most {MAX_LENGTH - MIN_LENGTH} data bytes, "
                             f"not {len(data)}")
        ln = bytes((n,))
        pkt = ln + _crc(ln) + DELIMITER + data + _crc(ln + DELIMITER + data)
        return np.concatenate([bits_from_bytes(bytes((PREAMBLE,)) * self.preamble_bytes),
                               bits_from_int(SYNC, 16), bits_from_bytes(pkt)])


OPTIONS = {
    "max_sync_errors": Option(int, 1, tuple(range(5)), "bit errors tolerated in the 16-bit sync word"),
    "max_length_errors": Option(int, 3, tuple(range(7)),
                                "bit errors tolerated in the length byte + CRC1 (24 bits)"),
}

register(FramingSpec(
    name="SanoSat",
    description="SanoSat-1: sync 0xB42B, length byte with its own CRC-16, FF FF 00 00 "
                "delimiter, data, CRC-16/CCITT-FALSE (500 baud FSK)",
    deframer=SanoSatDeframer,
    framer=SanoSatFramer,
    options=OPTIONS,
    module=__name__,
))

__all__ = ["SanoSatDeframer", "SanoSatFramer", "decode_length", "SYNC"]
