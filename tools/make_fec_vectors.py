#!/usr/bin/env python3
"""Generate the FEC golden vectors under tests/vectors/ (fec_*.json, fec_*.npz).

Everything is computed with the readable references in ``groundseg/dsp/*_ref.py``
from fixed seeds. The tests check that the Cython kernels, and the references
themselves (so that they cannot drift unnoticed), still give exactly these
results. Re-run after an intended change of behaviour:

    .venv/bin/python tools/make_fec_vectors.py

Files (all small):

* fec_crc.json        inputs (hex) and CRC values for each preset and a few custom specs
* fec_scrambler.json  CCSDS/PN9 sequences, G3RUH scrambling with carried state, NRZI
* fec_golay.json      codewords, corrupted words and their decoding
* fec_rs.npz          RS codewords (both bases, shortened, interleaved) with
                      errors/erasures and the expected decoding
* fec_viterbi.npz     encoded and noisy int8 soft symbols per convention, decoded bits
"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from groundseg.dsp import crc_ref, golay_ref, reedsolomon_ref, scrambler_ref, viterbi_ref  # noqa: E402

OUT = ROOT / "tests" / "vectors"
SEED = 20240612

# custom CRC specs exercising the generic engine (not presets)
CUSTOM_CRCS = [
    dict(name="crc8_smbus", width=8, poly=0x07, init=0x00, refin=False, refout=False, xorout=0x00, check=0xF4),
    dict(name="crc16_arc", width=16, poly=0x8005, init=0x0000, refin=True, refout=True, xorout=0x0000, check=0xBB3D),
    dict(name="crc16_kermit", width=16, poly=0x1021, init=0x0000, refin=True, refout=True, xorout=0x0000, check=0x2189),
    dict(name="crc32_bzip2", width=32, poly=0x04C11DB7, init=0xFFFFFFFF, refin=False, refout=False, xorout=0xFFFFFFFF, check=0xFC891918),
    dict(name="crc5_usb", width=5, poly=0x05, init=0x1F, refin=True, refout=True, xorout=0x1F, check=0x19),
]


def make_crc(rng) -> dict:
    inputs = [b"", b"123456789", bytes(range(256)), bytes(rng.integers(0, 256, 37, dtype=np.uint8)),
              bytes(rng.integers(0, 256, 300, dtype=np.uint8))]
    specs = list(crc_ref.PRESETS.values()) + [crc_ref.CrcSpec(**c) for c in CUSTOM_CRCS]
    out = {"inputs": [x.hex() for x in inputs], "custom_specs": CUSTOM_CRCS, "values": {}}
    for s in specs:
        out["values"][s.name] = [crc_ref.crc(x, s) for x in inputs]
    return out


def make_scrambler(rng) -> dict:
    bits = rng.integers(0, 2, 300).astype(np.uint8)
    scr = scrambler_ref.MultiplicativeScrambler(scrambler_ref.G3RUH_POLY, state=0x1ABCD)
    g3ruh = [scr.scramble(bits[:100]), scr.scramble(bits[100:])]
    data = rng.integers(0, 256, 40, dtype=np.uint8)
    soft = np.round(rng.standard_normal(64) * 10).astype(np.float32)
    return {
        "ccsds_sequence_hex": scrambler_ref.AdditiveScrambler(
            scrambler_ref.CCSDS_POLY, scrambler_ref.CCSDS_SEED).sequence_bytes(255).tobytes().hex(),
        "pn9_sequence_hex": scrambler_ref.AdditiveScrambler(
            scrambler_ref.PN9_POLY, scrambler_ref.PN9_SEED, "lsb").sequence_bytes(64).tobytes().hex(),
        "data_hex": data.tobytes().hex(),
        "ccsds_randomized_hex": scrambler_ref.ccsds_randomize(data).tobytes().hex(),
        "pn9_whitened_hex": scrambler_ref.pn9_whiten(data).tobytes().hex(),
        "g3ruh_state": 0x1ABCD,
        "g3ruh_in": "".join(map(str, bits.tolist())),
        "g3ruh_out": "".join(map(str, np.concatenate(g3ruh).tolist())),
        "g3ruh_final_state": scr.state,
        "nrzi_in": "".join(map(str, bits[:64].tolist())),
        "nrzi_out": "".join(map(str, scrambler_ref.differential_encode(bits[:64], invert=True).tolist())),
        "diff_soft_in": soft.tolist(),
        "diff_soft_out": scrambler_ref.DifferentialDecoder().decode_soft(soft).tolist(),
    }


def make_golay(rng) -> dict:
    data = [0x000, 0xFFF, 0x0A5, 0x123] + rng.integers(0, 4096, 12).tolist()
    cws = [golay_ref.golay24_encode(d) for d in data]
    words = []
    for cw in cws:
        for nerr in (0, 1, 2, 3, 4, 5):
            pos = rng.choice(24, nerr, replace=False)
            e = int(sum(1 << int(p) for p in pos))
            words.append(cw ^ e)
    dec = [golay_ref.golay24_decode(w) for w in words]
    return {"data": data, "codewords": cws, "words": words,
            "decoded": [d for d, _ in dec], "n_errors": [n for _, n in dec]}


def _corrupt(rng, cw: np.ndarray, n_err: int, n_eras: int):
    pos = rng.choice(cw.size, n_err + n_eras, replace=False)
    bad = cw.copy()
    bad[pos[:n_err]] ^= rng.integers(1, 256, n_err, dtype=np.uint8)
    bad[pos[n_err:]] = rng.integers(0, 256, n_eras, dtype=np.uint8)
    return bad, np.sort(pos[n_err:]).astype(np.int32)


def make_rs(rng) -> dict:
    """Cases as flat arrays: case i uses rows of the ragged arrays given by offsets."""
    cases = []  # (dual, data_len, depth, n_err, n_eras)
    for dual in (False, True):
        cases += [(dual, 223, 1, 0, 0), (dual, 223, 1, 16, 0), (dual, 223, 1, 10, 12),
                  (dual, 223, 1, 0, 32), (dual, 223, 1, 17, 0), (dual, 128, 1, 16, 0),
                  (dual, 30, 1, 7, 5), (dual, 223, 4, 40, 0), (dual, 100, 5, 30, 20)]
    keys = {k: [] for k in ("data", "block", "received", "erasures", "decoded")}
    meta = []
    for dual, dlen, depth, n_err, n_eras in cases:
        rs = reedsolomon_ref.ReedSolomon(dual_basis=dual)
        data = rng.integers(0, 256, dlen * depth, dtype=np.uint8)
        block = rs.encode_interleaved(data, depth)
        bad, eras = _corrupt(rng, block, n_err, n_eras)
        dec, counts = rs.decode_interleaved(bad, depth, eras if n_eras else None)
        for k, v in (("data", data), ("block", block), ("received", bad), ("erasures", eras), ("decoded", dec)):
            keys[k].append(v)
        meta.append([int(dual), dlen, depth, n_err, n_eras] + counts.tolist() + [0] * (8 - depth))
    out = {"meta": np.array(meta, np.int32)}
    for k, lst in keys.items():
        out[k] = np.concatenate(lst).astype(np.int32 if k == "erasures" else np.uint8)
        out[k + "_len"] = np.array([x.size for x in lst], np.int32)
    return out


def make_viterbi(rng) -> dict:
    out = {}
    nbits = 200
    for i, conv in enumerate(viterbi_ref.CONVENTIONS):
        bits = rng.integers(0, 2, nbits).astype(np.uint8)
        sym = viterbi_ref.conv_encode(bits, conv)
        noisy = (2.0 * sym - 1.0) + 0.8 * rng.standard_normal(sym.size)
        q = viterbi_ref.quantize_soft(noisy.astype(np.float32), 40.0)
        out[f"c{i}_bits"] = bits
        out[f"c{i}_symbols"] = sym
        out[f"c{i}_soft"] = q
        out[f"c{i}_decoded_terminated"] = viterbi_ref.viterbi_decode(q, conv)
        out[f"c{i}_decoded_open"] = viterbi_ref.viterbi_decode(q, conv, terminated=False, start_state=None)
    out["conventions"] = np.array(list(viterbi_ref.CONVENTIONS))
    return out


def main() -> None:
    rng = np.random.default_rng(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, maker in (("crc", make_crc), ("scrambler", make_scrambler), ("golay", make_golay)):
        doc = {"generator": "tools/make_fec_vectors.py", "seed": SEED, **maker(rng)}
        (OUT / f"fec_{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    np.savez_compressed(OUT / "fec_rs.npz", **make_rs(rng))
    np.savez_compressed(OUT / "fec_viterbi.npz", **make_viterbi(rng))
    for p in sorted(OUT.glob("fec_*")):
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
