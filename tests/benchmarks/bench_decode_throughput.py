"""Decode throughput: real-time factor of the whole decode (WAV in, frames out) per mode.

For each mode a synthetic recording of ``MINUTES`` minutes (receiver audio at
48 kHz, float32 WAV in a temporary directory) carries bursts of frames with
gaps of silence, plus a little noise; ``groundseg.decode.decode`` (the
``groundseg decode`` path) runs over it and the real-time factor is
recording seconds / wall seconds. Also measured, to show where the time
goes: the demodulator alone (WAV source -> demodulator -> null sink).

Modes whose modulation, framing or framer is not available yet are listed
as skipped. Goal for FSK 9600 AX.25 G3RUH: >= 200x real time on the 2-core
reference machine (shared with other jobs: figures, no assertion).
"""
from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench_ax25_sensitivity import write_wav_float  # noqa: E402

FS = 48000.0
MINUTES = float(os.environ.get("GROUNDSEG_BENCH_MINUTES", "5"))
PAYLOAD_BYTES = 100

# name: (modulation, baud, framing, modulation params, framer options)
MODES = {
    "FSK 9600 AX.25 G3RUH": ("FSK", 9600, "AX.25 G3RUH", {"deviation_hz": 3000.0}, {}),
    "AFSK 1200 AX.25": ("AFSK", 1200, "AX.25", {"af_carrier_hz": 1700.0, "deviation_hz": 500.0}, {}),
    "FSK 19200 AX.25 G3RUH": ("FSK", 19200, "AX.25 G3RUH", {}, {}),
    "FSK 9600 AX100 ASM+Golay": ("FSK", 9600, "AX100 ASM+Golay", {}, {}),
    "FSK 9600 CCSDS Concatenated": ("FSK", 9600, "CCSDS Concatenated", {}, {}),
    "AFSK 4800 U482C": ("AFSK", 4800, "U482C", {"af_carrier_hz": 3600.0, "deviation_hz": -1200.0}, {}),
    "BPSK 1200 AX.25 G3RUH": ("BPSK", 1200, "AX.25 G3RUH", {}, {}),
    "BPSK 9600 AX.25 G3RUH": ("BPSK", 9600, "AX.25 G3RUH", {}, {}),
}


PAYLOAD_SIZES = {"CCSDS Concatenated": 223}    # framings with a fixed payload size


def _payload(framing: str, rng: np.random.Generator) -> bytes:
    body = rng.integers(0, 256, PAYLOAD_SIZES.get(framing, PAYLOAD_BYTES), dtype=np.uint8).tobytes()
    if framing.startswith("AX.25"):
        from groundseg.framing.ax25 import ui_frame
        return ui_frame("CQ", "GS0TST", body)
    return body


def make_recording(path: str, mode: tuple, rng: np.random.Generator) -> tuple[float, int]:
    """Write the synthetic recording; return (seconds, frames sent)."""
    from groundseg.dsp.modulation import MODULATIONS
    from groundseg.framing import get

    modulation, baud, framing, params, fopts = mode
    framer = get(framing).make_framer(**fopts)
    spec = MODULATIONS.get(modulation)
    total = int(MINUTES * 60 * FS)
    parts, n, frames = [], 0, 0
    while True:
        gap = np.zeros(int(rng.integers(50, 300) * FS / baud), np.float32)
        bits = framer.frames([_payload(framing, rng) for _ in range(4)])
        burst = spec.modulate(bits, FS, baud, False, **params).astype(np.float32)
        if n + gap.size + burst.size > total:
            break
        parts += [gap, burst]
        n += gap.size + burst.size
        frames += 4
    parts.append(np.zeros(total - n, np.float32))     # silence to the end: no frame cut
    x = np.concatenate(parts)
    x += (0.05 * rng.standard_normal(x.size)).astype(np.float32)
    write_wav_float(path, x, FS)
    return x.size / FS, frames


def time_demod(path: str, mode: tuple) -> float:
    from gnuradio import blocks, gr

    from groundseg.dsp.modulation import MODULATIONS

    modulation, baud, _, params, _ = mode
    tb = gr.top_block()
    src = blocks.wavfile_source(path, False)
    demod = MODULATIONS.get(modulation).make_demodulator(FS, baud, False, **params)
    tb.connect(src, demod, blocks.null_sink(gr.sizeof_float))
    t0 = time.perf_counter()
    tb.run()
    return time.perf_counter() - t0


def time_decode(path: str, mode: tuple) -> tuple[float, int]:
    from groundseg.blocks.sources import SourceSpec
    from groundseg.decode import adhoc_chain, decode

    modulation, baud, framing, params, _ = mode
    chain = adhoc_chain(modulation, baud, framing, deviation_hz=params.get("deviation_hz"),
                        af_carrier_hz=params.get("af_carrier_hz"))
    t0 = time.perf_counter()
    res = decode(SourceSpec(kind="wav", path=path), [chain])
    wall = time.perf_counter() - t0
    return wall, sum(1 for f in res.frames if f.get("crc_ok") is not False)


def available(mode: tuple) -> str | None:
    """Why a mode cannot run yet (None: it can)."""
    from groundseg.dsp.modulation import MODULATIONS
    from groundseg.framing import load_all

    modulation, _, framing, _, fopts = mode
    framings = load_all()
    if framing not in framings:
        return f"framing {framing!r} not available"
    try:
        framings.get(framing).make_framer(**fopts)
    except NotImplementedError:
        return f"framing {framing!r} has no framer"
    spec = MODULATIONS.get(modulation)
    for ref in (spec.demodulator, spec.modulator):
        try:
            spec._resolve(ref)
        except (ImportError, AttributeError):
            return f"{modulation} {ref} not available"
    return None


def main(modes: list[str] | None = None) -> dict:
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    rng = np.random.default_rng(7)
    print(f"synthetic recordings of {MINUTES:g} min of 48 kHz receiver audio; {os.cpu_count()} cores")
    print(f"{'mode':30} {'frames':>13} {'decode':>9} {'demod only':>11}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="groundseg-bench-") as tmp:
        for name, mode in MODES.items():
            if modes and not any(m.lower() in name.lower() for m in modes):
                continue
            why = available(mode)
            if why:
                print(f"{name:30} skipped: {why}")
                continue
            path = os.path.join(tmp, "rec.wav")
            try:
                seconds, sent = make_recording(path, mode, rng)
                demod_s = time_demod(path, mode)
                wall, got = time_decode(path, mode)
            except Exception as e:  # a peer's mode failing must not stop the others
                print(f"{name:30} failed: {type(e).__name__}: {e}")
                continue
            finally:
                if os.path.exists(path):
                    os.unlink(path)
            results[name] = {"seconds": seconds, "decode_rtf": seconds / wall,
                             "demod_rtf": seconds / demod_s, "sent": sent, "decoded": got}
            print(f"{name:30} {got:6d}/{sent:<6d} {seconds / wall:8.0f}x {seconds / demod_s:10.0f}x",
                  flush=True)
    fsk = results.get("FSK 9600 AX.25 G3RUH")
    if fsk:
        print(f"FSK 9600 AX.25 G3RUH: {fsk['decode_rtf']:.0f}x real time (goal 200x)")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
