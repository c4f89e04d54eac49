"""Station events in, metric updates out: an ``EventBus`` subscriber.

``EventBridge(metrics, pass_info, chains, rotators)`` is called with every
station ``Event`` (``groundseg.station``) and updates ``StationMetrics``:

=================  ==================================================================
``station.state``  ``groundseg_station_state``
``plan``           ``passes_planned_total`` (+ added), missed passes as
                   ``passes_failed_total{reason="missed"}``, cancelled ones
``pass.state``     started (pre-pass), completed, failed/interrupted by reason
                   class (``failure_reason``), cancelled; ``pass_in_progress``
``pass.report``    flowgraph totals reconciled (the last status line before the
                   end may not have been published), passes in a row without
                   frames
``frame``          decoded / FEC-corrected / repaired frames, last frame time,
                   SNR and frequency offset
``radio``          flowgraph starts, restarts, up; from its status lines
                   (``running``) and final counts (``done``, when published):
                   samples, overruns, underruns, CRC failures, Doppler
                   corrections applied (cumulative per flowgraph run: the
                   bridge adds the increase), decoding lag
``doppler``        corrections sent, last correction
``rotator``        commanded and reported angles, commands, errors, tracking
``warning/error``  per ``where``
=================  ==================================================================

A pass's chain and transmitter come from ``pass_info(pass_id)`` (the
schedule store's record), looked up once per pass. Label values are
bounded (``LabelGuard``): a chain or rotator the configuration does not
name is counted as ``unknown``; transmitters and event places are capped.
Values an event does not carry are left alone, never guessed.
"""
from __future__ import annotations

import collections
import json
import logging
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .metrics import EVENT_PLACES, OTHER, STATION_STATES, UNKNOWN, StationMetrics

log = logging.getLogger(__name__)

# Cumulative counts in the flowgraph's status lines (reset when a new process starts) -> metric attribute.
STATUS_COUNTERS = {"samples": "samples", "overruns": "overruns", "underruns": "underruns",
                   "invalid": "frames_crc_failed", "doppler_applied": "doppler_applied"}

_MAX_TRANSMITTERS = 64
_SDR = re.compile(r"\bsdr\b|\bhardware\b")
_RECENT_PASSES = 4096  # final states remembered, so a repeated event is not counted twice
_OPEN_PASSES = 256     # passes tracked at once (one runs at a time; the rest are leftovers)


class LabelGuard:
    """Bounded label values: ``known`` ones pass; others pass until ``limit`` distinct, then ``fallback``."""

    def __init__(self, known: Iterable[str] = (), limit: int = 0, fallback: str = OTHER):
        self.known = frozenset(str(k) for k in known)
        self.limit = int(limit)
        self.fallback = fallback
        self._extra: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> str:
        if value is None or value == "":
            return UNKNOWN
        v = str(value)
        if v in self.known:
            return v
        with self._lock:
            if v in self._extra:
                return v
            if len(self._extra) < self.limit:
                self._extra.add(v)
                return v
        return self.fallback


def failure_reason(state: str, reason: str) -> str:
    """The reason class (one of ``FAILURE_REASONS``) of a failed or interrupted pass."""
    r = (reason or "").lower()
    if state == "interrupted":
        return "station_restart" if "restart" in r else "aborted"
    if r.startswith("missed") or "recovered after a restart" in r:
        return "missed"
    if _SDR.search(r):
        return "hardware"
    if "no element set" in r:
        return "no_elements"
    if "stopped responding" in r:
        return "flowgraph_hung"
    if "could not start" in r or "did not start" in r:
        return "flowgraph_start"
    if "flowgraph exited" in r or "flowgraph" in r:
        return "flowgraph_crash"
    if "internal error" in r:
        return "internal"
    return "other"


@dataclass
class _Pass:
    chain: str
    transmitter: str | None
    running: bool = False
    frames: int = 0
    # last cumulative status value of the current flowgraph run, and the increase added for this pass
    seen: dict[str, float] = field(default_factory=dict)
    acc: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))


class EventBridge:
    def __init__(self, metrics: StationMetrics, pass_info: Callable[[str], Any] | None = None,
                 chains: Iterable[str] | None = None, rotators: Iterable[str] | None = None,
                 read_report: Callable[[str], dict] | None = None):
        self.m = metrics
        self.pass_info = pass_info
        self.chain = LabelGuard(metrics.chains if chains is None else chains, 0, UNKNOWN)
        self.rotator = LabelGuard(metrics.rotators if rotators is None else rotators, 0, UNKNOWN)
        self.transmitter = LabelGuard((), _MAX_TRANSMITTERS, OTHER)
        self.where = LabelGuard(EVENT_PLACES, 0, OTHER)
        self.read_report = read_report or _read_report
        self._passes: dict[str, _Pass] = {}
        self._final: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._lock = threading.RLock()
        self.errors = 0

    # --- the subscriber ----------------------------------------------------------------------

    def __call__(self, ev) -> None:
        handler = _HANDLERS.get(ev.topic)
        if handler is None:
            return
        with self._lock:
            handler(self, ev.data, ev.t_unix_s)

    # --- pass bookkeeping -------------------------------------------------------------------

    def _pass(self, pass_id: str | None, chain: str | None = None) -> _Pass:
        key = str(pass_id)
        p = self._passes.get(key)
        if p is None:
            rec = None
            if pass_id is not None and self.pass_info is not None:
                try:
                    rec = self.pass_info(pass_id)
                except Exception:  # noqa: BLE001 - unknown pass: its metrics go to "unknown"
                    rec = None
            c = chain if chain is not None else getattr(rec, "chain", None)
            p = _Pass(self.chain(c), getattr(rec, "transmitter", None))
            self._passes[key] = p
            while len(self._passes) > _OPEN_PASSES:  # passes whose end was never seen: forget the oldest
                self._passes.pop(next(iter(self._passes)))
        elif chain is not None and p.chain == UNKNOWN:
            p.chain = self.chain(chain)
        return p

    def _finalise(self, pass_id: str, state: str) -> bool:
        """Record that ``pass_id`` reached a final state; False if it was counted already."""
        if pass_id in self._final:
            return False
        self._final[pass_id] = state
        while len(self._final) > _RECENT_PASSES:
            self._final.popitem(last=False)
        return True

    def _status_counts(self, p: _Pass, status: dict) -> None:
        for key, attr in STATUS_COUNTERS.items():
            v = status.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                continue
            last = p.seen.get(key, 0.0)
            inc = v - last if v >= last else v  # lower than before: a new process counting from 0
            p.seen[key] = v
            if inc > 0:
                getattr(self.m, attr).labels(p.chain).inc(inc)
                p.acc[key] += inc

    # --- topics --------------------------------------------------------------------------------

    def on_station_state(self, d: dict, t: float) -> None:
        state = d.get("state")
        if state in STATION_STATES:
            self.m.station_state.state(state)

    def on_plan(self, d: dict, t: float) -> None:
        added = d.get("added") or ()
        if added:
            self.m.passes_planned.inc(len(added))
        for pid in d.get("missed") or ():
            if self._finalise(pid, "failed"):
                self.m.passes_failed.labels(self._pass(pid).chain, "missed").inc()
                self._passes.pop(str(pid), None)
        for pid in d.get("cancelled") or ():
            if self._finalise(pid, "cancelled"):
                self.m.passes_cancelled.labels(self._pass(pid).chain).inc()
                self._passes.pop(str(pid), None)

    def on_pass_state(self, d: dict, t: float) -> None:
        pid, state = d.get("pass_id"), d.get("state")
        if pid is None:
            return
        p = self._pass(pid)
        if state == "pre-pass":
            self.m.passes_started.labels(p.chain).inc()
            self.m.pass_in_progress.labels(p.chain).set(1)
            p.running = True
            return
        if state not in ("completed", "failed", "interrupted", "cancelled"):
            return
        if p.running:
            self.m.pass_in_progress.labels(p.chain).set(0)
            p.running = False
        if not self._finalise(pid, state):
            return
        if state == "completed":
            self.m.passes_completed.labels(p.chain).inc()
        elif state == "cancelled":
            self.m.passes_cancelled.labels(p.chain).inc()
        else:
            self.m.passes_failed.labels(p.chain, failure_reason(state, str(d.get("reason") or ""))).inc()
        if state == "cancelled" or d.get("reason") == "recovered after a restart":
            self._passes.pop(str(pid), None)  # no report follows

    def on_pass_report(self, d: dict, t: float) -> None:
        pid = d.get("pass_id")
        if pid is None:
            return
        p = self._pass(pid)
        totals = self._report_totals(d)
        for key, total in totals.items():
            extra = total - p.acc.get(key, 0.0)
            if extra > 0:
                getattr(self.m, STATUS_COUNTERS[key]).labels(p.chain).inc(extra)
        if d.get("state") in ("completed", "failed"):
            g = self.m.passes_without_frames.labels(p.chain)
            if p.frames:
                g.set(0)
            else:
                g.inc()
        if p.running:
            self.m.pass_in_progress.labels(p.chain).set(0)
        self.m.flowgraph_up.labels(p.chain).set(0)
        self._passes.pop(str(pid), None)

    def _report_totals(self, d: dict) -> dict[str, float]:
        """Whole-pass totals of the status counters, from the report event and the report file."""
        out: dict[str, float] = {}
        counts = d.get("counts") or {}
        v = counts.get("doppler_applied")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out["doppler_applied"] = float(v)
        path = d.get("report")
        if path:
            try:
                runs = self.read_report(path).get("flowgraph") or []
            except Exception as e:  # noqa: BLE001 - no report file: the status lines are all we have
                log.debug("metrics: cannot read %s: %s", path, e)
                runs = []
            for key in STATUS_COUNTERS:
                vals = [(r.get("done") or {}).get(key) for r in runs if isinstance(r, dict)]
                vals = [x for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool)]
                if vals:
                    out[key] = max(out.get(key, 0.0), float(sum(vals)))
        return out

    def on_frame(self, d: dict, t: float) -> None:
        rec = d.get("record") or {}
        if not isinstance(rec, dict):
            return
        p = self._pass(d.get("pass_id"))
        if rec.get("crc_ok") is False:
            return  # counted as a CRC failure from the flowgraph's status (it counts every one)
        tx = self.transmitter(rec.get("transmitter") or p.transmitter)
        self.m.frames_decoded.labels(p.chain, tx).inc()
        p.frames += 1
        fec = rec.get("fec_corrected")
        if isinstance(fec, (int, float)) and not isinstance(fec, bool) and fec > 0:
            self.m.frames_fec_corrected.labels(p.chain, tx).inc()
        rep = rec.get("repaired_bits")
        if isinstance(rep, (int, float)) and not isinstance(rep, bool) and rep > 0:
            self.m.frames_repaired.labels(p.chain, tx).inc()
        self.m.last_frame.labels(p.chain).set(t)
        snr = _number(rec.get("snr_db"))
        if snr is not None:
            self.m.last_snr.labels(p.chain).set(snr)
        off = _number(rec.get("freq_offset_hz"))
        if off is not None:
            self.m.last_offset.labels(p.chain).set(off)

    def on_radio(self, d: dict, t: float) -> None:
        p = self._pass(d.get("pass_id"), d.get("chain"))
        state = d.get("state")
        if state == "starting":
            self.m.flowgraph_starts.labels(p.chain).inc()
            p.seen = {}  # a new process: its counts start from 0
        elif state == "ready":
            self.m.flowgraph_up.labels(p.chain).set(1)
        elif state in ("running", "done"):  # "done": the process's final counts, when the executor publishes them
            self._status_counts(p, d)
            lag = _number(d.get("lag_s"))
            if lag is not None:
                self.m.lag.labels(p.chain).set(lag)
        elif state == "restarting":
            self.m.flowgraph_restarts.labels(p.chain).inc()
        elif state == "stopped":
            self.m.flowgraph_up.labels(p.chain).set(0)

    def on_doppler(self, d: dict, t: float) -> None:
        p = self._pass(d.get("pass_id"))
        self.m.doppler_sent.labels(p.chain).inc()
        hz = _number(d.get("doppler_hz"))
        if hz is not None:
            self.m.doppler_hz.labels(p.chain).set(hz)

    def on_rotator(self, d: dict, t: float) -> None:
        name = self.rotator(d.get("rotator"))
        kind = d.get("kind")
        if kind == "command":
            self.m.rot_commands.labels(name).inc()
            self.m.rot_last_cmd.labels(name).set(t)
            self.m.rot_tracking.labels(name).set(1)
            az, el = _number(d.get("rot_az_deg")), _number(d.get("rot_el_deg"))
            if az is not None and el is not None:
                self.m.rot_cmd_az.labels(name).set(az)
                self.m.rot_cmd_el.labels(name).set(el)
            self._reported(name, d.get("position"))
        elif kind == "failure":
            self.m.rot_errors.labels(name).inc()
        elif kind in ("parked", "stopped"):
            self.m.rot_tracking.labels(name).set(0)
            self._reported(name, d.get("position"))

    def _reported(self, name: str, pos) -> None:
        if isinstance(pos, (list, tuple)) and len(pos) == 2:
            az, el = _number(pos[0]), _number(pos[1])
            if az is not None and el is not None:
                self.m.rot_rep_az.labels(name).set(az)
                self.m.rot_rep_el.labels(name).set(el)

    def on_warning(self, d: dict, t: float) -> None:
        self.m.station_warnings.labels(self.where(d.get("where"))).inc()
        if d.get("where") == "rotator" and "without tracking" in str(d.get("message") or ""):
            pid = d.get("pass_id")
            rec = None
            if pid is not None and self.pass_info is not None:
                try:
                    rec = self.pass_info(pid)
                except Exception:  # noqa: BLE001
                    rec = None
            if getattr(rec, "rotator", None):
                self.m.rot_tracking.labels(self.rotator(rec.rotator)).set(0)

    def on_error(self, d: dict, t: float) -> None:
        self.m.station_errors.labels(self.where(d.get("where"))).inc()


_HANDLERS: dict[str, Callable[[EventBridge, dict, float], None]] = {
    "station.state": EventBridge.on_station_state, "plan": EventBridge.on_plan,
    "pass.state": EventBridge.on_pass_state, "pass.report": EventBridge.on_pass_report,
    "frame": EventBridge.on_frame, "radio": EventBridge.on_radio, "doppler": EventBridge.on_doppler,
    "rotator": EventBridge.on_rotator, "warning": EventBridge.on_warning, "error": EventBridge.on_error,
}


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _read_report(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
