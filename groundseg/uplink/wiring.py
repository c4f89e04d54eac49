"""``attach_uplink(station, config) -> UplinkService``: the uplink of a running station.

Builds the service from the ``[uplink]`` section (transmit disabled unless
configured), with the station's schedule store for passes, its element sets
and catalog, its clock (simulated time in a simulation) and the configured
SDR sink; starts the send loop. ``uplink_of(station)`` finds it again (the
control-plane commands use it). Close it before ``station.close()``.
"""
from __future__ import annotations

import weakref
from typing import Any

from .policy import PassWindow
from .queue import TelecommandQueue
from .sdr import make_sdr_sink
from .service import UplinkService
from .settings import UplinkSettings, uplink_settings
from .txlog import TransmissionLog

_SERVICES: "weakref.WeakKeyDictionary[Any, UplinkService]" = weakref.WeakKeyDictionary()


def attach_uplink(station, config=None, *, settings: UplinkSettings | None = None, sink=None,
                  start: bool = True) -> UplinkService:
    config = config if config is not None else station.config
    settings = settings if settings is not None else uplink_settings(config)

    def passes(pass_id: str) -> PassWindow:
        return PassWindow.from_record(station.store.get_pass(pass_id))

    def elements(norad: int):
        return station.planning.tles.get(norad)

    def uplink_tx(norad: int):
        cat = getattr(station, "catalog", None)
        try:
            sat = cat.by_norad(norad) if cat is not None else None
        except Exception:  # noqa: BLE001 - not in the catalog: the defaults apply
            return None
        for tx in getattr(sat, "transmitters", ()) or ():
            if getattr(tx, "uplink", False):
                return tx
        return None

    udir = config.state_dir / "uplink"
    svc = UplinkService(settings, passes=passes, elements=elements, ground_station=config.ground_station(),
                        clock=station.clock, sink=sink if sink is not None else make_sdr_sink(settings.sdr, config),
                        txlog=TransmissionLog(settings.log_path(config)), queue=TelecommandQueue(udir / "queue.sqlite"),
                        uplink_transmitter=uplink_tx)
    _SERVICES[station] = svc
    if start:
        svc.start()
    return svc


def uplink_of(station) -> UplinkService | None:
    return _SERVICES.get(station)
