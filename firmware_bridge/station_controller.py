"""Host side of the station controller (RF front end): LNA/PA power, T/R and antenna relays, sensors.

Speaks the framed protocol of STATION_CONTROLLER.md over a serial port.
Every request gets a fresh sequence number; a retry re-sends the same frame
with the same number (the controller answers a repeat from its cache instead
of acting twice). Replies with another sequence number are dropped and
counted as ``stale``; frames with a bad CRC are counted as ``malformed``. A
controller that does not answer fails within ``timeout_s * (retries + 1)``.

:meth:`StationController.transmit` switches between receive and transmit in
the only order the controller's interlocks accept: LNA off, T/R to transmit,
relay settle, PA on (and the reverse).
"""
from __future__ import annotations

import struct
import threading
import time

from groundseg.errors import InputError

from . import station_protocol as P
from .counters import DeviceCounters
from .errors import DeviceRejected, DeviceTimeout, ProtocolError
from .retry import run_with_retries
from .serial_link import SerialLink

_OUTPUT_ARGS = {"lna": P.OUT_LNA, "pa": P.OUT_PA, "tx": P.OUT_TX, "antenna_b": P.OUT_ANT_B}


class StationController:
    def __init__(self, device: str, baud: int = 115200, *, name: str = "station", timeout_s: float = 0.5,
                 retries: int = 2, relay_settle_s: float = 0.05):
        if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise InputError(f"timeout_s must be positive, not {timeout_s!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InputError(f"retries must be a whole number >= 0, not {retries!r}")
        self.name = name
        self.timeout_s = float(timeout_s)
        self.retries = retries
        self.relay_settle_s = relay_settle_s
        self.counters = DeviceCounters(name, extra_keys=("crc_errors",))
        self.link = SerialLink(device, baud, name=name, counters=self.counters)
        self._decoder = P.FrameDecoder()
        self._seq = 0
        self.lock = threading.RLock()

    def open(self) -> "StationController":
        self.link.open()
        return self

    def close(self) -> None:
        self.link.close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    # --- exchange -------------------------------------------------------------

    def _after_fault(self, exc) -> None:
        self._decoder.reset()

    def request(self, msg_type: int, payload: bytes = b"") -> bytes:
        """One request/reply with retries; returns the reply payload (NAK raises DeviceRejected)."""
        with self.lock:
            self._seq = (self._seq + 1) & 0xFF
            frame = P.encode(self._seq, msg_type, payload)
            seq = self._seq
            name = P.TYPE_NAMES.get(msg_type, f"type 0x{msg_type:02x}")
            return run_with_retries(self.name, name, lambda d: self._exchange(frame, seq, msg_type, d),
                                    timeout_s=self.timeout_s, retries=self.retries, counters=self.counters,
                                    after_fault=self._after_fault)

    def _exchange(self, frame: bytes, seq: int, msg_type: int, deadline: float) -> bytes:
        self.link.ensure_open(deadline)
        self.link.flush_input()
        self._decoder.reset()
        self.link.write(frame)
        crc_before = self._decoder.crc_errors
        junk_before = self._decoder.junk_bytes
        while True:
            data = self.link.read_some(deadline)
            if not data:
                if self._decoder.crc_errors > crc_before or self._decoder.junk_bytes > junk_before:
                    self._count_crc(crc_before)
                    raise ProtocolError(f"{self.name}: only corrupt data in reply to "
                                        f"{P.TYPE_NAMES.get(msg_type, msg_type)} (bad CRC or junk)")
                raise DeviceTimeout(f"{self.name}: no reply to {P.TYPE_NAMES.get(msg_type, msg_type)} "
                                    f"within {self.timeout_s:g} s on {self.link.path}")
            for f in self._decoder.feed(data):
                if f.seq != seq:
                    self.counters.inc("stale")
                    continue
                self._count_crc(crc_before)
                if f.type == P.NAK:
                    code = f.payload[1] if len(f.payload) >= 2 else 0
                    raise DeviceRejected(f"{self.name}: controller refused {P.TYPE_NAMES.get(msg_type, msg_type)}: "
                                         f"{P.ERROR_NAMES.get(code, f'error {code}')}", code=code, retryable=False)
                if f.type != (msg_type | P.REPLY):
                    raise ProtocolError(f"{self.name}: reply type 0x{f.type:02x} to request 0x{msg_type:02x}")
                return f.payload

    def _count_crc(self, before: int) -> None:
        n = self._decoder.crc_errors - before
        if n > 0:
            self.counters.inc("crc_errors", n)

    def _decode(self, kind, payload: bytes):
        try:
            return kind.unpack(payload)
        except struct.error:
            self.counters.inc("malformed")
            raise ProtocolError(f"{self.name}: {kind.__name__} payload of {len(payload)} bytes is malformed") from None

    # --- operations -------------------------------------------------------------

    def ping(self) -> P.Identity:
        return self._decode(P.Identity, self.request(P.PING))

    def status(self) -> P.Status:
        return self._decode(P.Status, self.request(P.GET_STATUS))

    def sensors(self) -> P.Sensors:
        return self._decode(P.Sensors, self.request(P.READ_SENSORS))

    def set_outputs(self, **outputs: bool) -> P.Status:
        """Change some outputs (lna=, pa=, tx=, antenna_b=); the others stay as they are."""
        unknown = set(outputs) - set(_OUTPUT_ARGS)
        if unknown:
            raise InputError(f"unknown output(s) {sorted(unknown)} (known: {', '.join(_OUTPUT_ARGS)})")
        mask = value = 0
        for k, on in outputs.items():
            mask |= _OUTPUT_ARGS[k]
            if on:
                value |= _OUTPUT_ARGS[k]
        return self._decode(P.Status, self.request(P.SET_OUTPUTS, bytes((mask, value))))

    def set_watchdog(self, seconds: int) -> P.Status:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 65535:
            raise InputError(f"watchdog must be 0..65535 s, not {seconds!r}")
        return self._decode(P.Status, self.request(P.SET_WATCHDOG, seconds.to_bytes(2, "big")))

    def clear_faults(self) -> P.Status:
        return self._decode(P.Status, self.request(P.CLEAR_FAULTS))

    def select_antenna(self, antenna: str) -> P.Status:
        if antenna not in ("A", "B"):
            raise InputError(f"antenna must be 'A' or 'B', not {antenna!r}")
        return self.set_outputs(antenna_b=(antenna == "B"))

    def transmit(self, on: bool, lna_in_receive: bool = True) -> P.Status:
        """Switch to transmit (LNA off, T/R tx, settle, PA on) or back to receive (PA off, settle, T/R rx, LNA)."""
        with self.lock:
            if on:
                self.set_outputs(lna=False)
                self.set_outputs(tx=True)
                time.sleep(self.relay_settle_s)
                return self.set_outputs(pa=True)
            self.set_outputs(pa=False)
            time.sleep(self.relay_settle_s)
            self.set_outputs(tx=False)
            return self.set_outputs(lna=lna_in_receive)
