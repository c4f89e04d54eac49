"""NGHam (LA3JPA's "Next Generation Ham radio" packet protocol): "NGHam" and "NGHam no Reed Solomon".

From the NGHam manual and reference implementation (J. P. Skagmo,
github.com/skagmo/ngham), as used by FloripaSat-1 (PY0EFS). On the air::

    preamble 0xAA x 4 | sync 0x5DE62A7E | size tag (24 bits) | RS codeword, CCSDS-scrambled

The size tag names one of seven codeword sizes (Hamming distance 13
between tags; up to ``max_tag_errors`` = 6 bit errors accepted, decoded
here by soft maximum likelihood)::

    size number          0    1    2    3    4    5    6
    codeword bytes      47   79  111  159  191  223  255
    RS parity bytes     16   16   16   32   32   32   32
    largest payload     28   60   92  124  156  188  220

Codeword (before scrambling): a header byte (bits 4..0: padding length,
bits 7..5: flags), the payload, a CRC-16/X.25 (reflected 0x1021, init and
xorout 0xFFFF) of header + payload sent high byte first, zero padding up to
the codeword's data size, then the RS parity: GF(2^8) polynomial 0x187,
first root 112, primitive element 11, conventional basis, shortened to the
codeword size. The whole codeword is XORed with the CCSDS randomizer
sequence (x^8+x^7+x^5+x^3+1, all-ones seed) from its first byte.

"NGHam" decodes the RS code, then checks the CRC. "NGHam no Reed Solomon"
checks the CRC only: FloripaSat-1's firmware sends parity computed with an
uninitialised RS encoder (its own decoder skips RS), so the parity bytes
carry nothing; this is the variant the catalog uses for it.

Frames delivered: the payload (without header, CRC, padding, parity);
``crc_ok`` True; ``corrected`` RS symbol errors corrected (None without
RS); ``meta``: ``flags`` (the 3 header flag bits; bit 0 = NGHam extension
packet), ``codeword_bytes``, ``tag_errors``, ``sync_errors``.
"""
from __future__ import annotations

import functools

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._sync import SyncDeframer, bits_from_bytes, bits_from_int

SYNC = 0x5DE62A7E
PREAMBLE = 0xAA
SIZE_TAGS = (0b001110110100100111001101, 0b010011011101101001010111, 0b011101101001001110011010,
             0b100110111011010010101110, 0b101000001111110101100011, 0b110101100110111011111001,
             0b111011010010011100110100)
CODEWORD_BYTES = (47, 79, 111, 159, 191, 223, 255)
PARITY_BYTES = (16, 16, 16, 32, 32, 32, 32)
HEADER_BYTES, CRC_BYTES = 1, 2
MAX_PAYLOAD = tuple(n - p - HEADER_BYTES - CRC_BYTES for n, p in zip(CODEWORD_BYTES, PARITY_BYTES))
MAX_FLAGS = 7
RS_FCR, RS_PRIM, RS_GFPOLY = 112, 11, 0x187

_TAG_BITS = np.array([bits_from_int(t, 24) for t in SIZE_TAGS], dtype=np.uint8)
_TAG_PM = 2.0 * _TAG_BITS.astype(np.float32) - 1.0


@functools.lru_cache(maxsize=None)
def _rs(nroots: int):
    return fec.ReedSolomon(nroots=nroots, fcr=RS_FCR, prim=RS_PRIM, gfpoly=RS_GFPOLY)


def decode_size_tag(soft: np.ndarray) -> tuple[int, int]:
    """(size number, hard bit errors) of the most likely tag for 24 soft symbols."""
    k = int(np.argmax(_TAG_PM @ np.asarray(soft[:24], dtype=np.float32)))
    errors = int(np.count_nonzero((soft[:24] > 0) != _TAG_BITS[k].astype(bool)))
    return k, errors


def size_number(payload_bytes: int) -> int:
    """The smallest codeword size that holds ``payload_bytes``."""
    for k, top in enumerate(MAX_PAYLOAD):
        if payload_bytes <= top:
            return k
    raise InputError(f"an NGHam payload holds at most {MAX_PAYLOAD[-1]} bytes, not {payload_bytes}")


class NGHamDeframer(SyncDeframer):
    """Sync word, size tag, descrambling, [RS], CRC-16/X.25."""

    sync_bits = bits_from_int(SYNC, 32)
    allow_inverted = True
    max_frame_symbols = 24 + 8 * CODEWORD_BYTES[-1]

    def __init__(self, rs: bool = True, max_sync_errors: int = 4, max_tag_errors: int = 6,
                 keep_invalid: bool = False):
        for name, v, hi in (("max_sync_errors", max_sync_errors, 8),
                            ("max_tag_errors", max_tag_errors, 6)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                raise InputError(f"NGHam {name} must be an integer 0..{hi}, not {v!r}")
        self.rs = bool(rs)
        self.max_sync_errors = max_sync_errors
        self.max_tag_errors = max_tag_errors
        self.keep_invalid = bool(keep_invalid)
        super().__init__()

    def frame_symbols(self, head: np.ndarray) -> int | None:
        if len(head) < 24:
            return None
        k, errors = decode_size_tag(head)
        if errors > self.max_tag_errors:
            return 0
        return 24 + 8 * CODEWORD_BYTES[k]

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        k, tag_errors = decode_size_tag(soft)
        n, nroots = CODEWORD_BYTES[k], PARITY_BYTES[k]
        cw = np.packbits(fec.ccsds_derandomize_soft(soft[24:24 + 8 * n]) > 0)
        corrected = None
        ok = True
        if self.rs:
            buf = cw.copy()
            corrected = int(_rs(nroots).decode_inplace(buf))
            if corrected >= 0:
                cw = buf
            else:
                ok, corrected = False, None
        header = int(cw[0])
        length = MAX_PAYLOAD[k] - (header & 0x1F)
        if length < 1:
            return None                      # more padding than room: not a frame
        body = cw[:HEADER_BYTES + length].tobytes()
        crc = cw[HEADER_BYTES + length:HEADER_BYTES + length + CRC_BYTES].tobytes()
        ok = ok and fec.crc16_x25(body).to_bytes(2, "big") == crc
        if not ok and not self.keep_invalid:
            return None
        return Frame(data=body[HEADER_BYTES:], end_symbol=0, crc_ok=ok, corrected=corrected,
                     meta={"flags": header >> 5, "codeword_bytes": n, "tag_errors": tag_errors,
                           "sync_errors": int(self.sync_errors)})


class NGHamFramer(Framer):
    """Payload (1..220 bytes) -> preamble, sync, size tag, scrambled RS codeword."""

    def __init__(self, flags: int = 0, preamble_bytes: int = 4, **deframer_options):
        unknown = set(deframer_options) - set(OPTIONS)
        if unknown:
            raise InputError(f"unknown NGHam framer option(s): {', '.join(sorted(unknown))}")
        if isinstance(flags, bool) or not isinstance(flags, int) or not 0 <= flags <= MAX_FLAGS:
            raise InputError(f"NGHam flags must be an integer 0..{MAX_FLAGS}, not {flags!r}")
        if isinstance(preamble_bytes, bool) or not isinstance(preamble_bytes, int) \
                or not 0 <= preamble_bytes <= 64:
            raise InputError(f"NGHam preamble_bytes must be 0..64, not {preamble_bytes!r}")
        self.flags = flags
        self.preamble_bytes = preamble_bytes

    def codeword(self, payload: bytes) -> tuple[int, np.ndarray]:
        """(size number, scrambled codeword bytes) for ``payload``."""
        payload = bytes(payload)
        if not payload:
            raise InputError("an NGHam payload holds at least 1 byte")
        k = size_number(len(payload))
        header = bytes(((MAX_PAYLOAD[k] - len(payload)) | (self.flags << 5),))
        body = header + payload
        data = body + fec.crc16_x25(body).to_bytes(2, "big")
        data += bytes(CODEWORD_BYTES[k] - PARITY_BYTES[k] - len(data))
        cw = _rs(PARITY_BYTES[k]).encode_codeword(np.frombuffer(data, dtype=np.uint8))
        return k, np.asarray(fec.ccsds_randomize(cw), dtype=np.uint8)

    def frame(self, payload: bytes) -> np.ndarray:
        k, cw = self.codeword(payload)
        return np.concatenate([bits_from_bytes(bytes((PREAMBLE,)) * self.preamble_bytes),
                               bits_from_int(SYNC, 32), _TAG_BITS[k], bits_from_bytes(cw.tobytes())])


OPTIONS = {
    "max_sync_errors": Option(int, 4, tuple(range(9)), "bit errors tolerated in the 32-bit sync word"),
    "max_tag_errors": Option(int, 6, tuple(range(7)), "bit errors tolerated in the 24-bit size tag"),
}

for _name, _rs_on, _what in (("NGHam", True, "RS decoding, then CRC"),
                             ("NGHam no Reed Solomon", False, "CRC only (FloripaSat-1: parity unusable)")):
    register(FramingSpec(
        name=_name,
        description=f"NGHam: sync 0x5DE62A7E, 24-bit size tag, CCSDS-scrambled RS codeword "
                    f"(7 sizes), CRC-16/X.25; {_what}",
        deframer=functools.partial(NGHamDeframer, _rs_on),
        framer=NGHamFramer,
        options=OPTIONS,
        module=__name__,
    ))

__all__ = ["NGHamDeframer", "NGHamFramer", "decode_size_tag", "size_number", "SIZE_TAGS",
           "CODEWORD_BYTES", "PARITY_BYTES", "MAX_PAYLOAD", "SYNC"]
