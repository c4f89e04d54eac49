"""Load and look up the satellite catalog."""
from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import InputError
from .schema import validate


def default_seeds_dir() -> pathlib.Path:
    env = os.environ.get("GROUNDSEG_SEEDS")
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parents[2] / "seeds"


@dataclass(frozen=True)
class Transmitter:
    name: str
    frequency_hz: int
    modulation: str
    baud: float
    framing: str
    deviation_hz: float | None = None
    af_carrier_hz: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    uplink: bool = False


@dataclass(frozen=True)
class Satellite:
    name: str
    norad: int
    transmitters: tuple[Transmitter, ...]
    aliases: tuple[str, ...] = ()
    source: str = ""


class Catalog:
    def __init__(self, satellites: list[Satellite], warnings: list[str] | None = None):
        self.satellites = sorted(satellites, key=lambda s: s.norad)
        self.warnings = warnings or []
        self._by_norad = {s.norad: s for s in self.satellites}

    def by_norad(self, norad: int) -> Satellite:
        try:
            return self._by_norad[norad]
        except KeyError:
            raise InputError(f"NORAD id {norad} is not in the satellite catalog") from None

    def by_name(self, name: str) -> Satellite:
        key = name.strip().lower()
        for s in self.satellites:
            if s.name.lower() == key or key in (a.lower() for a in s.aliases):
                return s
        raise InputError(f"satellite {name!r} is not in the satellite catalog")

    def __iter__(self):
        return iter(self.satellites)

    def __len__(self) -> int:
        return len(self.satellites)


def load_file(path: pathlib.Path) -> tuple[Satellite | None, list[str], list[str]]:
    """Load one catalog file: (satellite or None, errors, warnings)."""
    where = path.name
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        return None, [f"{where}: cannot read: {str(e).splitlines()[0]}"], []
    errs, warns = validate(doc, where)
    if errs:
        return None, errs, warns
    txs = tuple(Transmitter(**{**tx, "options": dict(tx.get("options") or {})})
                for tx in doc["transmitters"])
    sat = Satellite(name=doc["name"], norad=doc["norad"], transmitters=txs,
                    aliases=tuple(doc.get("aliases", ())), source=str(path))
    return sat, [], warns


def load_catalog(seeds_dir: str | os.PathLike | None = None) -> Catalog:
    """Load every ``satellites/*.yaml`` under the seeds directory.

    Raises ``InputError`` listing every problem in every file.
    """
    base = pathlib.Path(seeds_dir) if seeds_dir else default_seeds_dir()
    d = base / "satellites" if (base / "satellites").is_dir() else base
    files = sorted(d.glob("*.yaml"))
    if not files:
        raise InputError(f"no satellite catalog files (*.yaml) in {d}")
    sats, errors, warnings = [], [], []
    seen: dict[int, str] = {}
    for f in files:
        sat, errs, warns = load_file(f)
        errors += errs
        warnings += warns
        if sat:
            if sat.norad in seen:
                errors.append(f"{f.name}: NORAD id {sat.norad} already defined in {seen[sat.norad]}")
            seen[sat.norad] = f.name
            sats.append(sat)
    if errors:
        raise InputError("invalid satellite catalog: " + "; ".join(errors))
    return Catalog(sats, warnings)
