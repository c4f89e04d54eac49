"""``open_rotator(config)``: a connected rotator from a config dict.

Keys (all but ``protocol`` optional; unknown keys are an error, to catch typos)::

    protocol      gs232a | gs232b | easycomm2 | easycomm3 | rotctld (the registry's names)
    name          device name for logs and counters (default "rotator")
    device        serial port, preferably /dev/serial/by-id/... (serial protocols)
    baud          serial speed (default: the protocol's usual)
    host, tcp_port  rotctld address (rotctld; default 127.0.0.1:4533)
    timeout_s     per attempt (default 1.0)
    retries       extra attempts after the first (default 2)
    min_az_deg, max_az_deg, min_el_deg, max_el_deg   limits (or a "limits" mapping);
                  default 0..360 / 0..90, rotctld: the daemon's own
    park_az_deg, park_el_deg   park position
    + protocol options: axes, confirm_point (GS-232); query, confirm_point (EasyComm)
"""
from __future__ import annotations

from typing import Any, Mapping

from groundseg.errors import InputError

from .limits import Limits
from .registry import rotator_protocols
from .rotator import Rotator

COMMON_KEYS = ("name", "timeout_s", "retries", "park_az_deg", "park_el_deg")
LIMIT_KEYS = ("min_az_deg", "max_az_deg", "min_el_deg", "max_el_deg")


def rotator_from_config(config: Mapping[str, Any]) -> Rotator:
    """The rotator described by ``config``, not yet connected."""
    if not isinstance(config, Mapping):
        raise InputError(f"rotator config must be a mapping, not {type(config).__name__}")
    cfg = dict(config)
    proto = cfg.pop("protocol", None)
    registry = rotator_protocols()
    if not proto:
        raise InputError(f"rotator config needs 'protocol' (one of: {', '.join(registry.names())})")
    spec = registry.get(str(proto))
    allowed = set(COMMON_KEYS) | set(LIMIT_KEYS) | {"limits"} | set(spec.options)
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise InputError(f"rotator config ({spec.name}): unknown key(s) {', '.join(unknown)} "
                         f"(allowed: {', '.join(sorted(allowed))})")
    lim = cfg.pop("limits", None) or {}
    if not isinstance(lim, Mapping):
        raise InputError(f"rotator config ({spec.name}): 'limits' must be a mapping of "
                         f"{', '.join(LIMIT_KEYS)}, not {type(lim).__name__}")
    lim = dict(lim)
    for k in LIMIT_KEYS:
        if k in cfg:
            lim[k] = cfg.pop(k)
    if lim:
        base = Limits() if spec.transport == "serial" else None
        merged = {**(base.as_dict() if base else {}), **lim}
        if base is None and set(merged) != set(LIMIT_KEYS):
            raise InputError(f"rotator config ({spec.name}): give all four limits or none "
                             "(none: the daemon's own)")
        cfg["limits"] = Limits.from_dict(merged)
    if spec.transport == "serial" and not cfg.get("device"):
        raise InputError(f"rotator config ({spec.name}): 'device' (the serial port path) is required")
    cfg.setdefault("name", "rotator")
    try:
        rot = spec.factory(**cfg)
    except TypeError as e:  # a value of the wrong kind reached a constructor
        raise InputError(f"rotator config ({spec.name}): {e}") from None
    rot.protocol = spec.name
    return rot


def open_rotator(config: Mapping[str, Any]) -> Rotator:
    """The rotator described by ``config``, connected (a missing device fails here, clearly)."""
    rot = rotator_from_config(config)
    try:
        rot.open()
    except BaseException:
        rot.close()
        raise
    return rot
