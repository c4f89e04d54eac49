"""CCSDS TM synchronisation: ASM search, Viterbi lanes, flywheel, overlap resolution.

The private half of ``ccsds.py`` that finds codeblocks in a stream:

* :class:`CodeblockSync`: ASM search on soft symbols or decoded bits (the
  shared ``SyncDeframer``), both polarities, with a flywheel (the frame after
  a good one is decoded at its expected place even when its ASM is damaged).
* :class:`ViterbiLane`: continuous soft-decision Viterbi decoding at one pair
  alignment for one convention, then NRZ-M decoding and a ``CodeblockSync``.
* :class:`CodedAsmSync`: ASM search on the channel symbols (the encoded
  ASM), then Viterbi decoding of the codeblock from the known encoder state.
* :class:`OverlapResolver`: of candidates sharing channel symbols, keep the best.
"""
from __future__ import annotations

import numpy as np

from ..dsp import fec
from .base import Frame
from ._ccsds_codeblock import (ASM_BITS, EDGE_ASM_ERRORS, EDGE_CODED_ASM_ERRORS, CcsdsParams,
                               decode_codeblock)
from ._sync import SyncDeframer

# Soft symbols are quantised for the Viterbi decoder with a scale that follows
# their mean magnitude over about this many symbols.
SCALE_WINDOW_SYMBOLS = 4096
VITERBI_TRACEBACK_PAIRS = 96
# Encoded-ASM search (concatenated): symbol errors tolerated in the 52 symbols
# (random symbols match at 4e-6 per position and polarity), and the bits decoded
# past the frame's end so that its last bits are as reliable as the others.
CODED_ASM_ERRORS = 10
LOOKAHEAD_BITS = 48


class CodeblockSync(SyncDeframer):
    """ASM search and codeblock decoding on one stream of (soft) bits."""

    def __init__(self, p: CcsdsParams, keep_invalid: bool):
        self.sync_bits = ASM_BITS
        self.max_sync_errors = p.sync_errors
        self.allow_inverted = True
        self.max_frame_symbols = p.codeblock_bits
        self._p = p
        self._keep_invalid = keep_invalid
        super().__init__()

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        fr = decode_codeblock(self._p, soft, self._keep_invalid or self.flywheel, self.sync_errors,
                              None if self.flywheel else EDGE_ASM_ERRORS)
        if fr is None:
            return None
        if self.flywheel:
            if not fr.valid:
                return None             # nothing was there: not even an invalid frame
            fr.meta["ccsds"]["flywheel"] = True
        if fr.valid and not fr.meta["ccsds"].get("edge_corrected"):
            # flywheel: the next frame of a continuous downlink starts right after (not
            # after a frame that could be a shifted copy: the next would be shifted too)
            self.expect(start_symbol + self._p.codeblock_bits + len(ASM_BITS))
        return fr


class SoftScale:
    """int8 quantisation for the Viterbi decoder, scale following the mean |soft|."""

    def __init__(self, window: int = SCALE_WINDOW_SYMBOLS):
        self.window = window
        self.mean_abs = 0.0
        self.weight = 0

    def quantize(self, soft: np.ndarray) -> np.ndarray:
        n = soft.size
        if n:
            s = float(np.sum(np.abs(soft), dtype=np.float64))
            w = min(self.weight, self.window)
            self.mean_abs = (self.mean_abs * w + s) / (w + n)
            self.weight = w + n
        scale = 48.0 / self.mean_abs if self.mean_abs > 0 else 1.0
        return fec.quantize_soft(soft, scale)


class ViterbiLane:
    """One convention at one pair alignment: Viterbi -> [NRZ-M] -> ASM search -> RS."""

    def __init__(self, p: CcsdsParams, convention: str, phase: int, keep_invalid: bool):
        self.convention = convention
        self.phase = phase
        self._skip = phase
        self._viterbi = fec.ViterbiDecoder(convention, traceback=VITERBI_TRACEBACK_PAIRS)
        self._diff = fec.DifferentialDecoder() if p.differential else None
        self._sync = CodeblockSync(p, keep_invalid)

    def process(self, q: np.ndarray) -> list[Frame]:
        if self._skip:
            k = min(self._skip, q.size)
            q = q[k:]
            self._skip -= k
        return self._bits(self._viterbi.decode_stream(q))

    def flush(self) -> list[Frame]:
        frames = self._bits(self._viterbi.flush(terminated=False))
        return frames + self._sync.flush()

    def _bits(self, bits: np.ndarray) -> list[Frame]:
        if not bits.size:
            return []
        if self._diff is not None:
            bits = self._diff.decode(bits)
        frames = self._sync.process(2.0 * bits.astype(np.float32) - 1.0)
        for fr in frames:
            fr.end_symbol = self.phase + 2 * fr.end_symbol
            fr.meta["ccsds"].update(convention=self.convention, lane=self.phase)
            if self._diff is not None:
                fr.inverted = False
        return frames


def encoded_asm(convention: str, differential: bool) -> tuple[np.ndarray, int, int]:
    """The encoded ASM's symbols that do not depend on the bits before it.

    Returns (the last 2 x 26 channel symbols of the encoded ASM, the encoder
    state after the ASM, the last precoded bit) for the uninverted polarity
    (NRZ-M starting from 0; the other start inverts everything).
    """
    bits = fec.differential_encode(ASM_BITS) if differential else ASM_BITS
    enc = fec.ConvEncoder(convention)
    sym = enc.encode(bits)
    k = fec.K - 1
    return sym[2 * k:], enc.state, int(bits[-1])


class CodedAsmSync(SyncDeframer):
    """ASM search on the channel symbols (encoded ASM), then Viterbi from the known state.

    A second way into the concatenated framing, for the frames the decoded-bit
    search misses: an ASM at the very start of a burst, where the Viterbi
    decoder is still finding its way out of the noise before it (KS-1Q sends
    its ASM first thing: one of its four frames in the corpus has 6 ASM errors
    after Viterbi and 4 of 52 here). The 52 symbols encoding the ASM's last 26
    bits depend only on the ASM; ``CODED_ASM_ERRORS`` of them may be wrong.
    """

    def __init__(self, p: CcsdsParams, convention: str, keep_invalid: bool):
        sym, self._state, self._last = encoded_asm(convention, p.differential)
        self.sync_bits = sym
        self.max_sync_errors = CODED_ASM_ERRORS
        self.allow_inverted = True
        self.max_frame_symbols = 2 * (p.codeblock_bits + LOOKAHEAD_BITS)
        self.decode_short_at_end = True
        self._p = p
        self._keep_invalid = keep_invalid
        self.convention = convention
        self._viterbi = fec.ViterbiDecoder(convention)
        super().__init__()

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        p = self._p
        n = 2 * p.codeblock_bits
        if soft.size < n:
            return None
        use = soft[:soft.size - soft.size % 2]
        bits = self._viterbi.decode_block(use, terminated=False, start_state=self._state,
                                          scale=1.0)[:p.codeblock_bits]
        if p.differential:
            bits = fec.DifferentialDecoder(prev=self._last).decode(bits)
        fr = decode_codeblock(p, 2.0 * bits.astype(np.float32) - 1.0, self._keep_invalid,
                              self.sync_errors, EDGE_CODED_ASM_ERRORS)
        if fr is not None:
            fr.end_symbol = n
            fr.meta["ccsds"].update(convention=self.convention, lane=start_symbol % 2,
                                    coded_sync=True)
            if p.differential:
                fr.inverted = False
        return fr


def score(fr: Frame) -> tuple[int, int, int]:
    """Lower is more likely the real frame. Valid frames first, then the fewest RS
    corrections (a shifted copy of a frame needs at least as many as the frame), then
    ASM errors; invalid ones (``keep_invalid``) by ASM errors, then codewords decoded."""
    c = fr.meta["ccsds"]
    if fr.valid:
        return 0, fr.corrected or 0, c["asm_errors"]
    failed = sum(1 for n in (c["rs_corrected"] or []) if n < 0)
    return 1, c["asm_errors"], failed


class OverlapResolver:
    """Frames share no channel symbols: of overlapping candidates keep the best.

    A Reed-Solomon codeword shifted cyclically is a codeword, and so are its
    complement (all-ones is a codeword of the full-length code) and, as 255
    bytes, the randomizer sequence; so a false ASM hit a few whole bytes away
    from a real one decodes "successfully" with full-length codewords (a few
    byte errors per codeword: the symbols that wrapped around). Measured
    without this and without the edge check: 3 to 7 % of frames came with
    such a copy at 6 tolerated ASM errors, 0.1 % at 4. The copy overlaps the
    real frame and needs at least as many corrections (the wrapped symbols on
    top of the real frame's errors, less those it dropped), so keeping the
    candidate with the fewest RS corrections (then ASM errors) removes it.
    Frames are held until every candidate that could overlap them has been
    decoded: ``hold`` symbols after their end.
    """

    def __init__(self, span: int, hold: int):
        self.span = span
        self.hold = hold
        self.held: list[Frame] = []
        self.done: list[int] = []       # end symbols of the last valid frames released

    def add(self, frames: list[Frame]) -> None:
        for fr in frames:
            self._add(fr)

    def _add(self, fr: Frame) -> None:
        if any(abs(fr.end_symbol - e) < self.span for e in self.done):
            return                      # a valid frame already delivered there
        beaten = []
        for h in self.held:
            if abs(fr.end_symbol - h.end_symbol) < self.span:
                if score(fr) < score(h):
                    beaten.append(h)
                else:
                    return
        self.held = [h for h in self.held if all(h is not b for b in beaten)] + [fr]

    def release(self, upto: int | None) -> list[Frame]:
        """Frames no candidate can overlap any more (all of them when ``upto`` is None)."""
        out = [f for f in self.held if upto is None or f.end_symbol + self.hold <= upto]
        if out:
            self.held = [f for f in self.held if all(f is not o for o in out)]
            out.sort(key=lambda f: f.end_symbol)
            self.done = (self.done + [f.end_symbol for f in out if f.valid])[-8:]
        return out
