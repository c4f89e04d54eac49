"""Retries with a deadline per attempt, and every fault counted.

``run_with_retries`` makes ``retries + 1`` attempts; each gets a deadline of
``timeout_s`` from its start (``time.monotonic()`` seconds) that the attempt
must respect. So an operation on a device that never answers ends within
``timeout_s * (retries + 1)`` plus the time to raise. A fault whose class says
it cannot be helped by retrying (``retryable = False``) ends it at once.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

from .counters import DeviceCounters
from .errors import BridgeHardwareError, OperationFailed

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_with_retries(name: str, op: str, attempt: Callable[[float], T], *, timeout_s: float, retries: int,
                     counters: DeviceCounters,
                     after_fault: Callable[[BridgeHardwareError], None] | None = None) -> T:
    counters.inc("commands")
    last: BridgeHardwareError | None = None
    tries = 0
    for tries in range(1, retries + 2):
        if tries > 1:
            counters.inc("retries")
        deadline = time.monotonic() + timeout_s
        try:
            return attempt(deadline)
        except BridgeHardwareError as e:
            counters.inc(e.counter)
            last = e
            log.warning("%s: %s attempt %d/%d: %s", name, op, tries, retries + 1, e)
            if after_fault is not None:
                after_fault(e)
            if not e.retryable:
                counters.inc("failures")
                raise
    counters.inc("failures")
    raise OperationFailed(f"{name}: {op} failed after {tries} attempt(s) "
                          f"(timeout_s={timeout_s:g}, retries={retries}): {last}", last)
