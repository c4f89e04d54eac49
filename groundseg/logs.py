"""Structured logs: one line per event, ``key=value`` (or JSON) fields, journald-friendly.

``setup_logging(level, fmt)`` installs one handler on the root logger::

    ts=2026-03-01T10:22:03.512Z level=info logger=groundseg.events msg=pass.state pass_id=p-39444-0001 task_id=funcube-1 state=running
    level=error logger=groundseg.station msg="cannot open rotator" pass_id=p-1 exc="Traceback ...\\n..."

* One line per event, always: newlines in messages and tracebacks are
  escaped (journald would otherwise make one entry of each line).
* Under systemd (``$JOURNAL_STREAM`` names our stderr) there is no ``ts``
  field (the journal stamps every entry) and each line starts with the
  ``<N>`` syslog priority, so ``journalctl -p warning`` filters by level.
* ``pass_id`` and ``task_id`` are added when known: from
  ``log_context(pass_id=..., task_id=...)`` (a context variable: it does not
  follow into threads started inside), from ``bind(logger, pass_id=...)``, or
  from ``extra={"pass_id": ...}``.
* ``event_logger(...)`` turns station events (``groundseg.station.Event``)
  into log lines, one per event.

Level and format come from the ``[logging]`` section of the station file
(``level = "info"``, ``format = "kv" | "json"``), else from
``$GROUNDSEG_LOG_LEVEL`` / ``$GROUNDSEG_LOG_FORMAT``, else info and kv.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, TextIO

from .config import Table, register_section

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
FORMATS = ("kv", "json")
CONTEXT_KEYS = ("pass_id", "task_id")

# syslog priorities for the <N> prefix journald understands (sd-daemon(3))
_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))

# attributes every LogRecord has: anything else on a record came from extra=
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {"message", "asctime"}

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("groundseg_log_context", default={})


# --- configuration -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoggingSection:
    """``[logging]``; a key left out (None) falls back to the environment, then to info / kv."""

    level: str | None = None
    format: str | None = None


@register_section("logging", doc="log level (debug|info|warning|error) and line format (kv|json)")
def _parse_logging(value, path, errs):
    t = Table(value, path, errs)
    level = t.get("level", "string", "", check=lambda v: None if v in LEVELS else
                  f"{v!r} is not one of {', '.join(LEVELS)}")
    fmt = t.get("format", "string", "", check=lambda v: None if v in FORMATS else
                f"{v!r} is not one of {', '.join(FORMATS)}")
    t.done()
    if level is None or fmt is None:
        return None
    return LoggingSection(level or None, fmt or None)


# --- context -------------------------------------------------------------------------------------

@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (e.g. ``pass_id``, ``task_id``) to every line logged in this context."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class _Bound(logging.LoggerAdapter):
    def process(self, msg, kwargs):
        extra = dict(self.extra)
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs


def bind(logger: logging.Logger | str, **fields: Any) -> logging.LoggerAdapter:
    """A logger adding ``fields`` to each of its lines (works across threads, unlike ``log_context``)."""
    lg = logging.getLogger(logger) if isinstance(logger, str) else logger
    return _Bound(lg, {k: v for k, v in fields.items() if v is not None})


# --- formatting ----------------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_.,:/@+\-]+")


def _value(v: Any) -> str:
    """One ``key=value`` value: bare when safe, else a JSON string (quotes, escaped newlines)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if v == v else "nan"
    if isinstance(v, int):
        return str(v)
    if not isinstance(v, str):
        v = json.dumps(v, default=str, separators=(",", ":"))
    return v if _BARE.fullmatch(v) else json.dumps(v, ensure_ascii=False)


def _key(k: str) -> str:
    k = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(k))
    return k or "_"


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields of a record after level/logger/msg: context first (pass_id, task_id), then extras."""
    out: dict[str, Any] = {}
    ctx = _context.get()
    extras = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
    kv = extras.pop("kv", None)
    for k in CONTEXT_KEYS:
        v = extras.pop(k, None)
        if v is None and isinstance(kv, dict):
            v = kv.get(k)
        if v is None:
            v = ctx.get(k)
        if v is not None:
            out[k] = v
    for k, v in ctx.items():
        if k not in out and v is not None:
            out[k] = v
    for src in (extras, kv if isinstance(kv, dict) else {}):
        for k, v in src.items():
            if k not in CONTEXT_KEYS and v is not None:
                out[k] = v
    return out


class StructuredFormatter(logging.Formatter):
    """``key=value`` or JSON lines; ``timestamps`` False and ``priority_prefix`` True for journald."""

    def __init__(self, fmt: str = "kv", timestamps: bool = True, priority_prefix: bool = False):
        super().__init__()
        if fmt not in FORMATS:
            raise ValueError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
        self.fmt, self.timestamps, self.priority_prefix = fmt, timestamps, priority_prefix

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        head: dict[str, Any] = {}
        if self.timestamps:
            t = _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc)
            head["ts"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
        head["level"] = record.levelname.lower()
        head["logger"] = record.name
        head["msg"] = record.getMessage()
        out = {**head, **{k: v for k, v in record_fields(record).items() if k not in head}}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info).rstrip()
        elif record.exc_text:
            out["exc"] = record.exc_text.rstrip()
        if record.stack_info:
            out["stack"] = record.stack_info.rstrip()
        return out

    def format(self, record: logging.LogRecord) -> str:
        f = self.fields(record)
        if self.fmt == "json":
            line = json.dumps(f, default=str, ensure_ascii=False, separators=(",", ":"))
        else:
            line = " ".join(f"{_key(k)}={_value(v)}" for k, v in f.items())
        if self.priority_prefix:
            prio = next((p for lvl, p in _PRIORITY if record.levelno >= lvl), 7)
            line = f"<{prio}>{line}"
        return line


def under_journal(stream: TextIO | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` (default stderr) is the journal stream systemd named in ``$JOURNAL_STREAM``."""
    env = os.environ if environ is None else environ
    js = env.get("JOURNAL_STREAM", "")
    if not js:
        return False
    stream = stream if stream is not None else sys.stderr
    try:
        dev, ino = (int(x) for x in js.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError, TypeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def setup_logging(level: str | int | LoggingSection | None = None, fmt: str | None = None, *,
                  stream: TextIO | None = None, journal: bool | None = None) -> logging.Handler:
    """Send every log record (and ``warnings``) to ``stream`` (stderr), one structured line each.

    ``level``: a name (debug, info, warning, error), a number, or the ``[logging]``
    section; ``fmt``: kv or json; ``journal``: force or forbid journald mode
    (default: detected). Calling it again replaces the handler it installed.
    """
    if isinstance(level, LoggingSection):
        level, fmt = level.level, fmt or level.format
    if level is None:
        level = os.environ.get("GROUNDSEG_LOG_LEVEL") or "info"
    if fmt is None:
        fmt = os.environ.get("GROUNDSEG_LOG_FORMAT") or "kv"
    if isinstance(level, str):
        if level.lower() not in LEVELS:
            from .errors import InputError

            raise InputError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
        level = LEVELS[level.lower()]
    if fmt not in FORMATS:
        from .errors import InputError

        raise InputError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    stream = stream if stream is not None else sys.stderr
    if journal is None:
        journal = under_journal(stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter(fmt, timestamps=not journal, priority_prefix=journal))
    handler._groundseg = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_groundseg", False):
            root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler


# --- station events as log lines ------------------------------------------------------------------

def _event_level(topic: str, data: Mapping[str, Any]) -> int:
    if topic == "error":
        return logging.ERROR
    if topic == "warning":
        return logging.WARNING
    if topic == "doppler":
        return logging.DEBUG
    if topic == "rotator":
        return logging.WARNING if data.get("kind") == "failure" else (
            logging.DEBUG if data.get("kind") == "command" else logging.INFO)
    if topic == "radio" and data.get("state") == "restarting":
        return logging.WARNING
    if topic == "pass.state" and data.get("state") in ("failed", "interrupted"):
        return logging.WARNING
    return logging.INFO


def _flat(topic: str, data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if topic == "frame" and k == "record" and isinstance(v, Mapping):
            for rk, rv in v.items():
                if rk == "hex" and isinstance(rv, str):
                    out["bytes"] = len(rv) // 2
                elif rk not in ("info", "pass_id") and isinstance(rv, (str, int, float, bool)):
                    out[rk] = rv
        elif topic == "plan" and k == "next":
            continue
        else:
            out[k] = v
    return out


def event_logger(logger: str | logging.Logger = "groundseg.events",
                 task_of: Callable[[str], str | None] | None = None) -> Callable[[Any], None]:
    """A station event subscriber logging each event as one line (``msg`` = topic).

    ``task_of(pass_id)`` gives the task of a pass (e.g. ``lambda p:
    station.store.get_pass(p).task_id``); looked up once per pass, failures
    ignored.
    """
    lg = logging.getLogger(logger) if isinstance(logger, str) else logger
    tasks: dict[str, str | None] = {}

    def on_event(ev) -> None:
        data = dict(getattr(ev, "data", {}) or {})
        level = _event_level(ev.topic, data)
        if not lg.isEnabledFor(level):
            return
        kv = _flat(ev.topic, data)
        pid = kv.get("pass_id")
        if pid and task_of is not None and "task_id" not in kv:
            if pid not in tasks:
                try:
                    tasks[pid] = task_of(pid)
                except Exception:  # noqa: BLE001 - a lookup failure only loses the field
                    tasks[pid] = None
                if len(tasks) > 4096:
                    tasks.pop(next(iter(tasks)))
            kv["task_id"] = tasks.get(pid)
        kv["seq"] = getattr(ev, "seq", None)
        lg.log(level, ev.topic, extra={"kv": kv})

    return on_event
