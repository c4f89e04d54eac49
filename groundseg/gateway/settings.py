"""The ``[gateway]`` section of the station configuration.

::

    [gateway]
    outbox = "gateway/outbox.sqlite"   # default <state_dir>/gateway/outbox.sqlite
    fsync = "full"                     # full | normal | off (see groundseg.gateway)
    retention_s = 604800               # keep acknowledged frames this long (0: purge at once)
    retry_initial_s = 1.0              # first retry after a failed delivery
    retry_max_s = 300.0                # backoff doubles up to this
    batch = 50                         # frames handed to a sink at once
    station_id = "DL0ABC"              # default: [station] name (part of every frame id)

    [[gateway.sinks]]
    name = "fleet"                     # a name: letters, digits, _ . -
    kind = "mqtt"                      # one of groundseg.gateway.sinks.SINKS
    url = "mqtts://broker.example.org:8883"
    enabled = true
    options = { username = "gs1", password_file = "mqtt.pass", ca_file = "ca.pem" }

Every sink kind checks its own ``url`` and ``options`` here, so that a typo
is reported with its key path when the file is read, not when the first
frame is forwarded. Relative paths are relative to the configuration file.
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

from ..config import Table, _array_of_tables, between, identifier, nonempty, register_section

FSYNC_POLICIES = ("full", "normal", "off")


@dataclass(frozen=True)
class SinkSettings:
    name: str
    kind: str
    url: str = ""
    enabled: bool = True
    options: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class GatewaySettings:
    sinks: tuple[SinkSettings, ...] = ()
    outbox: pathlib.Path | None = None     # None: <state_dir>/gateway/outbox.sqlite
    fsync: str = "full"
    retention_s: float = 7 * 86400.0
    retry_initial_s: float = 1.0
    retry_max_s: float = 300.0
    batch: int = 50
    station_id: str | None = None

    def outbox_path(self, config) -> pathlib.Path:
        if self.outbox is None:
            return config.state_dir / "gateway" / "outbox.sqlite"
        return config.resolve(self.outbox)

    @property
    def enabled_sinks(self) -> tuple[SinkSettings, ...]:
        return tuple(s for s in self.sinks if s.enabled)


def parse_gateway(value, path: str, errs: list[str]) -> GatewaySettings | None:
    from .sinks import SINKS

    d = GatewaySettings()
    t = Table(value, path, errs)
    vals = dict(
        outbox=t.get("outbox", "string", None, check=nonempty),
        fsync=t.get("fsync", "string", d.fsync,
                    check=lambda s: None if s in FSYNC_POLICIES else
                    f"{s!r} is not one of {', '.join(FSYNC_POLICIES)}"),
        retention_s=t.get("retention_s", "number", d.retention_s, check=between(0, 10 * 365 * 86400.0)),
        retry_initial_s=t.get("retry_initial_s", "number", d.retry_initial_s, check=between(0.01, 3600)),
        retry_max_s=t.get("retry_max_s", "number", d.retry_max_s, check=between(0.01, 86400)),
        batch=t.get("batch", "integer", d.batch, check=between(1, 10000)),
        station_id=t.get("station_id", "string", None, check=identifier),
    )
    raw = t.get("sinks", "array", [])
    t.done()
    bad = False
    if vals["retry_initial_s"] is not None and vals["retry_max_s"] is not None \
            and vals["retry_max_s"] < vals["retry_initial_s"]:
        errs.append(f"{path}.retry_max_s: smaller than retry_initial_s")
        bad = True
    sinks, names = [], set()
    for p, v in _array_of_tables(raw, f"{path}.sinks", errs):
        st = Table(v, p, errs)
        name = st.get("name", "string", check=identifier)
        kind = st.get("kind", "string",
                      check=lambda k: None if k in SINKS else f"{k!r} is not a sink kind ({', '.join(SINKS.names())})")
        url = st.get("url", "string", "")
        enabled = st.get("enabled", "boolean", True)
        opts = st.get("options", "table", {})
        st.done()
        if not st.ok or None in (name, kind, url, enabled, opts):
            bad = True
            continue
        if name in names:
            errs.append(f"{p}.name: sink {name!r} is defined twice")
            bad = True
            continue
        problems = SINKS.get(kind).check(url, dict(opts))
        for pr in problems:
            errs.append(f"{p}.{pr}")
        if problems:
            bad = True
            continue
        names.add(name)
        sinks.append(SinkSettings(name, SINKS.canonical(kind), url, enabled, dict(opts)))
    if bad or None in (v for k, v in vals.items() if k not in ("outbox", "station_id")):
        return None
    outbox = vals.pop("outbox")
    return GatewaySettings(sinks=tuple(sinks), outbox=pathlib.Path(outbox).expanduser() if outbox else None, **vals)


register_section("gateway", doc="store-and-forward of frames: outbox, fsync policy, retention, retries, "
                            "[[gateway.sinks]]")(parse_gateway)


def gateway_settings(config) -> GatewaySettings:
    """The [gateway] settings of a ``StationConfig`` (the defaults, no sink, when it has none)."""
    sec = config.section("gateway") if config is not None else None
    return sec if isinstance(sec, GatewaySettings) else GatewaySettings()
