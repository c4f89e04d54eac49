"""``make demo``: the station's main job on its embedded default configuration.

The embedded default is ``seeds/station.toml`` (the demo station in Warsaw,
its tasks, the seed TLEs and catalog), with what must stay on this machine
overridden:

* state (SQLite schedule, element sets, gateway outbox) and pass artifacts in
  one local directory (``--workdir``, default ``./demo-station``), started
  afresh on every run (the CURVE keys in it are kept);
* the control plane on ``ipc://`` sockets in that directory, with CURVE keys
  made there on the first run and a client key for ``groundsegctl``;
* metrics on 127.0.0.1:9108 (or a free port when that one is taken);
* the file gateway sink writing into that directory.

Then it is ``groundseg station --simulate``: simulated time from the day
after the newest seed element set, a simulated SDR that plays a synthetic pass
(our modulators, Doppler from the seed TLE, path loss, noise) and an
emulated rotator. The station plans, flies the first pass, prints the frames
as they decode and ends with a summary: frames decoded against frames sent
while the satellite was in view, and the paths of the pass report and the
waterfall.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import errno
import pathlib
import shutil
import socket
import sys

from .errors import InputError

DEFAULT_WORKDIR = "demo-station"
DEFAULT_METRICS_PORT = 9108
DEMO_CLIENT = "demo-operator"


def seeds_dir() -> pathlib.Path:
    return pathlib.Path(__file__).resolve().parent.parent / "seeds"


def add_cli(sub) -> None:
    p = sub.add_parser("demo", help="fly one simulated pass on the embedded default station (see README)",
                       description="Run the station daemon on its embedded default configuration "
                                   "(seeds/station.toml) in simulated time: plan, fly the next pass against "
                                   "a synthetic signal and an emulated rotator, print the frames and a summary.")
    p.add_argument("--workdir", default=DEFAULT_WORKDIR, metavar="DIR",
                   help=f"state, keys and artifacts (default ./{DEFAULT_WORKDIR}; emptied on each run, keys kept)")
    p.add_argument("--speed", type=float, default=20.0, metavar="X", help="simulated seconds per wall second")
    p.add_argument("--start", metavar="TIME", help="simulated start (default: the day after the newest seed TLE)")
    p.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, metavar="PORT",
                   help=f"Prometheus exporter port on 127.0.0.1 (default {DEFAULT_METRICS_PORT}; "
                        "another free one if taken; 0: any free port)")
    p.add_argument("--json", action="store_true", help="print every event as one JSON line")
    p.set_defaults(func=main)


def default_start(config) -> str:
    """00:00 UTC of the day after the newest element set the configuration loads (deterministic)."""
    from .orbit.tle import parse_tle_text

    newest = None
    for f in config.tle_paths():
        sets, _ = parse_tle_text(f.read_text(errors="replace"), str(f))
        for es in sets:
            newest = es.epoch_unix_s if newest is None else max(newest, es.epoch_unix_s)
    if newest is None:
        raise InputError("the demo configuration loads no element sets")
    day = _dt.datetime.fromtimestamp(newest, _dt.timezone.utc).date() + _dt.timedelta(days=1)
    return f"{day.isoformat()}T00:00:00Z"


def free_port(preferred: int) -> int:
    """``preferred`` when it can be bound on 127.0.0.1, else a free port the kernel picks."""
    for port in ((preferred, 0) if preferred else (0,)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return s.getsockname()[1]
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
        finally:
            s.close()
    raise InputError("no free TCP port on 127.0.0.1 for the metrics exporter")


def fresh_workdir(workdir: pathlib.Path) -> pathlib.Path:
    """Empty ``workdir`` except its CURVE keys; return the key directory (made on the first run)."""
    from .control import keys as K

    workdir.mkdir(parents=True, exist_ok=True)
    keys_dir = workdir / "keys"
    for p in workdir.iterdir():
        if p == keys_dir:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    if not K.server_secret_path(keys_dir).exists():
        K.init_keys_dir(keys_dir)
    client_secret = keys_dir / f"{DEMO_CLIENT}{K.SECRET_SUFFIX}"
    if not client_secret.exists():
        public, _ = K.write_keypair(keys_dir, DEMO_CLIENT)
        K.allow_key(keys_dir, public, "operator", DEMO_CLIENT)
    return keys_dir


def demo_config(config, workdir: pathlib.Path, keys_dir: pathlib.Path, metrics_port: int):
    """The embedded default with everything local: state, sockets, metrics, gateway files."""
    from .station import with_workdir

    config = with_workdir(config, workdir)
    s = dict(config.sections)
    s["control"] = dataclasses.replace(s["control"], endpoint=f"ipc://{workdir}/control.sock",
                                       pub_endpoint=f"ipc://{workdir}/events.sock", keys_dir=keys_dir,
                                       security="curve")
    s["metrics"] = dataclasses.replace(s["metrics"], address=f"127.0.0.1:{metrics_port}", enabled=True)
    gw = s.get("gateway")
    if gw is not None:
        sinks = tuple(dataclasses.replace(k, url=f"file://{workdir}/frames") if k.kind == "file" else
                      dataclasses.replace(k, enabled=False) for k in gw.sinks)  # nothing leaves the machine
        s["gateway"] = dataclasses.replace(gw, sinks=sinks)
    return dataclasses.replace(config, sections=s)


def main(args) -> int:
    from .config import load_config
    from .control import keys as K
    from .station import run_station

    cfg_path = seeds_dir() / "station.toml"
    config = load_config(cfg_path)
    workdir = pathlib.Path(args.workdir).expanduser().resolve()
    start = args.start or default_start(config)
    port = free_port(args.metrics_port)
    keys_dir = fresh_workdir(workdir)
    config = demo_config(config, workdir, keys_dir, port)
    out = sys.stderr if args.json else sys.stdout
    print(f"demo: the station {config.station.name!r} from {cfg_path}, simulated from {start} at {args.speed:g}x\n"
          f"demo: state and artifacts in {workdir}\n"
          f"demo: metrics on http://127.0.0.1:{port}/metrics\n"
          f"demo: control plane (CURVE) meanwhile: groundsegctl --endpoint ipc://{workdir}/control.sock "
          f"--pub-endpoint ipc://{workdir}/events.sock --server-key {K.server_public_path(keys_dir)} "
          f"--key {keys_dir / (DEMO_CLIENT + K.SECRET_SUFFIX)} status", file=out, flush=True)
    station_args = argparse.Namespace(simulate=True, speed=args.speed, start=start, passes=1,
                                      workdir=str(workdir), recording=None, sim_samp_rate=48000.0,
                                      catalog=None, json=args.json, skip_idle=True)
    return run_station(station_args, config, demo=True)
