"""The element-set store: the current set per satellite, its age, its origin.

Updates come from files (TLE/3LE or OMM, sniffed) or from text handed over
by the control plane (``update_from_text``). A set replaces the current one
only when its epoch is newer; an older or identical set is reported and
ignored. Sets whose epoch is more than ``stale_after_s`` away from "now"
(either side: predicting years before an epoch is no better) are stale:
still usable, flagged in every listing.

With a ``path`` the store persists itself (JSON, written atomically) after
every change, so a restart finds the same sets. Listeners registered with
``subscribe`` are called with the NORAD ids whose set changed (the planner
replans those satellites only).
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..errors import InputError
from .elements import ElementSet, iso_utc
from .omm import parse_omm, sniff
from .tle import parse_tle_text

DEFAULT_STALE_AFTER_S = 7 * 86400.0
STORE_VERSION = 1


@dataclass(frozen=True)
class StoredSet:
    elements: ElementSet
    received_unix_s: float

    @property
    def norad(self) -> int:
        return self.elements.norad

    def age_s(self, now_unix_s: float) -> float:
        return self.elements.age_s(now_unix_s)


@dataclass
class UpdateReport:
    source: str
    added: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # older or identical sets, one line each
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[int]:
        return sorted(set(self.added) | set(self.updated))

    def summary(self) -> str:
        s = (f"{self.source}: {len(self.added)} new, {len(self.updated)} updated, "
             f"{len(self.ignored)} ignored, {len(self.errors)} rejected")
        return s

    def to_dict(self) -> dict:
        return {"source": self.source, "added": self.added, "updated": self.updated,
                "ignored": self.ignored, "errors": self.errors}


def parse_elements(text: str, source: str = "") -> tuple[list[ElementSet], list[str]]:
    """TLE/3LE or OMM text (the form is sniffed) -> (sets, error lines)."""
    if sniff(text) is not None:
        return parse_omm(text, source)
    return parse_tle_text(text, source)


class TLEStore:
    def __init__(self, path: str | os.PathLike | None = None, stale_after_s: float = DEFAULT_STALE_AFTER_S,
                 readonly: bool = False):
        """``readonly``: load ``path`` if it exists but never write it (listings, dry runs)."""
        if not stale_after_s > 0:
            raise InputError(f"stale_after_s must be > 0, not {stale_after_s!r}")
        self.path = pathlib.Path(path) if path else None
        self.readonly = readonly
        self.stale_after_s = float(stale_after_s)
        self._sets: dict[int, StoredSet] = {}
        self._listeners: list[Callable[[list[int]], None]] = []
        self._lock = threading.RLock()
        if self.path and self.path.exists():
            self._load()

    # --- queries -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._sets)

    def __contains__(self, norad: object) -> bool:
        return norad in self._sets

    def norads(self) -> list[int]:
        return sorted(self._sets)

    def get(self, norad: int) -> ElementSet:
        try:
            return self._sets[norad].elements
        except KeyError:
            raise InputError(f"no element set for NORAD {norad} (load a TLE or OMM for it)") from None

    def stored(self, norad: int) -> StoredSet:
        self.get(norad)
        return self._sets[norad]

    def all(self) -> list[ElementSet]:
        return [self._sets[n].elements for n in sorted(self._sets)]

    def age_s(self, norad: int, now_unix_s: float) -> float:
        return self.get(norad).age_s(now_unix_s)

    def is_stale(self, norad: int, now_unix_s: float) -> bool:
        return abs(self.age_s(norad, now_unix_s)) > self.stale_after_s

    def stale(self, now_unix_s: float) -> list[tuple[int, float]]:
        """(NORAD id, age in days) of every stale set."""
        return [(n, self.age_s(n, now_unix_s) / 86400.0) for n in self.norads() if self.is_stale(n, now_unix_s)]

    def status(self, now_unix_s: float) -> list[dict]:
        out = []
        for n in self.norads():
            st = self._sets[n]
            out.append({"norad": n, "name": st.elements.name, "epoch": iso_utc(st.elements.epoch_unix_s),
                        "age_days": round(st.age_s(now_unix_s) / 86400.0, 3),
                        "stale": self.is_stale(n, now_unix_s), "source": st.elements.source,
                        "received": iso_utc(st.received_unix_s)})
        return out

    # --- updates -------------------------------------------------------------

    def subscribe(self, callback: Callable[[list[int]], None]) -> None:
        self._listeners.append(callback)

    def update(self, sets: Iterable[ElementSet], now_unix_s: float, source: str = "") -> UpdateReport:
        rep = UpdateReport(source=source)
        with self._lock:
            for es in sets:
                cur = self._sets.get(es.norad)
                if cur is None:
                    self._sets[es.norad] = StoredSet(es, now_unix_s)
                    rep.added.append(es.norad)
                elif es.epoch_unix_s > cur.elements.epoch_unix_s:
                    self._sets[es.norad] = StoredSet(es, now_unix_s)
                    rep.updated.append(es.norad)
                elif es.epoch_unix_s == cur.elements.epoch_unix_s:
                    rep.ignored.append(f"NORAD {es.norad}: same epoch {iso_utc(es.epoch_unix_s)} as the stored set")
                else:
                    rep.ignored.append(f"NORAD {es.norad}: epoch {iso_utc(es.epoch_unix_s)} is older than the "
                                       f"stored {iso_utc(cur.elements.epoch_unix_s)}")
            if rep.changed and self.path and not self.readonly:
                self._save()
        if rep.changed:
            for cb in list(self._listeners):
                cb(rep.changed)
        return rep

    def update_from_text(self, text: str, now_unix_s: float, source: str = "control-plane",
                         strict: bool = True) -> UpdateReport:
        """Element sets handed over as text (TLE/3LE or OMM in any form).

        ``strict`` (the control plane's mode): one bad set rejects the whole
        update with an ``InputError`` listing every problem. Otherwise the
        valid sets are applied and the problems are in ``report.errors``.
        """
        sets, errs = parse_elements(text, source)
        if errs and strict:
            raise InputError(f"{len(errs)} problem(s), nothing applied: " + "; ".join(errs))
        if not sets and not errs:
            errs = [f"{source}: no element sets found"]
            if strict:
                raise InputError(errs[0])
        rep = self.update(sets, now_unix_s, source)
        rep.errors = errs
        return rep

    def update_from_file(self, path: str | os.PathLike, now_unix_s: float, strict: bool = False) -> UpdateReport:
        p = pathlib.Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{p}: cannot read: {e}") from None
        rep = self.update_from_text(text, now_unix_s, source=str(p), strict=strict)
        if not rep.changed and not rep.ignored and rep.errors:
            raise InputError(f"{p}: no usable element set: " + "; ".join(rep.errors))
        return rep

    # --- persistence ---------------------------------------------------------

    def _save(self) -> None:
        doc = {"version": STORE_VERSION,
               "sets": [{"received_unix_s": st.received_unix_s, **st.elements.to_dict()}
                        for st in (self._sets[n] for n in sorted(self._sets))]}
        for d in doc["sets"]:
            d.pop("epoch", None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tle-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise

    def _load(self) -> None:
        try:
            doc = json.loads(self.path.read_text())
            if doc.get("version") != STORE_VERSION:
                raise ValueError(f"version {doc.get('version')!r}, expected {STORE_VERSION}")
            loaded = {}
            for d in doc["sets"]:
                received = float(d.pop("received_unix_s"))
                es = ElementSet.from_dict(d)
                loaded[es.norad] = StoredSet(es, received)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise InputError(f"{self.path}: element-set store is unreadable ({e}); move it away to start empty") from None
        self._sets = loaded
