"""``file``: a local archive of frames: JSON lines, one file per UTC day.

``url``: ``file:///var/lib/groundseg/frames`` or ``file://~/frames`` (a
directory; created when missing; relative to the configuration file when
relative). Each frame is one line of ``sinks.message`` JSON in
``<dir>/<YYYY-MM-DD>.jsonl`` (the frame's UTC date), appended and fsync'd
per batch before the batch is acknowledged. A crash between the write and
the acknowledgement writes the frame again on the next attempt: readers
drop duplicates by ``id``. Options: ``fsync`` (default true).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import pathlib
from urllib.parse import unquote, urlsplit

from . import DELIVERED, Sink, SinkSpec, SinkUnavailable, check_options, message, register

OPTIONS = {"fsync": (bool, None)}


def _dir(url: str) -> str | None:
    u = urlsplit(url or "")
    if u.scheme != "file":
        return None
    path = unquote((u.netloc or "") + u.path)
    return path or None


def _check(url: str, options: dict) -> list[str]:
    out = [] if _dir(url) else [f"url: {url!r} is not file://DIRECTORY"]
    return out + check_options(options, OPTIONS)


class FileSink(Sink):
    kind = "file"

    def open(self) -> None:
        self.dir = pathlib.Path(self.context.resolve(_dir(self.url)))
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SinkUnavailable(f"cannot create {self.dir}: {e.strerror}") from None

    def send(self, items):
        by_day: dict[str, list[str]] = {}
        for it in items:
            day = _dt.datetime.fromtimestamp(it.t_unix_s, _dt.timezone.utc).strftime("%Y-%m-%d")
            by_day.setdefault(day, []).append(json.dumps(message(it, self.context.station_id),
                                                         separators=(",", ":"), default=str))
        try:
            for day, lines in by_day.items():
                fd = os.open(self.dir / f"{day}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, ("\n".join(lines) + "\n").encode())
                    if self.options.get("fsync", True):
                        os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as e:
            raise SinkUnavailable(f"{self.dir}: {e.strerror}") from None
        return [DELIVERED] * len(items)

    def describe(self) -> dict:
        return {"kind": self.kind, "url": self.url, "dir": str(getattr(self, "dir", ""))}


register(SinkSpec("file", "local archive: JSON lines per UTC day in a directory", f"{__name__}:FileSink", _check,
                  {"fsync": "fsync each batch (default true)"}))
