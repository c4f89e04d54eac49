"""The planner: a pure function from (tasks, blackouts, chains, passes, now) to a plan.

``plan()`` reads nothing else (no clock, no files, no randomness): the same
inputs give the same plan, entry for entry and reason for reason.

Candidates
    Every predicted pass of a task's satellite that overlaps the task's
    window and ends after ``now``. The observed span is the pass clipped to
    the window and to ``now`` (a pass already under way is observed from now).

Dropped, each with its reason recorded (``DroppedPass.reason``)
    * culmination below the task's ``min_el_deg``;
    * less than ``min_pass_duration_s`` of observable pass;
    * overlapping a blackout (the span plus the setup margin before it);
    * no chain whose frequency range covers the transmitter;
    * conflict: every fitting chain is busy (or its rotator points at another
      satellite) — the reason names who holds each chain;
    * single-pass task (``mode="once"``) already served by another pass;
    * no usable element set for the satellite (``unavailable``);
    * the operator aborted this pass of the task (``exclude``): the rest of
      it is not planned again.

Passes of one satellite less than setup_s + teardown_s apart (the satellite
briefly behind an obstacle of the horizon mask) are observed as one pass.

Conflict resolution
    Candidates are taken greedily in the order (priority descending, quality
    descending, start time, task id, NORAD id); each gets the first chain,
    in configuration order, that covers its frequency and is free over
    [start - setup_s, end + teardown_s], and whose rotator (chains sharing a
    rotator share the antenna) is idle or tracking the same satellite.
    Passes already fixed (``locked``: running, or about to start) hold their
    chains first and are never moved.

Quality score (in [0, 1], higher is better)
    q = 0.6 * min(max_el_deg / 90, 1)                 (a high pass: strong, short range)
      + 0.3 * min(observed_s / 900, 1)                (a long pass: more data, 15 min saturates)
      + 0.1 * centre                                  (close to the middle of the task's window)
    where centre = 1 - |tca - window_centre| / (window_length / 2), clipped
    to [0, 1], for a task with a window on both sides, and 0.5 otherwise.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from ..orbit.elements import iso_utc
from ..orbit.passes import Pass
from .tasks import Blackout, Task

W_ELEVATION, W_DURATION, W_CENTRE = 0.6, 0.3, 0.1
FULL_DURATION_S = 900.0


@dataclass(frozen=True)
class PlannerSettings:
    setup_s: float = 60.0
    teardown_s: float = 30.0
    min_pass_duration_s: float = 60.0

    @classmethod
    def from_config(cls, section) -> "PlannerSettings":
        return cls(section.setup_s, section.teardown_s, section.min_pass_duration_s)


@dataclass(frozen=True)
class PlannedPass:
    task_id: str
    norad: int
    transmitter: str
    freq_hz: float
    chain: str
    rotator: str | None
    aos_unix_s: float
    tca_unix_s: float
    los_unix_s: float
    max_el_deg: float
    start_unix_s: float  # observed span: the pass clipped to the task window and to "now"
    end_unix_s: float
    priority: int
    quality: float
    epoch_unix_s: float  # element set the times come from
    pass_id: str = ""  # given by the store
    locked: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = iso_utc(self.start_unix_s), iso_utc(self.end_unix_s)
        return d


@dataclass(frozen=True)
class DroppedPass:
    task_id: str
    norad: int
    aos_unix_s: float | None
    los_unix_s: float | None
    max_el_deg: float | None
    reason: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["aos"] = iso_utc(self.aos_unix_s) if self.aos_unix_s is not None else None
        return d


@dataclass
class Plan:
    now_unix_s: float
    planned: list[PlannedPass] = field(default_factory=list)
    dropped: list[DroppedPass] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"now": iso_utc(self.now_unix_s), "planned": [p.to_dict() for p in self.planned],
                "dropped": [d.to_dict() for d in self.dropped]}


def quality(p: Pass, task: Task, start_unix_s: float, end_unix_s: float) -> float:
    """The documented quality score of observing ``p`` over [start, end] for ``task``."""
    q_el = min(max(p.max_el_deg, 0.0) / 90.0, 1.0)
    q_dur = min(max(end_unix_s - start_unix_s, 0.0) / FULL_DURATION_S, 1.0)
    ws, we = task.window_start_unix_s, task.window_end_unix_s
    if ws is not None and we is not None:
        half = 0.5 * (we - ws)
        q_c = min(max(1.0 - abs(p.tca_unix_s - 0.5 * (ws + we)) / half, 0.0), 1.0)
    else:
        q_c = 0.5
    return W_ELEVATION * q_el + W_DURATION * q_dur + W_CENTRE * q_c


def _hm(t: float) -> str:
    return iso_utc(t)[11:16]


def _span(t0: float, t1: float) -> str:
    return f"{iso_utc(t0)[:16]}-{_hm(t1)} UTC"


@dataclass
class _Holder:
    start: float  # padded
    end: float
    norad: int
    what: str


class _Resources:
    def __init__(self, settings: PlannerSettings):
        self.s = settings
        self.chains: dict[str, list[_Holder]] = {}
        self.rotators: dict[str, list[_Holder]] = {}

    def pad(self, start: float, end: float) -> tuple[float, float]:
        return start - self.s.setup_s, end + self.s.teardown_s

    def blockers(self, chain, start: float, end: float, norad: int) -> list[tuple[str, str]]:
        """(holder, what it holds) for everything in the way of using ``chain`` over [start, end]."""
        a, b = self.pad(start, end)
        out = [(h.what, chain.name) for h in self.chains.get(chain.name, ()) if h.start < b and h.end > a]
        if chain.rotator:
            out += [(h.what, f"{chain.name} (rotator {chain.rotator})") for h in self.rotators.get(chain.rotator, ())
                    if h.start < b and h.end > a and h.norad != norad]
        return out

    def take(self, chain, start: float, end: float, norad: int, what: str) -> None:
        a, b = self.pad(start, end)
        self.chains.setdefault(chain.name, []).append(_Holder(a, b, norad, what))
        if chain.rotator:
            self.rotators.setdefault(chain.rotator, []).append(_Holder(a, b, norad, what))


def plan(tasks: Sequence[Task], blackouts: Sequence[Blackout], chains: Sequence, passes: Iterable[Pass],
         now_unix_s: float, locked: Sequence[PlannedPass] = (), settings: PlannerSettings = PlannerSettings(),
         unavailable: Mapping[int, str] | None = None, exclude: Sequence[PlannedPass] = ()) -> Plan:
    """Plan the observations (see the module docstring for the rules and the quality score).

    ``chains`` are objects with ``name``, ``freq_min_hz``, ``freq_max_hz`` and
    ``rotator`` (None for a fixed antenna), e.g. ``config.ChainConfig``.
    ``exclude``: passes (of a task) the operator aborted; a predicted pass of
    the same task and satellite overlapping one is dropped, not planned again.
    """
    unavailable = unavailable or {}
    excluded_by_task: dict[str, list[PlannedPass]] = {}
    for xp in exclude:
        excluded_by_task.setdefault(xp.task_id, []).append(xp)
    by_norad: dict[int, list[Pass]] = {}
    for p in passes:
        by_norad.setdefault(p.norad, []).append(p)
    gap_s = settings.setup_s + settings.teardown_s
    for n, lst in by_norad.items():
        lst.sort(key=lambda p: (p.aos_unix_s, p.los_unix_s))
        by_norad[n] = _merge_close(lst, gap_s)
    chain_by_name = {c.name: c for c in chains}
    out = Plan(now_unix_s)
    res = _Resources(settings)

    # Fixed passes hold their chains first.
    locked_by_task: dict[str, list[PlannedPass]] = {}
    for lp in sorted(locked, key=lambda x: (x.start_unix_s, x.chain, x.task_id)):
        lp = replace(lp, locked=True)
        c = chain_by_name.get(lp.chain)
        if c is not None:
            res.take(c, lp.start_unix_s, lp.end_unix_s, lp.norad, _who(lp))
        out.planned.append(lp)
        locked_by_task.setdefault(lp.task_id, []).append(lp)

    candidates = []
    for task in sorted(tasks, key=lambda t: t.task_id):
        sat_passes = by_norad.get(task.norad, [])
        if not sat_passes and task.norad in unavailable:
            out.dropped.append(DroppedPass(task.task_id, task.norad, None, None, None,
                                           f"no passes: {unavailable[task.norad]}"))
            continue
        fitting = [c for c in chains if c.freq_min_hz <= task.freq_hz <= c.freq_max_hz]
        for p in sat_passes:
            if p.los_unix_s <= now_unix_s or not task.in_window(p.aos_unix_s, p.los_unix_s):
                continue
            if any(lp.norad == p.norad and lp.start_unix_s < p.los_unix_s and lp.end_unix_s > p.aos_unix_s
                   for lp in locked_by_task.get(task.task_id, ())):
                continue  # this very pass is already fixed
            start = max(p.aos_unix_s, now_unix_s,
                        task.window_start_unix_s if task.window_start_unix_s is not None else -math.inf)
            end = min(p.los_unix_s,
                      task.window_end_unix_s if task.window_end_unix_s is not None else math.inf)

            def drop(reason: str, p=p, task=task) -> None:
                out.dropped.append(DroppedPass(task.task_id, p.norad, p.aos_unix_s, p.los_unix_s,
                                               p.max_el_deg, reason))

            gone = [xp for xp in excluded_by_task.get(task.task_id, ())
                    if xp.norad == p.norad and xp.aos_unix_s < p.los_unix_s and xp.los_unix_s > p.aos_unix_s]
            if gone:
                drop(f"the operator aborted this pass ({gone[0].pass_id}): the rest of it is not planned again")
                continue
            if p.max_el_deg < task.min_el_deg:
                drop(f"culmination {p.max_el_deg:.1f}° is below the task's minimum {task.min_el_deg:g}°")
                continue
            if end - start < settings.min_pass_duration_s:
                what = "of the pass left" if start > p.aos_unix_s else "long"
                drop(f"only {end - start:.0f} s {what} (minimum {settings.min_pass_duration_s:g} s)")
                continue
            pad_a, pad_b = start - settings.setup_s, end + settings.teardown_s
            hit = [b for b in blackouts if b.overlaps(pad_a, pad_b)]
            if hit:
                b = min(hit, key=lambda x: (x.start_unix_s, x.blackout_id))
                why = f" ({b.reason})" if b.reason else ""
                drop(f"blackout {b.blackout_id}{why} {_span(b.start_unix_s, b.end_unix_s)}")
                continue
            if not fitting:
                ranges = ", ".join(f"{c.name} {c.freq_min_hz / 1e6:g}-{c.freq_max_hz / 1e6:g} MHz" for c in chains)
                drop(f"no chain covers {task.freq_hz / 1e6:.4f} MHz ({ranges or 'no chains'})")
                continue
            q = quality(p, task, start, end)
            candidates.append((task, p, start, end, q, fitting))

    candidates.sort(key=lambda c: (-c[0].priority, -c[4], c[2], c[0].task_id, c[1].norad, c[1].aos_unix_s))
    served: dict[str, PlannedPass] = {lp.task_id: lp for lp in locked if lp.task_id}
    for task, p, start, end, q, fitting in candidates:
        if task.mode == "once" and task.task_id in served:
            s = served[task.task_id]
            out.dropped.append(DroppedPass(task.task_id, p.norad, p.aos_unix_s, p.los_unix_s, p.max_el_deg,
                                           f"single-pass task: served by the pass at {iso_utc(s.aos_unix_s)[:16]} UTC"))
            continue
        held: dict[str, dict[str, str]] = {}  # holder -> {chain: what it holds}
        chosen = None
        for c in fitting:
            b = res.blockers(c, start, end, p.norad)
            if not b:
                chosen = c
                break
            for who, what in b:
                held.setdefault(who, {}).setdefault(c.name, what)
        if chosen is None:
            why = "; ".join(f"{who} holds {', '.join(what.values())}" for who, what in held.items())
            out.dropped.append(DroppedPass(task.task_id, p.norad, p.aos_unix_s, p.los_unix_s, p.max_el_deg,
                                           f"conflict: {why}"))
            continue
        pp = PlannedPass(task.task_id, p.norad, task.transmitter, task.freq_hz, chosen.name, chosen.rotator,
                         p.aos_unix_s, p.tca_unix_s, p.los_unix_s, p.max_el_deg, start, end, task.priority,
                         round(q, 6), p.epoch_unix_s)
        res.take(chosen, start, end, p.norad, _who(pp))
        out.planned.append(pp)
        served.setdefault(task.task_id, pp)

    out.planned.sort(key=lambda x: (x.start_unix_s, x.chain, x.task_id))
    out.dropped.sort(key=lambda d: (d.aos_unix_s if d.aos_unix_s is not None else -math.inf, d.task_id, d.norad))
    return out


def _merge_close(passes: list[Pass], gap_s: float) -> list[Pass]:
    """Join passes of one satellite less than ``gap_s`` apart (briefly hidden by the horizon mask)."""
    out: list[Pass] = []
    for p in passes:
        if out and p.aos_unix_s - out[-1].los_unix_s < gap_s:
            q = out[-1]
            top = q if q.max_el_deg >= p.max_el_deg else p
            out[-1] = replace(q, los_unix_s=p.los_unix_s, los_az_deg=p.los_az_deg, los_truncated=p.los_truncated,
                              tca_unix_s=top.tca_unix_s, tca_az_deg=top.tca_az_deg, max_el_deg=top.max_el_deg)
        else:
            out.append(p)
    return out


def _who(pp: PlannedPass) -> str:
    return (f"task {pp.task_id} (priority {pp.priority}, quality {pp.quality:.2f}) NORAD {pp.norad} "
            f"{_span(pp.start_unix_s, pp.end_unix_s)}")
