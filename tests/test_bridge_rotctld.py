"""rotctld protocol: our server's protocol core, the server over TCP, our client against it and
against misbehaving peers (malformed replies, silence)."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from firmware_bridge.counters import DeviceCounters
from firmware_bridge.emulators import start_emulator
from firmware_bridge.errors import DeviceRejected, OperationFailed, PortAbsent, ProtocolError
from firmware_bridge.factory import open_rotator
from firmware_bridge.gate import ControlGate
from firmware_bridge.limits import Limits
from firmware_bridge.rotctld_server import RotctldServer, RotctldSession
from firmware_bridge.testing import free_tcp_port

SLACK_S = 2.0


@pytest.fixture
def backend(tmp_path):
    # a stable link: after an unplug the bare /dev/pts number may go to another process's pty
    emu = start_emulator("gs232b", az_rate_dps=2000, el_rate_dps=2000, limits=Limits(0, 450, 0, 180),
                         link=str(tmp_path / "usb-rotator"))
    rot = open_rotator({"protocol": "gs232b", "device": emu.path, "timeout_s": 1.0, "retries": 1,
                        "max_az_deg": 450, "max_el_deg": 180, "park_az_deg": 180, "park_el_deg": 90})
    yield emu, rot
    rot.close()
    emu.stop()


@pytest.fixture
def session(backend):
    gate = ControlGate()
    return RotctldSession(backend[1], gate, DeviceCounters("test-session")), gate, backend[0]


# --- protocol core ---------------------------------------------------------------------

def test_default_protocol(session):
    s, _, emu = session
    assert s.handle_line("P 100 40") == "RPRT 0\n"
    assert emu.model.target() == (100.0, 40.0)
    time.sleep(0.05)
    assert s.handle_line("p") == "100.000000\n40.000000\n"
    assert s.handle_line("\\set_pos 101.4 41") == "RPRT 0\n"
    assert s.handle_line("S") == "RPRT 0\n"
    assert s.handle_line("K") == "RPRT 0\n"
    assert emu.model.target() == (180.0, 90.0)
    assert s.handle_line("q") is None


def test_extended_protocol(session):
    s, _, _ = session
    assert s.handle_line("+P 10 20") == "set_pos: 10 20\nRPRT 0\n"
    time.sleep(0.05)
    assert s.handle_line("+p") == "get_pos:\nAzimuth: 10.000000\nElevation: 20.000000\nRPRT 0\n"
    assert s.handle_line(";\\get_pos") == "get_pos:;Azimuth: 10.000000;Elevation: 20.000000;RPRT 0\n"
    assert s.handle_line("+\\stop") == "stop:\nRPRT 0\n"
    assert s.handle_line("+_").startswith("get_info:\nInfo: groundseg ")


def test_dump_state_both_protocols(session):
    s, _, _ = session
    assert s.handle_line("\\dump_state") == ("1\n0\nmin_az=0.000000\nmax_az=450.000000\nmin_el=0.000000\n"
                                             "max_el=180.000000\nsouth_zero=0\nrot_type=AzEl\ndone\n")
    ext = s.handle_line("+\\dump_state")
    assert ext.startswith("dump_state:\nrotctld Protocol Ver: 1\n") and ext.endswith("done\nRPRT 0\n")


@pytest.mark.parametrize("line, code", [
    ("P 500 10", -1), ("P 10 181", -1), ("P ten 10", -1), ("P 10", -1), ("P nan 3", -1),
    ("X", -1), ("\\frobnicate", -1), ("M 2 50", -4), ("R 1", -4),
])
def test_errors_get_hamlib_codes(session, line, code):
    s, _, emu = session
    assert s.handle_line(line) == f"RPRT {code}\n"
    assert s.handle_line("+" + line).endswith(f"RPRT {code}\n")
    assert emu.model.target() == (0.0, 0.0)


def test_decimal_comma_accepted(session):
    s, _, emu = session
    assert s.handle_line("P 12,5 30,0") == "RPRT 0\n"
    assert emu.model.target() == (13.0, 30.0)   # GS-232: whole degrees


def test_refused_while_a_pass_holds_the_gate(session):
    s, gate, emu = session
    with gate.hold("pass NORAD 25544"):
        for line in ("P 10 10", "S", "K", "\\set_pos 1 1", "M 2 10"):
            assert s.handle_line(line) == "RPRT -9\n"
        assert s.handle_line("+P 10 10") == "set_pos: 10 10\nRPRT -9\n"
        assert s.handle_line("p").count("\n") == 2          # reading stays allowed
    assert s.counters["refused"] == 6
    assert emu.model.target() == (0.0, 0.0)
    assert s.handle_line("P 10 10") == "RPRT 0\n"


def test_rotator_faults_become_codes(session):
    s, _, emu = session
    emu.set_fault("no_reply")
    assert s.handle_line("p") == "RPRT -5\n"
    emu.set_fault("garbage")
    assert s.handle_line("p") == "RPRT -8\n"
    emu.set_fault(None)
    emu.unplug()
    assert s.handle_line("p") == "RPRT -6\n"
    assert s.counters["errors_replied"] == 3


# --- server over TCP, and our client ------------------------------------------------------

@pytest.fixture
def server(backend):
    srv = RotctldServer(backend[1], port=0).start()
    yield srv, backend[0]
    srv.stop()


def test_client_against_our_server(server):
    srv, emu = server
    host, port = srv.address
    client = open_rotator({"protocol": "rotctld", "host": host, "tcp_port": port, "timeout_s": 2})
    try:
        assert client.limits == Limits(0, 450, 0, 180)        # learnt from dump_state
        client.point(321.4, 12.6)
        pos = client.wait_for(321.4, 12.6, tolerance_deg=0.5, timeout_s=10, poll_s=0.02)
        assert pos == (321.0, 13.0)                            # the GS-232 behind it: whole degrees
        with srv.gate.hold("pass"):
            with pytest.raises(DeviceRejected, match="RPRT -9"):
                client.point(10, 10)
        assert client.counters["rejected"] == 1
        client.park()
        assert emu.model.target() == (180.0, 90.0)
        assert "gs232b" in client.info()
    finally:
        client.close()


def test_server_survives_abuse(server):
    srv, emu = server
    host, port = srv.address
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"\x00\xff garbage\n" + b"A" * 5000 + b"\nP 1 2 3 4 5\n\n\np\n")
        data = b""
        while data.count(b"\n") < 5:
            data += s.recv(4096)
    lines = data.decode().splitlines()
    assert lines[0] == "RPRT -1" and lines[1] == "RPRT -1" and lines[2] == "RPRT 0"
    assert len(lines[3:5]) == 2 and all(float(x) >= 0 for x in lines[3:5])
    assert emu.model.target() == (1.0, 2.0)
    assert srv.counters["bad_commands"] >= 2


def test_listen_port_in_use_is_a_clear_error(server):
    srv, _ = server
    with pytest.raises(Exception, match="cannot listen"):
        RotctldServer(srv.rotator, port=srv.address[1])


# --- client against misbehaving peers ---------------------------------------------------------

class FakeDaemon:
    """A TCP peer that answers dump_state properly, then with whatever ``reply`` says."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn):
        buf = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(1024)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line == b"\\dump_state":
                        conn.sendall(b"1\n1\nmin_az=-180.0\nmax_az=450.0\nmin_el=0.0\nmax_el=90.0\ndone\n")
                    elif self.reply is not None:
                        conn.sendall(self.reply)

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("reply, error", [
    (b"get_pos:\nAzimuth: 1.0\nElevation: banana\nRPRT 0\n", ProtocolError),
    (b"get_pos:\nAzimuth: 1.0\nRPRT 0\n", ProtocolError),
    (b"what is this\n", ProtocolError),
    (b"RPRT -8\n", ProtocolError),
    (b"get_pos:\nRPRT -5\n", OperationFailed),
])
def test_client_malformed_replies(reply, error):
    d = FakeDaemon(reply)
    client = open_rotator({"protocol": "rotctld", "tcp_port": d.port, "timeout_s": 1.0, "retries": 1})
    try:
        with pytest.raises(OperationFailed) as e:
            client.position()
        assert isinstance(e.value.cause, error) or error is OperationFailed
        assert client.counters["failures"] == 1
        assert client.counters["malformed"] + client.counters["timeouts"] == 2
    finally:
        client.close()
        d.close()


def test_client_silent_daemon_fails_within_bound():
    d = FakeDaemon(None)
    client = open_rotator({"protocol": "rotctld", "tcp_port": d.port, "timeout_s": 2.0, "retries": 2})
    client.timeout_s = 0.3
    try:
        t0 = time.monotonic()
        with pytest.raises(OperationFailed, match="no reply"):
            client.position()
        assert time.monotonic() - t0 <= 0.3 * 3 + SLACK_S
        assert client.counters["timeouts"] == 3
    finally:
        client.close()
        d.close()


def test_client_no_daemon():
    with pytest.raises(OperationFailed, match="cannot connect") as e:
        open_rotator({"protocol": "rotctld", "tcp_port": free_tcp_port(), "timeout_s": 0.2, "retries": 1})
    assert isinstance(e.value.cause, PortAbsent)


def test_client_limits_must_fit_the_daemon():
    d = FakeDaemon(None)
    try:
        with pytest.raises(DeviceRejected, match="exceed"):
            open_rotator({"protocol": "rotctld", "tcp_port": d.port, "min_az_deg": 0, "max_az_deg": 450,
                          "min_el_deg": 0, "max_el_deg": 180})
    finally:
        d.close()


def test_stop_hangs_up_on_clients(backend):
    srv = RotctldServer(backend[1], port=0).start()
    with socket.create_connection(srv.address, timeout=5) as s:
        s.sendall(b"p\n")
        assert s.recv(100).count(b"\n") == 2
        srv.stop()
        assert s.recv(100) == b""          # the server closed the connection
