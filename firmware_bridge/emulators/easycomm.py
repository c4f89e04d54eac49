"""EasyComm II / III controller emulator.

A command line holds tokens separated by spaces: ``AZ123.4`` / ``EL45.0`` set
a target, a bare ``AZ`` / ``EL`` asks for that axis. When one line asks for
both (``AZ EL``, Hamlib's form) the answer is one line ``AZaaa.a ELeee.e``
(or two lines with ``split_replies``); asked apart, each axis is answered on
its own line. A target outside the limits is refused with an ``AL`` alarm
line (EasyComm's unsolicited alarm). ``SA``/``SE`` stop, ``ML``/``MR``/
``MU``/``MD`` move, ``VE`` version; EasyComm III adds ``GS`` (status), ``GE``
(errors) and ``VL``/``VR``/``VU``/``VD`` velocities (mdeg/s). Hamlib's
non-standard ``PARK`` and ``RESET`` are accepted too.
"""
from __future__ import annotations

import re

from ..limits import Limits
from .base import LineEmulator
from .rotator_model import RotatorModel

_TOKEN = re.compile(r"^([A-Z]{2})(.*)$")


class EasycommEmulator(LineEmulator):
    kind = "easycomm"
    eol = b"\n"

    def __init__(self, *, version: int = 2, eol: bytes = b"\n", split_replies: bool = False,
                 echo: bool = False, park: tuple[float, float] = (0.0, 0.0),
                 model: RotatorModel | None = None, limits: Limits | None = None,
                 az_rate_dps: float = 6.0, el_rate_dps: float = 3.0, az_deg: float = 0.0, el_deg: float = 0.0,
                 **kw):
        super().__init__(**kw)
        if version not in (2, 3):
            raise ValueError("version must be 2 or 3")
        self.kind = f"easycomm{version}"
        self.version, self.eol, self.split_replies, self.echo = version, eol, split_replies, echo
        self.park_position = park
        self.model = model or RotatorModel(az_deg=az_deg, el_deg=el_deg, limits=limits,
                                           az_rate_dps=az_rate_dps, el_rate_dps=el_rate_dps)
        self.alarms = 0

    def _l(self, text: str) -> bytes:
        return text.encode("ascii") + self.eol

    def handle(self, cmd: str) -> list[bytes]:
        tokens = cmd.upper().split()
        if tokens in (["PARK"], ["RESET"]):
            if tokens[0] == "PARK":
                self.model.command(*self.park_position)
            else:
                self.model.stop()
            return []
        out = []
        if self.echo:
            out.append(self._l(cmd))
        want: list[str] = []
        new_az = new_el = None
        for tok in tokens:
            m = _TOKEN.match(tok)
            if not m:
                self.stats["unknown"] += 1
                continue
            name, value = m.group(1), m.group(2)
            if name in ("AZ", "EL"):
                if value == "":
                    want.append(name)
                else:
                    try:
                        v = float(value)
                    except ValueError:
                        self.stats["unknown"] += 1
                        continue
                    if name == "AZ":
                        new_az = v
                    else:
                        new_el = v
            elif name in ("SA", "SE"):
                self.model.stop("az" if name == "SA" else "el")
            elif name in ("ML", "MR", "MU", "MD"):
                lim = self.model.limits
                self.model.command(*{"ML": (lim.min_az_deg, None), "MR": (lim.max_az_deg, None),
                                     "MU": (None, lim.max_el_deg), "MD": (None, lim.min_el_deg)}[name])
            elif name == "VE":
                out.append(self._l(f"VEgroundseg-emulator-{self.version}"))
            elif name in ("GS", "GE") and self.version >= 3:
                out.append(self._l(f"{name}{self._status() if name == 'GS' else self._errors()}"))
            elif name in ("VL", "VR", "VU", "VD") and self.version >= 3:
                pass  # velocities are accepted; the model keeps its own rate
            elif name in ("UP", "DN", "UM", "DM", "UR", "DR", "AO", "LO", "OP", "IP", "AN", "ST"):
                pass  # radio and I/O commands: accepted, nothing to do here
            else:
                self.stats["unknown"] += 1
        if new_az is not None or new_el is not None:
            if not self.model.command(new_az, new_el):
                self.alarms += 1
                out.append(self._l("ALtarget outside limits"))
        az, el = self.model.position()
        if want == ["AZ", "EL"] and not self.split_replies:
            out.append(self._l(f"AZ{az:.1f} EL{el:.1f}"))
        else:
            for axis in want:
                out.append(self._l(f"AZ{az:.1f}" if axis == "AZ" else f"EL{el:.1f}"))
        return [b"".join(out)] if out else []

    def _status(self) -> int:
        bits = 2 if self.model.moving() else 1
        if self.model.jammed:
            bits |= 8
        return bits

    def _errors(self) -> int:
        return 2 if self.model.jammed else 0


def _register() -> None:
    from functools import partial

    from ..registry import EMULATORS, EmulatorKind

    for v in (2, 3):
        EMULATORS.add(f"easycomm{v}", EmulatorKind(f"easycomm{v}", f"EasyComm {'II' if v == 2 else 'III'} controller",
                                                   partial(EasycommEmulator, version=v)))


_register()
