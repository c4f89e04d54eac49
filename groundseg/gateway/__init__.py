"""Gateway: store-and-forward of every decoded frame to upstream sinks.

Contract
--------
In: the station's ``frame`` events (``groundseg.station.EventBus``: ``{pass_id,
norad, record}``, the record as the executor stored it, with ``hex``,
``t_unix_s``, ``crc_ok``, ``transmitter``...). Out: each frame delivered at
least once to every configured sink, with an idempotent identifier (``id``)
so that a sink, or whoever reads it, can drop duplicates.

1. **Outbox first** (``outbox.py``): the frame is written to a SQLite
   database in WAL mode, in one transaction with one pending delivery row per
   sink, synchronously in the publishing thread, before anything else of the
   gateway happens to it. ``fsync`` policy (``[gateway] fsync``):

   * ``"full"`` (default): ``PRAGMA synchronous=FULL``; every frame's commit
     is fsync'd to the WAL before ``put`` returns: survives a process crash
     and a power loss.
   * ``"normal"``: ``synchronous=NORMAL``; the WAL is fsync'd at checkpoints
     only: survives a process crash (kill -9), a power loss may lose the last
     commits. Several times faster (``tests/benchmarks/bench_gateway.py``).
   * ``"off"``: no fsync at all (tests, RAM disks).

   The id is a UUIDv5 of (station name, frame time to the microsecond,
   NORAD id, frame bytes): the same frame stored twice (a restart replaying
   it) is one row, and every sink sees the same id for it.
2. **Forwarding** (``forwarder.py``): one thread per sink takes the pending
   frames of that sink in order, hands them to the sink and marks each
   acknowledged (``done``), refused for good (``rejected``: e.g. an HTTP 4xx
   reply; counted as failed, never retried) or failed (retried with
   exponential backoff ``retry_initial_s`` .. ``retry_max_s``, per frame).
   Nothing is deleted before every sink has acknowledged or rejected it;
   ``retention_s`` after the last acknowledgement it is purged. A sink that
   disappears from the configuration has its pending deliveries abandoned
   (logged) so that it does not hold frames forever.
3. **Sinks** (``sinks/``, one registry ``SINKS``, one module per kind):
   ``zmq_pub`` (ZeroMQ PUB for local consumers), ``mqtt`` (QoS 1, TLS and
   credentials, the fleet transport; topic scheme in ``sinks/mqtt.py``),
   ``sids`` (HTTP POST in the SIDS convention for public telemetry
   databases), ``kiss_server`` (a KISS TCP server for legacy tools), ``file``
   (a local archive: JSON lines per UTC day).
4. **Status** (``Gateway.status()``; ``sink_stats()`` for the metrics):
   outbox depth, oldest undelivered frame, per sink queued / forwarded /
   failed / rejected and the last error.

Wiring (``wiring.py``): ``attach_gateway(station, config) -> Gateway``
becomes the executor's ``frame_hook`` (each frame reaches the outbox before
the pass's ``frames.jsonl`` and before any event subscriber; on a bare
event bus it subscribes with ``first=True``) and starts the forwarders;
``gateway.close()`` before ``station.close()``. The station daemon
(``groundseg station``) does this when the configuration has a
``[gateway]`` section. The section is parsed by ``settings.py``.
"""
from __future__ import annotations

from . import settings as _settings  # noqa: F401 - registers the [gateway] config section


def attach_gateway(station, config=None, **kw):
    """Store-and-forward for ``station`` (see ``wiring.attach_gateway``)."""
    from .wiring import attach_gateway as _attach

    return _attach(station, config, **kw)


def add_cli(sub) -> None:
    from .cli import add_cli as _add

    _add(sub)
