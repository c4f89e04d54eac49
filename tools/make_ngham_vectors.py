#!/usr/bin/env python3
"""Generate tests/vectors/ngham_floripasat1.json: a real NGHam packet, as channel bits.

FloripaSat-1's first beacon in the corpus recording ``floripasat_1.wav``
(1200 baud FSK) is lost by the receive flowgraph's FSK demodulator (its
DC estimate has not settled at the start of the file), so the NGHam
framing is checked on it here instead, independently of the demodulator:
a plain chain (low-pass, 50 ms moving-average DC removal, Mueller and
Muller clock recovery, GNU Radio blocks) turns the start of the recording
into hard bits; the 1100 bits around the packet's sync word are stored.
``tests/test_framing_ngham.py`` checks that "NGHam no Reed Solomon"
decodes them (CRC-16 passes, payload "0PY0EFS"...) and that RS decoding
fails (FloripaSat-1 sends unusable parity). Needs the corpus:

    .venv/bin/python tools/make_ngham_vectors.py [path/to/floripasat_1.wav]
"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "tests" / "vectors" / "ngham_floripasat1.json"
BAUD = 1200
SYNC = 0x5DE62A7E
BEFORE, TOTAL = 64, 1100


def hard_bits(path: str) -> np.ndarray:
    from gnuradio import blocks, digital, filter, gr
    from gnuradio.filter import firdes

    tb = gr.top_block()
    src = blocks.wavfile_source(path, False)
    fs = 48000
    lp = filter.fir_filter_fff(1, firdes.low_pass(1.0, fs, 0.8 * BAUD, 0.4 * BAUD))
    n = int(0.05 * fs)
    dc = blocks.moving_average_ff(n, 1.0 / n, 4000)
    delay = blocks.delay(gr.sizeof_float, n // 2)
    sub = blocks.sub_ff()
    sync = digital.symbol_sync_ff(digital.TED_MUELLER_AND_MULLER, fs / BAUD, 0.06, 1.0, 1.0, 1.5, 1,
                                  digital.constellation_bpsk().base(), digital.IR_MMSE_8TAP, 128, [])
    sink = blocks.vector_sink_f()
    tb.connect(src, lp, delay, (sub, 0))
    tb.connect(lp, dc, (sub, 1))
    tb.connect(sub, sync, sink)
    tb.run()
    return (np.array(sink.data()) > 0).astype(np.uint8)


def main() -> None:
    from groundseg.corpus import default_corpus_dir
    wav = sys.argv[1] if len(sys.argv) > 1 else str(default_corpus_dir() / "floripasat_1.wav")
    bits = hard_bits(wav)
    sync = np.array([(SYNC >> (31 - i)) & 1 for i in range(32)], np.float32) * 2 - 1
    corr = np.correlate(bits * 2.0 - 1, sync, mode="valid")
    first = int(np.flatnonzero(corr == 32)[0])
    seg = bits[first - BEFORE:first - BEFORE + TOTAL]
    OUT.write_text(json.dumps({
        "source": "floripasat_1.wav (corpus), 1200 baud FSK, plain demodulator: "
                  "see tools/make_ngham_vectors.py",
        "sync_at": BEFORE,
        "bits": "".join(map(str, seg.tolist())),
    }, indent=1) + "\n")
    print(f"{OUT}: {len(seg)} bits, sync word at {BEFORE} (symbol {first} of the recording)")


if __name__ == "__main__":
    main()
