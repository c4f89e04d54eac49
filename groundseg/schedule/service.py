"""The planning service: element sets + tasks + the store, kept planned.

This is the object the executor and the control plane hold. It owns no
thread: callers say when to replan (after a change, and periodically to
extend the horizon), passing the time or letting the clock give it.

Incremental replanning: passes are predicted per satellite and cached with
the epoch of the element set they came from; a replan recomputes only the
satellites whose set changed, that are new, or whose cached span no longer
covers the horizon. The plan itself is recomputed whole (it is a pure and
cheap function) and ``ScheduleStore.apply_plan`` writes only the differences.
Pass times do not depend on the search span (the search grid is anchored to
absolute time), so cached and fresh predictions are identical and replanning
is deterministic.

Passes that are running, or planned to start within ``freeze_s``, are fixed:
the planner works around them. A pass the operator aborted is not planned
again (``ScheduleStore.no_replan_passes``); a pass interrupted because the
station stopped or died is: after a restart the rest of it is planned and
flown if it is still at least ``min_pass_duration_s`` long (more data for
the operator).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from ..errors import InputError
from ..orbit.passes import Pass, find_passes
from ..orbit.store import TLEStore, UpdateReport
from .clock import Clock, RealClock
from .lifecycle import ACTIVE, PassState
from .planner import Plan, PlannerSettings, plan
from .store import DB_NAME, PlanDiff, ScheduleStore
from .tasks import Blackout, Task, tasks_from_config

CACHE_MARGIN_S = 6 * 3600.0  # predict this much beyond the horizon so later replans reuse it


@dataclass
class _Cached:
    epoch_unix_s: float
    start_unix_s: float
    end_unix_s: float
    passes: list[Pass]
    problem: str | None = None


@dataclass
class ReplanResult:
    plan: Plan
    diff: PlanDiff
    recomputed: list[int] = field(default_factory=list)  # satellites whose passes were predicted anew
    stale: list[tuple[int, float]] = field(default_factory=list)  # (NORAD, age in days) of stale sets used


class PlanningService:
    def __init__(self, config, store: ScheduleStore | None = None, tles: TLEStore | None = None,
                 catalog=None, clock: Clock | None = None):
        self.config = config
        self.clock = clock if clock is not None else RealClock()
        if catalog is None:
            from ..catalog import load_catalog

            catalog = load_catalog()
        self.catalog = catalog
        self.station = config.ground_station()
        self.mask = config.horizon_mask()
        self.settings = PlannerSettings.from_config(config.planner)
        self.store = store if store is not None else ScheduleStore(config.state_dir / DB_NAME)
        self.tles = tles if tles is not None else TLEStore(
            config.state_dir / "elements.json", stale_after_s=config.orbit.stale_after_days * 86400.0)
        self._cache: dict[int, _Cached] = {}
        self._lock = threading.RLock()
        self.last_replan: ReplanResult | None = None
        self.tles.subscribe(self._forget)

    # --- start-up -------------------------------------------------------------

    def start(self, now_unix_s: float | None = None) -> dict:
        """Recover after a restart, load the configured element sets and standing tasks, replan."""
        now = self._now(now_unix_s)
        recovered = self.store.recover_after_restart(now)
        reports = self.load_tle_files(now)
        standing = tasks_from_config(self.config, self.catalog)
        for t in standing:
            self.store.add_task(t, now, replace=True)  # a task cancelled by the operator stays cancelled
        ids = {t.task_id for t in standing}
        for tr in self.store.tasks(("active",)):
            if tr.task.source == "config" and tr.task.task_id not in ids:
                self.store.cancel_task(tr.task.task_id, "removed from the station configuration", now)
        result = self.replan(now)
        return {"recovered": {k: v.value for k, v in recovered.items()}, "tle_reports": reports,
                "replan": result}

    def load_tle_files(self, now_unix_s: float | None = None) -> list[UpdateReport]:
        now = self._now(now_unix_s)
        out = []
        for p in self.config.tle_paths():
            out.append(self.tles.update_from_file(p, now))
        return out

    # --- changes (each followed by a replan) -----------------------------------

    def update_elements(self, text: str, source: str = "control-plane", now_unix_s: float | None = None,
                        strict: bool = True) -> UpdateReport:
        now = self._now(now_unix_s)
        rep = self.tles.update_from_text(text, now, source, strict=strict)
        if rep.changed:
            self.replan(now)
        return rep

    def add_task(self, task: Task | dict, now_unix_s: float | None = None) -> Task:
        now = self._now(now_unix_s)
        if isinstance(task, dict):
            task = Task.from_dict(task, self.catalog)
        if not any(c.covers(task.freq_hz) for c in self.config.chains):
            raise InputError(f"task {task.task_id}: no chain covers {task.freq_hz / 1e6:.4f} MHz")
        self.store.add_task(task, now)
        self.replan(now)
        return task

    def set_priority(self, task_id: str, priority: int, now_unix_s: float | None = None) -> Task:
        """Change an active task's priority (0-100) and replan; the task as stored.

        ``InputError`` for an unknown task, a task that is not active or a bad priority.
        """
        now = self._now(now_unix_s)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 100:
            raise InputError(f"task {task_id}: priority {priority!r} must be a whole number from 0 to 100")
        tr = self.store.get_task(task_id)
        if tr.state != "active":
            raise InputError(f"task {task_id!r} is {tr.state}: only an active task can change")
        task = replace(tr.task, priority=priority)
        self.store.add_task(task, now, replace=True)
        self.replan(now)
        return task

    def cancel_task(self, task_id: str, reason: str, now_unix_s: float | None = None) -> list[str]:
        now = self._now(now_unix_s)
        ids = self.store.cancel_task(task_id, reason, now)
        self.replan(now)
        return ids

    def add_blackout(self, blackout: Blackout | dict, now_unix_s: float | None = None) -> Blackout:
        now = self._now(now_unix_s)
        if isinstance(blackout, dict):
            blackout = Blackout.from_dict(blackout)
        self.store.add_blackout(blackout)
        self.replan(now)
        return blackout

    def remove_blackout(self, blackout_id: str, now_unix_s: float | None = None) -> None:
        now = self._now(now_unix_s)
        self.store.remove_blackout(blackout_id)
        self.replan(now)

    # --- prediction -------------------------------------------------------------

    def _now(self, t: float | None) -> float:
        return self.clock.now() if t is None else float(t)

    def _forget(self, norads: list[int]) -> None:
        with self._lock:
            for n in norads:
                self._cache.pop(n, None)

    def passes(self, norads: list[int], start_unix_s: float, end_unix_s: float) -> tuple[list[Pass], dict[int, str], list[int]]:
        """Passes of these satellites overlapping [start, end): (passes, problems, recomputed NORAD ids)."""
        with self._lock:
            problems: dict[int, str] = {}
            todo = []
            for n in sorted(set(norads)):
                if n not in self.tles:
                    problems[n] = f"no element set for NORAD {n}"
                    continue
                es = self.tles.get(n)
                c = self._cache.get(n)
                if (c is None or c.epoch_unix_s != es.epoch_unix_s or c.start_unix_s > start_unix_s
                        or c.end_unix_s < end_unix_s):
                    todo.append(es)
            if todo:
                a, b = start_unix_s, end_unix_s + CACHE_MARGIN_S
                res = find_passes(todo, self.station, a, b, mask=self.mask, step_s=self.config.orbit.search_step_s)
                for es in todo:
                    self._cache[es.norad] = _Cached(es.epoch_unix_s, a, b, res.for_norad(es.norad),
                                                    res.problems.get(es.norad))
            out = []
            for n in sorted(set(norads)):
                c = self._cache.get(n)
                if c is None:
                    continue
                if c.problem:
                    problems[n] = c.problem
                out += [p for p in c.passes if p.overlaps(start_unix_s, end_unix_s)]
            out.sort(key=lambda p: (p.aos_unix_s, p.norad))
            return out, problems, [es.norad for es in todo]

    # --- planning ---------------------------------------------------------------

    def compute_plan(self, now_unix_s: float | None = None) -> tuple[Plan, list[int]]:
        """The plan for [now, now + horizon] from the stored state (nothing is written)."""
        now = self._now(now_unix_s)
        horizon_s = self.config.planner.horizon_hours * 3600.0
        tasks = self.store.active_tasks()
        passes, problems, recomputed = self.passes([t.norad for t in tasks], now, now + horizon_s)
        fixed = [p.as_planned(locked=True) for p in self.store.passes(ACTIVE)]
        freeze_until = now + self.config.planner.freeze_s
        fixed += [p.as_planned(locked=True) for p in self.store.passes([PassState.PLANNED], start_unix_s=now)
                  if p.start_unix_s <= freeze_until]
        aborted = [p.as_planned() for p in self.store.no_replan_passes(end_after_unix_s=now)]
        result = plan(tasks, self.store.blackouts(), self.config.chains, passes, now, locked=fixed,
                      settings=self.settings, unavailable=problems, exclude=aborted)
        return result, recomputed

    def replan(self, now_unix_s: float | None = None) -> ReplanResult:
        with self._lock:
            now = self._now(now_unix_s)
            p, recomputed = self.compute_plan(now)
            diff = self.store.apply_plan(p, now)
            norads = {t.norad for t in self.store.active_tasks()}
            stale = [(n, age) for n, age in self.tles.stale(now) if n in norads]
            self.last_replan = ReplanResult(p, diff, recomputed, stale)
            return self.last_replan
