"""What the station is asked to do: observation tasks and blackout windows.

A ``Task`` observes one transmitter of one satellite (by NORAD id and the
transmitter's catalog name) on each of its passes (``mode="all"``) or on a
single one (``mode="once"``), with a priority (0-100, higher wins), a
minimum culmination elevation, an optional time window and recording
options. Its downlink frequency is resolved from the catalog when the task
is made, so the planner needs no catalog.

A ``Blackout`` is a span when the station must stay quiet: no pass is
planned that overlaps it.

``Task.from_dict`` / ``Blackout.from_dict`` take what the control plane
receives (JSON-like dicts; times as ISO 8601 UTC strings or Unix seconds)
and report every problem at once in one ``InputError``.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError

MODES = ("all", "once")
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


@dataclass(frozen=True)
class RecordingOptions:
    frames: bool = True  # decoded frames (JSON lines + KISS)
    iq: bool = False  # raw IQ as SigMF
    waterfall: bool = True
    samp_rate_sps: float | None = None  # IQ recording rate; None = the chain's

    @classmethod
    def from_dict(cls, d: Any, path: str, errs: list[str]) -> "RecordingOptions | None":
        if d is None:
            return cls()
        if not isinstance(d, dict):
            errs.append(f"{path}: expected a table/object, got {type(d).__name__}")
            return None
        vals: dict[str, Any] = {}
        for k, v in d.items():
            if k in ("frames", "iq", "waterfall"):
                if not isinstance(v, bool):
                    errs.append(f"{path}.{k}: expected true or false, got {v!r}")
                else:
                    vals[k] = v
            elif k == "samp_rate_sps":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not (1e3 <= v <= 1e9):
                    errs.append(f"{path}.samp_rate_sps: expected a rate in [1e3, 1e9] S/s, got {v!r}")
                else:
                    vals[k] = float(v)
            else:
                errs.append(f"{path}.{k}: unknown recording option (frames, iq, waterfall, samp_rate_sps)")
        return cls(**vals)


@dataclass(frozen=True)
class Task:
    task_id: str
    norad: int
    transmitter: str
    freq_hz: float
    priority: int = 50
    min_el_deg: float = 0.0
    mode: str = "all"
    window_start_unix_s: float | None = None
    window_end_unix_s: float | None = None
    recording: RecordingOptions = field(default_factory=RecordingOptions)
    source: str = ""

    def in_window(self, start_unix_s: float, end_unix_s: float) -> bool:
        lo = self.window_start_unix_s if self.window_start_unix_s is not None else -math.inf
        hi = self.window_end_unix_s if self.window_end_unix_s is not None else math.inf
        return start_unix_s < hi and end_unix_s > lo

    def to_dict(self) -> dict:
        d = asdict(self)
        d["id"] = d.pop("task_id")
        return d

    @classmethod
    def from_dict(cls, d: Any, catalog=None, path: str = "task", source: str = "control-plane") -> "Task":
        """A task from a dict; satellite and transmitter are checked against the catalog (default: the seeds)."""
        if catalog is None:
            from ..catalog import load_catalog

            catalog = load_catalog()
        errs: list[str] = []
        t = _task_from_dict(d, catalog, path, source, errs)
        if errs:
            raise InputError(f"{len(errs)} problem(s) in {path}: " + "; ".join(errs))
        return t


def _time(v: Any, path: str, errs: list[str]) -> float | None:
    if v is None:
        return None
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            errs.append(f"{path}: {v.isoformat()} has no time zone (give UTC)")
            return None
        return v.timestamp()
    if isinstance(v, bool):
        errs.append(f"{path}: expected a UTC time, got {v!r}")
        return None
    if isinstance(v, (int, float)):
        if not 0 <= v < 4102444800:  # (also NaN, infinities and integers beyond float range)
            shown = repr(v) if len(repr(v)) <= 24 else f"{repr(v)[:12]}...({len(repr(v))} digits)"
            errs.append(f"{path}: {shown} is not a Unix time before 2100")
            return None
        return float(v)
    if isinstance(v, str):
        try:
            t = _dt.datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            errs.append(f"{path}: {v!r} is not an ISO 8601 time")
            return None
        if t.tzinfo is None:
            errs.append(f"{path}: {v!r} has no time zone (add Z for UTC)")
            return None
        return t.timestamp()
    errs.append(f"{path}: expected a UTC time, got {type(v).__name__}")
    return None


_TASK_KEYS = {"id", "task_id", "norad", "transmitter", "priority", "min_el_deg", "mode", "window_start",
              "window_end", "recording"}


def _task_from_dict(d: Any, catalog, path: str, source: str, errs: list[str]) -> Task | None:
    if not isinstance(d, dict):
        errs.append(f"{path}: expected an object, got {type(d).__name__}")
        return None
    n0 = len(errs)
    for k in d:
        if k not in _TASK_KEYS:
            errs.append(f"{path}.{k}: unknown key")
    tid = d.get("id", d.get("task_id"))
    if not isinstance(tid, str) or not _ID_RE.fullmatch(tid):
        errs.append(f"{path}.id: expected a name (letters, digits, _ . -), got {tid!r}")
    norad = d.get("norad")
    if isinstance(norad, bool) or not isinstance(norad, int) or not 0 < norad < 1_000_000_000:
        errs.append(f"{path}.norad: expected a NORAD catalog number, got {norad!r}")
        norad = None
    txname = d.get("transmitter")
    if not isinstance(txname, str) or not txname.strip():
        errs.append(f"{path}.transmitter: expected a transmitter name, got {txname!r}")
        txname = None
    prio = d.get("priority", 50)
    if isinstance(prio, bool) or not isinstance(prio, int) or not 0 <= prio <= 100:
        errs.append(f"{path}.priority: expected an integer 0..100, got {prio!r}")
    min_el = d.get("min_el_deg", 0.0)
    if isinstance(min_el, bool) or not isinstance(min_el, (int, float)) or not 0 <= min_el < 90:
        errs.append(f"{path}.min_el_deg: expected degrees in [0, 90), got {min_el!r}")
    mode = d.get("mode", "all")
    if mode not in MODES:
        errs.append(f"{path}.mode: {mode!r} is not one of {', '.join(MODES)}")
    ws = _time(d.get("window_start"), f"{path}.window_start", errs)
    we = _time(d.get("window_end"), f"{path}.window_end", errs)
    if ws is not None and we is not None and we <= ws:
        errs.append(f"{path}.window_end: not after window_start")
    rec = RecordingOptions.from_dict(d.get("recording"), f"{path}.recording", errs)
    freq = None
    if catalog is not None and norad is not None and txname is not None:
        try:
            sat = catalog.by_norad(norad)
        except InputError as e:
            errs.append(f"{path}.norad: {e}")
        else:
            tx = [t for t in sat.transmitters if t.name.lower() == txname.strip().lower()]
            if not tx:
                names = "; ".join(t.name for t in sat.transmitters)
                errs.append(f"{path}.transmitter: {sat.name} has no transmitter {txname!r} (has: {names})")
            elif tx[0].uplink:
                errs.append(f"{path}.transmitter: {tx[0].name!r} is an uplink, not something to observe")
            else:
                freq, txname = float(tx[0].frequency_hz), tx[0].name
    if len(errs) > n0:
        return None
    return Task(task_id=tid, norad=norad, transmitter=txname, freq_hz=freq, priority=prio,
                min_el_deg=float(min_el), mode=mode, window_start_unix_s=ws, window_end_unix_s=we,
                recording=rec, source=source)


@dataclass(frozen=True)
class Blackout:
    blackout_id: str
    start_unix_s: float
    end_unix_s: float
    reason: str = ""

    def overlaps(self, start_unix_s: float, end_unix_s: float) -> bool:
        return start_unix_s < self.end_unix_s and end_unix_s > self.start_unix_s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["id"] = d.pop("blackout_id")
        return d

    @classmethod
    def from_dict(cls, d: Any, path: str = "blackout") -> "Blackout":
        errs: list[str] = []
        if not isinstance(d, dict):
            raise InputError(f"{path}: expected an object, got {type(d).__name__}")
        for k in d:
            if k not in ("id", "blackout_id", "start", "end", "reason"):
                errs.append(f"{path}.{k}: unknown key")
        bid = d.get("id", d.get("blackout_id"))
        if not isinstance(bid, str) or not _ID_RE.fullmatch(bid):
            errs.append(f"{path}.id: expected a name, got {bid!r}")
        start = _time(d.get("start"), f"{path}.start", errs)
        end = _time(d.get("end"), f"{path}.end", errs)
        if d.get("start") is None:
            errs.append(f"{path}.start: missing (required)")
        if d.get("end") is None:
            errs.append(f"{path}.end: missing (required)")
        if start is not None and end is not None and end <= start:
            errs.append(f"{path}.end: not after start")
        reason = d.get("reason", "")
        if not isinstance(reason, str):
            errs.append(f"{path}.reason: expected text, got {reason!r}")
        if errs:
            raise InputError(f"{len(errs)} problem(s) in {path}: " + "; ".join(errs))
        return cls(bid, start, end, reason)


def tasks_from_config(cfg, catalog) -> list[Task]:
    """The standing [[tasks]] of a station config, resolved against the catalog and the chains."""
    errs: list[str] = []
    out = []
    for i, spec in enumerate(cfg.tasks or ()):
        d = {"id": spec.task_id, "norad": spec.norad, "transmitter": spec.transmitter,
             "priority": spec.priority, "min_el_deg": spec.min_el_deg, "mode": spec.mode,
             "window_start": spec.window_start, "window_end": spec.window_end, "recording": spec.recording}
        t = _task_from_dict(d, catalog, f"tasks[{i}]", "config", errs)
        if t is None:
            continue
        if not any(c.covers(t.freq_hz) for c in cfg.chains):
            errs.append(f"tasks[{i}]: no chain covers {t.freq_hz / 1e6:.4f} MHz ({t.transmitter})")
            continue
        out.append(t)
    if errs:
        n = len(errs)
        raise InputError(f"{cfg.path}: {n} problem{'s' if n > 1 else ''}:\n  " + "\n  ".join(errs))
    return out
