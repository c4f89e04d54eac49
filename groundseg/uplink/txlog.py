"""The transmission log: one JSON line per transmission attempt and per refusal, fsync'd, append only.

Each line: ``kind`` (``transmission`` or ``refusal``), ``t_unix_s``/``time``
(when it was written), and for a transmission: ``command_id``, ``pass_id``,
``norad``, ``who``, ``framing``, ``payload_hex``, ``frame_hex``,
``modulation``, ``baud``, ``freq_hz``, ``doppler_start_hz``,
``doppler_end_hz``, ``t_start``/``t_end`` (the burst, station time),
``el_start_deg``/``el_end_deg``, ``samp_rate_sps``, ``samples``, ``sink``
(where it went) and ``result`` (``sent`` or ``failed`` with ``error``); for
a refusal: ``who``, ``role``, ``pass_id``, ``code``, ``message``.
"""
from __future__ import annotations

import json
import os
import pathlib
import threading

from ..gateway.sinks import iso8601_ms


class TransmissionLog:
    def __init__(self, path: str | os.PathLike):
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, entry: dict, t_unix_s: float) -> dict:
        e = {"t_unix_s": round(float(t_unix_s), 6), "time": iso8601_ms(t_unix_s), **entry}
        line = json.dumps(e, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        return e

    def read(self, kind: str | None = None, limit: int | None = None) -> list[dict]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for ln in lines:
            try:
                e = json.loads(ln)
            except ValueError:
                continue  # a torn last line after a crash
            if kind is None or e.get("kind") == kind:
                out.append(e)
        return out[-limit:] if limit else out
