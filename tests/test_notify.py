"""sd_notify client, heartbeat and watchdog: in-process units, then daemons started as systemd would.

The daemon tests bind the datagram socket systemd would (``$NOTIFY_SOCKET``,
a path or an ``@abstract`` name), start a process with ``$WATCHDOG_USEC``
and read what it sends: ``READY=1`` after start-up, ``WATCHDOG=1`` pings,
``STOPPING=1`` on SIGTERM; and once its main loop is frozen, no more pings.
"""
from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from groundseg import notify as N

ROOT = pathlib.Path(__file__).resolve().parents[1]


# --- a socket standing in for systemd ------------------------------------------------------------

class FakeSystemd:
    """A bound AF_UNIX datagram socket collecting notification messages (each a dict of its lines)."""

    def __init__(self, address: str):
        self.env_value = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.messages: list[dict[str, str]] = []

    def _recv(self, timeout_s: float) -> dict | None:
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(4096)
        except (socket.timeout, BlockingIOError):
            return None
        msg = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
        self.messages.append(msg)
        return msg

    def wait_for(self, pred, timeout_s: float, proc: subprocess.Popen | None = None) -> dict:
        """The next message satisfying ``pred``; fails (with what was received) after ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            msg = self._recv(min(0.5, max(0.01, end - time.monotonic())))
            if msg is not None and pred(msg):
                return msg
            if msg is None and proc is not None and proc.poll() is not None:
                while (m := self._recv(0.05)) is not None:  # drain what it sent before exiting
                    if pred(m):
                        return m
                out = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"the daemon exited ({proc.returncode}) before the expected message; "
                            f"received {self.messages[-10:]}; output:\n{out[-3000:]}")
        pytest.fail(f"no expected message within {timeout_s} s; received {self.messages[-10:]}")

    def collect(self, duration_s: float) -> list[dict]:
        out, end = [], time.monotonic() + duration_s
        while (left := end - time.monotonic()) > 0:
            m = self._recv(left)
            if m is not None:
                out.append(m)
        return out

    def close(self):
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def systemd(request, tmp_path):
    addr = str(tmp_path / "notify.sock") if request.param == "path" else f"@groundseg-test-{os.getpid()}-{id(request)}"
    fs = FakeSystemd(addr)
    yield fs
    fs.close()


# --- units -------------------------------------------------------------------------------------------

def test_socket_addresses():
    assert N.Notifier("@sd").address == "\0sd"
    assert N.Notifier("/run/systemd/notify").address == "/run/systemd/notify"
    assert not N.Notifier(None).enabled and not N.Notifier("").enabled
    assert not N.Notifier("vsock:2:1234").enabled  # not supported: disabled, not an error
    assert N.Notifier(None).ready("x") is False and N.Notifier(None).watchdog() is False


def test_messages_are_sent_as_systemd_reads_them(tmp_path):
    fs = FakeSystemd(str(tmp_path / "n.sock"))
    try:
        n = N.Notifier(fs.env_value)
        assert n.ready("planned\n3 passes") and n.status("running  pass p-1") and n.stopping() and n.watchdog()
        got = [fs._recv(1.0) for _ in range(4)]
        assert got == [{"READY": "1", "STATUS": "planned 3 passes"}, {"STATUS": "running pass p-1"},
                       {"STOPPING": "1"}, {"WATCHDOG": "1"}]
        assert n.sent == 4
    finally:
        fs.close()


def test_a_vanished_socket_is_not_fatal(tmp_path):
    n = N.Notifier(str(tmp_path / "nobody-listens.sock"))
    assert n.enabled
    assert n.ready() is False and n.status("x") is False  # logged once, never raised
    assert n.sent == 0


def test_notifier_from_env_can_hide_the_socket_from_children(monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", "@gs-test")
    n = N.Notifier.from_env(unset=True)
    assert n.address == "\0gs-test" and "NOTIFY_SOCKET" not in os.environ
    assert N.Notifier.from_env({"NOTIFY_SOCKET": "/x"}).address == "/x"


@pytest.mark.parametrize("env,interval", [
    ({"WATCHDOG_USEC": "500000"}, 0.5),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"}, None),   # meant for another process
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "me"}, None),
    ({}, None),
])
def test_watchdog_interval_from_env(env, interval):
    wd = N.Watchdog.from_env(env, notifier=N.Notifier("@x"), pid=4242)
    assert wd.interval_s == interval
    assert wd.enabled is (interval is not None)
    if interval:
        assert wd.ping_period_s == interval / 2


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_heartbeat_freshness_and_busy_steps():
    clk = Clock()
    hb = N.Heartbeat(max_age_s=10.0, clock=clk)
    assert hb.fresh() and hb.period_s == pytest.approx(10 / 3)
    clk.t += 9.9
    assert hb.fresh()
    clk.t += 0.2
    assert not hb.fresh() and hb.age_s() == pytest.approx(10.1)
    hb.beat()
    assert hb.fresh() and hb.age_s() == 0
    with hb.busy(600.0):              # a pass: no beat expected for 10 minutes
        clk.t += 599.0
        assert hb.fresh()
        clk.t += 2.0
        assert not hb.fresh() and hb.overdue_s() == pytest.approx(1.0)   # overran its own deadline
    assert hb.fresh()                 # the step ended: beaten again
    clk.t += 10.5
    assert not hb.fresh()             # and the normal allowance is back
    hb.beat(busy_s=1.0)               # a busy time shorter than max_age does not shorten it
    clk.t += 5.0
    assert hb.fresh()
    with pytest.raises(ValueError):
        N.Heartbeat(max_age_s=0)


class RecordingNotifier(N.Notifier):
    def __init__(self):
        super().__init__("@unused")
        self.lines: list[tuple[str, ...]] = []

    def send(self, *lines):
        self.lines.append(lines)
        return True


def test_pings_only_while_healthy_and_says_why_it_stopped():
    rn = RecordingNotifier()
    wd = N.Watchdog(20.0, rn)
    healthy = [True]
    assert wd.ping_if_healthy(lambda: healthy[0]) and wd.ping_if_healthy(lambda: healthy[0])
    healthy[0] = False
    assert not wd.ping_if_healthy(lambda: healthy[0])
    assert not wd.ping_if_healthy(lambda: healthy[0])
    healthy[0] = True
    assert wd.ping_if_healthy(lambda: healthy[0])

    def broken():
        raise RuntimeError("check bug")
    assert not wd.ping_if_healthy(broken)     # a failing check counts as unhealthy
    pings = [ln for ln in rn.lines if ln == ("WATCHDOG=1",)]
    statuses = [ln[0] for ln in rn.lines if ln[0].startswith("STATUS=")]
    assert len(pings) == 3 and wd.pings == 3 and wd.withheld == 3
    # one STATUS per transition to unhealthy, not one per withheld ping
    assert len(statuses) == 2 and all("watchdog pings withheld" in s for s in statuses)
    assert "20 s" in statuses[0]


def test_disabled_watchdog_starts_no_thread():
    wd = N.Watchdog(None, RecordingNotifier())
    assert wd.start(lambda: True) is wd and wd._thread is None
    wd.stop()


def test_watchdog_thread_stops_pinging_when_the_heartbeat_goes_stale():
    rn = RecordingNotifier()
    clk = Clock()
    hb = N.Heartbeat(max_age_s=5.0, clock=clk)
    wd = N.Watchdog(0.02, rn).start(hb.fresh)     # pings every 10 ms of wall time
    try:
        _wait(lambda: wd.pings >= 3)
        clk.t += 6.0                               # the main loop stopped beating
        _wait(lambda: wd.withheld >= 3)
        n = wd.pings
        _wait(lambda: wd.withheld >= 10)
        assert wd.pings == n                       # no ping while stale
        hb.beat()
        _wait(lambda: wd.pings > n)                # and they resume with the loop
    finally:
        wd.stop()


def _wait(cond, timeout_s: float = 20.0):
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            pytest.fail("condition not reached")
        time.sleep(0.005)


# --- a daemon started as systemd would -------------------------------------------------------------

FAKE_DAEMON = textwrap.dedent("""
    import os, signal, subprocess, sys, threading
    from groundseg.notify import Heartbeat, Watchdog, notify_ready, notify_status, notify_stopping

    frozen, stop = threading.Event(), threading.Event()
    signal.signal(signal.SIGUSR1, lambda *a: frozen.set())
    signal.signal(signal.SIGTERM, lambda *a: stop.set())

    wd = Watchdog.from_env()
    hb = Heartbeat.for_watchdog(wd)
    wd.start(hb.fresh)
    child = subprocess.run([sys.executable, "-c",
                            "import os; print(os.environ.get('NOTIFY_SOCKET'), os.environ.get('WATCHDOG_USEC'))"],
                           capture_output=True, text=True).stdout.strip()
    notify_ready(f"fake main loop running; child sees {child}")
    turn = 0
    while not stop.is_set():
        if frozen.is_set():
            notify_status("fake main loop frozen")
            while not stop.is_set():       # wedged: the loop never beats again
                stop.wait(0.05)
            break
        hb.beat()
        turn += 1
        stop.wait(hb.period_s / 4)
    notify_stopping(f"stopped after {turn} turns")
    wd.stop()
""")


def start_daemon(cmd, systemd: FakeSystemd, watchdog_s: float, cwd=None, stdout=subprocess.PIPE) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(NOTIFY_SOCKET=systemd.env_value, WATCHDOG_USEC=str(int(watchdog_s * 1e6)), PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("WATCHDOG_PID", None)
    return subprocess.Popen(cmd, env=env, cwd=cwd or ROOT, stdout=stdout, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def is_ping(m):
    return m.get("WATCHDOG") == "1"


def test_fake_daemon_ready_pings_and_a_frozen_loop_stops_the_pings(systemd, tmp_path):
    script = tmp_path / "fake_daemon.py"
    script.write_text(FAKE_DAEMON)
    proc = start_daemon([sys.executable, str(script)], systemd, watchdog_s=1.0)
    try:
        ready = systemd.wait_for(lambda m: m.get("READY") == "1", 60, proc)
        # the flowgraph children it starts must not notify in its name
        assert ready["STATUS"].endswith("child sees None None")
        for _ in range(3):
            systemd.wait_for(is_ping, 30, proc)

        proc.send_signal(signal.SIGUSR1)                       # wedge the main loop
        systemd.wait_for(lambda m: m.get("STATUS") == "fake main loop frozen", 30, proc)
        withheld = systemd.wait_for(lambda m: "watchdog pings withheld" in m.get("STATUS", ""), 30, proc)
        assert "1 s after the last one" in withheld["STATUS"]
        # From now on no ping: systemd would kill and restart the service after WatchdogSec.
        later = systemd.collect(3.0)                           # six ping periods
        assert not [m for m in later if is_ping(m)], later
        assert proc.poll() is None                             # alive but wedged: the watchdog's case

        proc.send_signal(signal.SIGTERM)
        stopping = systemd.wait_for(lambda m: m.get("STOPPING") == "1", 30, proc)
        assert stopping["STATUS"].startswith("stopped after")
        assert proc.wait(timeout=30) == 0
    finally:
        _stop(proc)


# --- the station daemon itself ------------------------------------------------------------------------

def demo_config(tmp_path) -> pathlib.Path:
    """The seed station file with every component, on addresses of this test (no fixed port, no key needed)."""
    import socket as _socket

    with _socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = (ROOT / "seeds" / "station.toml").read_text()
    for old, new in (
            ('tle_files = ["tle/*.tle"]', f'tle_files = ["{ROOT / "seeds" / "tle"}/*.tle"]'),
            ('endpoint = "tcp://127.0.0.1:5555"', f'endpoint = "ipc://{tmp_path}/ctl"\nsecurity = "plain"'),
            ('pub_endpoint = "tcp://127.0.0.1:5556"', f'pub_endpoint = "ipc://{tmp_path}/pub"'),
            ('address = "127.0.0.1:9108"', f'address = "127.0.0.1:{port}"'),
            ('url = "file://~/.local/share/groundseg/demo/frames"', f'url = "file://{tmp_path}/frames"')):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    p = tmp_path / "station.toml"
    p.write_text(text)
    return p


def test_station_daemon_notifies_systemd(tmp_path):
    """``groundseg station --simulate`` as systemd starts it: READY=1, pings, STOPPING=1 on SIGTERM.

    The seed configuration, every component on (control plane, metrics, gateway), on this test's addresses.
    """
    systemd = FakeSystemd(str(tmp_path / "notify.sock"))
    log = open(tmp_path / "daemon.log", "w")
    proc = start_daemon([sys.executable, "-m", "groundseg.cli", "station", "--config", str(demo_config(tmp_path)),
                         "--simulate", "--passes", "1", "--workdir", str(tmp_path / "work")], systemd,
                        watchdog_s=10.0, stdout=log)
    try:
        ready = systemd.wait_for(lambda m: m.get("READY") == "1", 300, proc)
        assert "STATUS" in ready or systemd.wait_for(lambda m: "STATUS" in m, 60, proc)
        assert "pass(es) planned" in ready.get("STATUS", "")
        for _ in range(2):
            systemd.wait_for(is_ping, 60, proc)
        proc.send_signal(signal.SIGTERM)
        stopping = systemd.wait_for(lambda m: m.get("STOPPING") == "1", 120, proc)
        assert "SIGTERM" in stopping.get("STATUS", "")
        assert proc.wait(timeout=200) == 0, (tmp_path / "daemon.log").read_text()[-3000:]
    finally:
        _stop(proc)
        log.close()
        systemd.close()
