"""`groundseg decode`: JSON per frame, KISS output, and one clear line for bad input."""
import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from groundseg.storage import kiss


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "groundseg.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def _write_wav(path, audio, rate=48000):
    pcm = np.clip(audio / (np.max(np.abs(audio)) * 1.1), -1, 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((pcm * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="module")
def fsk_wav(tmp_path_factory):
    """Three AX.25 G3RUH frames as 9600-baud FSK receiver audio, with noise."""
    from groundseg.dsp.modulation import MODULATIONS
    from groundseg.framing import get
    from groundseg.framing.ax25 import ui_frame

    rng = np.random.default_rng(7)
    framer = get("AX.25 G3RUH").make_framer()
    payloads = [ui_frame("CQ", "TEST-1", f"frame {i}".encode()) for i in range(3)]
    gap = np.zeros(4800, np.float32)
    parts = [gap]
    for p in payloads:
        parts += [MODULATIONS.get("FSK").modulate(framer.frame(p), 48000, 9600, False,
                                                  deviation_hz=3000), gap]
    audio = np.concatenate(parts) + 0.05 * rng.standard_normal(sum(len(x) for x in parts))
    path = tmp_path_factory.mktemp("wav") / "fsk.wav"
    _write_wav(path, audio.astype(np.float32))
    return path, payloads


def test_decode_prints_one_json_object_per_frame_and_writes_kiss(fsk_wav, tmp_path):
    path, payloads = fsk_wav
    kiss_path = tmp_path / "out.kiss"
    out = run("decode", str(path), "--modulation", "FSK", "--baud", "9600",
              "--framing", "AX.25 G3RUH", "--kiss", str(kiss_path))
    assert out.returncode == 0, out.stderr
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [bytes.fromhex(r["hex"]) for r in recs] == payloads
    for r in recs:
        assert {"time_s", "norad", "transmitter", "framing", "hex", "crc_ok"} <= set(r)
        assert r["crc_ok"] is True and r["framing"] == "AX.25 G3RUH"
        assert r["ax25"]["src"] == "TEST-1"
    times = [r["time_s"] for r in recs]
    assert times == sorted(times) and 0.1 < times[0] < 0.6
    assert kiss.decode(kiss_path.read_bytes()) == payloads
    assert "3 frames" in out.stderr


def test_decode_by_norad_uses_the_catalog(corpus):
    out = run("decode", str(corpus / "us01.wav"), "--norad", "42721")
    assert out.returncode == 0, out.stderr
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(recs) >= 1 and all(r["norad"] == 42721 for r in recs)
    assert recs[0]["transmitter"] == "9k6 FSK downlink"


def _bad_inputs(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 10)
    trunc = tmp_path / "trunc.wav"
    trunc.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00")
    slow = tmp_path / "slow.wav"
    _write_wav(slow, np.ones(8000, np.float32), rate=8000)
    fsk = ["--modulation", "FSK", "--baud", "9600", "--framing", "AX.25 G3RUH"]
    return [
        (["decode", str(tmp_path / "missing.wav"), *fsk], "no such file"),
        (["decode", str(text), *fsk], "not a WAV file"),
        (["decode", str(trunc), *fsk], "truncated WAV header"),
        (["decode", str(slow), "--norad", "999999"], "not in the satellite catalog"),
        (["decode", str(slow), "--modulation", "FSK", "--baud", "1200", "--framing", "No Such"],
         "unknown framing 'No Such'"),
        (["decode", str(slow), "--modulation", "QPSK", "--baud", "1200", "--framing", "AX.25"],
         "unknown modulation 'QPSK'"),
        (["decode", str(slow), *fsk], "too low for 9600 baud"),
        (["decode", str(slow), "--norad", "42721", "--baud", "1200"], "either --norad"),
        (["decode", str(slow)], "give --norad"),
        (["decode", str(tmp_path / "x.cf32"), *fsk], "give --samp-rate"),
        (["decode", str(slow), "--modulation", "FSK", "--baud", "1200", "--framing", "AX.25",
          "--option", "no_such=1"], "has no option 'no_such'"),
    ]


def test_bad_input_is_one_line_and_nonzero(tmp_path):
    for args, msg in _bad_inputs(tmp_path):
        out = run(*args)
        assert out.returncode != 0, args
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and msg in lines[0], (args, out.stderr)
        assert "Traceback" not in out.stderr and out.stdout == ""
