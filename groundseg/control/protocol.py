"""The wire protocol: envelopes, versions, error codes, size limits.

Requests and replies are single JSON objects (UTF-8). On the request socket
a message is the frames ``[b"", json]`` as a DEALER (or REQ) client sends
them; the server's ROUTER sees ``[identity, b"", json]``. A request::

    {"v": 1, "id": "4f1c...", "cmd": "task.add", "args": {"id": "iss", ...}}

``v`` is the protocol version (an integer), ``id`` the client's request id
(a string of 1..128 printable characters, or an integer) echoed in the
reply, ``cmd`` a command name from the registry (``commands.py``) and
``args`` an object (may be omitted: ``{}``). A reply is either::

    {"v": 1, "id": "4f1c...", "ok": true, "result": ...}
    {"v": 1, "id": "4f1c...", "ok": false, "error": {"code": "bad_args", "message": "...", "details": [...]}}

``id`` is ``null`` in an error reply when the request had no readable id.
Events on the PUB socket are two frames, ``[topic, json]``, the JSON being
``{"v": 1, "topic", "seq", "t_unix_s", "data": {...}}``.

Everything here is pure (no sockets): the server, the client and the tests
share it.
"""
from __future__ import annotations

import dataclasses
import enum
import json
import math
import pathlib
import re
from typing import Any

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)

DEFAULT_MAX_REQUEST_BYTES = 1 << 20
MAX_ID_CHARS = 128
MAX_JSON_DEPTH = 32
ENVELOPE_KEYS = ("v", "id", "cmd", "args")
_ID_RE = re.compile(r"[\x21-\x7e]{1,%d}" % MAX_ID_CHARS)

# Stable error codes (clients branch on these; the message is for people).
ERROR_CODES: dict[str, str] = {
    "bad_json": "the request is not UTF-8 JSON",
    "bad_envelope": "the request is not an object with v, id, cmd and args of the right types",
    "too_large": "the request is larger than the station's max_request_bytes",
    "unsupported_version": "the protocol version is not one the station speaks (see `supported`)",
    "unknown_command": "no command of that name",
    "bad_args": "the arguments do not match the command's schema (every problem in `details`)",
    "forbidden": "the client's role may not run this command (read-only keys cannot act)",
    "refused": "refused in the station's current state (manual control while a pass runs)",
    "not_found": "the task, blackout, pass, rotator, chain or artifact does not exist",
    "conflict": "the thing exists already, or the state does not allow the change",
    "invalid": "the station rejected the request's content (e.g. an element set or a task)",
    "hardware": "a device failed (rotator, radio)",
    "busy": "too many slow requests in flight: retry later",
    "internal": "a bug in the station (logged there); the station goes on",
}


class ControlError(Exception):
    """An error that goes back to the client as ``{"code", "message", "details"}``."""

    def __init__(self, code: str, message: str, details: list | None = None, **extra: Any):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown control error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details or [])
        self.extra = extra

    def to_dict(self) -> dict:
        d = {"code": self.code, "message": self.message}
        if self.details:
            d["details"] = self.details
        d.update(self.extra)
        return d

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Request:
    v: int
    id: str | int
    cmd: str
    args: dict


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _depth_ok(obj: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > limit:
            return False
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return True


def loads(raw: bytes) -> Any:
    """Strict JSON from bytes: UTF-8, no NaN/Infinity, bounded nesting. ``ControlError(bad_json)`` otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ControlError("bad_json", f"not UTF-8 text (byte {e.start})") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ControlError("bad_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as e:
        raise ControlError("bad_json", f"not valid JSON: {str(e)[:120]}") from None
    if not _depth_ok(obj):
        raise ControlError("bad_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return obj


def read_id(obj: Any) -> str | int | None:
    """The request id if the object has a valid one (for echoing it in an error reply)."""
    if not isinstance(obj, dict):
        return None
    rid = obj.get("id")
    if isinstance(rid, bool):
        return None
    if isinstance(rid, int) and abs(rid) < 2 ** 63:
        return rid
    if isinstance(rid, str) and _ID_RE.fullmatch(rid):
        return rid
    return None


def parse_request(raw: bytes, max_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> Request:
    """Bytes -> ``Request``; any problem is a ``ControlError`` whose ``extra["id"]`` is the readable id."""
    if len(raw) > max_bytes:
        raise ControlError("too_large", f"request of {len(raw)} bytes exceeds the limit of {max_bytes} bytes",
                           limit=max_bytes)
    obj = loads(raw)
    rid = read_id(obj)
    problems = []
    if not isinstance(obj, dict):
        msg = f"expected a JSON object, got {_tname(obj)}"
        raise ControlError("bad_envelope", msg, details=[msg])
    for k in obj:
        if k not in ENVELOPE_KEYS:
            problems.append(f"{k}: unknown envelope key (keys: {', '.join(ENVELOPE_KEYS)})")
    v = obj.get("v")
    if "v" not in obj:
        problems.append("v: missing (the protocol version)")
    elif isinstance(v, bool) or not isinstance(v, int):
        problems.append(f"v: expected an integer, got {_tname(v)}")
    if "id" not in obj:
        problems.append("id: missing (the request id)")
    elif rid is None:
        problems.append(f"id: expected a string of 1-{MAX_ID_CHARS} printable characters or an integer")
    cmd = obj.get("cmd")
    if "cmd" not in obj:
        problems.append("cmd: missing (the command name)")
    elif not isinstance(cmd, str) or not 0 < len(cmd) <= 64:
        problems.append(f"cmd: expected a command name, got {_tname(cmd)}")
    args = obj.get("args", {})
    if not isinstance(args, dict):
        problems.append(f"args: expected an object, got {_tname(args)}")
    if problems:
        raise ControlError("bad_envelope", "; ".join(problems), details=problems, id=rid)
    if v not in SUPPORTED_VERSIONS:
        raise ControlError("unsupported_version", f"protocol version {v} is not supported",
                           supported=list(SUPPORTED_VERSIONS), id=rid)
    return Request(v, rid, cmd, args)


def _tname(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(v), type(v).__name__)


# --- encoding ------------------------------------------------------------------------------

def json_default(o: Any) -> Any:
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, pathlib.PurePath):
        return str(o)
    if isinstance(o, (bytes, bytearray)):
        return o.hex()
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "tolist"):  # numpy arrays
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _finite(o: Any) -> Any:
    """Replace NaN/inf (not JSON) by null, recursively."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, default=json_default, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except ValueError:  # NaN or infinity somewhere in a result
        return json.dumps(_finite(json.loads(json.dumps(obj, default=json_default))),
                          separators=(",", ":")).encode("utf-8")


def request(cmd: str, args: dict | None = None, rid: str | int = 1, v: int = PROTOCOL_VERSION) -> bytes:
    return dumps({"v": v, "id": rid, "cmd": cmd, "args": args or {}})


def ok_reply(rid: str | int | None, result: Any) -> bytes:
    return dumps({"v": PROTOCOL_VERSION, "id": rid, "ok": True, "result": result})


def error_reply(rid: str | int | None, err: ControlError) -> bytes:
    e = err.to_dict()
    e.pop("id", None)
    return dumps({"v": PROTOCOL_VERSION, "id": rid, "ok": False, "error": e})


def parse_reply(raw: bytes) -> dict:
    """A reply as a dict with ``ok`` and ``result`` or ``error``; ``ValueError`` when it is not one."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("not a control-plane reply (JSON nested too deeply)") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("ok"), bool) or "id" not in obj:
        raise ValueError("not a control-plane reply")
    if obj["ok"] and "result" not in obj:
        raise ValueError("an ok reply without a result")
    if not obj["ok"] and not (isinstance(obj.get("error"), dict) and "code" in obj["error"]):
        raise ValueError("an error reply without an error code")
    return obj


# --- events ----------------------------------------------------------------------------------

def event_topic(topic: str, data: dict) -> str:
    """The PUB topic of a station event: frames are ``frame.<norad>`` so a subscriber can pick satellites."""
    if topic == "frame" and isinstance(data.get("norad"), int):
        return f"frame.{data['norad']}"
    return topic


def event_message(topic: str, seq: int, t_unix_s: float, data: dict) -> list[bytes]:
    body = dumps({"v": PROTOCOL_VERSION, "topic": topic, "seq": seq, "t_unix_s": t_unix_s, "data": data})
    return [topic.encode("utf-8"), body]
