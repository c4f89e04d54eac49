"""The station-controller protocol (RF front end): frames, message types, payloads.

Specification: STATION_CONTROLLER.md in this folder. This module is the one
encoding of it, shared by the host side (:mod:`station_controller`), the
emulator and the tests.

Frame: ``A5 5A | VER | SEQ | TYPE | LEN | PAYLOAD (LEN <= 64) | CRC16`` with
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, big-endian on the wire) over
VER..PAYLOAD. Integers big-endian.
"""
from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from typing import NamedTuple

SYNC = b"\xA5\x5A"
VERSION = 1
MAX_PAYLOAD = 64
HEADER_LEN = 6          # sync(2) ver seq type len
FRAME_OVERHEAD = HEADER_LEN + 2

# Message types (host -> controller); the reply type is request | 0x80.
PING = 0x01
GET_STATUS = 0x02
SET_OUTPUTS = 0x03
READ_SENSORS = 0x04
SET_WATCHDOG = 0x05
CLEAR_FAULTS = 0x06
REPLY = 0x80
NAK = 0xFF

TYPE_NAMES = {PING: "PING", GET_STATUS: "GET_STATUS", SET_OUTPUTS: "SET_OUTPUTS",
              READ_SENSORS: "READ_SENSORS", SET_WATCHDOG: "SET_WATCHDOG", CLEAR_FAULTS: "CLEAR_FAULTS", NAK: "NAK"}

# Output bits
OUT_LNA = 0x01          # LNA power
OUT_PA = 0x02           # PA power
OUT_TX = 0x04           # T/R relay: 1 = transmit
OUT_ANT_B = 0x08        # antenna relay: 0 = antenna A, 1 = antenna B
OUT_ALL = OUT_LNA | OUT_PA | OUT_TX | OUT_ANT_B
OUTPUT_NAMES = {OUT_LNA: "lna", OUT_PA: "pa", OUT_TX: "tx", OUT_ANT_B: "antenna_b"}

# Fault bits (latched until CLEAR_FAULTS; any of them keeps the PA off)
FAULT_WATCHDOG = 0x01   # host went silent while the PA was on: PA switched off
FAULT_OVERTEMP = 0x02   # PA heatsink over temperature: PA switched off
FAULT_HIGH_SWR = 0x04   # reflected power too high: PA switched off
FAULT_UNDERVOLT = 0x08  # supply below minimum: PA switched off
FAULT_NAMES = {FAULT_WATCHDOG: "watchdog", FAULT_OVERTEMP: "overtemp", FAULT_HIGH_SWR: "high_swr",
               FAULT_UNDERVOLT: "undervolt"}

# NAK error codes
ERR_UNKNOWN_TYPE = 1
ERR_BAD_LENGTH = 2
ERR_INTERLOCK = 3
ERR_FAULT_LATCHED = 4
ERR_BAD_VALUE = 5
ERR_VERSION = 6
ERROR_NAMES = {ERR_UNKNOWN_TYPE: "unknown message type", ERR_BAD_LENGTH: "bad payload length",
               ERR_INTERLOCK: "refused by interlock", ERR_FAULT_LATCHED: "a fault is latched",
               ERR_BAD_VALUE: "bad value", ERR_VERSION: "unsupported protocol version"}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (check value 0x29B1 for b'123456789')."""
    return binascii.crc_hqx(data, 0xFFFF)


class Frame(NamedTuple):
    seq: int
    type: int
    payload: bytes
    version: int = VERSION


def encode(seq: int, msg_type: int, payload: bytes = b"", version: int = VERSION) -> bytes:
    if not 0 <= seq <= 255 or not 0 <= msg_type <= 255:
        raise ValueError("seq and type are bytes")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes((version, seq, msg_type, len(payload))) + payload
    return SYNC + body + crc16(body).to_bytes(2, "big")


class FrameDecoder:
    """Incremental decoder: ``feed(bytes) -> [Frame]``.

    Hunts for the sync word; a frame with a bad CRC or an impossible length
    is dropped and the hunt restarts one byte after its sync (so a sync
    pattern inside a damaged frame cannot hide the next good frame).
    ``crc_errors``, ``length_errors`` and ``junk_bytes`` count what was lost.
    """

    def __init__(self):
        self._buf = bytearray()
        self.crc_errors = 0
        self.length_errors = 0
        self.junk_bytes = 0

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        while True:
            i = self._buf.find(SYNC)
            if i < 0:
                keep = 1 if self._buf[-1:] == SYNC[:1] else 0
                self.junk_bytes += len(self._buf) - keep
                del self._buf[:len(self._buf) - keep]
                return out
            if i:
                self.junk_bytes += i
                del self._buf[:i]
            if len(self._buf) < HEADER_LEN:
                return out
            length = self._buf[5]
            if length > MAX_PAYLOAD:
                self.length_errors += 1
                del self._buf[:1]
                continue
            total = HEADER_LEN + length + 2
            if len(self._buf) < total:
                return out
            body = bytes(self._buf[2:HEADER_LEN + length])
            crc = int.from_bytes(self._buf[HEADER_LEN + length:total], "big")
            if crc16(body) != crc:
                self.crc_errors += 1
                del self._buf[:1]
                continue
            del self._buf[:total]
            out.append(Frame(seq=body[1], type=body[2], payload=body[4:], version=body[0]))


# --- payloads -------------------------------------------------------------------

@dataclass(frozen=True)
class Status:
    outputs: int
    faults: int
    watchdog_s: int
    crc_errors: int

    FORMAT = ">BBHH"

    def pack(self) -> bytes:
        return struct.pack(self.FORMAT, self.outputs, self.faults, self.watchdog_s, self.crc_errors & 0xFFFF)

    @classmethod
    def unpack(cls, b: bytes) -> "Status":
        return cls(*struct.unpack(cls.FORMAT, b))

    @property
    def lna(self) -> bool:
        return bool(self.outputs & OUT_LNA)

    @property
    def pa(self) -> bool:
        return bool(self.outputs & OUT_PA)

    @property
    def tx(self) -> bool:
        return bool(self.outputs & OUT_TX)

    @property
    def antenna(self) -> str:
        return "B" if self.outputs & OUT_ANT_B else "A"

    @property
    def fault_names(self) -> list[str]:
        return [n for b, n in FAULT_NAMES.items() if self.faults & b]

    def as_dict(self) -> dict:
        return {"lna": self.lna, "pa": self.pa, "tx": self.tx, "antenna": self.antenna,
                "faults": self.fault_names, "watchdog_s": self.watchdog_s, "crc_errors": self.crc_errors}


@dataclass(frozen=True)
class Sensors:
    temperature_cdeg: int     # 0.01 degC
    supply_mv: int
    forward_mw: int
    reflected_mw: int

    FORMAT = ">hHII"

    def pack(self) -> bytes:
        return struct.pack(self.FORMAT, self.temperature_cdeg, self.supply_mv, self.forward_mw, self.reflected_mw)

    @classmethod
    def unpack(cls, b: bytes) -> "Sensors":
        return cls(*struct.unpack(cls.FORMAT, b))

    @property
    def temperature_c(self) -> float:
        return self.temperature_cdeg / 100.0

    @property
    def supply_v(self) -> float:
        return self.supply_mv / 1000.0

    @property
    def forward_w(self) -> float:
        return self.forward_mw / 1000.0

    @property
    def reflected_w(self) -> float:
        return self.reflected_mw / 1000.0

    @property
    def swr(self) -> float | None:
        """Standing wave ratio from forward/reflected power (None without forward power)."""
        if self.forward_mw <= 0:
            return None
        rho = (self.reflected_mw / self.forward_mw) ** 0.5
        return float("inf") if rho >= 1 else (1 + rho) / (1 - rho)

    def as_dict(self) -> dict:
        return {"temperature_c": self.temperature_c, "supply_v": self.supply_v, "forward_w": self.forward_w,
                "reflected_w": self.reflected_w, "swr": self.swr}


@dataclass(frozen=True)
class Identity:
    protocol_version: int
    firmware_major: int
    firmware_minor: int
    uptime_s: int
    name: str

    FORMAT = ">BBBI"

    def pack(self) -> bytes:
        return struct.pack(self.FORMAT, self.protocol_version, self.firmware_major, self.firmware_minor,
                           self.uptime_s) + self.name.encode("ascii")[:32]

    @classmethod
    def unpack(cls, b: bytes) -> "Identity":
        n = struct.calcsize(cls.FORMAT)
        if len(b) < n:
            raise struct.error("short PING reply")
        return cls(*struct.unpack(cls.FORMAT, b[:n]), b[n:].decode("ascii", "replace"))


STATUS_LEN = struct.calcsize(Status.FORMAT)
SENSORS_LEN = struct.calcsize(Sensors.FORMAT)
