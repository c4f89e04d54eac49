"""Block interleavers as index permutations (numpy; the work is one fancy-index).

A ``rows x cols`` block interleaver writes the input row by row into a
``rows x cols`` matrix and reads it column by column::

    out[c * rows + r] = in[r * cols + c]

Works on any 1-D array (bits, soft symbols, bytes); ``x.size`` must be
``rows * cols``. The permutation tables are cached per shape.

Public API::

    block_interleave_index(rows, cols) -> np.intp array   # out = x[idx]
    block_deinterleave_index(rows, cols) -> np.intp array # inverse permutation
    block_interleave(x, rows, cols) -> array
    block_deinterleave(x, rows, cols) -> array
    class BlockInterleaver(rows, cols): .interleave(x), .deinterleave(x), .size

Reed-Solomon symbol interleaving (CCSDS depth I) lives with the RS code in
``reedsolomon`` (``ReedSolomon.encode_interleaved`` / ``decode_interleaved``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import InputError

__all__ = ["block_interleave_index", "block_deinterleave_index", "block_interleave",
           "block_deinterleave", "BlockInterleaver"]


def _check(rows: int, cols: int) -> tuple[int, int]:
    rows, cols = int(rows), int(cols)
    if rows < 1 or cols < 1:
        raise InputError(f"interleaver shape must be positive, got {rows}x{cols}")
    return rows, cols


@lru_cache(maxsize=64)
def _index(rows: int, cols: int) -> np.ndarray:
    idx = np.arange(rows * cols, dtype=np.intp).reshape(rows, cols).T.reshape(-1)
    idx.flags.writeable = False
    return idx


@lru_cache(maxsize=64)
def _inverse(rows: int, cols: int) -> np.ndarray:
    fwd = _index(rows, cols)
    inv = np.empty_like(fwd)
    inv[fwd] = np.arange(fwd.size, dtype=np.intp)
    inv.flags.writeable = False
    return inv


def block_interleave_index(rows: int, cols: int) -> np.ndarray:
    return _index(*_check(rows, cols))


def block_deinterleave_index(rows: int, cols: int) -> np.ndarray:
    return _inverse(*_check(rows, cols))


def _apply(x, idx: np.ndarray) -> np.ndarray:
    a = np.asarray(x).reshape(-1)
    if a.size != idx.size:
        raise InputError(f"interleaver of {idx.size} items got {a.size}")
    return a[idx]


def block_interleave(x, rows: int, cols: int) -> np.ndarray:
    return _apply(x, block_interleave_index(rows, cols))


def block_deinterleave(x, rows: int, cols: int) -> np.ndarray:
    return _apply(x, block_deinterleave_index(rows, cols))


class BlockInterleaver:
    """A fixed-shape block interleaver (tables built once)."""

    def __init__(self, rows: int, cols: int):
        self.rows, self.cols = _check(rows, cols)
        self.size = self.rows * self.cols
        self._fwd = _index(self.rows, self.cols)
        self._inv = _inverse(self.rows, self.cols)

    def interleave(self, x) -> np.ndarray:
        return _apply(x, self._fwd)

    def deinterleave(self, x) -> np.ndarray:
        return _apply(x, self._inv)
