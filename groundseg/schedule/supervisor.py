"""Supervision of a child process: start, health, stop with a hard deadline, exit status.

The pass executor runs each pass's flowgraph as a child process
(``flowgraphs.pass_runner``) through a ``ChildProcess``:

* ``start()`` spawns it in its own session (a Ctrl-C at the station's
  terminal does not reach it; the whole process group can be killed) with
  stdout a pipe of JSON lines, read by a thread that hands every message to
  ``on_message`` (a line that is not a JSON object becomes ``{"type":
  "garbled", "line": ...}``) and stderr appended to a log file.
* Health: ``alive``, ``returncode``, ``silent_s()`` (wall seconds since the
  last line: the child sends status lines as a heartbeat), ``wait_message``.
* ``stop(request, stop_timeout_s, interrupt_timeout_s)``: ask (``request()``,
  e.g. a stop message on the control socket) and wait; then SIGINT and
  wait; then SIGKILL to the process group. It always returns with the child
  gone and an ``ExitStatus`` saying how it ended; the deadline is the sum of
  the two timeouts plus the kill.
* A pid file (optional) names the running child, so that a station
  restarted after a crash can kill a child left behind (``reap_orphans``);
  children also ask the kernel to signal them when their parent dies.

Times here are wall-clock seconds (``time.monotonic``), also in a simulation.
"""
from __future__ import annotations

import json
import logging
import os
import pathlib
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

from ..errors import HardwareError

log = logging.getLogger(__name__)


@dataclass
class ExitStatus:
    """How a child ended: ``how`` is exited | stopped | interrupted | killed | crashed."""

    returncode: int | None
    how: str
    signal: str | None = None
    requested: bool = False  # the supervisor asked it to stop

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and self.how in ("exited", "stopped")

    def describe(self) -> str:
        if self.signal:
            return f"{self.how} (signal {self.signal})"
        return f"{self.how} (exit code {self.returncode})"

    def to_dict(self) -> dict:
        return asdict(self)


def _signame(rc: int | None) -> str | None:
    if rc is None or rc >= 0:
        return None
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return str(-rc)


def _proc_start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (guards against pid reuse)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


class ChildProcess:
    def __init__(self, argv: list[str], *, name: str = "child", log_path: str | os.PathLike | None = None,
                 env: dict | None = None, cwd: str | os.PathLike | None = None,
                 on_message: Callable[[dict], None] | None = None, pidfile: str | os.PathLike | None = None,
                 pidfile_info: dict | None = None):
        self.argv = list(argv)
        self.name = name
        self.log_path = pathlib.Path(log_path) if log_path else None
        self.env = env
        self.cwd = cwd
        self.on_message = on_message
        self.pidfile = pathlib.Path(pidfile) if pidfile else None
        self.pidfile_info = dict(pidfile_info or {})
        self.proc: subprocess.Popen | None = None
        self.started_monotonic: float | None = None
        self.last_line_monotonic: float | None = None
        self.lines = 0
        self.garbled = 0
        self.callback_errors = 0
        self.eof = threading.Event()
        self._cond = threading.Condition()
        self._messages: list[dict] = []  # recent messages for wait_message (bounded)
        self._reader: threading.Thread | None = None
        self._exit: ExitStatus | None = None
        self._stop_requested = False

    # --- life cycle -----------------------------------------------------------------

    def start(self) -> "ChildProcess":
        if self.proc is not None:
            raise RuntimeError(f"{self.name}: already started")
        logf = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=logf,
                                         env=self.env, cwd=self.cwd, start_new_session=True, close_fds=True)
        except OSError as e:
            raise HardwareError(f"{self.name}: cannot start {self.argv[0]}: {e.strerror or e}") from None
        finally:
            if logf is not subprocess.DEVNULL:
                logf.close()
        self.started_monotonic = self.last_line_monotonic = time.monotonic()
        self._write_pidfile()
        self._reader = threading.Thread(target=self._read, name=f"{self.name}-stdout", daemon=True)
        self._reader.start()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def silent_s(self) -> float:
        """Wall seconds since the child last wrote a line (or since it started)."""
        if self.last_line_monotonic is None:
            return 0.0
        return time.monotonic() - self.last_line_monotonic

    def wait_message(self, predicate: Callable[[dict], bool], timeout_s: float) -> dict | None:
        """Wait for a message matching ``predicate`` (also one already received); None on timeout or EOF."""
        end = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for m in self._messages:
                    if predicate(m):
                        return m
                left = end - time.monotonic()
                if left <= 0 or self.eof.is_set():
                    return None
                self._cond.wait(min(left, 0.1))

    def wait_exit(self, timeout_s: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, request: Callable[[], None] | None = None, stop_timeout_s: float = 5.0,
             interrupt_timeout_s: float = 3.0) -> ExitStatus:
        """Stop the child whatever it does; returns how it ended (it is gone afterwards)."""
        if self.proc is None:
            return ExitStatus(None, "exited")
        if self._exit is not None:
            return self._exit
        self._stop_requested = True
        how = None
        if self.proc.poll() is None and request is not None:
            try:
                request()
            except Exception as e:  # noqa: BLE001 - a failed request only skips to the signals
                log.warning("%s: stop request failed: %s", self.name, e)
            if self.wait_exit(stop_timeout_s) is not None:
                how = "stopped"
        if self.proc.poll() is None and how is None:
            self._signal(signal.SIGINT)
            if self.wait_exit(interrupt_timeout_s) is not None:
                how = "interrupted"
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL, group=True)
            self.wait_exit(10.0)
            how = "killed"
        return self._finish(how)

    def kill(self) -> ExitStatus:
        """SIGKILL the child's process group now."""
        if self.proc is None:
            return ExitStatus(None, "exited")
        self._stop_requested = True
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL, group=True)
            self.wait_exit(10.0)
            return self._finish("killed")
        return self._finish(None)

    def exit_status(self) -> ExitStatus | None:
        """How the child ended, once it has (without asking it to)."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return self._finish(None)

    def close(self) -> None:
        """Make sure the child is gone and the reader done; remove the pid file."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        if self._reader is not None:
            self._reader.join(timeout=5.0)
        if self.proc is not None and self.proc.stdout is not None:
            try:
                self.proc.stdout.close()
            except OSError:
                pass
        self._remove_pidfile()

    # --- internals --------------------------------------------------------------------

    def _finish(self, how: str | None) -> ExitStatus:
        if self._exit is not None:
            return self._exit
        rc = self.proc.poll()
        sig = _signame(rc)
        if how is None:
            if rc == 0:
                how = "stopped" if self._stop_requested else "exited"
            else:
                how = "crashed"
        self._exit = ExitStatus(rc, how, sig, self._stop_requested)
        if self._reader is not None:
            self._reader.join(timeout=5.0)  # every line the child wrote is handled first
        self._remove_pidfile()
        return self._exit

    def _signal(self, sig: int, group: bool = False) -> None:
        try:
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            for raw in self.proc.stdout:
                self.last_line_monotonic = time.monotonic()
                self.lines += 1
                try:
                    msg = json.loads(raw)
                    if not isinstance(msg, dict):
                        raise ValueError
                except ValueError:
                    self.garbled += 1
                    msg = {"type": "garbled", "line": raw.decode("utf-8", "replace")[:200]}
                with self._cond:
                    if msg.get("type") != "status":
                        self._messages.append(msg)
                        del self._messages[:-200]
                    self._cond.notify_all()
                if self.on_message is not None:
                    try:
                        self.on_message(msg)
                    except Exception:  # noqa: BLE001 - a consumer bug must not stop the reading
                        self.callback_errors += 1
                        log.exception("%s: message handler failed", self.name)
        except (OSError, ValueError):
            pass
        finally:
            self.eof.set()
            with self._cond:
                self._cond.notify_all()

    def _write_pidfile(self) -> None:
        if self.pidfile is None or self.proc is None:
            return
        info = {"pid": self.proc.pid, "start_ticks": _proc_start_ticks(self.proc.pid), "argv": self.argv[:4],
                **self.pidfile_info}
        try:
            self.pidfile.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.pidfile.with_name(self.pidfile.name + ".tmp")
            tmp.write_text(json.dumps(info))
            os.replace(tmp, self.pidfile)
        except OSError as e:
            log.warning("%s: cannot write pid file %s: %s", self.name, self.pidfile, e)

    def _remove_pidfile(self) -> None:
        if self.pidfile is None:
            return
        try:
            info = json.loads(self.pidfile.read_text())
            if info.get("pid") == self.pid:
                self.pidfile.unlink()
        except (OSError, ValueError):
            pass


def reap_orphans(run_dir: str | os.PathLike, marker: str = "pass_runner") -> list[dict]:
    """Kill children left running by a previous station process; returns what was found.

    Each pid file is checked: a process with that pid, the same start time and
    ``marker`` in its command line is killed (SIGKILL to its group). Every pid
    file is removed.
    """
    out = []
    d = pathlib.Path(run_dir)
    if not d.is_dir():
        return out
    for pf in sorted(d.glob("*.pid")):
        try:
            info = json.loads(pf.read_text())
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            pf.unlink(missing_ok=True)
            continue
        alive = _proc_start_ticks(pid)
        killed = False
        if alive is not None and alive == info.get("start_ticks"):
            try:
                cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8",
                                                                                                 "replace")
            except OSError:
                cmd = ""
            if marker in cmd:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                killed = True
        out.append({**info, "killed": killed})
        pf.unlink(missing_ok=True)
    return out
