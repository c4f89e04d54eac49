"""Emulators of every device the bridge speaks to, on pseudo-terminal pairs.

Contract: an emulator owns the master side of a pty and serves the slave
(``path``) to the program under test as if it were the device's serial
port, with realistic behaviour (slew rates and limits for rotators,
interlocks and sensors for the station controller) and faults on demand
(``set_fault("no_reply" | "garbage" | "disconnect")``, ``unplug()``,
``replug()``; see :mod:`.base`).

In-process::

    from firmware_bridge.emulators import start_emulator
    emu = start_emulator("gs232b", az_rate_dps=30)   # started; emu.path is the tty
    ...; emu.stop()

As a subprocess (another program, e.g. Hamlib, opens ``path``)::

    proc = spawn_emulator("gs232b", link="/tmp/rot0")  # proc.path, proc.command("fault no_reply")
    ...; proc.stop()

or from a shell: ``python -m firmware_bridge.emulators gs232b`` (prints one
JSON line with the path, then takes commands on stdin: ``fault KIND [N]``,
``fault none``, ``unplug``, ``replug``, ``state``, ``quit``).
"""
from __future__ import annotations

from .base import FAULTS, LineEmulator, PtyEmulator
from .process import EmulatorProcess, spawn_emulator


def start_emulator(kind: str, **options) -> PtyEmulator:
    """Create and start the emulator registered as ``kind`` (see ``registry.emulators()``)."""
    from ..registry import emulators

    return emulators().get(kind).factory(**options).start()


__all__ = ["FAULTS", "EmulatorProcess", "LineEmulator", "PtyEmulator", "spawn_emulator", "start_emulator"]
