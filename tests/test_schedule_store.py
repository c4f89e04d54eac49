"""The schedule store (SQLite WAL), the pass life cycle, restarts and incremental replanning."""
from __future__ import annotations

import json
import pathlib
import sqlite3

import pytest

from groundseg.catalog import load_catalog
from groundseg.config import ChainConfig, load_config
from groundseg.errors import InputError
from groundseg.orbit.tle import checksum
from groundseg.schedule import (Blackout, PassState, Plan, PlannedPass, PlanningService, ScheduleStore, SimClock,
                                Task, check_transition)
from groundseg.schedule.planner import DroppedPass
from groundseg.schedule.store import DB_NAME

ROOT = pathlib.Path(__file__).resolve().parents[1]
T0 = 1_800_000_000.0


def task(tid="t1", norad=1, mode="all", prio=50) -> Task:
    return Task(tid, norad, "tx", 437e6, priority=prio, mode=mode, source="test")


def planned(tid="t1", norad=1, aos=1000.0, dur=600.0, chain="uhf0") -> PlannedPass:
    return PlannedPass(tid, norad, "tx", 437e6, chain, "rot1", T0 + aos, T0 + aos + dur / 2, T0 + aos + dur, 40.0,
                       T0 + aos, T0 + aos + dur, 50, 0.5, T0 - 3600)


@pytest.fixture
def store(tmp_path):
    s = ScheduleStore(tmp_path / "state" / DB_NAME)
    yield s
    s.close()


def test_database_is_in_wal_mode(store):
    assert store.journal_mode == "wal"
    other = sqlite3.connect(str(store.path))
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()


def test_tasks_round_trip_and_duplicates(store):
    t = Task("fc", 39444, "1k2 BPSK downlink", 145.935e6, 70, 10.0, "once", T0, T0 + 86400, source="cp")
    store.add_task(t, T0)
    assert store.get_task("fc").task == t and store.get_task("fc").state == "active"
    with pytest.raises(InputError, match="task 'fc' already exists"):
        store.add_task(t, T0)
    store.add_task(Task("fc", 39444, "x", 145.935e6, priority=5), T0, replace=True)
    assert store.get_task("fc").task.priority == 5
    with pytest.raises(InputError, match="no task 'nope'"):
        store.get_task("nope")


def test_apply_plan_is_incremental(store):
    store.add_task(task(), T0)
    d1 = store.apply_plan(Plan(T0, [planned(aos=1000), planned(aos=7000)]), T0)
    assert len(d1.added) == 2 and d1.plan_rev == 1
    ids = [p.pass_id for p in store.passes()]
    assert ids == ["t1-1-20270115T081640", "t1-1-20270115T095640"]
    # The same plan again changes nothing.
    d2 = store.apply_plan(Plan(T0, [planned(aos=1000), planned(aos=7000)]), T0 + 10)
    assert d2.unchanged == ids and not (d2.added or d2.updated or d2.cancelled)
    # New elements move a pass by two seconds: same id, updated in place.
    d3 = store.apply_plan(Plan(T0, [planned(aos=1002), planned(aos=7000)]), T0 + 20)
    assert d3.updated == [ids[0]] and d3.unchanged == [ids[1]]
    assert store.get_pass(ids[0]).aos_unix_s == T0 + 1002
    # A pass the plan drops is cancelled with the plan's reason.
    drop = DroppedPass("t1", 1, T0 + 7000, T0 + 7600, 40.0, "conflict: task x holds uhf0")
    d4 = store.apply_plan(Plan(T0, [planned(aos=1002)], [drop]), T0 + 30)
    assert d4.cancelled == [ids[1]]
    p = store.get_pass(ids[1])
    assert p.state is PassState.CANCELLED and p.reason == "replanned: conflict: task x holds uhf0"
    assert [d.reason for d in store.dropped()] == ["conflict: task x holds uhf0"]


def test_life_cycle_and_its_history(store):
    store.add_task(task(mode="once"), T0)
    store.apply_plan(Plan(T0, [planned()]), T0)
    pid = store.passes()[0].pass_id
    for i, state in enumerate(["pre-pass", "in-pass", "post-pass", "completed"]):
        store.transition(pid, state, T0 + 900 + i)
    ev = store.events(pid)
    assert [e["to_state"] for e in ev] == ["planned", "pre-pass", "in-pass", "post-pass", "completed"]
    assert [e["from_state"] for e in ev][1:] == ["planned", "pre-pass", "in-pass", "post-pass"]
    assert store.get_task("t1").state == "done"  # a single-pass task is done once served
    with pytest.raises(InputError, match="cannot go from completed to in-pass .allowed: none: it is final"):
        store.transition(pid, "in-pass", T0 + 2000)


@pytest.mark.parametrize("cur,new,reason,msg", [
    ("planned", "completed", "", "cannot go from planned to completed"),
    ("planned", "in-pass", "", "cannot go from planned to in-pass"),
    ("in-pass", "cancelled", "x", "cannot go from in-pass to cancelled"),
    ("pre-pass", "failed", "", "needs a reason"),
    ("in-pass", "interrupted", "  ", "needs a reason"),
    ("planned", "flying", "", "unknown pass state 'flying'"),
])
def test_illegal_transitions_are_refused(cur, new, reason, msg):
    with pytest.raises(InputError, match=msg):
        check_transition(cur, new, reason)


def test_restart_marks_the_running_pass_interrupted_and_keeps_the_rest(tmp_path):
    path = tmp_path / DB_NAME
    s = ScheduleStore(path)
    s.add_task(task(), T0)
    s.apply_plan(Plan(T0, [planned(aos=-2000), planned(aos=1000), planned(aos=7000), planned(aos=9000)]), T0 - 3000)
    missed, running, nxt, later = (p.pass_id for p in s.passes())
    s.transition(running, "pre-pass", T0 + 950)
    s.transition(running, "in-pass", T0 + 1000)
    s.close()  # the station dies during the pass
    s2 = ScheduleStore(path)
    out = s2.recover_after_restart(T0 + 1300)
    assert out == {running: PassState.INTERRUPTED, missed: PassState.FAILED}
    r = s2.get_pass(running)
    assert r.state is PassState.INTERRUPTED and "station restarted at" in r.reason and "in-pass" in r.reason
    assert s2.get_pass(missed).reason.startswith("missed")
    assert [p.pass_id for p in s2.next_passes(T0 + 1300)] == [nxt, later]
    assert s2.recover_after_restart(T0 + 1400) == {}  # idempotent
    s2.close()


def test_cancelling_a_task_cancels_its_planned_passes(store):
    store.add_task(task(), T0)
    store.apply_plan(Plan(T0, [planned(aos=1000), planned(aos=7000)]), T0)
    first = store.passes()[0].pass_id
    store.transition(first, "pre-pass", T0 + 900)
    ids = store.cancel_task("t1", "operator request", T0 + 950)
    assert len(ids) == 1 and store.get_pass(ids[0]).reason == "task t1 cancelled: operator request"
    assert store.get_pass(first).state is PassState.PRE_PASS  # running ones are the executor's business
    with pytest.raises(InputError, match="needs a reason"):
        store.cancel_task("t1", "", T0)


def test_blackouts(store):
    b = Blackout("maint", T0, T0 + 3600, "antenna work")
    store.add_blackout(b)
    assert store.blackouts() == [b]
    with pytest.raises(InputError, match="already exists"):
        store.add_blackout(b)
    store.remove_blackout("maint")
    with pytest.raises(InputError, match="no blackout 'maint'"):
        store.remove_blackout("maint")


@pytest.mark.parametrize("d,msg", [
    ({"id": "b", "start": "2026-01-01T00:00:00Z"}, "end: missing"),
    ({"id": "b", "start": "2026-01-01T01:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end: not after start"),
    ({"id": "b", "start": "2026-01-01T00:00:00", "end": "2026-01-01T01:00:00Z"}, "has no time zone"),
    ({"id": "b c", "start": 0, "end": 10}, "id: expected a name"),
    ({"id": "b", "start": 0, "end": 10, "colour": 1}, "colour: unknown key"),
    ({"id": "b", "start": 0, "end": 10 ** 400}, r"end: 100000000000\.\.\.\(401 digits\) is not a Unix time"),
    ({"id": "b", "start": float("nan"), "end": 10}, "start: nan is not a Unix time"),
])
def test_bad_blackouts(d, msg):
    with pytest.raises(InputError, match=msg):
        Blackout.from_dict(d)


def test_snapshot_is_a_copy(store):
    store.add_task(task(), T0)
    snap = ScheduleStore.snapshot(store.path)
    snap.add_task(task("t2"), T0)
    assert [t.task_id for t in store.active_tasks()] == ["t1"]
    assert [t.task_id for t in snap.active_tasks()] == ["t1", "t2"]


# --- the planning service, end to end ---------------------------------------------------

L1 = "1 44854U 19089C   20031.47769533  .00000208  00000-0  23303-4 0  9997"
L2 = "2 44854  36.9659 193.6942 0008882  14.3632 345.7372 14.98957921  7580"
EPOCH = 1580470072.876512  # 2020-01-31T11:27:52.876512Z, the epoch of L1


def station_file(tmp_path) -> pathlib.Path:
    text = (ROOT / "seeds" / "station.toml").read_text()
    text = text.replace('state_dir = "~/.local/state/groundseg/demo"', 'state_dir = "state"')
    text = text.replace('artifacts_dir = "~/.local/share/groundseg/demo/passes"', 'artifacts_dir = "artifacts"')
    text = text.replace('tle_files = ["tle/*.tle"]', f'tle_files = ["{ROOT / "seeds" / "tle" / "catalog.tle"}"]')
    p = tmp_path / "station.toml"
    p.write_text(text)
    return p


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def newer(l1: str, days: float) -> str:
    day = float(l1[20:32]) + days
    s = l1[:20] + f"{day:012.8f}" + l1[32:68]
    return s + str(checksum(s))


def test_service_plans_replans_incrementally_and_survives_a_restart(tmp_path, catalog):
    cfg = load_config(station_file(tmp_path))
    now = EPOCH + 3600
    svc = PlanningService(cfg, catalog=catalog, clock=SimClock(now))
    first = svc.start()["replan"]
    assert first.diff.added and first.diff.plan_rev == 1
    assert (tmp_path / "state" / DB_NAME).is_file() and (tmp_path / "state" / "elements.json").is_file()
    # Replanning with nothing new recomputes no satellite and changes no pass.
    again = svc.replan(now + 60)
    assert again.recomputed == [] and not (again.diff.added or again.diff.cancelled or again.diff.updated)
    # A newer element set for one satellite: only it is predicted anew, its passes move in place.
    svc.add_task({"id": "d3", "norad": 44854, "transmitter": "9k6 BPSK downlink", "priority": 99}, now + 90)
    before = {p.pass_id: p for p in svc.store.passes(["planned"]) if p.norad == 44854}
    rep = svc.update_elements(f"DUCHIFAT-3\n{newer(L1, 0.0001)}\n{L2}\n", now_unix_s=now + 120)
    assert rep.updated == [44854] and svc.last_replan.recomputed == [44854]
    assert svc.replan(now + 121).recomputed == []  # the update already replanned
    after = {p.pass_id: p for p in svc.store.passes(["planned"]) if p.norad == 44854}
    assert set(after) == set(before) and after
    assert all(after[k].aos_unix_s != before[k].aos_unix_s for k in after)
    assert svc.store.plan_rev == 5
    # A new task: planned next to the existing ones.
    svc.add_task({"id": "bee", "norad": 43743, "transmitter": "9k6 FSK downlink", "priority": 95}, now + 180)
    assert any(p.task_id == "bee" for p in svc.store.passes(["planned"]))
    # The station dies during a pass; a new process on the same state picks up.
    running = svc.store.next_passes(now + 180)[0]
    svc.store.transition(running.pass_id, "pre-pass", running.start_unix_s - 60)
    svc.store.transition(running.pass_id, "in-pass", running.start_unix_s)
    svc.store.close()
    t_restart = running.start_unix_s + 30
    svc2 = PlanningService(cfg, catalog=catalog, clock=SimClock(t_restart))
    out = svc2.start()
    assert out["recovered"] == {running.pass_id: "interrupted"}
    assert svc2.tles.get(44854).line1 == newer(L1, 0.0001)  # element sets persisted too
    nxt = svc2.store.next_passes(t_restart)
    assert nxt and all(p.start_unix_s > running.start_unix_s for p in nxt)
    assert any(p.task_id == "bee" for p in svc2.store.passes(["planned"]))
    svc2.store.close()


def test_replanning_is_deterministic(tmp_path, catalog):
    """Two stations built from the same inputs in different orders end with the same plan."""
    plans = []
    for k, order in enumerate(([0, 1, 2], [2, 0, 1])):
        d = tmp_path / f"s{k}"
        d.mkdir()
        cfg = load_config(station_file(d))
        svc = PlanningService(cfg, catalog=catalog, clock=SimClock(EPOCH))
        svc.start(EPOCH)
        changes = [
            lambda: svc.add_task({"id": "x1", "norad": 43804, "transmitter": "9k6 FSK downlink", "priority": 90},
                                 EPOCH + 10),
            lambda: svc.add_blackout({"id": "b", "start": EPOCH + 9000, "end": EPOCH + 20000}, EPOCH + 10),
            lambda: svc.update_elements(f"DUCHIFAT-3\n{newer(L1, 0.01)}\n{L2}\n", now_unix_s=EPOCH + 10),
        ]
        for i in order:
            changes[i]()
        res = svc.replan(EPOCH + 20)
        plans.append(([(p.task_id, p.norad, p.chain, p.aos_unix_s, p.los_unix_s) for p in res.plan.planned],
                      [(d.task_id, d.aos_unix_s, d.reason) for d in res.plan.dropped]))
        svc.store.close()
    assert plans[0] == plans[1]
    assert plans[0][0] and any("blackout b" in r for _, _, r in plans[0][1])


def test_standing_tasks_follow_the_config_file(tmp_path, catalog):
    path = station_file(tmp_path)
    svc = PlanningService(load_config(path), catalog=catalog, clock=SimClock(EPOCH))
    svc.start()
    svc.store.close()
    text = path.read_text()
    start = text.index('[[tasks]]\nid = "gomx-1"')
    path.write_text(text[:start])  # the operator deletes the last standing task
    svc2 = PlanningService(load_config(path), catalog=catalog, clock=SimClock(EPOCH + 60))
    svc2.start()
    tr = svc2.store.get_task("gomx-1")
    assert tr.state == "cancelled" and tr.reason == "removed from the station configuration"
    assert not any(p.task_id == "gomx-1" for p in svc2.store.passes(["planned"]))
    svc2.store.close()


def test_set_priority_stores_the_task_and_replans(tmp_path, catalog):
    cfg = load_config(station_file(tmp_path))
    svc = PlanningService(cfg, catalog=catalog, clock=SimClock(EPOCH))
    svc.start()
    rev = svc.store.plan_rev
    t = svc.set_priority("s-net-a", 99)
    assert t.priority == 99 and svc.store.get_task("s-net-a").task.priority == 99
    assert svc.store.plan_rev == rev + 1 and svc.last_replan.diff.plan_rev == rev + 1
    mine = [p for p in svc.store.passes(["planned"]) if p.task_id == "s-net-a"
            and p.start_unix_s > EPOCH + cfg.planner.freeze_s]  # passes about to start are frozen
    assert mine and all(p.priority == 99 for p in mine)  # the plan carries the new priority
    for bad in (101, -1, "high", True, 5.5):
        with pytest.raises(InputError, match="priority"):
            svc.set_priority("s-net-a", bad)
    with pytest.raises(InputError, match="no task"):
        svc.set_priority("nope", 10)
    svc.cancel_task("s-net-a", "test")
    with pytest.raises(InputError, match="only an active task"):
        svc.set_priority("s-net-a", 10)
    assert svc.store.plan_rev == rev + 2  # the refusals replanned nothing
    svc.store.close()


def test_an_aborted_pass_is_not_replanned_an_interrupted_one_is(tmp_path, catalog):
    """The operator's abort is final for the pass; a station stop or crash leaves the rest to re-plan."""
    cfg = load_config(station_file(tmp_path))
    svc = PlanningService(cfg, catalog=catalog, clock=SimClock(EPOCH))
    svc.start()
    long = [p for p in svc.store.passes(["planned"]) if p.end_unix_s - p.start_unix_s > 400]
    # two long passes of tasks observing every pass, far enough apart not to be merged or frozen
    first = long[0]
    second = next(p for p in long if p.start_unix_s > first.end_unix_s + 3600)

    def fly_and_interrupt(p, reason):
        svc.store.transition(p.pass_id, "pre-pass", p.start_unix_s - 60)
        svc.store.transition(p.pass_id, "in-pass", p.start_unix_s)
        svc.store.transition(p.pass_id, "interrupted", p.start_unix_s + 100, reason)

    def overlapping(p):
        return [q for q in svc.store.passes(["planned"]) if q.task_id == p.task_id and q.norad == p.norad
                and q.start_unix_s < p.end_unix_s and q.end_unix_s > p.start_unix_s]

    fly_and_interrupt(first, "station restarted at ... while the pass was in-pass")
    svc.replan(first.start_unix_s + 100)
    again = overlapping(first)
    assert len(again) == 1 and again[0].start_unix_s == first.start_unix_s + 100  # the rest, from now
    svc.store.mark_no_replan(second.pass_id, "aborted by op: test", second.start_unix_s + 100)
    fly_and_interrupt(second, "aborted by op: test")
    res = svc.replan(second.start_unix_s + 100)
    assert overlapping(second) == []
    assert any(d.task_id == second.task_id and f"aborted this pass ({second.pass_id})" in d.reason
               for d in res.plan.dropped)
    assert [p.pass_id for p in svc.store.no_replan_passes()] == [second.pass_id]
    assert svc.store.no_replan_passes(end_after_unix_s=second.los_unix_s + 1) == []
    with pytest.raises(InputError, match="no pass"):
        svc.store.mark_no_replan("nope", "x", EPOCH)
    svc.store.close()


def test_service_rejects_tasks_it_cannot_route(tmp_path, catalog):
    cfg = load_config(station_file(tmp_path))
    svc = PlanningService(cfg, catalog=catalog, clock=SimClock(EPOCH))
    with pytest.raises(InputError, match="no chain covers"):
        svc.add_task(Task("sband", 1, "x", 2.2e9))
    with pytest.raises(InputError, match=r"problem\(s\) in task: .*norad: NORAD id 12345 is not in the satellite"):
        svc.add_task({"id": "z", "norad": 12345, "transmitter": "x"})
    with pytest.raises(InputError, match="has no transmitter 'nope'"):
        svc.add_task({"id": "z", "norad": 44854, "transmitter": "nope"})
    svc.store.close()


def test_plan_command(tmp_path, capsys):
    from groundseg.cli import main

    path = station_file(tmp_path)
    rc = main(["plan", "--station", str(path), "--now", "2020-01-31T12:30:00Z", "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["planned"] and doc["dropped"] and doc["committed"] is False
    assert all(d["reason"] for d in doc["dropped"])
    assert not (tmp_path / "state").exists()  # a dry run writes nothing
    rc = main(["plan", "--station", str(path), "--now", "2020-01-31T12:30:00Z", "--commit"])
    out = capsys.readouterr().out
    assert rc == 0 and "PLANNED" in out and "DROPPED" in out and "not committed" not in out
    assert (tmp_path / "state" / DB_NAME).is_file()
    rc = main(["plan", "--station", str(path), "--now", "yesterday"])
    err = capsys.readouterr().err
    assert rc == 2 and "is not an ISO 8601 time" in err and "Traceback" not in err


def test_chain_covers():
    c = ChainConfig("u", "x", 430e6, 440e6)
    assert c.covers(430e6) and c.covers(440e6) and not c.covers(440.1e6)
