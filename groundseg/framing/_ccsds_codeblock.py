"""CCSDS TM codeblocks (131.0-B): parameters, derandomizing, Reed-Solomon, headers.

The private half of ``ccsds.py`` that works on one codeblock at a time:
:class:`CcsdsParams` checks a configuration (the catalog options) once;
:func:`decode_codeblock` turns the symbols after an ASM into a ``Frame``
(derandomize, deinterleave and RS-decode, FECF, header parsing), including
the check against codeblocks taken a few bytes off (:func:`shifted_sync_suspect`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..dsp import fec
from ..errors import InputError
from .base import Frame
from ._sync import bits_from_int

ASM = 0x1ACFFC1D
ASM_BITS = bits_from_int(ASM, 32)
RS_N = 255
RS_PARITY = 32
RS_K = RS_N - RS_PARITY
MAX_INTERLEAVING = 8
MAX_FRAME_BYTES = 2048          # TM/AOS transfer frames: at most 2048 octets (132.0-B, 732.0-B)
FECF_BYTES = 2
CODINGS = ("uncoded", "rs", "concatenated")
CONVOLUTIONAL_CHOICES = tuple(fec.CONVENTIONS) + ("auto",)
# Default ASM bit errors tolerated. Coded frames are checked by the RS decoder,
# so a false ASM hit costs an RS attempt (2e-5 per bit position and polarity on
# random bits with 4 errors); codeblocks taken a few bytes off are the danger
# (see shifted_sync_suspect and _ccsds_sync.OverlapResolver), and their rate
# grows 24-fold from 4 to 6 errors. Uncoded frames have no check unless they
# carry a FECF: 1 error lets noise through about once every two hours at 9600
# baud (1.5e-8 per position) instead of every 7 minutes with 2.
DEFAULT_SYNC_ERRORS = {"uncoded": 1, "rs": 4, "concatenated": 4}
DEFAULT_SYNC_ERRORS_FECF = 4
# A frame that looks like a codeblock taken a few bytes off (shifted_sync_suspect)
# is refused when its ASM had more errors than this (32-bit ASM; 52 encoded
# symbols): false ASM hits with so few errors come at 1.5e-8 and 5e-9 per position.
EDGE_ASM_ERRORS = 1
EDGE_CODED_ASM_ERRORS = 6


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class CcsdsParams:
    """The checked configuration shared by the deframer and the framer."""

    def __init__(self, coding: str, frame_size: int = 223, rs_basis: str = "dual",
                 rs_interleaving: int = 1, precoding: str | None = None,
                 scrambler: str = "CCSDS", convolutional: str = "CCSDS",
                 syncword_threshold: int | None = None, fecf: bool = False):
        if coding not in CODINGS:
            raise InputError(f"unknown CCSDS coding {coding!r} (known: {', '.join(CODINGS)})")
        self.coding = coding
        self.rs = coding != "uncoded"
        self.conv = coding == "concatenated"
        if not _is_int(frame_size):
            raise InputError(f"CCSDS frame_size must be an integer, not {frame_size!r}")
        self.frame_size = int(frame_size)
        if not _is_int(rs_interleaving) or not 1 <= rs_interleaving <= MAX_INTERLEAVING:
            raise InputError(f"CCSDS rs_interleaving must be 1..{MAX_INTERLEAVING}, "
                             f"not {rs_interleaving!r}")
        self.depth = int(rs_interleaving) if self.rs else 1
        if rs_basis not in ("conventional", "dual"):
            raise InputError(f"CCSDS rs_basis must be 'conventional' or 'dual', not {rs_basis!r}")
        self.dual = rs_basis == "dual"
        if precoding not in (None, "differential"):
            raise InputError(f"CCSDS precoding must be 'differential' or absent, not {precoding!r}")
        self.differential = precoding == "differential"
        if scrambler not in ("CCSDS", "none"):
            raise InputError(f"CCSDS scrambler must be 'CCSDS' or 'none', not {scrambler!r}")
        self.randomize = scrambler == "CCSDS"
        if convolutional not in CONVOLUTIONAL_CHOICES:
            raise InputError(f"CCSDS convolutional must be one of {list(CONVOLUTIONAL_CHOICES)}, "
                             f"not {convolutional!r}")
        self.conventions = tuple(fec.CONVENTIONS) if convolutional == "auto" else (convolutional,)
        self.convolutional = convolutional
        self.fecf = bool(fecf)
        lo = 1 + (FECF_BYTES if self.fecf else 0)
        if self.rs:
            if self.frame_size % self.depth:
                raise InputError(f"CCSDS frame_size {self.frame_size} is not a multiple of "
                                 f"rs_interleaving {self.depth}")
            k = self.frame_size // self.depth
            if not lo <= self.frame_size or k > RS_K:
                raise InputError(f"CCSDS frame_size must be {lo}..{RS_K * self.depth} bytes with "
                                 f"rs_interleaving {self.depth}, not {self.frame_size}")
        elif not lo <= self.frame_size <= MAX_FRAME_BYTES:
            raise InputError(f"CCSDS frame_size must be {lo}..{MAX_FRAME_BYTES} bytes, "
                             f"not {self.frame_size}")
        if syncword_threshold is None:
            syncword_threshold = (DEFAULT_SYNC_ERRORS_FECF if self.fecf
                                  else DEFAULT_SYNC_ERRORS[coding])
        if not _is_int(syncword_threshold) or not 0 <= syncword_threshold <= 8:
            raise InputError(f"CCSDS syncword_threshold must be 0..8 bit errors, "
                             f"not {syncword_threshold!r}")
        self.sync_errors = int(syncword_threshold)
        self.codeblock_bytes = self.frame_size + (RS_PARITY * self.depth if self.rs else 0)
        self.codeblock_bits = 8 * self.codeblock_bytes
        self.rs_code = fec.ccsds_rs(dual_basis=self.dual) if self.rs else None

    @property
    def virtual_fill(self) -> int:
        """Zero bytes in front of each codeword that are not sent (shortening)."""
        return RS_K - self.frame_size // self.depth if self.rs else 0



def parse_primary_header(data: bytes) -> tuple[str, dict[str, int]] | None:
    """("tm", fields) or ("aos", fields) from the first 6 bytes; None when neither."""
    if len(data) < 6:
        return None
    version = data[0] >> 6
    if version == 0:
        w0 = int.from_bytes(data[0:2], "big")
        w2 = int.from_bytes(data[4:6], "big")
        return "tm", {
            "version": 0,
            "spacecraft_id": (w0 >> 4) & 0x3FF,
            "vcid": (w0 >> 1) & 0x7,
            "ocf": w0 & 1,
            "mc_count": data[2],
            "vc_count": data[3],
            "secondary_header": w2 >> 15,
            "sync": (w2 >> 14) & 1,
            "packet_order": (w2 >> 13) & 1,
            "segment_length_id": (w2 >> 11) & 3,
            "first_header_pointer": w2 & 0x7FF,
        }
    if version == 1:
        w0 = int.from_bytes(data[0:2], "big")
        return "aos", {
            "version": 1,
            "spacecraft_id": (w0 >> 6) & 0xFF,
            "vcid": w0 & 0x3F,
            "vc_count": int.from_bytes(data[2:5], "big"),
            "replay": data[5] >> 7,
        }
    return None


def fecf_ok(frame: bytes) -> bool:
    """The last two bytes are the CRC-16/CCITT-FALSE of the rest, big endian."""
    return len(frame) > FECF_BYTES and \
        fec.crc16_ccitt_false(frame[:-FECF_BYTES]) == int.from_bytes(frame[-FECF_BYTES:], "big")



def shifted_sync_suspect(p: CcsdsParams, received: np.ndarray, data: np.ndarray) -> bool:
    """Every codeword was corrected at its first sent symbol, or every one at its last.

    That is what a codeblock taken a few bytes early or late looks like after a
    "successful" RS decoding (the wrapped-around symbols are junk), and what
    a real one looks like with probability about V_s^I (V_s: byte error rate).
    """
    fixed = np.asarray(p.rs_code.encode_interleaved(data, p.depth), np.uint8) != received
    d = p.depth
    return bool(fixed[:d].all() or fixed[-d:].all())


#: a randomized codeblock whose channel bits are this much one value carries no data (random data
#: after the CCSDS randomizer is half ones; P(7/8 of 2112 bits equal) is below 1e-300)
CONSTANT_FRACTION = 0.875


def constant_channel(hard: np.ndarray) -> bool:
    """The channel bits of a codeblock are (almost) all 0 or all 1."""
    ones = int(np.count_nonzero(hard))
    return max(ones, hard.size - ones) > CONSTANT_FRACTION * hard.size


def decode_codeblock(p: CcsdsParams, soft: np.ndarray, keep_invalid: bool, asm_errors: int = 0,
                      max_edge_asm_errors: int | None = None) -> Frame | None:
    """Soft symbols (or +-1 bits) of one codeblock, polarity undone -> Frame or None.

    ``max_edge_asm_errors``: a frame looking like a shifted codeblock
    (:func:`shifted_sync_suspect`) whose sync word had more errors than this is
    rejected (None: not checked, e.g. for flywheel candidates, whose place is known).
    """
    hard = soft > 0
    raw = np.packbits(hard)
    if p.randomize:
        raw = fec.ccsds_derandomize(raw)
    counts: list[int] | None = None
    crc_ok: bool | None = None
    if p.randomize and p.rs and constant_channel(hard):
        # Silence, a NaN run or an unmodulated carrier after a sync word: no data, but the
        # derandomized all-zero (all-one) codeblock is an RS codeword. Never a valid frame.
        if not keep_invalid:
            return None
        crc_ok = False
    corrected = None
    suspect = False
    if p.rs:
        data_arr, n = p.rs_code.decode_interleaved(raw, p.depth)
        counts = [int(c) for c in np.asarray(n).tolist()]
        crc_ok = min(counts) >= 0 and crc_ok is not False
        corrected = sum(c for c in counts if c > 0)
        if crc_ok and corrected:
            suspect = shifted_sync_suspect(p, raw, data_arr)
            if suspect and max_edge_asm_errors is not None and asm_errors > max_edge_asm_errors:
                crc_ok = False
        data = bytes(np.asarray(data_arr, np.uint8))
    else:
        data = bytes(raw)
    if p.fecf:
        good = fecf_ok(data)
        crc_ok = good and crc_ok is not False
        data = data[:-FECF_BYTES]
    if crc_ok is False and not keep_invalid:
        return None
    meta: dict[str, Any] = {"ccsds": {"rs_corrected": counts, "asm_errors": int(asm_errors),
                                      "viterbi": p.conv}}
    if suspect:
        meta["ccsds"]["edge_corrected"] = True
    hdr = parse_primary_header(data)
    if hdr is not None:
        meta[hdr[0]] = hdr[1]
    return Frame(data=data, end_symbol=0, crc_ok=crc_ok, corrected=corrected, meta=meta)
