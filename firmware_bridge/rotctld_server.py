"""A rotctld-compatible TCP server in front of one of our rotators.

Gpredict, ``rotctl -m 2`` (Hamlib's NET rotctl) or any rotctld client can
read and move the station's rotator through it. While a pass holds the
:class:`~firmware_bridge.gate.ControlGate`, every command that would move the
rotator (set_pos, stop, park, move, reset) is refused with ``RPRT -9``
(Hamlib's RIG_ERJCTED, "command rejected"); get_pos keeps working.

Both of rotctld's protocols are spoken: the Default Protocol (get commands
answer bare values one per line, set commands ``RPRT n``) and the Extended
Response Protocol (a command prefixed with ``+`` is answered with the echoed
long command name, ``Key: value`` records and ``RPRT n``, one per line; with
``;``, ``|`` or ``,`` the records are separated by that character on one
line). Short (``P``) and long (``\\set_pos``) command names are accepted.

Other error codes: -1 invalid parameter (bad number, outside the limits,
unknown command), -4 not implemented, -5 the rotator timed out, -6 I/O error
(port absent, link lost), -8 malformed reply from the rotator, -9 refused or
rejected by the controller, -7 anything unexpected (logged; the server keeps
running).

:class:`RotctldSession` is the protocol core (one line in, reply text out),
independent of sockets; :class:`RotctldServer` is the threaded TCP driver.
"""
from __future__ import annotations

import logging
import math
import socket
import socketserver
import string
import threading

from groundseg.errors import GroundsegError, InputError

from . import hamlib_codes as H
from .counters import DeviceCounters
from .errors import (DeviceRejected, DeviceTimeout, Disconnected, LimitError, OperationFailed, PortAbsent,
                     PortBusy, PortPermission, ProtocolError, Refused)
from .gate import ControlGate
from .rotator import Rotator

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_LINE = 1024

# long name -> (short name, number of arguments, moves the rotator)
COMMANDS = {
    "set_pos": ("P", 2, True),
    "get_pos": ("p", 0, False),
    "stop": ("S", 0, True),
    "park": ("K", 0, True),
    "move": ("M", 2, True),
    "reset": ("R", 1, True),
    "get_info": ("_", 0, False),
    "dump_state": (None, 0, False),
    "dump_caps": ("1", 0, False),
    "quit": ("q", 0, False),
}
_SHORT = {short: long for long, (short, _, _) in COMMANDS.items() if short}
_SHORT["Q"] = "quit"
_NO_SEPARATOR = set("\\?_#")


class _Reply(Exception):
    """Ends a command with an error code."""

    def __init__(self, code: int, why: str):
        super().__init__(why)
        self.code = code


def error_code(exc: BaseException) -> int:
    """The Hamlib error code (positive) for one of our exceptions."""
    if isinstance(exc, OperationFailed) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, Refused):
        return H.RIG_ERJCTED
    if isinstance(exc, (LimitError, InputError)):
        return H.RIG_EINVAL
    if isinstance(exc, DeviceTimeout):
        return H.RIG_ETIMEOUT
    if isinstance(exc, ProtocolError):
        return H.RIG_EPROTO
    if isinstance(exc, (Disconnected, PortAbsent, PortBusy, PortPermission)):
        return H.RIG_EIO
    if isinstance(exc, DeviceRejected):
        return H.RIG_ERJCTED
    return H.RIG_EINTERNAL


def _number(text: str) -> float:
    t = text.strip()
    if t.count(",") == 1 and "." not in t:  # a client in a decimal-comma locale
        t = t.replace(",", ".")
    try:
        v = float(t)
    except ValueError:
        raise _Reply(H.RIG_EINVAL, f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise _Reply(H.RIG_EINVAL, f"not a finite number: {text!r}")
    return v


class RotctldSession:
    """One client's conversation: feed a line, get the reply text (None: close)."""

    def __init__(self, rotator: Rotator, gate: ControlGate | None, counters: DeviceCounters,
                 peer: str = "client"):
        self.rotator = rotator
        self.gate = gate
        self.counters = counters
        self.peer = peer

    def handle_line(self, line: str) -> str | None:
        text = line.strip()
        if not text or text.startswith("#"):
            return ""
        sep = None
        if text[0] in string.punctuation and text[0] not in _NO_SEPARATOR:
            sep = "\n" if text[0] == "+" else text[0]
            text = text[1:].lstrip()
            if not text:
                return ""
        if text.startswith("\\"):
            parts = text[1:].split()
            name, args = (parts[0], parts[1:]) if parts else ("", [])
        else:
            name, args = _SHORT.get(text[0], text[0]), text[1:].split()
        if name not in COMMANDS:
            self.counters.inc("bad_commands")
            log.info("rotctld %s: unknown command %r", self.peer, line.strip()[:40])
            return self._format(name, args, [], H.RIG_EINVAL, sep)
        if name == "quit":
            return None
        try:
            values = self._execute(name, args)
            code = H.RIG_OK
        except _Reply as r:
            values, code = [], r.code
            self.counters.inc("bad_commands")
            log.info("rotctld %s: %s: %s", self.peer, name, r)
        except Refused as e:
            values, code = [], H.RIG_ERJCTED
            self.counters.inc("refused")
            log.info("rotctld %s: %s", self.peer, e)
        except GroundsegError as e:
            values, code = [], error_code(e)
            self.counters.inc("errors_replied")
            log.warning("rotctld %s: %s failed: %s", self.peer, name, e)
        except Exception:  # a bug must not take the server down
            values, code = [], H.RIG_EINTERNAL
            self.counters.inc("errors_replied")
            log.exception("rotctld %s: %s failed unexpectedly", self.peer, name)
        return self._format(name, args, values, code, sep)

    # --- commands -------------------------------------------------------------

    def _execute(self, name: str, args: list[str]) -> list[tuple[str, str]]:
        _, nargs, moves = COMMANDS[name]
        if len(args) < nargs:
            raise _Reply(H.RIG_EINVAL, f"{name} needs {nargs} argument(s)")
        if moves and self.gate is not None:
            self.gate.check(f"{name} from {self.peer}")
        r = self.rotator
        if name == "get_pos":
            pos = r.position()
            return [("Azimuth", f"{pos.az_deg:.6f}"), ("Elevation", f"{pos.el_deg:.6f}")]
        if name == "set_pos":
            az, el = _number(args[0]), _number(args[1])
            r.point(az, el)
            return []
        if name == "stop":
            r.stop()
            return []
        if name == "park":
            r.park()
            return []
        if name in ("move", "reset"):
            raise _Reply(H.RIG_ENIMPL, f"{name} is not implemented")
        if name == "get_info":
            return [("Info", f"groundseg {r.describe()}")]
        if name == "dump_state":
            lim = r.limits
            return [("rotctld Protocol Ver", str(PROTOCOL_VERSION)), ("Rotor Model", "0"),
                    ("min_az", f"{lim.min_az_deg:.6f}"), ("max_az", f"{lim.max_az_deg:.6f}"),
                    ("min_el", f"{lim.min_el_deg:.6f}"), ("max_el", f"{lim.max_el_deg:.6f}"),
                    ("south_zero", "0"), ("rot_type", "AzEl")]
        if name == "dump_caps":
            lim = r.limits
            return [("Model name", f"groundseg {r.protocol}"), ("Min Azimuth", f"{lim.min_az_deg:.2f}"),
                    ("Max Azimuth", f"{lim.max_az_deg:.2f}"), ("Min Elevation", f"{lim.min_el_deg:.2f}"),
                    ("Max Elevation", f"{lim.max_el_deg:.2f}"), ("Can set Position", "Y"),
                    ("Can get Position", "Y"), ("Can Stop", "Y"), ("Can Park", "Y")]
        raise _Reply(H.RIG_ENIMPL, f"{name} is not implemented")

    # --- output ---------------------------------------------------------------

    @staticmethod
    def _format(name: str, args: list[str], values: list[tuple[str, str]], code: int, sep: str | None) -> str:
        if sep is None:  # Default Protocol
            if code != H.RIG_OK:
                return f"RPRT {-code}\n"
            if name == "dump_state":
                v = dict(values)
                keys = ("min_az", "max_az", "min_el", "max_el", "south_zero", "rot_type")
                return "".join([f"{PROTOCOL_VERSION}\n", f"{v['Rotor Model']}\n"]
                               + [f"{k}={v[k]}\n" for k in keys] + ["done\n"])
            if name == "dump_caps":
                return "".join(f"{k}:\t{v}\n" for k, v in values) + "RPRT 0\n"
            if not values:
                return "RPRT 0\n"
            return "".join(f"{v}\n" for _, v in values)
        header = f"{name}:" + (" " + " ".join(args) if args else "")
        if name == "dump_state" and code == H.RIG_OK:
            v = dict(values)
            records = [header, f"rotctld Protocol Ver: {v['rotctld Protocol Ver']}",
                       f"Rotor Model: {v['Rotor Model']}", f"Minimum Azimuth: {v['min_az']}",
                       f"Maximum Azimuth: {v['max_az']}", f"Minimum Elevation: {v['min_el']}",
                       f"Maximum Elevation: {v['max_el']}", f"South Zero: {v['south_zero']}",
                       f"rot_type={v['rot_type']}", "done"]
        else:
            records = [header] + [f"{k}: {v}" for k, v in values]
        records.append(f"RPRT {-code}")
        return sep.join(records) + "\n"


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        srv: RotctldServer = self.server.owner  # type: ignore[attr-defined]
        peer = "%s:%d" % self.client_address[:2]
        srv.counters.inc("connections")
        session = RotctldSession(srv.rotator, srv.gate, srv.counters, peer)
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with srv.clients_lock:
            srv.clients.add(sock)
        try:
            self._serve(srv, session, sock)
        finally:
            with srv.clients_lock:
                srv.clients.discard(sock)

    @staticmethod
    def _serve(srv: "RotctldServer", session: RotctldSession, sock: socket.socket) -> None:
        buf = bytearray()
        skipping = False  # inside an over-long line: drop up to its end
        try:
            while not srv.stopping:
                try:
                    chunk = sock.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while True:
                    i = buf.find(b"\n")
                    if i < 0:
                        if len(buf) > MAX_LINE:  # no newline in sight: drop it, answer once
                            buf.clear()
                            if not skipping:
                                srv.counters.inc("bad_commands")
                                sock.sendall(b"RPRT -1\n")
                            skipping = True
                        break
                    raw = bytes(buf[:i])
                    del buf[:i + 1]
                    if skipping:
                        skipping = False
                        continue
                    reply = session.handle_line(raw.decode("latin-1"))
                    if reply is None:
                        return
                    if reply:
                        sock.sendall(reply.encode("ascii", "replace"))
        except OSError:
            return


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class RotctldServer:
    """``RotctldServer(rotator, port=4533, gate=gate).start()``; ``stop()`` to end."""

    def __init__(self, rotator: Rotator, host: str = "127.0.0.1", port: int = 4533,
                 gate: ControlGate | None = None):
        self.rotator = rotator
        self.gate = gate if gate is not None else ControlGate()
        self.counters = DeviceCounters(f"{rotator.name}/rotctld",
                                       extra_keys=("connections", "refused", "bad_commands", "errors_replied"))
        self.stopping = False
        self.clients: set[socket.socket] = set()
        self.clients_lock = threading.Lock()
        try:
            self._server = _TCPServer((host, port), _Handler)
        except OSError as e:
            raise InputError(f"rotctld server: cannot listen on {host}:{port}: {e.strerror or e}") from None
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2]

    def start(self) -> "RotctldServer":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="rotctld-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop listening and hang up on every connected client."""
        self.stopping = True
        self._server.shutdown()
        self._server.server_close()
        with self.clients_lock:
            clients = list(self.clients)
        for c in clients:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
