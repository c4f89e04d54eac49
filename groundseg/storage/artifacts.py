"""One directory of artifacts per pass, and the frame writer that fills it as frames arrive.

Layout (fixed names: the control plane, the gateway and the tests find files by them)::

    <artifacts_dir>/<pass_id>/
        frames.jsonl      one JSON object per decoded frame, appended and flushed frame by frame
        frames.kiss       the same frames as KISS data frames (port 0)
        iq.sigmf-data     raw IQ as received (cf32_le), when the task records IQ
        iq.sigmf-meta     its SigMF metadata with the pass metadata (written after the pass)
        waterfall.f32     spectrum rows written by the flowgraph while it runs (``waterfall.py``)
        waterfall.json    their layout
        waterfall.png     rendered after the pass
        report.json       the pass report (``report.py``), written atomically at the end
        flowgraph.log     the flowgraph process's stderr
        spec.json         what the flowgraph process was started with

A frame record is the dict ``groundseg decode`` prints (``decode.frame_record``)
plus ``t_unix_s`` and ``pass_id``. ``FrameWriter.append`` writes it to both
files and flushes (and, with ``durable``, fsyncs) before returning, so a crash
of the station loses no frame it already reported.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import threading
from typing import Iterator

from ..errors import InputError
from . import kiss

FRAMES_JSONL = "frames.jsonl"
FRAMES_KISS = "frames.kiss"
IQ_DATA = "iq.sigmf-data"
IQ_META = "iq.sigmf-meta"
WATERFALL_ROWS = "waterfall.f32"
WATERFALL_LAYOUT = "waterfall.json"
WATERFALL_PNG = "waterfall.png"
REPORT = "report.json"
FLOWGRAPH_LOG = "flowgraph.log"
SPEC = "spec.json"

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


class FrameWriter:
    """Append frames to ``frames.jsonl`` and ``frames.kiss``; thread-safe; flushed per frame."""

    def __init__(self, directory: pathlib.Path, durable: bool = True):
        self.directory = pathlib.Path(directory)
        self.durable = durable
        self._lock = threading.Lock()
        self._jsonl = open(self.directory / FRAMES_JSONL, "a", encoding="utf-8")
        self._kiss = open(self.directory / FRAMES_KISS, "ab")
        self.count = 0

    def append(self, record: dict, data: bytes | None = None) -> None:
        """Store one frame (``data`` defaults to ``bytes.fromhex(record["hex"])``)."""
        if data is None:
            data = bytes.fromhex(record["hex"])
        line = json.dumps(record, sort_keys=False, default=_json_default) + "\n"
        with self._lock:
            if self._jsonl.closed:
                raise InputError(f"{self.directory}: frame writer is closed")
            self._jsonl.write(line)
            self._jsonl.flush()
            self._kiss.write(kiss.encode(data))
            self._kiss.flush()
            if self.durable:
                os.fsync(self._jsonl.fileno())
                os.fsync(self._kiss.fileno())
            self.count += 1

    def close(self) -> None:
        with self._lock:
            for f in (self._jsonl, self._kiss):
                if not f.closed:
                    f.close()


def _json_default(o):
    if isinstance(o, (bytes, bytearray)):
        return o.hex()
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


class PassArtifacts:
    """The artifact directory of one pass (created on construction)."""

    def __init__(self, root: str | os.PathLike, pass_id: str, durable: bool = True):
        if not isinstance(pass_id, str) or not _SAFE_ID.fullmatch(pass_id):
            raise InputError(f"pass id {pass_id!r} cannot name a directory")
        self.root = pathlib.Path(root)
        self.pass_id = pass_id
        self.dir = self.root / pass_id
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{self.dir}: cannot create the pass directory: {e.strerror or e}") from None
        self.frames = FrameWriter(self.dir, durable)

    def path(self, name: str) -> pathlib.Path:
        return self.dir / name

    def write_json(self, name: str, obj) -> pathlib.Path:
        """Write ``obj`` as JSON atomically (temporary file, fsync, rename)."""
        return write_json_atomic(self.dir / name, obj)

    def listing(self) -> dict[str, str]:
        """{file name: path} of the artifacts that exist now."""
        return {p.name: str(p) for p in sorted(self.dir.iterdir()) if p.is_file()}

    def close(self) -> None:
        self.frames.close()


def write_json_atomic(path: pathlib.Path, obj) -> pathlib.Path:
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, default=_json_default)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_frames(directory: str | os.PathLike) -> list[dict]:
    """The frame records of a pass directory (a torn last line, from a crash, is skipped)."""
    return list(iter_frames(directory))


def iter_frames(directory: str | os.PathLike) -> Iterator[dict]:
    p = pathlib.Path(directory) / FRAMES_JSONL
    if not p.exists():
        return
    with open(p, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                return  # torn write at a crash: not a frame
            try:
                yield json.loads(line)
            except ValueError:
                continue


def read_kiss_frames(directory: str | os.PathLike) -> list[bytes]:
    p = pathlib.Path(directory) / FRAMES_KISS
    return kiss.decode(p.read_bytes()) if p.exists() else []
