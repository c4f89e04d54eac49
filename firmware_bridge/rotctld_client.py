"""Client of Hamlib's ``rotctld`` TCP protocol: any rotator Hamlib drives becomes ours.

Uses the Extended Response Protocol (each command prefixed with ``+``): every
answer is the echoed command name, ``Key: value`` records, and ``RPRT n`` as
its last line, so the end of every reply is unambiguous. On connect it reads
``\\dump_state`` (protocol 1: ``key=value`` lines up to ``done``) for the
daemon's limits; configured limits must lie inside them.

``RPRT -n`` maps to: -5 timeout (:class:`DeviceTimeout`, retried), -8
protocol error and -6 I/O error (retried), -1 invalid parameter, -9 command
rejected (for our own server: a pass owns the rotator) and anything else
(:class:`DeviceRejected`, not retried). Any fault closes the connection, so a
late reply cannot be read as the answer to the next command.
"""
from __future__ import annotations

import math
import re

from groundseg.errors import InputError

from . import hamlib_codes as H
from .errors import DeviceRejected, DeviceTimeout, Disconnected, ProtocolError
from .limits import Limits
from .rotator import Position, Rotator
from .tcp_link import TcpLineLink

_RPRT = re.compile(r"^RPRT\s+(-?\d+)$")
_RETRYABLE = {H.RIG_ETIMEOUT: DeviceTimeout, H.RIG_EPROTO: ProtocolError, H.RIG_EIO: Disconnected}


class RotctldRotator(Rotator):
    protocol = "rotctld"
    resolution_deg = 0.01
    wire_limits = Limits(-360.0, 540.0, -90.0, 180.0)
    default_port = 4533

    def __init__(self, host: str = "127.0.0.1", tcp_port: int = 4533, *, limits: Limits | None = None, **kw):
        if isinstance(tcp_port, bool) or not isinstance(tcp_port, int) or not 0 < tcp_port < 65536:
            raise InputError(f"tcp_port must be 1..65535, not {tcp_port!r}")
        self._configured_limits = limits
        # Until dump_state is read, the widest limits Hamlib allows.
        super().__init__(limits=limits or Limits(-180.0, 450.0, 0.0, 180.0), **kw)
        self.link = TcpLineLink(host, tcp_port, name=self.name, counters=self.counters)
        self.remote_limits: Limits | None = None
        self.remote_info: str | None = None

    def describe(self) -> str:
        return f"{self.name} (rotctld at {self.link.host}:{self.link.port})"

    def open(self) -> "RotctldRotator":
        self._run("connect", self._connect)
        return self

    def close(self) -> None:
        if self.link.is_open:
            try:
                self.link.write(b"q\n")
            except Exception:
                pass
        self.link.close()

    def _after_fault(self, exc) -> None:
        self.link.close()

    # --- connection -----------------------------------------------------------

    def _connect(self, deadline: float) -> None:
        """Connect and read the daemon's limits (dump_state)."""
        self.link.ensure_open(deadline)
        self.link.write(b"\\dump_state\n")
        lines = []
        while True:
            line = self._line(deadline, "\\dump_state")
            if _RPRT.match(line):
                self._check_rprt(line, "\\dump_state")
            lines.append(line)
            if line == "done" or (len(lines) == 2 and lines[0] == "0"):
                break
            if len(lines) > 64:
                raise ProtocolError(f"{self.name}: dump_state reply does not end")
        values = {}
        for line in lines[2:]:
            if "=" in line:
                k, v = line.split("=", 1)
                values[k.strip()] = v.strip()
        try:
            remote = Limits(float(values["min_az"]), float(values["max_az"]),
                            float(values["min_el"]), float(values["max_el"]))
        except (KeyError, ValueError, InputError) as e:  # InputError: NaN, inf or an empty range
            raise ProtocolError(f"{self.name}: dump_state without usable limits ({e}): {lines[:10]!r}") from None
        self.remote_limits = remote
        if self._configured_limits is None:
            self.limits = remote
        elif not self._configured_limits.within(remote):
            raise DeviceRejected(f"{self.name}: configured limits {self._configured_limits.as_dict()} "
                                 f"exceed the daemon's {remote.as_dict()}", retryable=False)

    def _ready(self, deadline: float) -> None:
        if not self.link.is_open or self.remote_limits is None:
            self._connect(deadline)

    # --- exchange -------------------------------------------------------------

    def _line(self, deadline: float, command: str) -> str:
        raw = self.link.read_line(deadline)
        if raw is None:
            raise DeviceTimeout(f"{self.name}: no reply to {command!r} within {self.timeout_s:g} s "
                                f"from {self.link.host}:{self.link.port}")
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise ProtocolError(f"{self.name}: non-ASCII reply to {command!r}: {raw[:40]!r}") from None

    def _check_rprt(self, line: str, command: str) -> None:
        code = abs(int(_RPRT.match(line).group(1)))
        if code == H.RIG_OK:
            return
        what = f"{self.name}: rotctld answered {H.describe(code)} to {command!r}"
        if code in _RETRYABLE:
            raise _RETRYABLE[code](what)
        raise DeviceRejected(what, code=-code, retryable=False)

    def _command(self, command: str, deadline: float) -> dict[str, str]:
        """Send ``+command``; return the ``Key: value`` records of a successful reply."""
        self._ready(deadline)
        self.link.write(b"+" + command.encode("ascii") + b"\n")
        records: dict[str, str] = {}
        header_seen = False
        while True:
            line = self._line(deadline, command)
            if not line:
                continue
            if _RPRT.match(line):
                if not header_seen:
                    raise ProtocolError(f"{self.name}: reply to {command!r} has no header line")
                self._check_rprt(line, command)
                return records
            if not header_seen:
                if ":" not in line:
                    raise ProtocolError(f"{self.name}: malformed reply to {command!r}: {line[:60]!r}")
                header_seen = True
                continue
            if ":" not in line:
                raise ProtocolError(f"{self.name}: malformed record in reply to {command!r}: {line[:60]!r}")
            k, v = line.split(":", 1)
            records[k.strip()] = v.strip()
            if len(records) > 64:
                raise ProtocolError(f"{self.name}: reply to {command!r} does not end")

    def _position_once(self, deadline: float) -> Position:
        rec = self._command("p", deadline)
        try:
            pos = Position(float(rec["Azimuth"]), float(rec["Elevation"]))
        except (KeyError, ValueError):
            raise ProtocolError(f"{self.name}: get_pos reply without Azimuth/Elevation: {rec!r}") from None
        if not (math.isfinite(pos.az_deg) and math.isfinite(pos.el_deg)):
            raise ProtocolError(f"{self.name}: get_pos reply is not a finite position: {rec!r}")
        return pos

    def _point_once(self, az_deg: float, el_deg: float, deadline: float) -> Position:
        self._command(f"P {az_deg:.6f} {el_deg:.6f}", deadline)
        return self._position_once(deadline)

    def _stop_once(self, deadline: float) -> None:
        self._command("S", deadline)

    def _park_once(self, deadline: float) -> Position:
        try:
            self._command("K", deadline)
        except DeviceRejected as e:
            if e.code not in (-H.RIG_ENAVAIL, -H.RIG_ENIMPL):
                raise
            return super()._park_once(deadline)  # the backend has no park: go to ours
        return self._position_once(deadline)

    def info(self) -> str:
        rec = self._run("get_info", lambda d: self._command("_", d))
        return rec.get("Info", "")


def _register() -> None:
    from .registry import ROTATOR_PROTOCOLS, RotatorProtocol

    ROTATOR_PROTOCOLS.add("rotctld", RotatorProtocol(
        name="rotctld", description="Hamlib rotctld over TCP (any rotator Hamlib supports), 0.01 degree",
        factory=RotctldRotator, transport="tcp", options=("host", "tcp_port")))


_register()
