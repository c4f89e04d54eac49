"""Collect frame PDUs from every chain, de-duplicate, hand each to a callback."""
from __future__ import annotations

import threading
from typing import Callable

import pmt
from gnuradio import gr

IN_PORT = "in"


class FrameDeduper:
    """Drops a frame already delivered by another chain (same bytes, close in time).

    Two decoders of one transmission (polarities, variants, several
    transmitters of one satellite) report the same bytes within a few symbols;
    a satellite repeating a beacon does so seconds apart and is kept.
    """

    def __init__(self, window_s: float = 0.25):
        self.window_s = window_s
        self._seen: dict[bytes, list[float]] = {}

    def is_new(self, data: bytes, time_s: float) -> bool:
        times = self._seen.setdefault(bytes(data), [])
        if any(abs(t - time_s) <= self.window_s for t in times):
            return False
        times.append(time_s)
        return True


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
            elif not self.dedup.is_new(data, float(meta.get("time_s", 0.0))):
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
