"""Helpers for the control-plane tests and benchmark: keys, free ports, a simulated station daemon.

``SimStation`` writes a station configuration (one UHF chain on a GS-232B
rotator, which a simulation replaces by its emulator; the seed element
sets; a ``[control]`` section; optionally more sections, e.g. ``[gateway]``
and ``[uplink]``) into a directory, optionally with a standing task whose
window frames one real pass of a satellite, and runs the station daemon
(``groundseg station --simulate``) as a child process.
``DaemonProcess.stop()`` ends it with SIGTERM (SIGKILL if it does not go).
"""
from __future__ import annotations

import datetime as _dt
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED_TLE = ROOT / "seeds" / "tle" / "catalog.tle"
# The station daemon (it starts its control plane from the [control] section).
DAEMON_COMMAND = [sys.executable, "-m", "groundseg.cli", "station"]
STATION = {"name": "ctl-test", "lat_deg": 52.2297, "lon_deg": 21.0122, "alt_m": 110.0}
# A transmitter the pass simulator builds and the receive chain decodes: GOMX-1's 4k8 AFSK beacon.
DEFAULT_SAT = (39430, "4k8 AFSK downlink")


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_pass(norad: int, after_unix_s: float, min_el_deg: float = 40.0, hours: float = 72.0):
    """The first pass of ``norad`` over the test station after ``after_unix_s`` culminating above ``min_el_deg``."""
    from ..orbit import GroundStation, HorizonMask, TLEStore, find_passes

    tles = TLEStore()
    tles.update_from_file(SEED_TLE, after_unix_s)
    gs = GroundStation(STATION["lat_deg"], STATION["lon_deg"], STATION["alt_m"], STATION["name"])
    res = find_passes([tles.get(norad)], gs, after_unix_s, after_unix_s + hours * 3600.0, mask=HorizonMask())
    for p in res.passes:
        if p.max_el_deg >= min_el_deg and p.aos_unix_s > after_unix_s:
            return p
    raise RuntimeError(f"no pass of NORAD {norad} above {min_el_deg} deg within {hours} h")


@dataclass
class Keys:
    dir: pathlib.Path
    server_public: pathlib.Path
    clients: dict[str, pathlib.Path] = field(default_factory=dict)  # name -> secret key file

    def credentials(self, name: str):
        from .client import Credentials

        return Credentials.from_files(self.server_public, self.clients[name])


def make_keys(keys_dir: pathlib.Path, out_dir: pathlib.Path, allowed: dict[str, str],
              strangers: tuple[str, ...] = ()) -> Keys:
    """The station's keypair, client keypairs allowed with their roles, and keypairs nobody allowed."""
    from . import keys as K

    pub, _ = K.init_keys_dir(keys_dir)
    k = Keys(pathlib.Path(keys_dir), pub)
    for name, role in allowed.items():
        cpub, csec = K.write_keypair(out_dir, name)
        K.allow_key(keys_dir, cpub, role)
        k.clients[name] = csec
    for name in strangers:
        _, csec = K.write_keypair(out_dir, name)
        k.clients[name] = csec
    return k


def station_toml(endpoint: str, pub_endpoint: str, *, security: str = "curve", keys_dir: str | None = None,
                 task: dict | None = None, extra_control: str = "", heartbeat_s: float = 1.0,
                 extra_sections: str = "") -> str:
    lines = [
        "[station]",
        f'name = "{STATION["name"]}"', f'lat_deg = {STATION["lat_deg"]}', f'lon_deg = {STATION["lon_deg"]}',
        f'alt_m = {STATION["alt_m"]}',
        "", "[storage]", 'state_dir = "state"', 'artifacts_dir = "passes"',
        "", "[orbit]", f'tle_files = ["{SEED_TLE}"]',
        "", "[[rotators]]", 'name = "rot1"', 'protocol = "gs232b"', 'device = "/dev/null"  # the emulator\'s pty',
        "max_az_deg = 450.0", "park_az_deg = 0.0", "park_el_deg = 90.0",
        "", "[[chains]]", 'name = "uhf0"', 'sdr_args = "driver=rtlsdr"', "freq_min_hz = 430e6",
        "freq_max_hz = 440e6", 'rotator = "rot1"', "samp_rate_sps = 1.024e6",
        "", "[control]", f'endpoint = "{endpoint}"', f'pub_endpoint = "{pub_endpoint}"', f'security = "{security}"',
        f"heartbeat_s = {heartbeat_s}",
    ]
    if keys_dir:
        lines.append(f'keys_dir = "{keys_dir}"')
    if security == "plain":
        lines.append('plain_role = "operator"')
    if extra_control:
        lines.append(extra_control)
    if extra_sections:
        lines += ["", extra_sections.strip()]
    if task:
        lines += ["", "[[tasks]]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in task.items()]
    return "\n".join(lines) + "\n"


class DaemonProcess:
    """The station daemon as a child process (stdout and stderr to ``log_path``)."""

    def __init__(self, config: pathlib.Path, workdir: pathlib.Path, log_path: pathlib.Path, *,
                 start_unix_s: float, speed: float = 10.0, extra: tuple[str, ...] = ()):
        self.log_path = pathlib.Path(log_path)
        self.cmd = DAEMON_COMMAND + ["--config", str(config), "--simulate", "--passes", "0", "--speed",
                                     f"{speed:g}", "--start", f"{start_unix_s:.3f}", "--workdir", str(workdir),
                                     *extra]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, client, timeout_s: float = 180.0) -> dict:
        """Poll ``status`` until the daemon answers (its start-up plans the passes first)."""
        from .client import ControlUnavailable

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if not self.alive():
                raise RuntimeError(f"the daemon exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            try:
                return client.request("status", timeout_s=2.0, retries=0)
            except ControlUnavailable:
                continue
        raise RuntimeError(f"the daemon did not answer within {timeout_s:g} s:\n{self.log()[-3000:]}")

    def stop(self, timeout_s: float = 60.0) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


@dataclass
class SimStation:
    """A directory with keys and a configuration for a simulated daemon on loopback."""

    dir: pathlib.Path
    security: str = "curve"
    allowed: dict[str, str] = field(default_factory=lambda: {"op": "operator", "ro": "readonly"})
    strangers: tuple[str, ...] = ("stranger",)
    extra_control: str = ""
    extra_sections: str = ""   # more sections of the station file ([gateway], [uplink]...)

    def __post_init__(self):
        self.dir = pathlib.Path(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
        self.pub_endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
        self.keys = None
        if self.security == "curve":
            self.keys = make_keys(self.dir / "keys", self.dir / "clients", self.allowed, self.strangers)
        self.config = self.dir / "station.toml"
        self.daemon: DaemonProcess | None = None

    def write_config(self, task: dict | None = None, heartbeat_s: float = 1.0) -> pathlib.Path:
        self.config.write_text(station_toml(self.endpoint, self.pub_endpoint, security=self.security,
                                            keys_dir="keys" if self.keys else None, task=task,
                                            extra_control=self.extra_control, heartbeat_s=heartbeat_s,
                                            extra_sections=self.extra_sections))
        return self.config

    def pass_task(self, norad: int, transmitter: str, p, half_window_s: float) -> dict:
        """A standing task observing ``half_window_s`` either side of the culmination of pass ``p``."""
        return {"id": "replay", "norad": norad, "transmitter": transmitter, "priority": 90,
                "window_start": iso(p.tca_unix_s - half_window_s), "window_end": iso(p.tca_unix_s + half_window_s)}

    def credentials(self, name: str | None):
        if self.keys is None or name is None:
            return None
        return self.keys.credentials(name)

    def client(self, name: str | None = "op", timeout_s: float = 10.0, retries: int = 1):
        from .client import Client

        return Client(self.endpoint, self.credentials(name), timeout_s=timeout_s, retries=retries)

    def subscriber(self, topics=("",), name: str | None = "ro"):
        from .client import Subscriber

        return Subscriber(self.pub_endpoint, topics, self.credentials(name))

    def start(self, start_unix_s: float, speed: float = 10.0, ready_timeout_s: float = 180.0) -> dict:
        self.daemon = DaemonProcess(self.config, self.dir / "work", self.dir / "daemon.log",
                                    start_unix_s=start_unix_s, speed=speed)
        name = "op" if self.keys else None
        with self.client(name, timeout_s=2.0, retries=0) as c:
            return self.daemon.wait_ready(c, ready_timeout_s)

    def stop(self) -> int | None:
        return self.daemon.stop() if self.daemon is not None else None


# --- malformed requests --------------------------------------------------------------------------------

def _j(obj) -> bytes:
    import json

    return json.dumps(obj).encode()


def malformed_requests(max_bytes: int) -> list[tuple[str, object, tuple[str, str]]]:
    """(name, message, expected) for a server with ``max_request_bytes = max_bytes``.

    ``message`` is the list of frames after the empty delimiter, or ``("raw", frames)`` sent as they are;
    ``expected`` is ``("error", code)`` (an error reply) or ``("drop", counter)`` (nobody to answer).
    """
    env = {"v": 1, "id": "m", "cmd": "status", "args": {}}
    return [
        ("bad json", [b"{oops"], ("error", "bad_json")),
        ("binary garbage", [bytes(range(256)) * 4], ("error", "bad_json")),
        ("not utf-8", ['{"v": 1, "id": "\u00e9"}'.encode("latin-1")], ("error", "bad_json")),
        ("nan", [b'{"v": 1, "id": "m", "cmd": "status", "args": {"x": NaN}}'], ("error", "bad_json")),
        ("deep nesting", [b'{"v": 1, "id": "m", "cmd": "status", "args": {"a": ' + b"[" * 500 + b"]" * 500 + b"}}"],
         ("error", "bad_json")),
        ("json array", [b"[]"], ("error", "bad_envelope")),
        ("empty object", [b"{}"], ("error", "bad_envelope")),
        ("missing cmd", [_j({"v": 1, "id": "m"})], ("error", "bad_envelope")),
        ("missing id", [_j({"v": 1, "cmd": "status"})], ("error", "bad_envelope")),
        ("wrong type v", [_j({**env, "v": "1"})], ("error", "bad_envelope")),
        ("wrong type cmd", [_j({**env, "cmd": ["status"]})], ("error", "bad_envelope")),
        ("wrong type args", [_j({**env, "args": "all"})], ("error", "bad_envelope")),
        ("wrong protocol version", [_j({**env, "v": 99})], ("error", "unsupported_version")),
        ("unknown command", [_j({**env, "cmd": "launch.rocket"})], ("error", "unknown_command")),
        ("unknown argument", [_j({**env, "args": {"verbose": True}})], ("error", "bad_args")),
        ("wrong argument types", [_j({"v": 1, "id": "m", "cmd": "task.add",
                                      "args": {"id": 5, "norad": "x", "transmitter": "t", "priority": 500}})],
         ("error", "bad_args")),
        ("missing arguments", [_j({"v": 1, "id": "m", "cmd": "blackout.add", "args": {}})], ("error", "bad_args")),
        ("out of range", [_j({"v": 1, "id": "m", "cmd": "passes.predict", "args": {"hours": 1e9}})],
         ("error", "bad_args")),
        ("huge payload", [_j({**env, "args": {"pad": "x" * (max_bytes + 100)}})], ("error", "too_large")),
        ("huge tle text", [_j({"v": 1, "id": "m", "cmd": "tle.upload", "args": {"text": "1" * (max_bytes * 3 // 2)}})],
         ("error", "too_large")),
        ("missing delimiter", ("raw", [_j(env)]), ("drop", "dropped_no_delimiter")),
        ("extra frames", ("raw", [b"", _j(env), b"more"]), ("drop", "dropped_bad_frames")),
        ("empty message", ("raw", [b""]), ("drop", "dropped_no_delimiter")),
    ]


def send_malformed(client, message) -> None:
    if isinstance(message, tuple):
        client.send_frames(message[1])
    else:
        client.send_frames([b""] + list(message))
