"""Per-device fault counters.

Each device (a rotator, the station controller, a TNC link) owns one
:class:`DeviceCounters`: a plain ``dict`` of name -> int with every key present
from the start (so a metrics exporter sees a stable set), incremented under a
lock. :func:`all_counters` returns a snapshot of every live device's counters,
keyed by device name, for the metrics exporter.
"""
from __future__ import annotations

import threading
import weakref

# Counted for every device. Protocol-specific keys may be added by a device.
FAULT_KEYS = (
    "commands",       # operations attempted (not a fault; the denominator)
    "retries",        # attempts after the first
    "timeouts",       # no (complete) reply within timeout_s
    "malformed",      # reply that is not valid for the protocol (garbage, bad CRC)
    "rejected",       # device answered with an error
    "disconnects",    # link lost during an exchange
    "reconnects",     # link reopened after a loss
    "port_errors",    # port absent, busy or not permitted when (re)opening
    "failures",       # operations that failed on every attempt
    "limit_rejects",  # requests refused before sending: outside the limits
    "stale",          # replies dropped as belonging to an earlier request
)

_LIVE: "weakref.WeakValueDictionary[str, DeviceCounters]" = weakref.WeakValueDictionary()
_LIVE_LOCK = threading.Lock()


class DeviceCounters(dict):
    """Counters of one device; a ``dict`` so it can be read and exported as is."""

    def __init__(self, device: str, extra_keys: tuple[str, ...] = ()):
        super().__init__((k, 0) for k in FAULT_KEYS + tuple(extra_keys))
        self.device = device
        self._lock = threading.Lock()
        with _LIVE_LOCK:
            _LIVE[device] = self

    def inc(self, key: str, n: int = 1) -> None:
        with self._lock:
            self[key] = self.get(key, 0) + n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self)

    def faults(self) -> int:
        """Total of the fault counters (everything except ``commands``/``retries``)."""
        with self._lock:
            return sum(v for k, v in self.items() if k not in ("commands", "retries", "reconnects"))


def all_counters() -> dict[str, dict[str, int]]:
    """Snapshot of the counters of every device still alive, by device name."""
    with _LIVE_LOCK:
        devices = list(_LIVE.items())
    return {name: c.snapshot() for name, c in devices}
