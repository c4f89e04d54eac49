"""Telecommand framing: a command payload to the frame the satellite decodes and its channel bits.

* ``AX.25`` / ``AX.25 G3RUH``: an AX.25 UI frame (``framing.ax25.ui_frame``)
  from ``options.src`` (default ``[uplink] callsign``) to ``options.dst``
  (required: the satellite's callsign), PID ``options.pid`` (default F0),
  the payload as its information field; HDLC with NRZI (and the G3RUH
  scrambler) by our AX.25 framer.
* ``CCSDS TC``: a TC transfer frame (``tc.TcFrame``: ``options.scid``,
  ``vcid``, bypass flag set, FECF per ``[uplink.ccsds]``) whose data field is
  the payload, with the frame sequence number given, in a CLTU
  (``groundseg.framing.ccsds_tc``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..framing import get as get_framing
from ..framing import ax25
from . import tc
from .settings import UplinkSettings

TC_FRAMINGS = ("AX.25", "AX.25 G3RUH", "CCSDS TC")
_OPTIONS = {"AX.25": {"dst", "src", "pid", "preamble_flags"}, "AX.25 G3RUH": {"dst", "src", "pid", "preamble_flags"},
            "CCSDS TC": {"scid", "vcid", "control"}}


@dataclass
class TelecommandFrame:
    framing: str
    frame: bytes                 # what the satellite's deframer delivers (AX.25 without FCS, TC frame w/o FECF)
    bits: np.ndarray             # channel bits, all line coding applied
    meta: dict = field(default_factory=dict)


def canonical_framing(name: str) -> str:
    for f in TC_FRAMINGS:
        if f.lower() == " ".join(str(name).lower().split()):
            return f
    raise InputError(f"framing {name!r} cannot carry telecommands (one of {', '.join(TC_FRAMINGS)})")


def _int_option(options, key, default, lo, hi):
    v = options.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InputError(f"option {key} must be an integer in {lo}..{hi}, not {v!r}")
    return v


def frame_telecommand(payload: bytes, framing: str, settings: UplinkSettings, options: dict | None = None,
                      seq: int = 0) -> TelecommandFrame:
    framing = canonical_framing(framing)
    options = dict(options or {})
    unknown = set(options) - _OPTIONS[framing]
    if unknown:
        raise InputError(f"unknown {framing} telecommand option(s) {', '.join(sorted(unknown))} "
                         f"(options: {', '.join(sorted(_OPTIONS[framing]))})")
    payload = bytes(payload)
    if not payload:
        raise InputError("an empty telecommand")
    if len(payload) > settings.max_payload_bytes:
        raise InputError(f"telecommand of {len(payload)} bytes is longer than [uplink] max_payload_bytes "
                         f"({settings.max_payload_bytes})")
    if framing.startswith("AX.25"):
        dst = options.get("dst")
        if not isinstance(dst, str) or not dst:
            raise InputError("an AX.25 telecommand needs options.dst (the satellite's callsign)")
        src = options.get("src", settings.callsign)
        if not isinstance(src, str):
            raise InputError("options.src must be a callsign")
        pid = _int_option(options, "pid", ax25.PID_NO_LAYER3, 0, 255)
        frame = ax25.ui_frame(dst, src, payload, pid=pid)
        framer = get_framing(framing).make_framer(preamble_flags=_int_option(options, "preamble_flags", 32, 1, 1000))
        return TelecommandFrame(framing, frame, framer.frame(frame), {"dst": dst.upper(), "src": src.upper(),
                                                                      "pid": pid})
    cc = settings.ccsds
    scid = _int_option(options, "scid", cc.scid, 0, 1023)
    vcid = _int_option(options, "vcid", cc.vcid, 0, 63)
    control = bool(options.get("control", False))
    full = tc.TcFrame(scid, vcid, seq & 0xFF, payload, bypass=True, control=control, fecf=cc.fecf).encode()
    framer = get_framing("CCSDS TC").make_framer(randomize=int(cc.randomize), fecf=int(cc.fecf))
    frame = full[:-2] if cc.fecf else full
    return TelecommandFrame(framing, frame, framer.frame(full), {"scid": scid, "vcid": vcid, "seq": seq & 0xFF,
                                                                 "randomize": cc.randomize, "fecf": cc.fecf})
