"""GS-232A / GS-232B controller emulator, with the reply dialects real units send.

Options: ``variant`` "a" (``+0aaa+0eee``) or "b" (``AZ=aaa  EL=eee``);
``eol`` b"\\r\\n" or b"\\r"; ``spaces`` between the B fields (0, 1 or 2);
``echo`` (repeat the command first); ``blank_lines`` (a blank line before each
reply); ``az_only`` (an azimuth-only controller: ``AZ=aaa`` / ``+0aaa``);
``ack`` (answer set commands with an empty line, as some units do).
Unknown commands and out-of-range targets are answered ``?>``.
"""
from __future__ import annotations

import re

from ..limits import Limits
from .base import LineEmulator
from .rotator_model import RotatorModel

_W = re.compile(r"^W\s*(\d{1,3})\s+(\d{1,3})$")
_M = re.compile(r"^M\s*(\d{1,3})$")


class Gs232Emulator(LineEmulator):
    kind = "gs232"

    def __init__(self, *, variant: str = "b", eol: bytes = b"\r\n", spaces: int = 2, echo: bool = False,
                 blank_lines: bool = False, az_only: bool = False, ack: bool = False,
                 model: RotatorModel | None = None, limits: Limits | None = None,
                 az_rate_dps: float = 6.0, el_rate_dps: float = 3.0, az_deg: float = 0.0, el_deg: float = 0.0,
                 **kw):
        super().__init__(**kw)
        if variant not in ("a", "b"):
            raise ValueError("variant must be 'a' or 'b'")
        self.kind = f"gs232{variant}"
        self.variant, self.eol, self.spaces = variant, eol, spaces
        self.echo, self.blank_lines, self.az_only, self.ack = echo, blank_lines, az_only, ack
        self.model = model or RotatorModel(az_deg=az_deg, el_deg=el_deg, limits=limits,
                                           az_rate_dps=az_rate_dps, el_rate_dps=el_rate_dps)
        self.speed = 3

    def _line(self, text: str) -> bytes:
        return text.encode("ascii") + self.eol

    def _reply(self, cmd: str, text: str | None) -> list[bytes]:
        out = b""
        if self.echo:
            out += self._line(cmd)
        if self.blank_lines:
            out += self.eol
        if text is not None:
            out += self._line(text)
        return [out] if out else []

    def _fmt(self, which: str) -> str:
        az, el = self.model.position()
        a, e = int(round(az)), int(round(el))
        if self.variant == "a":
            return {"az": f"+0{a:03d}", "el": f"+0{e:03d}", "both": f"+0{a:03d}+0{e:03d}"}[which]
        gap = " " * self.spaces
        return {"az": f"AZ={a:03d}", "el": f"EL={e:03d}", "both": f"AZ={a:03d}{gap}EL={e:03d}"}[which]

    def handle(self, cmd: str) -> list[bytes]:
        c = cmd.strip().upper()
        if c == "C2":
            return self._reply(cmd, self._fmt("az" if self.az_only else "both"))
        if c == "C":
            return self._reply(cmd, self._fmt("az"))
        if c == "B" and not self.az_only:
            return self._reply(cmd, self._fmt("el"))
        m = _W.match(c)
        if m and not self.az_only:
            ok = self.model.command(float(m.group(1)), float(m.group(2)))
            return self._set_reply(cmd, ok)
        m = _M.match(c)
        if m:
            ok = self.model.command(float(m.group(1)), None)
            return self._set_reply(cmd, ok)
        if c in ("S", "A", "E"):
            self.model.stop({"S": "both", "A": "az", "E": "el"}[c])
            return self._set_reply(cmd, True)
        if c in ("R", "L", "U", "D"):
            lim = self.model.limits
            target = {"R": (lim.max_az_deg, None), "L": (lim.min_az_deg, None),
                      "U": (None, lim.max_el_deg), "D": (None, lim.min_el_deg)}[c]
            return self._set_reply(cmd, self.model.command(*target))
        if re.fullmatch(r"X[1-4]", c):
            self.speed = int(c[1])
            return self._set_reply(cmd, True)
        if c in ("P36", "P45", "O", "O2", "F", "F2", "Z"):
            return self._set_reply(cmd, True)
        self.stats["unknown"] += 1
        return self._reply(cmd, "?>")

    def _set_reply(self, cmd: str, ok: bool) -> list[bytes]:
        if not ok:
            return self._reply(cmd, "?>")
        if self.ack:
            return self._reply(cmd, "")
        return self._reply(cmd, None) if self.echo else []


def _register() -> None:
    from functools import partial

    from ..registry import EMULATORS, EmulatorKind

    for v in ("a", "b"):
        EMULATORS.add(f"gs232{v}", EmulatorKind(f"gs232{v}", f"Yaesu GS-232{v.upper()} rotator controller",
                                                partial(Gs232Emulator, variant=v)))


_register()
