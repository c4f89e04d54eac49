"""``attach_metrics(station, config) -> MetricsHandle``: metrics for a running station.

The one call the station daemon makes (``groundseg station``)::

    metrics = attach_metrics(station, config)   # after Station(...), before run()
    try:
        station.run(...)
    finally:
        metrics.close()                          # before station.close(): the store is still open
        station.close()

It builds a fresh ``CollectorRegistry`` with ``StationMetrics`` (per-chain
and per-rotator series pre-initialised from the configuration), subscribes
an ``EventBridge`` to ``station.events``, registers the scrape-time
``StationCollector`` (schedule store, TLE store, hardware-bridge device
counters, event bus) and the standard process collectors, and, when
``[metrics] enabled`` (the default), serves them on ``[metrics] address``.
A port that cannot be bound does not stop the station: the problem is
logged and published as an ``error`` event (``where="metrics"``) and the
station flies its passes without an exporter (``handle.error`` says why).

The control plane and the gateway, when they run, hand their counters over
with ``handle.attach_control(source)`` / ``handle.attach_gateway(source)``
(see ``collectors.py`` for the accessors they provide).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from prometheus_client import CollectorRegistry, generate_latest

from ..errors import InputError
from .bridge import EventBridge
from .collectors import StationCollector, add_process_collectors
from .exporter import MetricsServer
from .metrics import STATION_STATES, StationMetrics

log = logging.getLogger(__name__)


@dataclass
class MetricsHandle:
    registry: CollectorRegistry
    metrics: StationMetrics
    bridge: EventBridge
    collector: StationCollector
    server: MetricsServer | None = None
    error: str | None = None
    linger_s: float = 0.0
    _unsubscribe: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def url(self) -> str | None:
        return self.server.url if self.server is not None else None

    def attach_control(self, source: Any) -> None:
        """Export the control plane's counters (the ``ControlServer``: ``counters()``, ``request_counts()``)."""
        self.collector.control = source

    def attach_gateway(self, source: Any) -> None:
        """Export the gateway's per-sink state: ``source.sink_stats()``."""
        self.collector.gateway = source

    def exposition(self) -> bytes:
        """The text a scrape would get now."""
        return generate_latest(self.registry)

    def close(self, linger: bool = True) -> None:
        """Stop listening to events; after ``linger_s`` (so a last scrape sees the final values), stop serving."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.server is not None:
            if linger and self.linger_s > 0:
                time.sleep(self.linger_s)
            self.server.stop()
            self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(linger=False)


def attach_metrics(station, config=None, *, registry: CollectorRegistry | None = None,
                   serve: bool | None = None) -> MetricsHandle:
    """Metrics for ``station`` (see the module docstring); ``serve=False`` builds them without a server."""
    from ..config import MetricsSection

    config = config if config is not None else station.config
    section = getattr(config, "metrics", None) or MetricsSection()
    registry = registry if registry is not None else CollectorRegistry()
    chains = [c.name for c in (config.chains or ())]
    rotators = [r.name for r in (config.rotators or ())]
    metrics = StationMetrics(registry, chains=chains, rotators=rotators)
    st = config.station
    metrics.station_info.info({"station": st.name, "lat_deg": f"{st.lat_deg:.6f}", "lon_deg": f"{st.lon_deg:.6f}",
                               "alt_m": f"{st.alt_m:g}",
                               "simulated": "true" if getattr(station, "sim", None) is not None else "false"})
    state = getattr(station, "state", None)
    if state in STATION_STATES:
        metrics.station_state.state(state)
    store = getattr(station, "store", None)
    bridge = EventBridge(metrics, pass_info=store.get_pass if store is not None else None)
    unsubscribe = station.events.subscribe(bridge)
    gateway = getattr(config, "gateway", None)
    collector = StationCollector(station.clock, store=store, tles=station.planning.tles, events=station.events,
                                 devices=rotators, sinks=[s.name for s in (gateway.sinks if gateway else ())])
    registry.register(collector)
    add_process_collectors(registry)
    handle = MetricsHandle(registry, metrics, bridge, collector, linger_s=float(section.linger_s),
                           _unsubscribe=unsubscribe)
    if serve is None:
        serve = bool(section.enabled)
    if serve:
        try:
            handle.server = MetricsServer(registry, section.host, section.port).start()
        except InputError as e:
            handle.error = str(e)
            log.error("%s: the station runs without a metrics exporter", e)
            station.events.publish("error", where="metrics", message=f"{e}: the station runs without metrics")
    return handle
