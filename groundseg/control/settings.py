"""The ``[control]`` section of the station configuration.

::

    [control]
    enabled = true                          # false: the station runs without a control plane
    endpoint = "tcp://127.0.0.1:5555"       # requests and replies (ROUTER)
    pub_endpoint = "tcp://127.0.0.1:5556"   # events and frames (PUB)
    security = "curve"                      # "curve" (default) or "plain"
    keys_dir = "keys"                       # default: <state_dir>/keys (see groundseg.control.keys)
    plain_role = "readonly"                 # role of every client in plain mode
    max_request_bytes = 1048576             # larger requests get a too_large error reply
    max_pending = 16                        # slow requests in flight before "busy"
    workers = 2                             # threads running slow requests
    heartbeat_s = 5.0                       # period of the heartbeat event
    event_queue = 10000                     # events waiting for the PUB socket before they are dropped
    peer_timeout_s = 30.0                   # a connection silent this long (no reply to ZMTP pings) is closed

Without a ``[control]`` section the station runs without a control plane;
with one, CURVE needs the station's keypair in the key directory
(``groundseg keys init``) or the station refuses to start.

``security = "plain"`` (no encryption, no authentication) is refused unless
both endpoints are ``ipc://``/``inproc://`` or loopback ``tcp://``
(127.0.0.0/8, ``[::1]``, ``localhost``), and it has to be written out: the
default is CURVE. Every problem is reported with its key path, like the rest
of the configuration.
"""
from __future__ import annotations

import ipaddress
import pathlib
import re
from dataclasses import dataclass

from ..config import Table, between, nonempty, register_section

ROLES = ("readonly", "operator")
SECURITY_MODES = ("curve", "plain")

_ENDPOINT_RE = re.compile(r"(tcp://(\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):(\d{1,5})|ipc://\S+|inproc://\S+)")


@dataclass(frozen=True)
class ControlConfig:
    enabled: bool = True
    endpoint: str = "tcp://127.0.0.1:5555"
    pub_endpoint: str = "tcp://127.0.0.1:5556"
    security: str = "curve"
    keys_dir: pathlib.Path | None = None
    plain_role: str = "readonly"
    max_request_bytes: int = 1 << 20
    max_pending: int = 16
    workers: int = 2
    heartbeat_s: float = 5.0
    event_queue: int = 10000
    peer_timeout_s: float = 30.0

    @property
    def plain(self) -> bool:
        return self.security == "plain"

    def keys_path(self, config) -> pathlib.Path:
        """The key directory: ``keys_dir`` (relative to the config file) or ``<state_dir>/keys``."""
        if self.keys_dir is None:
            return config.state_dir / "keys"
        return config.resolve(self.keys_dir)


def endpoint_problem(v: str) -> str | None:
    m = _ENDPOINT_RE.fullmatch(v)
    if not m:
        return f"{v!r} is not a ZeroMQ endpoint (tcp://host:port, ipc://path)"
    if m.group(3) is not None and not 0 <= int(m.group(3)) < 65536:
        return f"{v!r}: port {m.group(3)} is outside 0..65535"
    return None


def is_local_endpoint(v: str) -> bool:
    """ipc://, inproc:// or tcp:// on a loopback address: reachable from this machine only."""
    if v.startswith(("ipc://", "inproc://")):
        return True
    m = _ENDPOINT_RE.fullmatch(v)
    if not m or m.group(2) is None:
        return False
    host = m.group(2).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_control(value, path: str, errs: list[str]) -> ControlConfig | None:
    """The section's settings; without a [control] section the control plane is disabled."""
    if value is None:
        return ControlConfig(enabled=False)
    d = ControlConfig()
    t = Table(value, path, errs)
    vals = dict(
        enabled=t.get("enabled", "boolean", d.enabled),
        endpoint=t.get("endpoint", "string", d.endpoint, check=endpoint_problem),
        pub_endpoint=t.get("pub_endpoint", "string", d.pub_endpoint, check=endpoint_problem),
        security=t.get("security", "string", d.security,
                       check=lambda s: None if s in SECURITY_MODES else
                       f"{s!r} is not one of {', '.join(SECURITY_MODES)}"),
        keys_dir=t.get("keys_dir", "string", None, check=nonempty),
        plain_role=t.get("plain_role", "string", d.plain_role,
                         check=lambda s: None if s in ROLES else f"{s!r} is not one of {', '.join(ROLES)}"),
        max_request_bytes=t.get("max_request_bytes", "integer", d.max_request_bytes,
                                check=between(1024, 64 << 20)),
        max_pending=t.get("max_pending", "integer", d.max_pending, check=between(1, 1024)),
        workers=t.get("workers", "integer", d.workers, check=between(1, 16)),
        heartbeat_s=t.get("heartbeat_s", "number", d.heartbeat_s, check=between(0.1, 3600)),
        event_queue=t.get("event_queue", "integer", d.event_queue, check=between(10, 1_000_000)),
        peer_timeout_s=t.get("peer_timeout_s", "number", d.peer_timeout_s, check=between(0.3, 3600)),
    )
    t.done()
    ep, pub = vals["endpoint"], vals["pub_endpoint"]
    bad = False
    if ep is not None and ep == pub:
        errs.append(f"{path}.pub_endpoint: same as endpoint")
        bad = True
    if vals["security"] == "plain":
        for key in ("endpoint", "pub_endpoint"):
            v = vals[key]
            if v is not None and not is_local_endpoint(v):
                errs.append(f"{path}.{key}: plain (unauthenticated) mode is only allowed on ipc:// or loopback "
                            f"tcp:// endpoints, not {v!r}")
                bad = True
    elif isinstance(value, dict) and "plain_role" in value and vals["security"] is not None:
        errs.append(f"{path}.plain_role: only meaningful with security = \"plain\"")
        bad = True
    if bad or None in (v for k, v in vals.items() if k != "keys_dir"):
        return None
    keys = vals.pop("keys_dir")
    return ControlConfig(keys_dir=pathlib.Path(keys).expanduser() if keys else None, **vals)


register_section("control", doc="ZeroMQ control plane: endpoints, CURVE keys or explicit plain mode, limits"
                 )(parse_control)
