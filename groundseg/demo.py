"""``make demo``: a self-contained run of the receive chain on a synthetic signal.

Until the station daemon flies a simulated pass, the demo does what the
station does for every pass minus the planning: it makes a signal with our
own modulators (AX.25 frames from a demo satellite, some noise), writes it
as the receiver audio a station would record, decodes it through the same
receive flowgraph the station and ``groundseg decode`` run, and prints the
frames and a summary.
"""
from __future__ import annotations

import json
import pathlib
import sys
import tempfile
import time
import wave

import numpy as np

SAMP_RATE_SPS = 48000

# (label, modulation, baud, framing, modulator params, Eb/N0 dB)
MODES = [
    ("9k6 FSK, AX.25 G3RUH", "FSK", 9600, "AX.25 G3RUH", {"deviation_hz": 3000}, 16.0),
    ("1k2 AFSK, AX.25", "AFSK", 1200, "AX.25", {"af_carrier_hz": 1700, "deviation_hz": 500}, 22.0),
    ("1k2 BPSK, AX.25", "BPSK", 1200, "AX.25", {"af_carrier_hz": 1500}, 10.0),
]


def _write_wav(path: pathlib.Path, audio: np.ndarray) -> None:
    pcm = np.clip(audio / (np.max(np.abs(audio)) * 1.1), -1, 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMP_RATE_SPS)
        w.writeframes((pcm * 32767).astype("<i2").tobytes())


def make_signal(modulation: str, baud: float, framing: str, params: dict, ebn0_db: float,
                payloads: list[bytes], rng: np.random.Generator) -> np.ndarray:
    """Receiver audio carrying ``payloads`` as separate bursts with silence between."""
    from .dsp import channel
    from .dsp.modulation import MODULATIONS
    from .framing import get

    framer = get(framing).make_framer()
    mod = MODULATIONS.get(modulation)
    parts = []
    gap = np.zeros(int(0.3 * SAMP_RATE_SPS), np.complex64)
    for p in payloads:
        iq = mod.modulate(framer.frame(p), SAMP_RATE_SPS, baud, True, **params)
        parts += [gap, iq.astype(np.complex64)]
    parts.append(gap)
    iq = np.concatenate(parts)
    burst = mod.modulate(framer.frame(payloads[0]), SAMP_RATE_SPS, baud, True, **params)
    sigma = channel.noise_sigma(burst, ebn0_db, SAMP_RATE_SPS, baud)
    iq = channel.add_noise_floor(iq, sigma, rng)
    return receiver_audio(modulation, iq, params, baud)


def receiver_audio(modulation: str, iq: np.ndarray, params: dict, baud: float) -> np.ndarray:
    """What the station's receiver outputs: FM discriminator audio, or SSB (USB) audio."""
    if modulation in ("BPSK", "DBPSK"):
        from .dsp.channel import freq_shift
        return np.real(freq_shift(iq, params["af_carrier_hz"], SAMP_RATE_SPS)).astype(np.float32)
    # the receiver's IF filter (Carson bandwidth of the FM signal), then the discriminator
    fm_dev = params.get("fm_deviation_hz", 3000.0) if modulation == "AFSK" else params["deviation_hz"]
    top = (params.get("af_carrier_hz", 0) + abs(params.get("deviation_hz", 0))) if modulation == "AFSK" \
        else baud / 2
    cutoff = (fm_dev + top) / SAMP_RATE_SPS
    n = np.arange(-64, 65)
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(len(n))
    iq = np.convolve(iq, taps, mode="same")
    d = np.angle(iq[1:] * np.conj(iq[:-1]))
    return np.concatenate([[0.0], d]).astype(np.float32)


def main(args=None) -> int:
    from .blocks.sources import SourceSpec
    from .decode import adhoc_chain, decode
    from .framing.ax25 import ui_frame

    seed = getattr(args, "seed", 1)
    rng = np.random.default_rng(seed)
    out = sys.stdout
    total_sent = total_ok = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="groundseg-demo-") as tmp:
        for label, modulation, baud, framing, params, ebn0 in MODES:
            payloads = [ui_frame("CQ", "GSEG1-1", f"groundseg demo {label} frame {i:02d} "
                                 f"t={rng.integers(0, 1 << 16):05d}".encode())
                        for i in range(8)]
            audio = make_signal(modulation, baud, framing, params, ebn0, payloads, rng)
            wav = pathlib.Path(tmp) / f"demo_{modulation.lower()}_{baud}.wav"
            _write_wav(wav, audio)
            print(f"\n== {label}: {len(payloads)} frames at Eb/N0 {ebn0:g} dB, "
                  f"{len(audio) / SAMP_RATE_SPS:.1f} s of {SAMP_RATE_SPS} Hz receiver audio", file=out)
            chain = adhoc_chain(modulation, baud, framing, params.get("deviation_hz"),
                                params.get("af_carrier_hz"))
            res = decode(SourceSpec(kind="wav", path=str(wav)), [chain])
            got = set()
            for rec in res.frames:
                data = bytes.fromhex(rec["hex"])
                got.add(data)
                info = data[16:].decode("ascii", "replace")
                hdr = rec.get("ax25", {})
                print(f"  {rec['time_s']:6.2f} s  {hdr.get('src', '?')}>{hdr.get('dst', '?')}  {info}", file=out)
            ok = sum(1 for p in payloads if p in got)
            total_sent += len(payloads)
            total_ok += ok
            print(f"  decoded {ok}/{len(payloads)} frames", file=out)
    print(f"\ndemo: decoded {total_ok} of {total_sent} frames sent in {time.perf_counter() - t0:.1f} s",
          file=out)
    return 0 if total_ok == total_sent else 1
