"""CRC reference (bit by bit): the definition the table-driven kernel (crc.pyx) is tested against.

A CRC is described by the usual "Rocksoft" parameters (:class:`CrcSpec`):
``width`` (8, 16 or 32; any 1..32 works here), ``poly`` (normal form, without
the top bit), ``init``, ``refin`` (bytes enter LSB first), ``refout`` (the
register is reflected before ``xorout``), ``xorout``, and ``check`` (the CRC of
the ASCII bytes ``b"123456789"``, used by the tests).

Public API (identical in ``crc.pyx``; use it through ``groundseg.dsp.fec``)::

    CrcSpec(name, width, poly, init, refin, refout, xorout, check)
    PRESETS: dict[str, CrcSpec]        # "crc16_x25", "crc16_ccitt_false", "crc32", "crc32c"
    CRC16_X25, CRC16_CCITT_FALSE, CRC32, CRC32C   # the presets as constants
    get_spec(spec: CrcSpec | str) -> CrcSpec       # a preset by name (InputError if unknown)
    crc(data, spec: CrcSpec | str) -> int          # data: bytes, bytearray, memoryview or uint8 array
    class Crc(spec):                               # reusable engine (tables built once)
        .spec
        .compute(data) -> int
        .check(data_with_crc, byteorder) -> bool   # data followed by its CRC in `byteorder`
    crc16_x25(data) -> int       # AX.25 FCS (sent LSB first: value.to_bytes(2, "little"))
    crc16_ccitt_false(data) -> int   # CCSDS TM/TC frame error control field (big endian)
    crc32(data) -> int           # IEEE 802.3 / zlib
    crc32c(data) -> int          # Castagnoli, CSP's CRC (appended big endian by CSP 1.x)

The returned value is the final CRC as an int; how it is placed in a frame
(byte order) is the framing's business, except in :meth:`Crc.check`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = [
    "CrcSpec", "PRESETS", "CRC16_X25", "CRC16_CCITT_FALSE", "CRC32", "CRC32C",
    "get_spec", "crc", "Crc", "crc16_x25", "crc16_ccitt_false", "crc32", "crc32c",
    "as_u8",
]


@dataclass(frozen=True)
class CrcSpec:
    """Rocksoft-model description of a CRC (see the module docstring)."""

    name: str
    width: int
    poly: int
    init: int
    refin: bool
    refout: bool
    xorout: int
    check: int

    def __post_init__(self):
        if not 1 <= self.width <= 32:
            raise InputError(f"CRC {self.name}: width must be 1..32, got {self.width}")
        top = (1 << self.width) - 1
        for field in ("poly", "init", "xorout", "check"):
            v = getattr(self, field)
            if not 0 <= v <= top:
                raise InputError(f"CRC {self.name}: {field}=0x{v:x} does not fit {self.width} bits")


CRC16_X25 = CrcSpec("crc16_x25", 16, 0x1021, 0xFFFF, True, True, 0xFFFF, 0x906E)
CRC16_CCITT_FALSE = CrcSpec("crc16_ccitt_false", 16, 0x1021, 0xFFFF, False, False, 0x0000, 0x29B1)
CRC32 = CrcSpec("crc32", 32, 0x04C11DB7, 0xFFFFFFFF, True, True, 0xFFFFFFFF, 0xCBF43926)
CRC32C = CrcSpec("crc32c", 32, 0x1EDC6F41, 0xFFFFFFFF, True, True, 0xFFFFFFFF, 0xE3069283)

PRESETS: dict[str, CrcSpec] = {s.name: s for s in (CRC16_X25, CRC16_CCITT_FALSE, CRC32, CRC32C)}


def get_spec(spec: CrcSpec | str) -> CrcSpec:
    if isinstance(spec, CrcSpec):
        return spec
    try:
        return PRESETS[spec]
    except KeyError:
        raise InputError(f"unknown CRC {spec!r} (known: {', '.join(PRESETS)})") from None


def as_u8(data) -> np.ndarray:
    """bytes-like or integer array -> contiguous uint8 array (no copy when possible)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            if data.size and (data.min() < 0 or data.max() > 255):
                raise InputError("byte array values must be 0..255")
            data = data.astype(np.uint8)
        return np.ascontiguousarray(data.reshape(-1))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(data) if isinstance(data, memoryview) else data, dtype=np.uint8)
    raise InputError(f"expected bytes or a uint8 array, got {type(data).__name__}")


def _reflect(value: int, nbits: int) -> int:
    out = 0
    for _ in range(nbits):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


def crc(data, spec: CrcSpec | str) -> int:
    """CRC of ``data`` by the bit-serial definition (slow, obviously right)."""
    s = get_spec(spec)
    w = s.width
    mask = (1 << w) - 1
    top = 1 << (w - 1)
    reg = s.init
    for byte in as_u8(data).tolist():
        if s.refin:
            byte = _reflect(byte, 8)
        for i in range(7, -1, -1):
            bit = (byte >> i) & 1
            fb = ((reg & top) != 0) ^ bit
            reg = (reg << 1) & mask
            if fb:
                reg ^= s.poly
    if s.refout:
        reg = _reflect(reg, w)
    return reg ^ s.xorout


class Crc:
    """A CRC engine for one spec (the kernel builds its table here)."""

    def __init__(self, spec: CrcSpec | str):
        self.spec = get_spec(spec)

    def compute(self, data) -> int:
        return crc(data, self.spec)

    def check(self, data_with_crc, byteorder: str = "big") -> bool:
        """True when the last width/8 bytes are the CRC of the bytes before them."""
        buf = as_u8(data_with_crc)
        nb = (self.spec.width + 7) // 8
        if buf.size < nb:
            return False
        got = int.from_bytes(buf[-nb:].tobytes(), byteorder)
        return self.compute(buf[:-nb]) == got


def crc16_x25(data) -> int:
    return crc(data, CRC16_X25)


def crc16_ccitt_false(data) -> int:
    return crc(data, CRC16_CCITT_FALSE)


def crc32(data) -> int:
    return crc(data, CRC32)


def crc32c(data) -> int:
    return crc(data, CRC32C)
