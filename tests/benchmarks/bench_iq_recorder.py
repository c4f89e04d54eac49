"""IQ recording: the pass runner's recorder block against GNU Radio's ``blocks.file_sink``.

The pass runner records IQ through ``iq_sink`` (a Python block writing to an
``IqRecorder``), which survives a full disk by dropping the recording, where
``file_sink`` throws and stalls the whole flowgraph. This measures what that
costs: the same flowgraph (a null source of complex samples, ``head`` of N
samples, the sink) with each sink, to a file in a temporary directory, side by
side, best of three runs each. Printed: million samples per second for each and
their ratio, against the fastest SDR rate a station records (2.4 MS/s for an
RTL-SDR, about 19 MB/s of cf32).
"""
from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N_SAMPLES = int(os.environ.get("GROUNDSEG_BENCH_IQ_SAMPLES", "50000000"))
SDR_RATE_SPS = 2.4e6


def _run(kind: str, path: pathlib.Path) -> float:
    from gnuradio import blocks, gr

    from flowgraphs.pass_runner import IqRecorder, _make_iq_sink

    tb = gr.top_block()
    src = blocks.null_source(gr.sizeof_gr_complex)
    head = blocks.head(gr.sizeof_gr_complex, N_SAMPLES)
    rec = None
    if kind == "file_sink":
        sink = blocks.file_sink(gr.sizeof_gr_complex, str(path), False)
        sink.set_unbuffered(False)
    else:
        rec = IqRecorder(str(path), warn=lambda m: print(f"  warning: {m}"))
        sink = _make_iq_sink()(rec)
    tb.connect(src, head, sink)
    t = time.perf_counter()
    tb.run()
    if rec is not None:
        rec.close()
    else:
        sink.close()
    dt = time.perf_counter() - t
    size = path.stat().st_size
    path.unlink()
    if size != N_SAMPLES * 8:
        raise RuntimeError(f"{kind}: wrote {size} bytes, expected {N_SAMPLES * 8}")
    return N_SAMPLES / dt


def main() -> None:
    print(f"IQ recording, {N_SAMPLES / 1e6:g} M complex samples to a file ({N_SAMPLES * 8 / 1e6:.0f} MB), "
          "best of 3, same flowgraph")
    with tempfile.TemporaryDirectory(prefix="groundseg-iqbench-") as d:
        best = {}
        for _ in range(3):
            for kind in ("file_sink", "iq_sink"):
                r = _run(kind, pathlib.Path(d) / f"{kind}.cf32")
                best[kind] = max(best.get(kind, 0.0), r)
    for kind, r in best.items():
        print(f"  {kind:<10} {r / 1e6:8.1f} MS/s  ({r / SDR_RATE_SPS:6.1f}x a 2.4 MS/s RTL-SDR)")
    print(f"  iq_sink / file_sink: {best['iq_sink'] / best['file_sink']:.2f}")


if __name__ == "__main__":
    main()
