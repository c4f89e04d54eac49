"""Every flowgraphs/*.grc compiles with ``grcc`` against our block YAML, and runs.

The generated Python of every flowgraph must import and define its top
block. The FSK and AFSK receivers (flowgraphs/rx_fsk.grc, rx_afsk.grc) are
also run end to end on a short synthetic WAV file carrying AX.25 frames: the
frames must come out of the message debug block.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import wave

import numpy as np
import pytest

from conftest import ROOT, need_program

GRC_FILES = sorted((ROOT / "flowgraphs").glob("*.grc"))
FS = 48000


def _env() -> dict:
    env = dict(os.environ)
    env["GRC_BLOCKS_PATH"] = str(ROOT / "flowgraphs" / "grc")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _compile(grc: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    grcc = need_program("grcc")
    res = subprocess.run([grcc, "-o", str(out), str(grc)], env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    py = out / (grc.stem + ".py")
    assert py.is_file(), f"grcc did not write {py.name}: {res.stdout}"
    return py


def test_the_grc_files_and_our_blocks_are_there():
    names = {p.name for p in GRC_FILES}
    assert {"rx_fsk.grc", "rx_afsk.grc"} <= names
    blocks = {p.name for p in (ROOT / "flowgraphs" / "grc").glob("*.block.yml")}
    assert {"groundseg_fsk_demod.block.yml", "groundseg_afsk_demod.block.yml",
            "groundseg_deframer_sink.block.yml"} <= blocks


@pytest.mark.parametrize("grc", GRC_FILES, ids=[p.stem for p in GRC_FILES])
def test_flowgraph_compiles_and_imports(grc, tmp_path):
    py = _compile(grc, tmp_path)
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import {grc.stem} as m; "
            f"from gnuradio import gr; assert issubclass(m.{grc.stem}, gr.top_block)")
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr


def _write_wav(path: pathlib.Path, audio: np.ndarray) -> None:
    pcm = np.clip(audio / np.max(np.abs(audio)) * 0.7 * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(FS)
        w.writeframes(pcm.tobytes())


CASES = {
    "rx_fsk": ("FSK", 9600, "AX.25 G3RUH", {"deviation_hz": 3000.0}, []),
    "rx_afsk": ("AFSK", 1200, "AX.25", {"af_carrier_hz": 1700.0, "deviation_hz": 500.0},
                ["-c", "1700", "-d", "500"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_receiver_flowgraph_prints_the_frames(name, tmp_path):
    from groundseg.dsp.modulation import MODULATIONS
    from groundseg.framing import get
    from groundseg.framing.ax25 import ui_frame

    modulation, baud, framing, params, args = CASES[name]
    rng = np.random.default_rng(3)
    payloads = [ui_frame("CQ", "GS0TST", f"groundseg grc test {i} ".encode() * 3) for i in range(3)]
    bits = get(framing).make_framer().frames(payloads, gap_bits=200)
    audio = MODULATIONS.get(modulation).modulate(bits, FS, baud, False, **params)
    silence = np.zeros(FS // 4, np.float32)
    audio = np.concatenate([silence, audio, silence])
    audio = audio + 0.05 * rng.standard_normal(audio.size).astype(np.float32)
    wav = tmp_path / "signal.wav"
    _write_wav(wav, audio)
    py = _compile(ROOT / "flowgraphs" / f"{name}.grc", tmp_path)
    res = subprocess.run([sys.executable, str(py), "-f", str(wav), "-b", str(baud), "-F", framing,
                          *args], env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    dumps = res.stdout.split("***** VERBOSE PDU DEBUG PRINT ******")[1:]
    found = set()
    for d in dumps:
        rows = [ln.split(":", 1)[1] for ln in d.splitlines() if ln[:4].isalnum() and ln[4:5] == ":"]
        found.add(bytes.fromhex("".join(rows).replace(" ", "")))
    assert set(payloads) <= found, res.stdout[-2000:]
