"""Collect frame PDUs from every chain, de-duplicate, hand each to a callback."""
from __future__ import annotations

import collections
import threading
from typing import Callable

import pmt
from gnuradio import gr

IN_PORT = "in"


class FrameDeduper:
    """Drops a frame another chain already delivered (same bytes, close in time).

    Two decoders of one transmission (polarities, variants, several
    transmitters of one satellite) report the same bytes within a few symbols.
    Frames of one chain are never merged: a satellite may send identical
    frames back to back (idle fill, repeated beacons) and each is real.
    Memory is bounded: entries older than ``horizon_s`` behind the newest
    frame are forgotten.
    """

    def __init__(self, window_s: float = 0.25, horizon_s: float = 30.0):
        self.window_s = window_s
        self.horizon_s = max(horizon_s, 4 * window_s)
        self._seen: dict[bytes, list[tuple[float, object]]] = {}
        self._order: collections.deque[tuple[float, bytes]] = collections.deque()
        self._latest = float("-inf")

    def is_new(self, data: bytes, time_s: float, chain: object = None) -> bool:
        key = bytes(data)
        entries = self._seen.setdefault(key, [])
        if any(abs(t - time_s) <= self.window_s and c != chain for t, c in entries):
            return False
        entries.append((time_s, chain))
        self._order.append((time_s, key))
        self._latest = max(self._latest, time_s)
        self._prune()
        return True

    def _prune(self) -> None:
        limit = self._latest - self.horizon_s
        while self._order and self._order[0][0] < limit:
            t, key = self._order.popleft()
            entries = self._seen.get(key)
            if entries:
                entries[:] = [e for e in entries if e[0] >= limit]
                if not entries:
                    del self._seen[key]

    def __len__(self) -> int:
        return sum(len(v) for v in self._seen.values())


class FrameCollector:
    """Thread-safe: each new valid frame (``meta dict``, ``bytes``) goes to ``callback``.

    Frames failing their check are counted, and passed on only with
    ``keep_invalid``.
    """

    def __init__(self, callback: Callable[[dict, bytes], None], window_s: float = 0.25,
                 keep_invalid: bool = False):
        self.callback = callback
        self.keep_invalid = keep_invalid
        self.dedup = FrameDeduper(window_s)
        self.delivered = 0
        self.duplicates = 0
        self.invalid = 0
        self._lock = threading.Lock()

    def __call__(self, meta: dict, data: bytes) -> None:
        with self._lock:
            if meta.get("crc_ok") is False:
                self.invalid += 1
                if not self.keep_invalid:
                    return
            elif not self.dedup.is_new(data, float(meta.get("time_s", 0.0)),
                                       (meta.get("transmitter"), meta.get("framing"))):
                self.duplicates += 1
                return
            self.delivered += 1
        self.callback(meta, data)


class frame_collector(gr.basic_block):
    """Message sink block: frame PDUs on ``in`` go through a ``FrameCollector``."""

    def __init__(self, callback: Callable[[dict, bytes], None], window_s: float = 0.25,
                 keep_invalid: bool = False):
        gr.basic_block.__init__(self, name="groundseg_frame_collector", in_sig=None, out_sig=None)
        self.collector = FrameCollector(callback, window_s, keep_invalid)
        self.message_port_register_in(pmt.intern(IN_PORT))
        self.set_msg_handler(pmt.intern(IN_PORT), self._handle)

    def _handle(self, msg):
        meta = pmt.to_python(pmt.car(msg)) or {}
        self.collector(meta, bytes(pmt.u8vector_elements(pmt.cdr(msg))))
