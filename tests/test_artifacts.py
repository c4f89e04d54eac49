"""Per-pass artifacts: frames (JSON lines + KISS) that survive a crash, waterfalls, SigMF, reports."""
from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest

from groundseg.errors import InputError
from groundseg.storage import artifacts as art
from groundseg.storage.recording import Annotation, Capture, read_sigmf_meta, write_sigmf_meta
from groundseg.storage.report import PassReport
from groundseg.storage.waterfall import WaterfallWriter, read_waterfall, render_png, spectrogram


def _record(i: int, data: bytes) -> dict:
    return {"time_s": i * 1.5, "norad": 1, "transmitter": "t", "framing": "AX.25", "hex": data.hex(),
            "crc_ok": True, "t_unix_s": 1.7e9 + i}


def test_frames_go_to_json_lines_and_kiss(tmp_path):
    a = art.PassArtifacts(tmp_path, "p-1")
    # KISS special bytes (FEND, FESC) inside frames must survive the escaping
    datas = [bytes([0xC0, 1, 2, 0xDB, 3]), b"plain", bytes(range(256))]
    for i, d in enumerate(datas):
        a.frames.append(_record(i, d), d)
    a.close()
    assert [bytes.fromhex(r["hex"]) for r in art.read_frames(a.dir)] == datas
    assert art.read_kiss_frames(a.dir) == datas
    # a second writer appends
    b = art.PassArtifacts(tmp_path, "p-1")
    b.frames.append(_record(9, b"more"))
    b.close()
    assert art.read_kiss_frames(a.dir) == datas + [b"more"]
    assert len(art.read_frames(a.dir)) == 4


def test_a_torn_last_line_is_not_a_frame(tmp_path):
    a = art.PassArtifacts(tmp_path, "p")
    a.frames.append(_record(0, b"x"))
    a.close()
    with open(a.dir / art.FRAMES_JSONL, "a") as f:
        f.write('{"hex": "ab", "t_unix_')
    assert [r["hex"] for r in art.read_frames(a.dir)] == [b"x".hex()]


def test_frames_written_before_a_kill_are_all_there(tmp_path):
    """A writer SIGKILLed right after reporting a frame has stored that frame (flushed per frame)."""
    code = f"""
import sys
sys.path.insert(0, {str(art.__file__.rsplit('/groundseg/', 1)[0])!r})
from groundseg.storage import artifacts as art
a = art.PassArtifacts({str(tmp_path)!r}, "killed", durable=False)
for i in range(50):
    d = bytes([i]) * (i + 1)
    a.frames.append({{"hex": d.hex(), "n": i}}, d)
    print(i, flush=True)
import time; time.sleep(60)
"""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    last = None
    for line in p.stdout:
        last = int(line)
        if last == 49:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    frames = art.read_frames(tmp_path / "killed")
    assert [f["n"] for f in frames] == list(range(50))
    assert art.read_kiss_frames(tmp_path / "killed") == [bytes([i]) * (i + 1) for i in range(50)]


def test_pass_ids_that_are_not_names_are_refused(tmp_path):
    for bad in ("../escape", "", "a/b", ".hidden"):
        with pytest.raises(InputError):
            art.PassArtifacts(tmp_path, bad)


def test_waterfall_rows_written_in_chunks_equal_the_whole_array_spectrogram(tmp_path):
    fs, nfft, row_s = 8000.0, 256, 0.25
    rng = np.random.default_rng(3)
    n = int(fs * 5.3)
    t = np.arange(n) / fs
    x = (np.exp(2j * np.pi * 1000.0 * t) + 0.1 * (rng.standard_normal(n) + 1j * rng.standard_normal(n)))
    x = x.astype(np.complex64)
    w = WaterfallWriter(tmp_path, nfft, fs, 145.9e6, t_ref_unix_s=100.0, stream_t0_unix_s=110.0, row_s=row_s)
    i = 0
    while i < n:  # chunks of any size, as GNU Radio hands them
        k = int(rng.integers(1, 3000))
        w.feed(x[i:i + k])
        i += k
    w.close()
    tt, db, lay = read_waterfall(tmp_path)
    t2, f2, db2 = spectrogram(x, fs, nfft, row_s)
    assert len(tt) == len(t2) == w.rows
    np.testing.assert_allclose(db, db2, atol=1e-3)
    np.testing.assert_allclose(tt, t2 + 10.0, atol=1e-4)  # stamped relative to t_ref
    peak = f2[np.argmax(db2.mean(axis=0))]
    assert abs(peak - 1000.0) <= fs / nfft
    assert lay.center_freq_hz == 145.9e6
    # a restarted writer appends to the same time axis
    w2 = WaterfallWriter(tmp_path, nfft, fs, 145.9e6, t_ref_unix_s=999.0, stream_t0_unix_s=120.0, row_s=row_s)
    w2.feed(x[: int(fs)])
    w2.close()
    tt3, db3, lay3 = read_waterfall(tmp_path)
    assert len(tt3) == len(tt) + w2.rows and lay3.t_ref_unix_s == 100.0
    assert tt3[-1] > tt[-1]


def test_waterfall_png(tmp_path):
    t, f, db = spectrogram(np.exp(2j * np.pi * 0.1 * np.arange(80000)).astype(np.complex64), 8000.0, 128, 0.5)
    p = render_png(tmp_path / "w.png", t, f, db, title="x", doppler=(t, np.full(t.size, 800.0)), marks_s=[1.0])
    head = p.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert (width, height) == (800, 600)
    with pytest.raises(InputError):
        render_png(tmp_path / "e.png", t[:0], f, db[:0])


def test_bad_waterfall_layouts_are_refused(tmp_path):
    for nfft, rate, row in ((100, 8000.0, 1.0), (256, 0.0, 1.0), (256, 8000.0, 0.0)):
        with pytest.raises(InputError):
            WaterfallWriter(tmp_path, nfft, rate, 0.0, 0.0, 0.0, row)


def test_sigmf_metadata_round_trip(tmp_path):
    data = tmp_path / "iq.sigmf-data"
    np.zeros(4000, np.complex64).tofile(data)
    meta = write_sigmf_meta(data, samp_rate_sps=48000.0, captures=[Capture(0, 1.7e9, 436.4e6),
                                                                   Capture(2000, 1.7e9 + 30.0, 436.4e6)],
                            position=(52.2, 21.0, 110.0), extra={"norad": 44854, "aos": "x"},
                            annotations=[Annotation(100, 50, "frame", "c0ffee", {"crc_ok": True})])
    assert meta.name == "iq.sigmf-meta"
    m = read_sigmf_meta(data)
    g = m["global"]
    assert g["core:datatype"] == "cf32_le" and g["core:sample_rate"] == 48000.0
    assert g["core:geolocation"]["coordinates"] == [21.0, 52.2, 110.0]
    assert g["groundseg:norad"] == 44854
    assert [c["core:sample_start"] for c in m["captures"]] == [0, 2000]
    assert m["captures"][1]["core:datetime"].startswith("2023-11-14T22:13:50")
    assert m["annotations"][0]["groundseg:crc_ok"] is True


def test_bad_sigmf_requests_are_refused(tmp_path):
    data = tmp_path / "x.sigmf-data"
    with pytest.raises(InputError, match="no such"):
        write_sigmf_meta(data, samp_rate_sps=1e3, captures=[Capture(0, 0.0, 1e6)])
    np.zeros(10, np.complex64).tofile(data)
    with pytest.raises(InputError, match="datatype"):
        write_sigmf_meta(data, samp_rate_sps=1e3, captures=[Capture(0, 0.0, 1e6)], datatype="f64")
    with pytest.raises(InputError, match="capture"):
        write_sigmf_meta(data, samp_rate_sps=1e3, captures=[])
    with pytest.raises(InputError, match="outside"):
        write_sigmf_meta(data, samp_rate_sps=1e3, captures=[Capture(11, 0.0, 1e6)])
    with pytest.raises(InputError):
        read_sigmf_meta(tmp_path / "none.sigmf-meta")


def test_report_round_trip(tmp_path):
    r = PassReport("p-1", "t", 5, "SAT", "tx", 1e8, "c0", None, {"aos_unix_s": 1.0})
    r.count("frames", 3)
    r.error("flowgraph", "boom", 2.0)
    r.mark("in-pass", 3.0)
    r.mark("in-pass", 4.0)  # first mark wins
    path = r.write(tmp_path / "report.json")
    back = PassReport.load(path)
    assert back.counts["frames"] == 3 and back.errors[0]["message"] == "boom"
    assert back.timings == {"in-pass": 3.0}
    assert json.loads(path.read_text())["pass_id"] == "p-1"
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InputError):
        PassReport.load(tmp_path / "bad.json")
