"""GNU Radio block around a ``groundseg.framing`` deframer: soft symbols in, PDUs out."""
from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..framing.base import Deframer, Frame

OUT_PORT = "out"


def frame_to_meta(frame: Frame, *, time_s: float, extra: dict) -> dict:
    meta = dict(extra)
    meta.update({
        "time_s": round(time_s, 4),
        "crc_ok": frame.crc_ok,
        "inverted": frame.inverted,
        "end_symbol": int(frame.end_symbol),
    })
    if frame.corrected is not None:
        meta["fec_corrected"] = int(frame.corrected)
    if frame.repaired_bits:
        meta["repaired_bits"] = int(frame.repaired_bits)
    for k, v in frame.meta.items():
        meta[k] = v
    return meta


class deframer_sink(gr.sync_block):
    """Feed soft symbols to a deframer; publish each frame as a PDU on ``out``.

    ``deliver(meta, data)``, when given, is also called for each frame.
    ``extra`` is merged into every PDU's metadata (satellite, transmitter,
    framing...). Time is the frame's end in seconds from the stream start,
    from the symbol count and the baud rate. The latest ``snr_db`` and
    ``freq_offset_hz`` tags seen on the input are attached as well.
    """

    def __init__(self, deframer: Deframer, baud: float, extra: dict | None = None,
                 time_offset_s: float = 0.0, deliver=None):
        gr.sync_block.__init__(self, name="groundseg_deframer_sink",
                               in_sig=[np.float32], out_sig=None)
        self.deframer = deframer
        self.baud = float(baud)
        self.extra = dict(extra or {})
        self.time_offset_s = time_offset_s
        # Direct delivery (in the scheduler thread) as well as the PDU: message
        # handlers may still hold PDUs when a file flowgraph finishes.
        self.deliver = deliver
        self.frames = 0
        self._tagvals: dict[str, float] = {}
        self.message_port_register_out(pmt.intern(OUT_PORT))

    def work(self, input_items, output_items):
        x = input_items[0]
        n = len(x)
        tags = []
        for tag in self.get_tags_in_window(0, 0, n):
            key = pmt.symbol_to_string(tag.key)
            if key in ("snr_db", "freq_offset_hz"):
                try:
                    tags.append((tag.offset, key, round(float(pmt.to_double(tag.value)), 2)))
                except Exception:  # a tag of the wrong type is not ours: ignore it
                    pass
        frames = self.deframer.process(x)
        # Each frame gets the latest estimate at or before its end (not a later one).
        tags.sort()
        i = 0
        for fr in sorted(frames, key=lambda f: f.end_symbol):
            while i < len(tags) and tags[i][0] <= fr.end_symbol:
                self._tagvals[tags[i][1]] = tags[i][2]
                i += 1
            self._publish(fr)
        for _, key, val in tags[i:]:
            self._tagvals[key] = val
        return n

    def stop(self):
        for fr in self.deframer.flush():
            self._publish(fr)
        return True

    def _publish(self, fr: Frame) -> None:
        self.frames += 1
        meta = frame_to_meta(fr, time_s=self.time_offset_s + fr.end_symbol / self.baud,
                             extra=self.extra)
        meta.update(self._tagvals)
        if self.deliver is not None:
            self.deliver(dict(meta), bytes(fr.data))
        data = np.frombuffer(bytes(fr.data), dtype=np.uint8)
        pdu = pmt.cons(pmt.to_pmt(meta), pmt.init_u8vector(len(data), data.tolist()))
        self.message_port_pub(pmt.intern(OUT_PORT), pdu)
