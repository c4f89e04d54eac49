"""Station controller emulator: the firmware of STATION_CONTROLLER.md, in Python.

Implements the interlocks, the PA watchdog, latched faults, the repeat cache
(a request repeated with the same sequence number is answered from the cache,
not executed twice) and plausible sensors: the PA heats the heatsink, forward
power appears when PA and T/R are on, reflected power follows ``swr``.
``inject("overtemp" | "high_swr" | "undervolt")`` forces a fault as the
sensors would. Garbage for this binary protocol is random bytes.
"""
from __future__ import annotations

import time

from .. import station_protocol as P
from .base import PtyEmulator


class StationControllerEmulator(PtyEmulator):
    kind = "station-controller"

    def __init__(self, *, watchdog_s: int = 10, pa_power_w: float = 50.0, swr: float = 1.2,
                 supply_v: float = 13.8, ambient_c: float = 25.0, clock=time.monotonic, **kw):
        super().__init__(**kw)
        self.clock = clock
        self._t0 = clock()
        self.decoder = P.FrameDecoder()
        self.outputs = P.OUT_LNA  # power-on state: receive, LNA on, antenna A
        self.faults = 0
        self.watchdog_s = watchdog_s
        self.pa_power_w = pa_power_w
        self.swr = swr
        self.supply_v = supply_v
        self.ambient_c = ambient_c
        self.temperature_c = ambient_c
        self._last_host = clock()
        self._last_tick = clock()
        self._cache: tuple[int, bytes, bytes] | None = None   # (seq, request frame, reply frame)
        self.executed = 0   # requests acted on (repeats answered from the cache are not)

    def reset_input(self) -> None:
        self.decoder = P.FrameDecoder()

    def garbage(self) -> bytes:
        return bytes(self._rng.randrange(256) for _ in range(self._rng.randint(4, 24)))

    # --- physics ----------------------------------------------------------------------

    def _pa_off(self, fault: int) -> None:
        self.outputs &= ~P.OUT_PA
        self.faults |= fault

    def tick(self, now: float) -> list[bytes]:
        now = self.clock()  # the emulator's own clock (tests may freeze it)
        dt, self._last_tick = now - self._last_tick, now
        heating = 0.4 if self.outputs & P.OUT_PA else 0.0       # degC per second with the PA on
        self.temperature_c += dt * (heating - 0.02 * (self.temperature_c - self.ambient_c))
        if self.outputs & P.OUT_PA:
            if self.watchdog_s and now - self._last_host > self.watchdog_s:
                self._pa_off(P.FAULT_WATCHDOG)
            elif self.temperature_c > 70.0:
                self._pa_off(P.FAULT_OVERTEMP)
            elif self.swr > 3.0:
                self._pa_off(P.FAULT_HIGH_SWR)
            elif self.supply_v < 11.0:
                self._pa_off(P.FAULT_UNDERVOLT)
        return []

    def inject(self, what: str) -> None:
        """Make a sensor go out of range (the next tick latches the fault if the PA is on)."""
        if what == "overtemp":
            self.temperature_c = 80.0
        elif what == "high_swr":
            self.swr = 5.0
        elif what == "undervolt":
            self.supply_v = 10.0
        else:
            raise ValueError(f"unknown injection {what!r}")

    def sensors(self) -> P.Sensors:
        fwd = self.pa_power_w if (self.outputs & P.OUT_PA and self.outputs & P.OUT_TX) else 0.0
        rho = (self.swr - 1) / (self.swr + 1)
        return P.Sensors(int(round(self.temperature_c * 100)), int(round(self.supply_v * 1000)),
                         int(round(fwd * 1000)), int(round(fwd * rho * rho * 1000)))

    def status(self) -> P.Status:
        return P.Status(self.outputs, self.faults, self.watchdog_s, self.decoder.crc_errors)

    # --- protocol ---------------------------------------------------------------------

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        for f in self.decoder.feed(data):
            self._last_host = self.clock()
            raw = P.encode(f.seq, f.type, f.payload, f.version)
            self.received.append(raw)
            if self._cache is not None and self._cache[0] == f.seq and self._cache[1] == raw:
                out.append(self._cache[2])
                continue
            reply = self._execute(f)
            self._cache = (f.seq, raw, reply)
            out.append(reply)
        return out

    def _nak(self, f: P.Frame, code: int) -> bytes:
        return P.encode(f.seq, P.NAK, bytes((f.type, code)))

    def _ok(self, f: P.Frame, payload: bytes) -> bytes:
        return P.encode(f.seq, f.type | P.REPLY, payload)

    def _execute(self, f: P.Frame) -> bytes:
        self.executed += 1
        if f.version != P.VERSION:
            return self._nak(f, P.ERR_VERSION)
        n = len(f.payload)
        if f.type == P.PING:
            ident = P.Identity(P.VERSION, 1, 0, int(self.clock() - self._t0), "groundseg-emulator")
            return self._ok(f, ident.pack())
        if f.type == P.GET_STATUS:
            return self._ok(f, self.status().pack()) if n == 0 else self._nak(f, P.ERR_BAD_LENGTH)
        if f.type == P.READ_SENSORS:
            return self._ok(f, self.sensors().pack()) if n == 0 else self._nak(f, P.ERR_BAD_LENGTH)
        if f.type == P.CLEAR_FAULTS:
            if n:
                return self._nak(f, P.ERR_BAD_LENGTH)
            self.faults = 0
            return self._ok(f, self.status().pack())
        if f.type == P.SET_WATCHDOG:
            if n != 2:
                return self._nak(f, P.ERR_BAD_LENGTH)
            self.watchdog_s = int.from_bytes(f.payload, "big")
            return self._ok(f, self.status().pack())
        if f.type == P.SET_OUTPUTS:
            if n != 2:
                return self._nak(f, P.ERR_BAD_LENGTH)
            mask, value = f.payload
            if mask & ~P.OUT_ALL or value & ~mask:
                return self._nak(f, P.ERR_BAD_VALUE)
            new = (self.outputs & ~mask) | value
            err = self.check_interlocks(self.outputs, new)
            if err:
                return self._nak(f, err)
            self.outputs = new
            return self._ok(f, self.status().pack())
        return self._nak(f, P.ERR_UNKNOWN_TYPE)

    def check_interlocks(self, old: int, new: int) -> int:
        """0 if ``old -> new`` is allowed, else the NAK code (the rules of STATION_CONTROLLER.md)."""
        pa_new = bool(new & P.OUT_PA)
        if pa_new and self.faults:
            return P.ERR_FAULT_LATCHED
        if pa_new and not new & P.OUT_TX:
            return P.ERR_INTERLOCK                 # PA only into the transmit path
        if new & P.OUT_LNA and new & P.OUT_TX:
            return P.ERR_INTERLOCK                 # LNA only while receiving
        if (old ^ new) & (P.OUT_TX | P.OUT_ANT_B) and (old & P.OUT_PA or pa_new):
            return P.ERR_INTERLOCK                 # no relay switching with the PA on ("hot switching")
        return 0


def _register() -> None:
    from ..registry import EMULATORS, EmulatorKind

    EMULATORS.add("station-controller", EmulatorKind("station-controller", "RF front-end station controller",
                                                     StationControllerEmulator))


_register()
