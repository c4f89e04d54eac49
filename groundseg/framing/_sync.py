"""Shared machinery for framings that start with a sync word (ASM, preamble+sync).

``SyncDeframer`` turns the streaming soft-symbol contract into calls of one
method per candidate frame: it keeps a rolling buffer, finds every position
where the sync word correlates with at most ``max_sync_errors`` bit errors (in
either polarity when ``allow_inverted``), waits until the whole frame after
the sync is buffered, and calls ``decode_frame`` with the frame's soft symbols,
polarity already undone. Subclasses say how long a frame is (fixed, or read
from a header with ``frame_symbols``) and how to decode it.
"""
from __future__ import annotations

import numpy as np

from .base import Deframer, Frame


def bits_from_int(value: int, nbits: int) -> np.ndarray:
    """MSB-first bits of ``value``."""
    return np.array([(value >> (nbits - 1 - i)) & 1 for i in range(nbits)], dtype=np.uint8)


def bits_from_bytes(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))


def sync_hits(hard_pm: np.ndarray, sync_pm: np.ndarray, max_errors: int,
              allow_inverted: bool) -> tuple[np.ndarray, np.ndarray]:
    """Positions where ``sync_pm`` (+-1) matches ``hard_pm`` (+-1) with <= max_errors.

    Returns (start indices, inverted flags). ``hard_pm`` must be float32 +-1.
    """
    n = len(sync_pm)
    if len(hard_pm) < n:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    corr = np.correlate(hard_pm, sync_pm.astype(np.float32), mode="valid")
    need = n - 2 * max_errors
    if allow_inverted:
        idx = np.flatnonzero(np.abs(corr) >= need)
        return idx, corr[idx] < 0
    idx = np.flatnonzero(corr >= need)
    return idx, np.zeros(len(idx), bool)


class SyncDeframer(Deframer):
    """Base class: sync word search + buffering; subclasses decode frames.

    Subclass attributes / methods:

    * ``sync_bits``: uint8 0/1 array, the sync word as transmitted.
    * ``max_sync_errors``: bit errors tolerated in the sync word.
    * ``allow_inverted``: also accept the inverted sync word (polarity flip).
    * ``max_frame_symbols``: upper bound of symbols after the sync (buffer size).
    * ``frame_symbols(head)``: symbols after the sync this frame needs, given
      the first symbols after the sync (as many as are buffered); return None
      when more are needed to tell, 0 to reject the candidate.
    * ``decode_frame(soft, start_symbol)``: soft symbols after the sync (len as
      announced), polarity undone; return a ``Frame`` (or a list) or None.
      ``end_symbol`` is filled in by the base class: the end of the announced
      length, or, when the subclass set ``end_symbol`` to a positive number
      (a frame shorter than announced, e.g. one of several length
      candidates), that many symbols after the sync.
    * ``sync_errors``, ``sync_inverted``: set by the base class while
      ``decode_frame`` runs: the bit errors (hard decisions) of this
      candidate's sync word, and whether it was found inverted.
    * ``expect(start, inverted=None)`` (to call from ``decode_frame``):
      flywheel, decode a candidate at ``start`` (the symbol after where the
      next sync word should end; polarity: the current candidate's unless
      given) even if the sync word is not found there. While it is decoded
      ``flywheel`` is True (unless the sync word was found there after all)
      and ``sync_errors`` counts the errors of whatever stands in the sync
      word's place. Frames come out in the order of their ends.
    * ``decode_short_at_end``: when True, a candidate still waiting for
      symbols at ``flush`` is passed to ``decode_frame`` with what there is
      (for frames whose announced length is only an upper bound).
    """

    sync_bits: np.ndarray = np.zeros(0, np.uint8)
    max_sync_errors: int = 3
    allow_inverted: bool = True
    max_frame_symbols: int = 0
    decode_short_at_end: bool = False
    sync_errors: int = 0
    sync_inverted: bool = False
    flywheel: bool = False

    def __init__(self) -> None:
        self._sync_pm = (2.0 * self.sync_bits.astype(np.float32) - 1.0)
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0          # absolute index of _buf[0]
        self._searched = 0           # absolute index up to which sync starts were searched
        # (absolute index after the sync, inverted, sync word bit errors)
        self._pending: list[tuple[int, bool, int]] = []
        self._expected: list[tuple[int, bool]] = []   # flywheel candidates asked for
        self._flywheel_starts: set[int] = set()
        self._decided: list[int] = []                 # recent candidate starts already decoded

    def expect(self, start: int, inverted: bool | None = None) -> None:
        """Flywheel: also decode a candidate at ``start`` (see the class docstring)."""
        inv = self.sync_inverted if inverted is None else bool(inverted)
        self._expected.append((int(start), inv))

    # -- to override ------------------------------------------------------
    def frame_symbols(self, head: np.ndarray) -> int | None:
        return self.max_frame_symbols

    def decode_frame(self, soft: np.ndarray, start_symbol: int):
        raise NotImplementedError

    # -- streaming --------------------------------------------------------
    def process(self, soft: np.ndarray) -> list[Frame]:
        soft = np.asarray(soft, dtype=np.float32)
        if soft.size:
            self._buf = np.concatenate([self._buf, soft]) if self._buf.size else soft.copy()
        return self._run(final=False)

    def flush(self) -> list[Frame]:
        return self._run(final=True)

    def _run(self, final: bool) -> list[Frame]:
        out: list[Frame] = []
        n_sync = len(self.sync_bits)
        buf_end = self._buf_start + len(self._buf)
        # search sync starts in [self._searched, buf_end - n_sync]
        lo = self._searched - self._buf_start
        seg = self._buf[lo:]
        if len(seg) >= n_sync:
            hard = np.where(seg > 0, 1.0, -1.0).astype(np.float32)
            idx, inv = sync_hits(hard, self._sync_pm, self.max_sync_errors, self.allow_inverted)
            if len(idx):
                corr = np.lib.stride_tricks.sliding_window_view(hard, n_sync)[idx] @ self._sync_pm
                errs = ((n_sync - np.abs(corr)) // 2).astype(int)
            else:
                errs = np.zeros(0, int)
            base = self._searched
            for i, v, e in zip(idx.tolist(), inv.tolist(), errs.tolist()):
                if v and not self.allow_inverted:
                    continue
                start = base + i + n_sync
                if start in self._flywheel_starts and (start, bool(v)) in \
                        {(c[0], c[1]) for c in self._pending}:
                    # the sync word is there after all: not a flywheel candidate any more
                    self._flywheel_starts.discard(start)
                    self._pending = [c for c in self._pending if c[0] != start]
                self._pending.append((start, bool(v), int(e)))
            self._searched = buf_end - n_sync + 1
        keep_from = self._searched
        still: list[tuple[int, bool, int]] = []
        todo = self._pending
        while todo:
            keep_from = self._decode_pending(todo, still, out, keep_from, final, buf_end)
            todo = self._take_expected(still, buf_end)
        self._pending = still
        out.sort(key=lambda f: f.end_symbol)
        # trim the buffer: keep what pending frames and the next search need
        keep_from = min(keep_from, max(self._buf_start, buf_end - n_sync + 1))
        cut = keep_from - self._buf_start
        if cut > 0:
            self._buf = self._buf[cut:]
            self._buf_start = keep_from
        return out

    def _take_expected(self, still, buf_end: int) -> list[tuple[int, bool, int]]:
        """Flywheel candidates not already found by correlation or decoded."""
        n_sync = len(self.sync_bits)
        new = []
        known = set(self._decided) | {c[0] for c in still}
        for start, inv in self._expected:
            if start in known or start - n_sync < self._buf_start:
                continue
            known.add(start)
            self._flywheel_starts.add(start)
            new.append((start, inv, n_sync))
        self._expected = []
        if len(self._flywheel_starts) > 64:      # forget the ones dropped without decoding
            self._flywheel_starts = {st for st in self._flywheel_starts
                                     if st - n_sync >= self._buf_start}
        return new

    def _decode_pending(self, todo, still, out, keep_from: int, final: bool, buf_end: int) -> int:
        n_sync = len(self.sync_bits)
        for start, inv, errs in todo:
            # a flywheel candidate keeps its sync word's place in the buffer
            keep = start - n_sync if start in self._flywheel_starts else start
            avail = buf_end - start
            head = self._buf[start - self._buf_start:]
            if inv:
                head = -head
            need = self.frame_symbols(head)
            if need is None:
                if final:
                    continue
                still.append((start, inv, errs))
                keep_from = min(keep_from, keep)
                continue
            if need <= 0:
                continue
            if avail < need:
                if not final:
                    still.append((start, inv, errs))
                    keep_from = min(keep_from, keep)
                    continue
                if not self.decode_short_at_end or avail <= 0:
                    continue
                need = avail
            block = head[:need]
            self.flywheel = start in self._flywheel_starts
            if self.flywheel:
                self._flywheel_starts.discard(start)
                seg = self._buf[max(0, keep - self._buf_start):start - self._buf_start]
                if len(seg) == n_sync:
                    corr = float(np.where(seg > 0, 1.0, -1.0).astype(np.float32) @ self._sync_pm)
                    errs = int((n_sync + corr) // 2 if inv else (n_sync - corr) // 2)
            self.sync_errors = errs
            self.sync_inverted = inv
            self._decided = (self._decided + [start])[-64:]
            try:
                res = self.decode_frame(np.ascontiguousarray(block), start)
            except (ValueError, IndexError, OverflowError):
                # a malformed candidate is just not a frame
                res = None
            for fr in ([] if res is None else res if isinstance(res, list) else [res]):
                used = int(fr.end_symbol) if 0 < fr.end_symbol <= need else need
                fr.end_symbol = start + used
                fr.inverted = fr.inverted or inv
                out.append(fr)
        return keep_from


def hard_bits(soft: np.ndarray) -> np.ndarray:
    return (np.asarray(soft) > 0).astype(np.uint8)


def soft_to_bytes(soft: np.ndarray) -> bytes:
    """Hard decisions, MSB first, packed (len must be a multiple of 8)."""
    return np.packbits(hard_bits(soft)).tobytes()
