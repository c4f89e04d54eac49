"""CCSDS telecommand: TC transfer frames (CCSDS 232.0-B) and CLTUs (CCSDS 231.0-B, BCH coding).

TC transfer frame (big endian)::

    octet 0   version (2 bits, 00) | bypass flag | control command flag | spare (2 bits, 00) | SCID bits 9-8
    octet 1   SCID bits 7-0                         (spacecraft id, 10 bits)
    octet 2   VCID (6 bits) | frame length bits 9-8  (frame length = total octets - 1)
    octet 3   frame length bits 7-0
    octet 4   frame sequence number (N(S), 8 bits)
    data      1 .. 1019 octets (1017 with the FECF)
    FECF      optional CRC-16 (poly 0x1021, init 0xFFFF: CRC-16/CCITT-FALSE) over everything before it

CLTU: start sequence ``EB 90``, then codeblocks of 7 information octets and
one parity octet, then the tail sequence ``C5 C5 C5 C5 C5 C5 C5 79``. The
parity octet is 7 parity bits of the BCH(63,56) code with generator
g(x) = x^7 + x^6 + x^2 + 1 over the 56 information bits, complemented,
followed by a filler bit 0. The last codeblock is filled with ``55``
octets. The code (an expurgated Hamming code, minimum distance 4) corrects
one bit error per codeblock and detects two; an uncorrectable codeblock
ends the CLTU. Optional randomisation (before BCH encoding) XORs the frame
with the sequence of h(x) = x^8 + x^6 + x^4 + x^3 + x^2 + x + 1 from the
all-ones state (FF 39 9E 5A 68 ...). On the air the CLTU is preceded by an
acquisition sequence of alternating bits (``55`` octets) so that the
receiver's bit synchroniser locks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dsp.crc import crc16_ccitt_false
from ..errors import InputError

START_SEQUENCE = bytes.fromhex("EB90")
TAIL_SEQUENCE = bytes.fromhex("C5C5C5C5C5C5C579")
FILL_OCTET = 0x55
INFO_OCTETS = 7
HEADER_OCTETS = 5
MAX_FRAME_OCTETS = 1024
BCH_GENERATOR = 0b11000101            # x^7 + x^6 + x^2 + 1


# --- TC transfer frame -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TcFrame:
    scid: int
    vcid: int
    seq: int
    data: bytes
    bypass: bool = True
    control: bool = False
    fecf: bool = True

    def encode(self) -> bytes:
        if not 0 <= self.scid < 1024:
            raise InputError(f"spacecraft id {self.scid} is outside 0..1023")
        if not 0 <= self.vcid < 64:
            raise InputError(f"virtual channel id {self.vcid} is outside 0..63")
        if not 0 <= self.seq < 256:
            raise InputError(f"frame sequence number {self.seq} is outside 0..255")
        total = HEADER_OCTETS + len(self.data) + (2 if self.fecf else 0)
        if not self.data or total > MAX_FRAME_OCTETS:
            raise InputError(f"TC frame data of {len(self.data)} octets: must be 1.."
                             f"{MAX_FRAME_OCTETS - HEADER_OCTETS - (2 if self.fecf else 0)}")
        n = total - 1
        hdr = bytes(((int(self.bypass) << 5) | (int(self.control) << 4) | (self.scid >> 8),
                     self.scid & 0xFF, (self.vcid << 2) | (n >> 8), n & 0xFF, self.seq))
        body = hdr + bytes(self.data)
        if self.fecf:
            body += crc16_ccitt_false(body).to_bytes(2, "big")
        return body


def parse_tc_frame(raw: bytes, fecf: bool = True) -> tuple[TcFrame, bool]:
    """(frame, FECF ok) from the octets of one TC transfer frame (``raw`` may carry fill after it)."""
    raw = bytes(raw)
    if len(raw) < HEADER_OCTETS + 1:
        raise InputError(f"TC frame of {len(raw)} octets is shorter than a header and one data octet")
    if raw[0] >> 6 != 0:
        raise InputError(f"TC frame version {raw[0] >> 6} is not 0")
    n = (((raw[2] & 0x03) << 8) | raw[3]) + 1
    if n > len(raw) or n < HEADER_OCTETS + 1 + (2 if fecf else 0):
        raise InputError(f"TC frame length field {n} does not fit the {len(raw)} octets received")
    body = raw[:n]
    ok = True
    data_end = n
    if fecf:
        data_end = n - 2
        ok = crc16_ccitt_false(body[:data_end]) == int.from_bytes(body[data_end:n], "big")
    fr = TcFrame(scid=((raw[0] & 0x03) << 8) | raw[1], vcid=raw[2] >> 2, seq=raw[4], data=body[HEADER_OCTETS:data_end],
                 bypass=bool(raw[0] & 0x20), control=bool(raw[0] & 0x10), fecf=fecf)
    return fr, ok


def parse_delivered(data: bytes, fecf: bool = True) -> TcFrame:
    """The fields of a transfer frame as the deframer delivers it (without its FECF, if it had one)."""
    data = bytes(data)
    if len(data) < HEADER_OCTETS + 1:
        raise InputError(f"TC frame of {len(data)} octets is shorter than a header and one data octet")
    n = (((data[2] & 0x03) << 8) | data[3]) + 1
    if n != len(data) + (2 if fecf else 0):
        raise InputError(f"TC frame length field {n} does not match the {len(data)} octets delivered")
    return TcFrame(scid=((data[0] & 0x03) << 8) | data[1], vcid=data[2] >> 2, seq=data[4], data=data[HEADER_OCTETS:],
                   bypass=bool(data[0] & 0x20), control=bool(data[0] & 0x10), fecf=fecf)


# --- randomiser ---------------------------------------------------------------------------------------

def _randomizer_sequence(n: int) -> bytes:
    s, out = 0xFF, bytearray()
    for _ in range(n):
        byte = 0
        for _ in range(8):
            byte = (byte << 1) | (s & 1)
            fb = (s ^ (s >> 1) ^ (s >> 2) ^ (s >> 3) ^ (s >> 4) ^ (s >> 6)) & 1
            s = (s >> 1) | (fb << 7)
        out.append(byte)
    return bytes(out)


_RAND = _randomizer_sequence(MAX_FRAME_OCTETS + INFO_OCTETS)


def randomize(data: bytes) -> bytes:
    """XOR with the TC randomiser sequence (its own inverse)."""
    d = np.frombuffer(bytes(data), np.uint8)
    return (d ^ np.frombuffer(_RAND[:d.size], np.uint8)).tobytes()


# --- BCH(63,56) ------------------------------------------------------------------------------------------

def _remainder(value: int, nbits: int) -> int:
    """Remainder of the polynomial with ``nbits`` coefficients (MSB first) modulo g(x)."""
    r = 0
    for i in range(nbits - 1, -1, -1):
        r = (r << 1) | ((value >> i) & 1)
        if r & 0x80:
            r ^= BCH_GENERATOR
    return r


def bch_parity(info7: bytes) -> int:
    """The parity octet of a codeblock: 7 complemented parity bits and a filler 0."""
    m = int.from_bytes(bytes(info7), "big")
    par = _remainder(m << 7, 63)
    return ((~par) & 0x7F) << 1


# syndrome of a single error at each of the 63 bit positions (0 = the last parity bit)
_SYNDROME_POS = {_remainder(1 << i, 63): i for i in range(63)}


def bch_decode(block8: bytes) -> tuple[bytes | None, int]:
    """(7 information octets or None when uncorrectable, bits corrected)."""
    v = int.from_bytes(bytes(block8), "big")
    word = ((v >> 8) << 7) | ((((v & 0xFF) >> 1) ^ 0x7F) & 0x7F)   # info + un-complemented parity
    syn = _remainder(word, 63)
    if syn == 0:
        return (word >> 7).to_bytes(7, "big"), 0
    pos = _SYNDROME_POS.get(syn)
    if pos is None:
        return None, 0
    word ^= 1 << pos
    return (word >> 7).to_bytes(7, "big"), 1


# --- CLTU -----------------------------------------------------------------------------------------------

def cltu_encode(frame: bytes, randomise: bool = True) -> bytes:
    """Start sequence + BCH codeblocks (fill 55) + tail sequence."""
    d = randomize(frame) if randomise else bytes(frame)
    if not d:
        raise InputError("an empty CLTU")
    pad = (-len(d)) % INFO_OCTETS
    d += bytes([FILL_OCTET]) * pad
    out = bytearray(START_SEQUENCE)
    for i in range(0, len(d), INFO_OCTETS):
        blk = d[i:i + INFO_OCTETS]
        out += blk
        out.append(bch_parity(blk))
    out += TAIL_SEQUENCE
    return bytes(out)


@dataclass
class CltuResult:
    data: bytes            # the information octets, derandomised (fill included)
    corrected: int         # bit errors corrected
    complete: bool         # ended by the tail sequence (False: by an uncorrectable codeblock)


def cltu_decode(codeblocks: bytes, randomise: bool = True) -> CltuResult:
    """Decode the codeblocks after the start sequence (up to the tail, or the first uncorrectable one)."""
    out, corrected, complete = bytearray(), 0, False
    b = bytes(codeblocks)
    for i in range(0, len(b) - 7, 8):
        blk = b[i:i + 8]
        if blk == TAIL_SEQUENCE:
            complete = True
            break
        info, c = bch_decode(blk)
        if info is None:
            break
        out += info
        corrected += c
    data = randomize(bytes(out)) if randomise else bytes(out)
    return CltuResult(data, corrected, complete)
