"""Signal providers for the pass executor: a simulated pass, or a recording, in place of the SDR.

``SimulatedSignals`` synthesises each pass with ``signal.simulate_pass``
from the pass's element set, the station and the catalog transmitter, over
the span the flowgraph runs (from its start, a lead time before AOS, to
the end of the pass), and hands the flowgraph the SigMF file, paced to the
station's clock. The list of frames sent goes into the pass report, so the
report says how many of them were decoded.

``RecordedSignal`` plays one recording (WAV IQ, raw IQ or SigMF) for every
pass, its first sample at the flowgraph's start (plus ``offset_s``).
"""
from __future__ import annotations

import os
import pathlib

from ..errors import InputError
from ..schedule.executor import SignalRequest, SourcePlan
from .signal import SimSettings, simulate_pass


class SimulatedSignals:
    def __init__(self, workdir: str | os.PathLike, settings: SimSettings | None = None, keep: bool = False):
        self.workdir = pathlib.Path(workdir)
        self.settings = settings or SimSettings()
        self.settings.check()
        self.keep = keep

    def prepare(self, req: SignalRequest) -> SourcePlan:
        base = self.workdir / f"sim-{req.pass_id}"
        sp = simulate_pass(req.elements, req.station, req.transmitter, req.start_unix_s, req.end_unix_s, base,
                           satellite=req.satellite, mask=req.mask, settings=self.settings)

        def cleanup() -> None:
            if not self.keep:
                for p in (sp.data_path, sp.meta_path):
                    p.unlink(missing_ok=True)

        sim = {"frames": [f.to_dict() for f in sp.frames], "file": str(sp.data_path),
               "samp_rate_sps": sp.samp_rate_sps, "eirp_dbw": self.settings.link.eirp_dbw,
               "g_over_t_dbk": self.settings.link.g_over_t_dbk, "beacon_interval_s": self.settings.beacon_interval_s}
        return SourcePlan({"kind": "sigmf", "path": str(sp.data_path), "samp_rate_sps": sp.samp_rate_sps},
                          t0_unix_s=sp.t0_unix_s, throttle=True, simulation=sim, cleanup=cleanup)


class RecordedSignal:
    def __init__(self, path: str | os.PathLike, samp_rate_sps: float | None = None, datatype: str = "cf32_le",
                 offset_s: float = 0.0):
        from ..blocks.sources import guess_kind

        self.path = pathlib.Path(path)
        if not self.path.exists():
            raise InputError(f"{path}: no such recording")
        self.kind = guess_kind(str(path))
        if self.kind == "iq" and not samp_rate_sps:
            raise InputError(f"{path}: a raw IQ recording needs its sample rate")
        self.samp_rate_sps = samp_rate_sps
        self.datatype = datatype
        self.offset_s = float(offset_s)

    def prepare(self, req: SignalRequest) -> SourcePlan:
        src = {"kind": self.kind, "path": str(self.path), "datatype": self.datatype}
        if self.samp_rate_sps:
            src["samp_rate_sps"] = self.samp_rate_sps
        return SourcePlan(src, t0_unix_s=req.start_unix_s + self.offset_s, throttle=True)
