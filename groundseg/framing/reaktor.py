"""Reaktor Hello World: TI CC1125 variable-length packets, PN9 whitening, CRC-16.

On the air (9k6 FSK; public description: Daniel Estévez, "Reaktor Hello
World decoder", December 2018, gr-satellites' ``reaktor_hello_world_deframer``;
checked on the corpus recording)::

    preamble 0xAA.. | sync 0x352E352E | L | L data bytes | CRC-16 (big-endian)
                                       \\____ PN9-whitened, MSB first ______/

``L`` (one byte) counts the data bytes. The CRC is the CC11xx packet
engine's CRC-16 (polynomial 0x8005, initial value 0xFFFF, no reflection, no
final XOR: check value 0xAEE7) over the length byte and the data, sent high
byte first. The whitening is the CC11xx PN9 sequence (x^9 + x^5 + 1,
all-ones seed) over length, data and CRC. No FEC. NRZ, so the sync word
also gives the polarity.

Decoding: the length byte is read from the hard decisions; when the CRC
fails, the lengths obtained by flipping its weakest bit (if it is weak) are
tried too, then soft repair: up to ``repair_flips`` of the
``repair_candidates`` weakest channel bits of the packet are flipped
(cheapest first) until the CRC passes. Each combination lets a wrong packet
through with probability 2^-16, so the default 36 combinations (2 flips
among 8 candidates) cost about 5.5e-4 false packets per failed packet (per
length candidate), for a gain of 2 dB at FER 1e-2 (bench_custom_sensitivity;
12 candidates, 78 combinations, gain no more). On the recording one of the
five packets has a single bit error, in its CRC.

Frames delivered: the L data bytes; ``crc_ok`` True, ``repaired_bits`` the
channel bits flipped, ``meta["length"]``.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._softbits import (check_framer_options, crc16_cc11xx, pn9_channel_bits, pn9_dewhiten_soft,
                        repair_bits)
from ._sync import SyncDeframer, bits_from_bytes, bits_from_int

SYNC = 0x352E352E
PREAMBLE_BYTE = 0xAA
CRC_BYTES = 2
MAX_LENGTH = 255
WEAK_FRACTION = 0.5          # a length bit weaker than this x mean |soft| gets an alternative

_CRC = fec.Crc(crc16_cc11xx())


def packet_ok(packet: bytes) -> bool:
    """Length byte + data + CRC-16 (big-endian) as sent, after dewhitening."""
    return len(packet) >= 1 + CRC_BYTES and _CRC.check(packet, "big")


class ReaktorDeframer(SyncDeframer):
    sync_bits = bits_from_int(SYNC, 32)
    max_frame_symbols = 8 * (1 + MAX_LENGTH + CRC_BYTES)
    decode_short_at_end = True

    def __init__(self, max_sync_errors: int = 4, repair_flips: int = 2,
                 repair_candidates: int = 8, keep_invalid: bool = False) -> None:
        for name, v, hi in (("max_sync_errors", max_sync_errors, 8),
                            ("repair_flips", repair_flips, 3),
                            ("repair_candidates", repair_candidates, 24)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                raise InputError(f"Reaktor Hello World {name} must be an integer 0..{hi}, not {v!r}")
        self.max_sync_errors = max_sync_errors
        self.repair_flips = repair_flips
        self.repair_candidates = repair_candidates
        self.keep_invalid = bool(keep_invalid)
        super().__init__()

    def _lengths(self, soft8: np.ndarray) -> list[int]:
        s = pn9_dewhiten_soft(soft8)
        hard = int(np.packbits((s > 0).astype(np.uint8))[0])
        out = [hard]
        mag = np.abs(s)
        j = int(np.argmin(mag))
        if mag[j] < WEAK_FRACTION * float(mag.mean()):
            out.append(hard ^ (0x80 >> j))
        return [v for v in out if v >= 1]

    def frame_symbols(self, head: np.ndarray) -> int | None:
        if len(head) < 8:
            return None
        lengths = self._lengths(head[:8])
        if not lengths:
            return 0
        return 8 * (1 + max(lengths) + CRC_BYTES)

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        lengths = [n for n in self._lengths(soft[:8]) if 8 * (1 + n + CRC_BYTES) <= len(soft)]
        plain = pn9_dewhiten_soft(soft)
        hard = int(np.packbits((plain[:8] > 0).astype(np.uint8))[0])
        mag = float(np.abs(plain[:8]).mean()) or 1.0
        candidates = []
        for n in lengths:
            # the packet as length candidate n: its length byte at full confidence
            seg = plain[:8 * (1 + n + CRC_BYTES)].copy()
            seg[:8] = mag * (2.0 * bits_from_int(n, 8) - 1.0)
            candidates.append((n, seg))
            pkt = np.packbits((seg > 0).astype(np.uint8)).tobytes()
            if packet_ok(pkt):
                return self._frame(pkt, len(seg), int(n != hard))
        for n, seg in candidates:
            got = repair_bits(seg, lambda bits: packet_ok(np.packbits(bits).tobytes()),
                              self.repair_candidates, self.repair_flips,
                              positions=np.arange(8, len(seg)))
            if got is not None:
                return self._frame(np.packbits(got[0]).tobytes(), len(seg),
                                   got[1] + int(n != hard))
        if self.keep_invalid and candidates:
            n, seg = candidates[0]
            pkt = np.packbits((seg > 0).astype(np.uint8)).tobytes()
            return Frame(data=pkt[1:1 + n], end_symbol=len(seg), crc_ok=False, meta={"length": n})
        return None

    @staticmethod
    def _frame(pkt: bytes, nsym: int, repaired: int) -> Frame:
        n = pkt[0]
        return Frame(data=pkt[1:1 + n], end_symbol=nsym, crc_ok=True, repaired_bits=repaired,
                     meta={"length": n})


class ReaktorFramer(Framer):
    """Payload (1..255 bytes) -> preamble, sync, PN9-whitened length + data + CRC-16."""

    def __init__(self, preamble_bytes: int = 8, **deframer_options) -> None:
        check_framer_options("Reaktor Hello World", deframer_options, _DEFRAMER_OPTIONS)
        if preamble_bytes < 0:
            raise InputError(f"preamble_bytes must be >= 0, not {preamble_bytes}")
        self.preamble_bytes = int(preamble_bytes)

    def frame(self, payload: bytes) -> np.ndarray:
        payload = bytes(payload)
        if not 1 <= len(payload) <= MAX_LENGTH:
            raise InputError(f"Reaktor Hello World payload must be 1..{MAX_LENGTH} bytes, "
                             f"not {len(payload)}")
        body = bytes([len(payload)]) + payload
        body += _CRC.compute(body).to_bytes(2, "big")
        bits = bits_from_bytes(body)
        bits ^= pn9_channel_bits(len(bits))
        head = bits_from_bytes(bytes([PREAMBLE_BYTE]) * self.preamble_bytes + SYNC.to_bytes(4, "big"))
        return np.concatenate([head, bits])


_DEFRAMER_OPTIONS = tuple(inspect.signature(ReaktorDeframer.__init__).parameters)[1:]

register(FramingSpec(
    name="Reaktor Hello World",
    description="Reaktor Hello World: CC1125 packets, sync 0x352E352E, length byte, PN9 "
                "whitening, CRC-16 (0x8005, init 0xFFFF), with soft repair",
    deframer=ReaktorDeframer,
    framer=ReaktorFramer,
    options={"max_sync_errors": Option(int, 4, tuple(range(9)), "sync word bit errors tolerated"),
             "repair_flips": Option(int, 2, (0, 1, 2, 3),
                                    "soft repair: most channel bits flipped (0: off)"),
             "repair_candidates": Option(int, 8, tuple(range(25)),
                                         "soft repair: weakest bits considered")},
    module=__name__,
))

__all__ = ["ReaktorDeframer", "ReaktorFramer", "SYNC", "packet_ok"]
