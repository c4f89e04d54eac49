"""Soft-symbol helpers shared by the satellite-specific framings (private).

Used by ``tcat1``, ``reaktor``, ``astrocast``, ``snet``, ``swiatowid``,
``aausat4`` and ``opssat``:

* bytes from soft symbols, MSB or LSB first on the air, with a reliability
  per byte (the smallest |soft| of its bits);
* the CC1101/CC112x/Si446x PN9 whitening sequence as channel bits, to undo it
  on soft symbols (the chips send bytes MSB first and XOR them with the PN9
  bytes ``FF E1 1D 9A ED 85 ...``: ``fec.pn9_whiten``);
* Reed-Solomon decoding with errors-and-erasures retries on the least
  reliable bytes, for any ``fec.ReedSolomon`` code;
* soft repair of a CRC-protected block: flip combinations of the weakest
  channel bits until a check passes (cheapest combination first).
"""
from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Callable

import numpy as np

from ..dsp import fec


def soft_bytes(soft: np.ndarray, lsb_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(hard bytes, reliability per byte); ``len(soft)`` must be a multiple of 8.

    ``lsb_first``: each byte was sent least significant bit first.
    """
    s = np.asarray(soft, dtype=np.float32).reshape(-1, 8)
    if lsb_first:
        s = s[:, ::-1]
    hard = np.packbits((s > 0).astype(np.uint8), axis=1).reshape(-1)
    return hard, np.abs(s).min(axis=1)


def bits_of(data: bytes, lsb_first: bool = False) -> np.ndarray:
    """Channel bits (uint8 0/1) of ``data``, each byte MSB or LSB first."""
    b = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))
    if lsb_first:
        b = b.reshape(-1, 8)[:, ::-1].reshape(-1)
    return np.ascontiguousarray(b)


@lru_cache(maxsize=4)
def _pn9_bits(n_bytes: int) -> np.ndarray:
    seq = fec.pn9_whiten(np.zeros(n_bytes, dtype=np.uint8))
    return np.unpackbits(np.asarray(seq, dtype=np.uint8))


def pn9_channel_bits(n_bits: int) -> np.ndarray:
    """The PN9 whitening sequence as it is XORed onto the channel bits (MSB-first bytes)."""
    n_bytes = max(1, -(-int(n_bits) // 8))
    size = 1 << max(8, (n_bytes - 1).bit_length())      # a few cached sizes
    return _pn9_bits(size)[:n_bits]


def pn9_dewhiten_soft(soft: np.ndarray) -> np.ndarray:
    """Undo PN9 whitening on soft symbols that start at the first whitened bit."""
    s = np.asarray(soft, dtype=np.float32)
    seq = pn9_channel_bits(len(s))
    return np.where(seq == 1, -s, s).astype(np.float32)


def rs_decode_soft(rs, codeword: np.ndarray, reliability: np.ndarray | None,
                   trials: tuple[int, ...] = ()) -> tuple[np.ndarray | None, int, int]:
    """Errors-only RS decoding, then retries erasing the ``f`` least reliable bytes.

    Returns ``(data or None, bytes corrected, bytes erased)``; ``data`` has no
    parity. ``trials`` lists the erasure counts to try, in order (each must
    leave room for at least one error: ``f < nroots``).
    """
    nroots = int(rs.nroots) if hasattr(rs, "nroots") else 32
    buf = np.array(codeword, dtype=np.uint8)
    if not nroots < buf.size <= 255:
        return None, -1, 0
    work = buf.copy()
    n = rs.decode_inplace(work)
    if n >= 0:
        return work[:-nroots], int(n), 0
    if reliability is None:
        return None, -1, 0
    order = np.argsort(np.asarray(reliability), kind="stable")
    for f in trials:
        if f >= nroots or f >= buf.size - nroots:
            break
        work = buf.copy()
        n = rs.decode_inplace(work, erasures=np.sort(order[:f]).astype(np.int32))
        if n >= 0:
            return work[:-nroots], int(n), int(f)
    return None, -1, 0


def repair_bits(soft: np.ndarray, check: Callable[[np.ndarray], bool], n_candidates: int = 12,
                max_flips: int = 2, positions: np.ndarray | None = None
                ) -> tuple[np.ndarray, int] | None:
    """Soft repair: the hard bits of ``soft`` with the cheapest set of weak bits flipped.

    Tries every combination of up to ``max_flips`` of the ``n_candidates``
    weakest bits (smallest |soft|; among ``positions`` when given), cheapest
    total |soft| first, and returns ``(bits, n_flipped)`` for the first for
    which ``check(bits)`` is true, or None. ``check`` gets the hard bits
    (uint8 0/1) and must not keep them.
    """
    s = np.asarray(soft, dtype=np.float32)
    hard = (s > 0).astype(np.uint8)
    mag = np.abs(s)
    pos = np.arange(len(s)) if positions is None else np.asarray(positions)
    if not len(pos) or max_flips <= 0 or n_candidates <= 0:
        return None
    weak = pos[np.argsort(mag[pos], kind="stable")[:n_candidates]]
    combos = []
    for k in range(1, max_flips + 1):
        for c in itertools.combinations(weak.tolist(), k):
            combos.append((float(mag[list(c)].sum()), c))
    combos.sort(key=lambda t: t[0])
    for _cost, c in combos:
        trial = hard.copy()
        trial[list(c)] ^= 1
        if check(trial):
            return trial, len(c)
    return None


def crc16_cc11xx() -> "fec.CrcSpec":
    """The CRC-16 of the TI CC11xx/CC112x packet engine (poly 0x8005, init 0xFFFF, MSB first)."""
    return _CC11XX


_CC11XX = fec.CrcSpec("crc16_cc11xx", 16, 0x8005, 0xFFFF, False, False, 0x0000, 0xAEE7)


def check_framer_options(framing: str, options: dict, deframer_options) -> None:
    """Framers get the catalog options too (they are the deframer's): refuse anything else."""
    unknown = set(options) - set(deframer_options) - {"keep_invalid"}
    if unknown:
        from ..errors import InputError
        raise InputError(f"unknown {framing} framer option(s): {', '.join(sorted(unknown))}")
