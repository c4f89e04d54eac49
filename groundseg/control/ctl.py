"""``groundsegctl`` (also ``groundseg ctl``): the control plane from a shell.

One subcommand per registered command (``task.add`` is ``groundsegctl task
add``), its options made from the command's argument schema; human tables
by default, ``--json`` for scripts (the result as one JSON document, or one
event per line for ``watch``). ``groundsegctl watch`` follows events and
frames live.

Where the station is: ``--config station.toml`` (endpoints, mode and the
station's public key from its [control] section), or ``--endpoint`` /
``--pub-endpoint`` / ``--server-key``; this client's secret key file with
``--key``; each also from the environment (``GROUNDSEG_CTL_CONFIG``,
``GROUNDSEG_CTL_ENDPOINT``, ``GROUNDSEG_CTL_PUB_ENDPOINT``,
``GROUNDSEG_CTL_SERVER_KEY``, ``GROUNDSEG_CTL_KEY``). ``--plain`` talks to a
plain-mode station.

Exit status: 0 done; 1 the station answered with an error; 2 bad usage or
input; 4 no reply (after the retries); 5 the station refused this key.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..errors import GroundsegError, InputError
from .commands import COMMANDS, Command
from .schema import Arg


# --- parser ------------------------------------------------------------------------------------

def _type(a: Arg):
    if a.type == "integer":
        return int
    if a.type == "number":
        return float
    if a.type == "time":
        def t(text: str):
            try:
                return float(text)
            except ValueError:
                return text
        return t
    if a.type == "object":
        def obj(text: str):
            try:
                v = json.loads(text)
            except ValueError as e:
                raise argparse.ArgumentTypeError(f"not JSON: {e}") from None
            if not isinstance(v, dict):
                raise argparse.ArgumentTypeError("expected a JSON object")
            return v
        return obj
    return str


def _add_arg(p: argparse.ArgumentParser, a: Arg) -> None:
    help_ = f"{a.doc} ({a.describe()})"
    if a.cli == "file":
        p.add_argument(a.name, metavar="FILE", help=f"file holding the {a.name} ('-': standard input): {a.doc}")
        return
    if a.cli == "positional":
        p.add_argument(a.name, type=_type(a), metavar=a.name.upper(), help=help_)
        return
    flag = "--" + a.name.replace("_", "-")
    if a.type == "boolean":
        p.add_argument(flag, dest=a.name, action=argparse.BooleanOptionalAction, default=None, help=help_)
        return
    p.add_argument(flag, dest=a.name, type=_type(a), required=a.required, default=None,
                   choices=list(a.choices) if a.choices else None, metavar=None if a.choices else "VALUE",
                   help=help_ + (f"; default {a.default}" if a.default not in (None, "") else ""))


def add_target_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("station")
    g.add_argument("--config", metavar="FILE", help="station configuration: endpoints and the station key from "
                                                      "[control]")
    g.add_argument("--endpoint", metavar="EP", help="request endpoint (tcp://host:port or ipc://path)")
    g.add_argument("--pub-endpoint", metavar="EP", help="event endpoint (for watch)")
    g.add_argument("--server-key", metavar="FILE", help="the station's public key file (server.key)")
    g.add_argument("--key", metavar="FILE", help="this client's secret key file (NAME.key_secret)")
    g.add_argument("--plain", action="store_true", help="the station runs in plain mode (no CURVE)")
    g.add_argument("--timeout", type=float, default=None, metavar="S", help="seconds to wait per attempt "
                                                                           "(default: the command's)")
    g.add_argument("--retries", type=int, default=2, metavar="N", help="attempts after the first (default 2)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def build(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_target_options(p)
    sub = p.add_subparsers(dest="ctl_command", metavar="COMMAND")
    sub.required = True
    groups: dict[str, Any] = {}
    for name, cmd in COMMANDS.items():
        if cmd.group:
            if cmd.group not in groups:
                gp = sub.add_parser(cmd.group, help=f"{cmd.group} commands")
                gs = gp.add_subparsers(dest=f"{cmd.group}_action", metavar="ACTION")
                gs.required = True
                groups[cmd.group] = gs
            q = groups[cmd.group].add_parser(cmd.action, help=cmd.summary, description=_description(cmd))
        else:
            q = sub.add_parser(name, help=cmd.summary, description=_description(cmd))
        for a in cmd.args:
            _add_arg(q, a)
        q.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the result as JSON")
        q.set_defaults(func=run_command, command=cmd)
    w = sub.add_parser("watch", help="follow events and frames live",
                       description="Subscribe to the station's events (topics are prefixes: frame, frame.43804, "
                                   "pass., plan, rotator, radio, warning, error, heartbeat, ...).")
    w.add_argument("--topic", action="append", metavar="PREFIX", help="only these topics (repeatable; default: "
                                                                     "all but heartbeat and doppler)")
    w.add_argument("--count", type=int, metavar="N", help="stop after N events")
    w.add_argument("--for", dest="for_s", type=float, metavar="S", help="stop after S seconds")
    w.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="one JSON event per line")
    w.set_defaults(func=run_watch)
    return p


def _description(cmd: Command) -> str:
    s = f"{cmd.summary}. Role: {cmd.role}."
    if cmd.doc:
        s += " " + " ".join(cmd.doc.split())
    return s


# --- running --------------------------------------------------------------------------------------

def _target(args):
    from .client import resolve_target

    return resolve_target(args.config, args.endpoint, args.pub_endpoint, args.server_key, args.key, args.plain)


def _collect(cmd: Command, args) -> dict:
    out = {}
    for a in cmd.args:
        v = getattr(args, a.name, None)
        if v is None:
            continue
        if a.cli == "file":
            try:
                v = sys.stdin.read() if v == "-" else open(v, encoding="utf-8").read()
            except (OSError, UnicodeDecodeError) as e:
                raise InputError(f"{v}: cannot read: {e}") from None
        out[a.name] = v
    return out


def run_command(args) -> int:
    from .client import Client

    cmd: Command = args.command
    target = _target(args)
    timeout = args.timeout if args.timeout is not None else cmd.timeout_s
    with Client(target.endpoint, target.credentials, timeout_s=timeout, retries=args.retries) as c:
        result = c.request(cmd.name, _collect(cmd, args))
    out = sys.stdout
    if args.json:
        json.dump(result, out, indent=1, sort_keys=False, default=str)
        out.write("\n")
    else:
        render(cmd.name, result, out)
    return 0


def run_watch(args) -> int:
    from .client import Subscriber

    target = _target(args)
    topics = args.topic or [""]
    hidden = () if args.topic else ("heartbeat", "doppler")
    n = 0
    end = time.monotonic() + args.for_s if args.for_s else None
    with Subscriber(target.pub_endpoint, topics, target.credentials) as sub:
        while args.count is None or n < args.count:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                break
            ev = sub.recv(timeout_s=min(left, 1.0) if left is not None else 1.0)
            if ev is None or (hidden and ev.get("topic", "").startswith(hidden)):
                continue
            n += 1
            if args.json:
                print(json.dumps(ev, default=str), flush=True)
            else:
                print(event_line(ev), flush=True)
    if sub.missed and not args.json:
        print(f"groundsegctl: {sub.missed} event(s) missed", file=sys.stderr)
    return 0


# --- human output ----------------------------------------------------------------------------------

def _hms(t: Any) -> str:
    if isinstance(t, str) and len(t) >= 19:
        return t[11:19]
    if isinstance(t, (int, float)):
        from ..orbit.elements import iso_utc

        return iso_utc(t)[11:19]
    return str(t or "")


def _table(out, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[("" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), file=out)
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip(), file=out)
    if not rows:
        print("(none)", file=out)


def _kv(out, d: Any, indent: int = 0) -> None:
    pad = "  " * indent
    if isinstance(d, dict):
        for k, v in d.items():
            if isinstance(v, (dict, list)) and v:
                print(f"{pad}{k}:", file=out)
                _kv(out, v, indent + 1)
            else:
                print(f"{pad}{k}: {'' if v is None else v}", file=out)
    elif isinstance(d, list):
        for v in d:
            if isinstance(v, (dict, list)):
                print(f"{pad}-", file=out)
                _kv(out, v, indent + 1)
            else:
                print(f"{pad}- {v}", file=out)
    else:
        print(f"{pad}{d}", file=out)


def _pass_rows(passes: list[dict]) -> list[list[Any]]:
    return [[p.get("start", "")[:19], _hms(p.get("end")), p.get("pass_id"), p.get("name", ""), p.get("chain"),
             f"{p.get('max_el_deg', 0):.0f}", p.get("priority"), p.get("state")] for p in passes]


def render(name: str, r: Any, out=sys.stdout) -> None:
    if name == "status":
        cur = r.get("current_pass")
        print(f"station {r.get('station')}: {r.get('state')} at {r.get('time')} UTC"
              + (" (simulated)" if r.get("simulated") else ""), file=out)
        if cur:
            print(f"current pass {cur.get('pass_id')}: {cur.get('state')}, {cur.get('frames', 0)} frame(s), "
                  f"Doppler {cur.get('doppler_hz') or 0:+.0f} Hz", file=out)
        else:
            print("no pass running", file=out)
        print("next passes:", file=out)
        _table(out, ["start (UTC)", "end", "pass", "sat", "chain", "el", "prio", "state"],
               _pass_rows(r.get("next_passes") or []))
        ctl = r.get("control") or {}
        c = ctl.get("counters") or {}
        if ctl:
            print(f"control: {ctl.get('security')}, {c.get('requests', 0)} requests, {c.get('replies_error', 0)} "
                  f"errors, {c.get('dropped', 0)} dropped, {c.get('auth_refused', 0)} refused keys, "
                  f"{c.get('events_published', 0)} events published", file=out)
        return
    if name == "passes.predict":
        _table(out, ["NORAD", "satellite", "AOS (UTC)", "TCA", "LOS", "max el"],
               [[p["norad"], p.get("name", ""), p["aos"][:19], _hms(p["tca"]), _hms(p["los"]),
                 f"{p['max_el_deg']:.1f}"] for p in r["passes"]])
        return
    if name in ("task.list",):
        _table(out, ["id", "NORAD", "transmitter", "prio", "min el", "mode", "state", "source"],
               [[t["id"], t["norad"], t["transmitter"], t["priority"], t["min_el_deg"], t["mode"], t["state"],
                 t.get("source", "")] for t in r["tasks"]])
        return
    if name in ("task.show", "task.add", "task.reprioritise"):
        t = r["task"]
        print(f"task {t['id']}: NORAD {t['norad']} {t['transmitter']}, priority {t['priority']}, {t['state']}"
              + (f" ({t['reason']})" if t.get("reason") else ""), file=out)
        _table(out, ["start (UTC)", "end", "pass", "sat", "chain", "el", "prio", "state"],
               _pass_rows(r.get("passes") or r.get("planned") or []))
        if r.get("dropped"):
            print("dropped:", file=out)
            for d in r["dropped"]:
                print(f"  {str(d.get('aos') or '-')[:19]}  {d['reason']}", file=out)
        return
    if name == "plan.show":
        print(f"plan {r['plan_rev']} at {r['now']} UTC", file=out)
        _table(out, ["start (UTC)", "end", "pass", "sat", "chain", "el", "prio", "state"], _pass_rows(r["planned"]))
        print("\ndropped:", file=out)
        _table(out, ["AOS (UTC)", "task", "NORAD", "max el", "reason"],
               [[str(d.get("aos") or "-")[:19], d["task_id"], d["norad"],
                 "" if d.get("max_el_deg") is None else f"{d['max_el_deg']:.1f}", d["reason"]]
                for d in r["dropped"]])
        return
    if name == "blackout.list":
        _table(out, ["id", "start (UTC)", "end (UTC)", "reason"],
               [[b["id"], b["start"][:19], b["end"][:19], b.get("reason", "")] for b in r["blackouts"]])
        return
    if name == "tle.show" and "elements" not in r:
        _table(out, ["NORAD", "name", "epoch", "age (d)", "stale", "source"],
               [[s["norad"], s["name"], s["epoch"][:19], s["age_days"], "STALE" if s["stale"] else "",
                 s["source"]] for s in r["sets"]])
        return
    if name == "recording.list":
        _table(out, ["pass", "state", "frames", "IQ MB", "files"],
               [[x["pass_id"], (x.get("report") or {}).get("state", ""),
                 ((x.get("report") or {}).get("counts") or {}).get("frames", ""),
                 f"{x['iq_bytes'] / 1e6:.1f}" if x["iq_bytes"] else "", len(x["files"])] for x in r["recordings"]])
        return
    if name == "artifact.list":
        _table(out, ["name", "bytes", "modified (UTC)"], [[f["name"], f["bytes"], f["modified"][:19]]
                                                          for f in r["files"]])
        return
    if name == "commands":
        _table(out, ["command", "role", "summary"], [[c["name"], c["role"], c["summary"]] for c in r["commands"]])
        return
    _kv(out, r)


def event_line(ev: dict) -> str:
    topic = ev.get("topic", "")
    d = ev.get("data") or {}
    t = _hms(ev.get("t_unix_s"))
    if topic.startswith("frame"):
        rec = d.get("record") or {}
        data = rec.get("hex", "")
        ok = {True: "ok", False: "BAD CRC", None: ""}.get(rec.get("crc_ok"), "")
        return (f"{t}  frame  {d.get('pass_id', '')} {rec.get('transmitter', '')}: {len(data) // 2} bytes "
                f"{data[:32]}{'...' if len(data) > 32 else ''} {ok}")
    if topic == "pass.state":
        return f"{t}  pass   {d.get('pass_id')}: {d.get('state')}" + (f" ({d['reason']})" if d.get("reason") else "")
    if topic == "pass.report":
        return f"{t}  pass   {d.get('pass_id')} ended {d.get('state')}: {d.get('counts')}"
    if topic == "plan":
        return f"{t}  plan   {d.get('plan_rev')}: {d.get('planned')} planned, {len(d.get('added') or [])} added, " \
               f"{len(d.get('cancelled') or [])} cancelled"
    if topic == "heartbeat":
        return f"{t}  beat   {d.get('state')} {d.get('pass_id') or ''}"
    if topic in ("warning", "error"):
        return f"{t}  {topic:6} {d.get('where', '')}: {d.get('message')}"
    if topic == "rotator":
        return f"{t}  rotator {d.get('rotator')} {d.get('kind')} {d.get('position') or ''}" + \
            (f" (manual, {d.get('by')})" if d.get("manual") else "")
    if topic == "radio":
        keys = ("state", "chain", "freq_hz", "gain_db", "pid", "lag_s")
        return f"{t}  radio  " + " ".join(f"{k}={d[k]}" for k in keys if d.get(k) is not None)
    rest = {k: v for k, v in d.items() if k != "event_seq"}
    return f"{t}  {topic}  {json.dumps(rest, default=str)[:160]}"


# --- entry points ------------------------------------------------------------------------------------

def parser(prog: str = "groundsegctl") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Control a groundseg station over its ZeroMQ control "
                                                         "plane (see groundseg/control/PROTOCOL.md).")
    return build(p)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    prog = "groundsegctl"
    try:
        return int(args.func(args) or 0)
    except GroundsegError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def add_cli(sub) -> None:
    """``groundseg ctl ...``: the same commands as groundsegctl."""
    p = sub.add_parser("ctl", help="control a running station (same as groundsegctl)",
                       description="Control a groundseg station over its ZeroMQ control plane.")
    build(p)


if __name__ == "__main__":
    sys.exit(main())
