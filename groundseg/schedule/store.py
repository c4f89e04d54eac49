"""The schedule's state in SQLite (WAL): tasks, blackouts, planned passes and their life cycle.

One database file in the station's state directory. Every change is one
transaction, so a crash leaves either the old or the new state; WAL mode
lets the control plane read while the executor writes. Threads may share
one ``ScheduleStore`` (calls are serialised by a lock).

Tables
    tasks        task definition + state (active, done, cancelled) and reason
    blackouts    quiet windows
    passes       planned passes with their life-cycle state and last reason
    pass_events  every state change: time, from, to, reason
    dropped      the passes the latest plan left out, with the reason
    no_replan    passes the operator aborted: the planner does not plan the
                 rest of them again (``mark_no_replan``)
    meta         schema version, plan revision, time of the last plan

After a restart call ``recover_after_restart(now)``: a pass that was running
(pre-pass, in-pass, post-pass) when the station died becomes
``interrupted``; a planned pass whose end went by unobserved becomes
``failed`` (missed); the next ones stay planned and run.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import pathlib
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Iterable, Iterator

from ..errors import InputError
from ..orbit.elements import iso_utc
from .lifecycle import ACTIVE, PassState, check_transition, parse_state
from .planner import DroppedPass, Plan, PlannedPass
from .tasks import Blackout, RecordingOptions, Task

SCHEMA_VERSION = 1
DB_NAME = "schedule.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    norad INTEGER NOT NULL,
    transmitter TEXT NOT NULL,
    freq_hz REAL NOT NULL,
    priority INTEGER NOT NULL,
    min_el_deg REAL NOT NULL,
    mode TEXT NOT NULL,
    window_start_unix_s REAL,
    window_end_unix_s REAL,
    recording TEXT NOT NULL,
    source TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'active',
    reason TEXT NOT NULL DEFAULT '',
    created_unix_s REAL NOT NULL,
    updated_unix_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS blackouts (
    blackout_id TEXT PRIMARY KEY,
    start_unix_s REAL NOT NULL,
    end_unix_s REAL NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passes (
    pass_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    norad INTEGER NOT NULL,
    transmitter TEXT NOT NULL,
    freq_hz REAL NOT NULL,
    chain TEXT NOT NULL,
    rotator TEXT,
    aos_unix_s REAL NOT NULL,
    tca_unix_s REAL NOT NULL,
    los_unix_s REAL NOT NULL,
    max_el_deg REAL NOT NULL,
    start_unix_s REAL NOT NULL,
    end_unix_s REAL NOT NULL,
    priority INTEGER NOT NULL,
    quality REAL NOT NULL,
    epoch_unix_s REAL NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_unix_s REAL NOT NULL,
    updated_unix_s REAL NOT NULL,
    plan_rev INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passes_by_state ON passes(state, start_unix_s);
CREATE TABLE IF NOT EXISTS pass_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pass_id TEXT NOT NULL REFERENCES passes(pass_id),
    t_unix_s REAL NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS no_replan (
    pass_id TEXT PRIMARY KEY REFERENCES passes(pass_id),
    t_unix_s REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS dropped (
    plan_rev INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    norad INTEGER NOT NULL,
    aos_unix_s REAL,
    los_unix_s REAL,
    max_el_deg REAL,
    reason TEXT NOT NULL
);
"""

TASK_STATES = ("active", "done", "cancelled")


@dataclass(frozen=True)
class PassRecord:
    """A stored pass: the planned observation plus its life-cycle state."""

    pass_id: str
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
    start_unix_s: float
    end_unix_s: float
    priority: int
    quality: float
    epoch_unix_s: float
    state: PassState
    reason: str
    created_unix_s: float
    updated_unix_s: float
    plan_rev: int

    def as_planned(self, locked: bool = False) -> PlannedPass:
        names = {f.name for f in fields(PlannedPass)}
        return PlannedPass(**{k: getattr(self, k) for k in names if k != "locked"}, locked=locked)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["state"] = self.state.value
        d["start"], d["end"] = iso_utc(self.start_unix_s), iso_utc(self.end_unix_s)
        return d


@dataclass(frozen=True)
class TaskRecord:
    task: Task
    state: str
    reason: str
    created_unix_s: float
    updated_unix_s: float


@dataclass
class PlanDiff:
    plan_rev: int
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    cancelled: list[str]
    missed: list[str]

    def summary(self) -> str:
        return (f"plan {self.plan_rev}: {len(self.added)} added, {len(self.updated)} moved, "
                f"{len(self.unchanged)} unchanged, {len(self.cancelled)} cancelled, {len(self.missed)} missed")


def _id_time(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, tz=_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")


class ScheduleStore:
    def __init__(self, path: str | os.PathLike):
        p = pathlib.Path(path)
        if p.is_dir() or str(path).endswith(os.sep):
            p = p / DB_NAME
        self.path = p
        try:
            if str(path) != ":memory:":
                p.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False, timeout=10.0)
            self._db.row_factory = sqlite3.Row
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as e:
            raise InputError(f"{p}: cannot open the schedule database: {e}") from None
        self.journal_mode = mode
        self._lock = threading.RLock()
        ver = self._meta("schema_version")
        if ver is None:
            self._set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(ver) != SCHEMA_VERSION:
            raise InputError(f"{p}: schedule database schema {ver}, this version reads {SCHEMA_VERSION}")

    @classmethod
    def snapshot(cls, path: str | os.PathLike) -> "ScheduleStore":
        """An in-memory copy of the database at ``path`` (empty if there is none): for dry runs."""
        p = pathlib.Path(path)
        if p.is_dir():
            p = p / DB_NAME
        mem = cls(":memory:")
        if p.is_file():
            try:
                src = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
                with mem._lock:
                    src.backup(mem._db)
                src.close()
            except sqlite3.DatabaseError as e:
                raise InputError(f"{p}: cannot read the schedule database: {e}") from None
        return mem

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- plumbing --------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str, db=None) -> None:
        (db or self._db).execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET "
                                 "value=excluded.value", (key, value))

    @property
    def plan_rev(self) -> int:
        with self._lock:
            return int(self._meta("plan_rev") or 0)

    # --- tasks -----------------------------------------------------------------

    def add_task(self, task: Task, now_unix_s: float, replace: bool = False) -> None:
        """Store a task. An existing id is an error unless ``replace`` (then it is updated, state kept)."""
        rec = json.dumps({f.name: getattr(task.recording, f.name) for f in fields(RecordingOptions)})
        vals = (task.norad, task.transmitter, task.freq_hz, task.priority, task.min_el_deg, task.mode,
                task.window_start_unix_s, task.window_end_unix_s, rec, task.source)
        with self._tx() as db:
            row = db.execute("SELECT state FROM tasks WHERE task_id=?", (task.task_id,)).fetchone()
            if row is not None and not replace:
                raise InputError(f"task {task.task_id!r} already exists ({row[0]})")
            if row is None:
                db.execute("INSERT INTO tasks(task_id, norad, transmitter, freq_hz, priority, min_el_deg, mode, "
                           "window_start_unix_s, window_end_unix_s, recording, source, created_unix_s, "
                           "updated_unix_s) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (task.task_id, *vals, now_unix_s, now_unix_s))
            else:
                db.execute("UPDATE tasks SET norad=?, transmitter=?, freq_hz=?, priority=?, min_el_deg=?, mode=?, "
                           "window_start_unix_s=?, window_end_unix_s=?, recording=?, source=?, updated_unix_s=? "
                           "WHERE task_id=?", (*vals, now_unix_s, task.task_id))

    def _task_from_row(self, r: sqlite3.Row) -> TaskRecord:
        rec = RecordingOptions(**json.loads(r["recording"]))
        t = Task(r["task_id"], r["norad"], r["transmitter"], r["freq_hz"], r["priority"], r["min_el_deg"],
                 r["mode"], r["window_start_unix_s"], r["window_end_unix_s"], rec, r["source"])
        return TaskRecord(t, r["state"], r["reason"], r["created_unix_s"], r["updated_unix_s"])

    def get_task(self, task_id: str) -> TaskRecord:
        with self._lock:
            r = self._db.execute("SELECT * FROM tasks WHERE task_id=?", (task_id,)).fetchone()
        if r is None:
            raise InputError(f"no task {task_id!r}")
        return self._task_from_row(r)

    def tasks(self, states: Iterable[str] = ("active",)) -> list[TaskRecord]:
        states = tuple(states)
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM tasks WHERE state IN ({','.join('?' * len(states))}) "
                                    "ORDER BY task_id", states).fetchall()
        return [self._task_from_row(r) for r in rows]

    def active_tasks(self) -> list[Task]:
        return [tr.task for tr in self.tasks(("active",))]

    def cancel_task(self, task_id: str, reason: str, now_unix_s: float) -> list[str]:
        """Cancel a task and its passes that have not started; returns the cancelled pass ids."""
        if not reason.strip():
            raise InputError("cancelling a task needs a reason")
        self.get_task(task_id)
        with self._tx() as db:
            db.execute("UPDATE tasks SET state='cancelled', reason=?, updated_unix_s=? WHERE task_id=?",
                       (reason, now_unix_s, task_id))
            ids = [r[0] for r in db.execute("SELECT pass_id FROM passes WHERE task_id=? AND state=?",
                                            (task_id, PassState.PLANNED.value))]
            for pid in ids:
                self._set_state(db, pid, PassState.PLANNED, PassState.CANCELLED,
                                f"task {task_id} cancelled: {reason}", now_unix_s)
        return ids

    # --- blackouts -------------------------------------------------------------

    def add_blackout(self, b: Blackout) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM blackouts WHERE blackout_id=?", (b.blackout_id,)).fetchone():
                raise InputError(f"blackout {b.blackout_id!r} already exists")
            db.execute("INSERT INTO blackouts VALUES(?,?,?,?)", (b.blackout_id, b.start_unix_s, b.end_unix_s,
                                                                  b.reason))

    def remove_blackout(self, blackout_id: str) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM blackouts WHERE blackout_id=?", (blackout_id,)).rowcount == 0:
                raise InputError(f"no blackout {blackout_id!r}")

    def blackouts(self) -> list[Blackout]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM blackouts ORDER BY start_unix_s, blackout_id").fetchall()
        return [Blackout(r["blackout_id"], r["start_unix_s"], r["end_unix_s"], r["reason"]) for r in rows]

    # --- passes ----------------------------------------------------------------

    def _pass_from_row(self, r: sqlite3.Row) -> PassRecord:
        d = dict(r)
        d["state"] = PassState(d["state"])
        return PassRecord(**d)

    def get_pass(self, pass_id: str) -> PassRecord:
        with self._lock:
            r = self._db.execute("SELECT * FROM passes WHERE pass_id=?", (pass_id,)).fetchone()
        if r is None:
            raise InputError(f"no pass {pass_id!r}")
        return self._pass_from_row(r)

    def passes(self, states: Iterable[str | PassState] | None = None, start_unix_s: float | None = None,
               end_unix_s: float | None = None) -> list[PassRecord]:
        """Passes by start time, optionally only in some states and overlapping [start, end)."""
        q, args = "SELECT * FROM passes WHERE 1=1", []
        if states is not None:
            st = [parse_state(s).value for s in states]
            q += f" AND state IN ({','.join('?' * len(st))})"
            args += st
        if start_unix_s is not None:
            q += " AND end_unix_s > ?"
            args.append(start_unix_s)
        if end_unix_s is not None:
            q += " AND start_unix_s < ?"
            args.append(end_unix_s)
        with self._lock:
            rows = self._db.execute(q + " ORDER BY start_unix_s, chain, pass_id", args).fetchall()
        return [self._pass_from_row(r) for r in rows]

    def next_passes(self, now_unix_s: float, limit: int = 10) -> list[PassRecord]:
        """Planned passes that have not ended, soonest first (what the executor runs next)."""
        return self.passes([PassState.PLANNED], start_unix_s=now_unix_s)[:limit]

    def events(self, pass_id: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT t_unix_s, from_state, to_state, reason FROM pass_events "
                                    "WHERE pass_id=? ORDER BY id", (pass_id,)).fetchall()
        return [dict(r) for r in rows]

    def _set_state(self, db, pass_id: str, cur: PassState | None, new: PassState, reason: str, now: float) -> None:
        db.execute("UPDATE passes SET state=?, reason=?, updated_unix_s=? WHERE pass_id=?",
                   (new.value, reason, now, pass_id))
        db.execute("INSERT INTO pass_events(pass_id, t_unix_s, from_state, to_state, reason) VALUES(?,?,?,?,?)",
                   (pass_id, now, cur.value if cur else None, new.value, reason))

    def transition(self, pass_id: str, new_state: str | PassState, now_unix_s: float, reason: str = "") -> PassRecord:
        """Move a pass along its life cycle (``InputError`` if the move is not allowed)."""
        with self._tx() as db:
            r = db.execute("SELECT state, task_id FROM passes WHERE pass_id=?", (pass_id,)).fetchone()
            if r is None:
                raise InputError(f"no pass {pass_id!r}")
            cur = PassState(r["state"])
            new = check_transition(cur, new_state, reason)
            self._set_state(db, pass_id, cur, new, reason, now_unix_s)
            if new is PassState.COMPLETED:
                db.execute("UPDATE tasks SET state='done', reason=?, updated_unix_s=? WHERE task_id=? AND "
                           "mode='once' AND state='active'", (f"served by pass {pass_id}", now_unix_s, r["task_id"]))
        return self.get_pass(pass_id)

    def mark_no_replan(self, pass_id: str, reason: str, now_unix_s: float) -> None:
        """Record that the rest of this pass must not be planned again (the operator aborted it)."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM passes WHERE pass_id=?", (pass_id,)).fetchone() is None:
                raise InputError(f"no pass {pass_id!r}")
            db.execute("INSERT OR REPLACE INTO no_replan(pass_id, t_unix_s, reason) VALUES(?,?,?)",
                       (pass_id, now_unix_s, reason))

    def no_replan_passes(self, end_after_unix_s: float | None = None) -> list[PassRecord]:
        """Passes marked not to be planned again (``mark_no_replan``), optionally only those ending later."""
        q = "SELECT p.* FROM passes p JOIN no_replan n ON n.pass_id = p.pass_id"
        args: list = []
        if end_after_unix_s is not None:
            q += " WHERE p.los_unix_s > ?"
            args.append(end_after_unix_s)
        with self._lock:
            rows = self._db.execute(q + " ORDER BY p.start_unix_s, p.pass_id", args).fetchall()
        return [self._pass_from_row(r) for r in rows]

    def recover_after_restart(self, now_unix_s: float) -> dict[str, PassState]:
        """Mark passes cut short by a station stop; returns {pass_id: new state}."""
        out: dict[str, PassState] = {}
        when = iso_utc(now_unix_s)
        with self._tx() as db:
            for r in db.execute("SELECT pass_id, state FROM passes WHERE state IN (?,?,?)",
                                tuple(s.value for s in ACTIVE)).fetchall():
                cur = PassState(r["state"])
                self._set_state(db, r["pass_id"], cur, PassState.INTERRUPTED,
                                f"station restarted at {when} UTC while the pass was {cur.value}", now_unix_s)
                out[r["pass_id"]] = PassState.INTERRUPTED
            out.update(self._mark_missed(db, now_unix_s))
        return out

    def _mark_missed(self, db, now: float) -> dict[str, PassState]:
        out = {}
        for r in db.execute("SELECT pass_id FROM passes WHERE state=? AND end_unix_s <= ?",
                            (PassState.PLANNED.value, now)).fetchall():
            self._set_state(db, r["pass_id"], PassState.PLANNED, PassState.FAILED,
                            "missed: never started before the pass ended (station not running?)", now)
            out[r["pass_id"]] = PassState.FAILED
        return out

    # --- plans -----------------------------------------------------------------

    def apply_plan(self, plan: Plan, now_unix_s: float) -> PlanDiff:
        """Make the stored passes match a new plan, changing only what differs.

        A new entry that matches a stored planned pass (same task and
        satellite, overlapping pass times) keeps that pass's id and is updated
        in place; stored planned passes the plan no longer contains are
        cancelled with the reason the plan dropped them for.
        """
        now = now_unix_s
        with self._tx() as db:
            rev = int(self._meta("plan_rev") or 0) + 1
            self._set_meta("plan_rev", str(rev), db)
            self._set_meta("last_plan_unix_s", repr(now), db)
            missed = list(self._mark_missed(db, now))
            old = [self._pass_from_row(r) for r in db.execute(
                "SELECT * FROM passes WHERE state=? ORDER BY start_unix_s, pass_id", (PassState.PLANNED.value,))]
            taken: set[str] = set()
            added, updated, unchanged = [], [], []
            for pp in plan.planned:
                if pp.locked:
                    taken.add(pp.pass_id)  # fixed: left exactly as it is
                    continue
                match = None
                for o in old:
                    if (o.pass_id not in taken and o.task_id == pp.task_id and o.norad == pp.norad
                            and o.aos_unix_s < pp.los_unix_s and o.los_unix_s > pp.aos_unix_s):
                        if match is None or abs(o.aos_unix_s - pp.aos_unix_s) < abs(match.aos_unix_s - pp.aos_unix_s):
                            match = o
                vals = (pp.transmitter, pp.freq_hz, pp.chain, pp.rotator, pp.aos_unix_s, pp.tca_unix_s,
                        pp.los_unix_s, pp.max_el_deg, pp.start_unix_s, pp.end_unix_s, pp.priority, pp.quality,
                        pp.epoch_unix_s)
                if match is not None:
                    taken.add(match.pass_id)
                    before = (match.transmitter, match.freq_hz, match.chain, match.rotator, match.aos_unix_s,
                              match.tca_unix_s, match.los_unix_s, match.max_el_deg, match.start_unix_s,
                              match.end_unix_s, match.priority, match.quality, match.epoch_unix_s)
                    if before == vals:
                        unchanged.append(match.pass_id)
                        continue
                    db.execute("UPDATE passes SET transmitter=?, freq_hz=?, chain=?, rotator=?, aos_unix_s=?, "
                               "tca_unix_s=?, los_unix_s=?, max_el_deg=?, start_unix_s=?, end_unix_s=?, priority=?, "
                               "quality=?, epoch_unix_s=?, updated_unix_s=?, plan_rev=? WHERE pass_id=?",
                               (*vals, now, rev, match.pass_id))
                    updated.append(match.pass_id)
                    continue
                pid = base = f"{pp.task_id}-{pp.norad}-{_id_time(pp.aos_unix_s)}"
                k = 2
                while db.execute("SELECT 1 FROM passes WHERE pass_id=?", (pid,)).fetchone():
                    pid, k = f"{base}-{k}", k + 1
                db.execute("INSERT INTO passes(pass_id, task_id, norad, transmitter, freq_hz, chain, rotator, "
                           "aos_unix_s, tca_unix_s, los_unix_s, max_el_deg, start_unix_s, end_unix_s, priority, "
                           "quality, epoch_unix_s, state, reason, created_unix_s, updated_unix_s, plan_rev) "
                           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (pid, pp.task_id, pp.norad, *vals, PassState.PLANNED.value, "", now, now, rev))
                db.execute("INSERT INTO pass_events(pass_id, t_unix_s, from_state, to_state, reason) "
                           "VALUES(?,?,?,?,?)", (pid, now, None, PassState.PLANNED.value, f"plan {rev}"))
                added.append(pid)
            cancelled = []
            for o in old:
                if o.pass_id in taken or o.pass_id in missed:
                    continue
                why = next((d.reason for d in plan.dropped if d.task_id == o.task_id and d.norad == o.norad
                            and d.aos_unix_s is not None and d.aos_unix_s < o.los_unix_s
                            and d.los_unix_s > o.aos_unix_s), None)
                if why is None:
                    why = next((d.reason for d in plan.dropped if d.task_id == o.task_id and d.aos_unix_s is None),
                               "the pass is no longer in the plan (task gone or pass no longer predicted)")
                self._set_state(db, o.pass_id, PassState.PLANNED, PassState.CANCELLED, f"replanned: {why}", now)
                cancelled.append(o.pass_id)
            db.execute("DELETE FROM dropped")
            db.executemany("INSERT INTO dropped VALUES(?,?,?,?,?,?,?)",
                           [(rev, d.task_id, d.norad, d.aos_unix_s, d.los_unix_s, d.max_el_deg, d.reason)
                            for d in plan.dropped])
        return PlanDiff(rev, added, updated, unchanged, cancelled, missed)

    def dropped(self) -> list[DroppedPass]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM dropped ORDER BY aos_unix_s, task_id, norad").fetchall()
        return [DroppedPass(r["task_id"], r["norad"], r["aos_unix_s"], r["los_unix_s"], r["max_el_deg"],
                            r["reason"]) for r in rows]
