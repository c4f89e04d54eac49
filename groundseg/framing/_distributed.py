"""Frame synchronization on a sync vector spread over the frame (AO-40 FEC style).

``DistributedSyncDeframer`` is for fixed-length frames whose sync bits are
not a contiguous word but sit at fixed offsets inside the frame (AO-40 FEC:
one bit every 80 channel symbols, so that a fade cannot take out the sync).
It keeps a rolling buffer of soft symbols and of their hard decisions, and
for every possible frame start ``s`` computes, over the sync positions
``s + offset_i``, the number of disagreeing hard decisions and the soft
correlation score ``z(s) = sum_i sign_i y_i / sqrt(sum_i y_i^2)`` (by adding
shifted slices: a few vector adds per sync bit over each batch of new start
positions). Where there is no sync vector, ``z`` is about N(0, 1) (noise, or
random data at any SNR); at a sync vector it is about ``sqrt(n) A / sqrt(A^2
+ s^2)`` (AO-40, 65 bits at Es/N0 = -1.5 dB: 6.2 +- 0.65). A start with
``z >= min_sync_score`` (default 4.0: 3e-5 false hits per position and
polarity) or at most ``max_sync_errors`` disagreeing bits is a candidate
(the inverted sync vector too, when ``allow_inverted``: ``z <= -4`` or as
many agreements). The soft score misses fewer sync vectors than a bit-error
count with the same false-hit rate, and takes faded symbols (near 0) for
what they are. The whole frame must be buffered before a start can be
tested at all, since its last sync bit is near its end.

Subclasses set ``frame_symbols``, ``sync_offsets`` (int array, positions
inside the frame) and ``sync_bits`` (uint8 0/1, as transmitted) and implement
``decode_frame(soft, start)``: ``soft`` is the frame's soft symbols with the
polarity undone, ``start`` the absolute index of its first symbol; it returns
a ``Frame`` (its ``end_symbol`` is filled in here), or None. Candidates are
decoded in order; once a valid frame is found, candidates overlapping it are
skipped. ``sync_errors`` and ``sync_inverted`` are set while ``decode_frame``
runs.

Cost with no signal: a few vector adds per sync bit and new symbol
position, done in batches of at least ``MIN_BATCH`` positions (latency is
irrelevant: a frame lasts thousands of symbols).
"""
from __future__ import annotations

import numpy as np

from .base import Deframer, Frame

MIN_BATCH = 1024


class DistributedSyncDeframer(Deframer):
    frame_symbols: int = 0
    sync_offsets: np.ndarray = np.zeros(0, np.int64)
    sync_bits: np.ndarray = np.zeros(0, np.uint8)
    max_sync_errors: int = 0
    min_sync_score: float = 4.0
    allow_inverted: bool = True
    keep_invalid: bool = False
    sync_errors: int = 0
    sync_inverted: bool = False

    def __init__(self) -> None:
        self._offsets = np.asarray(self.sync_offsets, np.int64)
        self._pm = (2 * np.asarray(self.sync_bits, np.int16) - 1)
        if len(self._offsets) != len(self._pm) or not len(self._pm) \
                or self._offsets.max() >= self.frame_symbols or self._offsets.min() < 0:
            raise ValueError("sync offsets/bits do not fit the frame")
        self._soft = np.zeros(0, np.float32)
        self._hard = np.zeros(0, np.int8)
        self._start = 0            # absolute index of _soft[0]
        self._searched = 0         # next frame start to test
        self._busy_until = 0       # end of the last valid frame (skip candidates before it)

    def decode_frame(self, soft: np.ndarray, start: int) -> Frame | None:
        raise NotImplementedError

    def process(self, soft: np.ndarray) -> list[Frame]:
        x = np.asarray(soft, dtype=np.float32).ravel()
        if x.size:
            x = np.where(np.isfinite(x), x, np.float32(0.0)).astype(np.float32)
            h = np.where(x > 0, 1, -1).astype(np.int8)
            self._soft = np.concatenate([self._soft, x]) if self._soft.size else x.copy()
            self._hard = np.concatenate([self._hard, h]) if self._hard.size else h
        return self._run(final=False)

    def flush(self) -> list[Frame]:
        return self._run(final=True)

    def _run(self, final: bool) -> list[Frame]:
        out: list[Frame] = []
        end = self._start + len(self._soft)
        n = end - self.frame_symbols + 1 - self._searched      # new starts to test
        if n <= 0 or (n < MIN_BATCH and not final):
            return out
        lo = self._searched - self._start
        corr = np.zeros(n, np.int16)            # hard: sum of +-1 agreements
        scorr = np.zeros(n, np.float32)         # soft correlation
        energy = np.zeros(n, np.float32)
        h, y = self._hard, self._soft
        for off, s in zip(self._offsets.tolist(), self._pm.tolist()):
            a = lo + off
            seg, ys = h[a:a + n], y[a:a + n]
            if s > 0:
                corr += seg
                scorr += ys
            else:
                corr -= seg
                scorr -= ys
            energy += ys * ys
        nsync = len(self._pm)
        need = nsync - 2 * self.max_sync_errors
        z = scorr / np.sqrt(np.maximum(energy, np.float32(1e-30)))
        if self.allow_inverted:
            hits = np.flatnonzero((np.abs(corr) >= need) | (np.abs(z) >= self.min_sync_score))
        else:
            hits = np.flatnonzero((corr >= need) | (z >= self.min_sync_score))
        for i in hits.tolist():
            start = self._searched + i
            if start < self._busy_until:
                continue
            c = int(corr[i])
            inv = bool(z[i] < 0) if abs(c) < need else c < 0
            self.sync_inverted = inv
            self.sync_errors = (nsync - abs(c)) // 2
            a = start - self._start
            block = self._soft[a:a + self.frame_symbols]
            if inv:
                block = -block
            try:
                fr = self.decode_frame(np.ascontiguousarray(block), start)
            except (ValueError, IndexError, OverflowError):
                fr = None          # a malformed candidate is just not a frame
            if fr is None:
                continue
            fr.end_symbol = start + self.frame_symbols
            fr.inverted = fr.inverted or inv
            if fr.valid:
                self._busy_until = fr.end_symbol
            out.append(fr)
        self._searched += n
        cut = self._searched - self._start
        self._soft = self._soft[cut:]
        self._hard = self._hard[cut:]
        self._start = self._searched
        return out
