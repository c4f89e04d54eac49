"""Control-plane commands of the gateway and the uplink, for ``groundseg.control.commands.COMMANDS``.

``register_commands(registry=COMMANDS)`` adds them (idempotent);
``groundseg.control.commands`` calls it when it builds its registry, so
PROTOCOL.md and ``groundsegctl`` list them. Handlers find the services
with ``gateway.wiring.gateway_of(api.station)`` and
``uplink.wiring.uplink_of(api.station)``; a policy refusal becomes the
control error of the same code (forbidden, refused, not_found, invalid,
conflict) with the policy's one-line message.

==================  ========  ==============================================================
command             role      what
==================  ========  ==============================================================
gateway.status      readonly  outbox depth, oldest undelivered frame, per-sink state
uplink.queue        operator  queue a telecommand against a pass (policy checked at once)
uplink.cancel       operator  cancel a queued telecommand
uplink.list         readonly  telecommands and their states
uplink.log          readonly  the last entries of the transmission log
==================  ========  ==============================================================
"""
from __future__ import annotations

from ..dsp.modulation import MODULATIONS
from .framing import TC_FRAMINGS

HEX_PATTERN = r"(?:[0-9A-Fa-f]{2})+"


def _svc(api, which: str):
    from ..control.protocol import ControlError

    if which == "gateway":
        from ..gateway.wiring import gateway_of

        s = gateway_of(api.station)
    else:
        from .wiring import uplink_of

        s = uplink_of(api.station)
    if s is None:
        raise ControlError("refused", f"this station runs without the {which}")
    return s


def _call(fn, *a, **kw):
    from ..control.protocol import ControlError
    from .policy import UplinkRefused

    try:
        return fn(*a, **kw)
    except UplinkRefused as e:
        raise ControlError(e.code, e.message) from None


def _gateway_status(api, args, ctx):
    """The outbox (path, fsync policy, retention, depth, oldest undelivered frame) and every sink's
    queued / forwarded / failed / rejected counts and last error. No credentials."""
    return _svc(api, "gateway").status()


def _uplink_queue(api, args, ctx):
    """Refused (with nothing transmitted) for a read-only client (`forbidden`), with transmit disabled in the
    configuration, for a pass that is over or culminates below [uplink] min_el_deg (`refused`), for an unknown
    pass (`not_found`) and for a payload or parameters the framing or modulator cannot take (`invalid`). A
    queued telecommand is sent inside its pass once the satellite is above the elevation limit."""
    svc = _svc(api, "uplink")
    return _call(svc.queue_telecommand, args["pass_id"], bytes.fromhex(args["payload_hex"]), args["framing"],
                 ctx.identity.role, ctx.who, options=args.get("options"), modulation=args.get("modulation"),
                 baud=args.get("baud"), deviation_hz=args.get("deviation_hz"),
                 af_carrier_hz=args.get("af_carrier_hz"), freq_hz=args.get("freq_hz"))


def _uplink_cancel(api, args, ctx):
    return _call(_svc(api, "uplink").cancel, args["id"], ctx.identity.role, ctx.who)


def _uplink_list(api, args, ctx):
    return _svc(api, "uplink").list(args["state"], args["limit"])


def _uplink_log(api, args, ctx):
    return _svc(api, "uplink").transmissions(args["limit"])


def definitions():
    """(name, role, summary, args, handler, result, slow, timeout_s) of every command."""
    from ..control.commands import OPERATOR, READONLY
    from ..control.schema import Arg

    pass_id = Arg("pass_id", "string", "the pass to send in", required=True, max_len=128,
                  pattern=r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
    return [
        ("gateway.status", READONLY, "gateway outbox and sinks: depth, oldest undelivered, failures per sink", (),
         _gateway_status, "{outbox, fsync, retention_s, frames, depth, oldest_undelivered, counters, sinks}",
         True, 10.0),
        ("uplink.queue", OPERATOR, "queue a telecommand for a pass (sent inside it, above the elevation limit)",
         (pass_id,
          Arg("payload_hex", "string", "the command payload, hexadecimal", required=True, max_len=2048,
              pattern=HEX_PATTERN),
          Arg("framing", "string", "telecommand framing", required=True, choices=TC_FRAMINGS),
          Arg("options", "object", "framing options: AX.25 {dst, src, pid}; CCSDS TC {scid, vcid}"),
          Arg("modulation", "string", "modulation (default: catalog uplink, then [uplink])",
              choices=tuple(MODULATIONS.names())),
          Arg("baud", "number", "symbol rate", min=1.0, max=1e7),
          Arg("deviation_hz", "number", "FSK/AFSK deviation", min=-1e6, max=1e6),
          Arg("af_carrier_hz", "number", "AFSK audio carrier", min=1.0, max=1e6),
          Arg("freq_hz", "number", "uplink frequency (default: catalog uplink, then [uplink])", min=1e6,
              max=300e9)),
         _uplink_queue, "{id, pass_id, norad, payload_hex, framing, modulation, baud, freq_hz, state, queued}",
         True, 10.0),
        ("uplink.cancel", OPERATOR, "cancel a queued telecommand",
         (Arg("id", "string", "telecommand id", required=True, max_len=64, pattern=r"[0-9a-f]{1,64}"),),
         _uplink_cancel, "the telecommand, state cancelled; `conflict` when no longer queued", False, 5.0),
        ("uplink.list", READONLY, "telecommands and their states",
         (Arg("state", "string", "which", choices=("all", "queued", "sent", "failed", "expired", "cancelled",
                                                   "refused"), default="all"),
          Arg("limit", "integer", "at most this many (newest)", min=1, max=10000, default=100)),
         _uplink_list, "{telecommands: [...]}", False, 5.0),
        ("uplink.log", READONLY, "the last entries of the transmission log (transmissions and refusals)",
         (Arg("limit", "integer", "at most this many (newest)", min=1, max=10000, default=50),),
         _uplink_log, "{log, entries: [...]}", True, 10.0),
    ]


def register_commands(registry=None) -> list[str]:
    """Add the commands to ``registry`` (default the control plane's ``COMMANDS``); names added."""
    from ..control.commands import COMMANDS, Command

    registry = COMMANDS if registry is None else registry
    added = []
    for name, role, summary, args, fn, result, slow, timeout_s in definitions():
        if name in registry:
            continue
        registry.add(name, Command(name, role, summary, tuple(args), fn, result, slow, timeout_s,
                                   (fn.__doc__ or "").strip()))
        added.append(name)
    return added
