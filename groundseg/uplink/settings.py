"""The ``[uplink]`` section of the station configuration.

::

    [uplink]
    transmit_enabled = false        # nothing is ever transmitted unless this is true
    min_el_deg = 10.0               # transmit only with the satellite at least this high
    callsign = "N0CALL"             # AX.25 source address of telecommands
    modulation = "AFSK"             # defaults when the catalog has no uplink transmitter
    baud = 1200.0
    deviation_hz = 500.0            # optional (modulation's own default otherwise)
    af_carrier_hz = 1700.0          # optional (AFSK)
    freq_hz = 145.825e6             # optional default uplink frequency
    lead_s = 0.2                    # a burst starts this long after the decision to send it
    check_interval_s = 0.5          # how often queued telecommands are checked
    max_payload_bytes = 256
    log = "uplink/transmissions.jsonl"   # default <state_dir>/uplink/transmissions.jsonl

    [uplink.sdr]
    kind = "file"                   # file | zmq | uhd (see groundseg.uplink.sdr)
    samp_rate_sps = 192000.0
    path = "uplink/iq"              # file: directory for <id>.cf32 + <id>.json
    address = "tcp://127.0.0.1:5600"   # zmq: PUSH endpoint (bound)
    device_args = "type=b200"       # uhd
    gain_db = 40.0                  # uhd
    antenna = "TX/RX"               # uhd

    [uplink.ccsds]                  # CCSDS TC framing defaults
    scid = 0
    vcid = 0
    randomize = true
    fecf = true
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

from ..config import Table, between, nonempty, register_section

SDR_KINDS = ("file", "zmq", "uhd")


@dataclass(frozen=True)
class SdrSettings:
    kind: str = "file"
    samp_rate_sps: float = 192_000.0
    path: str = "uplink/iq"
    address: str = "tcp://127.0.0.1:5600"
    device_args: str = ""
    gain_db: float = 0.0
    antenna: str = ""


@dataclass(frozen=True)
class CcsdsSettings:
    scid: int = 0
    vcid: int = 0
    randomize: bool = True
    fecf: bool = True


@dataclass(frozen=True)
class UplinkSettings:
    transmit_enabled: bool = False
    min_el_deg: float = 10.0
    callsign: str = "N0CALL"
    modulation: str = "AFSK"
    baud: float = 1200.0
    deviation_hz: float | None = None
    af_carrier_hz: float | None = None
    freq_hz: float | None = None
    lead_s: float = 0.2
    check_interval_s: float = 0.5
    max_payload_bytes: int = 256
    log: str | None = None
    sdr: SdrSettings = field(default_factory=SdrSettings)
    ccsds: CcsdsSettings = field(default_factory=CcsdsSettings)

    def log_path(self, config) -> pathlib.Path:
        if self.log is None:
            return config.state_dir / "uplink" / "transmissions.jsonl"
        return config.resolve(self.log)


def parse_uplink(value, path: str, errs: list[str]) -> UplinkSettings | None:
    from ..dsp.modulation import MODULATIONS

    d = UplinkSettings()
    t = Table(value, path, errs)
    vals = dict(
        transmit_enabled=t.get("transmit_enabled", "boolean", d.transmit_enabled),
        min_el_deg=t.get("min_el_deg", "number", d.min_el_deg, check=between(0, 90)),
        callsign=t.get("callsign", "string", d.callsign, check=nonempty),
        modulation=t.get("modulation", "string", d.modulation,
                         check=lambda m: None if m in MODULATIONS else
                         f"{m!r} is not a modulation ({', '.join(MODULATIONS.names())})"),
        baud=t.get("baud", "number", d.baud, check=between(1, 1e7, lo_open=False)),
        deviation_hz=t.get("deviation_hz", "number", None),
        af_carrier_hz=t.get("af_carrier_hz", "number", None, check=between(1, 1e6)),
        freq_hz=t.get("freq_hz", "number", None, check=between(1e6, 300e9)),
        lead_s=t.get("lead_s", "number", d.lead_s, check=between(0, 60)),
        check_interval_s=t.get("check_interval_s", "number", d.check_interval_s, check=between(0.05, 60)),
        max_payload_bytes=t.get("max_payload_bytes", "integer", d.max_payload_bytes, check=between(1, 1017)),
        log=t.get("log", "string", None, check=nonempty),
    )
    sdr_raw = t.get("sdr", "table", None)
    cc_raw = t.get("ccsds", "table", None)
    t.done()
    s = Table(sdr_raw, f"{path}.sdr", errs)
    ds = SdrSettings()
    sdr = dict(kind=s.get("kind", "string", ds.kind,
                          check=lambda k: None if k in SDR_KINDS else f"{k!r} is not one of {', '.join(SDR_KINDS)}"),
               samp_rate_sps=s.get("samp_rate_sps", "number", ds.samp_rate_sps, check=between(1000, 100e6)),
               path=s.get("path", "string", ds.path, check=nonempty),
               address=s.get("address", "string", ds.address, check=nonempty),
               device_args=s.get("device_args", "string", ds.device_args),
               gain_db=s.get("gain_db", "number", ds.gain_db, check=between(-20, 100)),
               antenna=s.get("antenna", "string", ds.antenna))
    s.done()
    c = Table(cc_raw, f"{path}.ccsds", errs)
    dc = CcsdsSettings()
    cc = dict(scid=c.get("scid", "integer", dc.scid, check=between(0, 1023)),
              vcid=c.get("vcid", "integer", dc.vcid, check=between(0, 63)),
              randomize=c.get("randomize", "boolean", dc.randomize),
              fecf=c.get("fecf", "boolean", dc.fecf))
    c.done()
    if None in sdr.values() or None in cc.values() or None in (
            v for k, v in vals.items() if k not in ("deviation_hz", "af_carrier_hz", "freq_hz", "log")):
        return None
    if vals["baud"] * 2 > sdr["samp_rate_sps"]:
        errs.append(f"{path}.sdr.samp_rate_sps: {sdr['samp_rate_sps']:g} S/s is below 2 samples per symbol "
                    f"at {vals['baud']:g} baud")
        return None
    return UplinkSettings(**vals, sdr=SdrSettings(**sdr), ccsds=CcsdsSettings(**cc))


register_section("uplink", doc="telecommand uplink: transmit enable, elevation limit, framing defaults, SDR sink"
                 )(parse_uplink)


def uplink_settings(config) -> UplinkSettings:
    sec = config.section("uplink") if config is not None else None
    return sec if isinstance(sec, UplinkSettings) else UplinkSettings()
