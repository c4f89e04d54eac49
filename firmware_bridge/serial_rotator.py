"""Shared core of the rotators that speak a line-oriented ASCII protocol on a serial port.

A query is: drop stale input, send the command, then read lines until one
parses as the reply. Blank lines and echoes of the commands just sent are skipped (real
controllers send both); a line starting with ``?`` is the controller refusing
the command; any other line is garbage and fails the attempt at once
(:class:`ProtocolError`, counted as ``malformed``) so the retry can resend.
"""
from __future__ import annotations

import collections
from typing import Callable, TypeVar

from .errors import DeviceRejected, DeviceTimeout, ProtocolError
from .rotator import Rotator
from .serial_link import SerialLink

T = TypeVar("T")

#: returned by a reply parser that took a line and needs more (a reply split over lines)
MORE = object()


def _show(b: bytes) -> str:
    return repr(b.decode("latin-1"))


class SerialRotator(Rotator):
    default_baud = 9600
    #: bytes ending a command on the wire
    command_eol = b"\r"
    #: lines starting with one of these are unsolicited reports to skip
    unsolicited_prefixes: tuple[bytes, ...] = ()

    def __init__(self, device: str, baud: int | None = None, **kw):
        super().__init__(**kw)
        self.link = SerialLink(device, self.default_baud if baud is None else baud, name=self.name,
                               counters=self.counters)
        # Echoes of the last few commands may arrive late (after the next command went out).
        self._recent: collections.deque[bytes] = collections.deque(maxlen=4)

    def open(self) -> "SerialRotator":
        self.link.open()
        return self

    def close(self) -> None:
        self.link.close()

    def describe(self) -> str:
        return f"{self.name} ({self.protocol} on {self.link.path} at {self.link.baud} baud)"

    def _after_fault(self, exc) -> None:
        # A late answer to the failed attempt must not be taken for the next reply:
        # wait for the line to go quiet (bounded: at most 0.2 s per fault).
        if self.link.is_open:
            try:
                self.link.drain(quiet_s=0.03, max_s=min(0.2, self.timeout_s))
            except Exception:  # the link is closed by now; the next attempt reopens it
                pass

    def _unsolicited(self, text: bytes) -> None:
        """Hook: an unsolicited report line (alarm) arrived while waiting for a reply."""

    def _send(self, command: str, deadline: float, echo_is_distinct: bool = True, flush: bool = True) -> bytes:
        """Send one command.

        ``echo_is_distinct=False`` for a command whose echo would read like a
        valid reply (an EasyComm set looks like a position): its echo is not
        skipped. ``flush=False`` keeps what arrived since the previous command
        (its answer, e.g. a ``?>`` refusal, is read before this one's).
        """
        wire = command.encode("ascii") + self.command_eol
        self.link.ensure_open(deadline)
        if flush:
            stale = self.link.flush_input()
            if stale.strip():
                self.counters.inc("stale")
        self.link.write(wire)
        if echo_is_distinct:
            self._recent.append(command.strip().encode("ascii"))
        return wire

    def _query(self, command: str, parse: Callable[[bytes], T | None], deadline: float,
               echo_is_distinct: bool = True, flush: bool = True) -> T:
        """Send ``command`` and return ``parse(line)`` of the first line it accepts."""
        self._send(command, deadline, echo_is_distinct, flush)
        while True:
            line = self.link.read_line(deadline)
            if line is None:
                raise DeviceTimeout(f"{self.name}: no reply to {command!r} within {self.timeout_s:g} s "
                                    f"on {self.link.path}")
            text = line.strip()
            if not text or text in self._recent:
                continue
            if self.unsolicited_prefixes and text.startswith(self.unsolicited_prefixes):
                self._unsolicited(text)
                continue
            if text.startswith(b"?"):
                raise DeviceRejected(f"{self.name}: controller rejected {command!r}: {_show(text)}")
            value = parse(text)
            if value is MORE:
                continue
            if value is None:
                raise ProtocolError(f"{self.name}: malformed reply to {command!r}: {_show(text[:60])}")
            return value
