"""Devices for fuzzing the hardware bridge: the real emulators, their replies mutated by a script.

``ScriptedSerialLink`` is a :class:`firmware_bridge.serial_link.SerialLink`
whose port is an in-process emulator (``feed(bytes) -> [reply bytes]``, the
same objects the pty emulators run): each command written goes to the
emulator, and its true reply is then passed through the next operation of
the fuzz script (``REPLY_OPS``): unchanged, dropped, replaced by junk, a bit
flipped, truncated, junk inserted or prepended, duplicated, delivered in
pieces, held back and delivered after the next command (a late reply), the
link lost, or an endless stream of junk until the deadline. Only the
lowest layer (``_fill``, ``write``, ``open``) is replaced; line splitting,
draining, reconnecting and everything above run as in production.

Time: when nothing is queued a read gives up at once instead of waiting for
its deadline (virtual time: a silent device costs nothing), except with the
``endless`` operation, which streams junk in real time until the deadline.
So a driver that loops without bound shows up as a hang (the harness's
limit), and the endless streams check the real deadlines.

``ScriptedTcpLink`` does the same for the rotctld client's TCP link, with
our own rotctld protocol core (``RotctldSession``) as the daemon.
"""
from __future__ import annotations

import collections
import random
import re
import socket
import time

from firmware_bridge.counters import DeviceCounters
from firmware_bridge.errors import Disconnected
from firmware_bridge.rotator import Position, Rotator
from firmware_bridge.serial_link import SerialLink
from firmware_bridge.tcp_link import TcpLineLink
from hypothesis import strategies as st

TEXT_JUNK = st.one_of(
    st.binary(max_size=24),
    st.sampled_from([b"?>", b"?>\r\n", b"AZ=", b"AZ=999 EL=999", b"AZ=-1 EL=-1", b"+0360+0090", b"+9999",
                     b"AZ123.4 EL45.6", b"AZ EL", b"AZnan ELinf", b"AZ1e999 EL1", b"AL jam", b"ALARM",
                     b"GS8", b"GE7", b"VE", b"\r", b"\n", b"\r\n", b"\x00", b"\xff\xfe", b"RPRT 0", b"RPRT -5",
                     b"RPRT -9", b"RPRT x", b"get_pos:", b"Azimuth: nan", b"Elevation: inf", b"Azimuth: 1e999",
                     b"Azimuth: 10", b"Elevation: 45", b"min_az=0", b"max_az=nan", b"done", b"0", b"2",
                     b"A" * 300, b":" * 10, b"get_pos:\nAzimuth: nan\nElevation: 45\nRPRT 0\n",
                     b"get_pos:\nAzimuth: 1e999\nElevation: -inf\nRPRT 0\n",
                     b"dump_state:\n1\n0\nmin_az=nan\nmax_az=inf\nmin_el=0\nmax_el=90\ndone\nRPRT 0\n",
                     b"0\n0\nmin_az=-1e300\nmax_az=1e300\nmin_el=-90\nmax_el=180\ndone\n"]),
    st.text(alphabet="AZEL=+-.0123456789 ?\r\n:RPT", max_size=20).map(str.encode))

REPLY_OPS = ("pass", "pass", "pass", "drop", "replace", "flip", "truncate", "insert", "prepend", "dup", "split",
             "late", "disconnect", "endless", "number", "number")
_NUMBER = re.compile(rb"[+-]?\d+(?:\.\d*)?")
WEIRD_NUMBERS = (b"nan", b"NaN", b"inf", b"-inf", b"1e999", b"-1e999", b"1e300", b"-0", b"", b"99999999999",
                 b"0x10", b"1,5", b"--1", b"1.2.3")


@st.composite
def reply_ops(draw, junk=TEXT_JUNK, endless: bool = True, max_ops: int = 12):
    """A fuzz script: what happens to each successive reply (after the script: replies pass unchanged)."""
    kinds = REPLY_OPS if endless else tuple(k for k in REPLY_OPS if k != "endless")
    ops = []
    for _ in range(draw(st.integers(0, max_ops))):
        kind = draw(st.sampled_from(kinds))
        ops.append((kind, draw(st.floats(0, 1)), draw(st.integers(0, 15)), draw(junk)))
    return ops


def mutate_reply(data: bytes, op) -> tuple[list[bytes], bytes | None, str | None]:
    """(chunks to deliver now, bytes to hold for after the next command, special: disconnect/endless)."""
    kind, frac, n, junk = op
    pos = min(len(data), int(frac * (len(data) + 1)))
    if kind == "pass":
        return [data], None, None
    if kind == "drop":
        return [], None, None
    if kind == "replace":
        return [junk], None, None
    if kind == "flip":
        if not data:
            return [junk], None, None
        i = min(pos, len(data) - 1)
        return [data[:i] + bytes((data[i] ^ (1 << (n % 8)),)) + data[i + 1:]], None, None
    if kind == "truncate":
        return [data[:pos]], None, None
    if kind == "insert":
        return [data[:pos] + junk + data[pos:]], None, None
    if kind == "prepend":
        return [junk + data], None, None
    if kind == "dup":
        return [data, data], None, None
    if kind == "split":
        cuts = sorted({pos, min(len(data), pos + n + 1)})
        parts, last = [], 0
        for c in cuts:
            parts.append(data[last:c])
            last = c
        parts.append(data[last:])
        return [p for p in parts if p], None, None
    if kind == "late":
        return [], data, None
    if kind == "disconnect":
        return [data[:pos]], None, "disconnect"
    if kind == "endless":
        return [data[:pos]], None, "endless"
    if kind == "number":  # one number of the reply replaced by something that only looks like one
        found = list(_NUMBER.finditer(data))
        if not found:
            return [data], None, None
        m = found[min(len(found) - 1, int(frac * len(found)))]
        return [data[:m.start()] + WEIRD_NUMBERS[n % len(WEIRD_NUMBERS)] + data[m.end():]], None, None
    raise ValueError(kind)


class _Port:
    def close(self) -> None:
        pass


def _as_bytes(reply) -> bytes:
    if reply is None:
        return b""
    return reply if isinstance(reply, (bytes, bytearray)) else b"".join(reply)


class _Device:
    """The scripted device behind a link: emulator replies through the fuzz script."""

    def __init__(self, respond, ops, seed: int = 0):
        self.respond = respond          # bytes written -> the device's answer (bytes, or a list of them)
        self.ops = collections.deque(ops)
        self.rx: collections.deque[bytes] = collections.deque()
        self.held: bytes | None = None
        self.disconnect = False
        self.endless = False
        self.rng = random.Random(seed)
        self.written = bytearray()

    def on_write(self, data: bytes) -> None:
        self.written += data
        if self.held is not None:
            self.rx.append(self.held)
            self.held = None
        reply = _as_bytes(self.respond(data))
        if not reply:
            return
        op = self.ops.popleft() if self.ops else ("pass", 0.0, 0, b"")
        chunks, held, special = mutate_reply(reply, op)
        self.rx.extend(c for c in chunks if c)
        if held:
            self.held = held
        if special == "disconnect":
            self.disconnect = True
        elif special == "endless":
            self.endless = True

    def junk(self) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 32)))


class ScriptedSerialLink(SerialLink):
    def __init__(self, respond, ops, *, name: str, counters: DeviceCounters, seed: int = 0):
        super().__init__("/dev/fuzz-serial", 9600, name=name, counters=counters)
        self.device = _Device(respond, ops, seed)

    def open(self) -> "ScriptedSerialLink":
        with self.lock:
            if self._ser is not None:
                return self
            self._ser = _Port()
            self._buf.clear()
            if self._ever_open:
                self.counters.inc("reconnects")
            self._ever_open = True
            return self

    def write(self, data: bytes) -> None:
        if self._ser is None:
            raise Disconnected(f"{self.name}: {self.path} is not open")
        self.device.on_write(bytes(data))

    def flush_input(self) -> bytes:
        stale = bytes(self._buf) + b"".join(self.device.rx)
        self._buf.clear()
        self.device.rx.clear()
        return stale

    def _fill(self, deadline: float) -> bool:
        if self._ser is None:
            raise Disconnected(f"{self.name}: {self.path} is not open")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        dev = self.device
        if dev.rx:
            self._buf += dev.rx.popleft()
            return True
        if dev.disconnect:
            dev.disconnect = False
            raise self._lost("read", OSError("device unplugged (fuzz)"))
        if dev.endless:
            time.sleep(min(remaining, 0.001))
            self._buf += dev.junk()
            return True
        time.sleep(min(remaining, 0.0005))  # virtual time: the deadline "passes" (no hot spin of a reader)
        return False

    def inject(self, data: bytes) -> None:
        """Unsolicited bytes from the device (a TNC hearing a frame)."""
        self.device.rx.append(bytes(data))


class _FakeSocket:
    def __init__(self, link: "ScriptedTcpLink"):
        self.link = link

    def settimeout(self, t) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.link.device.on_write(bytes(data))

    def recv(self, n: int) -> bytes:
        dev = self.link.device
        if dev.rx:
            return dev.rx.popleft()
        if dev.disconnect:
            dev.disconnect = False
            return b""
        if dev.endless:
            time.sleep(0.001)
            return dev.junk()
        time.sleep(0.0005)
        raise socket.timeout("fuzz: nothing queued")

    def close(self) -> None:
        pass


class ScriptedTcpLink(TcpLineLink):
    def __init__(self, respond, ops, *, name: str, counters: DeviceCounters, seed: int = 0):
        super().__init__("127.0.0.1", 4533, name=name, counters=counters)
        self.device = _Device(respond, ops, seed)

    def ensure_open(self, deadline: float) -> None:
        if self._sock is not None:
            return
        self._sock = _FakeSocket(self)
        self._buf.clear()
        self.device.rx.clear()
        if self._ever_open:
            self.counters.inc("reconnects")
        self._ever_open = True


class MemRotator(Rotator):
    """A rotator that is only a position in memory (behind our rotctld protocol core)."""

    protocol = "memory"

    def __init__(self, **kw):
        super().__init__(**kw)
        self._pos = Position(0.0, 0.0)

    def _position_once(self, deadline: float) -> Position:
        return self._pos

    def _point_once(self, az_deg: float, el_deg: float, deadline: float) -> Position:
        self._pos = Position(az_deg, el_deg)
        return self._pos

    def _stop_once(self, deadline: float) -> None:
        pass


def rotctld_responder(session):
    """bytes a client sends -> what rotctld answers (lines through ``RotctldSession.handle_line``)."""
    buf = bytearray()

    def respond(data: bytes) -> bytes:
        buf.extend(data)
        out = []
        while b"\n" in buf:
            i = buf.index(b"\n")
            line = bytes(buf[:i]).decode("latin-1")
            del buf[:i + 1]
            rep = session.handle_line(line)
            if rep:
                out.append(rep.encode("latin-1"))
        return b"".join(out)
    return respond
