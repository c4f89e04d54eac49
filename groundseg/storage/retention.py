"""Retention of per-pass artifacts: old passes deleted, IQ sooner, optional artifacts first when the disk fills.

``apply_retention(artifacts_dir, now_unix_s, retention_days=..., iq_retention_days=..., min_free_bytes=...)``
walks the pass directories (``<artifacts_dir>/<pass_id>/``, recognised by
the artifact names of ``artifacts.py``: anything else there is left alone)
and:

1. deletes a pass directory whose last change is ``retention_days`` old or
   older (0: never);
2. deletes the IQ recording (``iq.sigmf-data`` with its ``iq.sigmf-meta``)
   of a pass whose recording is ``iq_retention_days`` old or older (0: it
   goes with its directory);
3. when the file system holding the artifacts has less than
   ``min_free_bytes`` free (0: no check), drops optional artifacts, oldest
   pass first, until there is enough: first IQ recordings (by far the
   largest), then the raw waterfall rows (``waterfall.f32``: the PNG drawn
   from them stays). Frames, reports and waterfall pictures are never
   dropped for space: they are the station's product; if that is not
   enough, ``RetentionReport.short_bytes`` says how much is missing.

Ages are wall-clock ages of the files (their modification times against
``now_unix_s``, which the caller gives: the station passes ``time.time()``,
tests a frozen time), so a simulation running in another year does not
delete today's files. Passes named in ``keep`` (the one running) are never
touched. A file that cannot be deleted is reported in ``errors`` and
skipped; nothing here raises for a bad directory entry.
"""
from __future__ import annotations

import logging
import os
import pathlib
import shutil
from dataclasses import dataclass, field
from typing import Callable, Iterable

from . import artifacts as art

log = logging.getLogger(__name__)

DAY_S = 86400.0
IQ_FILES = (art.IQ_DATA, art.IQ_META)
# Dropped for space, in this order (each kind oldest pass first); never frames, reports or pictures.
OPTIONAL = (IQ_FILES, (art.WATERFALL_ROWS,))
_MARKERS = frozenset({art.FRAMES_JSONL, art.REPORT, art.SPEC, art.IQ_DATA, art.WATERFALL_ROWS})


@dataclass
class RetentionReport:
    passes_deleted: list[str] = field(default_factory=list)
    iq_deleted: list[str] = field(default_factory=list)          # pass ids whose IQ went (age)
    dropped_for_space: list[str] = field(default_factory=list)    # "<pass_id>/<file>"
    bytes_freed: int = 0
    free_bytes: int | None = None                                 # after, when checked
    short_bytes: int = 0                                          # still missing to min_free_bytes
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.passes_deleted or self.iq_deleted or self.dropped_for_space)

    def to_dict(self) -> dict:
        return {"passes_deleted": list(self.passes_deleted), "iq_deleted": list(self.iq_deleted),
                "dropped_for_space": list(self.dropped_for_space), "bytes_freed": self.bytes_freed,
                "free_bytes": self.free_bytes, "short_bytes": self.short_bytes, "errors": list(self.errors)}


def free_bytes(path: str | os.PathLike) -> int | None:
    """Bytes available to this process on the file system of ``path`` (its nearest existing parent)."""
    p = pathlib.Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return int(shutil.disk_usage(p).free)
    except OSError:
        return None


def _pass_dirs(root: pathlib.Path) -> list[pathlib.Path]:
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    out = []
    for d in entries:
        if d.is_symlink() or not d.is_dir() or not art._SAFE_ID.fullmatch(d.name):
            continue
        try:
            names = {e.name for e in d.iterdir()}
        except OSError:
            continue
        if names & _MARKERS:
            out.append(d)
    return out


def _mtime(p: pathlib.Path) -> float | None:
    try:
        return p.lstat().st_mtime
    except OSError:
        return None


def last_change(d: pathlib.Path) -> float:
    """Newest modification time of the files of a pass directory (the directory's own when it has none:
    deleting a file, e.g. the IQ, changes the directory's time, not the pass's age)."""
    try:
        files = list(d.iterdir())
    except OSError:
        files = []
    times = [t for t in (_mtime(f) for f in files) if t is not None]
    if not times:
        t = _mtime(d)
        return t if t is not None else 0.0
    return max(times)


def _size(p: pathlib.Path) -> int:
    try:
        return p.lstat().st_size
    except OSError:
        return 0


def _delete_files(d: pathlib.Path, names: Iterable[str], rep: RetentionReport) -> int:
    freed = 0
    for name in names:
        f = d / name
        if not f.exists() and not f.is_symlink():
            continue
        n = _size(f)
        try:
            f.unlink()
        except OSError as e:
            rep.errors.append(f"{f}: {e.strerror or e}")
            continue
        freed += n
    rep.bytes_freed += freed
    return freed


def apply_retention(artifacts_dir: str | os.PathLike, now_unix_s: float, *, retention_days: float = 0.0,
                    iq_retention_days: float = 0.0, min_free_bytes: int = 0, keep: Iterable[str] = (),
                    free_fn: Callable[[pathlib.Path], int | None] = free_bytes) -> RetentionReport:
    """Apply the retention rules (see the module docstring) to ``artifacts_dir``."""
    root = pathlib.Path(artifacts_dir)
    keep = set(keep)
    rep = RetentionReport()
    dirs = [d for d in _pass_dirs(root) if d.name not in keep]
    # 1. whole pass directories
    if retention_days > 0:
        limit = now_unix_s - retention_days * DAY_S
        for d in dirs:
            if last_change(d) <= limit:
                size = sum(_size(f) for f in d.rglob("*"))
                try:
                    shutil.rmtree(d)
                except OSError as e:
                    rep.errors.append(f"{d}: {e.strerror or e}")
                    continue
                rep.bytes_freed += size
                rep.passes_deleted.append(d.name)
        dirs = [d for d in dirs if d.name not in rep.passes_deleted]
    # 2. IQ recordings kept for less
    if iq_retention_days > 0:
        limit = now_unix_s - iq_retention_days * DAY_S
        for d in dirs:
            t = _mtime(d / art.IQ_DATA)
            if t is not None and t <= limit:
                _delete_files(d, IQ_FILES, rep)
                rep.iq_deleted.append(d.name)
    # 3. space
    if min_free_bytes > 0:
        free = free_fn(root)
        if free is not None and free < min_free_bytes:
            by_age = sorted(dirs, key=last_change)
            for names in OPTIONAL:
                for d in by_age:
                    if free >= min_free_bytes:
                        break
                    present = [n for n in names if (d / n).exists()]
                    if not present:
                        continue
                    freed = _delete_files(d, present, rep)
                    rep.dropped_for_space += [f"{d.name}/{n}" for n in present if not (d / n).exists()]
                    now_free = free_fn(root)
                    free = now_free if now_free is not None else free + freed
            rep.free_bytes = free
            rep.short_bytes = max(0, min_free_bytes - free)
        else:
            rep.free_bytes = free
    if rep.changed:
        log.info("retention: %d pass(es) deleted, IQ of %d deleted, %d file(s) dropped for space, %d bytes freed",
                 len(rep.passes_deleted), len(rep.iq_deleted), len(rep.dropped_for_space), rep.bytes_freed)
    return rep
