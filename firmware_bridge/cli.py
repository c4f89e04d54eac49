"""``groundseg rotator ...``: read, move, park, serve rotctld, emulate.

    groundseg rotator protocols
    groundseg rotator position  --protocol gs232b --device /dev/serial/by-id/usb-...
    groundseg rotator point 180 45 --config station.yml [--wait]
    groundseg rotator park | stop  (same rotator options)
    groundseg rotator serve-rotctld --config station.yml [--listen 127.0.0.1] [--listen-port 4533]
    groundseg rotator emulate gs232b [--link /tmp/rotator] [--option az_rate_dps=30]

A rotator is given by ``--config FILE`` (the station config, TOML, with
``--rotator NAME`` when it has several ``[[rotators]]``; or a YAML/JSON file
holding the mapping :func:`firmware_bridge.open_rotator` takes) and/or options
(which win over the file).
"""
from __future__ import annotations

import json
import signal
import sys
import threading

from groundseg.errors import InputError


def _kv(text: str) -> tuple[str, object]:
    import argparse

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    k, v = text.split("=", 1)
    try:
        val: object = json.loads(v)
    except ValueError:
        val = v
    return k.strip(), val


def _rotator_options(p) -> None:
    g = p.add_argument_group("rotator")
    g.add_argument("--config", metavar="FILE",
                   help="station config (TOML, [[rotators]]) or a YAML/JSON rotator config mapping")
    g.add_argument("--rotator", metavar="NAME", help="which [[rotators]] entry of a station config")
    g.add_argument("--protocol", help="rotator protocol (see 'groundseg rotator protocols')")
    g.add_argument("--device", help="serial port, preferably /dev/serial/by-id/...")
    g.add_argument("--baud", type=int, help="serial speed")
    g.add_argument("--host", help="rotctld host (protocol rotctld)")
    g.add_argument("--tcp-port", type=int, help="rotctld port (protocol rotctld)")
    g.add_argument("--timeout-s", type=float, help="per attempt (default 1.0)")
    g.add_argument("--retries", type=int, help="extra attempts (default 2)")
    g.add_argument("--set", type=_kv, action="append", default=[], metavar="KEY=VALUE",
                   help="any other config key (max_az_deg=450, max_el_deg=180, query=split...), repeatable")


def add_rotator_command(sub) -> None:
    p = sub.add_parser("rotator", help="rotator control, rotctld server and hardware emulators",
                       description="Read and move the station rotator, serve it to Hamlib clients "
                                   "(rotctld protocol), or run a device emulator on a pseudo-terminal.")
    rs = p.add_subparsers(dest="rotator_command", metavar="ACTION")
    rs.required = True

    q = rs.add_parser("protocols", help="list rotator protocols and emulators")
    q.set_defaults(func=cmd_protocols)

    q = rs.add_parser("position", help="print the position as JSON")
    _rotator_options(q)
    q.set_defaults(func=cmd_position)

    q = rs.add_parser("point", help="move to AZ EL (rotator degrees)")
    q.add_argument("az_deg", type=float)
    q.add_argument("el_deg", type=float)
    q.add_argument("--wait", action="store_true", help="wait until the rotator gets there")
    q.add_argument("--wait-timeout-s", type=float, default=180.0)
    _rotator_options(q)
    q.set_defaults(func=cmd_point)

    for name, helptext in (("park", "move to the park position"), ("stop", "stop moving")):
        q = rs.add_parser(name, help=helptext)
        _rotator_options(q)
        q.set_defaults(func=cmd_park if name == "park" else cmd_stop)

    q = rs.add_parser("serve-rotctld", help="serve the rotator on the rotctld TCP protocol (Gpredict, Hamlib)")
    q.add_argument("--listen", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    q.add_argument("--listen-port", type=int, default=4533, help="TCP port (default 4533)")
    _rotator_options(q)
    q.set_defaults(func=cmd_serve)

    from .registry import emulators
    q = rs.add_parser("emulate", help="run a device emulator on a pty until interrupted")
    q.add_argument("kind", choices=emulators().names())
    q.add_argument("--link", help="keep a symlink to the pty here (a stable path)")
    q.add_argument("--option", type=_kv, action="append", default=[], metavar="KEY=VALUE",
                   help="emulator option (az_rate_dps=30, variant-specific: spaces=0, echo=true...)")
    q.set_defaults(func=cmd_emulate)


def _from_station(path: str, name: str | None) -> dict:
    from groundseg.config import load_config as load_station

    rotators = {r.name: r for r in load_station(path).rotators}
    if name is None:
        if len(rotators) != 1:
            raise InputError(f"{path}: {len(rotators)} rotators defined ({', '.join(sorted(rotators)) or 'none'}): "
                             "choose one with --rotator NAME")
        name = next(iter(rotators))
    if name not in rotators:
        raise InputError(f"{path}: no rotator {name!r} (defined: {', '.join(sorted(rotators)) or 'none'})")
    return dict(rotators[name].bridge_config())


def load_config(args) -> dict:
    cfg: dict = {}
    if args.config and args.config.endswith(".toml"):
        cfg.update(_from_station(args.config, args.rotator))
    elif args.config:
        import yaml

        try:
            with open(args.config, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except OSError as e:
            raise InputError(f"{args.config}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise InputError(f"{args.config}: not valid YAML/JSON: {str(e).splitlines()[0]}") from None
        if isinstance(data, dict) and isinstance(data.get("rotator"), dict):
            data = data["rotator"]
        if not isinstance(data, dict):
            raise InputError(f"{args.config}: expected a mapping (the rotator config)")
        cfg.update(data)
    for key in ("protocol", "device", "baud", "host", "tcp_port", "timeout_s", "retries"):
        v = getattr(args, key, None)
        if v is not None:
            cfg[key] = v
    cfg.update(dict(args.set))
    return cfg


def _open(args):
    from .factory import open_rotator

    return open_rotator(load_config(args))


def _print(obj) -> None:
    print(json.dumps(obj))


def cmd_protocols(args) -> int:
    from .registry import emulators, rotator_protocols

    for name, spec in rotator_protocols().items():
        print(f"{name:12} {spec.transport:6} {spec.description}")
    print("\nemulators:")
    for name, kind in emulators().items():
        print(f"{name:20} {kind.description}")
    return 0


def cmd_position(args) -> int:
    with _open(args) as rot:
        pos = rot.position()
        _print({"az_deg": pos.az_deg, "el_deg": pos.el_deg, "counters": dict(rot.counters)})
    return 0


def cmd_point(args) -> int:
    with _open(args) as rot:
        pos = rot.point(args.az_deg, args.el_deg)
        if args.wait:
            pos = rot.wait_for(args.az_deg, args.el_deg, timeout_s=args.wait_timeout_s)
        _print({"az_deg": pos.az_deg, "el_deg": pos.el_deg})
    return 0


def cmd_park(args) -> int:
    with _open(args) as rot:
        pos = rot.park()
        _print({"az_deg": pos.az_deg, "el_deg": pos.el_deg})
    return 0


def cmd_stop(args) -> int:
    with _open(args) as rot:
        rot.stop()
    return 0


def _signal_event() -> threading.Event:
    """An event set by SIGINT/SIGTERM (installed before anything is announced)."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    return done


def _wait(done: threading.Event) -> None:
    while not done.wait(0.5):
        pass


def cmd_serve(args) -> int:
    from .rotctld_server import RotctldServer

    done = _signal_event()
    with _open(args) as rot:
        server = RotctldServer(rot, host=args.listen, port=args.listen_port).start()
        host, port = server.address
        print(f"groundseg: rotctld protocol for {rot.describe()} on {host}:{port}", file=sys.stderr, flush=True)
        try:
            _wait(done)
        finally:
            server.stop()
    return 0


def cmd_emulate(args) -> int:
    from .emulators import start_emulator
    from .emulators.__main__ import _bytes_options

    opts = _bytes_options(dict(args.option))
    if args.link:
        opts["link"] = args.link
    done = _signal_event()
    try:
        emu = start_emulator(args.kind, **opts)
    except (TypeError, ValueError) as e:
        raise InputError(f"emulator {args.kind}: {e}") from None
    _print({"kind": emu.kind, "path": emu.path, "pty": emu.pty_path})
    sys.stdout.flush()
    try:
        _wait(done)
    finally:
        emu.stop()
    return 0
