"""Coded satellite framings, part B: frame error rate vs Eb/N0, theory drawn beside.

Channel: BPSK soft symbols, +-1 plus white Gaussian noise at Es/N0 = Eb/N0 +
10 log10(rate), rate = information bits / channel symbols of what the code
protects (preambles and sync words left out). Frames go back to back (a few
random bits between them) through the streaming deframer in chunks of 8192
symbols: sync search, header decoding and everything else run as on a pass.
A unit counts when its exact data comes out; "wrong" counts units delivered
as valid with wrong data (for the framings with a CRC it must stay 0; for
LilacSat-1, which has none, it is the price of having no check).

Configurations and the theory drawn for each:

* NGHam, RS(47,31) (28-byte payloads) and RS(255,223) (220 bytes), rate =
  payload bits / (codeword + size tag bits). Theory, exact for hard
  decisions: byte error rate V_s = 1 - (1 - p)^8, p = Q(sqrt(2 Es/N0)),
  FER = P[Binomial(n, V_s) > t] (bounded-distance decoding, t = 8 or 16).
* Mobitex data blocks (the unit the deframer delivers), 4 per frame,
  rate 144/240. The deframer decodes each (12,8) word by soft maximum
  likelihood; theory: the union bound on its word error rate, P_w <=
  sum_d A_d Q(sqrt(2 d Es/N0)) with the code's weight enumerator A_d
  counted from its 256 codewords, block error rate 1 - (1 - P_w)^20. Also
  drawn: hard-decision decoding, exact (a word survives 0 or 1 errors).
* LilacSat-1 frames (81 data + 35 Codec2 bytes, ASM included in what the
  Viterbi decoder must get right), rate 928/1920. Theory: the union bound
  on the frame error rate of ML decoding of the K=7 (171,133) code,
  FER <= 960 * sum_d A_d Q(sqrt(2 d Es/N0)), A_d counted on the trellis
  (first-event error bound times the number of decoded bits).

Implementation loss = measured Eb/N0 at FER 1e-2 minus theory (log-linear
interpolation). Prints tables, writes ``bench-out/custom_b_sensitivity.png``.
Units per point: up to ``GROUNDSEG_BENCH_FRAMES`` (default 1000), stopping
after 100 errors.
"""
from __future__ import annotations

import math
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench_ccsds_sensitivity import (binomial_tail, crossing, esn0_lin, qfunc,  # noqa: E402
                                     weight_spectrum)

MAX_UNITS = int(os.environ.get("GROUNDSEG_BENCH_FRAMES", "1000"))
MAX_ERRORS = 100
CHUNK = 8192
TARGET = 1e-2


# --- theory ----------------------------------------------------------------------

def mobitex_weights() -> dict[int, int]:
    from groundseg.framing.mobitex import codeword
    w = [bin(codeword(b)).count("1") for b in range(1, 256)]
    return {d: w.count(d) for d in sorted(set(w))}


def theory_curves(xs):
    spectrum = weight_spectrum()
    mw = mobitex_weights()
    out = {}
    for key, n, k, t in (("ngham47", 47, 28, 8), ("ngham255", 255, 220, 16)):
        rate = 8 * k / (8 * n + 24)
        out[key] = [binomial_tail(n, 1 - (1 - qfunc(math.sqrt(2 * esn0_lin(x, rate)))) ** 8, t)
                    for x in xs]
    soft_w = [min(1.0, sum(a * qfunc(math.sqrt(2 * d * esn0_lin(x, 0.6))) for d, a in mw.items()))
              for x in xs]
    out["mobitex"] = [1 - (1 - pw) ** 20 for pw in soft_w]
    hard = []
    for x in xs:
        p = qfunc(math.sqrt(2 * esn0_lin(x, 0.6)))
        hard.append(1 - ((1 - p) ** 12 + 12 * p * (1 - p) ** 11) ** 20)
    out["mobitex_hard"] = hard
    out["lilacsat"] = [min(1.0, 960 * sum(a * qfunc(math.sqrt(2 * d * esn0_lin(x, 928 / 1920)))
                                          for d, (a, _b) in spectrum.items())) for x in xs]
    return out, spectrum, mw


# --- measurement ---------------------------------------------------------------------

class Config:
    def __init__(self, key, label, framing, rate, grid, make_units, per_batch):
        self.key, self.label, self.framing, self.rate, self.grid = key, label, framing, rate, grid
        self.make_units, self.per_batch = make_units, per_batch


def _stream(cfg, rng):
    """(channel bits, list of units expected) for one batch."""
    from groundseg.framing import get
    fr = get(cfg.framing).make_framer()
    parts = [rng.integers(0, 2, int(rng.integers(40, 80))).astype(np.uint8)]
    units = []
    for _ in range(cfg.per_batch):
        payload, expect = cfg.make_units(rng)
        parts += [fr.frame(payload), rng.integers(0, 2, int(rng.integers(8, 40))).astype(np.uint8)]
        units += expect
    return np.concatenate(parts), units


def measure_point(cfg, ebn0_db, rng) -> dict:
    from groundseg.framing import get
    sigma = math.sqrt(1.0 / (2.0 * esn0_lin(ebn0_db, cfg.rate)))
    res = {"sent": 0, "ok": 0, "wrong": 0, "symbols": 0, "seconds": 0.0}
    while res["sent"] < MAX_UNITS and res["sent"] - res["ok"] < MAX_ERRORS:
        bits, units = _stream(cfg, rng)
        s = (2.0 * bits - 1.0 + sigma * rng.standard_normal(bits.size)).astype(np.float32)
        d = get(cfg.framing).make_deframer()
        t0 = time.perf_counter()
        out = []
        for i in range(0, s.size, CHUNK):
            out += d.process(s[i:i + CHUNK])
        out += d.flush()
        res["seconds"] += time.perf_counter() - t0
        res["symbols"] += s.size
        sent = set(units)
        got = {f.data for f in out if f.valid}
        res["ok"] += len(sent & got)
        res["wrong"] += len(got - sent)
        res["sent"] += len(units)
    res["fer"] = (res["sent"] - res["ok"]) / res["sent"]
    return res


def sweep(cfg, rng) -> list[dict]:
    rows = []
    for e in cfg.grid:
        r = measure_point(cfg, e, rng)
        r["ebn0_db"] = e
        rows.append(r)
        print(f"  {cfg.label:34s} {e:5.2f} dB  FER {r['fer']:.4f} ({r['sent'] - r['ok']}/{r['sent']},"
              f" wrong {r['wrong']})  {r['symbols'] / max(r['seconds'], 1e-9) / 1e3:7.0f} ksym/s",
              flush=True)
        if len(rows) >= 2 and rows[-1]["fer"] == 0.0 and rows[-2]["fer"] == 0.0:
            break
    return rows


def configs():
    from groundseg.framing.lilacsat1 import DATA_BYTES

    def ngham(n):
        def make(rng):
            p = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            return p, [p]
        return make

    def mobitex(rng):
        p = rng.integers(0, 256, 4 * 18, dtype=np.uint8).tobytes()
        return p, [p[i:i + 18] for i in range(0, len(p), 18)]

    def lilac(rng):
        p = rng.integers(0, 256, DATA_BYTES, dtype=np.uint8).tobytes()
        return p, [p]

    g = lambda a, b, s=0.25: [round(x, 2) for x in np.arange(a, b + 1e-9, s)]  # noqa: E731
    return [
        Config("ngham47", "NGHam RS(47,31), 28 B", "NGHam", 224 / 400, g(5.0, 9.0), ngham(28), 20),
        Config("ngham255", "NGHam RS(255,223), 220 B", "NGHam", 1760 / 2064, g(4.0, 8.0), ngham(220), 8),
        Config("mobitex", "Mobitex data blocks (4/frame)", "Mobitex", 0.6, g(4.0, 9.0), mobitex, 10),
        Config("lilacsat", "LilacSat-1 frames", "LilacSat-1", 928 / 1920, g(2.0, 6.0), lilac, 20),
    ]


def main() -> None:
    from groundseg.dsp import fec
    print(f"FEC kernels: {fec.IMPLEMENTATION}; up to {MAX_UNITS} units per point, "
          f"stop after {MAX_ERRORS} errors")
    t_start = time.perf_counter()
    rng = np.random.default_rng(2024)
    xs = [round(x, 3) for x in np.arange(0.0, 12.0, 0.01)]
    theory, spectrum, mw = theory_curves(xs)
    print("(12,8) Mobitex code weight enumerator A_d:", mw)
    cfgs = configs()
    measured = {}
    print("\nMeasured through the streaming deframers:")
    for cfg in cfgs:
        measured[cfg.key] = sweep(cfg, rng)
    print("\nEb/N0 at FER 1e-2 (implementation loss = measured - theory):")
    fmt = (lambda v: "  n/a " if v is None else f"{v:5.2f}")
    for cfg in cfgs:
        rows = measured[cfg.key]
        m = crossing([r["ebn0_db"] for r in rows], [r["fer"] for r in rows], TARGET)
        t = crossing(xs, theory[cfg.key], TARGET)
        loss = None if m is None or t is None else m - t
        print(f"  {cfg.label:34s} measured {fmt(m)} dB   theory {fmt(t)} dB   loss {fmt(loss)} dB")
    h = crossing(xs, theory["mobitex_hard"], TARGET)
    print(f"  (Mobitex with hard-decision (12,8) decoding, exact: {fmt(h)} dB)")
    wrong = {cfg.key: sum(r["wrong"] for r in measured[cfg.key]) for cfg in cfgs}
    print(f"units delivered as valid with wrong data: {wrong} (must be 0 except LilacSat-1: no CRC)")
    print(f"({time.perf_counter() - t_start:.0f} s)")
    plot(cfgs, measured, xs, theory)


def plot(cfgs, measured, xs, theory) -> None:
    from _plot import OUT as out, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 6.5))
    labels = {"ngham47": "exact, hard-decision RS t=8", "ngham255": "exact, hard-decision RS t=16",
              "mobitex": "union bound, soft ML (12,8) words",
              "lilacsat": "union bound, ML Viterbi (171,133), 960 bits"}
    for i, cfg in enumerate(cfgs):
        c = f"C{i}"
        rows = [r for r in measured[cfg.key] if r["fer"] > 0]
        ax.semilogy([r["ebn0_db"] for r in rows], [r["fer"] for r in rows], "o-", color=c,
                    label=f"{cfg.label}: measured")
        ys = theory[cfg.key]
        pts = [(x, y) for x, y in zip(xs, ys) if 1e-5 < y <= 1.0]
        ax.semilogy([x for x, _ in pts], [y for _, y in pts], "--", color=c, lw=1,
                    label=f"  theory: {labels[cfg.key]}")
        if cfg.key == "mobitex":
            pts = [(x, y) for x, y in zip(xs, theory["mobitex_hard"]) if 1e-5 < y <= 1.0]
            ax.semilogy([x for x, _ in pts], [y for _, y in pts], ":", color=c, lw=1,
                        label="  theory: hard-decision (12,8), exact")
    ax.axhline(TARGET, color="grey", lw=0.6)
    ax.set_xlim(1.5, 10.5)
    ax.set_ylim(0.5 / MAX_UNITS / 2, 1.2)
    ax.set_xlabel("Eb/N0 per information bit (dB)")
    ax.set_ylabel("frame (block) error rate")
    ax.set_title("NGHam, Mobitex, LilacSat-1 over AWGN (BPSK soft symbols)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = out / "custom_b_sensitivity.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
