"""Scrape-time collectors: the station's state read when Prometheus asks.

``StationCollector`` builds the ``metrics.SCRAPED`` families from public
accessors, each part on its own (a part that fails is left out of that
scrape and counted in ``groundseg_metrics_collect_errors_total{part}``;
the others still come):

* ``plan``: the schedule store (``passes([planned], start_unix_s=now)``,
  ``plan_rev``): passes scheduled, next AOS and start;
* ``tle``: the TLE store (``norads()``, ``stored(n)``, ``stale_after_s``):
  set count, stale count, largest age, last update;
* ``devices``: ``firmware_bridge.counters.all_counters()``: per device
  commands, retries and faults by kind. A device's counters live as long as
  its driver object (a rotator is opened per pass), so totals are kept here
  across objects: a device missing from a snapshot, or a snapshot lower than
  the previous one, means a new object counting from 0;
* ``events``: the event bus's ``published`` and ``errors``;
* ``control`` (when a source is attached, e.g. the ``ControlServer``):
  ``counters()`` -> its flat dict (``replies_ok``, ``error_<code>``,
  ``dropped_<reason>``, ``auth_refused``, ``pending``, ``router_`` / ``pub_``
  ``handshake_failed_<auth|protocol|other>``) and, when it has one,
  ``request_counts()`` -> ``{(command, result): n}``;
* ``gateway`` (when a source is attached): ``sink_stats()`` ->
  ``{sink: {"queued": n, "forwarded": n, "failed": n, "rejected": n,
  "oldest_undelivered_age_s": s}}`` (queue depth, deliveries, failed
  attempts, frames refused for good, age of the oldest frame waiting).

Nothing is estimated: a value the station cannot give is absent.
"""
from __future__ import annotations

import logging
import math
import threading
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .bridge import LabelGuard
from .metrics import OTHER, SCRAPED, Scraped

log = logging.getLogger(__name__)

PARTS = ("plan", "tle", "devices", "events", "control", "gateway")
NOT_FAULTS = ("commands", "retries", "reconnects")  # counted, but not faults (reconnects follow a fault)
# reasons of the ControlServer's <socket>_handshake_failed_<reason> counters
HANDSHAKE_FAILURES = ("auth", "protocol", "other")


def add_process_collectors(registry: CollectorRegistry) -> None:
    """The standard process (CPU, memory, start time, fds), platform and GC collectors."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


def family(sc: Scraped, labels: Iterable[str] | None = None) -> Metric:
    names = list(sc.labels if labels is None else labels)
    if sc.type == "counter":
        return CounterMetricFamily(sc.name, sc.documentation, labels=names)
    return GaugeMetricFamily(sc.name, sc.documentation, labels=names)


class StationCollector:
    def __init__(self, clock, store=None, tles=None, events=None,
                 device_counters: Callable[[], dict[str, dict[str, int]]] | None = None,
                 devices: Iterable[str] = (), control=None, gateway=None, sinks: Iterable[str] = ()):
        self.clock = clock
        self.store = store
        self.tles = tles
        self.events = events
        if device_counters is None:
            from firmware_bridge.counters import all_counters as device_counters
        self.device_counters = device_counters
        self.device = LabelGuard(devices, 32, OTHER)
        self.fault = LabelGuard((), 32, OTHER)
        self.command = LabelGuard((), 128, OTHER)
        self.result = LabelGuard((), 32, OTHER)
        self.drop_reason = LabelGuard((), 16, OTHER)
        self.sink = LabelGuard(sinks, 32, OTHER)
        self.control = control
        self.gateway = gateway
        self._dev_last: dict[str, dict[str, int]] = {}
        self._dev_total: dict[str, dict[str, int]] = {}
        self.errors = {p: 0 for p in PARTS}
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return [family(sc) for sc in SCRAPED.values()]

    def collect(self) -> list[Metric]:
        with self._lock:  # two scrapes at once must not both add the same device increase
            now = self.clock.now()
            out: list[Metric] = []
            for part in PARTS:
                try:
                    out += getattr(self, f"_{part}")(now)
                except Exception as e:  # noqa: BLE001 - a broken part must not break the scrape
                    self.errors[part] += 1
                    log.warning("metrics: collecting %s failed: %s: %s", part, type(e).__name__, e)
            errs = family(SCRAPED["groundseg_metrics_collect_errors"])
            for part, n in self.errors.items():
                errs.add_metric([part], n)
            out.append(errs)
            return out

    # --- parts -------------------------------------------------------------------------

    def _plan(self, now: float) -> list[Metric]:
        if self.store is None:
            return []
        from ..schedule.lifecycle import PassState

        planned = self.store.passes([PassState.PLANNED], start_unix_s=now)
        out = [_gauge("groundseg_passes_scheduled", len(planned)),
               _gauge("groundseg_plan_revision", self.store.plan_rev)]
        if planned:
            first = min(planned, key=lambda p: p.aos_unix_s)
            out.append(_gauge("groundseg_next_pass_aos_timestamp_seconds", first.aos_unix_s))
            out.append(_gauge("groundseg_next_pass_start_timestamp_seconds",
                              min(p.start_unix_s for p in planned)))
        return out

    def _tle(self, now: float) -> list[Metric]:
        if self.tles is None:
            return []
        stored = []
        for n in self.tles.norads():
            try:
                stored.append(self.tles.stored(n))
            except Exception:  # noqa: BLE001 - replaced between the listing and the read
                continue
        limit = float(self.tles.stale_after_s)
        ages = [abs(s.age_s(now)) for s in stored]
        out = [_gauge("groundseg_tle_sets", len(stored)),
               _gauge("groundseg_tle_stale_sets", sum(1 for a in ages if a > limit)),
               _gauge("groundseg_tle_stale_after_seconds", limit)]
        if stored:
            out.append(_gauge("groundseg_tle_max_age_seconds", max(ages)))
            out.append(_gauge("groundseg_tle_last_update_timestamp_seconds",
                              max(s.received_unix_s for s in stored)))
        return out

    def _devices(self, now: float) -> list[Metric]:
        snap = self.device_counters() or {}
        for name, counts in snap.items():
            last = self._dev_last.get(name, {})
            total = self._dev_total.setdefault(name, {})
            reset = any(counts.get(k, 0) < v for k, v in last.items())
            for k, v in counts.items():
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    continue
                inc = v if reset else v - last.get(k, 0)
                total[k] = total.get(k, 0) + max(0, inc)
            self._dev_last[name] = dict(counts)
        for name in set(self._dev_last) - set(snap):
            del self._dev_last[name]  # the driver object is gone: a later one of that name counts from 0
        cmds = family(SCRAPED["groundseg_device_commands"])
        retries = family(SCRAPED["groundseg_device_retries"])
        faults = family(SCRAPED["groundseg_device_faults"])
        reconnects = family(SCRAPED["groundseg_device_reconnects"])
        merged: dict[tuple[str, str], int] = {}
        for name, total in self._dev_total.items():
            dev = self.device(name)
            for k, v in total.items():
                key = (dev, k if k in NOT_FAULTS else self.fault(k))
                merged[key] = merged.get(key, 0) + v
        for (dev, k), v in sorted(merged.items()):
            if k == "commands":
                cmds.add_metric([dev], v)
            elif k == "retries":
                retries.add_metric([dev], v)
            elif k == "reconnects":
                reconnects.add_metric([dev], v)
            else:
                faults.add_metric([dev, k], v)
        return [cmds, retries, faults, reconnects]

    def _events(self, now: float) -> list[Metric]:
        if self.events is None:
            return []
        pub = family(SCRAPED["groundseg_events_published"])
        pub.add_metric([], int(self.events.published))
        err = family(SCRAPED["groundseg_event_subscriber_errors"])
        err.add_metric([], int(self.events.errors))
        return [pub, err]

    def _control(self, now: float) -> list[Metric]:
        src = self.control
        if src is None:
            return []
        out: list[Metric] = []
        if hasattr(src, "request_counts"):
            req = family(SCRAPED["groundseg_control_requests"])
            merged: dict[tuple[str, str], int] = {}
            for (command, result), n in dict(src.request_counts()).items():
                key = (self.command(command), self.result(result))
                merged[key] = merged.get(key, 0) + int(n)
            for key, n in sorted(merged.items()):
                req.add_metric(list(key), n)
            out.append(req)
        c = {k: v for k, v in dict(src.counters()).items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)}
        replies = family(SCRAPED["groundseg_control_replies"])
        replies.add_metric(["ok"], c.get("replies_ok", 0))
        dropped = family(SCRAPED["groundseg_control_dropped"])
        by_result: dict[str, float] = {}
        by_reason: dict[str, float] = {}
        for k, v in c.items():
            if k.startswith("error_"):
                r = self.result(k[len("error_"):])
                by_result[r] = by_result.get(r, 0) + v
            elif k.startswith("dropped_"):
                r = self.drop_reason(k[len("dropped_"):])
                by_reason[r] = by_reason.get(r, 0) + v
        for r, v in sorted(by_result.items()):
            replies.add_metric([r], v)
        for r, v in sorted(by_reason.items()):
            dropped.add_metric([r], v)
        out += [replies, dropped]
        if "auth_refused" in c:  # plain mode has no authentication: absent
            refused = family(SCRAPED["groundseg_control_auth_refused"])
            refused.add_metric([], c["auth_refused"])
            out.append(refused)
        handshakes = family(SCRAPED["groundseg_control_handshake_failures"])
        for reason in HANDSHAKE_FAILURES:  # router_ and pub_ counters summed; 0 until one happens
            handshakes.add_metric([reason], sum(c.get(f"{sock}_handshake_failed_{reason}", 0)
                                                for sock in ("router", "pub")))
        out.append(handshakes)
        if "pending" in c:
            out.append(_gauge("groundseg_control_pending_requests", c["pending"]))
        return out

    def _gateway(self, now: float) -> list[Metric]:
        if self.gateway is None:
            return []
        fams = {"queued": family(SCRAPED["groundseg_gateway_queue_depth"]),
                "forwarded": family(SCRAPED["groundseg_gateway_forwarded"]),
                "failed": family(SCRAPED["groundseg_gateway_failed"]),
                "rejected": family(SCRAPED["groundseg_gateway_rejected"]),
                "oldest_undelivered_age_s": family(SCRAPED["groundseg_gateway_oldest_undelivered_age_seconds"])}
        merged: dict[tuple[str, str], float] = {}
        for name, st in dict(self.gateway.sink_stats()).items():
            sink = self.sink(name)
            for key in fams:
                v = st.get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
                    if key == "oldest_undelivered_age_s":  # sinks folded into "other": the oldest of them
                        merged[(key, sink)] = max(merged.get((key, sink), 0.0), v)
                    else:
                        merged[(key, sink)] = merged.get((key, sink), 0) + v
        for (key, sink), v in sorted(merged.items()):
            fams[key].add_metric([sink], v)
        return list(fams.values())


def _gauge(name: str, value: float) -> Metric:
    g = family(SCRAPED[name])
    g.add_metric([], float(value))
    return g

