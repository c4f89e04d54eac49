"""``python -m firmware_bridge.emulators KIND [--link PATH] [--options JSON]``: serve one emulator."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from groundseg.errors import GroundsegError


def _bytes_options(opts: dict) -> dict:
    # JSON has no bytes: end-of-line options are given as text ("\r\n").
    return {k: (v.encode("latin-1") if k == "eol" and isinstance(v, str) else v) for k, v in opts.items()}


def state(emu) -> dict:
    out = {"kind": emu.kind, "path": emu.path, "pty": emu.pty_path, "plugged": emu.plugged,
           "fault": emu.fault, "received": len(emu.received), "stats": emu.stats}
    model = getattr(emu, "model", None)
    if model is not None:
        az, el = model.position()
        taz, tel = model.target()
        out.update(az_deg=az, el_deg=el, target_az_deg=taz, target_el_deg=tel)
    return out


def main(argv: list[str] | None = None) -> int:
    from ..registry import emulators

    reg = emulators()
    ap = argparse.ArgumentParser(prog="python -m firmware_bridge.emulators")
    ap.add_argument("kind", choices=reg.names())
    ap.add_argument("--link", help="keep a symlink here to the current pty (a stable by-id-like path)")
    ap.add_argument("--options", default="{}", help="emulator options as a JSON object")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        opts = _bytes_options(json.loads(args.options))
        if args.link:
            opts["link"] = args.link
        if "limits" in opts:
            from ..limits import Limits
            opts["limits"] = Limits.from_dict(opts["limits"])
        emu = reg.get(args.kind).factory(**opts).start()
    except (GroundsegError, ValueError, TypeError) as e:
        print(f"emulator: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"kind": emu.kind, "path": emu.path, "pty": emu.pty_path}), flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            try:
                if words[0] == "fault":
                    kind = None if words[1:2] in (["none"], []) else words[1]
                    emu.set_fault(kind, int(words[2]) if len(words) > 2 else None)
                elif words[0] == "unplug":
                    emu.unplug()
                elif words[0] == "replug":
                    emu.replug()
                elif words[0] == "quit":
                    break
                elif words[0] != "state":
                    raise ValueError(f"unknown command {words[0]!r}")
                print(json.dumps(state(emu)), flush=True)
            except (ValueError, IndexError) as e:
                print(json.dumps({"error": str(e)}), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
