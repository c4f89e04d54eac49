"""IDEASSat (NCU, Taiwan): "IDEASSat" framing, UART-like bytes between HDLC-style flags.

9600 baud FSK, no scrambler, no preamble. On the air, transmit side (as
reverse-engineered by D. Estevez, "Decoding IDEASSat", 2021, and checked on
the corpus recording)::

    bytes:  7E 7E | 38 bytes | 7E 7E | 38 bytes | 7E 7E ...     (frames back to back)
    each byte -> 10 bits: start bit 0, the 8 data bits MSB first, stop bit 1
    bits -> NRZI (a 0 is a transition, as in AX.25)

so the sync word is the two flags in UART form, ``0 01111110 1 0 01111110 1``
(20 bits), found after NRZI decoding (which also removes the FSK polarity),
and a frame is the 380 bits after it. The 38 bytes look like a home-made
AX.25: ``"BN0CU 0" "BN0IDA0" F0``, a segment number, then telemetry.

There is no CRC. What vouches for a frame is its structure: the 76 start and
stop bits must all be right (``max_uart_errors``, default 0; noise passes
that with probability 2^-76) and the frame must not start with another flag
(where several flags follow each other, the frame starts after the last, so
a frame never starts with 0x7E). ``crc_ok`` is None (no check),
``corrected`` None (no FEC).

The data bytes are UART-framed too, so a flag look-alike inside a frame
(a payload holding 7E 7E, or close to it) passes the start/stop bit test
as well: hence an exact flag pair by default (``max_sync_errors`` = 0 of
the 20 bits), and no frame may start inside one already delivered.
Flywheel: frames follow each other every 400 bits, so after a good frame
the next one is also decoded where its flags should be, even if bit errors
broke them (``meta["flywheel"]``).

Frames delivered: the 38 bytes between flag pairs; ``meta``:
``uart_errors``, ``sync_errors``, ``flywheel``.
"""
from __future__ import annotations

import numpy as np

from ..dsp import fec
from ..errors import InputError
from . import Frame, Framer, FramingSpec, Option, register
from ._sync import SyncDeframer

FLAG = 0x7E
FRAME_BYTES = 38
BITS_PER_BYTE = 10           # start + 8 data + stop


def uart_bits(data: bytes) -> np.ndarray:
    """Bytes -> start bit 0, 8 data bits MSB first, stop bit 1 per byte."""
    d = np.frombuffer(bytes(data), dtype=np.uint8)
    out = np.zeros((len(d), BITS_PER_BYTE), dtype=np.uint8)
    out[:, 1:9] = np.unpackbits(d.reshape(-1, 1), axis=1)
    out[:, 9] = 1
    return out.reshape(-1)


SYNC_BITS = uart_bits(bytes((FLAG, FLAG)))        # 00111111010011111101


class IdeasSatDeframer(SyncDeframer):
    """Soft symbols -> NRZI decoding -> flag pair search -> 38 UART bytes."""

    sync_bits = SYNC_BITS
    allow_inverted = False          # NRZI decoding already removed the polarity

    def __init__(self, frame_bytes: int = FRAME_BYTES, max_sync_errors: int = 0,
                 max_uart_errors: int = 0, flywheel: bool = True, keep_invalid: bool = False):
        for name, v, lo, hi in (("frame_bytes", frame_bytes, 1, 255),
                                ("max_sync_errors", max_sync_errors, 0, 4),
                                ("max_uart_errors", max_uart_errors, 0, 8)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise InputError(f"IDEASSat {name} must be an integer {lo}..{hi}, not {v!r}")
        self.frame_bytes = frame_bytes
        self.max_sync_errors = max_sync_errors
        self.max_uart_errors = max_uart_errors
        self.use_flywheel = bool(flywheel)
        self.keep_invalid = bool(keep_invalid)
        self.max_frame_symbols = BITS_PER_BYTE * frame_bytes
        self._nrzi = fec.DifferentialDecoder(invert=True)
        self._spans: list[tuple[int, int]] = []     # frames delivered (symbol spans)
        super().__init__()

    def process(self, soft: np.ndarray) -> list[Frame]:
        s = np.ascontiguousarray(soft, dtype=np.float32).reshape(-1)
        out = super().process(self._nrzi.decode_soft(s) if s.size else s)
        return sorted(out, key=lambda f: f.end_symbol)    # flywheel frames come in late

    def flush(self) -> list[Frame]:
        return sorted(super().flush(), key=lambda f: f.end_symbol)

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        end = start_symbol + self.max_frame_symbols
        if any(start_symbol < b and a < end for a, b in self._spans):
            return None                       # overlaps a frame already delivered: a flag look-alike
        words = (soft > 0).astype(np.uint8).reshape(self.frame_bytes, BITS_PER_BYTE)
        uart_errors = int(words[:, 0].sum() + (1 - words[:, 9]).sum())
        data = np.packbits(words[:, 1:9]).tobytes()
        if data[0] == FLAG:
            return None                       # another flag follows: the frame starts after it
        ok = uart_errors <= self.max_uart_errors
        if ok:
            self._spans = (self._spans + [(start_symbol, end)])[-8:]
            if self.use_flywheel:
                self.expect(end + len(SYNC_BITS))
        if not ok and not self.keep_invalid:
            return None
        return Frame(data=data, end_symbol=0, crc_ok=None if ok else False,
                     meta={"uart_errors": uart_errors, "sync_errors": int(self.sync_errors),
                           "flywheel": bool(self.flywheel)})


class IdeasSatFramer(Framer):
    """Payload (``frame_bytes`` long) -> flags, UART bytes, flags -> NRZI channel bits."""

    def __init__(self, frame_bytes: int = FRAME_BYTES, **deframer_options):
        unknown = set(deframer_options) - set(OPTIONS)
        if unknown:
            raise InputError(f"unknown IDEASSat framer option(s): {', '.join(sorted(unknown))}")
        if isinstance(frame_bytes, bool) or not isinstance(frame_bytes, int) \
                or not 1 <= frame_bytes <= 255:
            raise InputError(f"IDEASSat frame_bytes must be an integer 1..255, not {frame_bytes!r}")
        self.frame_bytes = frame_bytes
        self._nrzi = fec.DifferentialEncoder(invert=True)

    def _check(self, payload: bytes) -> bytes:
        if len(payload) != self.frame_bytes:
            raise InputError(f"an IDEASSat frame holds exactly {self.frame_bytes} bytes, "
                             f"not {len(payload)}")
        return bytes(payload)

    def frame(self, payload: bytes) -> np.ndarray:
        body = uart_bits(self._check(payload))
        return self._nrzi.encode(np.concatenate([SYNC_BITS, body, SYNC_BITS]))

    def frames(self, payloads: list[bytes], gap_bits: int = 0) -> np.ndarray:
        """Back to back as the satellite sends them: one flag pair between frames."""
        if gap_bits:
            return super().frames(payloads, gap_bits)
        parts = [SYNC_BITS]
        for p in payloads:
            parts += [uart_bits(self._check(p)), SYNC_BITS]
        return self._nrzi.encode(np.concatenate(parts)) if payloads else np.zeros(0, np.uint8)


OPTIONS = {
    "frame_bytes": Option(int, FRAME_BYTES, help="bytes between flag pairs (38 for IDEASSat)"),
    "max_sync_errors": Option(int, 0, tuple(range(5)), "bit errors tolerated in the 20-bit flag pair"),
    "max_uart_errors": Option(int, 0, tuple(range(9)),
                              "wrong start/stop bits tolerated (the only check: no CRC)"),
}

register(FramingSpec(
    name="IDEASSat",
    description="IDEASSat: NRZI, UART-like bytes (start/stop bits) of fixed 38-byte frames "
                "between 0x7E flag pairs; no CRC, checked by the start/stop bits",
    deframer=IdeasSatDeframer,
    framer=IdeasSatFramer,
    options=OPTIONS,
    module=__name__,
))

__all__ = ["IdeasSatDeframer", "IdeasSatFramer", "uart_bits", "SYNC_BITS"]
