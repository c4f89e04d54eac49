"""AO-40 FEC (long, short) and SMOG-P RA: frame error rate vs Eb/N0, theory drawn beside.

Channel: BPSK soft symbols, +-1 plus white Gaussian noise at Es/N0 = Eb/N0 +
10 log10(rate), Eb per data bit, rate = data bits / channel symbols of the
whole frame, sync included (AO-40's sync vector lives inside the interleaver:
2048/5200 long, 1024/2652 short; RA: 1024/2096 and 2048/4128 with the 16-bit
sync word). Frames are sent back to back with a few random bits between them
and go through the streaming deframer in chunks of 8192 symbols, sync search
included. A frame counts when its exact data comes out. Frames lost are split
into "sync" (nothing at the frame's position even with ``keep_invalid``: sync missed,
or for RA the parity-check score below 3) and
"fec" (found, decoding failed); "false" counts valid frames with wrong data or
anywhere else (must stay 0).

Reference curves:

* Genie, AO-40: the code itself with perfect sync, simulated on the real
  block (RS encoding, scrambler, convolutional code, ML Viterbi with known
  start and end state, bounded-distance RS decoding t = 16); the interleaver
  does not matter on AWGN. Genie, RA: the same belief-propagation decoder on
  the codeword's own symbols (perfect sync).
* AO-40 semi-analytical, as in CCSDS 130.1-G section 6.3: the byte error
  rate V_s at the output of the ML Viterbi decoder (terminated blocks of the
  same length at the same Es/N0, at least 4e5 bytes per point), then
  bounded-distance RS decoding with independent byte errors (ideal
  interleaving): P_w = P[Binomial(160, V_s) > 16], FER = 1 - (1 - P_w)^I
  (I = 2 long, 1 short; for I = 1 optimistic, since a Viterbi error burst
  often spans two bytes of the codeword).
* For both families, the normal approximation of the best possible (n, k)
  code on the binary-input AWGN channel (Polyanskiy, Poor, Verdu 2010: FER =
  Q((n C - k + log2(n)/2) / sqrt(n V)), C and V the BI-AWGN capacity and
  dispersion at Es/N0): the finite-length limit.

Implementation loss = Eb/N0 at FER 1e-2 of the streaming deframer minus the
genie's (log-linear interpolation): what sync detection and the rest cost;
the gaps to the semi-analytical curve and to the normal approximation are
printed too. Prints tables, writes
``bench-out/ao40_sensitivity.png``. Frames per point: up to
``GROUNDSEG_BENCH_FRAMES`` (default 1000 for AO-40, 400 for RA), stopping
after 100 frame errors.
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

ENV_FRAMES = os.environ.get("GROUNDSEG_BENCH_FRAMES")
MAX_ERRORS = 100
CHUNK = 8192
TARGET_FER = 1e-2
GENIE_MIN_BYTES = 400_000


# --- theory ----------------------------------------------------------------------------

def esn0_lin(ebn0_db: float, rate: float) -> float:
    return rate * 10 ** (ebn0_db / 10)


def binomial_tail(n: int, p: float, t: int) -> float:
    """P[Binomial(n, p) > t]."""
    if p <= 0:
        return 0.0
    head = sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(t + 1))
    return max(0.0, 1.0 - head)


def rs_frame_error(v_s: float, depth: int, n: int = 160, t: int = 16) -> float:
    return 1.0 - (1.0 - binomial_tail(n, v_s, t)) ** depth


def genie_byte_error_rate(esn0: float, rng, block_bytes: int) -> float:
    """Byte error rate of ML Viterbi decoding, perfect sync, terminated blocks."""
    from groundseg.dsp import fec
    sigma = math.sqrt(1.0 / (2.0 * esn0))
    dec = fec.ViterbiDecoder("CCSDS")
    errors = total = 0
    while total < GENIE_MIN_BYTES:
        data = rng.integers(0, 256, block_bytes, dtype=np.uint8)
        sym = fec.conv_encode(np.unpackbits(data), "CCSDS", terminate=True)
        y = (2.0 * sym - 1.0 + sigma * rng.standard_normal(sym.size)).astype(np.float32)
        out = np.packbits(dec.decode_block(y, terminated=True))
        errors += int(np.count_nonzero(out != data))
        total += block_bytes
    return errors / total


def ao40_genie_fer(cfg, ebn0_db: float, rng) -> float:
    """FER of the AO-40 code itself: perfect sync, the real block (RS, scrambler, Viterbi)."""
    from groundseg.dsp import fec
    from groundseg.framing.ao40 import VARIANTS
    v = VARIANTS["long" if cfg.data_bytes == 256 else "short"]
    rs = fec.ReedSolomon(dual_basis=False)
    dec = fec.ViterbiDecoder("CCSDS")
    sigma = math.sqrt(1.0 / (2.0 * esn0_lin(ebn0_db, cfg.rate)))
    n = errors = 0
    while n < cfg.frames and errors < MAX_ERRORS:
        d = rng.integers(0, 256, cfg.data_bytes, dtype=np.uint8)
        block = rs.encode_codeword(d) if v.rs_depth == 1 else rs.encode_interleaved(d, v.rs_depth)
        sym = fec.conv_encode(np.unpackbits(np.asarray(block, np.uint8) ^ v.pn), "CCSDS", terminate=True)
        y = (2.0 * sym - 1.0 + sigma * rng.standard_normal(sym.size)).astype(np.float32)
        got = np.packbits(dec.decode_block(y, terminated=True)) ^ v.pn
        if v.rs_depth == 1:
            out, k = rs.decode(got)
            ok = k >= 0
        else:
            out, ks = rs.decode_interleaved(got, v.rs_depth)
            ok = all(k >= 0 for k in ks)
        errors += not (ok and bytes(np.asarray(out, np.uint8)[:cfg.data_bytes]) == d.tobytes())
        n += 1
    return errors / n


def biawgn_capacity_dispersion(esn0: float) -> tuple[float, float]:
    """Capacity (bits) and dispersion (bits^2) of BPSK on AWGN at Es/N0 (Gauss-Hermite)."""
    x, w = np.polynomial.hermite_e.hermegauss(80)      # weight exp(-x^2/2)
    w = w / w.sum()
    mu, sd = 4.0 * esn0, math.sqrt(8.0 * esn0)           # LLR of the sent symbol
    llr = mu + sd * x
    info = 1.0 - np.logaddexp(0.0, -llr) / math.log(2.0)
    c = float(np.sum(w * info))
    v = float(np.sum(w * (info - c) ** 2))
    return c, v


def normal_approximation(esn0: float, n: int, k: int) -> float:
    c, v = biawgn_capacity_dispersion(esn0)
    if v <= 0:
        return 0.0
    z = (n * c - k + 0.5 * math.log2(n)) / math.sqrt(n * v)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def crossing(x, fer, target: float = TARGET_FER) -> float | None:
    """Eb/N0 where the FER curve crosses target (log-linear interpolation)."""
    for i in range(len(x) - 1):
        a, b = fer[i], fer[i + 1]
        if a >= target > b:
            if b <= 0:
                return x[i + 1]
            la, lb, lt = math.log10(a), math.log10(b), math.log10(target)
            return x[i] + (x[i + 1] - x[i]) * (la - lt) / (la - lb)
    return None


# --- measurement ---------------------------------------------------------------------------

class Config:
    def __init__(self, label, family, framing, opts, data_bytes, grid, frames):
        from groundseg.framing import get
        self.label, self.family, self.framing, self.opts = label, family, framing, opts
        self.data_bytes = data_bytes
        self.grid = grid
        self.frames = int(ENV_FRAMES) if ENV_FRAMES else frames
        self.spec = get(framing)
        self.frame_symbols = len(self.spec.make_framer(**opts).frame(bytes(data_bytes)))
        self.rate = 8 * data_bytes / self.frame_symbols


def measure_point(cfg: Config, ebn0_db: float, rng) -> dict:
    esn0 = esn0_lin(ebn0_db, cfg.rate)
    sigma = math.sqrt(1.0 / (2.0 * esn0))
    framer = cfg.spec.make_framer(**cfg.opts)
    deframer = cfg.spec.make_deframer(**cfg.opts, keep_invalid=True)
    sent = lost_sync = lost_fec = false = 0
    t0 = time.perf_counter()
    batch = 20
    pos = 0                                   # symbols sent so far (the deframer's clock)
    while sent < cfg.frames and lost_sync + lost_fec < MAX_ERRORS:
        payloads, ends, parts = [], [], []
        for _ in range(batch):
            gap = rng.integers(0, 2, int(rng.integers(20, 60))).astype(np.uint8)
            p = rng.integers(0, 256, cfg.data_bytes, dtype=np.uint8).tobytes()
            bits = framer.frame(p)
            parts += [gap, bits]
            pos += len(gap) + len(bits)
            payloads.append(p)
            ends.append(pos)
        parts.append(rng.integers(0, 2, 50).astype(np.uint8))
        pos += 50
        stream = np.concatenate(parts)
        y = (2.0 * stream - 1.0 + sigma * rng.standard_normal(stream.size)).astype(np.float32)
        frames = []
        for i in range(0, len(y), CHUNK):
            frames += deframer.process(y[i:i + CHUNK])
        frames += deframer.flush()      # the batch ends with random bits: nothing held back
        by_end = {}
        for f in frames:
            by_end.setdefault(int(f.end_symbol), []).append(f)
        for p, e in zip(payloads, ends):
            here = by_end.pop(e, [])
            good = [f for f in here if f.valid and f.data == p]
            if good:
                continue
            if any(f.valid for f in here):
                false += 1
            if here:
                lost_fec += 1
            else:
                lost_sync += 1
        false += sum(1 for fs in by_end.values() for f in fs if f.valid)
        sent += batch
    lost = lost_sync + lost_fec
    return {"ebn0": ebn0_db, "sent": sent, "fer": lost / sent, "sync": lost_sync, "fec": lost_fec,
            "false": false, "s_per_frame": (time.perf_counter() - t0) / sent}


def ra_decoder_alone(cfg: Config, ebn0_db: float, rng) -> float:
    """FER of the RA decoder with perfect sync (the codeword's own symbols)."""
    from groundseg.framing.smogp import RA_MAX_ERROR_FRACTION
    try:
        from groundseg.dsp.ra_code import RaCode
    except ImportError:
        from groundseg.dsp.ra_code_ref import RaCode
    code = RaCode(cfg.data_bytes)
    sigma = math.sqrt(1.0 / (2.0 * esn0_lin(ebn0_db, cfg.rate)))
    n = errors = 0
    while n < cfg.frames and errors < MAX_ERRORS:
        d = rng.integers(0, 256, cfg.data_bytes, dtype=np.uint8).tobytes()
        bits = code.encode(d)
        y = (2.0 * bits - 1.0 + sigma * rng.standard_normal(bits.size)).astype(np.float32)
        r = code.decode(y, max_error_fraction=RA_MAX_ERROR_FRACTION)
        errors += not (r.valid and r.data == d)
        n += 1
    return errors / n


# --- main ----------------------------------------------------------------------------------

def main() -> None:
    rng = np.random.default_rng(20240917)
    ao40_grid = [1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0]
    ra_grid = [0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 4.0, 5.0]
    configs = [
        Config("AO-40 FEC (256 B)", "ao40", "AO-40 FEC", {}, 256, ao40_grid, 1000),
        Config("AO-40 FEC short (128 B)", "ao40", "AO-40 FEC short", {}, 128, ao40_grid, 1000),
        Config("SMOG-P RA 128 B", "ra", "SMOG-P RA", {"frame_size": 128}, 128, ra_grid, 400),
        Config("SMOG-P RA 256 B", "ra", "SMOG-P RA", {"frame_size": 256}, 256, ra_grid, 400),
    ]
    results = {}
    for cfg in configs:
        print(f"\n{cfg.label}: rate {cfg.rate:.4f} ({8 * cfg.data_bytes} bits in {cfg.frame_symbols} "
              f"symbols), up to {cfg.frames} frames per point")
        hdr = f"{'Eb/N0':>6} {'frames':>6} {'FER':>9} {'sync':>5} {'fec':>5} {'false':>5} " \
              f"{'genie':>9} {'theory':>9} {'NA bound':>9} {'ms/frame':>8}"
        print(hdr)
        rows = []
        k = 8 * cfg.data_bytes
        for e in cfg.grid:
            m = measure_point(cfg, e, rng)
            esn0 = esn0_lin(e, cfg.rate)
            if cfg.family == "ao40":
                depth = 2 if cfg.data_bytes == 256 else 1
                v_s = genie_byte_error_rate(esn0, rng, 160 * depth)
                m["theory"] = rs_frame_error(v_s, depth)
                m["genie"] = ao40_genie_fer(cfg, e, rng)
                m["na"] = normal_approximation(esn0, cfg.frame_symbols, k)
            else:
                m["theory"] = None
                m["genie"] = ra_decoder_alone(cfg, e, rng)
                m["na"] = normal_approximation(esn0, cfg.frame_symbols - 16, k)
            rows.append(m)
            th = "-" if m["theory"] is None else f"{m['theory']:.2e}"
            print(f"{e:6.2f} {m['sent']:6d} {m['fer']:9.2e} {m['sync']:5d} {m['fec']:5d} "
                  f"{m['false']:5d} {m['genie']:9.2e} {th:>9} {m['na']:9.2e} "
                  f"{1e3 * m['s_per_frame']:8.2f}", flush=True)
        results[cfg.label] = rows
        x = [r["ebn0"] for r in rows]
        meas = crossing(x, [r["fer"] for r in rows])
        genie = crossing(x, [r["genie"] for r in rows])
        theo = crossing(x, [r["theory"] for r in rows]) if cfg.family == "ao40" else None
        fine = np.arange(x[0] - 2.0, x[-1] + 0.001, 0.05).tolist()
        na = crossing(fine, [normal_approximation(esn0_lin(e, cfg.rate),
                                                  cfg.frame_symbols - (16 if cfg.family == "ra" else 0), k)
                             for e in fine])
        fmt = (lambda v: "n/a" if v is None else f"{v:.2f} dB")
        gname = "perfect sync, ML Viterbi + RS t=16" if cfg.family == "ao40" else \
            "the same decoder with perfect sync"
        print(f"FER 1e-2 at: measured {fmt(meas)}, genie [{gname}] {fmt(genie)}"
              + (f", semi-analytical [ideal byte interleaving] {fmt(theo)}" if cfg.family == "ao40" else "")
              + f", normal approximation {fmt(na)}")
        if meas is not None and genie is not None:
            print(f"implementation loss at FER 1e-2 (deframer vs genie): {meas - genie:.2f} dB")
        if meas is not None and theo is not None:
            print(f"loss vs the semi-analytical curve: {meas - theo:.2f} dB")
        if meas is not None and na is not None:
            print(f"gap to the finite-length limit (normal approximation): {meas - na:.2f} dB")
    _plot(configs, results)


def _plot(configs, results) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not available: no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    colors = ["C0", "C1", "C2", "C3"]
    for cfg, col in zip(configs, colors):
        rows = results[cfg.label]
        ax = axes[0] if cfg.family == "ao40" else axes[1]
        x = [r["ebn0"] for r in rows]
        floor = 0.3 / max(r["sent"] for r in rows)
        ax.semilogy(x, [max(r["fer"], floor) for r in rows], "o-", color=col, label=f"{cfg.label} measured")
        lab = "perfect sync" if cfg.family == "ao40" else "decoder alone (perfect sync)"
        ax.semilogy(x, [max(r["genie"], floor) for r in rows], "--", color=col, label=f"{cfg.label} {lab}")
        if cfg.family == "ao40":
            ax.semilogy(x, [max(r["theory"], 1e-6) for r in rows], "-.", color=col, lw=0.8,
                        label=f"{cfg.label} semi-analytical")
        fine = np.arange(x[0] - 2.0, x[-1] + 0.001, 0.05)
        n_code = cfg.frame_symbols - (16 if cfg.family == "ra" else 0)
        na = [normal_approximation(esn0_lin(e, cfg.rate), n_code, 8 * cfg.data_bytes) for e in fine]
        ax.semilogy(fine, np.maximum(na, 1e-6), ":", color=col, label=f"{cfg.label} normal approx. bound")
    for ax, title in zip(axes, ("AO-40 FEC (0 errors drawn at 0.3 / frames)",
                                "SMOG-P RA (0 errors drawn at 0.3 / frames)")):
        ax.axhline(TARGET_FER, color="grey", lw=0.5)
        ax.set_ylim(1e-4, 1.2)
        ax.set_xlabel("Eb/N0 (dB)")
        ax.set_ylabel("frame error rate")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    out = ROOT / "bench-out" / "ao40_sensitivity.png"
    out.parent.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"\nplot: {out}")


if __name__ == "__main__":
    main()
