"""Upstream sinks: one registry (``SINKS``), one module per kind; each registers itself.

A sink kind registers a ``SinkSpec``: its name, a description, the options
it accepts (checked when the configuration is read: ``check(url, options)``
returns one ``key: problem`` line per problem) and a factory
``make(settings, context) -> Sink`` (imported lazily: reading a
configuration does not import paho or open sockets).

A ``Sink`` is used by one forwarder thread:

* ``open()`` once (bind, connect in the background; must not block long),
* ``send(items) -> list[Outcome]``: one outcome per item, in order:
  ``DELIVERED`` (acknowledged: the frame may be forgotten for this sink),
  ``Outcome.retry(why)`` (try again later), ``Outcome.reject(why)`` (the
  far end refused this frame for good: never retried) or ``SKIPPED`` (the
  sink does not take this frame, e.g. a failed CRC to a public database).
  Raising ``SinkUnavailable`` (or any exception) means nothing was
  delivered: every item is retried later.
* ``close()``.

``Item`` is what the outbox hands out: ``frame_id``, ``seq``, ``t_unix_s``,
``norad``, ``pass_id``, ``data`` (frame bytes), ``record`` (the stored
record, a dict) and ``attempts`` so far. ``message(item, station)`` is the
JSON object every message-oriented sink sends (ZMQ, MQTT).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from ...errors import GroundsegError
from ...registry import Registry


class SinkUnavailable(GroundsegError):
    """The sink cannot take frames now (broker down, no client connected): retry later."""


@dataclass(frozen=True)
class Outcome:
    kind: str              # "delivered" | "retry" | "reject" | "skipped"
    reason: str = ""

    @staticmethod
    def retry(reason: str) -> "Outcome":
        return Outcome("retry", reason)

    @staticmethod
    def reject(reason: str) -> "Outcome":
        return Outcome("reject", reason)


DELIVERED = Outcome("delivered")
SKIPPED = Outcome("skipped")


@dataclass(frozen=True)
class Item:
    frame_id: str
    seq: int
    t_unix_s: float
    norad: int | None
    pass_id: str | None
    data: bytes
    record: dict
    attempts: int = 0


@dataclass(frozen=True)
class SinkContext:
    """What a sink may need to know about the station."""

    station_id: str
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    base_dir: Any = None       # directory of the configuration file (relative option paths)

    def resolve(self, p: str):
        import pathlib

        q = pathlib.Path(p).expanduser()
        if q.is_absolute() or self.base_dir is None:
            return q
        return pathlib.Path(self.base_dir) / q


class Sink:
    """Base class (see the module docstring)."""

    kind = ""

    def __init__(self, name: str, url: str, options: dict, context: SinkContext):
        self.name, self.url, self.options, self.context = name, url, dict(options), context

    def open(self) -> None:
        pass

    def send(self, items: list[Item]) -> list[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        """JSON-ready, without secrets."""
        return {"kind": self.kind, "url": self.url}


@dataclass(frozen=True)
class SinkSpec:
    name: str
    description: str
    factory: str                                   # "module:Class"
    check: Callable[[str, dict], list[str]]
    options: dict[str, str] = field(default_factory=dict)   # option -> doc

    def make(self, name: str, url: str, options: dict, context: SinkContext) -> Sink:
        mod, _, attr = self.factory.partition(":")
        cls = getattr(importlib.import_module(mod), attr)
        return cls(name, url, options, context)


SINKS: Registry[SinkSpec] = Registry("gateway sink kind")


def register(spec: SinkSpec) -> SinkSpec:
    return SINKS.add(spec.name, spec)


def iso8601_ms(t_unix_s: float) -> str:
    """UTC time as ISO 8601 with milliseconds and Z (2024-05-01T10:21:33.560Z)."""
    import datetime as _dt

    d = _dt.datetime.fromtimestamp(float(t_unix_s), _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def message(item: Item, station_id: str) -> dict:
    """The JSON message of a frame (ZeroMQ and MQTT sinks)."""
    return {"id": item.frame_id, "station": station_id, "t_unix_s": item.t_unix_s,
            "time": iso8601_ms(item.t_unix_s), "norad": item.norad, "pass_id": item.pass_id,
            "hex": item.data.hex(), "crc_ok": item.record.get("crc_ok"),
            "transmitter": item.record.get("transmitter"), "framing": item.record.get("framing"),
            "record": item.record}


# --- option checking helpers (pure) ------------------------------------------------------------

def check_options(options: dict, known: dict[str, tuple[type | tuple, Callable[[Any], str | None] | None]]
                  ) -> list[str]:
    """``options.<key>: problem`` lines for unknown keys, wrong types and failed checks."""
    out = []
    for k, v in options.items():
        if k not in known:
            out.append(f"options.{k}: unknown option (known: {', '.join(sorted(known))})")
            continue
        types, check = known[k]
        if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            out.append(f"options.{k}: wrong type (boolean)")
            continue
        if not isinstance(v, types):
            out.append(f"options.{k}: wrong type ({type(v).__name__})")
            continue
        if check is not None:
            why = check(v)
            if why:
                out.append(f"options.{k}: {why}")
    return out


def in_range(lo: float, hi: float):
    return lambda v: None if lo <= v <= hi else f"{v!r} is outside [{lo:g}, {hi:g}]"


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_all()
