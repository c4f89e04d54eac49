"""AX.25 over HDLC: "AX.25" (NRZI) and "AX.25 G3RUH" (G3RUH scrambler + NRZI).

Line coding on the air, transmit side: AX.25 frame -> FCS (CRC-16/X.25,
low byte first) -> bit stuffing (a 0 after five 1s) -> 0x7E flags around ->
NRZI (a 0 is a transition) -> [G3RUH scrambler, x^17 + x^12 + 1,
multiplicative] -> channel bits. The deframer undoes this on soft symbols
with the Cython kernel ``groundseg.dsp.hdlc``; NRZI makes it insensitive to
polarity (and the scrambler is linear), so ``Frame.inverted`` is always False.

Frames delivered: the AX.25 frame without its FCS, 15 to 1024 bytes (two
address fields and a control byte at least; 1024 is well above AX.25's
default N1 of 256 info bytes plus the largest header), ``end_symbol`` just
past the closing flag, and ``meta["ax25"]`` with the decoded header when it
parses: ``{"dst": "CALL-SSID", "src": ..., "digis": [...], "control": int,
"pid": int | None}`` (``-SSID`` is left out when the SSID is 0, as TNCs print
it).

Soft repair: when a frame fails its CRC, combinations of up to
``repair_flips`` of the ``repair_candidates`` weakest channel bits (smallest
|soft|) are flipped, and the cheapest (smallest total |soft|) that gives a
valid frame is kept, with ``Frame.repaired_bits`` set to the number of
channel bits flipped. Besides frames failing the CRC it repairs frames that
are not byte aligned or were split or aborted by a bit error that made a
flag or seven 1s (it then tries the span across that flag or abort). A
16-bit CRC passes a wrong frame with probability 1/65536 per combination
tried, so each failed span costs up to C(N,1)+...+C(N,k) chances of garbage
(78 for the default N = 12, k = 2: about 1.2e-3 per failed span); a repaired
frame must therefore also carry a well-formed AX.25 address field (callsign
characters, extension bits), which removes the remaining false frames in
practice (``tests/benchmarks/bench_hdlc.py`` measures both rates on noise).
``repair_flips=0`` turns repair off.
"""
from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from ..dsp import hdlc
from ..errors import InputError
from . import Deframer, Frame, Framer, FramingSpec, Option, register

MIN_FRAME_BYTES = 15          # destination + source address + control
MAX_FRAME_BYTES = 1024        # without the FCS
FCS_BYTES = 2
DEFAULT_REPAIR_FLIPS = 2
DEFAULT_REPAIR_CANDIDATES = 12
MAX_REPAIR_FLIPS = 3
MAX_REPAIR_CANDIDATES = 24
PID_NO_LAYER3 = 0xF0
CONTROL_UI = 0x03
_MAX_ADDRESSES = 10           # destination, source and up to 8 digipeaters

_CALL_RE = re.compile(r"^([A-Z0-9]{1,6})(?:-(\d{1,2}))?$")
_STRICT_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


# --- AX.25 header --------------------------------------------------------------------

def _address(call: str, last: bool, command: bool) -> bytes:
    m = _CALL_RE.match(call.strip().upper())
    if not m or (m.group(2) is not None and not 0 <= int(m.group(2)) <= 15):
        raise InputError(f"bad AX.25 address {call!r}: need CALL or CALL-SSID "
                         "(1 to 6 letters/digits, SSID 0..15)")
    name, ssid = m.group(1), int(m.group(2) or 0)
    out = bytes((ord(ch) << 1) for ch in name.ljust(6))
    # SSID byte: C/H bit, two reserved bits (1), SSID, extension bit
    return out + bytes(((0x80 if command else 0) | 0x60 | (ssid << 1) | int(last),))


def ui_frame(dst: str, src: str, info: bytes, digis=(), pid: int = PID_NO_LAYER3) -> bytes:
    """An AX.25 UI command frame (without FCS) from callsigns ("CALL" or "CALL-SSID")."""
    if len(digis) > _MAX_ADDRESSES - 2:
        raise InputError(f"at most {_MAX_ADDRESSES - 2} digipeaters, not {len(digis)}")
    if not 0 <= pid <= 255:
        raise InputError(f"PID must be a byte, not {pid}")
    calls = [dst, src, *digis]
    hdr = b"".join(_address(c, i == len(calls) - 1, command=(i == 0))
                   for i, c in enumerate(calls))
    return hdr + bytes((CONTROL_UI, pid)) + bytes(info)


def _addresses(data: bytes, strict: bool) -> tuple[list[str], int] | None:
    calls, i = [], 0
    while len(calls) < _MAX_ADDRESSES:
        if i + 7 > len(data):
            return None
        field = data[i:i + 7]
        chars = bytes(b >> 1 for b in field[:6])
        if any(not 0x20 <= c < 0x7F for c in chars):
            return None
        name = chars.rstrip(b" ")
        if strict and (not name or any(b & 1 for b in field[:6])
                       or any(c not in _STRICT_CHARS for c in name)):
            return None
        ssid = (field[6] >> 1) & 0x0F
        call = name.decode("ascii")
        calls.append(f"{call}-{ssid}" if ssid else call)
        i += 7
        if field[6] & 1:
            return (calls, i) if len(calls) >= 2 else None
    return None


def parse_header(data: bytes) -> dict[str, Any] | None:
    """The AX.25 header of a frame (without FCS), or None when it does not parse."""
    parsed = _addresses(bytes(data), strict=False)
    if parsed is None:
        return None
    calls, i = parsed
    if i >= len(data):
        return None
    control = data[i]
    pid = None
    if (control & 0x01) == 0 or (control & 0xEF) == CONTROL_UI:   # I or UI frame
        pid = data[i + 1] if i + 1 < len(data) else None
    return {"dst": calls[0], "src": calls[1], "digis": calls[2:], "control": control, "pid": pid}


def plausible_header(data: bytes) -> bool:
    """Address field of letters/digits with well-placed extension bits (for repaired frames)."""
    parsed = _addresses(bytes(data), strict=True)
    return parsed is not None and parsed[1] < len(data)


# --- deframer ---------------------------------------------------------------------------

class _SoftHistory:
    """The last ``size`` soft symbols before the current chunk (a ring, allocated once)."""

    def __init__(self, size: int):
        self.size = size
        self.ring = np.zeros(size, dtype=np.float32)
        self.end = 0                        # absolute index just past the newest symbol

    def span(self, a: int, b: int, chunk: np.ndarray) -> np.ndarray | None:
        """Symbols [a, b) where the chunk follows the history; zeros before index 0."""
        cs = self.end
        if b > cs + len(chunk) or a < cs - self.size:
            return None
        pad = max(0, -a)
        a = max(a, 0)
        parts = [np.zeros(pad, np.float32)] if pad else []
        if a < cs:
            lo = a % self.size
            n = min(b, cs) - a
            first = min(n, self.size - lo)
            parts.append(self.ring[lo:lo + first])
            if n > first:
                parts.append(self.ring[:n - first])
        if b > cs:
            parts.append(chunk[max(a, cs) - cs:b - cs])
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()

    def push(self, chunk: np.ndarray) -> None:
        n = len(chunk)
        if n >= self.size:
            chunk = chunk[n - self.size:]
            self.end += n - self.size
            n = self.size
        lo = self.end % self.size
        first = min(n, self.size - lo)
        self.ring[lo:lo + first] = chunk[:first]
        if n > first:
            self.ring[:n - first] = chunk[first:]
        self.end += n


class AX25Deframer(Deframer):
    """Soft symbols -> [G3RUH descrambler] -> NRZI -> HDLC -> AX.25 frames, with soft repair.

    ``keep_invalid``: also return frames failing the CRC (``crc_ok=False``)
    that repair could not save. ``check_repaired_header``: accept a repaired
    frame only with a well-formed address field (see the module doc).
    ``stats`` counts frames found, repaired, failed and repair work.
    """

    def __init__(self, g3ruh: bool = False, repair_flips: int = DEFAULT_REPAIR_FLIPS,
                 repair_candidates: int = DEFAULT_REPAIR_CANDIDATES, keep_invalid: bool = False,
                 check_repaired_header: bool = True):
        for name, v, hi in (("repair_flips", repair_flips, MAX_REPAIR_FLIPS),
                            ("repair_candidates", repair_candidates, MAX_REPAIR_CANDIDATES)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                raise InputError(f"AX.25 {name} must be an integer 0..{hi}, not {v!r}")
        self.g3ruh = bool(g3ruh)
        self.repair_flips = repair_flips if repair_candidates > 0 else 0
        self.repair_candidates = repair_candidates
        self.keep_invalid = bool(keep_invalid)
        self.check_repaired_header = bool(check_repaired_header)
        self.min_bytes = MIN_FRAME_BYTES + FCS_BYTES
        self.max_bytes = MAX_FRAME_BYTES + FCS_BYTES
        self._kernel = hdlc.HdlcDecoder(self.g3ruh, self.min_bytes, self.max_bytes,
                                        emit_bad=self.repair_flips > 0 or self.keep_invalid)
        # the longest span repair looks at: two stuffed frames (a frame split
        # by a false flag) and the symbols the descrambler needs before it
        self._max_span = 2 * ((self.max_bytes * 8 * 6) // 5 + 16)
        self._hist = _SoftHistory(self._max_span + hdlc.SPAN_MARGIN)
        self._repairer = (hdlc.Repairer(self.g3ruh, self.repair_flips, self.repair_candidates,
                                        self.min_bytes, self.max_bytes)
                          if self.repair_flips else None)
        self._last_end = -1
        self.stats = {"frames": 0, "repaired": 0, "crc_failed": 0, "repair_spans": 0}

    def process(self, soft: np.ndarray) -> list[Frame]:
        x = np.ascontiguousarray(soft, dtype=np.float32).reshape(-1)
        frames = []
        for data, start, end, status, alt, alt2 in self._kernel.process(x):
            fr = self._take(x, data, start, end, status, (alt, alt2))
            if fr is not None:
                frames.append(fr)
        self._hist.push(x)
        return frames

    def _take(self, chunk, data, start, end, status, alts) -> Frame | None:
        if status == hdlc.STATUS_OK:
            self._last_end = end
            self.stats["frames"] += 1
            return self._frame(data[:-FCS_BYTES], end, True)
        if self.repair_flips:
            # the segment itself, then across the one or two false flags/aborts
            # before it (never reaching back into a frame already delivered)
            spans = [start] if status != hdlc.STATUS_SHORT else []
            spans += [a for a in alts if a >= 0 and a >= self._last_end]
            for s in spans:
                got = self._repair(chunk, s, end)
                if got is not None:
                    self._last_end = end
                    self.stats["frames"] += 1
                    self.stats["repaired"] += 1
                    return self._frame(got[0][:-FCS_BYTES], end, True, repaired=got[1])
        if status == hdlc.STATUS_CRC:
            self.stats["crc_failed"] += 1
            if self.keep_invalid:
                return self._frame(data[:-FCS_BYTES], end, False)
        return None

    def _repair(self, chunk, s: int, end: int):
        if end - s > self._max_span:
            return None
        lo = s - hdlc.SPAN_MARGIN
        span = self._hist.span(lo, end, chunk)
        if span is None:
            return None
        self.stats["repair_spans"] += 1
        accept = plausible_header if self.check_repaired_header else None
        return self._repairer.repair(span, s - lo, end - lo, accept)

    def _frame(self, data: bytes, end: int, ok: bool, repaired: int = 0) -> Frame:
        meta = {}
        hdr = parse_header(data)
        if hdr is not None:
            meta["ax25"] = hdr
        return Frame(data=bytes(data), end_symbol=int(end), crc_ok=ok,
                     repaired_bits=int(repaired), meta=meta)


# --- framer -------------------------------------------------------------------------------

class AX25Framer(Framer):
    """AX.25 frame (without FCS) -> channel bits; line-coding state carries across frames.

    ``preamble_flags`` flags go before each frame (the receiver's clock and,
    with G3RUH, the descrambler settle on them), ``postamble_flags`` after
    it (the first of them closes the frame).
    """

    def __init__(self, g3ruh: bool = False, preamble_flags: int = 16, postamble_flags: int = 4):
        if preamble_flags < 1 or postamble_flags < 1:
            raise InputError("AX.25 needs at least one flag before and after a frame")
        self.g3ruh = bool(g3ruh)
        self.preamble_flags = int(preamble_flags)
        self.postamble_flags = int(postamble_flags)
        self._enc = hdlc.HdlcEncoder(self.g3ruh)

    def frame(self, payload: bytes) -> np.ndarray:
        if not MIN_FRAME_BYTES <= len(payload) <= MAX_FRAME_BYTES:
            raise InputError(f"AX.25 frame of {len(payload)} bytes: must be "
                             f"{MIN_FRAME_BYTES}..{MAX_FRAME_BYTES} (without FCS)")
        return self._enc.encode(hdlc.append_fcs(payload), self.preamble_flags,
                                self.postamble_flags)


# --- registration -----------------------------------------------------------------------

def _framer_factory(g3ruh: bool):
    def make(preamble_flags: int = 16, postamble_flags: int = 4, **deframer_options) -> AX25Framer:
        # the catalog options are the deframer's: the framer has no use for them
        unknown = set(deframer_options) - set(OPTIONS)
        if unknown:
            raise InputError(f"unknown AX.25 framer option(s): {', '.join(sorted(unknown))}")
        return AX25Framer(g3ruh, preamble_flags, postamble_flags)
    return make


OPTIONS = {
    "repair_flips": Option(int, DEFAULT_REPAIR_FLIPS, tuple(range(MAX_REPAIR_FLIPS + 1)),
                           "soft repair: most channel bits flipped to make a failed CRC pass (0: off)"),
    "repair_candidates": Option(int, DEFAULT_REPAIR_CANDIDATES,
                                tuple(range(MAX_REPAIR_CANDIDATES + 1)),
                                "soft repair: how many of the weakest channel bits may be flipped"),
}

register(FramingSpec(
    name="AX.25",
    description="AX.25 in HDLC frames with NRZI line coding (1200 baud AFSK, BPSK, FSK)",
    deframer=functools.partial(AX25Deframer, False),
    framer=_framer_factory(False),
    options=OPTIONS,
    module=__name__,
))
register(FramingSpec(
    name="AX.25 G3RUH",
    description="AX.25 in HDLC frames, NRZI and the G3RUH x^17+x^12+1 scrambler (9600 baud FSK)",
    deframer=functools.partial(AX25Deframer, True),
    framer=_framer_factory(True),
    options=OPTIONS,
    module=__name__,
))
