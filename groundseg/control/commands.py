"""The registry of control commands: name, role, argument schema, docs, handler.

Every command the station answers is registered here, once, with
``@command(...)`` (the gateway's and the uplink's with their services, in
``groundseg/uplink/commands.py``, added to this registry below). The server looks commands up here, validates their
arguments with their schema before the handler runs, and checks the
client's role; ``groundsegctl`` builds one subcommand per command from
here; PROTOCOL.md's command reference is generated from here
(``python -m groundseg.control.commands --write-docs``; a test checks it).

A handler is ``fn(api: StationAPI, args: dict, ctx: RequestContext)`` and
returns a JSON-ready result. ``slow`` commands (element-set parsing, pass
prediction, replanning, device I/O, file hashing) run on the server's worker
threads so that status requests stay fast; ``timeout_s`` is the time a
client should allow for a reply.
"""
from __future__ import annotations

import pathlib
import sys
from dataclasses import dataclass
from typing import Any, Callable

from ..registry import Registry
from .auth import Identity
from .schema import Arg, name_arg

READONLY, OPERATOR = "readonly", "operator"


@dataclass(frozen=True)
class RequestContext:
    identity: Identity
    request_id: Any
    server: Any = None  # the ControlServer (status adds its counters)

    @property
    def who(self) -> str:
        return self.identity.name


@dataclass(frozen=True)
class Command:
    name: str
    role: str
    summary: str
    args: tuple[Arg, ...]
    handler: Callable
    result: str = ""
    slow: bool = False
    timeout_s: float = 5.0
    doc: str = ""

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0] if "." in self.name else ""

    @property
    def action(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name else self.name


COMMANDS: Registry[Command] = Registry("control command")


def command(name: str, role: str, summary: str, args: tuple[Arg, ...] = (), result: str = "", slow: bool = False,
            timeout_s: float = 5.0):
    def deco(fn: Callable) -> Callable:
        COMMANDS.add(name, Command(name, role, summary, tuple(args), fn, result, slow, timeout_s,
                                   (fn.__doc__ or "").strip()))
        return fn
    return deco


# --- shared argument specs ----------------------------------------------------------------------

NORAD = Arg("norad", "integer", "NORAD catalog number", min=1, max=999_999_999)
REASON = Arg("reason", "string", "why (stored with the change)", max_len=500, default="")
ROTATOR = Arg("rotator", "string", "rotator name (optional when the station has one)", max_len=64)
CHAIN = Arg("chain", "string", "receive chain name (optional when the station has one)", max_len=64)


# --- station ------------------------------------------------------------------------------------

@command("status", READONLY, "station state, time, current and next passes, counters",
         result="station.status() plus `manual_radio` and `control` (protocol, security, counters)")
def _status(api, args, ctx):
    """The station's snapshot. Never contains key material."""
    st = api.status()
    if ctx.server is not None:
        st["control"] = ctx.server.describe()
    return st


@command("version", READONLY, "software and protocol versions",
         result="{groundseg, protocol, supported, python, pyzmq, libzmq, curve}")
def _version(api, args, ctx):
    return api.version()


@command("commands", READONLY, "the command registry: names, roles, arguments",
         result="{commands: [{name, role, summary, args: [{name, type, required, doc}]}]}")
def _commands(api, args, ctx):
    return {"commands": [{"name": c.name, "role": c.role, "summary": c.summary, "slow": c.slow,
                          "timeout_s": c.timeout_s,
                          "args": [{"name": a.name, "type": a.describe(), "required": a.required, "doc": a.doc}
                                   for a in c.args]} for _, c in COMMANDS.items()]}


# --- element sets ---------------------------------------------------------------------------------

@command("tle.upload", OPERATOR, "upload element sets (TLE/3LE or OMM text); replans",
         args=(Arg("text", "string", "the element sets: TLE/3LE, or OMM as XML, JSON, KVN or CSV", required=True,
                   max_len=8 << 20, cli="file"),),
         result="{source, added, updated, ignored, errors, changed} (NORAD ids)", slow=True, timeout_s=30.0)
def _tle_upload(api, args, ctx):
    """All or nothing: one bad set rejects the upload (`invalid`, every problem listed). A set replaces
    the stored one only when its epoch is newer."""
    return api.tle_upload(args["text"], ctx.who)


@command("tle.show", READONLY, "element sets held: all, or one satellite's with its lines",
         args=(NORAD,), result="{sets: [{norad, name, epoch, age_days, stale, source, received}], elements?}")
def _tle_show(api, args, ctx):
    return api.tle_list(args.get("norad"))


# --- passes ------------------------------------------------------------------------------------------

@command("passes.predict", READONLY, "predict passes of one satellite or of every one with an element set",
         args=(NORAD,
               Arg("hours", "number", "how far ahead", min=0.01, max=168.0, default=24.0),
               Arg("min_el_deg", "number", "only passes culminating at least this high", min=0.0, max=90.0,
                   default=0.0),
               Arg("limit", "integer", "at most this many passes", min=1, max=5000, default=500)),
         result="{from, hours, passes: [{norad, name, aos, tca, los, max_el_deg, ...}], truncated, problems}",
         slow=True, timeout_s=60.0)
def _passes_predict(api, args, ctx):
    return api.predict(args.get("norad"), args["hours"], args["min_el_deg"], args["limit"])


# --- tasks ---------------------------------------------------------------------------------------------

TASK_ID = name_arg("id", "task id")


@command("task.add", OPERATOR, "add an observation task; replans",
         args=(TASK_ID, Arg("norad", "integer", "NORAD id of the satellite", required=True, min=1, max=999_999_999),
               Arg("transmitter", "string", "transmitter name as in the catalog", required=True, max_len=128),
               Arg("priority", "integer", "0-100, higher wins conflicts", min=0, max=100),
               Arg("min_el_deg", "number", "lowest acceptable culmination", min=0.0, max=89.999),
               Arg("mode", "string", "every pass, or one", choices=("all", "once")),
               Arg("window_start", "time", "observe from (UTC)"),
               Arg("window_end", "time", "observe until (UTC)"),
               Arg("recording", "object", "recording options {frames, iq, waterfall, samp_rate_sps}")),
         result="{task, planned: [passes], dropped: [with reasons]}", slow=True, timeout_s=30.0)
def _task_add(api, args, ctx):
    """The satellite and transmitter are checked against the catalog, the frequency against the chains;
    every problem is reported at once (`invalid`)."""
    return api.task_add(dict(args), ctx.who)


@command("task.list", READONLY, "list tasks",
         args=(Arg("state", "string", "which tasks", choices=("active", "done", "cancelled", "all"),
                   default="active"),),
         result="{tasks: [{id, norad, transmitter, priority, ..., state, reason}]}")
def _task_list(api, args, ctx):
    return api.task_list(args["state"])


@command("task.show", READONLY, "one task with its passes and the reasons passes were dropped",
         args=(TASK_ID,), result="{task, passes, dropped}")
def _task_show(api, args, ctx):
    return api.task_show(args["id"])


@command("task.cancel", OPERATOR, "cancel a task and its passes that have not started; replans",
         args=(TASK_ID, Arg("reason", "string", "why", max_len=500, default="cancelled by the operator")),
         result="{task, cancelled_passes}", slow=True, timeout_s=30.0)
def _task_cancel(api, args, ctx):
    return api.task_cancel(args["id"], f"{args['reason']} ({ctx.who})")


@command("task.reprioritise", OPERATOR, "change a task's priority; replans",
         args=(TASK_ID, Arg("priority", "integer", "0-100, higher wins conflicts", required=True, min=0, max=100)),
         result="{task, priority_before, plan: {plan_rev, added, updated, cancelled}, planned, dropped}",
         slow=True, timeout_s=30.0)
def _task_reprioritise(api, args, ctx):
    return api.task_reprioritise(args["id"], args["priority"])


# --- blackouts -------------------------------------------------------------------------------------------

BLACKOUT_ID = name_arg("id", "blackout id")


@command("blackout.add", OPERATOR, "add a blackout window (no pass overlaps it); replans",
         args=(BLACKOUT_ID, Arg("start", "time", "start (UTC)", required=True),
               Arg("end", "time", "end (UTC)", required=True), REASON),
         result="{blackout, cancelled_passes}", slow=True, timeout_s=30.0)
def _blackout_add(api, args, ctx):
    return api.blackout_add(dict(args))


@command("blackout.list", READONLY, "list blackout windows", result="{blackouts: [{id, start, end, reason}]}")
def _blackout_list(api, args, ctx):
    return api.blackout_list()


@command("blackout.remove", OPERATOR, "remove a blackout window; replans", args=(BLACKOUT_ID,),
         result="{removed, added_passes}", slow=True, timeout_s=30.0)
def _blackout_remove(api, args, ctx):
    return api.blackout_remove(args["id"])


# --- plan and the current pass ------------------------------------------------------------------------------

@command("plan.show", READONLY, "the plan: planned and running passes, and every dropped pass with its reason",
         args=(Arg("hours", "number", "only passes starting within this many hours", min=0.01, max=336.0),),
         result="{now, plan_rev, planned: [passes], dropped: [{task_id, norad, aos, max_el_deg, reason}]}")
def _plan_show(api, args, ctx):
    return api.plan_show(args.get("hours"))


@command("pass.status", READONLY, "the running pass (flowgraph, Doppler, rotator, frames) and the next ones",
         result="{state, current: {pass_id, state, frames, flowgraph, rotator, ...} or null, next}")
def _pass_status(api, args, ctx):
    return api.pass_status()


@command("pass.abort", OPERATOR, "end the running pass now (interrupted, with the reason)",
         args=(Arg("reason", "string", "why", max_len=500, default="operator request"),),
         result="{aborted: pass_id, reason}; `conflict` when no pass runs")
def _pass_abort(api, args, ctx):
    """Only this pass ends: the flowgraph stops at once, the rotator parks, the artifacts are written, and the
    station flies on to its next pass. The rest of the aborted pass is not planned again."""
    return api.pass_abort(args["reason"], ctx.who)


# --- manual radio and rotator --------------------------------------------------------------------------------

@command("radio.tune", OPERATOR, "set a chain's manual frequency (refused while a pass runs)",
         args=(Arg("freq_hz", "number", "centre frequency", required=True, min=1e6, max=300e9), CHAIN),
         result="{chain, freq_hz, gain_db, applied, note}")
def _radio_tune(api, args, ctx):
    """Checked against the chain's frequency range. The station runs no receiver outside passes: the
    setting is recorded and published (`radio` event, state manual), not applied to an SDR."""
    return api.radio(args.get("chain"), ctx.who, freq_hz=args["freq_hz"])


@command("radio.gain", OPERATOR, "set a chain's manual gain (refused while a pass runs)",
         args=(Arg("gain_db", "number", "receiver gain", required=True, min=-20.0, max=100.0), CHAIN),
         result="{chain, freq_hz, gain_db, applied, note}")
def _radio_gain(api, args, ctx):
    """Recorded and published like radio.tune."""
    return api.radio(args.get("chain"), ctx.who, gain_db=args["gain_db"])


@command("rotator.point", OPERATOR, "point a rotator by hand (refused while a pass runs)",
         args=(Arg("az_deg", "number", "azimuth in the rotator's own range (e.g. 0-450)", required=True,
                   min=-360.0, max=450.0),
               Arg("el_deg", "number", "elevation (above 90 on a flipping rotator)", required=True, min=-90.0,
                   max=180.0), ROTATOR),
         result="{rotator, op, position: [az_deg, el_deg]}", slow=True, timeout_s=20.0)
def _rotator_point(api, args, ctx):
    """Angles outside the rotator's configured limits are refused (`invalid`), never clamped. The
    rotator's control gate is held while the command runs."""
    return api.rotator("point", args.get("rotator"), ctx.who, args["az_deg"], args["el_deg"])


@command("rotator.stop", OPERATOR, "stop a rotator (refused while a pass runs)", args=(ROTATOR,),
         result="{rotator, op, position}", slow=True, timeout_s=20.0)
def _rotator_stop(api, args, ctx):
    return api.rotator("stop", args.get("rotator"), ctx.who)


@command("rotator.park", OPERATOR, "park a rotator (refused while a pass runs)", args=(ROTATOR,),
         result="{rotator, op, position}", slow=True, timeout_s=20.0)
def _rotator_park(api, args, ctx):
    return api.rotator("park", args.get("rotator"), ctx.who)


@command("rotator.position", READONLY, "a rotator's position (during a pass: the last one tracking read)",
         args=(ROTATOR,), result="{rotator, source: device|last reported, held_by, position, t}", slow=True,
         timeout_s=20.0)
def _rotator_position(api, args, ctx):
    return api.rotator_position(args.get("rotator"))


# --- recordings and artifacts ----------------------------------------------------------------------------------

FILE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"  # one plain name: no path
PASS_ID = Arg("pass_id", "string", "pass id", required=True, max_len=128, pattern=FILE_PATTERN, cli="positional")


@command("recording.list", READONLY, "pass recordings, newest first, with their report summary",
         args=(Arg("limit", "integer", "at most this many", min=1, max=10000, default=50),
               Arg("with_iq", "boolean", "only passes with recorded IQ", default=False)),
         result="{root, recordings: [{pass_id, files, iq_bytes, modified, report}], truncated}", slow=True,
         timeout_s=20.0)
def _recording_list(api, args, ctx):
    return api.recordings(args["limit"], args["with_iq"])


@command("artifact.list", READONLY, "the artifact files of one pass", args=(PASS_ID,),
         result="{pass_id, dir, files: [{name, bytes, modified}], report}", slow=True, timeout_s=20.0)
def _artifact_list(api, args, ctx):
    return api.artifact_list(args["pass_id"])


@command("artifact.meta", READONLY, "one artifact's metadata: size, time, SHA-256, parsed JSON metadata",
         args=(PASS_ID, Arg("name", "string", "file name (e.g. report.json, iq.sigmf-meta)", required=True,
                            max_len=128, pattern=FILE_PATTERN, cli="positional")),
         result="{pass_id, name, path, bytes, modified, sha256?, content? (JSON files), records? (.jsonl)}",
         slow=True, timeout_s=60.0)
def _artifact_meta(api, args, ctx):
    """Metadata only: sample data is not sent over the control plane."""
    return api.artifact_meta(args["pass_id"], args["name"])


# --- configuration ---------------------------------------------------------------------------------------------

@command("config.show", READONLY, "the running configuration (credentials redacted)",
         result="{path, state_dir, artifacts_dir, sections}")
def _config_show(api, args, ctx):
    return api.config_show()


@command("config.reload", OPERATOR, "re-read the configuration file: standing tasks, element-set files, "
                                    "client keys; lists what needs a restart",
         result="{path, changed, applied, restart_required, tasks, tle, keys, plan_rev}", slow=True, timeout_s=60.0)
def _config_reload(api, args, ctx):
    """A file with problems changes nothing (`invalid`, every problem listed)."""
    return api.config_reload(ctx.who)


# --- gateway and uplink ------------------------------------------------------------------------------------------
# Defined with their services (groundseg/uplink/commands.py: gateway.status, uplink.queue, uplink.cancel,
# uplink.list, uplink.log); a station without [gateway] / [uplink] answers them with `refused`.

from ..uplink.commands import register_commands as _register_uplink_commands  # noqa: E402

_register_uplink_commands(COMMANDS)


# --- docs --------------------------------------------------------------------------------------------------------

DOCS_BEGIN = "<!-- BEGIN COMMANDS (generated from groundseg/control/commands.py) -->"
DOCS_END = "<!-- END COMMANDS -->"
PROTOCOL_MD = pathlib.Path(__file__).with_name("PROTOCOL.md")


def render_markdown() -> str:
    """The command reference of PROTOCOL.md, from the registry."""
    from .protocol import ERROR_CODES

    lines = ["| command | role | summary |", "|---|---|---|"]
    for name, c in COMMANDS.items():
        lines.append(f"| [`{name}`](#{name.replace('.', '')}) | {c.role} | {c.summary} |")
    lines.append("")
    for name, c in COMMANDS.items():
        lines.append(f"### {name}")
        lines.append("")
        lines.append(f"{c.summary[0].upper()}{c.summary[1:]}. Role: **{c.role}**"
                     + (f"; slow (worker thread), allow {c.timeout_s:g} s." if c.slow else "."))
        if c.doc:
            lines.append("")
            lines.append(" ".join(c.doc.split()))
        lines.append("")
        if c.args:
            lines.append("| argument | type | required | default | meaning |")
            lines.append("|---|---|---|---|---|")
            for a in c.args:
                default = "" if a.default is None else f"`{a.default!r}`".replace("'", '"')
                lines.append(f"| `{a.name}` | {a.describe()} | {'yes' if a.required else 'no'} | {default} "
                             f"| {a.doc} |")
        else:
            lines.append("No arguments.")
        lines.append("")
        lines.append(f"Result: {c.result or 'see above'}")
        lines.append("")
    lines.append("### Error codes")
    lines.append("")
    lines.append("| code | meaning |")
    lines.append("|---|---|")
    for code, meaning in ERROR_CODES.items():
        lines.append(f"| `{code}` | {meaning} |")
    return "\n".join(lines) + "\n"


def docs_in_file(path: pathlib.Path = PROTOCOL_MD) -> str:
    text = path.read_text(encoding="utf-8")
    a, b = text.index(DOCS_BEGIN) + len(DOCS_BEGIN), text.index(DOCS_END)
    return text[a:b].strip("\n") + "\n"


def write_docs(path: pathlib.Path = PROTOCOL_MD) -> bool:
    text = path.read_text(encoding="utf-8")
    a, b = text.index(DOCS_BEGIN) + len(DOCS_BEGIN), text.index(DOCS_END)
    new = text[:a] + "\n" + render_markdown() + text[b:]
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-docs"]:
        print("updated" if write_docs() else "up to date", PROTOCOL_MD)
    else:
        sys.stdout.write(render_markdown())
