"""EasyComm II and III rotator protocol (WiSP's; spoken by SatNOGS and many home-built controllers).

Commands are two letters and an optional value, separated by spaces, CR or LF;
this driver ends each command with LF. Used here:

* ``AZaaa.a ELeee.e``: go to (1 decimal place);
* ``AZ EL``: report both axes, answered ``AZaaa.a ELeee.e`` (combined query,
  as Hamlib sends it); or ``AZ`` then ``EL``, answered ``AZaaa.a`` and
  ``ELeee.e`` separately (split query, for controllers that need it);
* ``SA SE``: stop azimuth and elevation;
* EasyComm III adds ``GS`` (status register: 1 idle, 2 moving, 4 pointing,
  8 error), ``GE`` (error register: 1 sensor, 2 jam, 4 homing) and ``VE``
  (version).

Replies end with LF or CRLF; ``AL...`` lines are unsolicited alarms (skipped
and counted). A controller that echoes every command needs ``echo: true``:
the echo of a set command reads exactly like a position report, so it is
consumed explicitly (echoes of queries are recognised by themselves). Resolution: 0.1 degree. No park command in the standard: park
points at the configured park position.
"""
from __future__ import annotations

import re

from groundseg.errors import InputError

from .limits import Limits
from .rotator import Position
from .serial_rotator import MORE, SerialRotator

_NUM = rb"([+-]?\d+(?:\.\d*)?)"
_BOTH = re.compile(rb"^AZ\s*=?\s*" + _NUM + rb"[\s,]*EL\s*=?\s*" + _NUM + rb"$", re.I)
_ONE = {"AZ": re.compile(rb"^AZ\s*=?\s*" + _NUM + rb"$", re.I),
        "EL": re.compile(rb"^EL\s*=?\s*" + _NUM + rb"$", re.I)}
_REG = re.compile(rb"^(GS|GE)\s*,?\s*(\d+)$", re.I)

STATUS_BITS = {1: "idle", 2: "moving", 4: "pointing", 8: "error"}
ERROR_BITS = {1: "sensor", 2: "jam", 4: "homing"}


def parse_both(text: bytes) -> Position | None:
    m = _BOTH.match(text)
    return Position(float(m.group(1)), float(m.group(2))) if m else None


class EasycommRotator(SerialRotator):
    resolution_deg = 0.1
    wire_limits = Limits(-360.0, 450.0, -90.0, 180.0)
    command_eol = b"\n"
    default_baud = 9600
    unsolicited_prefixes = (b"AL", b"al")

    def __init__(self, device: str, *, version: int = 2, query: str = "combined",
                 confirm_point: bool = True, echo: bool = False, **kw):
        if version not in (2, 3):
            raise InputError(f"EasyComm version must be 2 or 3, not {version!r}")
        if query not in ("combined", "split"):
            raise InputError(f"EasyComm query must be 'combined' or 'split', not {query!r}")
        self.protocol = f"easycomm{version}"
        self.version = version
        self.query = query
        self.confirm_point = bool(confirm_point)
        self.echo = bool(echo)
        super().__init__(device, **kw)
        self.counters.setdefault("alarms", 0)
        self.last_alarm: str | None = None

    def _unsolicited(self, text: bytes) -> None:
        self.counters.inc("alarms")
        self.last_alarm = text[2:].decode("latin-1").strip()

    def _axis(self, axis: str, deadline: float, flush: bool = True) -> float:
        def parse(text: bytes):
            m = _ONE[axis].match(text)
            return float(m.group(1)) if m else None
        return self._query(axis, parse, deadline, flush=flush)

    def _position_once(self, deadline: float, flush: bool = True) -> Position:
        if self.query == "combined":
            seen: dict[str, float] = {}

            def parse(text: bytes):
                # Some controllers answer the combined query on two lines.
                both = parse_both(text)
                if both is not None:
                    return both
                for axis, rx in _ONE.items():
                    m = rx.match(text)
                    if m:
                        seen[axis] = float(m.group(1))
                        if len(seen) == 2:
                            return Position(seen["AZ"], seen["EL"])
                        return MORE
                return None
            return self._query("AZ EL", parse, deadline, flush=flush)
        return Position(self._axis("AZ", deadline, flush), self._axis("EL", deadline))

    def _point_once(self, az_deg: float, el_deg: float, deadline: float) -> Position:
        command = f"AZ{az_deg:.1f} EL{el_deg:.1f}"
        if self.echo:
            # The echo of a set reads like a position: consume it as the set's answer.
            want = command.encode("ascii")
            self._query(command, lambda text: True if text == want else None, deadline, echo_is_distinct=False)
        else:
            self._send(command, deadline, echo_is_distinct=False)
        if not self.confirm_point:
            return Position(round(az_deg, 1), round(el_deg, 1))
        # No flush: an AL alarm refusing the move arrives before the position.
        return self._position_once(deadline, flush=False)

    def _stop_once(self, deadline: float) -> None:
        self._send("SA SE", deadline)

    # --- EasyComm III extras -------------------------------------------------

    def _register(self, name: str, deadline: float) -> int:
        def parse(text: bytes):
            m = _REG.match(text)
            if m and m.group(1).upper().decode() == name:
                return int(m.group(2))
            return None
        return self._query(name, parse, deadline)

    def status(self) -> dict:
        """EasyComm III status and error registers, decoded."""
        if self.version < 3:
            raise InputError(f"{self.name}: status registers need EasyComm III")

        def once(deadline):
            st = self._register("GS", deadline)
            er = self._register("GE", deadline)
            return {"status": st, "errors": er,
                    "flags": [n for b, n in STATUS_BITS.items() if st & b],
                    "error_flags": [n for b, n in ERROR_BITS.items() if er & b]}
        return self._run("status", once)

    def version_string(self) -> str:
        def parse(text: bytes):
            return text[2:].decode("latin-1").strip() if text[:2].upper() == b"VE" else None
        return self._run("version", lambda d: self._query("VE", parse, d))


def _register() -> None:
    from functools import partial

    from .registry import ROTATOR_PROTOCOLS, RotatorProtocol

    for v in (2, 3):
        ROTATOR_PROTOCOLS.add(f"easycomm{v}", RotatorProtocol(
            name=f"easycomm{v}", description=f"EasyComm {'II' if v == 2 else 'III'}, serial, 0.1 degree steps",
            factory=partial(EasycommRotator, version=v), transport="serial",
            options=("device", "baud", "query", "confirm_point", "echo")))


_register()
