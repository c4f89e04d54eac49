"""HDLC/AX.25 kernels: throughput kernel vs reference, soft repair gain and false accepts.

Measured side by side in one run:

1. Receive kernel (``groundseg.dsp.hdlc.HdlcDecoder``: G3RUH, NRZI, flag
   search, unstuffing, CRC) against the reference (``hdlc_ref``), channel
   symbols per second, on Gaussian noise and on back-to-back noisy frames.
   Then the whole ``AX25Deframer`` (kernel + soft history + repair) with
   repair off and on, on the same inputs.
2. Soft repair kernel (syndrome search) against the reference's brute force,
   time per failed span, on the same spans (and a check they agree).
3. False accepts on noise: frames delivered from ``NOISE_SYMBOLS`` Gaussian
   noise symbols, per repair setting, with the CRC alone and with the AX.25
   address check, against the bound C(N,<=k)/65536 per failed span.
4. Frame success vs Eb/N0 on BPSK-equivalent soft symbols (+-1 plus white
   Gaussian noise, Eb per channel bit), 100-byte frames, repair off / k=1 /
   k=2 / k=3: ``bench-out/hdlc_repair.png``.
"""
from __future__ import annotations

import math
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from groundseg.dsp import hdlc as K  # noqa: E402
from groundseg.dsp import hdlc_ref as R  # noqa: E402
from groundseg.framing import ax25  # noqa: E402

KERNEL_SYMBOLS = 4_000_000
REF_SYMBOLS = 200_000
NOISE_SYMBOLS = int(os.environ.get("GROUNDSEG_BENCH_NOISE", "20000000"))
FER_FRAMES = int(os.environ.get("GROUNDSEG_BENCH_FRAMES", "300"))
CHUNK = 8192


def _traffic(rng, g3ruh, n_symbols, noise=0.35):
    framer = ax25.AX25Framer(g3ruh, 4, 1)
    parts, n = [], 0
    while n < n_symbols:
        p = ax25.ui_frame("CQ", "SP5XYZ-1", bytes(rng.integers(0, 256, 100, dtype=np.uint8)))
        parts.append(framer.frame(p))
        n += len(parts[-1])
    bits = np.concatenate(parts)[:n_symbols]
    return (2.0 * bits - 1 + rng.normal(0, noise, len(bits))).astype(np.float32)


def _rate(fn, x, repeat=3):
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - t)
    return len(x) / best / 1e6


def _chunked(make):
    def run(x):
        d = make()
        for i in range(0, len(x), CHUNK):
            d.process(x[i:i + CHUNK])
    return run


def throughput(rng) -> None:
    print("\n1. receive throughput, M channel symbols/s (best of 3; 8192-symbol chunks)")
    print(f"{'input':<22}{'framing':<8}{'kernel':>9}{'reference':>11}{'ratio':>8}"
          f"{'deframer':>10}{'+repair':>9}")
    for name, gen in (("Gaussian noise", lambda g, n: rng.normal(0, 1, n).astype(np.float32)),
                      ("frames, sigma 0.35", lambda g, n: _traffic(rng, g, n))):
        for g3ruh in (False, True):
            x = gen(g3ruh, KERNEL_SYMBOLS)
            k = _rate(_chunked(lambda: K.HdlcDecoder(g3ruh)), x)
            r = _rate(_chunked(lambda: R.HdlcDecoder(g3ruh)), x[:REF_SYMBOLS], repeat=1)
            d0 = _rate(_chunked(lambda: ax25.AX25Deframer(g3ruh, repair_flips=0)), x)
            d2 = _rate(_chunked(lambda: ax25.AX25Deframer(g3ruh)), x[:KERNEL_SYMBOLS // 4], 1)
            print(f"{name:<22}{'G3RUH' if g3ruh else 'NRZI':<8}{k:9.1f}{r:11.2f}{k / r:7.0f}x"
                  f"{d0:10.1f}{d2:9.1f}")


def repair_speed(rng) -> None:
    print("\n2. soft repair per failed span (k=2 of N=12), kernel syndrome search vs reference brute force")
    print(f"{'spans from':<22}{'framing':<8}{'spans':>6}{'kernel us':>11}{'ref us':>9}"
          f"{'ratio':>8}{'repaired':>9}  agree")
    for name, gen in (("noisy frames", lambda g: _traffic(rng, g, 300_000, noise=0.33)),
                      ("Gaussian noise", lambda g: rng.normal(0, 1, 300_000).astype(np.float32))):
        for g3ruh in (False, True):
            x = gen(g3ruh)
            spans = []
            for _, start, end, status, alt, alt2 in K.HdlcDecoder(g3ruh, emit_bad=True).process(x):
                if status == K.STATUS_OK:
                    continue
                for s in ([start] if status != K.STATUS_SHORT else []) + [a for a in (alt, alt2) if a >= 0]:
                    if s >= K.SPAN_MARGIN:
                        spans.append((x[s - K.SPAN_MARGIN:end], K.SPAN_MARGIN, end - s + K.SPAN_MARGIN))
            spans = spans[:60]
            rep = K.Repairer(g3ruh, 2, 12)
            t = time.perf_counter()
            got_k = [rep.repair(*s) for s in spans]
            tk = (time.perf_counter() - t) / len(spans) * 1e6
            t = time.perf_counter()
            got_r = [R.repair(*s, g3ruh, 2, 12) for s in spans]
            tr = (time.perf_counter() - t) / len(spans) * 1e6
            fixed = sum(g is not None for g in got_k)
            print(f"{name:<22}{'G3RUH' if g3ruh else 'NRZI':<8}{len(spans):6d}{tk:11.1f}{tr:9.0f}"
                  f"{tr / tk:7.0f}x{fixed:9d}  {got_k == got_r}")


def false_accepts(rng) -> None:
    print(f"\n3. false frames from {NOISE_SYMBOLS / 1e6:.0f} M Gaussian noise symbols")
    print(f"{'framing':<8}{'k':>2}{'N':>4}{'trials':>7}{'spans':>8}{'CRC only':>9}{'per span':>10}"
          f"{'bound':>9}{'+ address check':>17}")
    x = rng.normal(0, 1, NOISE_SYMBOLS).astype(np.float32)
    for g3ruh in (False, True):
        for k, n in ((0, 0), (1, 12), (2, 12), (3, 16)):
            trials = sum(math.comb(n, i) for i in range(1, k + 1))
            row = []
            for check in (False, True):
                d = ax25.AX25Deframer(g3ruh, repair_flips=k, repair_candidates=n,
                                      check_repaired_header=check)
                got = 0
                for i in range(0, len(x), CHUNK):
                    got += len(d.process(x[i:i + CHUNK]))
                row.append((got, d.stats["repair_spans"]))
            (bare, spans), (checked, _) = row
            per = bare / spans if spans else 0.0
            print(f"{'G3RUH' if g3ruh else 'NRZI':<8}{k:2d}{n:4d}{trials:7d}{spans:8d}{bare:9d}"
                  f"{per:10.1e}{trials / 65536:9.1e}{checked:17d}")


def fer_curve(rng) -> None:
    print(f"\n4. frames decoded of {FER_FRAMES} (100-byte info) vs Eb/N0, soft symbols, AX.25 G3RUH / AX.25")
    settings = [("no repair", 0, 0), ("k=1 N=12", 1, 12), ("k=2 N=12", 2, 12), ("k=3 N=16", 3, 16)]
    ebn0 = [3, 4, 5, 6, 7, 8, 9]
    results = {}
    for g3ruh in (True, False):
        framer = ax25.AX25Framer(g3ruh, 8, 2)
        payloads = [ax25.ui_frame("CQ", "SP5XYZ-1", bytes(rng.integers(0, 256, 100, dtype=np.uint8)))
                    for _ in range(FER_FRAMES)]
        bits = framer.frames(payloads)
        sent = set(payloads)
        print(f"{'G3RUH' if g3ruh else 'NRZI':<8}{'Eb/N0 dB':>9}" + "".join(f"{s[0]:>11}" for s in settings))
        for e in ebn0:
            sigma = math.sqrt(1 / (2 * 10 ** (e / 10)))
            soft = (2.0 * bits - 1 + rng.normal(0, sigma, len(bits))).astype(np.float32)
            row = []
            for _, k, n in settings:
                d = ax25.AX25Deframer(g3ruh, repair_flips=k, repair_candidates=n)
                got = set()
                for i in range(0, len(soft), CHUNK):
                    got |= {f.data for f in d.process(soft[i:i + CHUNK])}
                row.append(len(got & sent))
                results.setdefault((g3ruh, k), []).append(len(got & sent) / FER_FRAMES)
            print(f"{'':<8}{e:9d}" + "".join(f"{v:11d}" for v in row))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, g3ruh in zip(axes, (True, False)):
        for label, k, _ in settings:
            ax.plot(ebn0, results[(g3ruh, k)], marker="o", label=label)
        ax.set_title("AX.25 G3RUH" if g3ruh else "AX.25 (NRZI)")
        ax.set_xlabel("Eb/N0 (dB), soft symbols")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("fraction of frames decoded")
    axes[0].legend()
    out = ROOT / "bench-out" / "hdlc_repair.png"
    out.parent.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out.relative_to(ROOT)}")


def main() -> None:
    rng = np.random.default_rng(2024)
    throughput(rng)
    repair_speed(rng)
    false_accepts(rng)
    fer_curve(rng)


if __name__ == "__main__":
    main()
