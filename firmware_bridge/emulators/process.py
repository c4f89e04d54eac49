"""Run an emulator in a subprocess: its pty path comes back on the first stdout line.

The child (``python -m firmware_bridge.emulators KIND --options JSON``) prints
``{"kind": ..., "path": ..., "pty": ...}`` and then reads commands from stdin,
one per line, answering each with one JSON line:
``fault no_reply|garbage|disconnect [count]``, ``fault none``, ``unplug``,
``replug``, ``state``, ``quit``. It exits when stdin closes.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from groundseg.errors import HardwareError


class EmulatorProcess:
    def __init__(self, proc: subprocess.Popen, hello: dict):
        self.proc = proc
        self.kind = hello["kind"]
        self.path = hello["path"]
        self.pty = hello["pty"]

    def command(self, line: str, timeout_s: float = 5.0) -> dict:
        """Send one control command; return the child's JSON answer."""
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((line.strip() + "\n").encode("ascii"))
        return _read_json(self.proc, timeout_s)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except (OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _read_json(proc: subprocess.Popen, timeout_s: float) -> dict:
    end = time.monotonic() + timeout_s
    fd = proc.stdout.fileno()
    line = b""
    while not line.endswith(b"\n"):
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise HardwareError(f"emulator process gave no answer within {timeout_s:g} s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            b = os.read(fd, 1)
            if not b:
                raise HardwareError(f"emulator process ended (exit {proc.poll()})")
            line += b
    return json.loads(line)


def spawn_emulator(kind: str, timeout_s: float = 10.0, **options) -> EmulatorProcess:
    """Start ``kind`` in a child Python; returns once its pty exists."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen([sys.executable, "-m", "firmware_bridge.emulators", kind,
                             "--options", json.dumps(options)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=False, bufsize=0, env=env)
    try:
        hello = _read_json(proc, timeout_s)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return EmulatorProcess(proc, hello)
