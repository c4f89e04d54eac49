"""The pass executor: flies one planned pass from setup to release, whatever fails.

Life cycle of ``PassExecutor.run(pass)`` (station time from the ``Clock``:
simulated time in a simulation; timeouts of processes are wall seconds)::

    start - setup_s   pre-pass: artifact directory; elements, transmitter,
                      chain; Doppler curve and sky track; rotator: manual
                      control locked (gate), pointing planned (flip or
                      450-degree overlap, ``firmware_bridge.pointing``),
                      tracking thread started (it pre-positions at once);
                      the pass's IQ source prepared (SDR, or a simulated or
                      recorded file)
    start - lead_s    the flowgraph child process starts
                      (``flowgraphs.pass_runner``, supervised by
                      ``supervisor.ChildProcess``); Doppler corrections go to
                      it every ``doppler_interval_s`` (at most 1 s) over
                      ZeroMQ, each tagged with the time it is for
    start             in-pass
    end               post-pass: the child is asked to stop (a file source
                      decodes on up to the pass end), then interrupted, then
                      killed (hard deadline); tracking stops, the rotator
                      parks (or at least stops), the gate is released, the
                      port closed; SigMF metadata, waterfall PNG and the
                      report are written; completed / failed / interrupted

Faults:

* the child crashes or stops answering (no status line for
  ``heartbeat_timeout_s``): it is killed and, if ``restarts`` allow and
  ``min_restart_s`` of the pass remain, started again (a file source skips
  to where the last one was); otherwise the pass fails with the reason;
* the child does not come up within ``ready_timeout_s`` (or reports the SDR
  missing): the pass fails;
* the IQ stream fails mid-pass (no sample for ``heartbeat_timeout_s`` while
  samples are due, or an SDR stream that ends: see
  ``flowgraphs.pass_runner``): the child reports it and exits 3, which is a
  crash as above (restarted if allowed, else the pass fails with the reason);
* a file source (simulation, recorded playback) that ends before the pass:
  the file is all the signal there is, so the pass is ``completed`` and its
  reason says how long before the end the signal ended (a warning too);
* the disk fills while the child writes the IQ recording or the waterfall:
  the child drops the IQ recording first (deleted, its space freed), then
  the waterfall, and says so (``warning`` events, ``where: storage``);
  reception, frames and forwarding go on and the pass completes;
* the rotator cannot be opened or stops answering: the pass goes on without
  tracking and the report records the warning (after
  ``rotator_max_failures`` failed commands tracking stops for the pass);
* any exception in the executor: the pass fails with the exception as the
  reason;
* ``abort(reason)`` ends the running pass ``interrupted`` (each pass has a
  cancel event of its own: aborting a pass never stops the station). The
  flowgraph is stopped at once: it decodes what it has read, it does not
  read on to the pass end. ``abort(reason, final=True)`` (an operator's
  abort) also records the pass in the store as not to be planned again
  (``ScheduleStore.mark_no_replan``), so the next replan does not fly the
  rest of it; a station stop (``final=False``) leaves the remainder to be
  re-planned after a restart if it is still long enough. A pass that
  would start after the ``cancel`` event given to ``run`` (the station's
  stop event) is set is interrupted at once.

In every case the child is gone, the rotator released and a terminal state
with its reason stored before ``run`` returns.

Frames arrive from the child on its stdout. Each goes first to
``frame_hook(record, pass_id, norad)`` when one is set (the gateway's
outbox: ``groundseg.gateway.wiring``), then to the pass's artifacts
(``storage.artifacts.FrameWriter``: JSON lines + KISS, flushed per frame),
then out as a ``frame`` event: no frame is in ``frames.jsonl`` that the
outbox was not given first (an outbox that fails to take it reports an
error; the frame is still stored). Events go to ``publish(topic,
**data)``: topics ``pass.state``, ``frame``, ``doppler``, ``radio`` (with
``state="done"`` and the flowgraph's final counts when a run ends),
``rotator``, ``warning``, ``error``, ``pass.report`` (see
``groundseg.station``).

Disk space: when the artifacts' file system has less than ``[storage]
min_free_mb`` free at set-up, the pass does not record IQ (optional and by
far the largest artifact); frames, waterfall and report are kept. A
warning says so (``groundseg.storage.retention`` frees space between
passes).

The ``[executor]`` section of the station configuration sets
``ExecutorSettings``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import pathlib
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from ..config import Table, between, register_section
from ..errors import GroundsegError, InputError
from ..orbit.doppler import DopplerModel
from ..orbit.elements import iso_utc
from ..orbit.passes import look_angles
from ..storage import artifacts as art
from ..storage.report import PassReport
from .clock import Clock, SimClock
from .lifecycle import PassState
from .store import PassRecord, ScheduleStore
from .supervisor import ChildProcess, ExitStatus

log = logging.getLogger(__name__)

ROOT = pathlib.Path(__file__).resolve().parents[2]


# --- settings -------------------------------------------------------------------------

@dataclass(frozen=True)
class ExecutorSettings:
    lead_s: float = 30.0               # flowgraph start before the observed span (station time)
    doppler_interval_s: float = 0.5    # Doppler correction period (station time, <= 1 s)
    ready_timeout_s: float = 30.0      # wall seconds for the flowgraph to come up
    heartbeat_timeout_s: float = 10.0  # wall seconds without a status line: hung
    stop_timeout_s: float = 10.0       # wall seconds to drain after the stop request, then SIGINT
    interrupt_timeout_s: float = 3.0   # wall seconds after SIGINT, then SIGKILL
    restarts: int = 1                  # flowgraph restarts allowed per pass
    min_restart_s: float = 30.0        # only restart with at least this much pass left
    rotator_threshold_deg: float = 2.0 # command only moves larger than this
    rotator_lead_s: float = 2.0        # point where the satellite will be this much later
    rotator_update_s: float = 1.0      # tracking period (station time)
    rotator_max_failures: int = 3      # failed commands in a row before tracking stops
    park_after_pass: bool = True
    waterfall_nfft: int = 256
    waterfall_row_s: float = 1.0       # signal seconds per waterfall row
    status_interval_s: float = 0.2     # wall seconds between the flowgraph's status lines
    child_command: tuple[str, ...] = ()  # default: this Python, -m flowgraphs.pass_runner

    def __post_init__(self):
        errs = []
        if not 0 < self.doppler_interval_s <= 1.0:
            errs.append(f"doppler_interval_s {self.doppler_interval_s} must be in (0, 1]")
        for k in ("lead_s", "ready_timeout_s", "heartbeat_timeout_s", "stop_timeout_s", "interrupt_timeout_s",
                  "min_restart_s", "rotator_threshold_deg", "rotator_lead_s", "rotator_update_s",
                  "waterfall_row_s", "status_interval_s"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                errs.append(f"{k} {v!r} must be a number >= 0")
        if self.heartbeat_timeout_s <= 5 * self.status_interval_s:
            errs.append("heartbeat_timeout_s must exceed 5 status intervals")
        if not isinstance(self.restarts, int) or self.restarts < 0:
            errs.append(f"restarts {self.restarts!r} must be a whole number >= 0")
        if errs:
            raise InputError("executor settings: " + "; ".join(errs))

    @property
    def command(self) -> list[str]:
        return list(self.child_command) or [sys.executable, "-m", "flowgraphs.pass_runner"]


@register_section("executor", doc="pass execution: flowgraph lead time, Doppler period, stop deadlines, "
                                  "rotator tracking")
def _parse_executor(value, path, errs):
    t = Table(value, path, errs)
    d = ExecutorSettings()
    vals = dict(
        lead_s=t.get("lead_s", "number", d.lead_s, check=between(0, 3600)),
        doppler_interval_s=t.get("doppler_interval_s", "number", d.doppler_interval_s,
                                 check=between(0.05, 1.0)),
        ready_timeout_s=t.get("ready_timeout_s", "number", d.ready_timeout_s, check=between(1, 600)),
        heartbeat_timeout_s=t.get("heartbeat_timeout_s", "number", d.heartbeat_timeout_s, check=between(1, 600)),
        stop_timeout_s=t.get("stop_timeout_s", "number", d.stop_timeout_s, check=between(0, 600)),
        interrupt_timeout_s=t.get("interrupt_timeout_s", "number", d.interrupt_timeout_s, check=between(0, 600)),
        restarts=t.get("restarts", "integer", d.restarts, check=between(0, 10)),
        min_restart_s=t.get("min_restart_s", "number", d.min_restart_s, check=between(0, 3600)),
        rotator_threshold_deg=t.get("rotator_threshold_deg", "number", d.rotator_threshold_deg,
                                    check=between(0, 45)),
        rotator_lead_s=t.get("rotator_lead_s", "number", d.rotator_lead_s, check=between(0, 60)),
        rotator_update_s=t.get("rotator_update_s", "number", d.rotator_update_s, check=between(0.1, 60)),
        rotator_max_failures=t.get("rotator_max_failures", "integer", d.rotator_max_failures,
                                   check=between(1, 100)),
        park_after_pass=t.get("park_after_pass", "boolean", d.park_after_pass),
        waterfall_nfft=t.get("waterfall_nfft", "integer", d.waterfall_nfft,
                             check=lambda v: None if v in (64, 128, 256, 512, 1024, 2048, 4096)
                             else "must be a power of two from 64 to 4096"),
        waterfall_row_s=t.get("waterfall_row_s", "number", d.waterfall_row_s, check=between(0.05, 60)),
    )
    t.done()
    if None in vals.values():
        return None
    try:
        return ExecutorSettings(**vals)
    except InputError as e:
        errs.append(f"{path}: {e}")
        return None


# --- the pass's IQ source ----------------------------------------------------------------

@dataclass
class SignalRequest:
    """What a signal provider needs to give the IQ of one pass."""

    pass_id: str
    norad: int
    satellite: str
    transmitter: Any            # catalog Transmitter
    freq_hz: float
    chain: Any                  # config.ChainConfig
    elements: Any               # orbit.ElementSet
    station: Any                # orbit.GroundStation
    mask: Any                   # orbit.HorizonMask
    start_unix_s: float         # first sample (the flowgraph's planned start)
    end_unix_s: float           # last sample needed


@dataclass
class SourcePlan:
    """The child's ``source`` spec and, for files, where the file sits in time."""

    source: dict
    t0_unix_s: float | None = None   # file sources: time of the first sample
    throttle: bool = True            # file sources: pace to the clock
    simulation: dict | None = None   # the simulator's record of what it sent
    cleanup: Callable[[], None] | None = None


class SignalProvider(Protocol):
    def prepare(self, req: SignalRequest) -> SourcePlan: ...


class HardwareSignals:
    """The chain's SDR, as its ``sdr_args`` name it (opened by the flowgraph process)."""

    def prepare(self, req: SignalRequest) -> SourcePlan:
        ch = req.chain
        if not ch.samp_rate_sps:
            raise InputError(f"chains.{ch.name}: samp_rate_sps is needed to receive a pass")
        return SourcePlan({"kind": "sdr", "sdr_args": ch.sdr_args, "samp_rate_sps": ch.samp_rate_sps,
                           "gain_db": ch.gain_db})


# --- rotator tracking --------------------------------------------------------------------

def angular_separation_deg(az1, el1, az2, el2):
    """Great-circle angle between two sky directions (degrees)."""
    a1, e1, a2, e2 = (np.radians(np.asarray(x, dtype=float)) for x in (az1, el1, az2, el2))
    c = np.sin(e1) * np.sin(e2) + np.cos(e1) * np.cos(e2) * np.cos(a1 - a2)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


class SkyTrack:
    """The satellite's sky position over the observed span, interpolated (azimuth unwrapped)."""

    def __init__(self, t_unix_s: np.ndarray, az_deg: np.ndarray, el_deg: np.ndarray):
        self.t = np.asarray(t_unix_s, float)
        self.az_unwrapped = np.degrees(np.unwrap(np.radians(np.asarray(az_deg, float))))
        self.el = np.asarray(el_deg, float)

    def at(self, t_unix_s: float) -> tuple[float, float]:
        t = min(max(t_unix_s, self.t[0]), self.t[-1])
        return float(np.interp(t, self.t, self.az_unwrapped) % 360.0), float(np.interp(t, self.t, self.el))

    def points(self) -> list[tuple[float, float]]:
        return [(float(a % 360.0), float(e)) for a, e in zip(self.az_unwrapped, self.el)]


class RotatorTracker:
    """Points a rotator along a pass from a thread, ahead of the satellite, in steps above a threshold."""

    def __init__(self, rotator, pointing, track: SkyTrack, clock: Clock, settings: ExecutorSettings,
                 report: PassReport, publish: Callable, pass_id: str):
        self.rotator = rotator
        self.pointing = pointing
        self.track = track
        self.clock = clock
        self.settings = settings
        self.report = report
        self.publish = publish
        self.pass_id = pass_id
        self.tracking = True
        self.last_command: tuple[float, float] | None = None
        self.last_position = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rotator-{rotator.name}", daemon=True)

    def start(self) -> "RotatorTracker":
        self._thread.start()
        return self

    def target(self, t_unix_s: float) -> tuple[float, float, float, float]:
        """(sky az, sky el, rotator az, rotator el) to command at station time ``t_unix_s``."""
        az, el = self.track.at(t_unix_s + self.settings.rotator_lead_s)
        el = max(el, self.rotator.limits.min_el_deg)
        raz, rel = self.pointing.to_rotator(az, el)
        return az, el, raz, rel

    def _run(self) -> None:
        failures = 0
        s = self.settings
        while not self._stop.is_set():
            now = self.clock.now()
            az, el, raz, rel = self.target(now)
            last = self.last_command
            if last is None or max(abs(raz - last[0]), abs(rel - last[1])) >= s.rotator_threshold_deg:
                try:
                    pos = self.rotator.point(raz, rel)
                except GroundsegError as e:
                    failures += 1
                    self.report.count("rotator_failures")
                    self.report.warn("rotator", f"{self.rotator.name}: pointing failed: {e}", now)
                    self.publish("rotator", pass_id=self.pass_id, rotator=self.rotator.name, kind="failure",
                                 message=str(e))
                    if failures >= s.rotator_max_failures:
                        self.tracking = False
                        msg = (f"{self.rotator.name}: {failures} pointing failures in a row: the pass goes on "
                               "without tracking")
                        self.report.warn("rotator", msg, now)
                        self.publish("warning", pass_id=self.pass_id, where="rotator", message=msg)
                        return
                else:
                    failures = 0
                    self.last_command = (raz, rel)
                    self.last_position = pos
                    self.report.count("rotator_commands")
                    with self.report._lock:
                        self.report.rotator_commands.append([round(now, 3), round(az, 3), round(el, 3),
                                                             round(raz, 3), round(rel, 3)])
                    self.publish("rotator", pass_id=self.pass_id, rotator=self.rotator.name, kind="command",
                                 az_deg=az, el_deg=el, rot_az_deg=raz, rot_el_deg=rel,
                                 position=[pos.az_deg, pos.el_deg] if pos is not None else None)
            if not self.clock.sleep_until(now + s.rotator_update_s, cancel=self._stop):
                break

    def finish(self, park: bool, now_fn: Callable[[], float]) -> None:
        """Stop tracking; park (or at least stop) the rotator. Failures are recorded, never raised."""
        self._stop.set()
        worst = self.rotator.timeout_s * (self.rotator.retries + 1) + 2.0
        self._thread.join(timeout=worst)
        if park:
            try:
                pos = self.rotator.park()
                self.publish("rotator", pass_id=self.pass_id, rotator=self.rotator.name, kind="parked",
                             position=[pos.az_deg, pos.el_deg] if pos is not None else None)
                self.report.mark("rotator_parked", now_fn())
                return
            except GroundsegError as e:
                self.report.warn("rotator", f"{self.rotator.name}: park failed: {e}", now_fn())
        try:
            self.rotator.stop()
            self.publish("rotator", pass_id=self.pass_id, rotator=self.rotator.name, kind="stopped")
        except GroundsegError as e:
            self.report.warn("rotator", f"{self.rotator.name}: stop failed: {e}", now_fn())


# --- the executor ---------------------------------------------------------------------------

_END_OF_INPUT = "end of input"


class _Abort(Exception):
    """The station asked the pass to end (shutdown, operator abort)."""


class _Fail(Exception):
    """The pass cannot go on: fail with this reason."""


def _noop_publish(topic: str, **data) -> None:
    pass


def clock_anchor(clock: Clock) -> dict:
    """How a child process rebuilds ``clock`` (a simulated clock runs at a fixed speed from an anchor)."""
    if isinstance(clock, SimClock):
        if clock.speed is None:
            raise InputError("a flowgraph cannot follow an instant simulated clock: give it a speed")
        mono = time.monotonic()
        return {"kind": "sim", "sim_unix_s": clock.now(), "monotonic_s": mono, "speed": clock.speed}
    return {"kind": "real"}


class PassExecutor:
    """Runs planned passes, one at a time (see the module docstring)."""

    def __init__(self, config, store: ScheduleStore, tles, catalog, clock: Clock, *,
                 settings: ExecutorSettings | None = None, signals: SignalProvider | None = None,
                 publish: Callable[..., None] | None = None, rotator_factory: Callable[[str], Any] | None = None,
                 gates: dict | None = None, artifacts_root: str | os.PathLike | None = None,
                 run_dir: str | os.PathLike | None = None):
        self.config = config
        self.store = store
        self.tles = tles
        self.catalog = catalog
        self.clock = clock
        self.settings = settings or (config.section("executor") if config is not None else None) or ExecutorSettings()
        setup_s = config.planner.setup_s if config is not None else None
        if setup_s is not None and self.settings.lead_s > setup_s:
            raise InputError(f"executor.lead_s ({self.settings.lead_s:g} s) exceeds planner.setup_s "
                             f"({setup_s:g} s): the flowgraph would start before its chain is reserved")
        self.signals = signals or HardwareSignals()
        self.publish = publish or _noop_publish
        self.rotator_factory = rotator_factory or self._open_rotator
        self.gates = gates if gates is not None else {}
        self.artifacts_root = pathlib.Path(artifacts_root) if artifacts_root else config.artifacts_dir
        self.run_dir = pathlib.Path(run_dir) if run_dir else config.state_dir / "run"
        self.station = config.ground_station()
        self.mask = config.horizon_mask()
        self._prepared: dict[str, SourcePlan] = {}
        self._lock = threading.Lock()
        self.current: "_PassRun | None" = None
        # Called with (record, pass_id, norad) for each frame BEFORE it is stored or published.
        self.frame_hook: Callable[[dict, str, int], None] | None = None
        self._sock_dir = self._control_dir()
        import zmq

        self._zmq = zmq.Context()

    def _control_dir(self) -> pathlib.Path:
        """Where the flowgraphs' control sockets go: the run directory, or /tmp if its path is too
        long for an ipc:// endpoint (about 100 bytes). Sockets left by a killed station are removed."""
        d = self.run_dir / "ctl"
        if len(str(d)) <= 80:
            try:
                d.mkdir(parents=True, exist_ok=True)
                for old in d.glob("*.ctl"):
                    old.unlink(missing_ok=True)
                self._own_sock_dir = False
                return d
            except OSError:
                pass
        self._own_sock_dir = True
        return pathlib.Path(tempfile.mkdtemp(prefix="gs-"))

    def close(self) -> None:
        for plan in self._prepared.values():
            _cleanup(plan)
        self._prepared.clear()
        self._zmq.term()
        if self._own_sock_dir:
            shutil.rmtree(self._sock_dir, ignore_errors=True)

    def _open_rotator(self, name: str):
        from firmware_bridge import open_rotator

        for r in self.config.rotators or ():
            if r.name == name:
                return open_rotator(r.bridge_config())
        raise InputError(f"no rotator named {name!r} in the configuration")

    # --- what a pass needs ---------------------------------------------------------------

    def transmitter(self, rec: PassRecord):
        sat = self.catalog.by_norad(rec.norad)
        for tx in sat.transmitters:
            if tx.name.lower() == rec.transmitter.lower():
                return sat, tx
        raise InputError(f"{sat.name} has no transmitter {rec.transmitter!r} in the catalog")

    def signal_request(self, rec: PassRecord) -> SignalRequest:
        sat, tx = self.transmitter(rec)
        chain = self.config.chain(rec.chain)
        if rec.norad not in self.tles:
            raise InputError(f"no element set for NORAD {rec.norad}")
        return SignalRequest(rec.pass_id, rec.norad, sat.name, tx, rec.freq_hz, chain, self.tles.get(rec.norad),
                             self.station, self.mask, rec.start_unix_s - self.settings.lead_s,
                             rec.end_unix_s + 1.0)

    def prepare_signal(self, rec: PassRecord) -> SourcePlan:
        """Prepare the pass's IQ source now (a simulation writes its file); cached per pass."""
        with self._lock:
            plan = self._prepared.get(rec.pass_id)
        if plan is None:
            plan = self.signals.prepare(self.signal_request(rec))
            with self._lock:
                self._prepared[rec.pass_id] = plan
        return plan

    def _take_prepared(self, rec: PassRecord) -> SourcePlan:
        plan = self.prepare_signal(rec)
        with self._lock:
            self._prepared.pop(rec.pass_id, None)
        return plan

    # --- running ---------------------------------------------------------------------------

    def run(self, rec: PassRecord, cancel: threading.Event | None = None) -> PassReport:
        """Fly ``rec`` (a planned pass) to a terminal state; returns its report.

        The pass has a cancel event of its own (``abort`` sets it). ``cancel``
        is the station's stop event: set before the pass is registered, the
        pass is interrupted at once (``Station.stop`` sets it, then calls
        ``abort``: a stop racing the start of a pass is never missed).
        """
        run = _PassRun(self, rec, threading.Event())
        with self._lock:
            self.current = run
        if cancel is not None and cancel.is_set():
            run.abort_reason = run.abort_reason or "the station is stopping"
            run.cancel.set()
        try:
            return run.run()
        finally:
            with self._lock:
                self.current = None

    def abort(self, reason: str, final: bool = False) -> bool:
        """End the running pass (interrupted, with ``reason``); False if none runs.

        ``final``: the operator ended it: the rest of the pass is not planned again.
        """
        with self._lock:
            run = self.current
        if run is None:
            return False
        run.abort_reason = reason
        run.abort_final = run.abort_final or bool(final)
        run.cancel.set()
        return True

    def status(self) -> dict | None:
        run = self.current
        return run.status() if run is not None else None


def _cleanup(plan: SourcePlan) -> None:
    if plan.cleanup is not None:
        try:
            plan.cleanup()
        except Exception:  # noqa: BLE001 - cleanup problems are logged, never fatal
            log.exception("signal cleanup failed")


class _PassRun:
    """The state of one pass being flown."""

    def __init__(self, ex: PassExecutor, rec: PassRecord, cancel: threading.Event):
        self.ex = ex
        self.rec = rec
        self.cancel = cancel
        self.abort_reason = ""
        self.abort_final = False     # an operator's abort: not to be planned again
        self.clock = ex.clock
        self.settings = ex.settings
        self.state = rec.state
        self.report = PassReport(rec.pass_id, rec.task_id, rec.norad, "", rec.transmitter, rec.freq_hz, rec.chain,
                                 rec.rotator, {"aos_unix_s": rec.aos_unix_s, "tca_unix_s": rec.tca_unix_s,
                                               "los_unix_s": rec.los_unix_s, "start_unix_s": rec.start_unix_s,
                                               "end_unix_s": rec.end_unix_s, "max_el_deg": rec.max_el_deg})
        self.artifacts: art.PassArtifacts | None = None
        self.plan: SourcePlan | None = None
        self.tracker: RotatorTracker | None = None
        self.rotator = None
        self.gate = None
        self.gate_owner = f"pass {rec.pass_id}"
        self.child: ChildProcess | None = None
        self.push = None
        self.runs: list[dict] = []
        self.ready = threading.Event()
        self.last_status: dict = {}
        self.child_error: str | None = None
        self.max_lag_s = 0.0
        self.input_ended = False
        self.doppler_t = None
        self.doppler_hz = None
        self.recording = None
        self.waterfall = True
        self.record_iq = False
        self._last_radio_pub = 0.0
        self._frames_lock = threading.Lock()
        self.frames: list[dict] = []

    # --- helpers ------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def publish(self, topic: str, **data) -> None:
        try:
            self.ex.publish(topic, **data)
        except Exception:  # noqa: BLE001 - a subscriber must not break the pass
            log.exception("event publishing failed")

    def to(self, state: PassState, reason: str = "") -> None:
        rec = self.ex.store.transition(self.rec.pass_id, state, self.now(), reason)
        self.state = rec.state
        self.report.state = rec.state.value
        self.report.mark(state.value, self.now())
        self.publish("pass.state", pass_id=self.rec.pass_id, state=state.value, reason=reason,
                     norad=self.rec.norad, satellite=self.report.satellite)

    def sleep_until(self, t: float) -> None:
        if not self.clock.sleep_until(t, cancel=self.cancel):
            raise _Abort(self.abort_reason or "the station is stopping")
        if self.cancel.is_set():
            raise _Abort(self.abort_reason or "the station is stopping")

    def status(self) -> dict:
        st = dict(self.last_status)
        return {"pass_id": self.rec.pass_id, "norad": self.rec.norad, "satellite": self.report.satellite,
                "transmitter": self.rec.transmitter, "state": self.state.value if self.state else None,
                "frames": self.report.counts.get("frames", 0), "doppler_hz": self.doppler_hz,
                "flowgraph": {"pid": self.child.pid if self.child else None, "ready": self.ready.is_set(),
                              "alive": bool(self.child and self.child.alive), "status": st},
                "rotator": {"name": self.rec.rotator, "tracking": bool(self.tracker and self.tracker.tracking),
                            "last_command": self.tracker.last_command if self.tracker else None},
                "start_unix_s": self.rec.start_unix_s, "end_unix_s": self.rec.end_unix_s}

    # --- the pass --------------------------------------------------------------------------------

    def run(self) -> PassReport:
        wall0 = time.monotonic()
        final, reason = PassState.FAILED, ""
        flown = False
        try:
            cur = self.ex.store.get_pass(self.rec.pass_id)
            if cur.state is not PassState.PLANNED:
                raise InputError(f"pass {self.rec.pass_id} is {cur.state.value}, not planned")
            self.to(PassState.PRE_PASS, "setup")
            try:
                self.setup()
                self.fly()
                self.to(PassState.POST_PASS, "end of the pass")
                flown = True
            except _Abort as e:
                final, reason = PassState.INTERRUPTED, str(e)
            except _Fail as e:
                final, reason = PassState.FAILED, str(e)
            except GroundsegError as e:
                final, reason = PassState.FAILED, str(e)
                self.report.error("executor", str(e), self.now())
            except Exception as e:  # noqa: BLE001 - any bug still ends the pass cleanly
                log.exception("pass %s: executor error", self.rec.pass_id)
                final, reason = PassState.FAILED, f"internal error: {type(e).__name__}: {e}"
                self.report.error("executor", reason, self.now())
        except GroundsegError as e:  # could not even start (not planned any more, store error)
            self.report.error("executor", str(e), self.now())
            self.report.reason = str(e)
            self.release()
            return self.report
        finally:
            if self.state in (PassState.PRE_PASS, PassState.IN_PASS, PassState.POST_PASS):
                self.release()
        if flown:  # after the release: the frames the flowgraph drained count too
            final, reason = self.verdict()
        self.report.wall_s = round(time.monotonic() - wall0, 3)
        self.report.state, self.report.reason = final.value, reason
        if final is PassState.INTERRUPTED and self.abort_final:
            try:  # before the final state: a replan right after it must already know
                self.ex.store.mark_no_replan(self.rec.pass_id, reason, self.now())
            except Exception as e:  # noqa: BLE001
                log.exception("pass %s: cannot record the abort", self.rec.pass_id)
                self.publish("error", pass_id=self.rec.pass_id, where="store", message=str(e))
        try:
            self.post()
        except Exception as e:  # noqa: BLE001 - artifacts gone (disk full, removed): the state still goes in
            log.exception("pass %s: writing the artifacts", self.rec.pass_id)
            self.publish("error", pass_id=self.rec.pass_id, where="storage", message=f"artifacts: {e}")
        try:
            self.to(final, reason)
        except Exception as e:  # noqa: BLE001
            log.exception("pass %s: cannot store the final state", self.rec.pass_id)
            self.publish("error", pass_id=self.rec.pass_id, where="store", message=str(e))
        self.publish("pass.report", pass_id=self.rec.pass_id, state=final.value, reason=reason,
                     counts=dict(self.report.counts),
                     report=str(self.artifacts.path(art.REPORT)) if self.artifacts else None,
                     artifacts=dict(self.report.artifacts), simulation=self.report.simulation)
        return self.report

    def setup(self) -> None:
        rec, ex = self.rec, self.ex
        self.artifacts = art.PassArtifacts(ex.artifacts_root, rec.pass_id)
        sat, tx = ex.transmitter(rec)
        self.sat, self.tx = sat, tx
        self.report.satellite = sat.name
        try:
            task = ex.store.get_task(rec.task_id).task
            self.recording = task.recording
        except InputError:
            self.recording = None
        self.waterfall = self.recording.waterfall if self.recording is not None else True
        self.record_iq = bool(self.recording is not None and self.recording.iq)
        if self.record_iq:
            self.check_disk_space()
        if rec.norad not in ex.tles:
            raise _Fail(f"no element set for NORAD {rec.norad}")
        es = ex.tles.get(rec.norad)
        self.elements = es
        # Doppler on a 1 s grid over the whole flowgraph run (linear interpolation
        # between SGP4 points is within a fraction of a hertz for LEO).
        t_a = rec.start_unix_s - self.settings.lead_s - 5.0
        t_b = rec.end_unix_s + 5.0
        self.dop_t = np.arange(t_a, t_b + 1.0, 1.0)
        self.dop_hz = DopplerModel(es, ex.station).offset_hz(rec.freq_hz, self.dop_t)
        self.setup_rotator()
        self.plan = ex._take_prepared(rec)
        if self.plan.simulation is not None:
            self.report.simulation = {"sent": len(self.plan.simulation.get("frames", []))}

    def check_disk_space(self) -> None:
        """Drop the IQ recording of this pass when the artifacts' file system is short of space."""
        from ..storage.retention import free_bytes

        storage = getattr(self.ex.config, "storage", None)
        need = float(getattr(storage, "min_free_mb", 0.0) or 0.0) * 1e6
        if need <= 0:
            return
        free = free_bytes(self.artifacts.dir)
        if free is not None and free < need:
            self.record_iq = False
            msg = (f"only {free / 1e6:.0f} MB free on the artifacts' file system (storage.min_free_mb "
                   f"{need / 1e6:g}): the IQ of this pass is not recorded")
            self.report.warn("storage", msg, self.now())
            self.publish("warning", pass_id=self.rec.pass_id, where="storage", message=msg)

    def doppler_at(self, t: float) -> float:
        return float(np.interp(t, self.dop_t, self.dop_hz))

    def setup_rotator(self) -> None:
        rec = self.rec
        if not rec.rotator:
            return
        from firmware_bridge.gate import ControlGate
        from firmware_bridge.pointing import plan_pass

        now = self.now()
        self.gate = self.ex.gates.setdefault(rec.rotator, ControlGate())
        try:
            self.gate.acquire(self.gate_owner)
        except GroundsegError as e:
            self.gate = None
            self.report.warn("rotator", f"{rec.rotator}: {e}: the pass goes on without tracking", now)
            return
        try:
            self.rotator = self.ex.rotator_factory(rec.rotator)
        except GroundsegError as e:
            self.rotator = None
            msg = f"{rec.rotator}: cannot open the rotator: {e}: the pass goes on without tracking"
            self.report.warn("rotator", msg, now)
            self.publish("warning", pass_id=rec.pass_id, where="rotator", message=msg)
            return
        n = max(2, int(math.ceil(rec.end_unix_s - rec.start_unix_s)) + 1)
        t = np.linspace(rec.start_unix_s, rec.end_unix_s, n)
        la = look_angles(self.elements, self.ex.station, t)
        track = SkyTrack(t, la.az_deg, la.el_deg)
        lim = self.rotator.limits
        current = None
        try:
            current = self.rotator.position().az_deg
        except GroundsegError as e:
            self.report.warn("rotator", f"{rec.rotator}: cannot read the position: {e}", now)
        pointing = plan_pass([(a, max(e, lim.min_el_deg)) for a, e in track.points()], lim, current)
        self.report.rotator_plan = {"flip": pointing.flip, "az_window_start_deg": pointing.az_window_start_deg,
                                    "continuous": pointing.continuous, "limits": lim.as_dict(),
                                    "threshold_deg": self.settings.rotator_threshold_deg,
                                    "lead_s": self.settings.rotator_lead_s}
        if not pointing.continuous:
            self.report.warn("rotator", f"{rec.rotator}: no pointing keeps this pass clear of the azimuth stop: "
                                        "the rotator will unwind during the pass", now)
        self.tracker = RotatorTracker(self.rotator, pointing, track, self.clock, self.settings, self.report,
                                      self.publish, rec.pass_id).start()

    # --- the flowgraph ------------------------------------------------------------------------

    def start_child(self, skip_s: float = 0.0) -> None:
        import zmq

        rec, ex, s = self.rec, self.ex, self.settings
        n = len(self.runs)
        endpoint = f"ipc://{ex._sock_dir}/{rec.chain}-{n}.ctl"
        iq_path = self.artifacts.path(art.IQ_DATA)
        record_iq = self.record_iq
        spec = {
            "pass_id": rec.pass_id, "parent_pid": os.getpid(), "control": endpoint,
            "source": self.plan.source, "freq_hz": rec.freq_hz,
            "stream": {"t0_unix_s": self.plan.t0_unix_s, "skip_s": skip_s, "throttle": self.plan.throttle,
                       "clock": clock_anchor(self.clock)},
            "norad": rec.norad, "satellite": self.sat.name,
            "transmitters": [dataclasses.asdict(self.tx)],
            "record_iq": {"path": str(iq_path)} if record_iq else None,
            "waterfall": {"dir": str(self.artifacts.dir), "nfft": s.waterfall_nfft, "row_s": s.waterfall_row_s,
                          "t_ref_unix_s": rec.start_unix_s} if self.waterfall else None,
            "status_interval_s": s.status_interval_s,
            "drain_timeout_s": s.stop_timeout_s,
            "stall_timeout_s": s.heartbeat_timeout_s,
        }
        spec_path = self.artifacts.write_json(art.SPEC, spec)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        entry = {"run": n, "skip_s": skip_s, "started_unix_s": self.now(), "ready_unix_s": None,
                 "iq_sample_start": (iq_path.stat().st_size // 8) if record_iq and iq_path.exists() else 0}
        self.runs.append(entry)
        self.ready.clear()
        self.child_error = None
        self.child = ChildProcess(s.command + [str(spec_path)], name=f"flowgraph {rec.pass_id}",
                                  log_path=self.artifacts.path(art.FLOWGRAPH_LOG), env=env,
                                  on_message=self.on_message, pidfile=ex.run_dir / f"{rec.chain}.pid",
                                  pidfile_info={"pass_id": rec.pass_id})
        self.child.start()
        entry["pid"] = self.child.pid
        self._wall_started = time.monotonic()
        self.report.count("flowgraph_runs")
        self.report.mark("flowgraph_started", self.now())
        if self.push is not None:
            self.push.close(0)
        self.push = ex._zmq.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.setsockopt(zmq.SNDHWM, 10000)
        self.push.connect(endpoint)
        self.publish("radio", pass_id=rec.pass_id, state="starting", pid=self.child.pid, run=n,
                     chain=rec.chain)
        # The correction for the stream's first sample, then the current one.
        if self.plan.t0_unix_s is not None:
            t_first = self.plan.t0_unix_s + skip_s
            self.send_doppler(t_first)

    def send_doppler(self, t: float) -> None:
        import zmq

        d = self.doppler_at(t)
        try:
            self.push.send_json({"doppler_hz": d, "t_unix_s": t}, flags=zmq.NOBLOCK)
        except zmq.Again:
            self.report.warn("doppler", "control queue full: a Doppler update was dropped", self.now())
            return
        self.doppler_t, self.doppler_hz = t, d
        self.report.count("doppler_sent")
        with self.report._lock:
            self.report.doppler.append([round(t, 3), round(d, 3)])
        self.publish("doppler", pass_id=self.rec.pass_id, t_unix_s=t, doppler_hz=d)

    def on_message(self, msg: dict) -> None:
        kind = msg.get("type")
        rec = self.rec
        now = self.now()
        if kind == "frame":
            record = msg.get("record") or {}
            if not isinstance(record, dict) or "hex" not in record:
                self.report.warn("flowgraph", "a frame message without data was ignored", now)
                return
            hook = self.ex.frame_hook
            if hook is not None:  # the gateway's outbox first: see the module docstring
                try:
                    hook(record, rec.pass_id, rec.norad)
                except Exception as e:  # noqa: BLE001 - the hook reports its own errors; a bug must not lose frames
                    log.exception("pass %s: frame hook failed", rec.pass_id)
                    self.publish("error", pass_id=rec.pass_id, where="gateway", message=f"frame hook: {e}")
            try:
                self.artifacts.frames.append(record)
            except (OSError, ValueError, InputError) as e:
                self.report.error("storage", f"cannot store a frame: {e}", now)
            self.report.count("frames")
            if record.get("crc_ok") is False:
                self.report.count("frames_invalid")
            with self._frames_lock:
                self.frames.append(record)
            self.publish("frame", pass_id=rec.pass_id, norad=rec.norad, record=record)
        elif kind == "status":
            self.last_status = msg
            lag = msg.get("lag_s")
            if isinstance(lag, (int, float)) and "flowgraph_stop_requested" not in self.report.timings:
                self.max_lag_s = max(self.max_lag_s, float(lag))
            w = time.monotonic()
            if w - self._last_radio_pub >= 1.0:
                self._last_radio_pub = w
                self.publish("radio", pass_id=rec.pass_id, state="running",
                             **{k: v for k, v in msg.items() if k != "type"})
        elif kind == "ready":
            if self.runs:
                self.runs[-1]["ready_unix_s"] = now
                self.runs[-1]["stream_t0_unix_s"] = msg.get("stream_t0_unix_s")
                self.runs[-1]["decoders"] = msg.get("decoders")
                self.runs[-1]["samp_rate_sps"] = msg.get("samp_rate_sps")
            self.report.mark("flowgraph_ready", now)
            self.ready.set()
            self.publish("radio", pass_id=rec.pass_id, state="ready", pid=msg.get("pid"),
                         samp_rate_sps=msg.get("samp_rate_sps"), decoders=msg.get("decoders"))
        elif kind == "warning":
            where = "storage" if msg.get("where") == "storage" else "flowgraph"
            self.report.warn(where, str(msg.get("message")), now)
            self.publish("warning", pass_id=rec.pass_id, where=where, message=msg.get("message"))
        elif kind == "error":
            self.child_error = f"{msg.get('kind', 'error')}: {msg.get('message')}"
            self.report.error("flowgraph", str(msg.get("message")), now)
            self.publish("error", pass_id=rec.pass_id, where="flowgraph", message=msg.get("message"),
                         kind=msg.get("kind"))
        elif kind == "done":
            done = {k: v for k, v in msg.items() if k != "type"}
            if self.runs:
                self.runs[-1]["done"] = done
            self.publish("radio", pass_id=rec.pass_id, chain=rec.chain,
                         **{k: v for k, v in done.items() if k not in ("pass_id", "chain", "state")}, state="done")
        elif kind == "garbled":
            self.report.warn("flowgraph", f"unreadable line from the flowgraph: {msg.get('line')!r:.80}", now)

    def child_problem(self) -> str | None:
        """Why the running child is no good (exited, never ready, silent), or None."""
        c, s = self.child, self.settings
        st = c.exit_status()
        if st is not None:
            if st.clean and (self.runs[-1].get("done") or {}).get("reason") == "end of input":
                return _END_OF_INPUT
            why = self.child_error or self.log_hint() or "no error reported"
            return f"the flowgraph exited: {st.describe()}: {why}"
        if not self.ready.is_set():
            if time.monotonic() - self._wall_started > s.ready_timeout_s:
                c.kill()
                return f"the flowgraph did not start within {s.ready_timeout_s:g} s (killed)"
            return None
        if c.silent_s() > s.heartbeat_timeout_s:
            c.kill()
            return f"the flowgraph stopped responding for {s.heartbeat_timeout_s:g} s (killed)"
        return None

    def log_hint(self) -> str | None:
        """The error a child that died without reporting one left in its log (a GNU Radio block's exception
        terminates the process: "Got std::exception" then the exception), or None."""
        try:
            with open(self.artifacts.path(art.FLOWGRAPH_LOG), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines()]
        except OSError:
            return None
        lines = [ln for ln in lines if ln]
        for i in range(len(lines) - 1, -1, -1):
            if lines[i].startswith("Got std::exception") and i + 1 < len(lines):
                return f"in the flowgraph: {lines[i + 1][:200]}"
        for ln in reversed(lines):
            head = ln.split(":", 1)[0]
            if ":" in ln and " " not in head and head.endswith(("Error", "Exception")):
                return f"in the flowgraph: {ln[:200]}"
        return None

    def end_child(self, how: ExitStatus | None = None) -> ExitStatus:
        st = how or self.child.exit_status() or self.child.kill()
        self.child.close()
        entry = self.runs[-1]
        entry["exit"] = st.to_dict()
        entry["ended_unix_s"] = self.now()
        self.report.flowgraph = list(self.runs)
        self.publish("radio", pass_id=self.rec.pass_id, state="stopped", exit=st.to_dict(), run=entry["run"])
        return st

    def fly(self) -> None:
        rec, s = self.rec, self.settings
        self.sleep_until(rec.start_unix_s - s.lead_s)
        self.start_child()
        in_pass = False
        restarts = 0
        # a file source got the correction for its first sample: continue from there
        next_dop = self.doppler_t + s.doppler_interval_s if self.doppler_t is not None else self.now()
        while True:
            now = self.now()
            if not in_pass and now >= rec.start_unix_s:
                self.to(PassState.IN_PASS, "observed span started")
                in_pass = True
            if now >= rec.end_unix_s:
                break
            if now >= next_dop and not self.input_ended:
                # One correction per interval, also for intervals a late wake-up skipped
                # (a file source applies each at its stream time; a live one catches up).
                missed = int((now - next_dop) // s.doppler_interval_s)
                if missed > (3 if self.plan.t0_unix_s is None else 1000):
                    next_dop += missed * s.doppler_interval_s
                while next_dop <= now:
                    self.send_doppler(next_dop)
                    next_dop += s.doppler_interval_s
            problem = None if self.input_ended else self.child_problem()
            if problem is _END_OF_INPUT:
                self.end_child()
                self.input_ended = True
                self.report.warn("flowgraph", "the signal ended before the pass did", now)
            elif problem is not None:
                self.report.error("flowgraph", problem, now)
                self.publish("error", pass_id=rec.pass_id, where="flowgraph", message=problem)
                self.end_child()
                left = rec.end_unix_s - now
                if not self.ready_ever():
                    raise _Fail(f"the flowgraph could not start: {problem}")
                if restarts < s.restarts and left >= s.min_restart_s:
                    restarts += 1
                    self.report.count("flowgraph_restarts")
                    skip = 0.0
                    if self.plan.t0_unix_s is not None:
                        t_reached = self.last_status.get("t_unix_s") or self.plan.t0_unix_s
                        skip = max(0.0, float(t_reached) - self.plan.t0_unix_s)
                    self.publish("radio", pass_id=rec.pass_id, state="restarting", restarts=restarts)
                    self.start_child(skip)
                    continue
                raise _Fail(f"{problem}; {left:.0f} s of the pass left, {restarts} restart(s) used")
            wake = min(next_dop, rec.end_unix_s) if in_pass else min(next_dop, rec.start_unix_s)
            self.sleep_until(wake)
        if not self.input_ended:
            self.send_doppler(rec.end_unix_s)

    def ready_ever(self) -> bool:
        return any(r.get("ready_unix_s") is not None for r in self.runs)

    # --- the end ---------------------------------------------------------------------------------

    def stop_child(self) -> None:
        if self.child is None or self.child.proc is None or self.child._exit is not None:
            return
        import zmq

        # At the end of the pass a file source reads on to the pass end (it may run behind the
        # clock); when the pass is aborted it stops reading now. Either way what was read is decoded.
        end = None if self.cancel.is_set() else self.rec.end_unix_s

        def request():
            self.push.send_json({"stop": True, "drain": True, "at_unix_s": end}, flags=zmq.NOBLOCK)

        self.report.mark("flowgraph_stop_requested", self.now())
        st = self.child.stop(request, self.settings.stop_timeout_s, self.settings.interrupt_timeout_s)
        self.end_child(st)
        if st.how not in ("stopped", "exited") or st.returncode != 0:
            self.report.warn("flowgraph", f"the flowgraph did not stop cleanly: {st.describe()}", self.now())

    def release(self) -> None:
        """Rotator parked or stopped and its gate released, child gone, ports closed: whatever failed before.

        The rotator goes first: it is free at the end of the pass even while a
        flowgraph behind simulated time still decodes what it has read.
        """
        now = self.now
        try:
            if self.tracker is not None:
                self.tracker.finish(self.settings.park_after_pass, now)
            elif self.rotator is not None:
                try:
                    self.rotator.stop()
                except GroundsegError as e:
                    self.report.warn("rotator", f"stop failed: {e}", now())
        except Exception as e:  # noqa: BLE001
            log.exception("pass %s: releasing the rotator", self.rec.pass_id)
            self.report.error("rotator", f"releasing the rotator failed: {e}", now())
        if self.rotator is not None:
            try:
                self.rotator.close()
            except Exception as e:  # noqa: BLE001
                self.report.warn("rotator", f"closing the rotator failed: {e}", now())
            self.rotator = None
        if self.gate is not None:
            self.gate.release(self.gate_owner)
            self.gate = None
        try:
            if self.child is not None:
                self.stop_child()
        except Exception as e:  # noqa: BLE001
            log.exception("pass %s: stopping the flowgraph", self.rec.pass_id)
            self.report.error("flowgraph", f"stopping the flowgraph failed: {e}", now())
            try:
                self.child.kill()
                self.child.close()
            except Exception:  # noqa: BLE001
                log.exception("pass %s: killing the flowgraph", self.rec.pass_id)
        if self.push is not None:
            try:
                self.push.close(0)
            except Exception:  # noqa: BLE001
                pass
            self.push = None
        if self.plan is not None:
            _cleanup(self.plan)
        self.report.mark("released", now())

    def verdict(self) -> tuple[PassState, str]:
        errs = [e for e in self.report.errors if e["where"] in ("flowgraph", "storage")]
        restarts = self.report.counts.get("flowgraph_restarts", 0)
        n = self.report.counts.get("frames", 0)
        why = f"{n} frame(s)"
        done = (self.runs[-1].get("done") or {}) if self.runs else {}
        t_end = done.get("t_unix_s")
        if done.get("reason") == "end of input" and isinstance(t_end, (int, float)) \
                and t_end < self.rec.end_unix_s - 1.0:  # a file shorter than the pass: all of it was received
            why += f"; the signal (a file) ended {self.rec.end_unix_s - t_end:.0f} s before the pass did"
        if restarts:
            why += f"; the flowgraph was restarted {restarts} time(s)"
        if errs and not restarts:
            return PassState.FAILED, errs[-1]["message"]
        if self.report.warnings:
            why += f"; {len(self.report.warnings)} warning(s)"
        return PassState.COMPLETED, why

    def post(self) -> None:
        """Artifacts after the pass (each guarded): SigMF metadata, waterfall PNG, report."""
        if self.artifacts is None:
            return
        a = self.artifacts
        self.report.timings["max_lag_s"] = round(self.max_lag_s, 3)
        self.report.counts["doppler_applied"] = sum(
            int((r.get("done") or {}).get("doppler_applied", 0)) for r in self.runs)
        if self.plan is not None and self.plan.simulation is not None:
            self.report.simulation = self.simulation_summary()
        try:
            if a.path(art.IQ_DATA).exists() and a.path(art.IQ_DATA).stat().st_size > 0:
                self.write_sigmf()
        except Exception as e:  # noqa: BLE001
            log.exception("pass %s: SigMF metadata", self.rec.pass_id)
            self.report.error("storage", f"SigMF metadata: {e}", self.now())
        try:
            if a.path(art.WATERFALL_ROWS).exists() and a.path(art.WATERFALL_ROWS).stat().st_size > 0:
                self.draw_waterfall()
        except Exception as e:  # noqa: BLE001
            log.exception("pass %s: waterfall", self.rec.pass_id)
            self.report.warn("storage", f"waterfall: {e}", self.now())
        a.close()
        self.report.artifacts = {k: k for k in a.listing()}
        self.report.artifacts[art.REPORT] = art.REPORT
        self.report.flowgraph = list(self.runs)
        try:
            self.report.write(a.path(art.REPORT))
        except OSError as e:
            log.error("pass %s: cannot write the report: %s", self.rec.pass_id, e)
            self.publish("error", pass_id=self.rec.pass_id, where="storage", message=f"report: {e}")

    def simulation_summary(self) -> dict:
        sent = self.plan.simulation.get("frames", [])
        decoded = {f.get("hex") for f in self.frames if f.get("crc_ok") is not False}
        in_view = [f for f in sent if f.get("in_view")]
        sent_hex = {f["hex"] for f in sent}
        return {"sent": len(sent), "in_view": len(in_view),
                "decoded_in_view": sum(1 for f in in_view if f["hex"] in decoded),
                "decoded_sent": sum(1 for f in sent if f["hex"] in decoded),
                "decoded_not_sent": len(decoded - sent_hex),
                **{k: v for k, v in self.plan.simulation.items() if k != "frames"},
                "frames": sent}

    def write_sigmf(self) -> None:
        from ..storage.recording import Annotation, Capture, write_sigmf_meta

        a, rec = self.artifacts, self.rec
        fs = None
        caps = []
        for r in self.runs:
            t0 = r.get("stream_t0_unix_s")
            if t0 is None:
                continue
            caps.append(Capture(int(r.get("iq_sample_start", 0)), float(t0), rec.freq_hz))
        if not caps:
            return
        fs = self.plan.source.get("samp_rate_sps") or self.last_ready_rate()
        anns = []
        first = caps[0]
        for f in self.frames:
            t = f.get("t_unix_s")
            if t is None or fs is None:
                continue
            i = int(round((t - first.t_unix_s) * fs)) + first.sample_start
            anns.append(Annotation(max(0, i - int(0.05 * fs)), int(0.05 * fs), "frame",
                                   f.get("hex", ""), {"crc_ok": f.get("crc_ok")}))
        write_sigmf_meta(a.path(art.IQ_DATA), samp_rate_sps=fs, captures=caps,
                         description=f"pass {rec.pass_id}: {self.sat.name} {rec.transmitter}",
                         recorder="groundseg",
                         position=(self.ex.station.lat_deg, self.ex.station.lon_deg, self.ex.station.alt_m),
                         extra={"pass_id": rec.pass_id, "norad": rec.norad, "satellite": self.sat.name,
                                "transmitter": rec.transmitter, "aos": iso_utc(rec.aos_unix_s),
                                "tca": iso_utc(rec.tca_unix_s), "los": iso_utc(rec.los_unix_s),
                                "max_el_deg": rec.max_el_deg, "tle_epoch_unix_s": self.elements.epoch_unix_s,
                                "doppler_corrected": False},
                         annotations=anns, checksum=True)

    def last_ready_rate(self) -> float | None:
        for r in reversed(self.runs):
            if r.get("samp_rate_sps"):
                return float(r["samp_rate_sps"])
        return None

    def draw_waterfall(self) -> None:
        from ..storage.waterfall import read_waterfall, render_png

        a, rec = self.artifacts, self.rec
        t, db, lay = read_waterfall(a.dir)
        if t.size == 0:
            return
        dop_t = self.dop_t - lay.t_ref_unix_s
        sel = (dop_t >= t[0] - 1) & (dop_t <= t[-1] + 1)
        marks = [f["t_unix_s"] - lay.t_ref_unix_s for f in self.frames if f.get("t_unix_s") is not None]
        render_png(a.path(art.WATERFALL_PNG), t, lay.freqs_hz(), db,
                   title=f"{self.sat.name} {rec.transmitter} {rec.freq_hz / 1e6:.4f} MHz, "
                         f"{iso_utc(rec.start_unix_s)} UTC, max el {rec.max_el_deg:.0f} deg",
                   t_label="seconds after the start of the pass", doppler=(dop_t[sel], self.dop_hz[sel]),
                   marks_s=marks)
