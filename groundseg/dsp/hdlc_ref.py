"""Reference (numpy + pure Python) for ``hdlc.pyx``: HDLC deframing/framing with NRZI and G3RUH.

This is the readable specification the Cython kernel is tested against; it
does the same thing one bit at a time in Python and is about a hundred times
slower. Everything here has the same name and the same results as in
``hdlc.pyx``.

Receive chain, per channel symbol ``c`` (soft > 0 is 1):

* G3RUH descrambler (multiplicative, x^17 + x^12 + 1, optional):
  ``d[n] = c[n] ^ c[n-12] ^ c[n-17]``
* NRZI decoding (a 0 is a transition): ``x[n] = 1 if d[n] == d[n-1] else 0``
* HDLC: a 0 after six 1s closes a flag (0x7E); a 0 after five 1s is a
  stuffed bit and is dropped; seven 1s abort the frame (hunt for the next
  flag). Bits between two flags, LSB first, are the frame; it counts when it
  is byte aligned, its length (FCS included) is within limits and, for
  ``status`` 0, its CRC-16/X.25 FCS checks.

Decoder state (``state()``), identical in kernel and reference:
``(pos, hist, prev_d, ones, in_frame, acc, nacc, nbytes, start, alt, alt2, aborts)``
with ``pos`` symbols consumed, ``hist`` the last 17 channel bits (bit 0
newest), ``prev_d`` the last descrambled bit, ``ones`` the current run of 1s
(saturating at 7), ``acc``/``nacc`` the partial byte, ``nbytes`` bytes of the
current frame, ``start`` the symbol index of its first bit, ``alt`` and
``alt2`` the starts of the two segments before it (-1 when there is none
worth a repair: after a good frame, a lone flag, two aborts or an overflow)
and ``aborts`` the aborts (7+ ones) since the last flag (2: too many, or
overflow). A bit error that makes a flag or seven 1s splits a frame into
segments; with G3RUH one channel error may make two of them.

Frames are reported as ``(data, start, end, status, alt, alt2)``: ``data`` the
frame bytes with FCS, ``start`` the symbol index of its first bit (just
after the opening flag), ``end`` the index just past the closing flag.
``status`` 0 = CRC good; with ``emit_bad`` (for soft repair) also
1 = CRC bad, 2 = not byte aligned, 3 = aborted once (span from the aborted
frame's start to the next flag), 4 = too short (only reported with an
``alt``). ``alt``/``alt2`` >= 0 are the starts of the segments before, for
a repair across flags or aborts that a bit error may have created; ``data``
is empty for status 2 to 4.
"""
from __future__ import annotations

import itertools

import numpy as np

CRC_POLY_REFLECTED = 0x8408     # x^16 + x^12 + x^5 + 1, bit-reversed
CRC_INIT = 0xFFFF
CRC_XOROUT = 0xFFFF
CRC_GOOD_RESIDUE = 0xF0B8       # register after a frame plus its correct FCS
FLAG = 0x7E
STATUS_OK, STATUS_CRC, STATUS_ALIGN, STATUS_ABORT, STATUS_SHORT = 0, 1, 2, 3, 4
HIST_MASK = (1 << 17) - 1
ONES_SAT = 7
# G3RUH: a channel bit error at p changes descrambled bits p, p+12, p+17,
# and NRZI turns each of those into two decoded bit errors.
G3RUH_TAPS = (0, 12, 17)


def crc_register(data: bytes, crc: int = CRC_INIT) -> int:
    """The CRC-16/X.25 shift register after ``data`` (no final xor), bit by bit."""
    for byte in data:
        for k in range(8):
            fb = (crc ^ (byte >> k)) & 1
            crc >>= 1
            if fb:
                crc ^= CRC_POLY_REFLECTED
    return crc


def fcs(data: bytes) -> int:
    """CRC-16/X.25 of ``data`` (the FCS value; sent low byte first)."""
    return crc_register(data) ^ CRC_XOROUT


def append_fcs(data: bytes) -> bytes:
    f = fcs(data)
    return bytes(data) + bytes((f & 0xFF, f >> 8))


def check_fcs(frame: bytes) -> bool:
    """True when ``frame`` (data followed by its FCS) is intact."""
    return len(frame) >= 2 and crc_register(frame) == CRC_GOOD_RESIDUE


def single_bit_syndromes(nbits: int) -> np.ndarray:
    """``T[m]``: CRC register change caused by flipping the bit m places before the end."""
    t = np.zeros(nbits, dtype=np.uint16)
    s = CRC_POLY_REFLECTED
    for m in range(nbits):
        t[m] = s
        s = (s >> 1) ^ (CRC_POLY_REFLECTED if s & 1 else 0)
    return t


# --- line coding --------------------------------------------------------------

def descramble_nrzi(c: np.ndarray, hist: int, prev_d: int, g3ruh: bool):
    """Channel bits -> NRZI-decoded bits. Returns (x, hist, prev_d) with the new state."""
    c = np.asarray(c, dtype=np.uint8)
    if len(c) == 0:
        return np.zeros(0, np.uint8), hist, prev_d
    past = np.array([(hist >> k) & 1 for k in range(16, -1, -1)], dtype=np.uint8)
    ext = np.concatenate([past, c])                  # ext[17 + n] = c[n]
    if g3ruh:
        d = ext[17:] ^ ext[5:-12] ^ ext[:-17]
    else:
        d = c.copy()
    x = 1 ^ d ^ np.concatenate([[prev_d], d[:-1]]).astype(np.uint8)
    new_hist = 0
    for bit in ext[-17:]:
        new_hist = (new_hist << 1) | int(bit)
    return x.astype(np.uint8), new_hist, int(d[-1])


def encode_nrzi_scramble(x: np.ndarray, level: int, hist: int, g3ruh: bool):
    """Bits -> NRZI (a 0 toggles the level) -> [G3RUH scrambler]. Returns (c, level, hist)."""
    out = np.zeros(len(x), dtype=np.uint8)
    for i, b in enumerate(x):
        if not b:
            level ^= 1
        c = level
        if g3ruh:
            c ^= ((hist >> 11) & 1) ^ ((hist >> 16) & 1)
        hist = ((hist << 1) | c) & HIST_MASK
        out[i] = c
    return out, level, hist


# --- receive ----------------------------------------------------------------------

class HdlcDecoder:
    """Streaming HDLC deframer on soft symbols (reference implementation)."""

    def __init__(self, g3ruh: bool = False, min_bytes: int = 17, max_bytes: int = 1026,
                 emit_bad: bool = False):
        if min_bytes < 3 or max_bytes < min_bytes:
            raise ValueError("need 3 <= min_bytes <= max_bytes")
        self.g3ruh = bool(g3ruh)
        self.min_bytes = int(min_bytes)
        self.max_bytes = int(max_bytes)
        self.emit_bad = bool(emit_bad)
        self.reset()

    def reset(self) -> None:
        self.pos = 0
        self.hist = 0
        self.prev_d = 0
        self.ones = 0
        self.in_frame = False
        self.acc = 0
        self.nacc = 0
        self.buf = bytearray()
        self.start = 0
        self.alt = -1
        self.alt2 = -1
        self.aborts = 0

    def state(self) -> tuple:
        return (self.pos, self.hist, self.prev_d, self.ones, int(self.in_frame),
                self.acc, self.nacc, len(self.buf), self.start, self.alt, self.alt2,
                self.aborts)

    def process(self, soft) -> list[tuple[bytes, int, int, int, int, int]]:
        soft = np.asarray(soft, dtype=np.float32).ravel()
        x, self.hist, self.prev_d = descramble_nrzi(soft > 0, self.hist, self.prev_d, self.g3ruh)
        out = []
        for i, b in enumerate(x.tolist()):
            if b:
                if self.ones < ONES_SAT:
                    self.ones += 1
                    if self.ones == ONES_SAT:        # abort: hunt for the next flag
                        self.in_frame = False
                        self.aborts = min(self.aborts + 1, 2)
                if self.in_frame:
                    self._append(1)
                continue
            run, self.ones = self.ones, 0
            if run == 6:                             # flag
                end = self.pos + i + 1
                self._close(end, out)
                self.in_frame = True
                self.acc = self.nacc = 0
                self.buf = bytearray()
                self.start = end
                self.aborts = 0
            elif run == 5:
                pass                                 # stuffed zero
            elif self.in_frame:
                self._append(0)
        self.pos += len(x)
        return out

    def _append(self, b: int) -> None:
        self.acc = (self.acc >> 1) | (b << 7)
        self.nacc += 1
        if self.nacc == 8:
            if len(self.buf) >= self.max_bytes:
                self.in_frame = False                # too long: hunt for a flag
                self.aborts = 2
            else:
                self.buf.append(self.acc)
            self.acc = self.nacc = 0

    def _close(self, end: int, out: list) -> None:
        min_bits = 8 * self.min_bytes
        earliest = self.alt2 if self.alt2 >= 0 else self.alt
        status = None
        if not self.in_frame:
            if self.aborts == 1:
                status = STATUS_ABORT
                if self.emit_bad and (end - self.start >= min_bits or
                                      (earliest >= 0 and end - earliest >= min_bits)):
                    out.append((b"", self.start, end, status, self.alt, self.alt2))
        elif len(self.buf) >= self.min_bytes:
            if self.nacc != 7:
                status = STATUS_ALIGN
                if self.emit_bad:
                    out.append((b"", self.start, end, status, self.alt, self.alt2))
            else:
                status = STATUS_OK if check_fcs(self.buf) else STATUS_CRC
                if status == STATUS_OK or self.emit_bad:
                    out.append((bytes(self.buf), self.start, end, status, self.alt, self.alt2))
        elif end - self.start > 8:
            status = STATUS_SHORT
            if self.emit_bad and earliest >= 0 and end - earliest >= min_bits:
                out.append((b"", self.start, end, status, self.alt, self.alt2))
        # the next segments may be the rest of this one, split by false flags or
        # aborts: remember its start, unless it was a good frame, a lone flag,
        # aborted twice or too long
        if status is None or status == STATUS_OK:
            self.alt = self.alt2 = -1
        else:
            self.alt, self.alt2 = self.start, self.alt


def decode_bits_span(x: np.ndarray, start: int, end: int, min_bytes: int, max_bytes: int):
    """HDLC over decoded bits ``x[start:end]`` just after an opening flag.

    Returns the frame (with FCS) when a flag ending at ``end`` closes a
    byte-aligned frame of allowed length and good CRC, and nothing happened
    before it but (optionally) more flags right at the start.
    """
    ones = 0
    acc = nacc = 0
    buf = bytearray()
    for q in range(start, end):
        b = int(x[q])
        if b:
            ones += 1
            if ones == 7:
                return None
            acc, nacc = (acc >> 1) | 0x80, nacc + 1
        else:
            run, ones = ones, 0
            if run == 6:
                if q == end - 1:
                    if nacc != 7 or not min_bytes <= len(buf) <= max_bytes:
                        return None
                    return bytes(buf) if check_fcs(buf) else None
                if buf or nacc != 7:
                    return None
                acc = nacc = 0                       # a leading flag: start again
                continue
            if run == 5:
                continue
            acc, nacc = acc >> 1, nacc + 1
        if nacc == 8:
            if len(buf) >= max_bytes:
                return None
            buf.append(acc)
            acc = nacc = 0
    return None


# --- soft repair ------------------------------------------------------------------

SPAN_MARGIN = 32   # symbols kept before a frame's first bit: flag (8) + G3RUH/NRZI memory (18)


def flip_positions(p: int, g3ruh: bool) -> list[int]:
    """Decoded-bit positions changed by flipping channel bit ``p``."""
    taps = G3RUH_TAPS if g3ruh else (0,)
    return [p + t + k for t in taps for k in (0, 1)]


def repair_candidates(soft: np.ndarray, start: int, end: int, g3ruh: bool, n: int) -> list[int]:
    """The ``n`` weakest channel bits whose flip stays inside the frame (sorted by |soft|, index)."""
    pos = [p for p in range(start, end - 8)
           if not any(end - 8 <= q < end for q in flip_positions(p, g3ruh))]
    if not pos:
        return []
    pos = np.array(pos)
    mag = np.abs(soft[pos].astype(np.float32))
    if mag.min() == mag.max():
        return []                     # hard decisions: nothing tells which bits are weak
    order = np.lexsort((pos, mag))
    return [int(p) for p in pos[order[:n]]]


def repair(soft, start: int, end: int, g3ruh: bool, max_flips: int, n_candidates: int,
           min_bytes: int = 17, max_bytes: int = 1026, accept=None):
    """Brute-force soft repair of one frame span (the reference for the kernel's syndrome search).

    ``soft`` holds the channel symbols of the span; ``start`` is the index of the
    frame's first bit (>= SPAN_MARGIN after the span start), ``end`` the index
    just past its closing flag. Every combination of up to ``max_flips`` of the
    ``n_candidates`` weakest channel bits is tried by decoding the span again;
    among those giving a valid frame, the one with the smallest sum of |soft|
    (then the first in enumeration order) that ``accept(data)`` agrees with is
    returned as ``(data_with_fcs, flips)``; None when there is none.
    """
    soft = np.asarray(soft, dtype=np.float32)
    if start < SPAN_MARGIN or end > len(soft) or end - start < 8 * min_bytes:
        return None
    cands = repair_candidates(soft, start, end, g3ruh, n_candidates)
    if not cands:
        return None
    x0, _, _ = descramble_nrzi(soft > 0, 0, 0, g3ruh)
    mags = np.abs(soft).astype(np.float64)
    found = []
    order = 0
    for k in range(1, max_flips + 1):
        for combo in itertools.combinations(range(len(cands)), k):
            x = x0.copy()
            for i in combo:
                for q in flip_positions(cands[i], g3ruh):
                    if q < end:
                        x[q] ^= 1
            data = decode_bits_span(x, start, end, min_bytes, max_bytes)
            if data is not None:
                cost = 0.0
                for i in combo:
                    cost += mags[cands[i]]
                found.append((cost, order, data, k))
            order += 1
    found.sort(key=lambda f: (f[0], f[1]))
    for _, _, data, k in found:
        if accept is None or accept(data[:-2]):
            return data, k
    return None


# --- transmit -----------------------------------------------------------------------

def stuff_bits(frame: bytes) -> np.ndarray:
    """Frame bytes (FCS included) -> bits LSB first with a 0 inserted after five 1s."""
    out = []
    ones = 0
    for byte in frame:
        for k in range(8):
            b = (byte >> k) & 1
            out.append(b)
            if b:
                ones += 1
                if ones == 5:
                    out.append(0)
                    ones = 0
            else:
                ones = 0
    return np.array(out, dtype=np.uint8)


FLAG_BITS = np.array([(FLAG >> k) & 1 for k in range(8)], dtype=np.uint8)


class HdlcEncoder:
    """Frame (FCS included) -> flags + stuffed bits -> NRZI -> [G3RUH]; state carries over."""

    def __init__(self, g3ruh: bool = False):
        self.g3ruh = bool(g3ruh)
        self.level = 0
        self.hist = 0

    def encode(self, frame: bytes, preamble_flags: int, postamble_flags: int) -> np.ndarray:
        x = np.concatenate([np.tile(FLAG_BITS, preamble_flags), stuff_bits(frame),
                            np.tile(FLAG_BITS, postamble_flags)])
        c, self.level, self.hist = encode_nrzi_scramble(x, self.level, self.hist, self.g3ruh)
        return c
