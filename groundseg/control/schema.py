"""Argument schemas: what a command accepts, checked before anything acts.

An ``Arg`` names one argument with its type, bounds, whether it is required
and its documentation. ``validate(specs, args)`` returns the arguments with
defaults filled in, or raises ``ControlError("bad_args")`` listing every
problem at once (``details``: one line per problem, with the argument name).
The same specs drive the ``groundsegctl`` options and PROTOCOL.md.

Types: ``string``, ``integer``, ``number`` (finite; integers accepted),
``boolean``, ``time`` (ISO 8601 UTC text or Unix seconds), ``object`` (a
JSON object, checked further by the station, e.g. a task's recording
options). Nothing is clamped: a value out of bounds is an error. A JSON
``null`` is the same as leaving the argument out (its default, or missing).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .protocol import ControlError

_MAX_INT = 2 ** 53  # the largest integer a float (and every JSON peer) holds exactly

TYPES = ("string", "integer", "number", "boolean", "time", "object")
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
_NAME_RE = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Arg:
    name: str
    type: str
    doc: str
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    max_len: int | None = None
    pattern: str | None = None
    cli: str = "option"  # "option" (--name), "positional", or "file" (--name-file PATH, '-' for stdin)

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"argument {self.name}: unknown type {self.type!r}")
        if self.cli not in ("option", "positional", "file"):
            raise ValueError(f"argument {self.name}: unknown cli form {self.cli!r}")

    def describe(self) -> str:
        """The type and bounds in words (for the docs and --help)."""
        s = self.type
        if self.choices:
            s += " (one of " + ", ".join(str(c) for c in self.choices) + ")"
        if self.min is not None or self.max is not None:
            lo = "-inf" if self.min is None else f"{self.min:g}"
            hi = "inf" if self.max is None else f"{self.max:g}"
            s += f" in [{lo}, {hi}]"
        if self.max_len is not None:
            s += f", at most {self.max_len} characters"
        if self.pattern is not None:
            s += ", a name (letters, digits, _ . -)"
        return s

    def check(self, v: Any) -> str | None:
        """Why ``v`` is not acceptable, or None."""
        t = self.type
        if t == "string":
            if not isinstance(v, str):
                return f"expected a string, got {_tname(v)}"
            if self.max_len is not None and len(v) > self.max_len:
                return f"longer than {self.max_len} characters ({len(v)})"
            if self.pattern is not None and not re.fullmatch(self.pattern, v):
                return f"{_short(v)} is not a name (letters, digits, _ . -, starting with a letter or digit)"
        elif t == "integer":
            if isinstance(v, bool) or not isinstance(v, int):
                return f"expected an integer, got {_tname(v)}"
            if abs(v) > _MAX_INT:  # JSON allows 400-digit integers; no argument needs one
                return f"integer out of range (more than {len(str(_MAX_INT))} digits)"
        elif t == "number":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return f"expected a number, got {_tname(v)}"
            if isinstance(v, int) and abs(v) > _MAX_INT:
                return "number out of range"
            if not math.isfinite(v):
                return "expected a finite number"
        elif t == "boolean":
            if not isinstance(v, bool):
                return f"expected true or false, got {_tname(v)}"
        elif t == "time":
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                return f"expected an ISO 8601 UTC time or Unix seconds, got {_tname(v)}"
            if isinstance(v, int) and abs(v) > _MAX_INT:
                return "time out of range"
            if isinstance(v, str) and len(v) > 64:
                return "not a time (longer than 64 characters)"
            if isinstance(v, float) and not math.isfinite(v):
                return "expected a finite number"
        elif t == "object":
            if not isinstance(v, dict):
                return f"expected an object, got {_tname(v)}"
        if self.choices is not None and v not in self.choices:
            return f"{_short(v)} is not one of {', '.join(str(c) for c in self.choices)}"
        if t in ("integer", "number"):
            if self.min is not None and v < self.min:
                return f"{v:g} is below the minimum {self.min:g}"
            if self.max is not None and v > self.max:
                return f"{v:g} is above the maximum {self.max:g}"
        return None


def name_arg(name: str, doc: str, required: bool = True, cli: str = "positional") -> Arg:
    return Arg(name, "string", doc, required=required, pattern=NAME_PATTERN, max_len=64, cli=cli)


def validate(specs: tuple[Arg, ...], args: dict, command: str = "") -> dict:
    """``args`` checked against ``specs``: defaults filled in; ``ControlError(bad_args)`` with every problem."""
    problems: list[str] = []
    known = {a.name: a for a in specs}
    for k in args:
        if k not in known:
            names = ", ".join(known) or "none"
            shown = k if isinstance(k, str) and len(k) <= 40 and k.isprintable() else _short(k, 40)
            problems.append(f"{shown}: unknown argument (arguments: {names})")
    out: dict[str, Any] = {}
    for a in specs:
        if a.name not in args or args[a.name] is None:
            if a.required:
                problems.append(f"{a.name}: missing (required: {a.describe()})")
            elif a.default is not None:
                out[a.name] = a.default
            continue
        why = a.check(args[a.name])
        if why:
            problems.append(f"{a.name}: {why}")
        else:
            out[a.name] = args[a.name]
    if problems:
        what = f"{command}: " if command else ""
        raise ControlError("bad_args", f"{what}{len(problems)} problem(s): " + "; ".join(problems), details=problems)
    return out


def _tname(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(v), type(v).__name__)


def _short(v: Any, n: int = 40) -> str:
    s = repr(v)
    return s if len(s) <= n else s[:n - 3] + "..."
