"""Who may move the rotator: a pass owns it while it runs, others are refused.

The pass executor holds the gate for the length of a pass
(``with gate.hold("pass 2024-05-01T10:00 NORAD 25544"): ...``); the rotctld
server (and anything else that wants to move the rotator on an operator's
behalf) calls :meth:`ControlGate.check` first and is refused with
:class:`~firmware_bridge.errors.Refused` while a pass holds it. Reading the
position is always allowed.
"""
from __future__ import annotations

import contextlib
import threading

from .errors import Refused


class ControlGate:
    def __init__(self):
        self._lock = threading.Lock()
        self._owner: str | None = None

    @property
    def owner(self) -> str | None:
        return self._owner

    def acquire(self, owner: str) -> None:
        with self._lock:
            if self._owner is not None and self._owner != owner:
                raise Refused(f"rotator is held by {self._owner}")
            self._owner = owner

    def release(self, owner: str) -> None:
        with self._lock:
            if self._owner == owner:
                self._owner = None

    @contextlib.contextmanager
    def hold(self, owner: str):
        self.acquire(owner)
        try:
            yield self
        finally:
            self.release(owner)

    def check(self, who: str = "client") -> None:
        owner = self._owner
        if owner is not None:
            raise Refused(f"{who} refused: the rotator is held by {owner}")
