"""``groundseg rotator ...``: position/point/park/stop, serve-rotctld and emulate."""
from __future__ import annotations

import json
import os
import pathlib
import select
import signal
import subprocess
import sys

import pytest

from firmware_bridge.emulators import start_emulator
from firmware_bridge.factory import open_rotator
from firmware_bridge.testing import free_tcp_port, wait_for_listen, wait_until
from groundseg.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def emu():
    e = start_emulator("gs232b", az_rate_dps=2000, el_rate_dps=2000)
    yield e
    e.stop()


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_point_position_park_stop(capsys, emu, tmp_path):
    cfg = tmp_path / "station.yml"
    cfg.write_text(f"rotator:\n  protocol: gs232b\n  device: {emu.path}\n  max_el_deg: 180\n"
                   "  park_az_deg: 90\n  park_el_deg: 90\n")
    rc, out, _ = run(capsys, "rotator", "point", "200", "120", "--config", str(cfg), "--wait")
    assert rc == 0 and json.loads(out) == {"az_deg": 200.0, "el_deg": 120.0}
    rc, out, _ = run(capsys, "rotator", "position", "--protocol", "gs232b", "--device", emu.path)
    assert rc == 0 and json.loads(out)["az_deg"] == 200.0
    rc, out, _ = run(capsys, "rotator", "park", "--config", str(cfg))
    assert rc == 0 and emu.model.target() == (90.0, 90.0)
    rc, _, _ = run(capsys, "rotator", "stop", "--config", str(cfg))
    assert rc == 0 and wait_until(lambda: emu.received[-1] == b"S", 5)


@pytest.mark.parametrize("argv, code, message", [
    (["point", "500", "10"], 2, "outside the limits"),
    (["position", "--set", "baudrate=9600"], 2, "unknown key"),
    (["position", "--protocol", "gs999"], 2, "unknown rotator protocol"),
    (["position", "--device", "/dev/serial/by-id/usb-absent-if00"], 3, "is absent"),
])
def test_errors_are_one_line(capsys, emu, argv, code, message):
    base = ["--protocol", "gs232b", "--device", emu.path]
    rc, _, err = run(capsys, "rotator", *argv[:1], *base, *argv[1:])
    assert rc == code and message in err and err.count("\n") == 1


def test_silent_rotator_exit_code(capsys, emu):
    emu.set_fault("no_reply")
    rc, _, err = run(capsys, "rotator", "position", "--protocol", "gs232b", "--device", emu.path,
                     "--timeout-s", "0.2", "--retries", "1")
    assert rc == 3 and "failed after 2 attempt(s)" in err


def _start(*argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "groundseg.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def test_serve_rotctld(emu):
    port = free_tcp_port()
    proc = _start("rotator", "serve-rotctld", "--listen-port", str(port), "--protocol", "gs232b",
                  "--device", emu.path)
    try:
        assert wait_for_listen("127.0.0.1", port), proc.stderr.read() if proc.poll() is not None else ""
        client = open_rotator({"protocol": "rotctld", "tcp_port": port, "timeout_s": 2})
        client.point(33, 44)
        assert client.wait_for(33, 44, timeout_s=10, poll_s=0.05) == (33.0, 44.0)
        client.close()
    finally:
        assert _stop(proc) == 0


def test_emulate(tmp_path):
    link = str(tmp_path / "rot0")
    proc = _start("rotator", "emulate", "easycomm2", "--link", link, "--option", "az_rate_dps=2000",
                  "--option", "el_rate_dps=2000")
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "emulator printed nothing"
        hello = json.loads(proc.stdout.readline())
        assert hello["path"] == link and os.path.realpath(link) == hello["pty"]
        rot = open_rotator({"protocol": "easycomm2", "device": link})
        rot.point(1.5, 2.5)
        assert wait_until(lambda: rot.position() == (1.5, 2.5), 10)
        rot.close()
    finally:
        assert _stop(proc) == 0
    assert not os.path.exists(link)


def test_station_config_rotator(capsys, emu):
    """The [[rotators]] entry of the station config, with the device overridden to the emulator."""
    station = ROOT / "seeds" / "station.toml"
    rc, out, _ = run(capsys, "rotator", "point", "400", "45", "--config", str(station), "--device", emu.path,
                     "--wait")
    assert rc == 0 and json.loads(out) == {"az_deg": 400.0, "el_deg": 45.0}   # the seed rotator has 450 deg
    rc, _, err = run(capsys, "rotator", "position", "--config", str(station), "--rotator", "nope")
    assert rc == 2 and "no rotator 'nope'" in err
