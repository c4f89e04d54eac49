"""firmware_bridge: the station's serial hardware (rotators, RF front end, TNCs) and their emulators.

Contract
--------
In: a device config (a dict, e.g. the ``rotator:`` section of the station
config) naming a protocol from the registry and a serial port by a stable
path (``/dev/serial/by-id/...``) or a rotctld address. Out: an object with a
small blocking interface whose every call ends within
``timeout_s * (retries + 1)`` plus slack, raising a one-line
:class:`groundseg.errors.HardwareError` (or :class:`InputError` for bad
arguments) instead of hanging, and whose faults are counted in its
``counters`` dict (:func:`firmware_bridge.counters.all_counters` for all).

Rotators (:class:`firmware_bridge.rotator.Rotator`)::

    rot = open_rotator({"protocol": "gs232b", "device": "/dev/serial/by-id/usb-...",
                        "max_az_deg": 450, "max_el_deg": 180, "timeout_s": 1.0, "retries": 2})
    rot.position() -> Position(az_deg, el_deg)      rot.point(az_deg, el_deg) -> Position
    rot.stop()     rot.park()     rot.limits     rot.resolution_deg     rot.counters

Angles are the rotator's own (azimuth past 360 on a 450-degree rotator,
elevation past 90 on one that flips); :func:`pointing.plan_pass` turns a
pass's sky track into them. An angle outside ``limits`` is refused
(``LimitError``), never clamped. Protocols: GS-232A/B, EasyComm II/III,
Hamlib rotctld (``registry.rotator_protocols()``).

Also: :class:`rotctld_server.RotctldServer` (Gpredict/Hamlib clients drive
the rotator while no pass holds the :class:`gate.ControlGate`; refused with
``RPRT -9`` while one does), :class:`station_controller.StationController`
(LNA/PA power, T/R and antenna relays, sensors; protocol in
STATION_CONTROLLER.md), :class:`kiss_tnc.KissTnc` (KISS to a TNC), and
:mod:`firmware_bridge.emulators` (every protocol on a pty, faults on demand).
"""
from __future__ import annotations

from .errors import LimitError, OperationFailed
from .factory import open_rotator, rotator_from_config
from .limits import Limits
from .rotator import Position, Rotator

__all__ = ["LimitError", "Limits", "OperationFailed", "Position", "Rotator", "open_rotator",
           "rotator_from_config"]
