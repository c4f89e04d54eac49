"""Registries of the bridge's plugins: rotator protocols and emulators.

Protocol modules register themselves on import; :func:`rotator_protocols` and
:func:`emulators` import them all first, so the CLI choices, the config
validation and the docs read one complete list.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from groundseg.registry import Registry

ROTATOR_PROTOCOLS: Registry["RotatorProtocol"] = Registry("rotator protocol")
EMULATORS: Registry["EmulatorKind"] = Registry("emulator")

_PROTOCOL_MODULES = ("gs232", "easycomm", "rotctld_client")
_EMULATOR_MODULES = ("emulators.gs232", "emulators.easycomm", "emulators.station_controller",
                     "emulators.kiss_tnc")


@dataclass(frozen=True)
class RotatorProtocol:
    name: str
    description: str
    factory: Callable[..., Any]          # factory(**options, name=, limits=, timeout_s=, ...) -> Rotator
    transport: str                        # "serial" or "tcp"
    options: tuple[str, ...] = field(default_factory=tuple)  # protocol-specific config keys


@dataclass(frozen=True)
class EmulatorKind:
    name: str
    description: str
    factory: Callable[..., Any]          # factory(**options) -> PtyEmulator (not started)


def _load(mods: tuple[str, ...]) -> None:
    for m in mods:
        importlib.import_module(f"{__package__}.{m}")


def rotator_protocols() -> Registry[RotatorProtocol]:
    _load(_PROTOCOL_MODULES)
    return ROTATOR_PROTOCOLS


def emulators() -> Registry[EmulatorKind]:
    _load(_EMULATOR_MODULES)
    return EMULATORS
