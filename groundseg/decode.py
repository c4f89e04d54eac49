"""Decode a recording with the receive flowgraph (the library behind ``groundseg decode``)."""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .blocks.sources import SourceSpec, open_source
from .catalog import Catalog, Transmitter, load_catalog
from .errors import InputError
from .framing import load_all


@dataclass
class DecodeResult:
    frames: list[dict] = field(default_factory=list)   # JSON-ready, in order of delivery
    seconds: float | None = None
    wall_s: float = 0.0
    skipped: list[str] = field(default_factory=list)    # transmitters not decoded, with why
    invalid: int = 0
    duplicates: int = 0


def frame_record(meta: dict, data: bytes) -> dict:
    """The JSON object printed for a frame: fixed keys first, then what else is known."""
    rec = {
        "time_s": meta.get("time_s"),
        "norad": meta.get("norad"),
        "transmitter": meta.get("transmitter"),
        "framing": meta.get("framing"),
        "hex": data.hex(),
        "crc_ok": meta.get("crc_ok"),
    }
    for k, v in meta.items():
        if k not in rec and k not in ("end_symbol",):
            rec[k] = v
    return rec


def chains_for_norad(norad: int, catalog: Catalog | None = None):
    """Every transmitter of the satellite whose framing we decode; plus what was skipped."""
    from flowgraphs.receive import Chain

    cat = catalog or load_catalog()
    sat = cat.by_norad(norad)
    framings = load_all()
    chains, skipped = [], []
    for tx in sat.transmitters:
        if tx.uplink:
            continue
        if tx.framing not in framings:
            skipped.append(f"{tx.name}: framing {tx.framing!r} not supported yet")
            continue
        chains.append(Chain(tx, norad=sat.norad, satellite=sat.name))
    return chains, skipped


def adhoc_chain(modulation: str, baud: float, framing: str, deviation_hz=None,
                af_carrier_hz=None, options=None, norad=None):
    from flowgraphs.receive import Chain
    from .dsp.modulation import MODULATIONS

    mod = MODULATIONS.canonical(modulation)
    fr = load_all().get(framing)
    opts = dict(options or {})
    errs = fr.check_options(opts)
    if errs:
        raise InputError("; ".join(errs))
    if baud <= 0:
        raise InputError(f"baud rate must be positive, not {baud:g}")
    tx = Transmitter(name=f"{baud:g} baud {mod}", frequency_hz=0, modulation=mod, baud=baud,
                     framing=fr.name, deviation_hz=deviation_hz, af_carrier_hz=af_carrier_hz,
                     options=opts)
    return Chain(tx, norad=norad)


def decode(source_spec: SourceSpec, chains, *, on_frame: Callable[[dict], None] | None = None,
           keep_invalid: bool = False, progress: Callable[[float, float | None], None] | None = None,
           stop: threading.Event | None = None) -> DecodeResult:
    """Run the receive flowgraph over a file source until it ends (or ``stop`` is set)."""
    from flowgraphs.receive import ReceiveFlowgraph
    from .blocks.frame_collector import FrameCollector

    src = open_source(source_spec)
    res = DecodeResult(seconds=src.seconds)
    lock = threading.Lock()

    def take(meta: dict, data: bytes) -> None:
        rec = frame_record(meta, data)
        with lock:
            res.frames.append(rec)
        if on_frame:
            on_frame(rec)

    collector = FrameCollector(take, keep_invalid=keep_invalid)
    tb = ReceiveFlowgraph(src, chains, collector)
    t0 = time.perf_counter()
    tb.start()
    try:
        if progress is None and stop is None:
            tb.wait()
        else:
            done = threading.Event()
            waiter = threading.Thread(target=lambda: (tb.wait(), done.set()), daemon=True)
            waiter.start()
            while not done.wait(0.2):
                if stop is not None and stop.is_set():
                    tb.stop()
                    tb.wait()
                    break
                if progress:
                    progress(tb.progress_s(), src.seconds)
            if progress and not (stop is not None and stop.is_set()):
                progress(src.seconds or tb.progress_s(), src.seconds)
    except KeyboardInterrupt:
        tb.stop()
        tb.wait()
        raise
    res.wall_s = time.perf_counter() - t0
    res.invalid, res.duplicates = collector.invalid, collector.duplicates
    res.frames.sort(key=lambda r: (r.get("time_s") or 0.0))
    return res


class ProgressBar:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, label: str, stream=sys.stderr):
        self.label = label
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, done_s: float, total_s: float | None) -> None:
        if not self.enabled:
            return
        if total_s:
            frac = max(0.0, min(1.0, done_s / total_s))
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}% ")
        else:
            self.stream.write(f"\r{self.label} {done_s:8.1f} s ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (len(self.label) + 45) + "\r")
            self.stream.flush()
