"""KISS framing (the TNC protocol): frames to a byte stream and back.

FEND (0xC0) delimits frames; FEND and FESC inside a frame are escaped as
FESC TFEND and FESC TFESC. The first byte of a frame is the command: port in
the high nibble, command in the low nibble (0 = data).
"""
from __future__ import annotations

FEND, FESC, TFEND, TFESC = 0xC0, 0xDB, 0xDC, 0xDD
CMD_DATA = 0x00

_ESC = {FEND: bytes((FESC, TFEND)), FESC: bytes((FESC, TFESC))}


def encode(data: bytes, port: int = 0, command: int = CMD_DATA) -> bytes:
    """One KISS frame (with leading and trailing FEND)."""
    if not 0 <= port <= 15 or not 0 <= command <= 15:
        raise ValueError("KISS port and command must be 0..15")
    body = bytes(((port << 4) | command,)) + bytes(data)
    out = bytearray((FEND,))
    for b in body:
        out += _ESC.get(b, bytes((b,)))
    out.append(FEND)
    return bytes(out)


class Decoder:
    """Incremental KISS decoder: feed bytes, get (port, command, data) tuples.

    A bad escape drops the frame it is in; bytes before the first FEND are
    ignored; an over-long frame is dropped. ``errors`` counts dropped frames.
    """

    def __init__(self, max_len: int = 65536):
        self.max_len = max_len
        self._buf = bytearray()
        self._in_frame = False
        self._esc = False
        self._bad = False
        self.errors = 0

    def feed(self, chunk: bytes) -> list[tuple[int, int, bytes]]:
        out = []
        for b in chunk:
            if b == FEND:
                if self._in_frame and self._buf and not self._bad and not self._esc:
                    cmd = self._buf[0]
                    out.append((cmd >> 4, cmd & 0x0F, bytes(self._buf[1:])))
                elif self._in_frame and (self._bad or self._esc):
                    self.errors += 1
                self._in_frame = True
                self._buf.clear()
                self._esc = self._bad = False
                continue
            if not self._in_frame or self._bad:
                continue
            if self._esc:
                self._esc = False
                if b == TFEND:
                    b = FEND
                elif b == TFESC:
                    b = FESC
                else:
                    self._bad = True
                    continue
            elif b == FESC:
                self._esc = True
                continue
            if len(self._buf) >= self.max_len:
                self._bad = True
                continue
            self._buf.append(b)
        return out


def decode(stream: bytes) -> list[bytes]:
    """All data frames (command 0, any port) in a complete byte stream."""
    return [d for _, cmd, d in Decoder().feed(stream) if cmd == CMD_DATA]
