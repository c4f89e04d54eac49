"""Hamlib's error codes (``enum rig_errcode_e``) as sent on the rotctld wire (``RPRT -n``)."""
from __future__ import annotations

RIG_OK = 0
RIG_EINVAL = 1      # invalid parameter
RIG_ECONF = 2       # invalid configuration
RIG_ENOMEM = 3      # memory shortage
RIG_ENIMPL = 4      # function not implemented
RIG_ETIMEOUT = 5    # communication timed out
RIG_EIO = 6         # I/O error, including open failed
RIG_EINTERNAL = 7   # internal error
RIG_EPROTO = 8      # protocol error
RIG_ERJCTED = 9     # command rejected by the rig
RIG_ETRUNC = 10     # command performed, but argument truncated
RIG_ENAVAIL = 11    # function not available
RIG_ENTARGET = 12   # VFO not targetable
RIG_BUSERROR = 13   # error talking on the bus
RIG_BUSBUSY = 14    # collision on the bus

NAMES = {
    RIG_OK: "ok", RIG_EINVAL: "invalid parameter", RIG_ECONF: "invalid configuration",
    RIG_ENOMEM: "memory shortage", RIG_ENIMPL: "function not implemented",
    RIG_ETIMEOUT: "communication timed out", RIG_EIO: "I/O error", RIG_EINTERNAL: "internal error",
    RIG_EPROTO: "protocol error", RIG_ERJCTED: "command rejected", RIG_ETRUNC: "argument truncated",
    RIG_ENAVAIL: "function not available", RIG_ENTARGET: "not targetable",
    RIG_BUSERROR: "bus error", RIG_BUSBUSY: "bus busy",
}


def describe(code: int) -> str:
    """'RPRT -9 (command rejected)' for a negative or positive code."""
    return f"RPRT {-abs(code)} ({NAMES.get(abs(code), 'unknown error')})"
