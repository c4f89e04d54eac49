"""Helpers for tests that drive the bridge against emulators and Hamlib's programs.

Used by tests/test_bridge_*.py and meant for other suites too (the pass
executor's simulated pass): a free TCP port chosen at run time, a bounded
wait, and Hamlib's ``rotctld`` started on an emulator's pty.
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from typing import Callable, Iterator


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0, poll_s: float = 0.02) -> bool:
    """Poll ``predicate`` until true (True) or ``timeout_s`` passes (False)."""
    end = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(poll_s)


def wait_for_listen(host: str, port: int, timeout_s: float = 10.0) -> bool:
    def up() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            return False
    return wait_until(up, timeout_s, 0.05)


@contextlib.contextmanager
def hamlib_rotctld(program: str, model: int, device: str | None = None, baud: int | None = None,
                   host: str = "127.0.0.1", extra: tuple[str, ...] = ()) -> Iterator[tuple[str, int]]:
    """Run ``rotctld -m model [-r device]`` on a free port; yields (host, port)."""
    port = free_tcp_port(host)
    cmd = [program, "-m", str(model), "-T", host, "-t", str(port), *extra]
    if device:
        cmd += ["-r", device]
    if baud:
        cmd += ["-s", str(baud)]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    try:
        if not wait_for_listen(host, port):
            proc.kill()
            proc.wait()
            log.seek(0)
            err = log.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"{' '.join(cmd)} did not start listening: {err}")
        yield host, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
