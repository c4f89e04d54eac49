"""CCSDS TM synchronization and channel coding (CCSDS 131.0-B): three framings.

Registered names (variants of one deframer class by preset arguments):

* ``"CCSDS Uncoded"``: ASM + transfer frame.
* ``"CCSDS Reed-Solomon"``: ASM + Reed-Solomon (255,223) codeblock.
* ``"CCSDS Concatenated"``: the same, convolutionally encoded (K=7, r=1/2).

Transmit side, as the satellites do it (131.0-B sections 4, 8, 9; BY70-1's
differential precoding checked on the corpus recording, see below)::

    transfer frame (frame_size bytes)
      -> [FECF: CRC-16/CCITT-FALSE appended, option fecf]
      -> [Reed-Solomon: split over I = rs_interleaving codewords, byte j of
          codeword i at position j*I + i, each shortened to frame_size/I data
          bytes (virtual fill 223 - frame_size/I zero bytes, not sent) and
          32 parity bytes; dual basis on the wire with rs_basis "dual"]
      -> [randomizer: XOR with the h(x) = x^8+x^7+x^5+x^3+1 sequence, all-ones
          at the first bit after the ASM, over the whole codeblock]
      -> 0x1ACFFC1D attached in front (never randomized, never RS coded)
      -> [precoding "differential": NRZ-M, y[n] = x[n] ^ y[n-1], continuous]
      -> [convolutional code, continuous across frames, ASM included]
      -> channel bits

Synchronization (``_ccsds_sync.py``). Uncoded and RS: the ASM is searched on
the (differentially decoded) soft symbols by correlating their hard
decisions with the ASM, ``syncword_threshold`` bit errors tolerated, in both
polarities (an inverted ASM means inverted symbols: the frame is decoded
inverted). Concatenated, two ways at once:

* Viterbi decoding runs continuously in two lanes, starting at symbol 0 and
  at symbol 1 (the pair alignment is unknown), and the ASM is searched in
  each lane's decoded bits as above. Both polynomials have odd weight, so
  inverted channel symbols decode to inverted bits: BPSK's 180 degree
  ambiguity shows up as an inverted ASM and is undone after decoding. This
  is the main path: after decoding, the ASM's bit error rate is far below
  that of the 52 channel symbols encoding it (at Eb/N0 = 2 dB about 10 % of
  those are wrong).
* The encoded ASM (its last 26 pairs, which do not depend on the bits
  before it) is also correlated with the channel symbols, and a hit is
  decoded from the known encoder state. This finds the frames whose ASM
  comes first thing in a burst, where the continuous decoder is still
  coming out of the noise (KS-1Q: one of its four corpus frames).

Both add a flywheel: after a valid frame the next one is decoded at its
expected place even when its ASM is too damaged to be found (a Viterbi error
burst in the ASM: measured 0.5 to 2 % of frames near FER 1e-2 without it).
Codeblocks taken a few whole bytes off decode "successfully" when the
codewords are full length (a cyclic shift of a codeword is a codeword);
overlapping candidates are therefore resolved (the one with the fewest RS
corrections wins) and a frame corrected at the first or last symbol of every
codeword is refused unless its ASM was nearly perfect. The benchmark
``tests/benchmarks/bench_ccsds_sensitivity.py`` counts frames lost at sync,
in the RS decoder, and any wrong or false frame delivered.

The convolutional conventions (``convolutional``): "CCSDS" (171, 133 with
the second output inverted, 131.0-B), "NASA-DSN" (the same with the two
outputs sent in the other order: that is the symbol-order ambiguity), and the
uninverted variants; "auto" runs all four (4x the decoding cost) when the
convention of a satellite is unknown.

Differential precoding: with the concatenated code, BY70-1 applies NRZ-M to
the bits *before* the convolutional encoder (its recording decodes only that
way: 27 ASMs when decoding NRZ-M after Viterbi, none when decoding it on the
soft symbols before Viterbi), which is what gr-satellites' SatYAML option
``precoding: differential`` means too. Uncoded and RS-only: NRZ-M on the
channel symbols, decoded softly before the sync search. NRZ-M removes the
polarity ambiguity, so those frames are never reported inverted.

Frames delivered: ``data`` is the transfer frame (without RS parity, virtual
fill and FECF), ``crc_ok`` True when every RS codeword decoded (and the FECF
matched, when present), None for uncoded frames without FECF, ``corrected``
the RS byte errors corrected in total (None without RS), ``end_symbol`` just
past the codeblock's last channel symbol, and
``meta["ccsds"] = {"rs_corrected": [per codeword, -1: failed], "asm_errors":
int, "viterbi": bool}`` plus, when they apply, ``"convention"`` and
``"lane"`` (concatenated: the code and the symbol offset of the pairs),
``"flywheel": True`` (found at its expected place), ``"coded_sync": True``
(found by the encoded ASM), ``"edge_corrected": True``. When the first 6
bytes are a TM transfer frame primary header (version 0) ``meta["tm"]``
holds ``version, spacecraft_id, vcid, ocf, mc_count, vc_count,
secondary_header, sync, packet_order, segment_length_id,
first_header_pointer``; an AOS header (version 1) goes to ``meta["aos"]``:
``version, spacecraft_id, vcid, vc_count, replay``. With
``keep_invalid=True`` frames whose RS decoding (or FECF, or the shifted
codeblock check) failed are delivered too, with ``crc_ok=False`` and the
uncorrected data.

The framer does the reverse for the modulators, the pass simulator and the
uplink: ``frame(payload)`` takes exactly ``frame_size`` bytes (``frame_size
- 2`` with ``fecf``: it appends the FECF) and returns the channel bits of one
frame. The differential precoder and the convolutional encoder keep their
state from one call to the next (a continuous downlink); ``reset()``
restarts them.
"""
from __future__ import annotations

import functools

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Deframer, Frame, Framer, FramingSpec, Option, register
from ._ccsds_codeblock import (ASM, ASM_BITS, CONVOLUTIONAL_CHOICES, FECF_BYTES, MAX_INTERLEAVING,
                               CcsdsParams, parse_primary_header)
from ._ccsds_sync import (VITERBI_TRACEBACK_PAIRS, CodeblockSync, CodedAsmSync, OverlapResolver,
                          SoftScale, ViterbiLane)

__all__ = ["ASM", "CcsdsDeframer", "CcsdsFramer", "CcsdsParams", "parse_primary_header",
           "UNCODED_OPTIONS", "RS_OPTIONS", "CONCATENATED_OPTIONS"]


class CcsdsDeframer(Deframer):
    """CCSDS TM deframer; ``coding`` is "uncoded", "rs" or "concatenated" (see module doc)."""

    def __init__(self, coding: str, frame_size: int = 223, rs_basis: str = "dual",
                 rs_interleaving: int = 1, precoding: str | None = None,
                 scrambler: str = "CCSDS", convolutional: str = "CCSDS",
                 syncword_threshold: int | None = None, fecf: bool = False,
                 keep_invalid: bool = False):
        self.params = p = CcsdsParams(coding, frame_size, rs_basis, rs_interleaving, precoding,
                                      scrambler, convolutional, syncword_threshold, fecf)
        self.keep_invalid = bool(keep_invalid)
        sym_per_bit = 2 if p.conv else 1
        # a false candidate decodes only within 16 symbols per codeword of the real ASM
        hold = sym_per_bit * (8 * 16 * p.depth + 64)
        if p.conv:
            hold += 2 * VITERBI_TRACEBACK_PAIRS
        self._resolver = OverlapResolver(sym_per_bit * (32 + p.codeblock_bits), hold)
        self._consumed = 0
        if p.conv:
            self._scale = SoftScale()
            self._lanes = [ViterbiLane(p, conv, phase, self.keep_invalid)
                           for conv in p.conventions for phase in (0, 1)]
            self._coded = [CodedAsmSync(p, conv, self.keep_invalid) for conv in p.conventions]
        else:
            self._diff = fec.DifferentialDecoder() if p.differential else None
            self._sync = CodeblockSync(p, self.keep_invalid)

    def process(self, soft: np.ndarray) -> list[Frame]:
        soft = np.asarray(soft, dtype=np.float32).reshape(-1)
        if not np.isfinite(soft).all():      # a demodulator glitch: no information there
            soft = np.nan_to_num(soft, nan=0.0, posinf=0.0, neginf=0.0)
        if self.params.conv:
            q = self._scale.quantize(soft)
            frames = [f for lane in self._lanes for f in lane.process(q)]
            qf = q.astype(np.float32)
            frames += [f for c in self._coded for f in c.process(qf)]
        else:
            if self._diff is not None and soft.size:
                soft = self._diff.decode_soft(soft)
            frames = self._sync.process(soft)
            if self._diff is not None:
                for f in frames:
                    f.inverted = False
        self._consumed += soft.size
        self._resolver.add(frames)
        return self._resolver.release(self._consumed)

    def flush(self) -> list[Frame]:
        if self.params.conv:
            frames = [f for lane in self._lanes for f in lane.flush()]
            frames += [f for c in self._coded for f in c.flush()]
        else:
            frames = self._sync.flush()
        self._resolver.add(frames)
        return self._resolver.release(None)


# --- framer -----------------------------------------------------------------------------------

class CcsdsFramer(Framer):
    """Transfer frames -> channel bits (see the module docstring); stateful across frames."""

    def __init__(self, coding: str, frame_size: int = 223, rs_basis: str = "dual",
                 rs_interleaving: int = 1, precoding: str | None = None,
                 scrambler: str = "CCSDS", convolutional: str = "CCSDS",
                 syncword_threshold: int | None = None, fecf: bool = False):
        self.params = p = CcsdsParams(coding, frame_size, rs_basis, rs_interleaving, precoding,
                                      scrambler, convolutional, syncword_threshold, fecf)
        if p.conv and len(p.conventions) != 1:
            raise InputError("the CCSDS framer needs one convolutional convention, not 'auto'")
        self.reset()

    def reset(self) -> None:
        p = self.params
        self._diff = fec.DifferentialEncoder() if p.differential else None
        self._enc = fec.ConvEncoder(p.conventions[0]) if p.conv else None

    @property
    def payload_bytes(self) -> int:
        return self.params.frame_size - (FECF_BYTES if self.params.fecf else 0)

    def codeblock(self, payload: bytes) -> np.ndarray:
        """The codeblock bytes after the ASM (RS coded, randomized), before line coding."""
        p = self.params
        data = bytes(payload)
        if len(data) != self.payload_bytes:
            raise InputError(f"CCSDS frame payload must be {self.payload_bytes} bytes, "
                             f"not {len(data)}")
        if p.fecf:
            data += fec.crc16_ccitt_false(data).to_bytes(FECF_BYTES, "big")
        block = np.frombuffer(data, np.uint8)
        if p.rs:
            block = np.asarray(p.rs_code.encode_interleaved(block, p.depth), np.uint8)
        if p.randomize:
            block = np.asarray(fec.ccsds_randomize(block), np.uint8)
        return block

    def frame(self, payload: bytes) -> np.ndarray:
        bits = np.concatenate([ASM_BITS, np.unpackbits(self.codeblock(payload))])
        if self._diff is not None:
            bits = self._diff.encode(bits)
        if self._enc is not None:
            bits = self._enc.encode(bits)
        return np.asarray(bits, np.uint8)


# --- registration -----------------------------------------------------------------------------

_COMMON = {
    "frame_size": Option(int, 223, help="transfer frame bytes (RS: data bytes of all interleaved "
                         "codewords, e.g. 223, 114 shortened, 1115 = 5 x 223)"),
    "precoding": Option(str, None, ("differential",),
                        help="NRZ-M precoding (concatenated: before the convolutional encoder)"),
    "scrambler": Option(str, "CCSDS", ("CCSDS", "none"), help="CCSDS randomizer on or off"),
    "syncword_threshold": Option(int, None, tuple(range(9)),
                                 help="ASM bit errors tolerated (default 4; uncoded 1, "
                                 "4 with fecf)"),
    "fecf": Option(bool, False, (False, True),
                   help="the frame ends with a CRC-16 frame error control field "
                   "(checked, removed)"),
}
_RS = {
    "rs_basis": Option(str, "dual", ("conventional", "dual"), help="Reed-Solomon symbol basis"),
    "rs_interleaving": Option(int, 1, tuple(range(1, MAX_INTERLEAVING + 1)),
                              help="Reed-Solomon interleaving depth"),
}
_CONV = {
    "convolutional": Option(str, "CCSDS", CONVOLUTIONAL_CHOICES,
                            help="convolutional code convention ('auto': try all four)"),
}

UNCODED_OPTIONS = dict(_COMMON)
RS_OPTIONS = {**_COMMON, **_RS}
CONCATENATED_OPTIONS = {**_COMMON, **_RS, **_CONV}


def _spec(name: str, coding: str, description: str, options: dict[str, Option]) -> FramingSpec:
    return FramingSpec(
        name=name,
        description=description,
        deframer=functools.partial(CcsdsDeframer, coding),
        framer=functools.partial(CcsdsFramer, coding),
        options=options,
        module=__name__,
    )


register(_spec("CCSDS Uncoded", "uncoded",
               "CCSDS TM: ASM 0x1ACFFC1D + randomized transfer frame, no FEC", UNCODED_OPTIONS))
register(_spec("CCSDS Reed-Solomon", "rs",
               "CCSDS TM: ASM + randomized Reed-Solomon (255,223) codeblock, interleaving 1..8",
               RS_OPTIONS))
register(_spec("CCSDS Concatenated", "concatenated",
               "CCSDS TM: Reed-Solomon (255,223) codeblocks inside the K=7 r=1/2 convolutional "
               "code (soft-decision Viterbi)", CONCATENATED_OPTIONS))
