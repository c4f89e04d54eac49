"""``UplinkService``: queue telecommands against passes, send each inside its pass, log every transmission.

``queue_telecommand(pass_id, payload, framing, role, who, ...)`` checks the
policy (role, transmit enabled, the pass, its elevation), builds the frame
and the burst once to reject bad parameters at once (``invalid``), and
queues the telecommand (``queue.TelecommandQueue``). Refusals raise
``policy.UplinkRefused`` (``code``: forbidden, refused, not_found, invalid)
and are written to the transmission log.

``process_due(now)`` (the send loop calls it every ``check_interval_s``;
tests call it directly) takes each queued telecommand: before AOS it waits;
after LOS, or with the pass over, it expires; inside the pass it waits
until the satellite is above ``min_el_deg`` (expiring once it set below it
after the culmination), then frames it, modulates it, pre-compensates the
Doppler for the burst's own time span (``t_start = now + lead_s``),
re-checks the policy for that span, sends it to the SDR sink and logs it.
Only one telecommand is on the air at a time.

Link parameters of a telecommand (modulation, baud, deviation, audio
carrier, frequency): the request's, else the satellite's catalog uplink
transmitter's, else the ``[uplink]`` defaults; no frequency at all is
``invalid``.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import numpy as np

from ..errors import GroundsegError, HardwareError, InputError
from ..orbit.doppler import DopplerModel
from ..orbit.passes import look_angles
from .burst import modulate_burst
from .doppler import precompensate
from .framing import canonical_framing, frame_telecommand
from .policy import (TERMINAL_STATES, PassWindow, UplinkRefused, check_elevation, check_enabled, check_inside,
                     check_pass_usable, check_role)
from .queue import TelecommandQueue
from .sdr import SdrSink
from .settings import UplinkSettings
from .txlog import TransmissionLog

log = logging.getLogger(__name__)


class UplinkService:
    def __init__(self, settings: UplinkSettings, *, passes: Callable[[str], PassWindow],
                 elements: Callable[[int], Any], ground_station, clock, sink: SdrSink, txlog: TransmissionLog,
                 queue: TelecommandQueue, uplink_transmitter: Callable[[int], Any] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self._passes = passes
        self._elements = elements
        self.gs = ground_station
        self.clock = clock
        self.sink = sink
        self.txlog = txlog
        self.queue = queue
        self._uplink_tx = uplink_transmitter
        self._sleep = sleep
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.counters = {"queued": 0, "refused": 0, "sent": 0, "failed": 0, "expired": 0}

    # --- helpers ---------------------------------------------------------------------------------

    def pass_window(self, pass_id: str) -> PassWindow:
        try:
            return self._passes(pass_id)
        except UplinkRefused:
            raise
        except (GroundsegError, KeyError) as e:
            raise UplinkRefused("not_found", f"no pass {pass_id!r}") from e

    def elevation_deg(self, norad: int, t_unix_s) -> np.ndarray:
        return look_angles(self._elements(norad), self.gs, t_unix_s).el_deg

    def _link(self, norad: int, modulation, baud, deviation_hz, af_carrier_hz, freq_hz) -> dict:
        s = self.settings
        tx = self._uplink_tx(norad) if self._uplink_tx is not None else None
        link = {"modulation": modulation or getattr(tx, "modulation", None) or s.modulation,
                "baud": float(baud or getattr(tx, "baud", None) or s.baud),
                "deviation_hz": deviation_hz if deviation_hz is not None else (
                    getattr(tx, "deviation_hz", None) if tx is not None else s.deviation_hz),
                "af_carrier_hz": af_carrier_hz if af_carrier_hz is not None else (
                    getattr(tx, "af_carrier_hz", None) if tx is not None else s.af_carrier_hz),
                "freq_hz": float(freq_hz or getattr(tx, "frequency_hz", None) or s.freq_hz or 0.0)}
        if link["freq_hz"] <= 0:
            raise InputError(f"no uplink frequency for NORAD {norad}: give freq_hz, add an uplink transmitter to "
                             "the catalog, or set [uplink] freq_hz")
        from ..dsp.modulation import MODULATIONS

        link["modulation"] = MODULATIONS.canonical(link["modulation"])
        if self.settings.sdr.samp_rate_sps < 2 * link["baud"]:
            raise InputError(f"{link['baud']:g} baud needs at least {2 * link['baud']:g} S/s "
                             f"([uplink.sdr] samp_rate_sps is {self.settings.sdr.samp_rate_sps:g})")
        return link

    def _refusal(self, e: UplinkRefused, who: str, role: str, pass_id: str | None) -> None:
        self.counters["refused"] += 1
        self.txlog.append({"kind": "refusal", "who": who, "role": role, "pass_id": pass_id, "code": e.code,
                           "message": e.message}, self.clock.now())

    # --- the control plane's entry points --------------------------------------------------------

    def queue_telecommand(self, pass_id: str, payload: bytes, framing: str, role: str, who: str = "", *,
                          options: dict | None = None, modulation: str | None = None, baud: float | None = None,
                          deviation_hz: float | None = None, af_carrier_hz: float | None = None,
                          freq_hz: float | None = None) -> dict:
        try:
            check_role(role)
            check_enabled(self.settings.transmit_enabled)
            p = self.pass_window(pass_id)
            check_pass_usable(p, self.clock.now(), self.settings.min_el_deg)
            try:
                framing = canonical_framing(framing)
                link = self._link(p.norad, modulation, baud, deviation_hz, af_carrier_hz, freq_hz)
                tf = frame_telecommand(payload, framing, self.settings, options, seq=0)
                modulate_burst(tf.bits[:64], link["modulation"], link["baud"], self.settings.sdr.samp_rate_sps,
                               deviation_hz=link["deviation_hz"], af_carrier_hz=link["af_carrier_hz"])
            except InputError as e:
                raise UplinkRefused("invalid", str(e).splitlines()[0]) from None
        except UplinkRefused as e:
            self._refusal(e, who, role, pass_id)
            raise
        cmd = self.queue.add(pass_id, p.norad, payload, framing, dict(options or {}), link, who, self.clock.now())
        self.counters["queued"] += 1
        self._wake.set()
        return cmd.to_dict()

    def cancel(self, command_id: str, role: str, who: str = "") -> dict:
        check_role(role)
        cmd = self.queue.get(command_id)
        if cmd is None:
            raise UplinkRefused("not_found", f"no telecommand {command_id!r}")
        if not self.queue.finish(command_id, "cancelled", f"cancelled by {who or 'the operator'}", self.clock.now()):
            raise UplinkRefused("conflict", f"telecommand {command_id} is {self.queue.get(command_id).state}, "
                                            "not queued")
        return self.queue.get(command_id).to_dict()

    def list(self, state: str = "all", limit: int = 100) -> dict:
        states = None if state == "all" else [state]
        return {"telecommands": [c.to_dict() for c in self.queue.list(states, limit)]}

    def transmissions(self, limit: int = 50) -> dict:
        return {"log": str(self.txlog.path), "entries": self.txlog.read(limit=limit)}

    def status(self) -> dict:
        return {"transmit_enabled": self.settings.transmit_enabled, "min_el_deg": self.settings.min_el_deg,
                "sdr": self.settings.sdr.kind, "queued": len(self.queue.pending()), "counters": dict(self.counters)}

    # --- sending ---------------------------------------------------------------------------------------

    def _finish(self, cmd, state: str, reason: str) -> dict:
        self.queue.finish(cmd.id, state, reason, self.clock.now())
        self.counters[state] = self.counters.get(state, 0) + 1
        return {"id": cmd.id, "state": state, "reason": reason}

    def process_due(self, now: float | None = None) -> list[dict]:
        """One pass over the queue (see the module docstring); what happened to each telecommand touched."""
        out = []
        for cmd in self.queue.pending():
            now_ = self.clock.now() if now is None else now
            try:
                p = self.pass_window(cmd.pass_id)
            except UplinkRefused as e:
                out.append(self._finish(cmd, "failed", e.message))
                continue
            if p.state in TERMINAL_STATES or now_ > p.los_unix_s:
                out.append(self._finish(cmd, "expired", f"pass {p.pass_id} is over ({p.state})"))
                continue
            if now_ < p.aos_unix_s:
                continue
            if float(self.elevation_deg(p.norad, now_)[0]) < self.settings.min_el_deg:
                if now_ > p.tca_unix_s:
                    out.append(self._finish(cmd, "expired", f"the satellite set below min_el_deg "
                                                            f"{self.settings.min_el_deg:g} before it could be sent"))
                continue
            out.append(self._send(cmd, p, now_))
        return out

    def _send(self, cmd, p: PassWindow, now: float) -> dict:
        s = self.settings
        link = cmd.link
        fs = s.sdr.samp_rate_sps
        with self._send_lock:
            try:
                tf = frame_telecommand(cmd.payload, cmd.framing, s, cmd.options, seq=cmd.seq)
                iq = modulate_burst(tf.bits, link["modulation"], link["baud"], fs, deviation_hz=link["deviation_hz"],
                                    af_carrier_hz=link["af_carrier_hz"], pad_s=0.01)
                t0 = now + s.lead_s
                t1 = t0 + iq.size / fs
                try:
                    check_enabled(s.transmit_enabled)
                    check_inside(p, t0, t1)
                    el = self.elevation_deg(p.norad, np.array([t0, t1]))
                    check_elevation(float(el[0]), float(el[1]), s.min_el_deg)
                except UplinkRefused as e:
                    if e.message.startswith("below") and now < p.tca_unix_s:
                        return {"id": cmd.id, "state": "queued", "reason": e.message}   # rising: try again
                    self._refusal(e, cmd.who, "operator", p.pass_id)
                    return self._finish(cmd, "refused" if "disabled" in e.message else "expired", e.message)
                dm = DopplerModel(self._elements(p.norad), self.gs)
                freq = float(link["freq_hz"])
                burst, d0, d1 = precompensate(iq, fs, t0, lambda t: dm.offset_hz(freq, t, "uplink"))
                entry = {"kind": "transmission", "command_id": cmd.id, "pass_id": p.pass_id, "norad": p.norad,
                         "who": cmd.who, "framing": tf.framing, "payload_hex": cmd.payload.hex(),
                         "frame_hex": tf.frame.hex(), "frame_meta": tf.meta, "modulation": link["modulation"],
                         "baud": link["baud"], "freq_hz": freq, "doppler_start_hz": round(d0, 3),
                         "doppler_end_hz": round(d1, 3), "t_start_unix_s": round(t0, 6), "t_end_unix_s": round(t1, 6),
                         "el_start_deg": round(float(el[0]), 3), "el_end_deg": round(float(el[1]), 3),
                         "samp_rate_sps": fs, "samples": int(burst.size)}
                try:
                    where = self.sink.transmit(burst, freq, fs, t0, cmd.id)
                except HardwareError as e:
                    self.txlog.append({**entry, "sink": s.sdr.kind, "result": "failed", "error": str(e)}, now)
                    return self._finish(cmd, "failed", str(e))
                self.txlog.append({**entry, "sink": where, "result": "sent"}, now)
                return self._finish(cmd, "sent", f"sent at {t0:.3f}")
            except InputError as e:
                self.txlog.append({"kind": "transmission", "command_id": cmd.id, "pass_id": p.pass_id,
                                   "result": "failed", "error": str(e)}, now)
                return self._finish(cmd, "failed", str(e))

    # --- the send loop --------------------------------------------------------------------------------

    def start(self) -> "UplinkService":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.process_due()
            except Exception:  # noqa: BLE001 - a bug here must not kill the station
                log.exception("uplink: send loop")
            self._wake.wait(self.settings.check_interval_s)
            self._wake.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10.0)
        self.sink.close()
        self.queue.close()
