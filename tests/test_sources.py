"""File sources: every WAV/IQ encoding reads back the samples written, with clear errors."""
import json
import struct

import numpy as np
import pytest
from gnuradio import blocks, gr

from groundseg.blocks.sources import FILE_TAIL_S, SourceSpec, open_source, read_wav_header
from groundseg.errors import InputError


def _run(source):
    sink = blocks.vector_sink_c() if source.iq else blocks.vector_sink_f()
    tb = gr.top_block()
    tb.connect(source.block, sink)
    tb.run()
    return np.array(sink.data())


def _wav(path, data: bytes, channels, rate, bits, fmt=1):
    block = channels * bits // 8
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    hdr += b"fmt " + struct.pack("<IHHIIHH", 16, fmt, channels, rate, rate * block, block, bits)
    hdr += b"data" + struct.pack("<I", len(data))
    path.write_bytes(hdr + data)
    return str(path)


def _pcm(x, bits):
    if bits == 8:
        return np.clip(np.round(x * 128 + 127.5), 0, 255).astype(np.uint8).tobytes()
    if bits == 24:
        v = np.round(x * (1 << 23)).astype(np.int32)
        b = np.stack([(v >> s) & 0xFF for s in (0, 8, 16)], axis=-1).astype(np.uint8)
        return b.tobytes()
    t = {16: "<i2", 32: "<i4"}[bits]
    return np.round(x * (1 << (bits - 1))).astype(t).tobytes()


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_pcm_wav_of_any_width_reads_back(tmp_path, rng, bits):
    x = (0.9 * rng.uniform(-1, 1, 3000)).astype(np.float32)
    src = open_source(SourceSpec("wav", _wav(tmp_path / "a.wav", _pcm(x, bits), 1, 8000, bits)))
    y = _run(src)
    assert src.n_samples == 3000 and src.samp_rate_sps == 8000 and not src.iq
    assert len(y) == 3000 + int(FILE_TAIL_S * 8000)
    assert np.max(np.abs(y[:3000] - x)) < 2.0 / (1 << (bits - 1)) + 1e-6
    assert not np.any(y[3000:])          # the tail is silence


def test_float_wav_and_stereo_iq(tmp_path, rng):
    iq = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64) * 0.3
    inter = np.stack([iq.real, iq.imag], axis=1).astype("<f4").tobytes()
    path = _wav(tmp_path / "iq.wav", inter, 2, 48000, 32, fmt=3)
    y = _run(open_source(SourceSpec("wav", path, iq=True)))
    assert np.allclose(y[:1000], iq, atol=1e-7)
    mono = _run(open_source(SourceSpec("wav", path)))            # channel 0 only
    assert np.allclose(mono[:1000], iq.real, atol=1e-7)


@pytest.mark.parametrize("datatype", ["cf32_le", "ci16_le", "ci8", "cu8"])
def test_raw_iq_types(tmp_path, rng, datatype):
    iq = ((rng.uniform(-0.9, 0.9, 500) + 1j * rng.uniform(-0.9, 0.9, 500))).astype(np.complex64)
    inter = np.stack([iq.real, iq.imag], axis=1).reshape(-1)
    raw = {"cf32_le": inter.astype("<f4").tobytes(),
           "ci16_le": np.round(inter * 32768).astype("<i2").tobytes(),
           "ci8": np.round(inter * 128).astype(np.int8).tobytes(),
           "cu8": np.round(inter * 128 + 127.5).astype(np.uint8).tobytes()}[datatype]
    p = tmp_path / "x.raw"
    p.write_bytes(raw)
    y = _run(open_source(SourceSpec("iq", str(p), samp_rate_sps=1000, datatype=datatype)))
    tol = {"cf32_le": 1e-7, "ci16_le": 1e-4, "ci8": 1e-2, "cu8": 1e-2}[datatype]
    assert np.max(np.abs(y[:500] - iq)) < tol


def test_sigmf_pair(tmp_path, rng):
    iq = (rng.standard_normal(300) + 1j * rng.standard_normal(300)).astype(np.complex64)
    (tmp_path / "rec.sigmf-data").write_bytes(iq.tobytes())
    (tmp_path / "rec.sigmf-meta").write_text(json.dumps({
        "global": {"core:datatype": "cf32_le", "core:sample_rate": 250000, "core:version": "1.0.0"},
        "captures": [{"core:sample_start": 0, "core:frequency": 437.5e6}], "annotations": []}))
    src = open_source(SourceSpec("sigmf", str(tmp_path / "rec.sigmf-meta")))
    assert src.samp_rate_sps == 250000 and src.meta["freq_hz"] == 437.5e6
    assert np.allclose(_run(src)[:300], iq)


BAD = [
    (b"", "not a WAV file"),
    (b"RIFF\x00\x00\x00\x00WAVE", "no format chunk"),
    (b"OggS" + bytes(40), "not a WAV file"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x02\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00"
     b"data\x10\x00\x00\x00" + bytes(16), "unsupported WAV encoding"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00"
     b"data\x10\x00\x00\x00", "no samples"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x08\x00\x00\x00\x01\x00\x01\x00", "truncated WAV format chunk"),
]


@pytest.mark.parametrize("data,msg", BAD, ids=[m for _, m in BAD])
def test_bad_wav_files_give_one_clear_error(tmp_path, data, msg):
    p = tmp_path / "bad.wav"
    p.write_bytes(data)
    with pytest.raises(InputError, match=msg):
        read_wav_header(str(p))


def test_truncated_wav_data_reads_what_is_there(tmp_path, rng):
    x = rng.uniform(-0.5, 0.5, 1000).astype(np.float32)
    path = _wav(tmp_path / "t.wav", _pcm(x, 16), 1, 8000, 16)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-600])              # cut 300 samples off the end
    src = open_source(SourceSpec("wav", path))
    assert src.n_samples == 700 and src.meta["truncated"]
    assert np.allclose(_run(src)[:700], x[:700], atol=1e-4)


def test_missing_files_and_rates(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_source(SourceSpec("wav", str(tmp_path / "nope.wav")))
    with pytest.raises(InputError, match="is a directory"):
        open_source(SourceSpec("wav", str(tmp_path)))
    (tmp_path / "x.raw").write_bytes(bytes(16))
    with pytest.raises(InputError, match="needs --samp-rate"):
        open_source(SourceSpec("iq", str(tmp_path / "x.raw")))
    with pytest.raises(InputError, match="unsupported IQ datatype"):
        open_source(SourceSpec("iq", str(tmp_path / "x.raw"), samp_rate_sps=1e3, datatype="cf64"))


@pytest.mark.parametrize("kind", ["uhd", "rtlsdr", "soapy"])
def test_hardware_sources_without_hardware_fail_with_one_clear_line(kind):
    from groundseg.errors import HardwareError
    args = {"uhd": "type=b200", "rtlsdr": "rtl=0", "soapy": "driver=rtlsdr"}[kind]
    with pytest.raises(HardwareError) as e:
        open_source(SourceSpec(kind, samp_rate_sps=1.024e6, freq_hz=437e6, device_args=args))
    assert "\n" not in str(e.value) and str(e.value)


def test_zmq_source_streams_iq(rng):
    """A ZeroMQ PUB stream of IQ (e.g. from another flowgraph or an SDR server) is a source."""
    import socket
    from gnuradio import zeromq
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    addr = f"tcp://127.0.0.1:{port}"
    iq = (rng.standard_normal(20000) + 1j * rng.standard_normal(20000)).astype(np.complex64)
    pub_tb = gr.top_block()
    pub_tb.connect(blocks.vector_source_c(iq.tolist(), True), blocks.throttle(gr.sizeof_gr_complex, 2e6),
                   zeromq.pub_sink(gr.sizeof_gr_complex, 1, addr, 100, False, -1, ""))
    src = open_source(SourceSpec("zmq", samp_rate_sps=1e6, address=addr))
    assert src.iq and src.n_samples is None
    sink = blocks.vector_sink_c()
    head = blocks.head(gr.sizeof_gr_complex, 50000)
    tb = gr.top_block()
    tb.connect(src.block, head, sink)
    pub_tb.start()
    try:
        tb.run()
    finally:
        pub_tb.stop()
        pub_tb.wait()
    got = np.array(sink.data())
    # the stream repeats iq: find where it starts and compare a stretch
    start = int(np.argmin(np.abs(iq - got[0])))
    n = 1000
    assert np.allclose(got[:n], np.roll(iq, -start)[:n])
