"""``groundseg gateway status|drain --config FILE``: the outbox without a running station."""
from __future__ import annotations

import json
import sys
import time


def add_cli(sub) -> None:
    p = sub.add_parser("gateway", help="the gateway's outbox: status, or forward what is pending")
    gsub = p.add_subparsers(dest="gateway_command", metavar="ACTION")
    gsub.required = True
    s = gsub.add_parser("status", help="outbox depth, oldest undelivered frame, per-sink state")
    s.add_argument("--config", required=True, metavar="FILE", help="station configuration (TOML)")
    s.set_defaults(func=cmd_status)
    d = gsub.add_parser("drain", help="forward every pending frame to the configured sinks, then exit")
    d.add_argument("--config", required=True, metavar="FILE", help="station configuration (TOML)")
    d.add_argument("--timeout", type=float, default=300.0, metavar="S", help="give up after S seconds (300)")
    d.set_defaults(func=cmd_drain)


def _gateway(path):
    from ..config import load_config
    from .settings import gateway_settings
    from .wiring import Gateway

    config = load_config(path)
    return Gateway.from_settings(gateway_settings(config), config)


def cmd_status(args) -> int:
    gw = _gateway(args.config)
    try:
        print(json.dumps(gw.status(), indent=2, default=str))
    finally:
        gw.close()
    return 0


def cmd_drain(args) -> int:
    gw = _gateway(args.config).start()
    t0 = time.monotonic()
    try:
        ok = gw.wait_idle(args.timeout)
        st = gw.status()
    finally:
        gw.close()
    print(f"{'drained' if ok else 'NOT drained'} in {time.monotonic() - t0:.1f} s: {st['depth']} frame(s) pending",
          file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
