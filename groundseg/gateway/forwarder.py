"""Per-sink delivery threads: take due frames from the outbox, hand them to the sink, settle them.

One ``SinkWorker`` per sink. Its loop: take up to ``batch`` due deliveries
(oldest first), ``sink.send`` them, then per outcome ``ack`` / ``retry``
(backoff ``retry_initial_s * 2**(attempts-1)`` up to ``retry_max_s``) /
``reject`` / ``skip`` in the outbox. An exception from the sink (or
``SinkUnavailable``) is a failed attempt for the whole batch. With nothing
due it sleeps until the earliest retry time, or until ``wake()`` (a new
frame was stored), at most ``idle_poll_s``. A sink's ``open()`` failing is
retried the same way; nothing a sink does stops the other sinks or the
station.

Counters per sink (since start): ``forwarded`` (acknowledged), ``failed``
(failed attempts, per frame), ``rejected``, ``skipped``, ``batches`` and
the last error with its time.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .outbox import Outbox
from .sinks import Sink, SinkUnavailable

log = logging.getLogger(__name__)


class SinkWorker:
    def __init__(self, sink: Sink, outbox: Outbox, *, batch: int = 50, retry_initial_s: float = 1.0,
                 retry_max_s: float = 300.0, idle_poll_s: float = 1.0, clock: Callable[[], float] = time.time,
                 on_error: Callable[[str, str], None] | None = None):
        self.sink, self.outbox = sink, outbox
        self.name = sink.name
        self.batch = int(batch)
        self.retry_initial_s, self.retry_max_s = float(retry_initial_s), float(retry_max_s)
        self.idle_poll_s = float(idle_poll_s)
        self.clock = clock
        self.on_error = on_error
        self.counters = {"forwarded": 0, "failed": 0, "rejected": 0, "skipped": 0, "batches": 0}
        self.last_error: str | None = None
        self.last_error_unix_s: float | None = None
        self.last_delivery_unix_s: float | None = None
        self.opened = False
        self._open_failures = 0
        self._sink_failures = 0      # batches failed in a row as a whole (sink down): sink-level backoff
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gateway-{self.name}", daemon=True)

    # --- control ------------------------------------------------------------------------------

    def start(self) -> "SinkWorker":
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        try:
            self.sink.close()
        except Exception:  # noqa: BLE001 - closing must not fail the station's shutdown
            log.exception("gateway sink %s: close failed", self.name)

    # --- the loop -------------------------------------------------------------------------------

    def _error(self, msg: str) -> None:
        with self._lock:
            self.last_error, self.last_error_unix_s = msg, time.time()
        if self.on_error is not None:
            try:
                self.on_error(self.name, msg)
            except Exception:  # noqa: BLE001
                log.exception("gateway error callback")

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(max(0.0, min(seconds, self.idle_poll_s)))
        self._wake.clear()

    def _backoff_s(self, failures: int) -> float:
        return min(self.retry_max_s, self.retry_initial_s * 2.0 ** min(failures - 1, 30))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.opened:
                    self._open()
                    continue
                if not self.step():
                    nt = self.outbox.next_try(self.name)
                    wait = self.idle_poll_s if nt is None else nt - self.clock()
                    self._sleep(wait)
            except Exception as e:  # noqa: BLE001 - an outbox or sink bug: logged, the loop goes on
                log.exception("gateway sink %s: unexpected error", self.name)
                self._error(f"{type(e).__name__}: {e}")
                self._sleep(self.idle_poll_s)

    def _open(self) -> None:
        try:
            self.sink.open()
            self.opened = True
            self._open_failures = 0
        except Exception as e:  # noqa: BLE001 - a sink that cannot open now may later
            self._open_failures += 1
            msg = f"cannot open: {e}"
            log.warning("gateway sink %s: %s", self.name, msg)
            self._error(msg)
            self._stop.wait(self._backoff_s(self._open_failures))

    def step(self) -> bool:
        """One batch; False when nothing was due."""
        items = self.outbox.due(self.name, self.clock(), self.batch)
        if not items:
            return False
        with self._lock:
            self.counters["batches"] += 1
        try:
            outcomes = self.sink.send(items)
            if len(outcomes) != len(items):
                raise RuntimeError(f"sink returned {len(outcomes)} outcomes for {len(items)} frames")
        except Exception as e:  # noqa: BLE001 - whatever the sink raised: nothing was delivered
            why = str(e) if isinstance(e, SinkUnavailable) else f"{type(e).__name__}: {e}"
            if not isinstance(e, SinkUnavailable):
                log.warning("gateway sink %s: send failed: %s", self.name, why)
            self._failed(items, why)
            # the whole sink is down: back off the sink (not only these frames), new frames do not wake it
            self._sink_failures += 1
            self._stop.wait(self._backoff_s(self._sink_failures))
            return True
        if self._sink_failures and any(oc.kind == "delivered" for oc in outcomes):
            # the sink is back: its backlog need not wait out the per-frame backoff
            self.outbox.release(self.name)
        self._sink_failures = 0
        acked, retry, errors = [], [], []
        for it, oc in zip(items, outcomes):
            if oc.kind == "delivered":
                acked.append(it.seq)
            elif oc.kind == "skipped":
                self.outbox.skip(self.name, it.seq, oc.reason)
                with self._lock:
                    self.counters["skipped"] += 1
            elif oc.kind == "reject":
                self.outbox.reject(self.name, it.seq, oc.reason)
                with self._lock:
                    self.counters["rejected"] += 1
                    self.counters["failed"] += 1
                errors.append(f"rejected {it.frame_id}: {oc.reason}")
            else:
                retry.append(it)
                errors.append(oc.reason)
        self.outbox.ack(self.name, acked)
        with self._lock:
            self.counters["forwarded"] += len(acked)
            if acked:
                self.last_delivery_unix_s = time.time()
        if retry:
            self._failed(retry, errors[-1] if errors else "retry")
        elif errors:
            self._error(errors[-1])
        return True

    def _failed(self, items, why: str) -> None:
        self.outbox.retry(self.name, [it.seq for it in items], why, self.retry_initial_s, self.retry_max_s)
        with self._lock:
            self.counters["failed"] += len(items)
        self._error(why)

    def stats(self) -> dict:
        with self._lock:
            return {**self.counters, "last_error": self.last_error, "last_error_unix_s": self.last_error_unix_s,
                    "last_delivery_unix_s": self.last_delivery_unix_s, "open": self.opened}
