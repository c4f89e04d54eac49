"""Fuzz the recording readers (WAV, raw IQ, SigMF) and ``decode()`` on small fuzzed recordings.

Boundaries:

* ``sources.wav_header``: ``read_wav_header`` on WAV files built chunk by
  chunk (RIFF/RF64, format tags, channel counts, rates, bit depths,
  extensible format, odd chunk sizes, unknown chunks, data before format,
  declared lengths past the end of the file) and then mutated byte-wise:
  a ``WavInfo`` that fits inside the file, or ``InputError``;
* ``sources.wav``, ``sources.iq``, ``sources.sigmf``: ``open_source`` then
  every sample read back: the samples asked for, of the right type, or
  ``InputError`` (bad rates, datatypes, metadata, empty files);
* ``decode``: ``groundseg.decode.decode`` on small fuzzed recordings (random
  bytes, and real FSK/AFSK/BPSK AX.25 signals truncated, corrupted,
  scaled to overflow, with NaN samples) through several receive chains, in
  a child process with capped memory: frames (none whose check failed) or
  an ``InputError``, never an exception, an abort or a hang.
"""
from __future__ import annotations

import json
import os
import pathlib
import struct
import tempfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

from groundseg.blocks.sources import MAX_FILE_SAMP_RATE_SPS, SourceSpec, open_source, read_wav_header
from groundseg.errors import InputError

from ._count import record
from ._decode_worker import run_decode_jobs
from ._harness import FuzzFailure, attempt, examples, fuzz_settings
from ._mutate import apply_bytes, byte_ops

# --- WAV files, chunk by chunk ---------------------------------------------------------------------------


def wav_bytes(tag: int, chans: int, rate: int, bits: int, data: bytes, *, riff: bytes = b"RIFF",
              data_len: int | None = None, extra: list[tuple[bytes, bytes]] = (), data_first: bool = False,
              fmt_len: int = 16, subformat: int | None = None, riff_len: int | None = None) -> bytes:
    block = max(1, chans * max(bits, 8) // 8)
    fmt = struct.pack("<HHIIHH", tag & 0xFFFF, chans & 0xFFFF, rate & 0xFFFFFFFF, (rate * block) & 0xFFFFFFFF,
                      block & 0xFFFF, bits & 0xFFFF)
    if subformat is not None:
        fmt += struct.pack("<HHI", 22, bits & 0xFFFF, 0) + struct.pack("<H", subformat) + bytes(14)
    fmt = (fmt + bytes(max(0, fmt_len - len(fmt))))[:max(fmt_len, 0)] if fmt_len != len(fmt) else fmt
    chunks = [(b"fmt ", fmt)]
    dl = len(data) if data_len is None else data_len
    dchunk = b"data" + struct.pack("<I", dl & 0xFFFFFFFF) + data
    body = b""
    for cid, payload in extra:
        body += cid + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")
    fchunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt + (b"\0" if len(fmt) & 1 else b"")
    body = (dchunk + body + fchunk) if data_first else (fchunk + body + dchunk)
    rl = len(body) + 4 if riff_len is None else riff_len
    return riff + struct.pack("<I", rl & 0xFFFFFFFF) + b"WAVE" + body


_RATES = st.sampled_from([8000, 11025, 22050, 44100, 48000, 96000, 250000, 1024000, 2048000, 0, 1, 2, 19199,
                          int(MAX_FILE_SAMP_RATE_SPS), int(MAX_FILE_SAMP_RATE_SPS) + 1, 0xFFFFFFFF])


@st.composite
def wav_files(draw, max_data: int = 4096) -> bytes:
    if draw(st.integers(0, 9)) < 6:  # a well-formed header, so the reader gets past it
        tag = draw(st.sampled_from([1, 3]))
        bits = draw(st.sampled_from([8, 16, 24, 32] if tag == 1 else [32, 64]))
        chans = draw(st.sampled_from([1, 2]))
        rate = draw(st.sampled_from([8000, 48000, 96000, 250000]) | _RATES)
        data = draw(st.binary(min_size=chans * bits // 8, max_size=max_data))
    else:
        tag = draw(st.sampled_from([1, 1, 1, 3, 3, 0xFFFE, 2, 0, 0xFFFF]))
        bits = draw(st.sampled_from([8, 16, 16, 24, 32, 64, 0, 4, 12, 48]))
        chans = draw(st.sampled_from([1, 1, 2, 2, 0, 3, 8, 0xFFFF]))
        rate = draw(_RATES)
        data = draw(st.binary(max_size=max_data))
    kw = {}
    if tag == 0xFFFE:
        kw["subformat"] = draw(st.sampled_from([1, 3, 2, 0]))
        kw["fmt_len"] = 40
    if draw(st.integers(0, 4)) == 0:
        kw["data_len"] = draw(st.sampled_from([0, 1, len(data) + 1, len(data) * 2, 0xFFFFFFFF, 0x7FFFFFFF]))
    if draw(st.integers(0, 5)) == 0:
        kw["fmt_len"] = draw(st.sampled_from([0, 2, 14, 15, 17, 18, 41, 1000]))
    if draw(st.integers(0, 4)) == 0:
        kw["extra"] = [(draw(st.sampled_from([b"LIST", b"fact", b"junk", b"fmt ", b"\0\0\0\0"])),
                        draw(st.binary(max_size=33)))]
    if draw(st.integers(0, 8)) == 0:
        kw["data_first"] = True
    if draw(st.integers(0, 8)) == 0:
        kw["riff"] = draw(st.sampled_from([b"RF64", b"RIFX", b"RIFF"]))
        kw["riff_len"] = draw(st.sampled_from([0, 0xFFFFFFFF, 4]))
    raw = wav_bytes(tag, chans, rate, bits, data, **kw)
    if draw(st.integers(0, 4)) == 0:
        raw = apply_bytes(raw, draw(byte_ops(4)))
    return raw


# --- in-process: readers -------------------------------------------------------------------------------------


def _read_all(src) -> int:
    """Every sample of a file source, through the block's reader, in a few chunks."""
    assert src.n_samples >= 1 and 0 < src.samp_rate_sps <= MAX_FILE_SAMP_RATE_SPS
    read, n = src.block._read, src.n_samples
    got, pos = 0, 0
    while pos < n:
        k = min(n - pos, 1 + n // 3)
        v = read(pos, k)
        assert len(v) == k and v.dtype == (np.complex64 if src.iq else np.float32), (len(v), k, v.dtype)
        pos += k
        got += k
    return got


def _wav_header(path):
    info = read_wav_header(path)
    size = pathlib.Path(path).stat().st_size
    assert info.data_offset + info.data_bytes <= size and info.n_frames >= 1
    assert info.fmt in (1, 3) and info.channels >= 1 and info.samp_rate >= 1
    return info


def _open_and_read(spec: SourceSpec):
    src = open_source(spec)
    _read_all(src)
    return src


def _in_file(data: bytes, suffix: str, fn, *args):
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / f"x{suffix}"
        p.write_bytes(data)
        return fn(str(p), *args)


@fuzz_settings(300)
@given(wav_files())
def test_wav_header(raw):
    attempt("sources.wav_header", _in_file, raw, ".wav", _wav_header, show=raw, allowed=(InputError,))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float64 samples past float32's range: inf, NaN
@fuzz_settings(200)
@given(wav_files(), st.booleans())
def test_wav_source(raw, iq):
    attempt("sources.wav", _in_file, raw, ".wav",
            lambda p: _open_and_read(SourceSpec(kind="wav", path=p, iq=iq)), show=(raw, iq), allowed=(InputError,))


_IQ_RATES = st.sampled_from([1.0, 48000.0, 1.024e6, 0.0, -1.0, float("nan"), float("inf"), -float("inf"),
                             MAX_FILE_SAMP_RATE_SPS, MAX_FILE_SAMP_RATE_SPS * 1.01, 1e300, 5e-324])
_DATATYPES = st.sampled_from(["cf32_le", "ci16_le", "ci8", "cu8", "cf32_be", "", "ri16_le", "CF32_LE"])


@fuzz_settings(150)
@given(st.binary(max_size=2000), _DATATYPES, st.sampled_from([48000.0, 1.024e6]) | _IQ_RATES)
def test_raw_iq_source(data, datatype, rate):
    attempt("sources.iq", _in_file, data, ".cf32",
            lambda p: _open_and_read(SourceSpec(kind="iq", path=p, samp_rate_sps=rate, datatype=datatype)),
            show=(data, datatype, rate), allowed=(InputError,))


_JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 64, 2 ** 64)
                        | st.floats(allow_nan=True) | st.text(max_size=10),
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                        max_leaves=6)


@st.composite
def sigmf_meta(draw) -> bytes:
    meta = {"global": {"core:datatype": draw(st.sampled_from(["cf32_le", "ci16_le", "ci8", "cu8"])),
                       "core:sample_rate": 48000.0, "core:version": "1.0.0"},
            "captures": [{"core:sample_start": 0, "core:frequency": 437.5e6}], "annotations": []}
    for _ in range(draw(st.integers(0, 3))):
        if not isinstance(meta, dict) or not isinstance(meta.get("global"), dict):
            break
        where = draw(st.sampled_from(["global", "captures", "top"]))
        value = draw(st.one_of(_JSONISH, st.sampled_from(["cf32_le", "ci16_le", "cu8", "ci8", "rf32_le", 0, -1.0,
                                                          float("nan"), float("inf"), 1e300, [], {}, [1], [{}],
                                                          True, "48000"])))
        if where == "global":
            meta["global"][draw(st.sampled_from(["core:datatype", "core:sample_rate"]))] = value
        elif where == "captures":
            meta["captures"] = value if draw(st.booleans()) else [{"core:frequency": value}]
        else:
            meta = value if draw(st.integers(0, 3)) == 0 else {**meta, "global": value}
    raw = json.dumps(meta, allow_nan=True).encode()
    kind = draw(st.integers(0, 7))
    if kind == 0:
        raw = apply_bytes(raw, draw(byte_ops(3)))
    elif kind == 1:
        raw = b'{"global": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    return raw


def _sigmf(meta: bytes, data: bytes):
    with tempfile.TemporaryDirectory() as d:
        base = pathlib.Path(d) / "rec"
        base.with_suffix(".sigmf-meta").write_bytes(meta)
        base.with_suffix(".sigmf-data").write_bytes(data)
        return _open_and_read(SourceSpec(kind="sigmf", path=str(base) + ".sigmf-meta"))


@fuzz_settings(150)
@given(sigmf_meta(), st.binary(max_size=800))
def test_sigmf_source(meta, data):
    attempt("sources.sigmf", _sigmf, meta, data, show=(meta, data), allowed=(InputError,))


# --- regressions found by this fuzzing ----------------------------------------------------------------------


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), MAX_FILE_SAMP_RATE_SPS * 10])
def test_raw_iq_rate_must_be_finite_and_plausible(tmp_path, rate):
    """NaN/inf crashed with ValueError/OverflowError; 1e12 S/s allocated until the kernel killed the process."""
    p = tmp_path / "x.cf32"
    p.write_bytes(bytes(800))
    with pytest.raises(InputError, match="sample rate"):
        open_source(SourceSpec(kind="iq", path=str(p), samp_rate_sps=rate))


def test_wav_with_a_rate_of_four_gigahertz_is_refused(tmp_path):
    """A 64 kB file claiming 0xFFFFFFFF Hz took 100 s to decode (one second of silence appended)."""
    p = tmp_path / "x.wav"
    p.write_bytes(wav_bytes(1, 1, 0xFFFFFFFF, 16, bytes(2000)))
    with pytest.raises(InputError, match="above"):
        open_source(SourceSpec(kind="wav", path=str(p)))


@pytest.mark.parametrize("meta", [
    {"global": {"core:datatype": "cf32_le", "core:sample_rate": 48000}, "captures": {"a": 1}},
    {"global": {"core:datatype": "cf32_le", "core:sample_rate": 48000}, "captures": 5},
    {"global": {"core:datatype": ["cf32_le"], "core:sample_rate": 48000}},
    {"global": {"core:datatype": "cf32_le", "core:sample_rate": float("nan")}},
    {"global": {"core:datatype": "cf32_le", "core:sample_rate": 48000}, "captures": [{"core:frequency": "x"}]},
])
def test_sigmf_metadata_of_the_wrong_shape_is_an_input_error(tmp_path, meta):
    """Captures that are not a list of objects raised KeyError/TypeError, a list datatype TypeError."""
    base = tmp_path / "rec"
    base.with_suffix(".sigmf-meta").write_text(json.dumps(meta))
    base.with_suffix(".sigmf-data").write_bytes(bytes(80))
    with pytest.raises(InputError):
        open_source(SourceSpec(kind="sigmf", path=str(base) + ".sigmf-meta"))


def test_sigmf_metadata_nested_too_deep_is_an_input_error(tmp_path):
    base = tmp_path / "rec"
    base.with_suffix(".sigmf-meta").write_bytes(b'{"global": ' + b"[" * 100000 + b"]" * 100000 + b"}")
    base.with_suffix(".sigmf-data").write_bytes(bytes(80))
    with pytest.raises(InputError, match="not valid SigMF"):
        open_source(SourceSpec(kind="sigmf", path=str(base) + ".sigmf-meta"))


def test_psk_symbol_sync_survives_non_finite_samples():
    """NaN samples (random cf32 bytes) made the timing estimate NaN: the C loop then produced symbols
    without end (4 GiB in a second) while decoding a random 8 kB file as BPSK."""
    from groundseg.dsp.psk_sync import SymbolSync
    from groundseg.dsp.psk_sync_ref import SymbolSync as Ref

    rng = np.random.default_rng(3)
    x = (rng.normal(size=4000) + 1j * rng.normal(size=4000)).astype(np.complex64)
    x[1000:1100] = np.nan
    x[2000:2010] = np.inf
    for cls in (SymbolSync, Ref):
        s = cls(8.33, 256, 32)
        with np.errstate(all="ignore"):  # the reference computes with the NaNs on purpose
            out = np.concatenate([s.process(x), s.process(np.zeros(20000, np.complex64))])
        assert len(out) <= (24000 / 8.33) + 4
        assert np.isfinite(s.eps) and np.isfinite(s.theta) and np.isfinite(s.drift)


# --- decode() on fuzzed recordings, in a child process ---------------------------------------------------------

AUDIO_CHAINS = [["FSK", 9600.0, "AX.25 G3RUH", None], ["AFSK", 1200.0, "AX.25", None],
                ["BPSK", 1200.0, "AX.25", 1500.0]]
IQ_CHAINS = [["FSK", 9600.0, "AX.25 G3RUH", None], ["BPSK", 1200.0, "AX.25", None],
             ["DBPSK", 1200.0, "AX.25", None], ["GFSK", 9600.0, "AX.25 G3RUH", None]]


def _signal(kind: str, rate: float, iq: bool, seed: int) -> np.ndarray:
    """A real AX.25 frame on the air (FSK 9600 or AFSK 1200 or BPSK 1200), a little noise around it."""
    from groundseg.dsp.modulation import MODULATIONS
    from groundseg.framing import get
    from groundseg.framing.ax25 import ui_frame

    rng = np.random.default_rng(seed)
    framing = "AX.25 G3RUH" if kind == "FSK" else "AX.25"
    bits = get(framing).make_framer().frame(ui_frame("CQ", "FUZZ-1", b"fuzz %d" % seed))
    baud = 9600.0 if kind == "FSK" else 1200.0
    params = {"af_carrier_hz": 1500.0} if kind == "BPSK" and not iq else {}
    sig = MODULATIONS.get(kind).modulate(bits, rate, baud, iq, **params)
    pad = np.zeros(int(rate * 0.05), sig.dtype)
    x = np.concatenate([pad, sig, pad])
    noise = rng.normal(scale=0.05, size=x.shape)
    return (x + (noise + 1j * rng.normal(scale=0.05, size=x.shape) if iq else noise)).astype(sig.dtype)


@st.composite
def decode_jobs(draw) -> dict:
    kind = draw(st.sampled_from(["wav", "wav", "iq", "sigmf"]))
    iq = kind != "wav" or draw(st.integers(0, 3)) == 0
    rate = draw(st.sampled_from([48000, 48000, 96000, 250000]))
    if draw(st.booleans()):
        x = _signal(draw(st.sampled_from(["FSK", "AFSK", "BPSK"])), float(rate), iq, draw(st.integers(0, 99)))
        op = draw(st.integers(0, 5))
        if op == 0:
            x = x[:draw(st.integers(1, len(x)))]
        elif op == 1:
            x = x * draw(st.sampled_from([1e30, 3e38, 1e-30, 0.0, -1.0]))
        elif op == 2:
            i = draw(st.integers(0, len(x) - 1))
            x[i:i + draw(st.integers(1, 200))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        x = x.astype(np.complex64 if iq else np.float32)
        samples = x.view(np.float32).tobytes() if iq else x.tobytes()
        float_samples = True
    else:
        samples = draw(st.binary(min_size=64, max_size=16000))
        float_samples = draw(st.booleans())
    if kind == "wav":
        if float_samples:
            data = wav_bytes(3, 2 if iq else 1, rate, 32, samples)
        else:
            data = wav_bytes(1, 2 if iq else 1, rate, 16, samples[:len(samples) // 4 * 4])
        if draw(st.integers(0, 3)) == 0:
            data = apply_bytes(data, draw(byte_ops(3)))
        job = {"kind": "wav", "iq": iq, "file": data, "suffix": ".wav"}
    else:
        job = {"kind": kind, "file": samples, "samp_rate_sps": float(rate),
               "datatype": "cf32_le" if float_samples else draw(st.sampled_from(["ci16_le", "ci8", "cu8"])),
               "suffix": ".cf32" if kind == "iq" else ".sigmf-data"}
        if kind == "sigmf":
            job["meta"] = json.dumps({"global": {"core:datatype": job["datatype"],
                                                 "core:sample_rate": float(rate)}}).encode()
    job["chains"] = IQ_CHAINS if iq else AUDIO_CHAINS
    return job


DECODE_LIMIT_S = 60.0  # per small file: generous (a flowgraph start costs about a second on a busy machine)


def collect(strategy, n: int) -> list:
    """``n`` examples of ``strategy``, drawn as a fuzz test draws them (reproducible unless randomised)."""
    out = []

    @fuzz_settings(n)
    @given(strategy)
    def take(x):
        out.append(x)

    take()
    return out


def test_decode_fuzzed_recordings(tmp_path):
    jobs = []
    for i, j in enumerate(collect(decode_jobs(), examples(20))):
        path = tmp_path / f"rec{i}{j['suffix']}"
        path.write_bytes(j["file"])
        if "meta" in j:
            path.with_suffix(".sigmf-meta").write_bytes(j["meta"])
        jobs.append({"path": str(path), "kind": j["kind"], "iq": j.get("iq"),
                     "samp_rate_sps": j.get("samp_rate_sps"), "datatype": j.get("datatype"), "chains": j["chains"]})
    results = run_decode_jobs(jobs, DECODE_LIMIT_S)
    if os.environ.get("GROUNDSEG_FUZZ_VERBOSE"):
        for job, res in zip(jobs, results):
            print(job["kind"], job["iq"], job["datatype"], res)
    failures = []
    for job, res in zip(jobs, results):
        outcome = {"frames": "accepted", "rejected": "rejected", "hang": "hang"}.get(res["outcome"], "crash")
        record("decode", outcome, float(res.get("elapsed_s", 0.0)))
        if outcome in ("crash", "hang"):
            failures.append((job["path"], res))
    if failures:
        keep = pathlib.Path(__file__).resolve().parents[2] / "bench-out" / "fuzz-failures"
        keep.mkdir(parents=True, exist_ok=True)
        for path, _ in failures:
            p = pathlib.Path(path)
            (keep / f"decode-{p.name}").write_bytes(p.read_bytes())
        raise FuzzFailure(f"decode: {len(failures)} of {len(jobs)} recordings crashed or hung "
                          f"(files kept in {keep}):\n" + "\n".join(f"  {p}: {r}" for p, r in failures))
    assert any(r["outcome"] == "frames" for r in results)
