"""Extended binary Golay(24,12) code: reference (brute-force nearest codeword).

Layout (as in the GOMspace AX100/NanoCom "ASM+Golay" length field, sent MSB
first right after the sync word): a 24-bit word whose high 12 bits (23..12) are
parity and low 12 bits (11..0) are data. Parity bit ``11 - i`` is the parity of
``GOLAY_B[i] & data``. For the AX100 the data bits are: bits 7..0 frame length
in bytes, plus flag bits above (0x100 convolutional, 0x200 scrambler, 0x400
Reed-Solomon, per public descriptions).

The code has minimum distance 8: up to 3 bit errors are corrected; 4 errors
are detected (no unique nearest codeword), more may decode wrongly.

Public API (identical in ``golay.pyx``; use it through ``groundseg.dsp.fec``)::

    GOLAY_B: tuple[int, ...]                      # the 12 rows of the parity matrix B
    golay24_encode(data12: int) -> int            # 24-bit codeword (parity << 12 | data)
    golay24_decode(word24: int) -> tuple[int, int]
        # (data12, n_errors) with n_errors 0..3 corrected bit errors, or
        # (word24 & 0xFFF, -1) when uncorrectable (4 or more errors)
    golay24_encode_array(data) -> np.uint32 array
    golay24_decode_array(words) -> (np.uint16 data, np.int8 n_errors)
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["GOLAY_B", "golay24_encode", "golay24_decode", "golay24_encode_array",
           "golay24_decode_array", "all_codewords"]

# Rows of B (the code definition; B is symmetric and B*B = I, which the tests check).
GOLAY_B = (0x8ED, 0x1DB, 0x3B5, 0x769, 0xED1, 0xDA3,
           0xB47, 0x68F, 0xD1D, 0xA3B, 0x477, 0xFFE)


def _parity12(data12: int) -> int:
    p = 0
    for i, row in enumerate(GOLAY_B):
        p |= (bin(row & data12).count("1") & 1) << (11 - i)
    return p


def golay24_encode(data12: int) -> int:
    d = int(data12)
    if not 0 <= d <= 0xFFF:
        raise InputError(f"Golay data must be 12 bits, got {data12}")
    return (_parity12(d) << 12) | d


_CODEWORDS: np.ndarray | None = None


def all_codewords() -> np.ndarray:
    """The 4096 codewords indexed by their data (uint32)."""
    global _CODEWORDS
    if _CODEWORDS is None:
        _CODEWORDS = np.array([golay24_encode(d) for d in range(4096)], dtype=np.uint32)
    return _CODEWORDS


def _popcount32(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint32)
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    return ((x * np.uint32(0x01010101)) >> 24).astype(np.int32)


def golay24_decode(word24: int) -> tuple[int, int]:
    w = int(word24)
    if not 0 <= w <= 0xFFFFFF:
        raise InputError(f"Golay word must be 24 bits, got {word24}")
    dist = _popcount32(all_codewords() ^ np.uint32(w))
    best = int(np.argmin(dist))
    d = int(dist[best])
    if d > 3:
        return w & 0xFFF, -1
    return best, d


def golay24_encode_array(data) -> np.ndarray:
    d = np.asarray(data).reshape(-1)
    if d.size and (d.min() < 0 or d.max() > 0xFFF):
        raise InputError("Golay data must be 12-bit values")
    return all_codewords()[d.astype(np.int64)]


def golay24_decode_array(words) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(words).reshape(-1)
    if w.size and (w.min() < 0 or w.max() > 0xFFFFFF):
        raise InputError("Golay words must be 24-bit values")
    data = np.empty(w.size, np.uint16)
    nerr = np.empty(w.size, np.int8)
    for i, x in enumerate(w.tolist()):
        data[i], nerr[i] = golay24_decode(x)
    return data, nerr
