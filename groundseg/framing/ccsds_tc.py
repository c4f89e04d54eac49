"""The "CCSDS TC" framing: TC transfer frames in BCH-coded CLTUs, for the uplink and its monitoring.

Framer (payload = one complete TC transfer frame, ``tc.TcFrame.encode()``):
``acquisition_octets`` octets of ``55`` (alternating bits for the
receiver's bit synchroniser), the CLTU (start sequence, BCH codeblocks,
tail), ``idle_octets`` of ``55``; NRZ-L channel bits, MSB first.

Deframer (the receive chain decodes our own uplink, e.g. in the loopback
test or from a monitoring receiver): hard decisions from the soft symbols,
search for the start sequence ``EB90`` in both polarities (BPSK phase
ambiguity), then codeblocks are BCH-decoded (one bit corrected each) until
the tail sequence or an uncorrectable codeblock. The decoded octets are
derandomised and parsed as a TC transfer frame; a frame is delivered when
its length field fits what was decoded: ``Frame.data`` is the transfer
frame without its FECF (like AX.25 without FCS), ``crc_ok`` the FECF
check, ``corrected`` the bits the BCH code corrected, ``meta["tc"]``
``{scid, vcid, seq, bypass, control}``.

Options (both): ``randomize`` (1, default, or 0), ``fecf`` (1 or 0: the
frames carry a FECF); framer only: ``acquisition_octets`` (default 16),
``idle_octets`` (default 4).

One module of the framing registry like every other (``load_all`` finds
it); the TC transfer frame and the CLTU coding it uses are in
``groundseg.uplink.tc``.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..uplink import tc
from .base import Deframer, Frame, Framer, FramingSpec, Option
from . import register

NAME = "CCSDS TC"
_START = int.from_bytes(tc.START_SEQUENCE, "big")
_START_INV = _START ^ 0xFFFF
_MAX_CLTU_BITS = 16 + 8 * (tc.MAX_FRAME_OCTETS // tc.INFO_OCTETS + 2) * 8 + 64
_W16 = (1 << np.arange(15, -1, -1)).astype(np.int64)


def _bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes(data), np.uint8))


class CltuFramer(Framer):
    def __init__(self, randomize: int = 1, fecf: int = 1, acquisition_octets: int = 16, idle_octets: int = 4):
        if acquisition_octets < 2 or idle_octets < 0:
            raise InputError("CCSDS TC: at least 2 acquisition octets and no negative idle octets")
        self.randomize, self.fecf = bool(randomize), bool(fecf)
        self.acq, self.idle = int(acquisition_octets), int(idle_octets)

    def frame(self, payload: bytes) -> np.ndarray:
        tc.parse_tc_frame(payload, self.fecf)  # a malformed transfer frame is refused here
        cltu = tc.cltu_encode(payload, self.randomize)
        return _bits(bytes([tc.FILL_OCTET]) * self.acq + cltu + bytes([tc.FILL_OCTET]) * self.idle)


class CltuDeframer(Deframer):
    def __init__(self, randomize: int = 1, fecf: int = 1, **_framer_only):
        self.randomize, self.fecf = bool(randomize), bool(fecf)
        self._buf = np.zeros(0, np.uint8)   # hard bits not yet consumed
        self._base = 0                      # symbol index of _buf[0]

    def process(self, soft: np.ndarray) -> list[Frame]:
        s = np.asarray(soft, np.float32)
        if s.size == 0:
            return []
        self._buf = np.concatenate([self._buf, (s > 0).astype(np.uint8)])
        return self._scan(final=False)

    def flush(self) -> list[Frame]:
        return self._scan(final=True)

    def _scan(self, final: bool) -> list[Frame]:
        out: list[Frame] = []
        pos = 0
        buf = self._buf
        while buf.size - pos >= 16:
            win = np.lib.stride_tricks.sliding_window_view(buf[pos:], 16)
            vals = win.astype(np.int64) @ _W16
            hits = np.flatnonzero((vals == _START) | (vals == _START_INV))
            if hits.size == 0:
                pos = buf.size - 15
                break
            i = pos + int(hits[0])
            inverted = int(vals[hits[0]]) == _START_INV
            fr, used, need_more = self._decode_at(buf, i, inverted, final)
            if need_more:
                pos = i
                break
            if fr is not None:
                out.append(fr)
                pos = i + used
            else:
                pos = i + 1
        keep_from = min(pos, buf.size)
        if buf.size - keep_from > _MAX_CLTU_BITS * 2:   # bounded: never more than two CLTUs of history
            keep_from = buf.size - _MAX_CLTU_BITS * 2
        self._base += keep_from
        self._buf = buf[keep_from:].copy()
        return out

    def _decode_at(self, buf, i, inverted, final):
        """(frame or None, bits used, need more bits)."""
        start = i + 16
        nblocks = (buf.size - start) // 64
        bits = buf[start:start + nblocks * 64]
        if inverted:
            bits = 1 - bits
        octets = np.packbits(bits).tobytes()
        tail_seen = False
        for k in range(0, len(octets), 8):
            blk = octets[k:k + 8]
            if blk == tc.TAIL_SEQUENCE:
                tail_seen = True
                octets = octets[:k + 8]
                break
            if tc.bch_decode(blk)[0] is None:
                octets = octets[:k + 8]
                tail_seen = True   # an uncorrectable codeblock ends the CLTU as well
                break
        if not tail_seen and not final and nblocks * 64 < _MAX_CLTU_BITS:
            return None, 0, True
        res = tc.cltu_decode(octets, self.randomize)
        try:
            frame, ok = tc.parse_tc_frame(res.data, self.fecf)
        except InputError:
            return None, 0, False
        n = tc.HEADER_OCTETS + len(frame.data)
        end_symbol = self._base + start + len(octets) * 8
        meta = {"tc": {"scid": frame.scid, "vcid": frame.vcid, "seq": frame.seq, "bypass": frame.bypass,
                       "control": frame.control}}
        return Frame(data=res.data[:n], end_symbol=int(end_symbol), crc_ok=ok if self.fecf else None,
                     corrected=res.corrected, inverted=inverted, meta=meta), 16 + len(octets) * 8, False


OPTIONS = {
    "randomize": Option(int, 1, (0, 1), "TC randomiser on (1) or off (0)"),
    "fecf": Option(int, 1, (0, 1), "transfer frames carry a frame error control field"),
    "acquisition_octets": Option(int, 16, tuple(range(2, 257)), "framer: 55 octets before each CLTU"),
    "idle_octets": Option(int, 4, tuple(range(0, 257)), "framer: 55 octets after each CLTU"),
}

register(FramingSpec(name=NAME, description="CCSDS TC transfer frames in BCH(63,56) CLTUs (uplink)",
                     deframer=CltuDeframer, framer=CltuFramer, options=OPTIONS, module=__name__))
