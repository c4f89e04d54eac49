"""Station configuration: ONE TOML file in, a validated ``StationConfig`` out.

Every problem in the file is reported at once, each on its own line with its
key path (``chains[1].freq_max_hz: ...``), in one ``InputError``. Unknown
sections and unknown keys are errors too (a typo must not silently fall back
to a default).

Sections are registered in ``SECTIONS`` (a ``Registry``, duplicates
rejected). A later feature adds its own section with::

    @register_section("foo", doc="what it configures")
    def _parse_foo(value, path: str, errs: list[str]) -> FooConfig: ...

and reads it back with ``config.section("foo")``. A parser gets the raw
TOML value (``None`` when the section is absent), appends one line per
problem to ``errs`` and returns its object (or ``None``).

This module parses the core sections (station, storage, orbit, planner,
chains, rotators, metrics, tasks). The others are registered by the module
that owns them, listed in ``SECTION_MODULES`` (``[logging]``: ``logs``;
``[control]``: ``control.settings``; ``[gateway]``: ``gateway.settings``;
``[uplink]``: ``uplink.settings``; ``[executor]``: ``schedule.executor``);
``parse_config`` and ``load_config`` import them first, so every caller
checks a file against every section the station reads.
``StationConfig.has(name)`` tells whether the file has a section (the
station daemon starts a component only when its section is there).

Relative paths are relative to the directory of the TOML file.
"""
from __future__ import annotations

import datetime as _dt
import math
import pathlib
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import InputError
from .registry import Registry

Parser = Callable[[Any, str, list], Any]


@dataclass(frozen=True)
class Section:
    name: str
    parse: Parser
    required: bool = False
    doc: str = ""


SECTIONS: Registry[Section] = Registry("config section")


def register_section(name: str, required: bool = False, doc: str = ""):
    def deco(fn: Parser) -> Parser:
        SECTIONS.add(name, Section(name, fn, required, doc))
        return fn
    return deco


# --- small typed readers (each appends one line per problem) --------------------

_MISSING = object()


class Table:
    """Read keys of one TOML table, recording problems with their key paths."""

    def __init__(self, value: Any, path: str, errs: list[str]):
        self.path, self.errs = path, errs
        self.ok = isinstance(value, dict)
        if value is not None and not self.ok:
            errs.append(f"{path}: expected a table, got {_tname(value)}")
        self.d: dict = value if self.ok else {}
        self.used: set[str] = set()

    def _p(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: str, default: Any = _MISSING, check: Callable[[Any], str | None] | None = None):
        self.used.add(key)
        if key not in self.d:
            if default is _MISSING:
                if self.ok:
                    self.errs.append(f"{self._p(key)}: missing (required)")
                return None
            return default
        v = self.d[key]
        v2 = _convert(v, kind)
        if v2 is _MISSING:
            art = "an" if kind[0] in "aeiou" else "a"
            self.errs.append(f"{self._p(key)}: expected {art} {kind}, got {_tname(v)} {_short(v)}")
            return None
        if check:
            why = check(v2)
            if why:
                self.errs.append(f"{self._p(key)}: {why}")
                return None
        return v2

    def done(self) -> None:
        """Every key not read is unknown."""
        for k in sorted(set(self.d) - self.used):
            self.errs.append(f"{self._p(k)}: unknown key")


def _tname(v: Any) -> str:
    if isinstance(v, _dt.datetime):
        return "an offset date-time" if v.tzinfo else "a local date-time (add Z for UTC)"
    if isinstance(v, (_dt.date, _dt.time)):
        return "a date or time without the other"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    s = v.isoformat() if isinstance(v, (_dt.date, _dt.time)) else repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _convert(v: Any, kind: str):
    if kind == "string":
        return v if isinstance(v, str) else _MISSING
    if kind == "boolean":
        return v if isinstance(v, bool) else _MISSING
    if kind == "integer":
        return v if isinstance(v, int) and not isinstance(v, bool) else _MISSING
    if kind == "number":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return _MISSING
        return float(v) if math.isfinite(v) else _MISSING
    if kind == "array":
        return v if isinstance(v, list) else _MISSING
    if kind == "table":
        return v if isinstance(v, dict) else _MISSING
    if kind == "UTC date-time":
        if isinstance(v, _dt.datetime):
            return v if v.tzinfo is not None else _MISSING
        if isinstance(v, str):
            try:
                t = _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                return _MISSING
            return t if t.tzinfo is not None else _MISSING
        return _MISSING
    raise AssertionError(kind)


def between(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    def check(v):
        bad = v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi)
        if bad:
            return f"{v:g} is outside {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        return None
    return check


def nonempty(v: str):
    return None if v.strip() else "must not be empty"


_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def identifier(v: str):
    return None if _NAME_RE.fullmatch(v) else f"{v!r} is not a name (letters, digits, _ . -; at most 64)"


def _array_of_tables(value: Any, path: str, errs: list[str]) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        errs.append(f"{path}: expected an array of tables ([[{path}]]), got {_tname(value)}")
        return []
    return [(f"{path}[{i}]", v) for i, v in enumerate(value)]


# --- the core sections ---------------------------------------------------------------

@dataclass(frozen=True)
class StationSection:
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    min_elevation_deg: float = 0.0
    horizon_mask: tuple[tuple[float, float], ...] = ()


@register_section("station", required=True, doc="name and WGS84 position, horizon mask")
def _parse_station(value, path, errs):
    t = Table(value, path, errs)
    name = t.get("name", "string", check=nonempty)
    lat = t.get("lat_deg", "number", check=between(-90, 90))
    lon = t.get("lon_deg", "number", check=between(-180, 180))
    alt = t.get("alt_m", "number", 0.0, check=between(-500, 10000))
    min_el = t.get("min_elevation_deg", "number", 0.0, check=between(-10, 90, hi_open=True))
    raw_mask = t.get("horizon_mask", "array", [])
    t.done()
    mask = []
    seen = set()
    for i, p in enumerate(raw_mask or []):
        pp = f"{path}.horizon_mask[{i}]"
        if (not isinstance(p, list) or len(p) != 2
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in p)):
            errs.append(f"{pp}: expected [az_deg, el_deg], got {_short(p)}")
            continue
        az, el = float(p[0]), float(p[1])
        if not 0 <= az < 360:
            errs.append(f"{pp}: azimuth {az:g} is outside [0, 360)")
        elif not -10 <= el < 90:
            errs.append(f"{pp}: elevation {el:g} is outside [-10, 90)")
        elif az in seen:
            errs.append(f"{pp}: azimuth {az:g} appears twice")
        else:
            seen.add(az)
            mask.append((az, el))
    if None in (name, lat, lon, alt, min_el):
        return None
    return StationSection(name, lat, lon, alt, min_el, tuple(sorted(mask)))


@dataclass(frozen=True)
class StorageSection:
    state_dir: pathlib.Path
    artifacts_dir: pathlib.Path
    retention_days: float = 0.0     # per-pass artifact directories older than this are deleted (0: kept)
    iq_retention_days: float = 0.0  # IQ recordings (the bulk) deleted sooner (0: with the pass directory)
    min_free_mb: float = 500.0      # below this much free space: no IQ recorded, old IQ dropped (0: no check)


@register_section("storage", doc="state directory (SQLite, element sets), per-pass artifacts, retention, "
                                 "free-space floor")
def _parse_storage(value, path, errs):
    t = Table(value, path, errs)
    state = t.get("state_dir", "string", "state", check=nonempty)
    arts = t.get("artifacts_dir", "string", "artifacts", check=nonempty)
    keep = t.get("retention_days", "number", 0.0, check=between(0, 36500))
    keep_iq = t.get("iq_retention_days", "number", 0.0, check=between(0, 36500))
    min_free = t.get("min_free_mb", "number", StorageSection.min_free_mb, check=between(0, 10_000_000))
    t.done()
    if keep and keep_iq and keep_iq > keep:
        errs.append(f"{path}.iq_retention_days: {keep_iq:g} is longer than retention_days {keep:g} "
                    f"(IQ goes with its pass directory)")
        return None
    state = _user_path(state, f"{path}.state_dir", errs)
    arts = _user_path(arts, f"{path}.artifacts_dir", errs)
    if None in (state, arts, keep, keep_iq, min_free):
        return None
    return StorageSection(state, arts, keep, keep_iq, min_free)


def _user_path(value: str | None, key: str, errs: list[str]) -> pathlib.Path | None:
    """``value`` with ``~`` / ``~user`` expanded; a user without a home is an error line, not a crash."""
    if value is None:
        return None
    try:
        return pathlib.Path(value).expanduser()
    except RuntimeError:
        errs.append(f"{key}: {value!r}: {value.split('/', 1)[0]} is not a user with a home directory")
        return None


@dataclass(frozen=True)
class OrbitSection:
    tle_files: tuple[str, ...] = ()
    stale_after_days: float = 7.0
    search_step_s: float = 120.0


@register_section("orbit", doc="element-set files, staleness, pass search step")
def _parse_orbit(value, path, errs):
    t = Table(value, path, errs)
    files = t.get("tle_files", "array", [])
    stale = t.get("stale_after_days", "number", 7.0, check=between(0, 365, lo_open=True))
    step = t.get("search_step_s", "number", 120.0, check=between(10, 300))
    t.done()
    out = []
    for i, f in enumerate(files or []):
        if not isinstance(f, str) or not f.strip():
            errs.append(f"{path}.tle_files[{i}]: expected a file name or glob pattern, got {_short(f)}")
        else:
            out.append(f)
    if None in (stale, step):
        return None
    return OrbitSection(tuple(out), stale, step)


@dataclass(frozen=True)
class PlannerSection:
    horizon_hours: float = 48.0
    setup_s: float = 60.0
    teardown_s: float = 30.0
    min_pass_duration_s: float = 60.0
    freeze_s: float = 300.0


@register_section("planner", doc="planning horizon, setup/teardown margins, freeze before AOS")
def _parse_planner(value, path, errs):
    t = Table(value, path, errs)
    vals = dict(
        horizon_hours=t.get("horizon_hours", "number", 48.0, check=between(0, 14 * 24, lo_open=True)),
        setup_s=t.get("setup_s", "number", 60.0, check=between(0, 3600)),
        teardown_s=t.get("teardown_s", "number", 30.0, check=between(0, 3600)),
        min_pass_duration_s=t.get("min_pass_duration_s", "number", 60.0, check=between(0, 3600)),
        freeze_s=t.get("freeze_s", "number", 300.0, check=between(0, 86400)),
    )
    t.done()
    return None if None in vals.values() else PlannerSection(**vals)


@dataclass(frozen=True)
class ChainConfig:
    """One receive chain: an SDR with its frequency range, on an antenna (rotator) or a fixed one."""

    name: str
    sdr_args: str
    freq_min_hz: float
    freq_max_hz: float
    rotator: str | None = None
    samp_rate_sps: float | None = None
    gain_db: float | None = None

    def covers(self, freq_hz: float) -> bool:
        return self.freq_min_hz <= freq_hz <= self.freq_max_hz


@register_section("chains", required=True, doc="[[chains]]: SDR receive chains and their frequency ranges")
def _parse_chains(value, path, errs):
    out = []
    items = _array_of_tables(value, path, errs)
    if value is not None and not items and isinstance(value, list):
        errs.append(f"{path}: at least one [[chains]] entry is needed")
    names = set()
    for p, v in items:
        t = Table(v, p, errs)
        name = t.get("name", "string", check=identifier)
        sdr = t.get("sdr_args", "string", check=nonempty)
        fmin = t.get("freq_min_hz", "number", check=between(1e6, 300e9))
        fmax = t.get("freq_max_hz", "number", check=between(1e6, 300e9))
        rot = t.get("rotator", "string", None, check=identifier)
        rate = t.get("samp_rate_sps", "number", None, check=between(1e3, 1e9))
        gain = t.get("gain_db", "number", None, check=between(-20, 100))
        t.done()
        if fmin is not None and fmax is not None and fmax <= fmin:
            errs.append(f"{p}.freq_max_hz: {fmax:g} is not above freq_min_hz {fmin:g}")
            continue
        if name is not None:
            if name in names:
                errs.append(f"{p}.name: chain {name!r} is defined twice")
                continue
            names.add(name)
        if None not in (name, sdr, fmin, fmax) and t.ok:
            out.append(ChainConfig(name, sdr, fmin, fmax, rot, rate, gain))
    return tuple(out)


@dataclass(frozen=True)
class RotatorConfig:
    """An antenna rotator: its name (chains refer to it) and the hardware bridge's settings.

    ``bridge_config()`` is the mapping ``firmware_bridge.factory.open_rotator``
    takes (protocol, device or host/tcp_port, baud, limits, park position,
    protocol options); the keys are checked by that factory when it is there.
    """

    name: str
    protocol: str
    options: dict = field(default_factory=dict, compare=False)

    def bridge_config(self) -> dict:
        return {"protocol": self.protocol, "name": self.name, **self.options}


def _check_with_bridge(cfg: dict, path: str, errs: list[str]) -> None:
    try:
        from firmware_bridge.factory import rotator_from_config
    except ImportError:
        return  # the hardware bridge is not installed: only the shape was checked
    try:
        rot = rotator_from_config(cfg)
    except InputError as e:
        errs.append(f"{path}: {e}")
        return
    close = getattr(rot, "close", None)
    if close:
        close()


@register_section("rotators", doc="[[rotators]]: antenna rotators, as the hardware bridge opens them")
def _parse_rotators(value, path, errs):
    out, names = [], set()
    for p, v in _array_of_tables(value, path, errs):
        if not isinstance(v, dict):
            errs.append(f"{p}: expected a table, got {_tname(v)}")
            continue
        t = Table(v, p, errs)
        name = t.get("name", "string", check=identifier)
        proto = t.get("protocol", "string", check=nonempty)
        opts = {k: val for k, val in v.items() if k not in ("name", "protocol")}
        if name is not None and name in names:
            errs.append(f"{p}.name: rotator {name!r} is defined twice")
            continue
        if name is None or proto is None:
            continue
        names.add(name)
        n0 = len(errs)
        _check_with_bridge({"protocol": proto, "name": name, **opts}, p, errs)
        if len(errs) == n0:
            out.append(RotatorConfig(name, proto, opts))
    return tuple(out)


@dataclass(frozen=True)
class MetricsSection:
    address: str = "127.0.0.1:9108"
    enabled: bool = True
    linger_s: float = 0.0  # after the station stops, keep serving the final values this long

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])


def host_port(v: str):
    m = re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(\d{1,5})", v)
    if not m or not 0 < int(m.group(2)) < 65536:
        return f"{v!r} is not host:port"
    return None


@register_section("metrics", doc="Prometheus exporter: address (host:port), enabled, linger_s")
def _parse_metrics(value, path, errs):
    t = Table(value, path, errs)
    addr = t.get("address", "string", MetricsSection.address, check=host_port)
    enabled = t.get("enabled", "boolean", True)
    linger = t.get("linger_s", "number", 0.0, check=between(0, 600))
    t.done()
    return None if None in (addr, enabled, linger) else MetricsSection(addr, enabled, linger)


@dataclass(frozen=True)
class TaskSpec:
    """A standing observation task as written in the config (checked against the catalog by the planner)."""

    task_id: str
    norad: int
    transmitter: str
    priority: int = 50
    min_el_deg: float = 0.0
    mode: str = "all"
    window_start: _dt.datetime | None = None
    window_end: _dt.datetime | None = None
    recording: dict = field(default_factory=dict, compare=False)


@register_section("tasks", doc="[[tasks]]: standing observation tasks")
def _parse_tasks(value, path, errs):
    out, ids = [], set()
    for p, v in _array_of_tables(value, path, errs):
        t = Table(v, p, errs)
        vals = dict(
            task_id=t.get("id", "string", check=identifier),
            norad=t.get("norad", "integer", check=between(1, 999999999)),
            transmitter=t.get("transmitter", "string", check=nonempty),
            priority=t.get("priority", "integer", 50, check=between(0, 100)),
            min_el_deg=t.get("min_el_deg", "number", 0.0, check=between(0, 90, hi_open=True)),
            mode=t.get("mode", "string", "all",
                       check=lambda m: None if m in ("all", "once") else f"{m!r} is not 'all' or 'once'"),
            window_start=t.get("window_start", "UTC date-time", None),
            window_end=t.get("window_end", "UTC date-time", None),
            recording=t.get("recording", "table", {}),
        )
        t.done()
        ws, we = vals["window_start"], vals["window_end"]
        if ws is not None and we is not None and we <= ws:
            errs.append(f"{p}.window_end: not after window_start")
            continue
        if vals["task_id"] in ids:
            errs.append(f"{p}.id: task {vals['task_id']!r} is defined twice")
            continue
        if not t.ok or None in (vals["task_id"], vals["norad"], vals["transmitter"], vals["priority"],
                                vals["min_el_deg"], vals["mode"], vals["recording"]):
            continue
        ids.add(vals["task_id"])
        out.append(TaskSpec(**vals))
    return tuple(out)


# --- the whole file ----------------------------------------------------------------

@dataclass(frozen=True)
class StationConfig:
    """Every section's parsed value (``sections``; a section the file leaves out has its parser's
    default) and which sections the file actually has (``given``: a component whose section is
    absent is not started, see ``has``)."""

    path: pathlib.Path
    sections: dict[str, Any]
    given: frozenset[str] = field(default=frozenset(), compare=False)

    def section(self, name: str) -> Any:
        SECTIONS.get(name)  # unknown name -> InputError listing the known ones
        return self.sections.get(name)

    def has(self, name: str) -> bool:
        """True when the file has a ``[name]`` section (a known one; an unknown name is an InputError)."""
        SECTIONS.get(name)
        return name in self.given

    station: StationSection = field(init=False)
    storage: StorageSection = field(init=False)
    orbit: OrbitSection = field(init=False)
    planner: PlannerSection = field(init=False)
    chains: tuple[ChainConfig, ...] = field(init=False)
    rotators: tuple[RotatorConfig, ...] = field(init=False)
    control: "ControlConfig" = field(init=False)    # groundseg.control.settings
    metrics: MetricsSection = field(init=False)
    gateway: "GatewaySettings" = field(init=False)  # groundseg.gateway.settings
    uplink: "UplinkSettings" = field(init=False)    # groundseg.uplink.settings
    tasks: tuple[TaskSpec, ...] = field(init=False)

    def __post_init__(self):
        for name in ("station", "storage", "orbit", "planner", "chains", "rotators", "control", "metrics",
                     "gateway", "uplink", "tasks"):
            object.__setattr__(self, name, self.sections.get(name))

    @property
    def base_dir(self) -> pathlib.Path:
        return self.path.parent

    def resolve(self, p: str | pathlib.Path) -> pathlib.Path:
        p = pathlib.Path(p).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def state_dir(self) -> pathlib.Path:
        return self.resolve(self.storage.state_dir)

    @property
    def artifacts_dir(self) -> pathlib.Path:
        return self.resolve(self.storage.artifacts_dir)

    def tle_paths(self) -> list[pathlib.Path]:
        """The element-set files named in [orbit] (globs expanded, sorted)."""
        out = []
        for pattern in self.orbit.tle_files:
            p = self.resolve(pattern)
            if any(c in pattern for c in "*?["):
                out += sorted(p.parent.glob(p.name))
            else:
                out.append(p)
        return out

    def ground_station(self):
        from .orbit.frames import GroundStation

        s = self.station
        return GroundStation(s.lat_deg, s.lon_deg, s.alt_m, s.name)

    def horizon_mask(self):
        from .orbit.passes import HorizonMask

        return HorizonMask(self.station.horizon_mask, self.station.min_elevation_deg)

    def chain(self, name: str) -> ChainConfig:
        for c in self.chains:
            if c.name == name:
                return c
        raise InputError(f"no chain named {name!r} (chains: {', '.join(c.name for c in self.chains)})")


def _cross_checks(sections: dict, errs: list[str], doc: dict | None = None) -> None:
    rotators = {r.name for r in sections.get("rotators") or ()}
    # a rotator that is declared but invalid has its own error line: no second one per chain using it
    raw = (doc or {}).get("rotators")
    declared = {r["name"] for r in raw if isinstance(r, dict) and isinstance(r.get("name"), str)} \
        if isinstance(raw, list) else set()
    for i, c in enumerate(sections.get("chains") or ()):
        if c.rotator is not None and c.rotator not in rotators and c.rotator not in declared:
            known = ", ".join(sorted(str(n) for n in rotators | declared if n)) or "none defined"
            errs.append(f"chains[{i}].rotator: {c.rotator!r} is not a [[rotators]] name ({known})")


def parse_config(doc: dict, path: str | pathlib.Path = "station.toml") -> StationConfig:
    """Validate a parsed TOML document against every section; ``InputError`` lists every problem."""
    load_section_modules()
    path = pathlib.Path(path)
    errs: list[str] = []
    for key in doc:
        if key not in SECTIONS:
            errs.append(f"{key}: unknown section (known: {', '.join(SECTIONS.names())})")
    sections: dict[str, Any] = {}
    for name, sec in SECTIONS.items():
        value = doc.get(name)
        if value is None and sec.required:
            errs.append(f"{name}: missing section (required)")
            continue
        sections[name] = sec.parse(value, name, errs)
    _cross_checks(sections, errs, doc)
    if errs:
        n = len(errs)
        raise InputError(f"{path}: {n} problem{'s' if n > 1 else ''}:\n  " + "\n  ".join(errs))
    return StationConfig(path.resolve() if path.exists() else path, sections,
                         frozenset(k for k in doc if k in SECTIONS))


def load_config(path: str | pathlib.Path) -> StationConfig:
    load_section_modules()  # every section the station reads, whichever command reads the file
    p = pathlib.Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror or e}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{p}: not valid TOML: {e}") from None
    return parse_config(doc, p)


# --- `groundseg config check FILE` --------------------------------------------------

def add_cli(sub) -> None:
    p = sub.add_parser("config", help="check a station configuration file")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    csub.required = True
    c = csub.add_parser("check", help="validate a station TOML file and report every problem")
    c.add_argument("file", help="station configuration (TOML)")
    c.add_argument("--catalog", metavar="DIR", help="seeds directory for checking [[tasks]] (default: the project's)")
    c.set_defaults(func=cmd_config_check)


# Modules that register sections of their own: ``parse_config``/``load_config`` import them
# first, so that `config check`, the station and every other command check a file against
# every section the station reads.
SECTION_MODULES = ("groundseg.logs", "groundseg.control.settings", "groundseg.gateway.settings",
                   "groundseg.uplink.settings", "groundseg.schedule.executor")


def load_section_modules() -> None:
    import importlib

    for name in SECTION_MODULES:
        importlib.import_module(name)


def cmd_config_check(args) -> int:
    cfg = load_config(args.file)
    # Tasks name satellites and transmitters: check them against the catalog and the chains.
    from .catalog import load_catalog
    from .schedule.tasks import tasks_from_config

    catalog = load_catalog(args.catalog) if args.catalog else load_catalog()
    tasks = tasks_from_config(cfg, catalog)
    missing = [str(p) for p in cfg.tle_paths() if not p.exists()]
    if missing:
        raise InputError(f"{cfg.path}: 1 problem:\n  orbit.tle_files: no such file: {', '.join(missing)}")
    s = cfg.station
    print(f"{cfg.path}: ok: station {s.name!r} at {s.lat_deg:.4f}, {s.lon_deg:.4f}, {s.alt_m:g} m; "
          f"{len(cfg.chains)} chain(s), {len(cfg.rotators)} rotator(s), {len(tasks)} task(s), "
          f"{len(cfg.tle_paths())} element-set file(s), {len(cfg.gateway.sinks)} gateway sink(s)")
    return 0
