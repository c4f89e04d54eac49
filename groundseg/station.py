"""The station daemon's core: plan, wait, fly each pass, publish what happens.

``Station(config, clock)`` composes the ``PlanningService`` (element sets,
tasks, the SQLite store, replanning), the ``PassExecutor`` (one pass at a
time: flowgraph child, Doppler, rotator, artifacts) and a main loop
(``run()``): replan every ``replan_interval_s`` and when asked, take the next
planned pass, wait until its setup time, fly it, repeat. On start it
recovers from a previous crash: passes that were running are marked
interrupted (``ScheduleStore.recover_after_restart``) and flowgraph
processes left behind are killed (``supervisor.reap_orphans``).

Hooks for the control plane and metrics
---------------------------------------
* ``station.events``: an ``EventBus``. ``subscribe(fn, topics=None,
  first=False)`` returns an unsubscribe function; subscribers are called in
  subscription order, except that ``first=True`` puts one before all the
  others (the gateway's outbox, when it cannot take frames from the
  executor's ``frame_hook``); ``fn(event)`` is called synchronously in
  the publishing thread (the executor's, the flowgraph reader's or the
  rotator tracker's), so it must be quick and must not block (queue the
  event if there is real work); an exception in ``fn`` is counted
  (``events.errors``) and logged, never propagated. ``Event``: ``topic``,
  ``t_unix_s`` (station time), ``seq`` (increasing), ``data`` (dict);
  ``event.to_dict()`` is JSON-ready. Topics (``TOPICS``):

  ``station.state``  {state: starting|idle|waiting|running|stopping|stopped, reason}
  ``plan``           {plan_rev, added, updated, cancelled, missed, planned}
  ``pass.state``     {pass_id, state, reason, norad, satellite}
  ``pass.report``    {pass_id, state, reason, counts, report (path), artifacts, simulation}
  ``frame``          {pass_id, norad, record (the stored frame record)}
  ``doppler``        {pass_id, t_unix_s, doppler_hz}  (every correction sent)
  ``radio``          {pass_id, state: starting|ready|running|done|restarting|stopped, ...}
  ``rotator``        {pass_id, rotator, kind: command|failure|parked|stopped, az_deg, el_deg, ...}
  ``warning``/``error``  {pass_id?, where, message}

* ``station.status()``: a JSON-ready snapshot (state, time, current pass
  with flowgraph and rotator state, next passes, rotator gates, counters).
* ``station.counters``: monotonic counters (passes by final state, frames,
  Doppler updates, rotator commands and failures, flowgraph restarts,
  event subscriber errors).
* ``station.planning`` (tasks, blackouts, element sets: each change
  replans), ``station.store``, ``station.request_replan()``,
  ``station.abort_pass(reason)`` (ends the running pass, interrupted; the
  station flies on and the rest of that pass is not planned again),
  ``station.stop(reason)`` (ends the running pass and the loop),
  ``station.gates`` (rotator name -> ``firmware_bridge.gate.ControlGate``:
  the rotctld server checks it; a pass holds it), ``station.heartbeat``
  (``groundseg.notify.Heartbeat``: the loop beats it on every turn and in
  slices of long waits; long steps are marked busy).
* ``station.executor.frame_hook``: called with each frame before it is
  stored or published (the gateway's outbox, see ``groundseg.gateway``).
* Retention (``groundseg.storage.retention``, the ``[storage]`` keys): at
  the first turn of the loop, after each pass and daily.
* Clock steps (NTP, ``Clock.step_offset_s``): looked for at every turn of
  the loop and in every slice of an idle wait (slices of wall time: a
  backward step does not stretch one). A step is a ``warning``; planned
  passes whose whole span it jumped over are failed ("missed: the clock
  stepped forward by N s over the pass"), never flown late; a pass it
  jumped into is flown for what is left; the plan is recomputed at once.

Simulation (``SimOptions``): a ``SimClock`` running ``speed`` times faster
than the wall clock, jumping over idle time (not while a control plane runs:
then idle time runs at ``speed`` and the daemon waits for commands); each
pass's IQ synthesised by ``groundseg.sim`` (or played from a recording) in
place of the SDR, the clock paused meanwhile (and while planning), so that a
pass about to begin does not start late; every configured rotator replaced by
its protocol's emulator on a pty, slewing in simulated time.

The daemon: ``groundseg station --config FILE [--simulate] [--speed X]``
(``cmd_station``) is the one station process. It composes, in this order,
the ``Station`` (scheduler, executor, store), the gateway (``[gateway]``:
its outbox takes every frame before anything else happens to it), the
uplink (``[uplink]``), the metrics exporter (``[metrics]``), the control
plane (``[control]``), the event printer (or, under systemd, the journal
event logger), sd_notify (READY after start-up, STATUS per state change,
WATCHDOG pings while the loop beats) and the structured logs
(``[logging]``). A component whose section is absent is not started. A
component that cannot start is one error line and a non-zero exit (2 for
a bad configuration, 3 for hardware or a port that cannot be bound, 1
otherwise). SIGTERM/SIGINT stop the running pass cleanly (flowgraph
stopped, rotator parked) and everything is closed in the reverse order
(control, metrics, uplink, gateway outbox, station).
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import pathlib
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .errors import GroundsegError, InputError
from .notify import Heartbeat
from .orbit.elements import iso_utc
from .schedule.clock import STEP_TOLERANCE_S, Clock, RealClock, SimClock
from .schedule.executor import ExecutorSettings, PassExecutor, SignalProvider
from .schedule.lifecycle import PassState
from .schedule.supervisor import reap_orphans

log = logging.getLogger(__name__)

TOPICS = ("station.state", "plan", "pass.state", "pass.report", "frame", "doppler", "radio", "rotator", "warning",
          "error")


# --- events ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    topic: str
    t_unix_s: float
    seq: int
    data: dict

    def to_dict(self) -> dict:
        return {"topic": self.topic, "t_unix_s": self.t_unix_s, "seq": self.seq, **self.data}


class EventBus:
    """Synchronous publish/subscribe of station events (see the module docstring)."""

    def __init__(self, clock: Clock | None = None):
        self.clock = clock or RealClock()
        self._subs: list[tuple[Callable[[Event], None], frozenset[str] | None]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.errors = 0
        self.published = 0

    def subscribe(self, fn: Callable[[Event], None], topics: Iterable[str] | None = None,
                  first: bool = False) -> Callable[[], None]:
        """Call ``fn(event)`` for every event (of ``topics``); ``first``: before every other subscriber."""
        want = None
        if topics is not None:
            want = frozenset(topics)
            unknown = sorted(want - set(TOPICS))
            if unknown:
                raise InputError(f"unknown event topic(s) {', '.join(unknown)} (topics: {', '.join(TOPICS)})")
        entry = (fn, want)
        with self._lock:
            if first:
                self._subs.insert(0, entry)
            else:
                self._subs.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subs:
                    self._subs.remove(entry)
        return unsubscribe

    def publish(self, topic: str, **data: Any) -> Event:
        if topic not in TOPICS:
            raise InputError(f"unknown event topic {topic!r}")
        ev = Event(topic, self.clock.now(), next(self._seq), data)
        with self._lock:
            subs = list(self._subs)
            self.published += 1
        for fn, want in subs:
            if want is not None and topic not in want:
                continue
            try:
                fn(ev)
            except Exception:  # noqa: BLE001 - a subscriber bug never reaches the publisher
                self.errors += 1
                log.exception("event subscriber failed on %s", topic)
        return ev


# --- simulation options ------------------------------------------------------------------------

@dataclass
class SimOptions:
    speed: float = 20.0                 # simulated seconds per wall second
    skip_idle: bool = True              # jump the clock over the time between passes
    emulate_rotators: bool = True       # rotators on pty emulators slewing in simulated time
    only_simulatable: bool = True       # cancel passes whose framing the simulator cannot build
    settings: Any = None                # groundseg.sim.SimSettings (default one)
    recording: str | None = None        # play this recording instead of synthesising
    recording_samp_rate_sps: float | None = None
    keep_signals: bool = False          # keep the synthesised IQ files
    rotator_az_rate_dps: float = 6.0
    rotator_el_rate_dps: float = 6.0
    drain_timeout_s: float = 120.0      # wall seconds the flowgraph may take to catch up at the end


# --- the station ---------------------------------------------------------------------------------

KEEP_REPORTS = 8    # pass reports a daemon keeps in memory (each is on disk too, and in the store)


class Station:
    def __init__(self, config, clock: Clock | None = None, *, catalog=None, simulate: SimOptions | None = None,
                 signals: SignalProvider | None = None, rotator_factory: Callable[[str], Any] | None = None,
                 settings: ExecutorSettings | None = None, events: EventBus | None = None,
                 workdir: str | os.PathLike | None = None, replan_interval_s: float = 3600.0):
        from .schedule.service import PlanningService

        self.config = config
        self.sim = simulate
        self.clock = clock or (SimClock(time.time(), simulate.speed) if simulate else RealClock())
        self.events = events or EventBus(self.clock)
        self.state = "starting"
        self.replan_interval_s = float(replan_interval_s)
        self.counters: dict[str, int] = {"passes_completed": 0, "passes_failed": 0, "passes_interrupted": 0,
                                         "passes_cancelled": 0, "frames": 0, "doppler_sent": 0,
                                         "rotator_commands": 0, "rotator_failures": 0, "flowgraph_restarts": 0}
        self._counter_lock = threading.Lock()
        self.planning = PlanningService(config, catalog=catalog, clock=self.clock)
        self.store = self.planning.store
        self.catalog = self.planning.catalog
        self.gates: dict[str, Any] = {}
        self._emulators: list[Any] = []
        self._workdir = pathlib.Path(workdir) if workdir else config.state_dir / "sim"
        if simulate is not None:
            # Decoding may run behind simulated time: give the flowgraph time to catch up at the end.
            base = settings or config.section("executor") or ExecutorSettings()
            settings = dataclasses.replace(base, stop_timeout_s=max(base.stop_timeout_s, simulate.drain_timeout_s))
            signals = signals or self._sim_signals(simulate)
            if simulate.emulate_rotators and rotator_factory is None:
                rotator_factory = self._start_emulators(simulate)
        self.executor = PassExecutor(config, self.store, self.planning.tles, self.catalog, self.clock,
                                     settings=settings, signals=signals, publish=self._publish,
                                     rotator_factory=rotator_factory, gates=self.gates)
        for r in config.rotators or ():
            from firmware_bridge.gate import ControlGate

            self.gates.setdefault(r.name, ControlGate())
        self.heartbeat = Heartbeat()       # the main loop's sign of life (the systemd watchdog reads it)
        self._stop = threading.Event()     # ends the loop and the running pass
        self._wake = threading.Event()     # wakes an idle wait (replan, stop)
        self._replan = threading.Event()
        self._next_replan = 0.0
        self._started = False
        self._next_retention = 0.0         # time.monotonic() of the next retention run
        self._clock_offset: float | None = None  # the clock's step_offset_s() at the last check
        self.stop_reason = ""
        # the reports of the last passes flown (all of them up to run()'s max_passes; a daemon flying for
        # months keeps the last KEEP_REPORTS: each holds its Doppler and rotator tracks, a few hundred kB)
        self.flown: collections.deque = collections.deque(maxlen=KEEP_REPORTS)
        self.passes_flown = 0
        self.retention_reports: list[Any] = []

    # --- composition helpers --------------------------------------------------------------

    def _sim_signals(self, opts: SimOptions):
        from .sim.provider import RecordedSignal, SimulatedSignals

        if opts.recording:
            return RecordedSignal(opts.recording, opts.recording_samp_rate_sps)
        self._workdir.mkdir(parents=True, exist_ok=True)
        return SimulatedSignals(self._workdir, opts.settings, keep=opts.keep_signals)

    def _start_emulators(self, opts: SimOptions) -> Callable[[str], Any]:
        """A pty emulator per configured rotator (its protocol's; GS-232B for rotctld), in simulated time."""
        from firmware_bridge import open_rotator
        from firmware_bridge.emulators import start_emulator
        from firmware_bridge.emulators.rotator_model import RotatorModel
        from firmware_bridge.factory import rotator_from_config

        configs: dict[str, dict] = {}
        for r in self.config.rotators or ():
            cfg = dict(r.bridge_config())
            if cfg["protocol"] == "rotctld":  # no rotctld emulator: a GS-232B with the same limits
                cfg["protocol"] = "gs232b"
                cfg.pop("host", None)
                cfg.pop("tcp_port", None)
            cfg["device"] = "/dev/null"  # placeholder: the probe only reads limits and park
            probe = rotator_from_config(cfg)
            model = RotatorModel(az_deg=probe.park_position.az_deg, el_deg=probe.park_position.el_deg,
                                 limits=probe.limits, az_rate_dps=opts.rotator_az_rate_dps,
                                 el_rate_dps=opts.rotator_el_rate_dps, clock=self.clock.now)
            probe.close()
            proto = cfg["protocol"]
            emu = start_emulator(proto, model=model)
            self._emulators.append(emu)
            cfg["device"] = emu.path
            configs[r.name] = cfg
        self.emulators = {name: emu for name, emu in zip(configs, self._emulators)}

        def factory(name: str):
            if name not in configs:
                raise InputError(f"no rotator named {name!r} in the configuration")
            return open_rotator(configs[name])
        return factory

    def _publish(self, topic: str, **data) -> None:
        self._count(topic, data)
        self.events.publish(topic, **data)

    def _count(self, topic: str, data: dict) -> None:
        with self._counter_lock:
            c = self.counters
            if topic == "frame":
                c["frames"] += 1
            elif topic == "doppler":
                c["doppler_sent"] += 1
            elif topic == "rotator":
                if data.get("kind") == "command":
                    c["rotator_commands"] += 1
                elif data.get("kind") == "failure":
                    c["rotator_failures"] += 1
            elif topic == "radio" and data.get("state") == "restarting":
                c["flowgraph_restarts"] += 1
            elif topic == "pass.state" and data.get("state") in ("completed", "failed", "interrupted",
                                                                  "cancelled"):
                c[f"passes_{data['state']}"] += 1

    def _set_state(self, state: str, reason: str = "") -> None:
        if state != self.state:
            self.state = state
            self.events.publish("station.state", state=state, reason=reason)

    def _time_stands_still(self):
        """A context in which simulated time does not run (planning, signal synthesis); real time runs on."""
        if self.sim is not None and isinstance(self.clock, SimClock) and self.clock.speed is not None:
            return self.clock.paused()
        return contextlib.nullcontext()

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> dict:
        """Recover after a crash, load element sets and tasks, plan. Called by ``run`` if needed."""
        if self._started:
            return {}
        self._started = True
        self._check_clock()
        self.events.publish("station.state", state="starting", reason="")
        orphans = reap_orphans(self.config.state_dir / "run")
        for o in orphans:
            if o.get("killed"):
                self._publish("warning", where="station", pass_id=o.get("pass_id"),
                              message=f"killed flowgraph process {o['pid']} left by a previous run")
        with self._time_stands_still():
            res = self.planning.start()
        for pid, st in res["recovered"].items():
            self._publish("pass.state", pass_id=pid, state=st, reason="recovered after a restart",
                          norad=None, satellite=None)
        self._after_replan(res["replan"])
        return res

    def request_replan(self) -> None:
        self._replan.set()
        self._wake.set()

    def abort_pass(self, reason: str) -> bool:
        """End the running pass as interrupted with ``reason``; False when no pass runs.

        Only that pass ends: the station flies on, and the rest of the pass is not planned again.
        """
        return self.executor.abort(reason, final=True)

    def stop(self, reason: str = "station stopping") -> None:
        """End the running pass (interrupted) and the loop. Safe from a signal handler or any thread."""
        self.stop_reason = reason
        self._stop.set()   # first: a pass starting now sees it (PassExecutor.run)
        self._wake.set()
        self.executor.abort(reason, final=False)
        self._set_state("stopping", reason)

    def close(self) -> None:
        for emu in self._emulators:
            try:
                emu.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping an emulator")
        self._emulators.clear()
        self.executor.close()
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- status ----------------------------------------------------------------------------------

    def next_passes(self, limit: int = 5):
        return self.store.next_passes(self.clock.now(), limit)

    def status(self) -> dict:
        now = self.clock.now()
        return {
            "station": self.config.station.name, "state": self.state, "time_unix_s": now, "time": iso_utc(now),
            "simulated": self.sim is not None,
            "speed": getattr(self.clock, "speed", None) if self.sim is not None else 1.0,
            "current_pass": self.executor.status(),
            "next_passes": [p.to_dict() for p in self.next_passes(5)],
            "rotators": {name: {"held_by": g.owner} for name, g in self.gates.items()},
            "plan_rev": self.store.plan_rev,
            "counters": dict(self.counters), "event_errors": self.events.errors,
        }

    # --- the loop -------------------------------------------------------------------------------

    def _after_replan(self, result) -> None:
        d = result.diff
        self._next_replan = self.clock.now() + self.replan_interval_s
        planned = self.store.next_passes(self.clock.now(), 1000)
        self.events.publish("plan", plan_rev=d.plan_rev, added=d.added, updated=d.updated, cancelled=d.cancelled,
                            missed=d.missed, planned=len(planned),
                            next=[p.to_dict() for p in planned[:3]])

    def replan(self) -> None:
        self._replan.clear()
        with self._time_stands_still():
            result = self.planning.replan()
        self._after_replan(result)

    def apply_retention(self, now_unix_s: float | None = None):
        """Apply the ``[storage]`` retention rules now (never to the running pass); the report."""
        from .storage.retention import apply_retention

        st = self.config.storage
        if not (st.retention_days or st.iq_retention_days or getattr(st, "min_free_mb", 0)):
            return None
        cur = self.executor.status()
        rep = apply_retention(self.config.artifacts_dir, time.time() if now_unix_s is None else now_unix_s,
                              retention_days=st.retention_days, iq_retention_days=st.iq_retention_days,
                              min_free_bytes=int(getattr(st, "min_free_mb", 0) * 1e6),
                              keep=[cur["pass_id"]] if cur else ())
        self.retention_reports = (self.retention_reports + [rep])[-16:]
        if rep.dropped_for_space:
            self._publish("warning", where="storage",
                          message=f"low on disk space: dropped {len(rep.dropped_for_space)} optional artifact(s) "
                                  f"(IQ first, oldest passes first), {rep.bytes_freed / 1e6:.0f} MB freed")
        if rep.short_bytes:
            self._publish("error", where="storage",
                          message=f"disk space: {rep.short_bytes / 1e6:.0f} MB short of storage.min_free_mb "
                                  "with every optional artifact dropped")
        for e in rep.errors[:5]:
            self._publish("warning", where="storage", message=f"retention: {e}")
        return rep

    def _retention_due(self) -> None:
        if time.monotonic() < self._next_retention:
            return
        self._next_retention = time.monotonic() + 86400.0
        try:
            with self.heartbeat.busy(600.0):
                self.apply_retention()
        except Exception as e:  # noqa: BLE001 - retention problems never stop the station
            log.exception("retention failed")
            self._publish("error", where="storage", message=f"retention failed: {e}")

    def _simulatable(self, rec) -> str | None:
        """Why the simulator cannot build this pass's signal, or None."""
        from .sim.signal import make_framer

        try:
            _, tx = self.executor.transmitter(rec)
        except GroundsegError as e:
            return str(e)
        if make_framer(tx) is None:
            return f"no framer for {tx.framing!r}: the simulator cannot build {tx.name}"
        return None

    def _next_pass(self, now: float):
        for rec in self.store.next_passes(now, 50):
            if self.sim is not None and self.sim.only_simulatable and not self.sim.recording:
                why = self._simulatable(rec)
                if why is not None:
                    try:
                        self.store.transition(rec.pass_id, PassState.CANCELLED, now, f"simulation: {why}")
                        self._publish("pass.state", pass_id=rec.pass_id, state="cancelled",
                                      reason=f"simulation: {why}", norad=rec.norad, satellite=None)
                    except GroundsegError as e:
                        log.warning("cannot cancel %s: %s", rec.pass_id, e)
                    continue
            return rec
        return None

    def _fail_if_open(self, pass_id: str, reason: str) -> None:
        try:
            rec = self.store.get_pass(pass_id)
            if rec.state not in (PassState.COMPLETED, PassState.FAILED, PassState.CANCELLED,
                                 PassState.INTERRUPTED):
                self.store.transition(pass_id, PassState.FAILED, self.clock.now(), reason)
        except Exception:  # noqa: BLE001
            log.exception("pass %s: cannot mark it failed", pass_id)

    def _check_clock(self) -> bool:
        """Notice a step of the clock since the last check (``Clock.step_offset_s``); True if it stepped.

        A step is a warning; planned passes whose whole span it jumped over
        are failed now (missed, with the size of the step: never flown late),
        a pass it jumped into is flown for what is left of it (as after a
        start in the middle of a pass), and the plan is recomputed at the
        next turn of the loop.
        """
        fn = getattr(self.clock, "step_offset_s", None)
        if fn is None:
            return False
        off = float(fn())
        last, self._clock_offset = self._clock_offset, off
        if last is None or abs(off - last) <= STEP_TOLERANCE_S:
            return False
        d = off - last
        now = self.clock.now()
        self._publish("warning", where="station",
                      message=f"the clock stepped {'forward' if d > 0 else 'back'} by {abs(d):.0f} s "
                              f"(now {iso_utc(now)} UTC): replanning")
        if d > 0:
            reason = f"missed: the clock stepped forward by {d:.0f} s over the pass"
            for rec in self.store.passes([PassState.PLANNED], end_unix_s=now):
                if rec.end_unix_s > now:
                    continue
                try:
                    self.store.transition(rec.pass_id, PassState.FAILED, now, reason)
                    self._publish("pass.state", pass_id=rec.pass_id, state="failed", reason=reason,
                                  norad=rec.norad, satellite=None)
                except GroundsegError as e:
                    log.warning("cannot mark %s missed: %s", rec.pass_id, e)
        self._replan.set()
        return True

    def _idle_until(self, t: float) -> None:
        """Wait for station time ``t`` (a simulation jumps), or until woken or the clock steps."""
        now = self.clock.now()
        if t <= now:
            return
        if self.sim is not None and self.sim.skip_idle and isinstance(self.clock, SimClock):
            self.clock.set(t)
            return
        self._wake.clear()
        if self._stop.is_set() or self._replan.is_set():
            return
        # In slices of wall time, beating (a long idle wait is not a hang) and looking at the clock: a
        # slice in station time would last as long as a backward step (an hour: the watchdog fires).
        slice_s = 0.2 if isinstance(self.clock, SimClock) else 1.0
        while True:
            self.heartbeat.beat()
            if self._check_clock():
                return
            now = self.clock.now()
            if now >= t:
                return
            if isinstance(self.clock, SimClock) and self.clock.speed is None:
                self.clock.sleep_until(t, cancel=self._wake)  # instant
                return
            wall = min(self.heartbeat.period_s, slice_s, (t - now) / self._speed())
            if self._wake.wait(max(wall, 0.001)):
                return

    def _speed(self) -> float:
        """Station seconds per wall second."""
        speed = getattr(self.clock, "speed", None) if isinstance(self.clock, SimClock) else None
        return float(speed) if speed else 1.0

    def run(self, max_passes: int | None = None, until_unix_s: float | None = None,
            max_idle_s: float = 7 * 86400.0) -> list:
        """Fly planned passes until stopped, ``max_passes`` flown, or station time ``until_unix_s``.

        A simulation with nothing planned within ``max_idle_s`` returns
        (``math.inf``: never, e.g. a daemon with a control plane). Returns the
        reports of the passes this call flew (the last ``KEEP_REPORTS`` when
        there is no ``max_passes``).
        """
        self.start()
        setup_s = self.config.planner.setup_s
        idle_since = None
        flown_here = 0
        if max_passes is not None and max_passes > (self.flown.maxlen or 0):
            self.flown = collections.deque(self.flown, maxlen=max_passes)
        try:
            while not self._stop.is_set():
                self.heartbeat.beat()
                self._retention_due()
                self._check_clock()
                now = self.clock.now()
                if until_unix_s is not None and now >= until_unix_s:
                    break
                if self._replan.is_set() or now >= self._next_replan:
                    try:
                        with self.heartbeat.busy(600.0):
                            self.replan()
                    except Exception as e:  # noqa: BLE001 - keep flying the plan we have
                        log.exception("replanning failed")
                        self._replan.clear()
                        self._next_replan = now + min(self.replan_interval_s, 300.0)
                        self._publish("error", where="planner", message=f"replanning failed: {e}")
                rec = self._next_pass(now)
                if rec is None:
                    self._set_state("idle", "nothing planned")
                    idle_since = idle_since if idle_since is not None else now
                    if self.sim is not None and now - idle_since >= max_idle_s:
                        break
                    t = self._next_replan if until_unix_s is None else min(self._next_replan, until_unix_s)
                    self._idle_until(t)
                    continue
                idle_since = None
                t_begin = rec.start_unix_s - setup_s
                if until_unix_s is not None and t_begin >= until_unix_s:
                    self._idle_until(until_unix_s)
                    continue
                if t_begin > now:
                    self._set_state("waiting", f"next pass {rec.pass_id} at {iso_utc(rec.start_unix_s)}")
                    if self.sim is not None:
                        try:  # synthesise the signal before the pass, simulated time standing still
                            with self.heartbeat.busy(600.0), self._time_stands_still():
                                self.executor.prepare_signal(rec)
                        except Exception as e:  # noqa: BLE001 - the pass itself will fail with the reason
                            self._publish("error", pass_id=rec.pass_id, where="simulation",
                                          message=f"preparing the signal: {e}")
                    self._idle_until(min(t_begin, self._next_replan))
                    continue
                self._set_state("running", rec.pass_id)
                try:
                    # the pass (station time at its speed), then its release and artifacts: 10 min
                    with self.heartbeat.busy(max(0.0, rec.end_unix_s - now) / self._speed() + 600.0):
                        report = self.executor.run(rec, cancel=self._stop)
                except Exception as e:  # noqa: BLE001 - the executor ends its passes itself; this is a bug
                    log.exception("pass %s: executor error", rec.pass_id)
                    self._publish("error", pass_id=rec.pass_id, where="executor", message=str(e))
                    self._fail_if_open(rec.pass_id, f"internal error: {e}")
                    continue
                finally:
                    self._next_retention = 0.0  # after each pass
                self.flown.append(report)
                self.passes_flown += 1
                flown_here += 1
                if max_passes is not None and flown_here >= max_passes:
                    break
        finally:
            self._set_state("stopped", self.stop_reason)
        return list(self.flown)[-flown_here:] if flown_here else []


# --- `groundseg station` ------------------------------------------------------------------------------

def add_cli(sub) -> None:
    p = sub.add_parser("station", help="run the station: plan and fly passes (or simulate them)",
                       description="Run the station daemon: plan the configured tasks, fly each pass "
                                   "(flowgraph, Doppler, rotator), store frames and artifacts. With "
                                   "--simulate the passes are flown in simulated time against synthetic "
                                   "signals and emulated rotators.")
    p.add_argument("--config", required=True, metavar="FILE", help="station configuration (TOML)")
    p.add_argument("--simulate", action="store_true", help="simulated time, synthetic IQ, emulated rotators")
    p.add_argument("--speed", type=float, default=None, metavar="X",
                   help="simulated seconds per wall second (default 20)")
    p.add_argument("--start", metavar="TIME", help="simulation: start at this UTC time (ISO 8601 or Unix s)")
    p.add_argument("--passes", type=int, default=None, metavar="N",
                   help="stop after N passes (simulation default 1; 0 = no limit)")
    p.add_argument("--workdir", metavar="DIR", help="state and artifacts here instead of the configured "
                                                    "directories (simulation default: a new temporary one)")
    p.add_argument("--recording", metavar="FILE", help="simulation: play this IQ recording for every pass")
    p.add_argument("--sim-samp-rate", type=float, default=48000.0, metavar="SPS",
                   help="simulation: sample rate of the synthesised IQ (default 48000)")
    p.add_argument("--catalog", metavar="DIR", help="seeds directory (default: the project's)")
    p.add_argument("--skip-idle", action="store_true",
                   help="simulation: jump over idle time even with a control plane (soak runs, demos)")
    p.add_argument("--json", action="store_true", help="print every event as one JSON line")
    p.set_defaults(func=cmd_station)


def _parse_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    from .schedule.tasks import _time

    errs: list[str] = []
    t = _time(text, "--start", errs)
    if errs:
        raise InputError(errs[0])
    return t


def with_workdir(config, workdir: pathlib.Path):
    """The same configuration with state and artifacts under ``workdir``."""
    st = dataclasses.replace(config.storage, state_dir=workdir / "state", artifacts_dir=workdir / "passes")
    return dataclasses.replace(config, sections={**config.sections, "storage": st})


def _frame_summary(rec: dict) -> str:
    ax = rec.get("ax25")
    data = bytes.fromhex(rec.get("hex", ""))
    if isinstance(ax, dict):
        info = rec.get("info") or ax.get("info")
        if info is None:
            info = data[16:].decode("ascii", "replace")
        return f"{ax.get('src', '?')}>{ax.get('dst', '?')} {info}"
    from .sim.payloads import parse_beacon

    seq = parse_beacon(data)
    tag = f" (sim beacon {seq})" if seq is not None else ""
    return f"{len(data)} bytes {data[:16].hex()}{'...' if len(data) > 16 else ''}{tag}"


class _Printer:
    def __init__(self, out, as_json: bool):
        self.out, self.as_json = out, as_json
        self.lock = threading.Lock()

    def __call__(self, ev: Event) -> None:
        with self.lock:
            if self.as_json:
                print(json.dumps(ev.to_dict(), default=str), file=self.out, flush=True)
                return
            line = self.line(ev)
            if line:
                stream = sys.stderr if ev.topic in ("warning", "error") else self.out
                print(f"{iso_utc(ev.t_unix_s)[11:19]}  {line}", file=stream, flush=True)

    def line(self, ev: Event) -> str | None:
        d = ev.data
        if ev.topic == "station.state":
            return f"station {d['state']}" + (f": {d['reason']}" if d.get("reason") else "")
        if ev.topic == "plan":
            nxt = d.get("next") or []
            s = f"plan {d['plan_rev']}: {d['planned']} pass(es) planned"
            if nxt:
                n = nxt[0]
                s += f"; next {n['pass_id']} ({n['transmitter']}) at {n['start']} UTC, max el {n['max_el_deg']:.0f} deg"
            return s
        if ev.topic == "pass.state":
            return f"pass {d['pass_id']}: {d['state']}" + (f" ({d['reason']})" if d.get("reason") else "")
        if ev.topic == "frame":
            r = d["record"]
            return f"  frame {r.get('transmitter', '')}: {_frame_summary(r)}"
        if ev.topic == "radio" and d.get("state") in ("ready", "restarting", "stopped"):
            if d["state"] == "ready":
                return f"flowgraph ready (pid {d.get('pid')}, {d.get('samp_rate_sps', 0):g} S/s, " \
                       f"decoding {', '.join(d.get('decoders') or []) or 'nothing'})"
            if d["state"] == "stopped":
                e = d.get("exit") or {}
                return f"flowgraph {e.get('how')} (exit code {e.get('returncode')})"
            return "flowgraph restarting"
        if ev.topic == "rotator" and d.get("kind") in ("parked", "stopped"):
            return f"rotator {d.get('rotator')} {d['kind']}"
        if ev.topic in ("warning", "error"):
            return f"{ev.topic}: {d.get('where', '')}: {d.get('message')}"
        return None


def _summary(reports, artifacts_dir: pathlib.Path, out) -> bool:
    ok = True
    for r in reports:
        print(f"\npass {r.pass_id}: {r.state}" + (f" ({r.reason})" if r.reason else ""), file=out)
        sim = r.simulation or {}
        if sim:
            print(f"  frames decoded: {sim.get('decoded_in_view', 0)} of {sim.get('in_view', 0)} sent while in view"
                  f" ({sim.get('decoded_sent', 0)} of {sim.get('sent', 0)} sent in all; "
                  f"{r.counts.get('frames', 0)} frame(s) stored)", file=out)
        else:
            print(f"  frames decoded: {r.counts.get('frames', 0)}", file=out)
        print(f"  Doppler updates sent: {r.counts.get('doppler_sent', 0)}, rotator commands: "
              f"{r.counts.get('rotator_commands', 0)}, wall time {r.wall_s:.1f} s", file=out)
        for name in ("report.json", "waterfall.png", "frames.jsonl", "iq.sigmf-meta"):
            if name in r.artifacts:
                print(f"  {name}: {artifacts_dir / r.pass_id / name}", file=out)
        if r.state != "completed":
            ok = False
    return ok


class StartupError(GroundsegError):
    """A component of the daemon could not start: one line, with the exit code of its cause."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def _start(what: str, fn: Callable, *args, **kw):
    """``fn(*args, **kw)``; any failure becomes one ``StartupError`` line naming ``what``."""
    try:
        return fn(*args, **kw)
    except GroundsegError as e:
        raise StartupError(f"{what}: {e}", e.exit_code) from None
    except Exception as e:  # noqa: BLE001 - an environment problem (permissions, disk...): one line, exit 1
        log.debug("%s: start-up failed", what, exc_info=True)
        raise StartupError(f"{what}: cannot start: {type(e).__name__}: {e}", 1) from None


def cmd_station(args) -> int:
    """``groundseg station``: the daemon on the configuration file named by ``--config``."""
    from .config import load_config

    return run_station(args, load_config(args.config))  # every section, whichever component reads it


def run_station(args, config, demo: bool = False) -> int:
    """The station daemon: every component composed, started in order, closed in reverse order.

    ``demo``: ``make demo``'s run (a final one-line verdict after the summary).
    """
    from . import logs, notify
    from .catalog import load_catalog

    logs.setup_logging(config.section("logging"))
    catalog = load_catalog(args.catalog) if args.catalog else None
    out = sys.stdout
    sim = None
    clock: Clock
    if args.simulate:
        speed = args.speed if args.speed is not None else 20.0
        if not speed > 0:
            raise InputError(f"--speed {speed} must be > 0")
        start = _parse_time(args.start) if args.start else time.time()
        clock = SimClock(start, speed)
        clock.pause()  # start-up (components, planning) takes no simulated time: resumed when the loop runs
        from .sim import SimSettings

        settings = SimSettings(samp_rate_sps=args.sim_samp_rate)
        settings.check()
        sim = SimOptions(speed=speed, recording=args.recording, settings=settings)
        workdir = pathlib.Path(args.workdir) if args.workdir else pathlib.Path(
            tempfile.mkdtemp(prefix="groundseg-sim-"))
        config = with_workdir(config, workdir.resolve())
        print(f"simulation: workdir {workdir}, starting {iso_utc(start)} UTC at {speed:g}x",
              file=sys.stderr if args.json else out, flush=True)
        max_passes = 1 if args.passes is None else (args.passes or None)
    else:
        if args.speed is not None or args.start or args.recording:
            raise InputError("--speed, --start and --recording need --simulate")
        if args.workdir:
            config = with_workdir(config, pathlib.Path(args.workdir).resolve())
        clock = RealClock()
        max_passes = args.passes or None

    watchdog = notify.Watchdog.from_env()
    with contextlib.ExitStack() as stack:
        station = _start("station", Station, config, clock, catalog=catalog, simulate=sim)
        stack.callback(station.close)

        def on_signal(signum, frame):
            # The handler runs in the main thread between two of its bytecodes, maybe inside a lock that
            # stop() takes too (event bus, printer, executor): stop from a thread of its own.
            threading.Thread(target=station.stop, args=(f"received {signal.Signals(signum).name}",),
                             name="station-stop", daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        station.heartbeat = notify.Heartbeat.for_watchdog(watchdog)

        # 1. the gateway: its outbox takes every frame before anything else happens to it
        gateway = None
        if config.has("gateway"):
            from .gateway.wiring import attach_gateway

            gateway = _start("gateway", attach_gateway, station, config)
            stack.callback(gateway.close)
        # 2. the uplink
        if config.has("uplink"):
            from .uplink.wiring import attach_uplink

            uplink = _start("uplink", attach_uplink, station, config)
            stack.callback(uplink.close)
        # 3. metrics
        metrics = None
        if config.has("metrics") and config.metrics.enabled:
            from .telemetry.exporter import MetricsServer
            from .telemetry.wiring import attach_metrics

            metrics = _start("metrics", attach_metrics, station, config, serve=False)
            stack.callback(metrics.close)
            try:  # a port that cannot be bound stops the daemon (attach_metrics alone would go on without)
                metrics.server = MetricsServer(metrics.registry, config.metrics.host, config.metrics.port).start()
            except GroundsegError as e:
                raise StartupError(str(e), 3) from None
            if gateway is not None:
                metrics.attach_gateway(gateway)
        # 4. the control plane (None without [control] or with enabled = false)
        from .control import start_control_plane

        control = _start("control plane", start_control_plane, station)
        if control is not None:
            stack.callback(control.close)
            if metrics is not None:
                metrics.attach_control(control)
            if sim is not None and not getattr(args, "skip_idle", False):
                sim.skip_idle = False  # remotely controlled: never jump over idle time, never end for lack of work
        # 5. what the operator and systemd see
        stack.enter_context(_Subscription(station.events.subscribe(notify.status_subscriber(),
                                                                    topics=notify.STATUS_TOPICS)))
        if logs.under_journal():  # under systemd: one structured line per event, in the journal
            sub = logs.event_logger(task_of=lambda pid: station.store.get_pass(pid).task_id)
        else:
            sub = _Printer(out, args.json)
        stack.enter_context(_Subscription(station.events.subscribe(sub)))
        try:
            with station.heartbeat.busy(600.0):
                _start("planning", station.start)  # recover, load element sets, plan: then the station is up
            watchdog.start(station.heartbeat.fresh)
            notify.notify_ready(f"started: {len(station.next_passes(1000))} pass(es) planned")
            if isinstance(clock, SimClock) and clock.is_paused:
                clock.resume()
            reports = station.run(max_passes=max_passes, max_idle_s=math.inf if control is not None else 7 * 86400.0)
        finally:
            notify.notify_stopping(station.stop_reason or "finished")
            watchdog.stop()
    if args.json:
        for r in reports:
            print(json.dumps({"topic": "summary", "pass_id": r.pass_id, "state": r.state, "reason": r.reason,
                              "counts": r.counts, "simulation": {k: v for k, v in (r.simulation or {}).items()
                                                                 if k != "frames"},
                              "dir": str(config.artifacts_dir / r.pass_id)}), file=out)
        ok = all(r.state == "completed" for r in reports)
    else:
        ok = _summary(reports, config.artifacts_dir, out)
    if demo:
        line, demo_ok = _demo_verdict(reports, config.artifacts_dir)
        print(line, file=out, flush=True)
        ok = ok and demo_ok
    if station.stop_reason:
        return 130 if "SIGINT" in station.stop_reason else 0
    if not reports:
        print("groundseg: no pass was flown", file=sys.stderr)
        return 1
    return 0 if ok else 1


def _demo_verdict(reports, artifacts_dir: pathlib.Path) -> tuple[str, bool]:
    """One line: frames decoded against frames sent while in view, and where the evidence is."""
    if not reports:
        return "demo: FAILED: no pass was flown", False
    r = reports[0]
    sim = r.simulation or {}
    decoded, in_view = sim.get("decoded_in_view", 0), sim.get("in_view", 0)
    have = [n for n in ("report.json", "waterfall.png") if n in r.artifacts]
    ok = r.state == "completed" and in_view > 0 and decoded == in_view and len(have) == 2
    return (f"demo: {'OK' if ok else 'FAILED'}: pass {r.pass_id} {r.state}, decoded {decoded} of {in_view} frames "
            f"sent in view; report {artifacts_dir / r.pass_id / 'report.json'}, "
            f"waterfall {artifacts_dir / r.pass_id / 'waterfall.png'}"), ok


class _Subscription:
    """An unsubscribe function as a context manager (for the ExitStack)."""

    def __init__(self, unsubscribe: Callable[[], None]):
        self.unsubscribe = unsubscribe

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.unsubscribe()
