"""Scheduling: tasks, blackouts, chains and predicted passes in; a persisted plan out.

Contract:

* In: ``Task`` (observe a catalog transmitter of a NORAD id on all its
  passes or once, priority, minimum elevation, window, recording options)
  and ``Blackout`` (``tasks.py``); the station's chains (``config.ChainConfig``:
  frequency range, rotator); predicted ``orbit.Pass`` es.
* ``planner.plan(...)`` is a pure function of (tasks, blackouts, chains,
  passes, now, fixed passes): same inputs, same plan. Conflicts go by
  priority, then the documented quality score; every dropped pass carries
  its reason.
* ``ScheduleStore`` (``store.py``, SQLite in WAL mode) keeps tasks, blackouts,
  planned passes and their life cycle (``lifecycle.py``: planned, pre-pass,
  in-pass, post-pass, completed, failed, cancelled, interrupted; reasons and
  every transition recorded). ``recover_after_restart(now)`` marks passes
  that were running when the station stopped as interrupted.
* ``PlanningService`` (``service.py``) ties element sets, tasks and the store
  together and replans incrementally after a new element set, task or
  blackout. The executor and the control plane use it and the store.
* ``clock.py``: the ``Clock`` protocol (``now()``, ``sleep_until()``),
  ``RealClock`` and ``SimClock`` (instant or faster than real time).
* Times are UTC Unix seconds (``*_unix_s``); frequencies in Hz; angles in degrees.
"""
from .clock import Clock, RealClock, SimClock
from .lifecycle import ACTIVE, FINAL, PassState, check_transition
from .planner import DroppedPass, Plan, PlannedPass, PlannerSettings, plan, quality
from .service import PlanningService, ReplanResult
from .store import PassRecord, PlanDiff, ScheduleStore, TaskRecord
from .tasks import Blackout, RecordingOptions, Task, tasks_from_config

__all__ = [
    "Clock", "RealClock", "SimClock", "ACTIVE", "FINAL", "PassState", "check_transition", "DroppedPass", "Plan",
    "PlannedPass", "PlannerSettings", "plan", "quality", "PlanningService", "ReplanResult", "PassRecord",
    "PlanDiff", "ScheduleStore", "TaskRecord", "Blackout", "RecordingOptions", "Task", "tasks_from_config",
]
