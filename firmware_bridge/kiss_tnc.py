"""KISS over a serial port, to and from a TNC (framing: groundseg.storage.kiss).

``send(data, port)`` writes one data frame; received frames arrive through a
reader thread, in ``receive(timeout_s)`` or the ``on_frame`` callback.
``set_param`` sends the KISS parameter commands (TXDELAY, P, SLOTTIME,
TXTAIL, FULLDUPLEX, SETHARDWARE). When the TNC is unplugged the reader keeps
trying to reopen the port (a stable by-id path finds it again) and counts the
disconnect and the reconnect; a partial frame across the loss is dropped.
Counters: ``frames_in``, ``frames_out``, ``kiss_errors`` (frames the decoder
dropped: bad escape, over-long), ``non_data`` (command frames from the TNC),
plus the common ones.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from groundseg.errors import InputError
from groundseg.storage import kiss

from .counters import DeviceCounters
from .errors import BridgeHardwareError, Disconnected, OperationFailed, PortAbsent
from .serial_link import SerialLink

log = logging.getLogger(__name__)

TXDELAY, PERSISTENCE, SLOTTIME, TXTAIL, FULLDUPLEX, SETHARDWARE = 1, 2, 3, 4, 5, 6
PARAMS = {"txdelay": TXDELAY, "persistence": PERSISTENCE, "slottime": SLOTTIME, "txtail": TXTAIL,
          "fullduplex": FULLDUPLEX, "sethardware": SETHARDWARE}
EXIT_KISS = bytes((kiss.FEND, 0xFF, kiss.FEND))


class KissTnc:
    def __init__(self, device: str, baud: int = 9600, *, name: str = "tnc",
                 on_frame: Callable[[int, bytes], None] | None = None, timeout_s: float = 1.0,
                 queue_size: int = 1000):
        self.name = name
        self.timeout_s = timeout_s
        self.counters = DeviceCounters(name, extra_keys=("frames_in", "frames_out", "kiss_errors", "non_data",
                                                         "queue_overflow"))
        self.link = SerialLink(device, baud, name=name, counters=self.counters)
        self.on_frame = on_frame
        self._frames: "queue.Queue[tuple[int, bytes]]" = queue.Queue(maxsize=queue_size)
        self._decoder = kiss.Decoder()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._write_lock = threading.Lock()

    def open(self) -> "KissTnc":
        self.link.open()
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, name=f"kiss-{self.name}", daemon=True)
        self._reader.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=2)
        self.link.close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    # --- sending ------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            deadline = time.monotonic() + self.timeout_s
            for attempt in (1, 2):
                try:
                    with self.link.lock:
                        self.link.ensure_open(deadline)
                        self.link.write(data)
                    return
                except Disconnected as e:
                    self.counters.inc("disconnects")
                    if attempt == 2:
                        self.counters.inc("failures")
                        raise OperationFailed(f"{self.name}: cannot send to the TNC: {e}", e) from None
                except PortAbsent as e:
                    self.counters.inc("port_errors")
                    self.counters.inc("failures")
                    raise OperationFailed(f"{self.name}: cannot send to the TNC: {e}", e) from None

    def send(self, data: bytes, port: int = 0) -> None:
        """Send one frame (e.g. AX.25 without FCS) for the TNC to transmit on ``port``."""
        if not data:
            raise InputError("KISS: refusing to send an empty frame")
        self._write(kiss.encode(bytes(data), port=port))
        self.counters.inc("frames_out")

    def set_param(self, param: str, value: int, port: int = 0) -> None:
        """txdelay/slottime/txtail in 10 ms units, persistence 0..255, fullduplex 0/1."""
        if param not in PARAMS:
            raise InputError(f"unknown KISS parameter {param!r} (known: {', '.join(PARAMS)})")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            raise InputError(f"KISS {param} must be 0..255, not {value!r}")
        self._write(kiss.encode(bytes((value,)), port=port, command=PARAMS[param]))

    def exit_kiss(self) -> None:
        """Ask the TNC to leave KISS mode (command 0xFF)."""
        self._write(EXIT_KISS)

    # --- receiving ----------------------------------------------------------------

    def receive(self, timeout_s: float | None = None) -> tuple[int, bytes] | None:
        """Next received (port, data), or None after ``timeout_s``."""
        try:
            return self._frames.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.link.lock:
                    self.link.ensure_open(time.monotonic() + 0.2)
                data = self.link.read_some(time.monotonic() + 0.1)
            except (Disconnected, PortAbsent) as e:
                if isinstance(e, Disconnected):
                    self.counters.inc("disconnects")
                    log.warning("%s: %s", self.name, e)
                    self._decoder = kiss.Decoder()
                time.sleep(0.05)
                continue
            except BridgeHardwareError as e:  # busy/permission: keep trying, slowly
                self.counters.inc(e.counter)
                log.warning("%s: %s", self.name, e)
                time.sleep(1.0)
                continue
            if not data:
                continue
            before = self._decoder.errors
            frames = self._decoder.feed(data)
            if self._decoder.errors > before:
                self.counters.inc("kiss_errors", self._decoder.errors - before)
            for port, cmd, payload in frames:
                if cmd != kiss.CMD_DATA:
                    self.counters.inc("non_data")
                    continue
                self.counters.inc("frames_in")
                if self.on_frame is not None:
                    try:
                        self.on_frame(port, payload)
                    except Exception:
                        log.exception("%s: on_frame callback failed", self.name)
                try:
                    self._frames.put_nowait((port, payload))
                except queue.Full:
                    self.counters.inc("queue_overflow")
