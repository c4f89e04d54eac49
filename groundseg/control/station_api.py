"""The control plane's view of the station: every operation a command may ask for.

``StationAPI(station)`` wraps a ``groundseg.station.Station`` and calls only
its public parts (``status``, ``abort_pass``, ``request_replan``,
``planning``, ``store``, ``catalog``, ``gates``, ``events``,
``executor.status``/``executor.rotator_factory``, ``config``, ``clock``).
What the Station does not offer (yet) lives here, thinly:

* manual rotator control: open the rotator through the executor's factory,
  holding its ``ControlGate`` for the length of the command, refused while a
  pass runs or is about to start (``manual_guard_s`` before its setup);
* manual radio settings (tune, gain) per chain: checked against the chain,
  recorded and published; the station runs no receiver outside passes, so
  nothing applies them to an SDR yet (the reply says so);
* the artifact listing and ``config.reload``.

Errors: ``ControlError`` with a code for what the control plane decides
(``not_found``, ``conflict``, ``refused``...); the station's own
``InputError``/``HardwareError`` pass through and the server maps them
(``invalid``/``hardware``; a ``firmware_bridge`` ``Refused`` becomes
``refused``). Every result is JSON-ready.

The station daemon (``groundseg station``) starts the control plane itself
(``groundseg.control.start_control_plane``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import pathlib
import re
import sys
import threading
from typing import Any

from ..errors import InputError
from ..orbit.elements import iso_utc
from .protocol import PROTOCOL_VERSION, SUPPORTED_VERSIONS, ControlError

log = logging.getLogger(__name__)

_PASS_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_FILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_SECRET_KEY_RE = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential", re.I)
META_INLINE_BYTES = 1 << 20   # JSON metadata files up to this size come back parsed
HASH_MAX_BYTES = 64 << 20     # files up to this size get a SHA-256


def _t(t: float | None) -> str | None:
    return iso_utc(t) if t is not None else None


class StationAPI:
    def __init__(self, station, policy=None, manual_guard_s: float = 30.0):
        self.station = station
        self.policy = policy
        self.manual_guard_s = float(manual_guard_s)
        self.loaded_config = station.config
        self._manual_lock = threading.Lock()
        self._radio: dict[str, dict] = {}
        self._rotator_seen: dict[str, dict] = {}
        self._unsubscribe = station.events.subscribe(self._on_rotator, topics=["rotator"])

    def close(self) -> None:
        self._unsubscribe()

    # --- shortcuts ----------------------------------------------------------------------

    @property
    def config(self):
        return self.station.config

    @property
    def planning(self):
        return self.station.planning

    @property
    def store(self):
        return self.station.store

    def now(self) -> float:
        return self.station.clock.now()

    def _names(self) -> dict[int, str]:
        names = {es.norad: es.name for es in self.planning.tles.all() if es.name}
        for s in self.station.catalog or ():
            names[s.norad] = s.name
        return names

    def _replanned(self) -> None:
        """The planning service replanned already; let the station loop publish the plan event."""
        self.station.request_replan()

    # --- station -------------------------------------------------------------------------

    def status(self) -> dict:
        st = self.station.status()
        st["manual_radio"] = {k: dict(v) for k, v in self._radio.items()}
        return st

    def version(self) -> dict:
        import zmq

        from .. import __version__

        return {"groundseg": __version__, "protocol": PROTOCOL_VERSION, "supported": list(SUPPORTED_VERSIONS),
                "python": sys.version.split()[0], "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(),
                "curve": bool(zmq.has("curve"))}

    # --- element sets ------------------------------------------------------------------------

    def tle_upload(self, text: str, who: str) -> dict:
        rep = self.planning.update_elements(text, source=f"control-plane ({who})", strict=True)
        if rep.changed:
            self._replanned()
        out = rep.to_dict()
        out["changed"] = rep.changed
        return out

    def tle_list(self, norad: int | None = None) -> dict:
        tles = self.planning.tles
        now = self.now()
        if norad is not None:
            if norad not in tles:
                raise ControlError("not_found", f"no element set for NORAD {norad}")
            st = [s for s in tles.status(now) if s["norad"] == norad][0]
            es = tles.get(norad)
            l1, l2 = es.tle_lines()
            return {"sets": [st], "elements": {**es.to_dict(), "line1": l1, "line2": l2}}
        return {"sets": tles.status(now)}

    def predict(self, norad: int | None, hours: float, min_el_deg: float, limit: int) -> dict:
        tles = self.planning.tles
        if norad is not None and norad not in tles:
            raise ControlError("not_found", f"no element set for NORAD {norad}: upload one with tle.upload")
        norads = [norad] if norad is not None else tles.norads()
        now = self.now()
        passes, problems, _ = self.planning.passes(norads, now, now + hours * 3600.0)
        passes = [p for p in passes if p.max_el_deg >= min_el_deg]
        names = self._names()
        out = [dict(p.to_dict(), name=names.get(p.norad, "")) for p in passes[:limit]]
        return {"from": iso_utc(now), "hours": hours, "passes": out, "truncated": len(passes) > limit,
                "problems": {str(k): v for k, v in problems.items()}}

    # --- tasks ---------------------------------------------------------------------------------

    def _task_record(self, task_id: str):
        try:
            return self.store.get_task(task_id)
        except InputError:
            raise ControlError("not_found", f"no task {task_id!r}") from None

    @staticmethod
    def _task_dict(tr) -> dict:
        d = tr.task.to_dict()
        d.update(state=tr.state, reason=tr.reason, created=_t(tr.created_unix_s), updated=_t(tr.updated_unix_s))
        return d

    def _passes_of(self, task_id: str, states=None, since: float | None = None) -> list[dict]:
        return [p.to_dict() for p in self.store.passes(states, start_unix_s=since) if p.task_id == task_id]

    def _dropped_of(self, task_id: str) -> list[dict]:
        return [d.to_dict() for d in self.store.dropped() if d.task_id == task_id]

    def task_add(self, fields: dict, who: str) -> dict:
        from ..schedule.tasks import Task

        task_id = fields.get("id")
        try:
            tr = self.store.get_task(task_id)
        except InputError:
            tr = None
        if tr is not None:
            raise ControlError("conflict", f"task {task_id!r} exists already ({tr.state})")
        task = Task.from_dict(fields, self.station.catalog, source=f"control:{who}")
        self.planning.add_task(task)
        self._replanned()
        now = self.now()
        return {"task": self._task_dict(self.store.get_task(task.task_id)),
                "planned": self._passes_of(task.task_id, ["planned"], now),
                "dropped": self._dropped_of(task.task_id)}

    def task_list(self, state: str) -> dict:
        from ..schedule.store import TASK_STATES

        states = TASK_STATES if state == "all" else (state,)
        return {"tasks": [self._task_dict(tr) for tr in self.store.tasks(states)]}

    def task_show(self, task_id: str) -> dict:
        tr = self._task_record(task_id)
        return {"task": self._task_dict(tr), "passes": self._passes_of(task_id),
                "dropped": self._dropped_of(task_id)}

    def task_cancel(self, task_id: str, reason: str) -> dict:
        tr = self._task_record(task_id)
        if tr.state != "active":
            raise ControlError("conflict", f"task {task_id!r} is {tr.state} already")
        ids = self.planning.cancel_task(task_id, reason)
        self._replanned()
        return {"task": self._task_dict(self.store.get_task(task_id)), "cancelled_passes": ids}

    def task_reprioritise(self, task_id: str, priority: int) -> dict:
        tr = self._task_record(task_id)
        if tr.state != "active":
            raise ControlError("conflict", f"task {task_id!r} is {tr.state}: only an active task can change")
        before = tr.task.priority
        now = self.now()
        self.planning.set_priority(task_id, priority, now)
        self._replanned()
        d = self.planning.last_replan.diff
        return {"task": self._task_dict(self.store.get_task(task_id)), "priority_before": before,
                "plan": {"plan_rev": d.plan_rev, "added": d.added, "updated": d.updated, "cancelled": d.cancelled},
                "planned": self._passes_of(task_id, ["planned"], now), "dropped": self._dropped_of(task_id)}

    # --- blackouts -------------------------------------------------------------------------------

    @staticmethod
    def _blackout_dict(b) -> dict:
        return dict(b.to_dict(), start=iso_utc(b.start_unix_s), end=iso_utc(b.end_unix_s))

    def blackout_add(self, fields: dict) -> dict:
        from ..schedule.tasks import Blackout

        b = Blackout.from_dict(fields)
        if any(x.blackout_id == b.blackout_id for x in self.store.blackouts()):
            raise ControlError("conflict", f"blackout {b.blackout_id!r} exists already")
        self.planning.add_blackout(b)
        self._replanned()
        last = self.planning.last_replan
        return {"blackout": self._blackout_dict(b), "cancelled_passes": list(last.diff.cancelled) if last else []}

    def blackout_list(self) -> dict:
        return {"blackouts": [self._blackout_dict(b) for b in self.store.blackouts()]}

    def blackout_remove(self, blackout_id: str) -> dict:
        if not any(x.blackout_id == blackout_id for x in self.store.blackouts()):
            raise ControlError("not_found", f"no blackout {blackout_id!r}")
        self.planning.remove_blackout(blackout_id)
        self._replanned()
        last = self.planning.last_replan
        return {"removed": blackout_id, "added_passes": list(last.diff.added) if last else []}

    # --- plan and passes -------------------------------------------------------------------------

    def plan_show(self, hours: float | None) -> dict:
        from ..schedule.lifecycle import ACTIVE, PassState

        now = self.now()
        end = now + hours * 3600.0 if hours is not None else None
        names = self._names()
        planned = self.store.passes([PassState.PLANNED, *ACTIVE], start_unix_s=now, end_unix_s=end)
        return {"now": iso_utc(now), "plan_rev": self.store.plan_rev,
                "planned": [dict(p.to_dict(), name=names.get(p.norad, "")) for p in planned],
                "dropped": [dict(d.to_dict(), name=names.get(d.norad, "")) for d in self.store.dropped()]}

    def pass_status(self) -> dict:
        cur = self.station.executor.status()
        return {"state": self.station.state, "current": cur,
                "next": [p.to_dict() for p in self.station.next_passes(3)]}

    def pass_abort(self, reason: str, who: str) -> dict:
        cur = self.station.executor.status()
        why = f"aborted by {who}: {reason}"
        if cur is None or not self.station.abort_pass(why):
            raise ControlError("conflict", "no pass is running")
        return {"aborted": cur.get("pass_id"), "reason": why}

    # --- manual control ----------------------------------------------------------------------------

    def _manual_check(self) -> None:
        """Refuse manual control while a pass runs, or when the next one is about to be set up."""
        cur = self.station.executor.status()
        if cur is not None:
            raise ControlError("refused", f"pass {cur.get('pass_id')} is running ({cur.get('state')}): manual "
                                          "control is refused until it ends (pass.abort ends it)",
                               pass_id=cur.get("pass_id"))
        if self.station.state == "running":
            raise ControlError("refused", "a pass is starting: manual control is refused until it ends")
        nxt = self.station.next_passes(1)
        if nxt:
            setup = nxt[0].start_unix_s - self.config.planner.setup_s
            left = setup - self.now()
            if left < self.manual_guard_s:
                raise ControlError("refused", f"pass {nxt[0].pass_id} is set up in {max(left, 0):.0f} s: manual "
                                              f"control is refused from {self.manual_guard_s:g} s before a pass",
                                   pass_id=nxt[0].pass_id)

    def _rotator_name(self, name: str | None) -> str:
        names = [r.name for r in self.config.rotators or ()]
        if not names:
            raise ControlError("not_found", "the station has no rotator")
        if name is None:
            if len(names) > 1:
                raise ControlError("bad_args", f"rotator: give one of {', '.join(names)}",
                                   details=[f"rotator: missing (one of {', '.join(names)})"])
            return names[0]
        if name not in names:
            raise ControlError("not_found", f"no rotator {name!r} (rotators: {', '.join(names)})")
        return name

    def _on_rotator(self, ev) -> None:
        d = ev.data
        pos = d.get("position")
        if d.get("rotator") and pos is not None:
            self._rotator_seen[d["rotator"]] = {"az_deg": pos[0], "el_deg": pos[1], "t_unix_s": ev.t_unix_s,
                                                "kind": d.get("kind")}

    def rotator(self, op: str, name: str | None, who: str, az_deg: float | None = None,
                el_deg: float | None = None) -> dict:
        """point / stop / park a rotator by hand (refused while a pass runs)."""
        from firmware_bridge.gate import ControlGate

        name = self._rotator_name(name)
        with self._manual_lock:
            self._manual_check()
            gate = self.station.gates.setdefault(name, ControlGate())
            owner = f"manual control by {who}"
            gate.acquire(owner)  # Refused (a pass took it meanwhile) -> "refused"
            try:
                rot = self.station.executor.rotator_factory(name)
                try:
                    pos = None
                    if op == "point":
                        pos = rot.point(az_deg, el_deg)
                    elif op == "park":
                        pos = rot.park()
                    elif op == "stop":
                        rot.stop()
                        pos = rot.position()
                    else:
                        raise AssertionError(op)
                finally:
                    rot.close()
            finally:
                gate.release(owner)
        kind = {"point": "command", "park": "parked", "stop": "stopped"}[op]
        data = {"pass_id": None, "rotator": name, "kind": kind, "manual": True, "by": who,
                "position": [pos.az_deg, pos.el_deg] if pos is not None else None}
        if op == "point":
            data.update(rot_az_deg=az_deg, rot_el_deg=el_deg)
        self.station.events.publish("rotator", **data)
        return {"rotator": name, "op": op, "position": data["position"]}

    def rotator_position(self, name: str | None) -> dict:
        """Read the position (during a pass: the last one the pass's tracking read back)."""
        name = self._rotator_name(name)
        gate = self.station.gates.get(name)
        held = gate.owner if gate is not None else None
        if held is not None or self.station.executor.status() is not None:
            seen = self._rotator_seen.get(name)
            return {"rotator": name, "source": "last reported", "held_by": held,
                    "position": [seen["az_deg"], seen["el_deg"]] if seen else None,
                    "t": _t(seen["t_unix_s"]) if seen else None}
        with self._manual_lock:
            rot = self.station.executor.rotator_factory(name)
            try:
                pos = rot.position()
            finally:
                rot.close()
        return {"rotator": name, "source": "device", "held_by": None, "position": [pos.az_deg, pos.el_deg],
                "t": iso_utc(self.now())}

    def _chain(self, name: str | None):
        chains = list(self.config.chains or ())
        if name is None:
            if len(chains) != 1:
                raise ControlError("bad_args", f"chain: give one of {', '.join(c.name for c in chains)}",
                                   details=[f"chain: missing (one of {', '.join(c.name for c in chains)})"])
            return chains[0]
        for c in chains:
            if c.name == name:
                return c
        raise ControlError("not_found", f"no chain {name!r} (chains: {', '.join(c.name for c in chains)})")

    def radio(self, chain: str | None, who: str, freq_hz: float | None = None, gain_db: float | None = None) -> dict:
        c = self._chain(chain)
        if freq_hz is not None and not c.covers(freq_hz):
            raise ControlError("invalid", f"{freq_hz / 1e6:.6f} MHz is outside chain {c.name} "
                                          f"({c.freq_min_hz / 1e6:g}-{c.freq_max_hz / 1e6:g} MHz)")
        with self._manual_lock:
            self._manual_check()
            st = self._radio.setdefault(c.name, {"freq_hz": None, "gain_db": c.gain_db})
            if freq_hz is not None:
                st["freq_hz"] = float(freq_hz)
            if gain_db is not None:
                st["gain_db"] = float(gain_db)
            st.update(by=who, t=iso_utc(self.now()))
            snapshot = dict(st)
        self.station.events.publish("radio", pass_id=None, state="manual", chain=c.name, manual=True, by=who,
                                    freq_hz=snapshot["freq_hz"], gain_db=snapshot["gain_db"])
        return {"chain": c.name, **snapshot, "applied": False,
                "note": "recorded as the chain's manual setting; the station runs no receiver outside passes, "
                        "so no SDR is retuned"}

    # --- recordings and artifacts --------------------------------------------------------------------

    def _pass_dir(self, pass_id: str) -> pathlib.Path:
        if not _PASS_ID_RE.fullmatch(pass_id):
            raise ControlError("bad_args", f"pass_id {pass_id!r} is not a pass id")
        d = self.config.artifacts_dir / pass_id
        if not d.is_dir():
            raise ControlError("not_found", f"no artifacts for pass {pass_id!r}")
        return d

    @staticmethod
    def _report_summary(d: pathlib.Path) -> dict | None:
        p = d / "report.json"
        try:
            if p.stat().st_size > META_INLINE_BYTES:
                return None
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(r, dict):
            return None
        return {k: r.get(k) for k in ("state", "reason", "satellite", "norad", "transmitter", "counts")}

    def recordings(self, limit: int, with_iq: bool) -> dict:
        root = self.config.artifacts_dir
        try:
            dirs = [d for d in root.iterdir() if d.is_dir() and _PASS_ID_RE.fullmatch(d.name)]
        except FileNotFoundError:
            dirs = []
        dirs.sort(key=lambda d: (d.stat().st_mtime, d.name), reverse=True)
        out = []
        for d in dirs:
            iq = d / "iq.sigmf-data"
            has_iq = iq.is_file() and iq.stat().st_size > 0
            if with_iq and not has_iq:
                continue
            files = sorted(p.name for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
            out.append({"pass_id": d.name, "files": files, "iq_bytes": iq.stat().st_size if has_iq else 0,
                        "modified": iso_utc(d.stat().st_mtime), "report": self._report_summary(d)})
            if len(out) >= limit:
                break
        return {"root": str(root), "recordings": out, "truncated": len(out) >= limit}

    def artifact_list(self, pass_id: str) -> dict:
        d = self._pass_dir(pass_id)
        files = []
        for p in sorted(d.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                st = p.stat()
                files.append({"name": p.name, "bytes": st.st_size, "modified": iso_utc(st.st_mtime)})
        return {"pass_id": pass_id, "dir": str(d), "files": files, "report": self._report_summary(d)}

    def artifact_meta(self, pass_id: str, name: str) -> dict:
        d = self._pass_dir(pass_id)
        if not _FILE_RE.fullmatch(name):
            raise ControlError("bad_args", f"name {name!r} is not an artifact file name")
        p = d / name
        if p.is_symlink() or not p.is_file() or p.resolve().parent != d.resolve():
            raise ControlError("not_found", f"pass {pass_id} has no artifact {name!r}")
        st = p.stat()
        out: dict[str, Any] = {"pass_id": pass_id, "name": name, "path": str(p), "bytes": st.st_size,
                               "modified": iso_utc(st.st_mtime)}
        if st.st_size <= HASH_MAX_BYTES:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            out["sha256"] = h.hexdigest()
        if (name.endswith(".json") or name.endswith(".sigmf-meta")) and st.st_size <= META_INLINE_BYTES:
            try:
                out["content"] = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                out["content_error"] = f"not readable JSON: {e}"
        elif name.endswith(".jsonl"):
            with open(p, "rb") as f:
                out["records"] = sum(1 for line in f if line.endswith(b"\n"))
        return out

    # --- configuration ---------------------------------------------------------------------------------

    @staticmethod
    def _redact(obj: Any, key: str = "") -> Any:
        if isinstance(obj, dict):
            return {k: ("<redacted>" if _SECRET_KEY_RE.search(str(k)) and v not in (None, "")
                        else StationAPI._redact(v, str(k))) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [StationAPI._redact(v, key) for v in obj]
        if isinstance(obj, str) and "://" in obj and "@" in obj.split("://", 1)[1].split("/", 1)[0]:
            scheme, rest = obj.split("://", 1)
            return f"{scheme}://<redacted>@{rest.split('@', 1)[1]}"
        if isinstance(obj, pathlib.PurePath):
            return str(obj)
        return obj

    def _sections(self, cfg) -> dict:
        out = {}
        for name, value in cfg.sections.items():
            if dataclasses.is_dataclass(value):
                v = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                v = [dataclasses.asdict(x) if dataclasses.is_dataclass(x) else x for x in value]
            else:
                v = value
            out[name] = self._redact(json.loads(json.dumps(v, default=str)))
        return out

    def config_show(self) -> dict:
        cfg = self.config
        return {"path": str(cfg.path), "state_dir": str(cfg.state_dir), "artifacts_dir": str(cfg.artifacts_dir),
                "sections": self._sections(cfg)}

    def config_reload(self, who: str) -> dict:
        """Re-read the configuration file: apply standing tasks, element-set files and client keys; list
        the changed sections that need a restart."""
        from ..config import load_config
        from ..schedule.tasks import tasks_from_config

        path = self.config.path
        new = load_config(path)  # InputError with every problem -> "invalid"
        old = self.loaded_config
        changed = sorted(n for n in set(old.sections) | set(new.sections)
                         if old.sections.get(n) != new.sections.get(n))
        now = self.now()
        applied, tasks_out = [], {"stored": [], "cancelled": []}
        standing = tasks_from_config(new, self.station.catalog)
        for t in standing:
            self.store.add_task(t, now, replace=True)
            tasks_out["stored"].append(t.task_id)
        ids = {t.task_id for t in standing}
        for tr in self.store.tasks(("active",)):
            if tr.task.source == "config" and tr.task.task_id not in ids:
                self.store.cancel_task(tr.task.task_id, f"removed from the station configuration (reload by {who})",
                                       now)
                tasks_out["cancelled"].append(tr.task.task_id)
        if "tasks" in changed:
            applied.append("tasks")
        tle_reports = []
        for p in new.tle_paths():
            try:
                tle_reports.append(self.planning.tles.update_from_file(p, now).to_dict())
            except InputError as e:
                tle_reports.append({"source": str(p), "errors": [str(e)]})
        if "orbit" in changed and old.orbit.tle_files != new.orbit.tle_files:
            applied.append("orbit.tle_files")
        keys = None
        if self.policy is not None:
            keys = self.policy.reload()
            applied.append("control client keys")
        res = self.planning.replan(now)
        self._replanned()
        self.loaded_config = new
        restart = [n for n in changed if n != "tasks" and not (
            n == "orbit" and dataclasses.replace(old.orbit, tle_files=new.orbit.tle_files) == new.orbit)]
        return {"path": str(path), "changed": changed, "applied": applied, "restart_required": restart,
                "tasks": tasks_out, "tle": tle_reports, "keys": keys, "plan_rev": res.diff.plan_rev}
