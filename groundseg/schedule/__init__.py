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
  together and replans incrementally after a new element set, task, task
  priority (``set_priority``) or blackout. The executor and the control
  plane use it and the store.
* ``PassExecutor`` (``executor.py``) flies one planned pass at a time, from
  set-up to release: the pass's IQ source, the flowgraph child process,
  Doppler corrections, rotator tracking, per-pass artifacts and report, and
  a final state with its reason whatever fails. Frames go to its
  ``frame_hook`` (the gateway's outbox) before anything else. Each pass
  has its own cancel event: ``abort`` ends that pass only.
* ``supervisor.py``: ``ChildProcess`` runs and watches the flowgraph child
  (``flowgraphs/pass_runner.py``: its JSON-lines protocol on stdout,
  heartbeats, stop then interrupt then kill, a pidfile) and
  ``reap_orphans`` kills children a crashed station left behind.
* ``lifecycle.py``: the pass states and their allowed transitions.
* ``clock.py``: the ``Clock`` protocol (``now()``, ``sleep_until()``),
  ``RealClock`` and ``SimClock`` (instant or faster than real time; it can
  be paused while the station plans or synthesises a pass's signal).
* Times are UTC Unix seconds (``*_unix_s``); frequencies in Hz; angles in degrees.

Interrupted passes and re-planning: a pass the operator aborts
(``Station.abort_pass``) ends ``interrupted`` and is recorded
(``ScheduleStore.mark_no_replan``): the planner does not plan the rest of it
again. A pass interrupted because the station stopped or died
(``recover_after_restart`` after a restart) is not recorded: at the next
plan the rest of it is planned and flown again if it is still at least
``min_pass_duration_s`` long (more data for the operator). Either way the
interrupted pass keeps its id, artifacts and state; the remainder is a new
pass.
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
