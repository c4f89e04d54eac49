"""Telemetry: station events and state in, Prometheus metrics out.

Contract:

* In: the station's ``EventBus`` (``groundseg.station``: pass life cycle,
  frames, radio, Doppler, rotator, warnings and errors), read by an
  ``EventBridge`` subscriber (``bridge.py``); and, at scrape time, public
  accessors of the schedule store, the TLE store, the hardware bridge's
  device counters, the event bus, and (when attached) the control plane and
  the gateway (``collectors.py``).
* Out: ``GET /metrics`` on ``[metrics] address`` (``exporter.py``), the
  registry's text exposition. Every metric is defined in ``metrics.py`` on a
  registry given by the caller (a fresh ``CollectorRegistry`` per station,
  and per test); names follow Prometheus conventions (``groundseg_`` prefix,
  base units, ``_total`` counters, ``_info`` metadata,
  ``_timestamp_seconds`` times) and labels are bounded (chain, rotator, sink,
  device names from the configuration; transmitter from the catalog; fixed
  lists of reasons and places; never a NORAD id or a pass id).
* A value the station cannot give is absent (or a counter pre-initialised
  at 0), never estimated. Times are station time (simulated in a simulation).
* ``attach_metrics(station, config) -> MetricsHandle`` (``wiring.py``) wires
  it all to a station; ``handle.close()`` detaches and stops serving.

``deploy/grafana/groundseg-dashboard.json`` and
``deploy/prometheus/groundseg-alerts.yml`` use these metrics only (checked by
``tests/test_metrics_deploy.py``).
"""
from .bridge import EventBridge, LabelGuard, failure_reason
from .collectors import StationCollector, add_process_collectors
from .exporter import MetricsServer
from .metrics import FAILURE_REASONS, SCRAPED, StationMetrics, metric_names
from .wiring import MetricsHandle, attach_metrics

__all__ = ["EventBridge", "LabelGuard", "failure_reason", "StationCollector", "add_process_collectors",
           "MetricsServer", "FAILURE_REASONS", "SCRAPED", "StationMetrics", "metric_names", "MetricsHandle",
           "attach_metrics"]
