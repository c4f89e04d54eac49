"""AX.25 sensitivity: frames decoded vs Eb/N0, groundseg vs a stock GNU Radio decoder.

Modes: FSK 9600 baud "AX.25 G3RUH" (deviation 3 kHz) and AFSK 1200 baud
(Bell 202, 1700 +/- 500 Hz, on FM with 3 kHz deviation) "AX.25".

Channel, per Eb/N0 step: ``FRAMES`` AX.25 UI frames (random 64-byte info
fields, 16 flags of preamble), each a burst with its own random carrier
phase after a random gap of silence (100 to 400 bit times), the
transmitter's symbol clock 0.2 % fast; complex FM baseband at 48 kHz, white
Gaussian noise over the whole recording at the given Eb/N0 (Eb: carrier
power times bit time), then a receiver: IF low-pass (Carson bandwidth) and
FM discriminator (numpy), written as a float32 WAV file of receiver audio.

Decoders, side by side on the same files:

* ``groundseg``: ``groundseg.decode.decode`` (the ``groundseg decode`` path:
  WAV source, ``ReceiveFlowgraph``, our demodulator, the AX.25 soft deframer).
* ``stock``: GNU Radio blocks only, hard decisions, a flowgraph as commonly
  built: low-pass (the same 0.6 x baud filter ours uses), [AFSK:
  ``freq_xlating_fir_filter_fcc`` to the tone centre and
  ``quadrature_demod_cf``], ``symbol_sync_ff`` with the Gardner detector
  (loop bandwidth 0.045, damping 1, max deviation 1.5 samples),
  ``binary_slicer_fb``, [G3RUH: ``descrambler_bb(0x21, 0, 16)``],
  ``diff_decoder_bb`` (NRZI), ``hdlc_deframer_bp``.
* ``stock ZC``: the same with the symbol timing configured as ours
  (zero-crossing detector, bandwidth 0.01, clock within 0.5 %) and a DC
  blocker plus AGC in front, to separate what timing and soft decisions each
  bring.

A frame counts when its bytes equal a sent frame (each sent frame once).
Prints a table and writes ``bench-out/ax25_sensitivity.png``.
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

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FS = 48000.0
FRAMES = int(os.environ.get("GROUNDSEG_BENCH_FRAMES", "200"))
INFO_BYTES = 64
CLOCK_ERROR = 0.002          # the transmitter's symbol clock runs 0.2 % fast

MODES = {
    "FSK 9600 AX.25 G3RUH": dict(modulation="FSK", baud=9600.0, framing="AX.25 G3RUH",
                                 deviation_hz=3000.0, af_carrier_hz=None,
                                 ebn0_db=list(range(6, 15))),
    "AFSK 1200 AX.25": dict(modulation="AFSK", baud=1200.0, framing="AX.25",
                            deviation_hz=500.0, af_carrier_hz=1700.0, fm_deviation_hz=3000.0,
                            ebn0_db=list(range(14, 25))),
}


# --- signal --------------------------------------------------------------------------

def write_wav_float(path: str | os.PathLike, x: np.ndarray, samp_rate_sps: float) -> None:
    """Mono IEEE-float32 WAV (what GNU Radio's wavfile_source reads)."""
    data = np.asarray(x, dtype="<f4").tobytes()
    rate = int(samp_rate_sps)
    fmt = (b"fmt " + (16).to_bytes(4, "little") + (3).to_bytes(2, "little")
           + (1).to_bytes(2, "little") + rate.to_bytes(4, "little")
           + (rate * 4).to_bytes(4, "little") + (4).to_bytes(2, "little")
           + (32).to_bytes(2, "little"))
    body = b"WAVE" + fmt + b"data" + len(data).to_bytes(4, "little") + data
    with open(path, "wb") as f:
        f.write(b"RIFF" + len(body).to_bytes(4, "little") + body)


def lowpass_taps(samp_rate_sps: float, cutoff_hz: float, transition_hz: float) -> np.ndarray:
    """Hamming-windowed sinc low-pass (unit DC gain)."""
    n = int(math.ceil(3.3 * samp_rate_sps / transition_hz)) | 1
    t = np.arange(n) - (n - 1) / 2
    h = np.sinc(2 * cutoff_hz / samp_rate_sps * t) * np.hamming(n)
    return h / h.sum()


def fm_receiver(iq: np.ndarray, samp_rate_sps: float, if_half_bw_hz: float,
                scale_hz: float) -> np.ndarray:
    """IF filter and FM discriminator: audio in units of ``scale_hz`` (float32)."""
    y = np.convolve(iq, lowpass_taps(samp_rate_sps, if_half_bw_hz, 0.3 * if_half_bw_hz), "same")
    d = np.angle(y[1:] * np.conj(y[:-1]))
    return (np.concatenate([[0.0], d]) * samp_rate_sps / (2 * np.pi * scale_hz)).astype(np.float32)


def make_payloads(n: int, rng: np.random.Generator) -> list[bytes]:
    from groundseg.framing.ax25 import ui_frame
    return [ui_frame("CQ", "GS0TST", rng.integers(0, 256, INFO_BYTES, dtype=np.uint8).tobytes())
            for _ in range(n)]


def make_baseband(mode: dict, payloads: list[bytes], rng: np.random.Generator) -> np.ndarray:
    """Unit-amplitude complex FM baseband: one burst per frame, silence between."""
    from groundseg.dsp.modulation import MODULATIONS
    from groundseg.framing import get

    framer = get(mode["framing"]).make_framer()
    spec = MODULATIONS.get(mode["modulation"])
    baud = mode["baud"] * (1.0 + CLOCK_ERROR)
    sps = FS / baud
    parts = []
    for p in payloads:
        gap = int(rng.integers(100, 400) * sps)
        parts.append(np.zeros(gap, np.complex64))
        bits = framer.frame(p)
        if mode["modulation"] == "AFSK":
            audio = spec.modulate(bits, FS, baud, False, deviation_hz=mode["deviation_hz"],
                                  af_carrier_hz=mode["af_carrier_hz"])
            ph = 2 * np.pi * mode["fm_deviation_hz"] / FS * np.cumsum(audio.astype(np.float64))
            burst = np.exp(1j * ph)
        else:
            burst = spec.modulate(bits, FS, baud, True, deviation_hz=mode["deviation_hz"])
        parts.append((burst * np.exp(2j * np.pi * rng.random())).astype(np.complex64))
    parts.append(np.zeros(int(400 * sps), np.complex64))
    return np.concatenate(parts)


def receiver_audio(mode: dict, iq: np.ndarray, ebn0_db: float, rng: np.random.Generator) -> np.ndarray:
    from groundseg.dsp.channel import add_noise_floor

    sps = FS / mode["baud"]
    # unit carrier power: Eb = sps (sample units); per-dimension sigma^2 = N0 / 2
    sigma = math.sqrt(sps / 10.0 ** (ebn0_db / 10.0) / 2.0)
    noisy = add_noise_floor(iq, sigma, rng)
    if mode["modulation"] == "AFSK":
        top = mode["af_carrier_hz"] + abs(mode["deviation_hz"]) + mode["baud"] / 2
        return fm_receiver(noisy, FS, mode["fm_deviation_hz"] + top, mode["fm_deviation_hz"])
    return fm_receiver(noisy, FS, mode["deviation_hz"] + mode["baud"] / 2, mode["deviation_hz"])


# --- decoders ------------------------------------------------------------------------

def decode_groundseg(mode: dict, wav: str) -> list[bytes]:
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import adhoc_chain, decode

    chain = adhoc_chain(mode["modulation"], mode["baud"], mode["framing"],
                        deviation_hz=mode["deviation_hz"], af_carrier_hz=mode["af_carrier_hz"])
    res = decode(SourceSpec(kind="wav", path=wav), [chain])
    return [bytes.fromhex(f["hex"]) for f in res.frames if f.get("crc_ok") is not False]


def decode_stock(mode: dict, wav: str, tuned: bool) -> list[bytes]:
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
    tb = gr.top_block()
    chain = [blocks.wavfile_source(wav, False)]
    fs = FS
    if mode["modulation"] == "AFSK":
        dev = mode["deviation_hz"]
        decim = int(fs // (5 * baud))
        chain.append(filter.freq_xlating_fir_filter_fcc(
            decim, firdes.low_pass(1.0, fs, abs(dev) + 0.6 * baud, 0.3 * baud),
            mode["af_carrier_hz"], fs))
        fs /= decim
        chain.append(analog.quadrature_demod_cf(fs / (2 * math.pi * dev)))
    chain.append(filter.fir_filter_fff(1, firdes.low_pass(1.0, fs, 0.6 * baud, 0.4 * baud)))
    sps = fs / baud
    if tuned:
        chain.append(filter.dc_blocker_ff(int(32 * sps), True))
        chain.append(analog.agc2_ff(1e-2 / sps, 1e-3 / sps, 1.0, 1.0))
        chain.append(digital.symbol_sync_ff(digital.TED_ZERO_CROSSING, sps, 0.01, 1.0, 1.0,
                                            0.005 * sps, 1, digital.constellation_bpsk().base()))
    else:
        chain.append(digital.symbol_sync_ff(digital.TED_GARDNER, sps, 0.045, 1.0, 1.0, 1.5, 1))
    chain.append(digital.binary_slicer_fb())
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


def count_sent(decoded: list[bytes], sent: set[bytes]) -> int:
    return len(set(decoded) & sent)


# --- main ----------------------------------------------------------------------------

DECODERS = ("groundseg", "stock", "stock ZC")


def run_mode(name: str, mode: dict, tmp: str, rng: np.random.Generator) -> dict:
    payloads = make_payloads(FRAMES, rng)
    sent = set(payloads)
    iq = make_baseband(mode, payloads, rng)
    seconds = iq.size / FS
    print(f"\n{name}: {FRAMES} frames, {seconds:.0f} s of signal per step")
    print(f"{'Eb/N0 dB':>8} " + " ".join(f"{d:>10}" for d in DECODERS))
    rows = {d: [] for d in DECODERS}
    for ebn0 in mode["ebn0_db"]:
        wav = os.path.join(tmp, f"{name.replace(' ', '_')}_{ebn0}.wav")
        write_wav_float(wav, receiver_audio(mode, iq, ebn0, rng), FS)
        counts = {
            "groundseg": count_sent(decode_groundseg(mode, wav), sent),
            "stock": count_sent(decode_stock(mode, wav, tuned=False), sent),
            "stock ZC": count_sent(decode_stock(mode, wav, tuned=True), sent),
        }
        os.unlink(wav)
        for d in DECODERS:
            rows[d].append(counts[d])
        print(f"{ebn0:8.1f} " + " ".join(f"{counts[d]:10d}" for d in DECODERS), flush=True)
    return rows


def plot(results: dict, path: pathlib.Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5))
    for ax, (name, rows) in zip(np.atleast_1d(axes), results.items()):
        x = MODES[name]["ebn0_db"]
        for d, style in zip(DECODERS, ("o-", "s--", "^:")):
            ax.plot(x, np.array(rows[d]) / FRAMES * 100, style, label=d)
        ax.set_title(name)
        ax.set_xlabel("Eb/N0 (dB, FM channel)")
        ax.set_ylabel(f"frames decoded (% of {FRAMES})")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(modes: list[str] | None = None) -> dict:
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(2024)
    results = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="groundseg-bench-") as tmp:
        for name, mode in MODES.items():
            if modes and not any(m.lower() in name.lower() for m in modes):
                continue
            results[name] = run_mode(name, mode, tmp, rng)
    for name, rows in results.items():
        ours, stock = np.array(rows["groundseg"]), np.array(rows["stock"])
        better = [f"{e:g}" for e, a, b in zip(MODES[name]["ebn0_db"], ours, stock) if a > b]
        worse = [f"{e:g}" for e, a, b in zip(MODES[name]["ebn0_db"], ours, stock) if a < b]
        print(f"{name}: groundseg {ours.sum()} frames vs stock {stock.sum()} over the ladder;"
              f" more at {', '.join(better) or 'no step'} dB; fewer at {', '.join(worse) or 'no step'}")
    png = out / "ax25_sensitivity.png"
    plot(results, png)
    print(f"plot: {png} ({time.perf_counter() - t0:.0f} s)")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
