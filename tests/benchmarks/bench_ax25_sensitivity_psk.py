"""AX.25 over BPSK sensitivity: frames decoded vs Eb/N0, groundseg vs a stock GNU Radio decoder.

Modes: BPSK 9600 baud "AX.25 G3RUH" on SSB audio (carrier near 12 kHz) and
BPSK 1200 baud "AX.25" (NRZI only) on SSB audio (carrier near 1500 Hz), the
two ways amateur cubesats send AX.25 over BPSK.

Channel, per Eb/N0 step: ``FRAMES`` AX.25 UI frames (random 64-byte info
fields, 16 flags of preamble), each a burst of RRC BPSK (roll-off 0.5) with
its own random carrier phase and carrier offset (uniform within +/-200 Hz
at 1200 baud, +/-500 Hz at 9600 baud: tuning and Doppler left after
correction) after a gap of noise alone (100 to 400 bit times); the
transmitter's symbol clock runs 0.2 % fast. The receiver audio is the real
part of the shifted baseband, white Gaussian noise over the whole recording
at the given Eb/N0 (Eb: mean burst power times bit time; N0 / 2 per
sample), 1000 bit times of noise after the last frame, written as a float32
WAV file.

Decoders, side by side on the same files:

* ``groundseg``: ``groundseg.decode.decode`` (the ``groundseg decode`` path:
  WAV source, ``ReceiveFlowgraph``, the BPSK demodulator with its
  feed-forward timing/phase kernel, the AX.25 soft deframer).
* ``groundseg loops``: the same demodulator with GNU Radio's feedback loops
  (``symbol_sync_cc`` + ``costas_loop_cc``) in place of the feed-forward
  kernel (``sync="loops"``), and the same deframer: what the kernel brings.
* ``stock``: GNU Radio blocks only, hard decisions, the flowgraph commonly
  built for BPSK: ``freq_xlating_fir_filter_fcc`` to the nominal carrier,
  ``agc2_cc``, ``fll_band_edge_cc``, ``pfb_clock_sync_ccf`` (RRC matched
  filter, 32 arms), ``costas_loop_cc`` (order 2), real part (loop
  bandwidths: the best of a small sweep, see ``STOCK_*_BW``),
  ``binary_slicer_fb``, [G3RUH: ``descrambler_bb(0x21, 0, 16)``],
  ``diff_decoder_bb`` (NRZI), ``hdlc_deframer_bp``.

A frame counts when its bytes equal a sent frame (each sent frame once).
Prints a table and writes ``bench-out/ax25_sensitivity_psk.png``.
"""
from __future__ import annotations

import math
import os
import pathlib
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_ax25_sensitivity import write_wav_float  # noqa: E402

FS = 48000.0
FRAMES = int(os.environ.get("GROUNDSEG_BENCH_FRAMES", "100"))
INFO_BYTES = 64
CLOCK_ERROR = 0.002          # the transmitter's symbol clock runs 0.2 % fast
ROLLOFF = 0.5
# Loop bandwidths of the stock decoder (rad/sample): the best of a small sweep
# (FLL 2pi/200..2pi/800, clock 2pi/50..2pi/200, Costas 2pi/25..2pi/200) on
# this channel at 8 and 12 dB; wider or narrower loops lost frames.
STOCK_FLL_BW = 2 * math.pi / 400
STOCK_CLOCK_BW = 2 * math.pi / 100
STOCK_COSTAS_BW = 2 * math.pi / 50

MODES = {
    "BPSK 9600 AX.25 G3RUH": dict(baud=9600.0, framing="AX.25 G3RUH", carrier_hz=12000.0,
                                  offset_hz=500.0, ebn0_db=[x / 2 for x in range(8, 23)]),
    "BPSK 1200 AX.25": dict(baud=1200.0, framing="AX.25", carrier_hz=1500.0,
                            offset_hz=200.0, ebn0_db=[x / 2 for x in range(8, 23)]),
}


# --- signal --------------------------------------------------------------------------

def make_payloads(n: int, rng: np.random.Generator) -> list[bytes]:
    from groundseg.framing.ax25 import ui_frame
    return [ui_frame("CQ", "GS0TST", rng.integers(0, 256, INFO_BYTES, dtype=np.uint8).tobytes())
            for _ in range(n)]


def make_audio(mode: dict, payloads: list[bytes], rng: np.random.Generator):
    """SSB receiver audio without noise, and the mean power of its bursts."""
    from groundseg.dsp.modulation import MODULATIONS
    from groundseg.framing import get

    framer = get(mode["framing"]).make_framer()
    bpsk = MODULATIONS.get("BPSK")
    baud = mode["baud"] * (1.0 + CLOCK_ERROR)
    sps = FS / baud
    parts, power = [], []
    for p in payloads:
        parts.append(np.zeros(int(rng.integers(100, 400) * sps), np.float32))
        bb = bpsk.modulate(framer.frame(p), FS, baud, True).astype(np.complex128)
        f = mode["carrier_hz"] + rng.uniform(-mode["offset_hz"], mode["offset_hz"])
        ph = 2 * np.pi * f / FS * np.arange(bb.size) + 2 * np.pi * rng.random()
        burst = (bb * np.exp(1j * ph)).real.astype(np.float32)
        power.append(float(np.mean(burst.astype(np.float64) ** 2)))
        parts.append(burst)
    # noise after the last frame: groundseg's demodulator looks ~500 symbols ahead
    # (acquisition, timing and phase windows centred on each symbol), so a frame
    # closer than that to the end of a file does not come out (groundseg.blocks.psk_demod)
    parts.append(np.zeros(int(1000 * sps), np.float32))
    return np.concatenate(parts), float(np.mean(power))


def add_noise(audio: np.ndarray, power: float, baud: float, ebn0_db: float,
              rng: np.random.Generator) -> np.ndarray:
    from groundseg.dsp.channel import add_noise_floor

    # Eb = burst power x samples per bit; per-sample sigma^2 = N0 / 2
    sigma = math.sqrt(power * FS / baud / (2.0 * 10.0 ** (ebn0_db / 10.0)))
    return add_noise_floor(audio, sigma, rng)


# --- decoders ------------------------------------------------------------------------

def decode_groundseg(mode: dict, wav: str) -> list[bytes]:
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import adhoc_chain, decode

    chain = adhoc_chain("BPSK", mode["baud"], mode["framing"], af_carrier_hz=mode["carrier_hz"])
    res = decode(SourceSpec(kind="wav", path=wav), [chain])
    return [bytes.fromhex(f["hex"]) for f in res.frames if f.get("crc_ok") is not False]


def decode_groundseg_loops(mode: dict, wav: str) -> list[bytes]:
    from gnuradio import blocks, gr

    from groundseg.blocks.psk_demod import bpsk_demodulator
    from groundseg.framing import get

    tb = gr.top_block()
    src = blocks.wavfile_source(wav, False)
    demod = bpsk_demodulator(FS, mode["baud"], False, af_carrier_hz=mode["carrier_hz"], sync="loops")
    snk = blocks.vector_sink_f()
    tb.connect(src, demod, snk)
    tb.run()
    deframer = get(mode["framing"]).make_deframer()
    soft = np.array(snk.data(), dtype=np.float32)
    frames = []
    for i in range(0, soft.size, 8192):
        frames += deframer.process(soft[i:i + 8192])
    frames += deframer.flush()
    return [bytes(f.data) for f in frames if f.valid]


def decode_stock(mode: dict, wav: str) -> list[bytes]:
    import pmt
    from gnuradio import analog, blocks, digital, filter, gr
    from gnuradio.filter import firdes

    class pdu_sink(gr.basic_block):
        def __init__(self):
            gr.basic_block.__init__(self, "pdu_sink", None, None)
            self.frames = []
            self.message_port_register_in(pmt.intern("in"))
            self.set_msg_handler(pmt.intern("in"), self.handle)

        def handle(self, msg):
            self.frames.append(bytes(pmt.u8vector_elements(pmt.cdr(msg))))

    baud = mode["baud"]
    decim = max(1, int(FS // (8 * baud)))
    fs = FS / decim
    sps = fs / baud
    nfilts = 32
    tb = gr.top_block()
    chain = [
        blocks.wavfile_source(wav, False),
        filter.freq_xlating_fir_filter_fcc(
            decim, firdes.low_pass(1.0, FS, baud * (1 + ROLLOFF) / 2 + mode["offset_hz"], 0.2 * baud),
            mode["carrier_hz"], FS),
        analog.agc2_cc(1e-1, 1e-2, 1.0, 1.0),
        digital.fll_band_edge_cc(sps, ROLLOFF, int(4 * sps) | 1, STOCK_FLL_BW),
        digital.pfb_clock_sync_ccf(sps, STOCK_CLOCK_BW,
                                   firdes.root_raised_cosine(nfilts, nfilts * sps, 1.0, ROLLOFF,
                                                             int(11 * sps * nfilts)),
                                   nfilts, nfilts // 2, 1.5, 1),
        digital.costas_loop_cc(STOCK_COSTAS_BW, 2),
        blocks.complex_to_real(1),
        digital.binary_slicer_fb(),
    ]
    if mode["framing"] == "AX.25 G3RUH":
        chain.append(digital.descrambler_bb(0x21, 0, 16))
    chain.append(digital.diff_decoder_bb(2, digital.DIFF_NRZI))
    hdlc = digital.hdlc_deframer_bp(15, 1100)
    chain.append(hdlc)
    tb.connect(*chain)
    sink = pdu_sink()
    tb.msg_connect((hdlc, "out"), (sink, "in"))
    tb.run()
    return sink.frames


DECODERS = {
    "groundseg": decode_groundseg,
    "groundseg loops": decode_groundseg_loops,
    "stock": decode_stock,
}


def count(frames: list[bytes], sent: set[bytes]) -> int:
    return len(set(frames) & sent)


# --- main ------------------------------------------------------------------------------

def run_mode(name: str, mode: dict, tmp: str, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    payloads = make_payloads(FRAMES, rng)
    sent = set(payloads)
    clean, power = make_audio(mode, payloads, rng)
    wav = os.path.join(tmp, "psk.wav")
    results = {d: [] for d in DECODERS}
    wrong = {d: 0 for d in DECODERS}
    print(f"\n{name}: {FRAMES} frames per step, {clean.size / FS:.0f} s of audio")
    print(f"{'Eb/N0 dB':>8} " + " ".join(f"{d:>16}" for d in DECODERS))
    for ebn0 in mode["ebn0_db"]:
        write_wav_float(wav, add_noise(clean, power, mode["baud"], ebn0, rng), FS)
        row = []
        for d, fn in DECODERS.items():
            got = fn(mode, wav)
            n = count(got, sent)
            wrong[d] += len(set(got) - sent)
            results[d].append(n)
            row.append(n)
        print(f"{ebn0:8.1f} " + " ".join(f"{n:16d}" for n in row), flush=True)
    for d in DECODERS:
        if wrong[d]:
            print(f"  {d}: {wrong[d]} frames that were never sent (false CRC matches)")
    return results


def plot(all_results: dict, path: pathlib.Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not available: no plot")
        return
    fig, axes = plt.subplots(1, len(all_results), figsize=(6 * len(all_results), 4.5))
    axes = np.atleast_1d(axes)
    for ax, (name, res) in zip(axes, all_results.items()):
        x = MODES[name]["ebn0_db"]
        for d, ys in res.items():
            ax.plot(x, [100.0 * y / FRAMES for y in ys], marker="o", label=d)
        ax.set_title(name)
        ax.set_xlabel("Eb/N0 (dB)")
        ax.set_ylabel("frames decoded (%)")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


def main() -> None:
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    all_results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, mode in MODES.items():
            all_results[name] = run_mode(name, mode, tmp)
    print("\nsummary: frames decoded summed over the ladder (where not all decoders get all)")
    for name, res in all_results.items():
        steps = [i for i in range(len(MODES[name]["ebn0_db"]))
                 if min(r[i] for r in res.values()) < FRAMES]
        sums = {d: sum(r[i] for i in steps) for d, r in res.items()}
        better = all(res["groundseg"][i] >= res["stock"][i] for i in steps)
        print(f"  {name}: " + ", ".join(f"{d} {n}" for d, n in sums.items())
              + f"; groundseg >= stock at every such step: {better}")
    plot(all_results, out / "ax25_sensitivity_psk.png")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
