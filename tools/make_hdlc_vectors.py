#!/usr/bin/env python3
"""Generate tests/vectors/hdlc_vectors.json: golden vectors for the HDLC/AX.25 kernels.

Everything is computed with the readable reference ``groundseg/dsp/hdlc_ref.py``
from a fixed seed; ``tests/test_hdlc_kernels.py`` checks that the Cython
kernel (and the reference, so that it cannot drift unnoticed) still give
exactly these results. Re-run after an intended change of behaviour:

    .venv/bin/python tools/make_hdlc_vectors.py
"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from groundseg.dsp import hdlc_ref as R  # noqa: E402

OUT = ROOT / "tests" / "vectors" / "hdlc_vectors.json"
SEED = 20240611
SOFT_SCALE = 32.0          # soft symbols are stored as int8 = round(soft * 32)
REPAIR = {"max_flips": 2, "n_candidates": 12}


def _payloads(rng) -> list[bytes]:
    return [
        bytes(rng.integers(0, 256, 20, dtype=np.uint8)),
        b"\xff" * 18 + b"\x7e\x7e",                 # runs of ones: stuffing everywhere
        bytes(rng.integers(0, 256, 60, dtype=np.uint8)),
        b"\x00" * 17,
        bytes(rng.integers(0, 256, 33, dtype=np.uint8)),
    ]


def _quantize(soft: np.ndarray) -> np.ndarray:
    return np.clip(np.round(soft * SOFT_SCALE), -127, 127).astype(np.int8)


def _framing_case(rng, g3ruh: bool) -> dict:
    payloads = _payloads(rng)
    enc = R.HdlcEncoder(g3ruh)
    parts = [enc.encode(R.append_fcs(p), 3, 1) for p in payloads]
    bits = np.concatenate(parts)
    soft = (2.0 * bits - 1.0) + rng.normal(0, 0.25, len(bits))
    # weaken and flip a few channel bits inside frames 1, 2 and 4 so that the
    # vectors exercise failed CRCs and repair
    bounds = np.cumsum([0] + [len(p) for p in parts])
    for k, nflip in ((1, 1), (2, 2), (4, 1)):
        lo, hi = bounds[k] + 40, bounds[k + 1] - 40
        for q in rng.choice(np.arange(lo, hi), nflip, replace=False):
            soft[q] = -np.sign(soft[q]) * 0.1
    q = _quantize(soft)
    softf = q.astype(np.float32) / SOFT_SCALE
    dec = R.HdlcDecoder(g3ruh, emit_bad=True)
    records = dec.process(softf)
    expect = []
    for data, start, end, status, alt, alt2 in records:
        rep = []
        spans = [] if status == R.STATUS_OK else [start] if status != R.STATUS_SHORT else []
        for s in spans + [a for a in (alt, alt2) if a >= 0 and status != R.STATUS_OK]:
            lo = s - R.SPAN_MARGIN
            got = R.repair(softf[lo:end], s - lo, end - lo, g3ruh, **REPAIR)
            rep.append(None if got is None else {"span_start": s, "data": got[0].hex(),
                                                 "flips": got[1]})
        expect.append({"data": data.hex(), "start": start, "end": end, "status": status,
                       "alt": alt, "alt2": alt2, "repair": rep})
    return {
        "g3ruh": g3ruh,
        "preamble_flags": 3,
        "postamble_flags": 1,
        "payloads": [p.hex() for p in payloads],
        "channel_bits": np.packbits(bits).tobytes().hex(),
        "n_bits": int(len(bits)),
        "soft_int8": q.tobytes().hex(),
        "records": expect,
        "final_state": list(dec.state()),
    }


def main() -> None:
    rng = np.random.default_rng(SEED)
    crc = [{"data": d.hex(), "fcs": R.fcs(d)} for d in
           (b"", b"123456789", bytes(range(256)), bytes(rng.integers(0, 256, 40, dtype=np.uint8)))]
    doc = {
        "generator": "tools/make_hdlc_vectors.py",
        "soft_scale": SOFT_SCALE,
        "repair": REPAIR,
        "crc": crc,
        "framings": [_framing_case(rng, False), _framing_case(rng, True)],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
