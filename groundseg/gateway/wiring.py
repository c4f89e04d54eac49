"""``attach_gateway(station, config) -> Gateway``: store-and-forward for a running station.

The one call the station daemon makes (``groundseg station``, see
``groundseg.station.cmd_station``)::

    gateway = attach_gateway(station, config)    # right after Station(...)
    metrics.attach_gateway(gateway)              # queued / forwarded / failed / rejected per sink
    try:
        station.run(...)
    finally:
        gateway.close()                          # before station.close()
        station.close()

Outbox first. On a ``Station`` the gateway is the executor's ``frame_hook``:
the executor hands it each frame before it writes the frame to the pass's
``frames.jsonl`` and before it publishes the ``frame`` event, and the hook
returns once the frame is in the outbox (committed with the configured
fsync policy). So no frame is in ``frames.jsonl`` or seen by any event
subscriber (control-plane PUB, metrics, printer) that the outbox was not
given first. Without an executor (an ``EventBus`` of one's own) the gateway
subscribes to ``frame`` events with ``first=True``: before every other
subscriber, whenever they subscribed. A frame the outbox cannot take (disk
full, I/O error) is published as an ``error`` event (``where="gateway"``)
and counted; the station still stores it in the pass's artifacts.

``Gateway`` is also usable without a station (``Gateway.from_settings``):
``store(record, pass_id, norad)`` stores and wakes the forwarders.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from typing import Any, Callable

from ..errors import InputError
from ..orbit.elements import iso_utc
from .forwarder import SinkWorker
from .outbox import Outbox, record_frame_id
from .settings import GatewaySettings, gateway_settings
from .sinks import SINKS, Sink, SinkContext

log = logging.getLogger(__name__)

_GATEWAYS: "weakref.WeakKeyDictionary[Any, Gateway]" = weakref.WeakKeyDictionary()


class Gateway:
    def __init__(self, settings: GatewaySettings, outbox_path, context: SinkContext, *,
                 sinks: dict[str, Sink] | None = None, clock: Callable[[], float] = time.time,
                 on_error: Callable[[str, str], None] | None = None, idle_poll_s: float = 1.0,
                 purge_interval_s: float = 60.0):
        self.settings = settings
        self.context = context
        self.clock = clock
        self.on_error = on_error
        if sinks is None:
            sinks = {s.name: SINKS.get(s.kind).make(s.name, s.url, s.options, context)
                     for s in settings.enabled_sinks}
        self.sinks = dict(sinks)
        self.outbox = Outbox(outbox_path, list(self.sinks), settings.fsync, clock)
        if self.outbox.abandoned:
            log.warning("gateway: pending deliveries of sinks no longer configured abandoned: %s",
                        ", ".join(f"{k} ({v})" for k, v in self.outbox.abandoned.items()))
        self.workers = {name: SinkWorker(s, self.outbox, batch=settings.batch,
                                         retry_initial_s=settings.retry_initial_s, retry_max_s=settings.retry_max_s,
                                         idle_poll_s=idle_poll_s, clock=clock, on_error=self._sink_error)
                        for name, s in self.sinks.items()}
        self.counters = {"stored": 0, "duplicates": 0, "store_errors": 0, "purged": 0}
        self._lock = threading.Lock()
        self._erroring: set[str] = set()
        self._stop = threading.Event()
        self._purge_interval_s = float(purge_interval_s)
        self._purger: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.stop_taking: Callable[[], None] = lambda: None   # detach from the executor's frame hook
        self.started = False

    @classmethod
    def from_settings(cls, settings: GatewaySettings, config, **kw) -> "Gateway":
        st = config.station
        ctx = SinkContext(settings.station_id or st.name, st.lat_deg, st.lon_deg, st.alt_m, config.base_dir)
        return cls(settings, settings.outbox_path(config), ctx, **kw)

    # --- storing ----------------------------------------------------------------------------------

    def store(self, record: dict, pass_id: str | None = None, norad: int | None = None,
              t_unix_s: float | None = None) -> str:
        """Write one frame record to the outbox (durably) and wake the forwarders; its id."""
        if not isinstance(record, dict) or not isinstance(record.get("hex"), str):
            raise InputError("a frame record needs its bytes as 'hex'")
        try:
            data = bytes.fromhex(record["hex"])
        except ValueError:
            raise InputError("a frame record whose 'hex' is not hexadecimal") from None
        t = record.get("t_unix_s")
        t = float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else (
            t_unix_s if t_unix_s is not None else self.clock())
        n = record.get("norad", norad)
        n = int(n) if isinstance(n, int) and not isinstance(n, bool) else norad
        fid = record_frame_id(self.context.station_id, {**record, "t_unix_s": t}, n)
        new = self.outbox.put(fid, t, n, pass_id or record.get("pass_id"), data, record)
        with self._lock:
            self.counters["stored" if new else "duplicates"] += 1
        for w in self.workers.values():
            w.wake()
        return fid

    def on_event(self, ev) -> None:
        """The ``frame`` event subscriber (synchronous: the frame is durable when this returns)."""
        d = ev.data
        self.on_frame(d.get("record") or {}, d.get("pass_id"), d.get("norad"), ev.t_unix_s)

    def on_frame(self, record: dict, pass_id: str | None, norad: int | None, t_unix_s: float | None = None) -> None:
        """The executor's ``frame_hook``: store, or count and report why not (never raises)."""
        try:
            self.store(record, pass_id, norad, t_unix_s)
        except (InputError, sqlite3.Error, OSError) as e:
            with self._lock:
                self.counters["store_errors"] += 1
            log.error("gateway: cannot store a frame: %s", e)
            if self.on_error is not None:
                self.on_error("outbox", f"cannot store a frame: {e}")

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> "Gateway":
        if self.started:
            return self
        self.started = True
        self.purge()
        for w in self.workers.values():
            w.start()
        self._purger = threading.Thread(target=self._purge_loop, name="gateway-purge", daemon=True)
        self._purger.start()
        return self

    def _purge_loop(self) -> None:
        while not self._stop.wait(self._purge_interval_s):
            try:
                self.purge()
            except sqlite3.Error as e:
                log.warning("gateway: purge failed: %s", e)

    def purge(self) -> int:
        n = self.outbox.purge(self.settings.retention_s)
        with self._lock:
            self.counters["purged"] += n
        return n

    def _sink_error(self, sink: str, message: str) -> None:
        # publish an error once per outage (not once per retry)
        with self._lock:
            first = sink not in self._erroring
            self._erroring.add(sink)
        if first and self.on_error is not None:
            self.on_error(sink, message)

    def close(self, timeout_s: float = 10.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.stop_taking()
        self._stop.set()
        for w in self.workers.values():
            w.stop(timeout_s)
        if self._purger is not None:
            self._purger.join(timeout_s)
        self.outbox.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- status ---------------------------------------------------------------------------------

    def wait_idle(self, timeout_s: float) -> bool:
        """Until no delivery is pending (tests, shutdown); False on timeout."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.outbox.stats()["depth"] == 0:
                return True
            time.sleep(0.05)
        return self.outbox.stats()["depth"] == 0

    def sink_stats(self) -> dict[str, dict]:
        """For the metrics: {sink: {queued, forwarded, failed, rejected, oldest_undelivered_age_s}}."""
        st = self.outbox.stats()
        now = time.time()
        out = {}
        for name, w in self.workers.items():
            ws = w.stats()
            ss = st["sinks"].get(name, {})
            oldest = ss.get("oldest_pending_unix_s")
            out[name] = {"queued": ss.get("pending", 0), "forwarded": ws["forwarded"], "failed": ws["failed"],
                         "rejected": ws["rejected"],
                         "oldest_undelivered_age_s": max(0.0, now - oldest) if oldest is not None else 0.0}
        return out

    def status(self) -> dict:
        """JSON-ready: the outbox (depth, oldest undelivered) and every sink (no secrets)."""
        st = self.outbox.stats()
        now = time.time()
        oldest = st["oldest_undelivered_unix_s"]
        sinks = {}
        for name, w in self.workers.items():
            ss = st["sinks"].get(name, {})
            op = ss.get("oldest_pending_unix_s")
            sinks[name] = {**self.sinks[name].describe(), **w.stats(),
                           "queued": ss.get("pending", 0), "delivered_total": ss.get("done", 0),
                           "rejected_total": ss.get("rejected", 0), "skipped_total": ss.get("skipped", 0),
                           "oldest_undelivered": iso_utc(op) if op is not None else None,
                           "oldest_undelivered_age_s": round(now - op, 3) if op is not None else None,
                           "max_attempts": ss.get("max_attempts", 0), "pending_error": ss.get("last_error")}
        with self._lock:
            counters = dict(self.counters)
        return {"outbox": str(self.outbox.path), "fsync": self.settings.fsync,
                "retention_s": self.settings.retention_s, "frames": st["frames"], "depth": st["depth"],
                "oldest_undelivered": iso_utc(oldest) if oldest is not None else None,
                "oldest_undelivered_age_s": round(now - oldest, 3) if oldest is not None else None,
                "counters": counters, "sinks": sinks}


def attach_gateway(station, config=None, *, settings: GatewaySettings | None = None,
                   sinks: dict[str, Sink] | None = None, start: bool = True, **kw) -> Gateway:
    """Store-and-forward for ``station`` (see the module docstring)."""
    config = config if config is not None else station.config
    settings = settings if settings is not None else gateway_settings(config)

    def on_error(where: str, message: str) -> None:
        try:
            station.events.publish("error" if where == "outbox" else "warning", where="gateway",
                                   sink=where, message=message)
        except Exception:  # noqa: BLE001 - never let reporting break delivery
            log.exception("gateway: publishing an error event")

    gw = Gateway.from_settings(settings, config, sinks=sinks, on_error=on_error, **kw)
    executor = getattr(station, "executor", None)
    if executor is not None and hasattr(executor, "frame_hook"):
        if executor.frame_hook is not None:
            gw.close()
            raise InputError("gateway: the station's executor has a frame hook already (one gateway per station)")
        executor.frame_hook = gw.on_frame

        def stop_taking() -> None:
            if executor.frame_hook == gw.on_frame:
                executor.frame_hook = None
        gw.stop_taking = stop_taking
    else:
        gw._unsubscribe = station.events.subscribe(gw.on_event, topics=["frame"], first=True)
    _GATEWAYS[station] = gw
    if start:
        gw.start()
    return gw


def gateway_of(station) -> Gateway | None:
    """The gateway attached to ``station`` (the control plane's commands look it up here)."""
    return _GATEWAYS.get(station)
