"""Yaesu GS-232A / GS-232B rotator controllers (and the clones that speak their protocol).

Commands end with CR. Used here:

* ``Waaa eee``: go to azimuth aaa, elevation eee (whole degrees, 3 digits);
  ``Maaa``: azimuth only (az-only controllers);
* ``C2``: report both axes; ``C``: azimuth only;
* ``S``: stop all.

Replies end with CR or CRLF. The position reply depends on the model and the
clone: GS-232B ``AZ=aaa  EL=eee`` (two spaces, or one, or none), GS-232A
``+0aaa+0eee``, az-only ``AZ=aaa`` / ``+0aaa``; some echo the command first,
some send blank lines; ``?>`` means the controller did not take the command.
The parser accepts all of them whichever variant is configured: the variant
only sets the defaults. Resolution: 1 degree. The controller has no park
command: park points at the configured park position.

After ``W`` the driver reads the position back (``C2``): a controller that
stopped answering is found at the move, not later.
"""
from __future__ import annotations

import math
import re

from groundseg.errors import InputError

from .errors import ProtocolError
from .limits import Limits
from .rotator import Position
from .serial_rotator import SerialRotator

_B_REPLY = re.compile(rb"^AZ\s*=\s*([+-]?\d{1,4})(?:\s*EL\s*=\s*([+-]?\d{1,4}))?$", re.I)
_A_REPLY = re.compile(rb"^\+?(\d{4})(?:\s*\+(\d{4}))?$")


def parse_position(text: bytes) -> tuple[float, float | None] | None:
    """(az, el or None) from a GS-232A or GS-232B position reply; None if it is not one."""
    m = _B_REPLY.match(text) or _A_REPLY.match(text)
    if not m:
        return None
    az = float(int(m.group(1)))
    el = float(int(m.group(2))) if m.group(2) is not None else None
    return az, el


def whole_degrees(v: float) -> int:
    return int(math.floor(v + 0.5))


class Gs232Rotator(SerialRotator):
    resolution_deg = 1.0
    wire_limits = Limits(0.0, 450.0, 0.0, 180.0)
    command_eol = b"\r"
    default_baud = 9600

    def __init__(self, device: str, *, variant: str = "b", axes: str = "azel", confirm_point: bool = True, **kw):
        if variant not in ("a", "b"):
            raise InputError(f"GS-232 variant must be 'a' or 'b', not {variant!r}")
        if axes not in ("azel", "az"):
            raise InputError(f"GS-232 axes must be 'azel' or 'az', not {axes!r}")
        self.protocol = f"gs232{variant}"
        self.variant = variant
        self.axes = axes
        self.confirm_point = bool(confirm_point)
        super().__init__(device, **kw)

    def _parse(self, text: bytes):
        pos = parse_position(text)
        if pos is None:
            return None
        az, el = pos
        if el is None:
            if self.axes == "azel":
                raise ProtocolError(f"{self.name}: reply {text.decode('latin-1')!r} has no elevation "
                                    "(an az-only controller? set axes: az)")
            el = 0.0
        return Position(az, el)

    def _position_once(self, deadline: float, flush: bool = True) -> Position:
        return self._query("C2" if self.axes == "azel" else "C", self._parse, deadline, flush=flush)

    def _point_once(self, az_deg: float, el_deg: float, deadline: float) -> Position:
        az = whole_degrees(az_deg)
        if self.axes == "azel":
            self._send(f"W{az:03d} {whole_degrees(el_deg):03d}", deadline)
        else:
            self._send(f"M{az:03d}", deadline)
        if not self.confirm_point:
            return Position(float(az), float(whole_degrees(el_deg)))
        # No flush: a '?>' refusing the move arrives before the position.
        return self._position_once(deadline, flush=False)

    def _stop_once(self, deadline: float) -> None:
        self._send("S", deadline)


def _register() -> None:
    from functools import partial

    from .registry import ROTATOR_PROTOCOLS, RotatorProtocol

    for v, what in (("a", "Yaesu GS-232A (position reply +0aaa+0eee)"),
                    ("b", "Yaesu GS-232B (position reply AZ=aaa  EL=eee)")):
        ROTATOR_PROTOCOLS.add(f"gs232{v}", RotatorProtocol(
            name=f"gs232{v}", description=f"{what}, serial, 1 degree steps",
            factory=partial(Gs232Rotator, variant=v), transport="serial",
            options=("device", "baud", "axes", "confirm_point")))


_register()
