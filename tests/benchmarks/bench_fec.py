"""FEC kernels: throughput of groundseg's Cython kernels vs libfec (Debian libfec0) and the references.

Measured side by side in one run, on the same data, rounds interleaved (ours,
theirs, ours, theirs ...) and the best round kept, since the machine is shared:

* Viterbi K=7 r=1/2 (CCSDS convention), blocks of 8920 data bits + 6 tail
  bits (one CCSDS I=5 frame), soft symbols at Eb/N0 = 4 dB. Ours:
  ``ViterbiDecoder.decode_block`` on float32 (quantisation included) and on
  int8, and ``decode_stream`` in 4096-symbol chunks. libfec:
  ``init_viterbi27`` + ``update_viterbi27_blk`` + ``chainback_viterbi27`` through
  ctypes on the same symbols as unsigned char (128 + 40 y: 0 = strong 0,
  255 = strong 1, 128 = erasure) with its polynomial pair set to the CCSDS
  convention (0x4F, -0x6D: libfec's polynomials are bit-reversed, LSB = newest
  bit, negative = inverted output). Both decoders' bit errors are printed too.
* Reed-Solomon (255,223) CCSDS, conventional (libfec ``decode_rs_8``) and dual
  basis (``decode_rs_ccsds``), 0, 8 and 16 symbol errors, 256 different
  codewords per setting. Ours through the Python API (``decode_inplace``, one
  call per codeword, call overhead included); libfec once through ctypes per
  codeword and once in a C loop compiled here against -lfec (its best case,
  no per-call overhead) when a C compiler is present.
* Golay(24,12), CRC and scramblers: kernel vs the reference, plus zlib /
  binascii as native CRC peers (which ``crc32()`` and ``crc16_ccitt_false()``
  call: the CRC rows time our table engine).

Prints tables with ratios and writes ``bench-out/bench_fec.png`` (when
matplotlib is available) and ``bench-out/bench_fec.json``.
"""
from __future__ import annotations

import binascii
import ctypes
import ctypes.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from groundseg.dsp import crc, crc_ref, golay, golay_ref, reedsolomon, scrambler, scrambler_ref, viterbi  # noqa: E402

OUT = ROOT / "bench-out"
ROUNDS = int(os.environ.get("GROUNDSEG_BENCH_ROUNDS", "7"))
NBITS = 8920
SEED = 4242

_HARNESS_C = r"""
#include <fec.h>
#include <string.h>
/* decode ncw codewords of 255 bytes, reps times; returns the sum of the results */
long rs_loop(int dual, const unsigned char *cws, int ncw, int reps, unsigned char *work) {
    long total = 0;
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < ncw; i++) {
            memcpy(work, cws + 255 * i, 255);
            total += dual ? decode_rs_ccsds(work, 0, 0, 0) : decode_rs_8(work, 0, 0, 0);
        }
    return total;
}
"""


# ------------------------------------------------------------------ libfec access

def load_libfec():
    path = ctypes.util.find_library("fec")
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    lib.create_viterbi27.restype = ctypes.c_void_p
    lib.create_viterbi27.argtypes = [ctypes.c_int]
    lib.init_viterbi27.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.update_viterbi27_blk.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.chainback_viterbi27.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    lib.delete_viterbi27.argtypes = [ctypes.c_void_p]
    for f in ("decode_rs_8", "decode_rs_ccsds"):
        getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    return lib


def build_harness(tmp: pathlib.Path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src, so = tmp / "harness.c", tmp / "harness.so"
    src.write_text(_HARNESS_C)
    r = subprocess.run([cc, "-O2", "-shared", "-fPIC", str(src), "-o", str(so), "-lfec"],
                       capture_output=True, text=True)
    if r.returncode:
        print(f"(libfec C harness not built: {r.stderr.strip()[:200]})")
        return None
    h = ctypes.CDLL(str(so))
    h.rs_loop.restype = ctypes.c_long
    h.rs_loop.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    return h


# ------------------------------------------------------------------ timing

def best_of(fns: dict, rounds: int = ROUNDS) -> dict:
    """{name: callable returning the number of work items} -> {name: best items/s}; rounds interleaved."""
    best = {k: 0.0 for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            n = fn()
            dt = time.perf_counter() - t0
            best[name] = max(best[name], n / dt)
    return best


def fmt_rate(x: float) -> str:
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= f:
            return f"{x / f:8.2f} {unit}"
    return f"{x:8.1f}  "


# ------------------------------------------------------------------ Viterbi

def bench_viterbi(lib, rng) -> list[dict]:
    bits = rng.integers(0, 2, NBITS).astype(np.uint8)
    sym = viterbi.conv_encode(bits, "CCSDS")
    sigma = np.sqrt(1.0 / (2 * 0.5 * 10 ** (4.0 / 10)))
    soft = ((2.0 * sym - 1.0) + sigma * rng.standard_normal(sym.size)).astype(np.float32)
    soft_i8 = viterbi.quantize_soft(soft)
    soft_u8 = np.clip(np.rint(128 + 40 * soft), 0, 255).astype(np.uint8)
    dec = viterbi.ViterbiDecoder("CCSDS")
    errors = {"ours": int((dec.decode_block(soft) != bits).sum())}
    reps = 4

    def ours_f32():
        for _ in range(reps):
            dec.decode_block(soft)
        return reps * NBITS

    def ours_i8():
        for _ in range(reps):
            dec.decode_block(soft_i8)
        return reps * NBITS

    chunks = [soft[i:i + 4096] for i in range(0, soft.size, 4096)]
    sdec = viterbi.ViterbiDecoder("CCSDS", traceback=96)

    def ours_stream():
        n = 0
        for _ in range(reps):
            for c in chunks:
                n += sdec.decode_stream(c).size
        return n

    fns = {"ours float32 block": ours_f32, "ours int8 block": ours_i8, "ours float32 stream": ours_stream}
    if lib is not None:
        lib.set_viterbi27_polynomial((ctypes.c_int * 2)(0x4F, -0x6D))
        v = lib.create_viterbi27(NBITS)
        out = np.zeros(NBITS // 8, np.uint8)

        def libfec():
            for _ in range(reps):
                lib.init_viterbi27(v, 0)
                lib.update_viterbi27_blk(v, soft_u8.ctypes.data, NBITS + 6)
                lib.chainback_viterbi27(v, out.ctypes.data, NBITS, 0)
            return reps * NBITS

        libfec()
        errors["libfec"] = int((np.unpackbits(out) != bits).sum())
        fns["libfec viterbi27 (ctypes)"] = libfec
    rates = best_of(fns)
    if lib is not None:
        lib.delete_viterbi27(v)
        lib.set_viterbi27_polynomial((ctypes.c_int * 2)(0x4F, 0x6D))
    print(f"\nViterbi K=7 r=1/2 CCSDS, {NBITS}-bit blocks, Eb/N0 4 dB "
          f"(bit errors: ours {errors['ours']}, libfec {errors.get('libfec', 'n/a')})")
    print(f"  {'decoder':32s} {'decoded bit/s':>14s}  {'vs libfec':>9s}")
    base = rates.get("libfec viterbi27 (ctypes)")
    rows = []
    for name, r in rates.items():
        ratio = f"{r / base:8.2f}x" if base else "      n/a"
        print(f"  {name:32s} {fmt_rate(r)}bit/s  {ratio}")
        rows.append(dict(kernel="viterbi", case=name, rate=r, unit="bit/s",
                         ratio_vs_libfec=(r / base if base else None)))
    return rows


# ------------------------------------------------------------------ Reed-Solomon

def bench_rs(lib, harness, rng) -> list[dict]:
    rows = []
    ncw, reps = 256, 4
    print(f"\nReed-Solomon (255,223) CCSDS decode, {ncw} codewords per case (codewords/s)")
    print(f"  {'basis':12s} {'errors':>6s} {'ours (Python API)':>18s} {'libfec ctypes':>14s} "
          f"{'libfec C loop':>14s} {'ours/ctypes':>11s} {'ours/C':>7s}")
    for dual in (False, True):
        rs = reedsolomon.ccsds_rs(dual_basis=dual)
        for n_err in (0, 8, 16):
            cws = np.empty((ncw, 255), np.uint8)
            for i in range(ncw):
                cw = rs.encode_codeword(rng.integers(0, 256, 223, dtype=np.uint8))
                pos = rng.choice(255, n_err, replace=False)
                cw[pos] ^= rng.integers(1, 256, n_err, dtype=np.uint8)
                cws[i] = cw
            work = np.empty(255, np.uint8)

            def ours():
                for _ in range(reps):
                    for i in range(ncw):
                        np.copyto(work, cws[i])
                        rs.decode_inplace(work)
                return reps * ncw

            # correctness on this data: every codeword decodes to n_err corrections
            assert all(rs.decode(cws[i])[1] == n_err for i in range(0, ncw, 17))
            fns = {"ours": ours}
            if lib is not None:
                fn = lib.decode_rs_ccsds if dual else lib.decode_rs_8
                cbuf = (ctypes.c_ubyte * 255)()
                addrs = [cws[i].ctypes.data for i in range(ncw)]

                def theirs():
                    for _ in range(reps):
                        for a in addrs:
                            ctypes.memmove(cbuf, a, 255)
                            fn(cbuf, None, 0, 0)
                    return reps * ncw
                ctypes.memmove(cbuf, addrs[0], 255)
                assert fn(cbuf, None, 0, 0) == n_err
                fns["ctypes"] = theirs
            if harness is not None:
                def c_loop():
                    total = harness.rs_loop(int(dual), cws.ctypes.data, ncw, reps, work.ctypes.data)
                    assert total == reps * ncw * n_err
                    return reps * ncw
                fns["C"] = c_loop
            r = best_of(fns)
            vs_ct = r["ours"] / r["ctypes"] if "ctypes" in r else None
            vs_c = r["ours"] / r["C"] if "C" in r else None
            print(f"  {'dual' if dual else 'conventional':12s} {n_err:6d} {fmt_rate(r['ours']):>18s} "
                  f"{fmt_rate(r['ctypes']) if 'ctypes' in r else 'n/a':>14s} "
                  f"{fmt_rate(r['C']) if 'C' in r else 'n/a':>14s} "
                  f"{(f'{vs_ct:10.2f}x' if vs_ct else 'n/a'):>11s} {(f'{vs_c:6.2f}x' if vs_c else 'n/a'):>7s}")
            rows.append(dict(kernel="rs", case=f"{'dual' if dual else 'conv'} {n_err} errors",
                             rate=r["ours"], unit="codeword/s", libfec_ctypes=r.get("ctypes"),
                             libfec_c=r.get("C"), ratio_vs_libfec=vs_c or vs_ct))
    return rows


# ------------------------------------------------------------------ Golay, CRC, scramblers

def bench_small(rng) -> list[dict]:
    rows = []
    print(f"\nGolay, CRC, scramblers: kernel vs reference (and native peers)")
    print(f"  {'operation':42s} {'kernel':>12s} {'reference':>12s} {'peer':>12s} {'kernel/ref':>10s}")

    def line(name, unit, k, r, peer=None, peer_name=""):
        print(f"  {name:42s} {fmt_rate(k)}{unit[0]} {fmt_rate(r)}{unit[0]} "
              f"{(fmt_rate(peer) + unit[0]) if peer else '         n/a':>12s} {k / r:9.1f}x"
              + (f"  (peer: {peer_name})" if peer else ""))
        rows.append(dict(kernel="misc", case=name, rate=k, unit=unit, reference=r, peer=peer,
                         peer_name=peer_name or None, ratio_vs_reference=k / r))

    words = rng.integers(0, 1 << 24, 20000).astype(np.uint32)
    small = words[:200]
    r = best_of({"k": lambda: golay.golay24_decode_array(words)[0].size,
                 "r": lambda: golay_ref.golay24_decode_array(small)[0].size}, 3)
    line("Golay24 decode (random words)", "word/s", r["k"], r["r"])
    data = rng.integers(0, 4096, 20000)
    r = best_of({"k": lambda: golay.golay24_encode_array(data).size,
                 "r": lambda: golay_ref.golay24_encode_array(data).size}, 3)
    line("Golay24 encode", "word/s", r["k"], r["r"])

    big = rng.integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    little = big[:2048]
    assert crc.crc(big, crc_ref.CRC32) == zlib.crc32(big)
    assert crc.crc(big, crc_ref.CRC16_CCITT_FALSE) == binascii.crc_hqx(big, 0xFFFF)
    # "kernel" is our table engine; crc.crc32()/crc16_ccitt_false() use the peers themselves
    for name, fk, fr, peer, pname in (
            ("CRC-32 table (1 MiB)", crc.Crc(crc_ref.CRC32).compute, crc_ref.crc32, zlib.crc32, "zlib.crc32"),
            ("CRC-32C table (1 MiB)", crc.crc32c, crc_ref.crc32c, None, ""),
            ("CRC-16/X.25 table (1 MiB)", crc.crc16_x25, crc_ref.crc16_x25, None, ""),
            ("CRC-16/CCITT-FALSE table (1 MiB)", crc.Crc(crc_ref.CRC16_CCITT_FALSE).compute,
             crc_ref.crc16_ccitt_false, lambda b: binascii.crc_hqx(b, 0xFFFF), "binascii.crc_hqx")):
        fns = {"k": lambda: (fk(big), len(big))[1], "r": lambda: (fr(little), len(little))[1]}
        if peer:
            fns["p"] = lambda: (peer(big), len(big))[1]
        r = best_of(fns, 3)
        line(name, "B/s", r["k"], r["r"], r.get("p"), pname)

    frame = rng.integers(0, 256, 1115, dtype=np.uint8)
    r = best_of({"k": lambda: scrambler.ccsds_randomize(frame).size,
                 "r": lambda: scrambler_ref.ccsds_randomize(frame).size}, 5)
    line("CCSDS derandomize (1115-byte frame)", "B/s", r["k"], r["r"])
    bits = rng.integers(0, 2, 100000, dtype=np.uint8)
    ks, rs_ = scrambler.MultiplicativeDescrambler(), scrambler_ref.MultiplicativeDescrambler()
    r = best_of({"k": lambda: ks.descramble(bits).size, "r": lambda: rs_.descramble(bits[:5000]).size}, 3)
    line("G3RUH descramble", "bit/s", r["k"], r["r"])
    return rows


def plot(rows: list[dict]) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not available: no plot)")
        return
    sel = [r for r in rows if r.get("ratio_vs_libfec") and not r["case"].startswith("libfec")]
    if not sel:
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.barh([f"{r['kernel']}: {r['case']}" for r in sel], [r["ratio_vs_libfec"] for r in sel])
    ax.axvline(1.0, color="k", lw=1)
    ax.axvline(4.0, color="g", ls="--", lw=1, label="4x libfec")
    ax.set_xlabel("throughput / libfec (C loop for RS, ctypes for Viterbi)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(OUT / "bench_fec.png", dpi=100)
    plt.close(fig)
    print(f"plot: {OUT / 'bench_fec.png'}")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    rng = np.random.default_rng(SEED)
    lib = load_libfec()
    if lib is None:
        print("libfec not found (install libfec-dev): only our own figures are printed")
    with tempfile.TemporaryDirectory() as tmp:
        harness = build_harness(pathlib.Path(tmp)) if lib is not None else None
        rows = bench_viterbi(lib, rng)
        rows += bench_rs(lib, harness, rng)
    rows += bench_small(rng)
    (OUT / "bench_fec.json").write_text(json.dumps(rows, indent=1))
    plot(rows)


if __name__ == "__main__":
    main()
