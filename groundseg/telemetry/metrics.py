"""Every metric the station exports, defined once, on a registry the caller gives.

``StationMetrics(registry, chains=..., rotators=...)`` creates the metrics
updated from station events (counters, gauges, the station state, build and
station ``_info``) on ``registry``; ``SCRAPED`` describes the families the
scrape-time collectors (``collectors.py``) build from the station's state at
each scrape. Together they are the exporter's whole vocabulary:
``metric_names()`` lists it (tests check the dashboard and the alert rules
against it).

Naming (checked by the tests for every metric): ``groundseg_`` prefix, base
units in the name (``_seconds``, ``_hertz``, ``_degrees``, ``_decibels``),
``_total`` on counters and only on counters, ``_info`` for metadata,
``_timestamp_seconds`` for points in time (station time: simulated time in
a simulation). Labels are bounded: ``chain``, ``rotator``, ``sink`` and
``device`` come from the configuration, ``transmitter`` from the catalog,
``reason``, ``where`` and ``fault`` from fixed lists; never a NORAD id or a
pass id.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Info

NAMESPACE = "groundseg"

# Station states (``station.state`` events).
STATION_STATES = ("starting", "idle", "waiting", "running", "stopping", "stopped")

# Why a pass failed: the reasons the executor and the store give, in classes
# (``bridge.failure_reason`` maps a reason text to one of these).
FAILURE_REASONS = ("missed", "no_elements", "hardware", "flowgraph_start", "flowgraph_hung",
                   "flowgraph_crash", "internal", "station_restart", "aborted", "other")

# ``where`` of warning/error events: the places that publish them, plus "other".
EVENT_PLACES = ("station", "executor", "flowgraph", "rotator", "doppler", "storage", "store", "simulation",
                "metrics", "control", "gateway", "other")

# Label value for a chain/rotator/... the configuration does not name, or an unknown pass.
UNKNOWN = "unknown"
OTHER = "other"


@dataclass(frozen=True)
class Scraped:
    """A family built at scrape time: its type, help and label names."""

    name: str
    type: str  # "counter" | "gauge"
    documentation: str
    labels: tuple[str, ...] = ()

    @property
    def sample_names(self) -> tuple[str, ...]:
        return (self.name + "_total",) if self.type == "counter" else (self.name,)


def _s(name: str, type_: str, doc: str, *labels: str) -> Scraped:
    return Scraped(f"{NAMESPACE}_{name}", type_, doc, tuple(labels))


# Families the scrape-time collectors build (counters named without ``_total``,
# as prometheus_client's CounterMetricFamily takes them).
SCRAPED: dict[str, Scraped] = {s.name: s for s in (
    # the plan (schedule store)
    _s("passes_scheduled", "gauge", "Planned passes that have not ended yet"),
    _s("plan_revision", "gauge", "Revision of the current plan (increases at every replan)"),
    _s("next_pass_aos_timestamp_seconds", "gauge", "AOS of the next planned pass (absent when none is planned)"),
    _s("next_pass_start_timestamp_seconds", "gauge",
       "Start of the observed span of the next planned pass (absent when none is planned)"),
    # element sets (TLE store)
    _s("tle_sets", "gauge", "Element sets in the store"),
    _s("tle_stale_sets", "gauge", "Element sets whose epoch is further than the staleness limit from now"),
    _s("tle_max_age_seconds", "gauge", "Largest distance of an element-set epoch from now (absent with no sets)"),
    _s("tle_stale_after_seconds", "gauge", "Configured staleness limit of element sets"),
    _s("tle_last_update_timestamp_seconds", "gauge",
       "When the newest element set was received (absent with no sets)"),
    # hardware bridge devices (firmware_bridge.counters)
    _s("device_commands", "counter", "Operations attempted on a hardware device", "device"),
    _s("device_retries", "counter", "Attempts after the first on a hardware device", "device"),
    _s("device_reconnects", "counter", "Times a hardware device's link was reopened after a loss", "device"),
    _s("device_faults", "counter", "Faults of a hardware device by kind (timeouts, malformed replies...)",
       "device", "fault"),
    # the event bus
    _s("events_published", "counter", "Station events published"),
    _s("event_subscriber_errors", "counter", "Exceptions raised by station event subscribers"),
    # the control plane (when attached)
    _s("control_requests", "counter", "Control-plane requests by command and result", "command", "result"),
    _s("control_replies", "counter", "Control-plane replies by result (ok or the error code)", "result"),
    _s("control_dropped", "counter", "Control-plane messages dropped unanswered, by reason", "reason"),
    _s("control_auth_refused", "counter", "Control-plane clients refused by CURVE authentication"),
    _s("control_handshake_failures", "counter",
       "Control-plane connections (request and event sockets) whose ZMTP/CURVE handshake or message "
       "authentication failed: auth (key refused), protocol (replayed, tampered or malformed), other", "reason"),
    _s("control_pending_requests", "gauge", "Slow control-plane requests in flight"),
    # the gateway (when attached)
    _s("gateway_queue_depth", "gauge", "Frames waiting to be delivered to an upstream sink", "sink"),
    _s("gateway_forwarded", "counter", "Frames delivered to an upstream sink", "sink"),
    _s("gateway_failed", "counter", "Failed delivery attempts to an upstream sink", "sink"),
    _s("gateway_rejected", "counter", "Frames an upstream sink refused for good (never retried)", "sink"),
    _s("gateway_oldest_undelivered_age_seconds", "gauge",
       "Age of the oldest frame not yet delivered to an upstream sink (0 when none waits)", "sink"),
    # the exporter itself
    _s("metrics_collect_errors", "counter", "Scrape-time collections that failed (the part is left out)", "part"),
)}


class StationMetrics:
    """The event-driven metrics of one station, registered on ``registry``.

    ``chains`` and ``rotators`` (names from the configuration) pre-initialise
    the per-chain and per-rotator counters to 0, so that ``increase()`` works
    from the first pass; gauges whose value is not known yet (last SNR, last
    frame time, rotator angles) stay absent until an event sets them.
    """

    def __init__(self, registry: CollectorRegistry, chains: Iterable[str] = (), rotators: Iterable[str] = ()):
        self.registry = registry
        r = registry
        ns = NAMESPACE
        self.chains = tuple(chains)
        self.rotators = tuple(rotators)

        # metadata and state
        self.build_info = Info("build", "groundseg build", namespace=ns, registry=r)
        self.station_info = Info("station", "Station metadata from the configuration", namespace=ns, registry=r)
        self.station_state = Enum("station_state", "Station daemon state", states=list(STATION_STATES),
                                  namespace=ns, registry=r)
        self.station_errors = Counter("station_errors", "Error events by where they happened", ["where"],
                                      namespace=ns, registry=r)
        self.station_warnings = Counter("station_warnings", "Warning events by where they happened", ["where"],
                                        namespace=ns, registry=r)

        # passes
        self.passes_planned = Counter("passes_planned", "Passes added to the plan", namespace=ns, registry=r)
        self.passes_started = Counter("passes_started", "Passes the executor began (pre-pass)", ["chain"],
                                      namespace=ns, registry=r)
        self.passes_completed = Counter("passes_completed", "Passes completed", ["chain"], namespace=ns,
                                        registry=r)
        self.passes_failed = Counter("passes_failed", "Passes failed or interrupted, by reason class",
                                     ["chain", "reason"], namespace=ns, registry=r)
        self.passes_cancelled = Counter("passes_cancelled", "Planned passes cancelled (replanned, simulation)",
                                        ["chain"], namespace=ns, registry=r)
        self.pass_in_progress = Gauge("pass_in_progress", "1 while a pass runs on the chain", ["chain"],
                                      namespace=ns, registry=r)
        self.passes_without_frames = Gauge(
            "chain_consecutive_passes_without_frames",
            "Passes flown in a row on the chain without a single decoded frame", ["chain"], namespace=ns,
            registry=r)

        # frames
        self.frames_decoded = Counter("frames_decoded", "Frames decoded that passed their checks",
                                      ["chain", "transmitter"], namespace=ns, registry=r)
        self.frames_crc_failed = Counter("frames_crc_failed", "Frames found whose CRC or FEC check failed",
                                         ["chain"], namespace=ns, registry=r)
        self.frames_fec_corrected = Counter("frames_fec_corrected", "Decoded frames in which FEC corrected errors",
                                            ["chain", "transmitter"], namespace=ns, registry=r)
        self.frames_repaired = Counter("frames_repaired", "Decoded frames repaired by soft bit flips to pass the CRC",
                                       ["chain", "transmitter"], namespace=ns, registry=r)
        self.last_frame = Gauge("chain_last_frame_timestamp_seconds", "When the last frame was decoded on the chain",
                                ["chain"], namespace=ns, registry=r)
        self.last_snr = Gauge("chain_last_frame_snr_decibels", "SNR estimate of the last frame decoded on the chain",
                              ["chain"], namespace=ns, registry=r)
        self.last_offset = Gauge("chain_last_frame_frequency_offset_hertz",
                                 "Carrier frequency offset of the last frame decoded on the chain", ["chain"],
                                 namespace=ns, registry=r)

        # the receive chain's flowgraph
        self.samples = Counter("chain_samples", "Samples taken from the source by the chain's flowgraph",
                               ["chain"], namespace=ns, registry=r)
        self.overruns = Counter("chain_overruns", "Source overruns (samples dropped) reported by the flowgraph",
                                ["chain"], namespace=ns, registry=r)
        self.underruns = Counter("chain_underruns", "Source underruns reported by the flowgraph", ["chain"],
                                 namespace=ns, registry=r)
        self.flowgraph_starts = Counter("chain_flowgraph_starts", "Flowgraph processes started", ["chain"],
                                        namespace=ns, registry=r)
        self.flowgraph_restarts = Counter("chain_flowgraph_restarts", "Flowgraph restarts within a pass",
                                          ["chain"], namespace=ns, registry=r)
        self.flowgraph_up = Gauge("chain_flowgraph_up", "1 while the chain's flowgraph is ready and running",
                                  ["chain"], namespace=ns, registry=r)
        self.lag = Gauge("chain_decoding_lag_seconds", "How far decoding runs behind the clock (file sources)",
                         ["chain"], namespace=ns, registry=r)

        # Doppler
        self.doppler_sent = Counter("doppler_corrections_sent", "Doppler corrections sent to the flowgraph",
                                    ["chain"], namespace=ns, registry=r)
        self.doppler_applied = Counter("doppler_corrections_applied", "Doppler corrections the flowgraph applied",
                                       ["chain"], namespace=ns, registry=r)
        self.doppler_hz = Gauge("chain_doppler_correction_hertz", "Last Doppler correction sent for the chain",
                                ["chain"], namespace=ns, registry=r)

        # rotators
        self.rot_cmd_az = Gauge("rotator_commanded_azimuth_degrees", "Last azimuth commanded (rotator frame)",
                                ["rotator"], namespace=ns, registry=r)
        self.rot_cmd_el = Gauge("rotator_commanded_elevation_degrees", "Last elevation commanded (rotator frame)",
                                ["rotator"], namespace=ns, registry=r)
        self.rot_rep_az = Gauge("rotator_reported_azimuth_degrees", "Last azimuth the rotator reported",
                                ["rotator"], namespace=ns, registry=r)
        self.rot_rep_el = Gauge("rotator_reported_elevation_degrees", "Last elevation the rotator reported",
                                ["rotator"], namespace=ns, registry=r)
        self.rot_last_cmd = Gauge("rotator_last_command_timestamp_seconds", "When the rotator was last commanded",
                                  ["rotator"], namespace=ns, registry=r)
        self.rot_commands = Counter("rotator_commands", "Pointing commands the rotator accepted", ["rotator"],
                                    namespace=ns, registry=r)
        self.rot_errors = Counter("rotator_errors", "Pointing commands that failed", ["rotator"], namespace=ns,
                                  registry=r)
        self.rot_tracking = Gauge("rotator_tracking", "1 while the rotator follows a pass", ["rotator"],
                                  namespace=ns, registry=r)

        self.build_info.info(build_labels())
        for c in self.chains:
            self.init_chain(c)
        for name in self.rotators:
            self.init_rotator(name)

    def init_chain(self, chain: str) -> None:
        for m in (self.passes_started, self.passes_completed, self.passes_cancelled, self.frames_crc_failed,
                  self.samples, self.overruns, self.underruns, self.flowgraph_starts, self.flowgraph_restarts,
                  self.doppler_sent, self.doppler_applied):
            m.labels(chain)
        for reason in FAILURE_REASONS:
            self.passes_failed.labels(chain, reason)
        self.pass_in_progress.labels(chain).set(0)
        self.flowgraph_up.labels(chain).set(0)
        self.passes_without_frames.labels(chain).set(0)

    def init_rotator(self, rotator: str) -> None:
        self.rot_commands.labels(rotator)
        self.rot_errors.labels(rotator)
        self.rot_tracking.labels(rotator).set(0)


def build_labels() -> dict[str, str]:
    from .. import __version__ as version

    try:
        from gnuradio import gr

        gr_version = gr.version()
    except Exception:  # noqa: BLE001 - GNU Radio absent or broken: the label says so
        gr_version = "none"
    return {"version": str(version), "python_version": platform.python_version(), "gnuradio_version": gr_version}


def metric_names(registry: CollectorRegistry | None = None) -> set[str]:
    """Every sample name the exporter can produce: scrape-time families, plus what ``registry`` holds.

    Without a registry a fresh ``StationMetrics`` (and the process collectors
    the exporter adds) is built to read the event-driven names from.
    """
    from .collectors import add_process_collectors

    if registry is None:
        registry = CollectorRegistry()
        StationMetrics(registry, chains=("c",), rotators=("r",))
        add_process_collectors(registry)
    names: set[str] = set()
    for fam in registry.collect():
        for s in fam.samples:
            names.add(s.name)
        if fam.type == "counter":
            names.add(fam.name + "_total")
        elif fam.type == "info":
            names.add(fam.name + "_info")
        else:
            names.add(fam.name)
    for sc in SCRAPED.values():
        names.update(sc.sample_names)
    return names
